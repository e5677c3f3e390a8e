//! Misbehaving plugins: each ends as one clear outcome in the decision,
//! never a crash of the engine, never a hang past timeout + grace.

use crate::common::{assert_valid, Scratch};
use serde_json::Value;
use std::time::{Duration, Instant};

const HOSTILE: &[(&str, &str, &str)] = &[
    ("ok", "ok", ""),
    ("sleep-forever", "timeout", "timeout"),
    ("ignores-sigterm", "timeout", "timeout"),
    ("spawns-grandchild", "ok", ""),
    ("floods-stderr", "exit_nonzero", "exit-nonzero"),
    ("huge-stdout", "invalid_output", "stdout-too-large"),
    ("bad-json", "invalid_output", "invalid-output"),
    ("two-documents", "invalid_output", "invalid-output"),
    ("exit-3", "exit_nonzero", "exit-nonzero"),
    ("kills-itself", "killed", "killed"),
    ("wrong-protocol", "wrong_protocol", "wrong-protocol"),
    (
        "undeclared-metric",
        "undeclared_metric",
        "undeclared-metric",
    ),
    ("nan-value", "non_finite", "non-finite"),
    ("invalid-utf8", "invalid_output", "invalid-utf8"),
    ("reads-no-stdin", "ok", ""),
    ("prints-env", "exit_nonzero", "exit-nonzero"),
    ("reports-error", "plugin_error", "measurement-failed"),
];

fn hostile_policy() -> String {
    let mut s = String::from("version: 1\nplugins:\n");
    for (name, _, _) in HOSTILE {
        s.push_str(&format!("  {name}: {{ uses: {name} }}\n"));
    }
    s.push_str("objectives:\n");
    for (name, _, _) in HOSTILE {
        s.push_str(&format!(
            "  - {{ id: {name}, metric: {name}.value, pass: \"< 100ms\" }}\n"
        ));
    }
    s
}

/// Whether the process is still running. A killed orphan may linger as a
/// zombie where nothing reaps it (PID 1 in a container); a zombie is dead.
fn pid_alive(pid_file: &std::path::Path) -> bool {
    let pid =
        std::fs::read_to_string(pid_file).unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => false,
        // The state follows the command name in parentheses: `pid (comm) S ...`.
        Ok(stat) => !matches!(
            stat.rsplit(") ").next().and_then(|r| r.chars().next()),
            Some('Z' | 'X')
        ),
    }
}

#[test]
fn every_hostile_plugin_gets_one_clear_outcome() {
    let s = Scratch::new()
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
        )
        .env("GITHUB_TOKEN", "ghp_notarealtokenbutlongenough")
        .env("API_PASSWORD", "hunter2-but-longer");
    s.policy(&hostile_policy());
    let start = Instant::now();
    let r = s.qod(&["run", "--jobs", "16", "--kill-grace", "500ms"]);
    let elapsed = start.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    let d = r.json();
    assert_valid("decision.schema.json", &d);

    // Timeouts are 1 s and the grace 0.5 s; everything runs at once.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");

    let plugins = d["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), HOSTILE.len());
    let mut table = Vec::new();
    for ((name, status, kind), p) in HOSTILE.iter().zip(plugins) {
        assert_eq!(p["instance"], *name);
        assert_eq!(p["status"], *status, "{name}: {p:#}");
        if !kind.is_empty() {
            assert_eq!(p["error"]["kind"], *kind, "{name}: {p:#}");
        }
        table.push(format!(
            "{name}: {status}{}",
            p["error"]["message"]
                .as_str()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default()
        ));
    }
    insta::assert_snapshot!("hostile_outcomes", table.join("\n"));

    let by_name = |n: &str| plugins.iter().find(|p| p["instance"] == n).unwrap();
    let artifacts = s.path().join(".qod/artifacts");

    // Timeouts end the whole process group: the sleeping child is gone too.
    assert!(!pid_alive(&artifacts.join("sleep-forever/child.pid")));
    assert!(by_name("ignores-sigterm")["notes"][0]
        .as_str()
        .unwrap()
        .contains("SIGKILL"));
    // A grandchild holding the pipes does not keep qod waiting, and is killed.
    let gc = by_name("spawns-grandchild");
    assert!(
        gc["notes"][0]
            .as_str()
            .unwrap()
            .contains("held its output open"),
        "{gc:#}"
    );
    assert!(!pid_alive(
        &artifacts.join("spawns-grandchild/grandchild.pid")
    ));
    // stderr is capped to its last 64 KiB, and it is the end that is kept.
    let tail = by_name("floods-stderr")["stderr_tail"].as_str().unwrap();
    assert!(
        tail.len() <= 64 * 1024 && tail.len() > 60 * 1024,
        "{}",
        tail.len()
    );
    assert!(tail.ends_with("END OF STDERR\n"));
    assert!(by_name("exit-3")["stderr_tail"]
        .as_str()
        .unwrap()
        .contains("cannot reach the endpoint"));
    assert_eq!(by_name("exit-3")["exit_code"], 3);
    assert_eq!(by_name("kills-itself")["signal"], 9);

    // Credentials never reach a plugin that does not name them, and no
    // secret value appears anywhere in what qod prints.
    let env_dump = by_name("prints-env")["stderr_tail"].as_str().unwrap();
    assert!(env_dump.contains("PATH="), "{env_dump}");
    assert!(env_dump.contains("QOD_INSTANCE=prints-env"), "{env_dump}");
    for leaked in ["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "API_PASSWORD"] {
        assert!(
            !env_dump.contains(leaked),
            "{leaked} reached the plugin:\n{env_dump}"
        );
    }
    for secret in [
        "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
        "ghp_notarealtokenbutlongenough",
        "hunter2-but-longer",
    ] {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }
    // Failed plugins mean missing metrics: no_data, which fails.
    let objective = |n: &str| {
        d["objectives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(objective("exit-3")["status"], "no_data");
    assert_eq!(objective("ok")["status"], "pass");
}

#[test]
fn named_credentials_pass_through_and_are_redacted() {
    let s = Scratch::new()
        .env("API_TOKEN", "s3cr3t-value-123")
        .env("AWS_REGION", "eu-west-1");
    s.policy("version: 1\nplugins:\n  env: { uses: prints-env, env: [API_TOKEN, \"AWS_*\"] }\nobjectives:\n  - { id: v, metric: env.value, pass: \"< 1ms\" }\n");
    let r = s.qod(&["run"]);
    let d: Value = r.json();
    let dump = d["plugins"][0]["stderr_tail"].as_str().unwrap();
    assert!(dump.contains("API_TOKEN=[redacted]"), "{dump}");
    assert!(
        dump.contains("AWS_REGION=[redacted]"),
        "named variables are redacted too: {dump}"
    );
    assert!(!r.stdout.contains("s3cr3t-value-123") && !r.stderr.contains("s3cr3t-value-123"));
}

#[test]
fn a_plugin_that_never_reads_a_large_context_is_fine() {
    let s = Scratch::new();
    let big = "x".repeat(256 * 1024);
    let plugin = s.path().join("plugins/quiet");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.json"),
        r#"{"manifest_version":1,"name":"quiet","version":"1","protocol_versions":[1],"command":["../../run.sh"],"timeout":"10s",
            "config_schema":{"type":"object"},"metrics":[{"name":"value","unit":"ms","better":"lower"}]}"#,
    )
    .unwrap();
    std::fs::copy(
        crate::common::fixture("plugins/reads-no-stdin/run.sh"),
        s.path().join("run.sh"),
    )
    .unwrap();
    s.policy(&format!(
        "version: 1\nplugins:\n  q: {{ uses: quiet, with: {{ blob: \"{big}\" }} }}\nobjectives:\n  - {{ id: v, metric: q.value, pass: \"< 100ms\" }}\n"
    ));
    let start = Instant::now();
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["plugins"][0]["status"], "ok");
    assert!(start.elapsed() < Duration::from_secs(5));
}
