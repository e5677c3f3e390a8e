//! One interface for every command: `--format table|json` wherever data
//! is printed (with `--json` as a hidden alias), `--quiet`, the progress
//! heartbeat, errors printed once, usage errors with their own exit code.

use crate::common::{emit_policy, Scratch};
use serde_json::Value;

fn scratch_with_runs() -> Scratch {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"<= +50%\" }\n",
    ));
    for _ in 0..3 {
        let r = s.qod(&["run"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    s
}

#[test]
fn format_works_on_every_data_command() {
    let s = scratch_with_runs();
    // (command, default format)
    let commands: &[(&[&str], &str)] = &[
        (&["history"], "table"),
        (&["trend"], "table"),
        (&["backtest"], "table"),
        (&["plugins", "list"], "table"),
        (&["plugins", "describe", "emit"], "json"),
        (&["context"], "json"),
        (&["deployed", "--revision", "abc123"], "json"),
    ];
    for (args, default) in commands {
        let name = args.join(" ");
        let run = |extra: &[&str]| {
            let mut a: Vec<&str> = args.to_vec();
            a.extend(extra);
            let r = s.qod(&a);
            assert_eq!(r.code, 0, "{name} {extra:?}: {}", r.stderr);
            r
        };
        let json = run(&["--format", "json"]);
        let parsed: Result<Value, _> = serde_json::from_str(&json.stdout);
        assert!(parsed.is_ok(), "{name} --format json: {}", json.stdout);
        let table = run(&["--format", "table"]);
        assert!(
            serde_json::from_str::<Value>(&table.stdout).is_err(),
            "{name} --format table prints text: {}",
            table.stdout
        );
        assert!(!table.stdout.trim().is_empty(), "{name} --format table");
        let alias = run(&["--json"]);
        assert!(
            serde_json::from_str::<Value>(&alias.stdout).is_ok(),
            "{name} --json is --format json"
        );
        let plain = run(&[]);
        let is_json = serde_json::from_str::<Value>(&plain.stdout).is_ok();
        assert_eq!(is_json, *default == "json", "{name} defaults to {default}");
    }
    let r = s.qod(&["history", "--format", "json", "--json"]);
    assert_eq!(r.code, 64, "one or the other: {}", r.stderr);
}

#[test]
fn tables_read_as_tables() {
    let s = scratch_with_runs();
    let r = s.qod(&["plugins", "describe", "emit", "--format", "table"]);
    let first = r.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("emit "), "{}", r.stdout);
    assert!(r.stdout.contains("  source: "), "{}", r.stdout);
    let r = s.qod(&["context", "--format", "table"]);
    assert!(
        r.stdout.starts_with("pipeline:\n  provider ") && r.stdout.contains("\nsource:\n"),
        "{}",
        r.stdout
    );
    let r = s.qod(&["deployed", "--revision", "abc123", "--format", "table"]);
    assert!(
        r.stdout.starts_with("recorded deployment of `abc123`"),
        "{}",
        r.stdout
    );
}

#[test]
fn quiet_prints_the_data_and_the_errors_only() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"< 60s\" }\n",
    ));
    let loud = s.qod(&["run", "--progress"]);
    assert!(loud.stderr.contains("qod: PASS"), "{}", loud.stderr);
    assert!(loud.stderr.contains("started"), "{}", loud.stderr);
    let quiet = s.qod(&["run", "--progress", "--quiet"]);
    assert_eq!(quiet.code, 0);
    assert_eq!(quiet.json()["decision"], "pass");
    assert_eq!(quiet.stderr, "", "no summary, no progress");
    std::fs::create_dir(s.path().join("empty")).unwrap();
    let r = s.qod(&["-q", "history", "--store", "empty"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "no note either");
    // Errors are still shown.
    let r = s.qod(&["run", "--quiet", "--policy", "missing.yaml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.yaml"), "{}", r.stderr);
}

#[test]
fn a_long_plugin_prints_a_heartbeat() {
    let s = Scratch::new();
    s.policy("version: 1\nplugins:\n  slow: { uses: sleep-forever, timeout: 2500ms }\nobjectives:\n  - { id: v, metric: slow.value, pass: \"< 1ms\" }\n");
    let r = s.qod(&["run", "--no-record", "--progress", "--heartbeat", "1s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let beats: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("qod: `slow` (sleep-forever) running, "))
        .collect();
    assert_eq!(
        beats,
        [
            "qod: `slow` (sleep-forever) running, 1 s",
            "qod: `slow` (sleep-forever) running, 2 s"
        ],
        "{}",
        r.stderr
    );
    // Without progress, no heartbeat.
    let r = s.qod(&["run", "--no-record", "--heartbeat", "1s"]);
    assert!(!r.stderr.contains("running, "), "{}", r.stderr);
}

#[test]
fn errors_are_printed_once() {
    let s = Scratch::new();
    // One mistake: a YAML syntax error.
    s.write("bad.yaml", "version: 1\nplugins: [\n");
    for args in [
        &["backtest", "--policy", "bad.yaml"][..],
        &["run", "--policy", "bad.yaml"],
        &["validate", "--policy", "bad.yaml"],
    ] {
        let r = s.qod(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.matches("error").count(),
            1,
            "{args:?} prints one error:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.starts_with("error: invalid policy `bad.yaml`"),
            "{}",
            r.stderr
        );
    }
    // A store location that names no store is a usage error.
    let r = s.qod(&["history", "--store", "s3://"]);
    assert_eq!(r.code, 64);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}

#[test]
fn arguments_a_command_cannot_use_are_usage_errors() {
    let s = Scratch::new();
    for args in [
        &["export", "--format", "csv", "--since", "yesterday"][..],
        &["trend", "--metric", "[oops"],
        &["schema"],
        &["run", "--kill-grace", "soon"],
        &["history", "--no-such-flag"],
    ] {
        let r = s.qod(args);
        assert_eq!(r.code, 64, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("error"), "{args:?}: {}", r.stderr);
    }
}
