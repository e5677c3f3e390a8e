//! The example plugins (Python, POSIX sh) and the quickstart, run through
//! the engine; plugin discovery and its commands.

use crate::common::{assert_valid, redact, repo, Scratch};

#[test]
fn python_and_sh_examples_run_through_the_engine() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path().join("data")).unwrap();
    s.write("data/a.txt", "hello\n");
    s.write("data/b.txt", "world!\n");
    let examples = repo().join("plugins/examples");
    s.policy(&format!(
        r#"version: 1
plugins:
  size: {{ uses: dir-size, path: "{ex}/dir-size", with: {{ path: data }} }}
  timing: {{ uses: py-timeit, path: "{ex}/py-timeit", with: {{ command: ["true"], runs: 3, warmup: 0 }} }}
objectives:
  - {{ id: bytes, metric: size.bytes, pass: "== 13B" }}
  - {{ id: files, metric: size.files, pass: "== 2" }}
  - {{ id: true-is-fast, metric: timing.mean, pass: "< 5s" }}
"#,
        ex = examples.display()
    ));
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_valid("decision.schema.json", &d);
    let timing = &d["plugins"][1];
    assert_eq!(timing["status"], "ok");
    assert_eq!(timing["metrics"][0]["samples"].as_array().unwrap().len(), 3);
    assert_eq!(d["plugins"][0]["summary"], "13 bytes in 2 files under data");
}

#[test]
fn example_plugins_report_bad_input_as_error_results() {
    let s = Scratch::new();
    let examples = repo().join("plugins/examples");
    s.policy(&format!(
        r#"version: 1
plugins:
  size: {{ uses: dir-size, path: "{ex}/dir-size", with: {{ path: missing }} }}
  timing: {{ uses: py-timeit, path: "{ex}/py-timeit", with: {{ command: ["false"], runs: 1 }} }}
objectives:
  - {{ id: bytes, metric: size.bytes, pass: "< 1MiB" }}
  - {{ id: timing, metric: timing.mean, pass: "< 5s" }}
"#,
        ex = examples.display()
    ));
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1);
    let d = r.json();
    let errors: Vec<String> = d["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}: {} {}",
                p["instance"], p["error"]["kind"], p["error"]["message"]
            )
        })
        .collect();
    insta::assert_snapshot!(errors.join("\n"), @r#"
    "size": "measurement-failed" "path `missing` does not exist under the workspace; set `with: {path: ...}` to an existing file or folder"
    "timing": "command-failed" "false exited with 1"
    "#);
}

#[test]
fn quickstart_second_run_has_a_baseline() {
    let s = Scratch::new();
    let store = s.path().join("store");
    let run = || {
        let mut cmd = s.command(&[
            "run",
            "--policy",
            "examples/quickstart/qod.yaml",
            "--store",
            &store.to_string_lossy(),
        ]);
        cmd.current_dir(repo());
        crate::common::finish(cmd.output().unwrap())
    };
    let first = run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let d = first.json();
    assert_eq!(d["decision"], "warn");
    assert_eq!(d["objectives"][0]["status"], "no_baseline");
    let second = run();
    assert_eq!(second.code, 0, "{}", second.stderr);
    let d = second.json();
    // A shallow checkout has no ten commits for `merged-changes` to count:
    // that objective then warns, and says why.
    let deep = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "HEAD~10^{commit}"])
        .current_dir(repo())
        .output()
        .is_ok_and(|o| o.status.success());
    if deep {
        assert_eq!(d["decision"], "pass", "{d:#}");
    } else {
        assert_eq!(d["objectives"][1]["status"], "no_data", "{d:#}");
        assert_eq!(
            d["plugins"][1]["error"]["kind"], "unknown-revision",
            "{d:#}"
        );
    }
    assert_eq!(d["objectives"][0]["status"], "pass", "{d:#}");
    assert_eq!(crate::common::baseline_runs(&d), 1);
    assert!(!repo().join("examples/quickstart/.qod").exists());
    for instance in ["status", "changes"] {
        let _ = std::fs::remove_dir_all(repo().join(".qod/artifacts").join(instance));
    }
}

/// The prototype's two gates, end to end, by the example's own script.
#[test]
fn prototype_scenario_fails_and_passes_where_the_prototype_did() {
    let out = std::process::Command::new("bash")
        .arg(repo().join("examples/prototype/scenario.sh"))
        .env("QOD", env!("CARGO_BIN_EXE_qod"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headlines: Vec<String> = stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| match l.strip_prefix("deployed ") {
            Some(rest) => format!("deployed [sha]{}", &rest[rest.find(' ').unwrap_or(0)..]),
            None => l.to_owned(),
        })
        .collect();
    assert_eq!(
        headlines,
        [
            "build 1, took 30 s: warn (exit 0)",
            "build 2, took 32 s: pass (exit 0)",
            "build 3, took 33 s: pass (exit 0)",
            "deployed [sha] to production",
            "build 4, took 48 s: fail (exit 1)",
            "build 5, took 31 s: pass (exit 0)",
            "release after 2 merged pull requests: fail (exit 1)",
            "build 6, took 32 s: pass (exit 0)",
            "release after 3 merged pull requests: pass (exit 0)",
        ],
        "{stdout}"
    );
    // The slow build is held to 1.5 × the mean of the three before it
    // (about 31.7 s: each build also pays for starting qod).
    assert!(stdout.contains("(1.5 × mean of last 3 = 31."), "{stdout}");
    assert!(stdout.contains("release-criteria: fail: 2 < 3"), "{stdout}");
}

#[test]
fn plugins_list_and_describe() {
    let s = Scratch::new();
    let r = s.qod(&["plugins", "list"]);
    assert_eq!(r.code, 0);
    for name in ["emit", "sleep-forever", "prints-env"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with(name) && l.contains("QOD_PLUGIN_PATH")),
            "{}",
            r.stdout
        );
    }
    let r = s.qod(&["plugins", "describe", "emit"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["source"] = "[source]".into();
    insta::assert_json_snapshot!("describe_emit", v);
    let r = s.qod(&["plugins", "describe", "nope"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("plugin `nope` not found"), "{}", r.stderr);
}

#[test]
fn executables_on_path_answer_with_their_manifest() {
    let s = Scratch::new();
    let bin = s.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("qod-plugin-hello");
    std::fs::write(
        &exe,
        "#!/bin/sh\nif [ \"$1\" = --manifest ]; then\n  echo '{\"manifest_version\":1,\"name\":\"hello\",\"version\":\"2.0.0\",\"protocol_versions\":[1],\"command\":[\"qod-plugin-hello\"],\"metrics\":[{\"name\":\"greetings\",\"better\":\"higher\"}]}'\n  exit 0\nfi\ncat >/dev/null\necho '{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{\"name\":\"greetings\",\"value\":3}]}'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let s = s.env("PATH", &path);
    s.policy("version: 1\nplugins:\n  h: { uses: hello }\nobjectives:\n  - { id: g, metric: h.greetings, pass: \">= 3\" }\n");
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = redact(r.json());
    assert_eq!(d["plugins"][0]["version"], "2.0.0");
    assert_eq!(d["objectives"][0]["status"], "pass");
}
