//! Hardening: a reader of stdout that goes away, stores that are not
//! there, cancelled runs, damaged stores, deep documents, secrets at rest.

use crate::common::{emit_policy, Scratch};
use std::process::Stdio;

const OBJECTIVE: &str = "  - { id: t, metric: build.duration, pass: \"<= +50%\" }\n";

fn scratch_with_runs(n: usize) -> Scratch {
    let s = Scratch::new();
    s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
    for _ in 0..n {
        assert_eq!(s.qod(&["run"]).code, 0);
    }
    s
}

#[test]
fn a_closed_stdout_stops_every_command_quietly() {
    let s = scratch_with_runs(3);
    for args in [
        &["plugins", "list"][..],
        &["plugins", "describe", "emit"],
        &["context"],
        &["schema", "decision"],
        &["history"],
        &["history", "--format", "json"],
        &["export", "--format", "csv"],
        &["export", "--format", "jsonl"],
        &["trend"],
        &["backtest", "--format", "json"],
        &["deployed", "--revision", "abc1234"],
        &["run", "--no-record"],
    ] {
        let mut child = s
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before qod writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{args:?}: {stderr}"
        );
        let expected = if args[0] == "run" { 1 } else { 0 };
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(expected),
            "{args:?} ended {:?}: {stderr}",
            out.status
        );
    }
}

#[test]
fn a_store_that_is_not_there_is_reported() {
    let s = scratch_with_runs(1);
    for args in [
        &["history", "--store", ".qod/stor"][..],
        &["trend", "--store", ".qod/stor"],
        &["report", "--store", ".qod/stor"],
        &["backtest", "--store", ".qod/stor"],
        &["export", "--store", ".qod/stor", "--format", "csv"],
        &["store", "reindex", "--store", ".qod/stor"],
        &["store", "prune", "--keep", "1", "--store", ".qod/stor"],
    ] {
        let r = s.qod(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.trim(),
            "error: no store at `.qod/stor`: nothing was ever recorded there; check `--store` (or `QOD_STORE`), or record a first run with `qod run`",
            "{args:?}"
        );
        assert!(
            !s.path().join(".qod/stor").exists(),
            "{args:?} created nothing"
        );
    }
    // A gate run creates a new store and says so.
    let r = s.qod(&["run", "--store", ".qod/new"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["store"]["created"], true);
    assert!(
        r.stderr
            .contains("qod: created a new history store at `.qod/new`"),
        "{}",
        r.stderr
    );
    let r = s.qod(&["run", "--store", ".qod/new"]);
    assert_eq!(
        r.json()["store"].get("created"),
        None,
        "only the first time"
    );
    assert!(!r.stderr.contains("created a new"), "{}", r.stderr);
}

/// A policy of `stuck` (a plugin that starts a child and a `setsid`
/// grandchild, writes their pids and waits) and `later` (never started
/// with `--jobs 1`).
fn stuck_policy(s: &Scratch) {
    write_plugin(
        s,
        "stuck",
        &manifest("stuck"),
        "#!/bin/sh\ncat >/dev/null\nsleep 300 &\necho $! > \"$QOD_ARTIFACTS/child\"\nsetsid sleep 300 &\necho $! > \"$QOD_ARTIFACTS/escaped\"\necho $$ > \"$QOD_ARTIFACTS/plugin\"\nwait\n",
    );
    s.policy("version: 1\nplugins:\n  stuck: { uses: stuck }\n  later: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: duration, value: 1 }] } } }\nobjectives:\n  - { id: v, metric: stuck.value, pass: \"< 1\" }\n  - { id: d, metric: later.duration, pass: \"< 10s\" }\n");
}

/// Whether process `pid` is gone (or only a zombie waiting to be reaped).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn wait_for(path: &std::path::Path) -> String {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return s.trim().to_owned();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("`{}` was never written", path.display());
}

/// Starts `qod run --jobs 1`, waits until the stuck plugin runs, sends
/// `sig`, and returns the finished run and the pids the plugin wrote.
fn cancel_with(
    s: &Scratch,
    sig: nix::sys::signal::Signal,
    again: bool,
) -> (crate::common::Run, Vec<String>) {
    let child = s
        .command(&["run", "--jobs", "1", "--kill-grace", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let artifacts = s.path().join(".qod/artifacts/stuck");
    let pids: Vec<String> = ["plugin", "child", "escaped"]
        .iter()
        .map(|f| wait_for(&artifacts.join(f)))
        .collect();
    let qod = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(qod, sig).unwrap();
    if again {
        std::thread::sleep(std::time::Duration::from_millis(200));
        nix::sys::signal::kill(qod, sig).unwrap();
    }
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "qod took {:?} to stop",
        started.elapsed()
    );
    (crate::common::finish(out), pids)
}

#[test]
fn a_cancelled_run_stops_every_plugin_process_and_still_decides() {
    use nix::sys::signal::Signal;
    for (sig, code, name) in [
        (Signal::SIGTERM, 143, "SIGTERM"),
        (Signal::SIGINT, 130, "SIGINT"),
    ] {
        let s = Scratch::new();
        stuck_policy(&s);
        let (r, pids) = cancel_with(&s, sig, false);
        assert_eq!(r.code, code, "{name}: {}", r.stderr);
        for pid in &pids {
            let mut ok = false;
            for _ in 0..40 {
                if gone(pid) {
                    ok = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            assert!(ok, "{name}: process {pid} of {pids:?} is still alive");
        }
        let d = r.json();
        assert_eq!(d["run"]["cancelled"], name);
        assert!(d["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cancelled by {name}: ")));
        let stuck = &d["plugins"][0];
        assert_eq!(stuck["status"], "cancelled", "{stuck:#}");
        let later = &d["plugins"][1];
        assert_eq!(later["status"], "cancelled");
        assert_eq!(
            later["error"]["message"],
            format!("cancelled by {name} before it started")
        );
        let v = &d["objectives"][0];
        assert_eq!(v["status"], "no_data");
        assert!(
            v["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("cancelled by {name}")),
            "{v:#}"
        );
        assert_eq!(d["store"]["recorded"], true);
        let rec = crate::store::records(&s.path().join(".qod/store"));
        assert!(rec[0].cancelled, "recorded as cancelled");
    }
}

#[test]
fn a_second_signal_kills_at_once() {
    let s = Scratch::new();
    // Ignores SIGTERM; the pid files make `cancel_with` wait until it runs.
    write_plugin(
        &s,
        "stubborn",
        &manifest("stubborn"),
        "#!/bin/sh\ntrap '' TERM\ncat >/dev/null\nfor f in plugin child escaped; do echo $$ > \"$QOD_ARTIFACTS/$f\"; done\nwhile :; do sleep 1; done\n",
    );
    s.policy("version: 1\nplugins:\n  stuck: { uses: stubborn }\nobjectives:\n  - { id: v, metric: stuck.value, pass: \"< 1\" }\n");
    let started = std::time::Instant::now();
    let (r, _) = cancel_with(&s, nix::sys::signal::Signal::SIGTERM, true);
    assert_eq!(r.code, 143, "{}", r.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "not the 20 s grace: {:?}",
        started.elapsed()
    );
    let d = r.json();
    assert!(
        d["plugins"][0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("was killed with SIGKILL"),
        "{:#}",
        d["plugins"][0]
    );
}

#[test]
fn a_cancelled_run_enters_no_baseline() {
    let s = Scratch::new();
    stuck_policy(&s);
    let (r, _) = cancel_with(&s, nix::sys::signal::Signal::SIGTERM, false);
    assert_eq!(r.code, 143);
    // `later` measured nothing, but even a measured metric of a cancelled
    // run stays out: the next run has no baseline for it.
    s.policy(&emit_policy(
        &[("later", "duration", 1.0)],
        "  - { id: d, metric: later.duration, pass: \"<= +50%\", baseline: { include: all } }\n",
    ));
    let r = s.qod(&["run"]);
    assert_eq!(r.json()["objectives"][0]["status"], "no_baseline");
}

/// The manifest of a plugin `name` whose program is `./run.sh`, measuring `value`.
fn manifest(name: &str) -> String {
    format!(
        r#"{{"manifest_version":1,"name":"{name}","version":"1","protocol_versions":[1],"command":["./run.sh"],"timeout":"60s","metrics":[{{"name":"value","better":"lower"}}]}}"#
    )
}

/// `plugins/<name>/` with its manifest and an executable `run.sh`.
fn write_plugin(s: &Scratch, name: &str, manifest: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = s.path().join("plugins").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.json"), manifest).unwrap();
    std::fs::write(dir.join("run.sh"), script).unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_secret_a_plugin_prints_is_stored_nowhere() {
    const SECRET: &str = "s3cr3t-value-123";
    let s = Scratch::new().env("API_TOKEN", SECRET);
    write_plugin(
        &s,
        "leaky",
        r#"{"manifest_version":1,"name":"leaky","version":"1","protocol_versions":[1],"command":["./run.sh"],"timeout":"10s","metrics":[{"name":"value","better":"lower"},{"name":"leak/*","better":"lower"}]}"#,
        "#!/bin/sh\ncat >/dev/null\necho \"token=$API_TOKEN\" >&2\nprintf '{\"protocol\":1,\"status\":\"ok\",\"summary\":\"token %s\",\"metrics\":[{\"name\":\"value\",\"value\":1},{\"name\":\"leak/%s\",\"value\":2}]}' \"$API_TOKEN\" \"$API_TOKEN\"\n",
    );
    // The second instance fails, so its stderr tail is kept too.
    write_plugin(
        &s,
        "failing",
        &manifest("failing"),
        "#!/bin/sh\ncat >/dev/null\necho \"token=$API_TOKEN\" >&2\nexit 3\n",
    );
    s.policy("version: 1\nplugins:\n  leaky: { uses: leaky, env: [API_TOKEN] }\n  failing: { uses: failing, env: [API_TOKEN] }\nobjectives:\n  - { id: v, metric: leaky.value, pass: \"< 5\" }\n");
    let r = s.qod(&[
        "run",
        "--junit",
        "junit.xml",
        "--markdown",
        "summary.md",
        "--env-file",
        "qod.env",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("[redacted]"), "the plugin did print it");
    let mut outputs = vec![r.stdout, r.stderr];
    for args in [
        &["history", "--format", "json"][..],
        &["export", "--format", "jsonl"],
        &["export", "--format", "csv"],
        &["report", "--out", "report.html"],
    ] {
        let r = s.qod(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        outputs.push(r.stdout);
    }
    for (i, o) in outputs.iter().enumerate() {
        assert!(!o.contains(SECRET), "output {i}: {o}");
    }
    let mut files = crate::common::files_under(&s.path().join(".qod"));
    for f in ["junit.xml", "summary.md", "qod.env", "report.html"] {
        files.push(s.path().join(f));
    }
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "`{}` holds the secret",
            f.display()
        );
    }
}

#[test]
fn a_secret_in_prepare_output_or_an_instrument_is_stored_nowhere() {
    const SECRET: &str = "ghp_s3cr3tTok3n42";
    let s = Scratch::new().env("GITHUB_TOKEN", SECRET);
    // The base's `prepare` prints the token and fails (the candidate's
    // passes: it has `ready`); the plugin names its instrument after it.
    write_plugin(
        &s,
        "counted",
        r#"{"manifest_version":1,"name":"counted","version":"1","protocol_versions":[1],"command":["./run.sh"],"timeout":"10s","metrics":[{"name":"value","better":"lower"}]}"#,
        "#!/bin/sh\ncat >/dev/null\nprintf '{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{\"name\":\"value\",\"value\":1,\"instrument\":\"cpu %s\"}]}' \"$GITHUB_TOKEN\"\n",
    );
    s.policy(
        r#"version: 1
plugins:
  counted: { uses: counted, env: [GITHUB_TOKEN] }
compare:
  base: { revision: main }
  prepare: "test -f ready || { echo \"using $GITHUB_TOKEN\" >&2; exit 1; }"
objectives:
  - { id: v, metric: counted.value, pass: "< 5" }
  - { id: same, metric: counted.value, pass: "<= +5%", against: base }
"#,
    );
    crate::common::git(s.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(s.path().join(".gitignore"), ".qod/\n").unwrap();
    crate::common::git(s.path(), &["add", "."]);
    crate::common::git(s.path(), &["commit", "-q", "-m", "base"]);
    crate::common::git(s.path(), &["checkout", "-q", "-b", "feature"]);
    s.write("ready", "");
    let r = s.qod(&["run", "--markdown", "summary.md", "--junit", "junit.xml"]);
    let d = r.json();
    let same = &d["objectives"][1];
    assert_eq!(same["status"], "no_baseline", "{same:#}");
    assert!(
        same["reason"]
            .as_str()
            .unwrap()
            .contains("using [redacted]"),
        "the prepare's output is quoted, redacted: {same:#}"
    );
    assert_eq!(
        d["plugins"][0]["metrics"][0]["instrument"],
        "cpu [redacted]"
    );
    let mut outputs = vec![r.stdout, r.stderr];
    for args in [
        &["history", "--format", "json"][..],
        &["export", "--format", "jsonl"],
    ] {
        outputs.push(s.qod(args).stdout);
    }
    for (i, o) in outputs.iter().enumerate() {
        assert!(!o.contains(SECRET), "output {i}: {o}");
    }
    let mut files = crate::common::files_under(&s.path().join(".qod"));
    files.push(s.path().join("summary.md"));
    files.push(s.path().join("junit.xml"));
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(SECRET), "`{}` holds the secret", f.display());
    }
}

#[test]
fn a_manifest_probe_on_path_sees_no_credential() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new()
        .env("GITHUB_TOKEN", "ghp_probe_secret")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIprobe");
    let bin = s.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let probe = bin.join("qod-plugin-probe");
    std::fs::write(
        &probe,
        "#!/bin/sh\nif [ \"$1\" = --manifest ]; then env > \"$HOME/probe-env\"; echo '{\"manifest_version\":1,\"name\":\"probe\",\"version\":\"1\",\"protocol_versions\":[1],\"command\":[\"qod-plugin-probe\"],\"metrics\":[{\"name\":\"value\",\"better\":\"lower\"}]}'; fi\n",
    )
    .unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let s = s.env("PATH", &path);
    let r = s.qod(&["plugins", "describe", "probe"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let env = std::fs::read_to_string(s.path().join("probe-env")).unwrap();
    assert!(env.contains("PATH="), "{env}");
    assert!(
        !env.contains("ghp_probe_secret") && !env.contains("wJalrXUtnFEMIprobe"),
        "{env}"
    );
}

fn day_dir(s: &Scratch) -> std::path::PathBuf {
    std::fs::read_dir(s.path().join(".qod/store/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn a_damaged_store_is_repaired_with_nothing_lost() {
    let s = scratch_with_runs(3);
    let day = day_dir(&s);
    let mut records: Vec<_> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    records.sort();
    let damaged = &records[1];
    let damaged_key = format!(
        "runs/{}/{}",
        day.file_name().unwrap().to_string_lossy(),
        damaged.file_name().unwrap().to_string_lossy()
    );
    std::fs::write(damaged, "{\"record_version\": 1, \"run_id\": ").unwrap();
    // Temporary files of killed writers: one stale, one of a writer at work.
    let stale = day.join(".tmp-killed");
    std::fs::write(&stale, "partial").unwrap();
    let f = std::fs::File::options().write(true).open(&stale).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    let fresh = day.join(".tmp-at-work");
    std::fs::write(&fresh, "partial").unwrap();

    // Readers skip the damaged record and name it.
    let r = s.qod(&["export", "--format", "jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2);
    assert!(
        r.stderr.contains(&format!("warning: `{damaged_key}`")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("`qod store reindex`"), "{}", r.stderr);

    // A damaged index head: the gate still decides and records, and says
    // the index is behind.
    std::fs::write(s.path().join(".qod/store/index/head.json"), "not json").unwrap();
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["store"]["recorded"], true, "{:#}", d["store"]);
    let error = d["store"]["error"].as_str().unwrap();
    assert!(
        error.contains("but the index was not updated; `qod store reindex` adds it"),
        "{error}"
    );
    assert!(r.stderr.contains("index/head.json"), "{}", r.stderr);

    // Reindex moves the damaged record aside, rebuilds, sweeps.
    let r = s.qod(&["store", "reindex"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("moved to `quarantine/{damaged_key}`")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("indexed 3 runs in `.qod/store`, and removed 1 stale temporary file"),
        "{}",
        r.stderr
    );
    let kept = s.path().join(".qod/store/quarantine").join(&damaged_key);
    assert_eq!(
        std::fs::read_to_string(kept).unwrap(),
        "{\"record_version\": 1, \"run_id\": ",
        "nothing lost"
    );
    assert!(!stale.exists() && fresh.exists());
    let r = s.qod(&["history", "--format", "json"]);
    assert_eq!(
        (r.code, r.json().as_array().unwrap().len()),
        (0, 3),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr, "");
    let r = s.qod(&["export", "--format", "jsonl"]);
    assert_eq!((r.stdout.lines().count(), r.stderr.as_str()), (3, ""));
}

#[test]
fn history_mentions_records_the_index_does_not_have() {
    let s = scratch_with_runs(2);
    let day = day_dir(&s);
    let newest = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    // A record whose writer died before indexing it: a newer run id.
    let text = std::fs::read_to_string(&newest).unwrap();
    let id = newest.file_stem().unwrap().to_string_lossy().into_owned();
    let later = "ffffffff-ffff-7fff-bfff-ffffffffffff";
    std::fs::write(day.join(format!("{later}.json")), text.replace(&id, later)).unwrap();
    let r = s.qod(&["history"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("1 recorded run newer than the index's newest is not in the index"),
        "{}",
        r.stderr
    );
    assert_eq!(s.qod(&["store", "reindex"]).code, 0);
    let r = s.qod(&["history", "--format", "json"]);
    assert_eq!(
        (r.json().as_array().unwrap().len(), r.stderr.as_str()),
        (3, "")
    );
}

#[test]
fn deeply_nested_documents_are_refused_quickly() {
    let n = 80_000;
    let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let s = Scratch::new();
    s.write(
        "deep.yaml",
        &format!("version: 1\nplugins: {{}}\nobjectives: {deep}\n"),
    );
    s.write(
        "deep.json",
        &format!("{{\"version\": 1, \"plugins\": {{}}, \"objectives\": {deep}}}"),
    );
    // A plugin whose manifest and one whose result are as deep.
    write_plugin(
        &s,
        "deepresult",
        r#"{"manifest_version":1,"name":"deepresult","version":"1","protocol_versions":[1],"command":["./run.sh"],"timeout":"10s","metrics":[{"name":"value","better":"lower"}]}"#,
        &format!("#!/bin/sh\ncat >/dev/null\necho '{{\"protocol\":1,\"status\":\"ok\",\"metrics\":{deep}}}'\n"),
    );
    std::fs::create_dir_all(s.path().join("plugins/deepmanifest")).unwrap();
    s.write(
        "plugins/deepmanifest/plugin.json",
        &format!("{{\"manifest_version\":1,\"name\":\"deepmanifest\",\"x\":{deep}}}"),
    );
    s.write("result.yaml", "version: 1\nplugins:\n  r: { uses: deepresult }\nobjectives:\n  - { id: v, metric: r.value, pass: \"< 1\" }\n");
    s.write("manifest.yaml", "version: 1\nplugins:\n  m: { uses: deepmanifest }\nobjectives:\n  - { id: v, metric: m.value, pass: \"< 1\" }\n");
    for (file, expect) in [
        ("deep.yaml", "nested deeper than 64 levels"),
        ("deep.json", "recursion limit exceeded"),
        ("manifest.yaml", "recursion limit exceeded"),
    ] {
        let start = std::time::Instant::now();
        let r = s.qod(&["validate", "--policy", file]);
        // A guard against a hang, not a speed test (benchmarks measure speed).
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{file}"
        );
        assert_eq!(r.code, 2, "{file}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{file}: {}", r.stderr);
        assert!(r.stderr.lines().count() < 10, "{file}: one short message");
    }
    let r = s.qod(&["run", "--policy", "result.yaml", "--no-record"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let p = &r.json()["plugins"][0];
    assert_eq!(p["status"], "invalid_output", "{p:#}");
    assert!(
        p["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{p:#}"
    );
}

#[test]
fn the_printed_decision_holds_a_bounded_number_of_samples() {
    let s = Scratch::new();
    let file = crate::common::fixture("bench-import/pytest-benchmark.json");
    s.policy(&format!(
        "version: 1\nplugins:\n  py: {{ uses: bench-import, with: {{ path: \"{}\" }} }}\nobjectives:\n  - {{ id: fib, metric: \"py.test_bench.py::test_fib\", pass: \"< 1s\" }}\n",
        file.display()
    ));
    let samples = |d: &serde_json::Value| -> Vec<usize> {
        d["plugins"][0]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["samples"].as_array().map_or(0, |s| s.len()))
            .collect()
    };
    let r = s.qod(&["run", "--out", "decision.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert!(samples(&d).iter().all(|n| *n <= 100), "{:?}", samples(&d));
    assert!(samples(&d).contains(&100));
    let note = d["plugins"][0]["notes"][0].as_str().unwrap();
    assert!(
        note.starts_with("samples shown: `test_bench.py::test_fib` 100 of 413"),
        "{note}"
    );
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("decision.json")).unwrap())
            .unwrap();
    assert_eq!(samples(&out), samples(&d), "--out is what stdout is");
    // The record keeps them all; `--samples all` prints them all.
    let rec = crate::store::records(&s.path().join(".qod/store"));
    assert_eq!(rec.len(), 1);
    let r = s.qod(&["run", "--samples", "all"]);
    let all = samples(&r.json());
    assert!(all.contains(&413), "{all:?}");
    assert!(r.json()["plugins"][0]["notes"]
        .as_array()
        .is_none_or(|n| n.is_empty()));
}

#[test]
fn a_unit_from_a_request_cannot_inject_html_into_the_report() {
    let s = Scratch::new();
    s.write(
        "bench.json",
        r#"[{"name": "fib", "value": 3, "unit": "ms\"><img src=x onerror=alert(document.domain)>"}]"#,
    );
    s.policy(
        "version: 1\nplugins:\n  b: { uses: bench-import, with: { path: bench.json, format: custom } }\nobjectives:\n  - { id: fib, metric: b.fib, pass: \"< 5\" }\n",
    );
    let r = s.qod(&["run"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let r = s.qod(&["report", "--out", "report.html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(s.path().join("report.html")).unwrap();
    assert!(!html.contains("<img src=x"), "the unit is written raw");
    assert!(html.contains("&lt;img src=x"), "the unit is shown, escaped");
}

#[test]
fn a_looping_index_ends_every_walk_with_the_fix() {
    let s = Scratch::new();
    let store = s.path().join("store");
    s.policy(&crate::common::emit_policy(
        &[("build", "duration", 40.0)],
        "  - { id: t, metric: build.duration, pass: \"<= baseline * 1.5\" }\n",
    ));
    let at = store.display().to_string();
    assert_eq!(s.qod(&["run", "--store", &at]).code, 0);
    // The head's oldest segment chains back to itself.
    let head = store.join("index/head.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&head).unwrap()).unwrap();
    doc["older"] = "index/segments/loop.json".into();
    std::fs::write(&head, doc.to_string()).unwrap();
    std::fs::create_dir_all(store.join("index/segments")).unwrap();
    std::fs::write(
        store.join("index/segments/loop.json"),
        r#"{"index_version":1,"runs":[],"older":"index/segments/loop.json"}"#,
    )
    .unwrap();
    for args in [
        &["history", "--store", &at][..],
        &["run", "--store", &at, "--no-record"],
        &["store", "prune", "--store", &at, "--keep", "5"],
    ] {
        let mut child = s
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{args:?} walks the loop forever");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let r = crate::common::finish(child.wait_with_output().unwrap());
        assert!(
            r.stderr.contains("qod store reindex"),
            "{args:?} says how to repair it: {}",
            r.stderr
        );
    }
}

#[test]
fn a_location_that_reads_like_an_unknown_scheme_is_refused_not_created() {
    let s = Scratch::new();
    let r = s.qod(&["history", "--store", "dir:/tmp/qod-history"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("`dir:` is not a store qod knows")
            && r.stderr.contains("`/tmp/qod-history`"),
        "{}",
        r.stderr
    );
    assert!(!s.path().join("dir:").exists());
}

#[test]
fn mistyped_store_locations_are_usage_errors_with_the_fix() {
    let s = Scratch::new();
    let cases = [
        ("gti:qod-history", "`gti:` is not a store qod knows"),
        ("s3:/my-bucket/app", "an S3 store is `s3://bucket/prefix`"),
        ("s3//my-bucket/app", "an S3 store is `s3://bucket/prefix`"),
        // scp-like remotes are git's: this one lacks its branch.
        (
            "git@example.invalid:acme/app.git",
            "give the branch after `#`",
        ),
    ];
    for (location, says) in cases {
        let r = s.qod(&["history", "--store", location]);
        assert_eq!(r.code, 64, "{location}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{location}: {}", r.stderr);
        assert_eq!(
            std::fs::read_dir(s.path()).unwrap().count(),
            0,
            "{location} made something"
        );
    }
}

#[test]
fn a_git_store_on_a_code_branch_is_refused() {
    let top = tempfile::tempdir().unwrap();
    let bare = top.path().join("remote.git");
    crate::common::git(top.path(), &["init", "-q", "--bare", "remote.git"]);
    let s = Scratch::new();
    crate::common::git(s.path(), &["init", "-q", "-b", "feature"]);
    crate::common::git(
        s.path(),
        &["remote", "add", "origin", &bare.to_string_lossy()],
    );
    for branch in ["main", "master", "feature"] {
        let r = s.qod(&["history", "--store", &format!("git:{branch}")]);
        assert_eq!(r.code, 64, "{branch}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("`{branch}` holds this repository's code"))
                && r.stderr.contains("`git:qod-history`"),
            "{branch}: {}",
            r.stderr
        );
    }
    // The base of a pull request, from the CI's variables.
    let r = crate::common::finish(
        s.command(&["history", "--store", "git:release"])
            .env("GITHUB_BASE_REF", "release")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 64, "{}", r.stderr);
}

#[test]
fn plugin_text_cannot_issue_workflow_commands_or_drive_the_terminal() {
    let s = Scratch::new().env("GITHUB_ACTIONS", "true");
    write_plugin(
        &s,
        "forger",
        &manifest("forger"),
        "#!/bin/sh\ncat >/dev/null\nprintf '{\"protocol\":1,\"status\":\"error\",\"error\":{\"kind\":\"x\",\"message\":\"bad\\\\n::error::forged\\\\n::stop-commands::tok\\\\u001b[2J\\\\u0000end\"}}'\n",
    );
    // bench-import's error quotes a request's benchmark name.
    s.write(
        "bench.json",
        r#"[{"name": "a\n::add-mask::x", "value": 1}, {"name": "a\n::add-mask::x", "value": 2}]"#,
    );
    s.policy(
        "version: 1\nplugins:\n  f: { uses: forger }\n  b: { uses: bench-import, with: { path: bench.json, format: custom } }\nobjectives:\n  - { id: v, metric: f.value, pass: \"< 5\" }\n  - { id: w, metric: b.a, pass: \"< 5\" }\n",
    );
    let r = s.qod(&["run", "--progress", "--no-record"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for line in r.stderr.lines() {
        assert!(
            !line.trim_start().starts_with("::error::forged")
                && !line.trim_start().starts_with("::stop-commands::tok")
                && !line.trim_start().starts_with("::add-mask::"),
            "a plugin's text began a line: {line}\n{}",
            r.stderr
        );
    }
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\0'),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.contains("bad⏎::error::forged"), "{}", r.stderr);
}

#[test]
fn absurd_durations_and_day_counts_are_usage_errors_not_panics() {
    let s = Scratch::new();
    for (args, says) in [
        (
            &["combine", "--group", "g", "--wait", "18446744073709551615s"][..],
            "is longer than a year",
        ),
        (
            &["store", "prune", "--keep-days", "100000000"],
            "is not in 0..=36600",
        ),
        (
            &["run", "--heartbeat", "99999999999h"],
            "is longer than a year",
        ),
    ] {
        let r = s.qod(args);
        assert_eq!(r.code, 64, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn plugin_text_in_the_markdown_cannot_render_html_images_or_mentions() {
    let s = Scratch::new();
    write_plugin(
        &s,
        "loud",
        &manifest("loud"),
        "#!/bin/sh\ncat >/dev/null\nprintf '{\"protocol\":1,\"status\":\"error\",\"error\":{\"kind\":\"x\",\"message\":\"<img src=x onerror=alert(1)> ![t](http://track.example/p.png) cc @octocat `keep <b>@code</b>`\"}}'\n",
    );
    s.policy("version: 1\nplugins:\n  l: { uses: loud }\nobjectives:\n  - { id: v, metric: l.value, pass: \"< 5\" }\n");
    let r = s.qod(&["run", "--no-record", "--markdown", "summary.md"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let md = std::fs::read_to_string(s.path().join("summary.md")).unwrap();
    assert!(!md.contains("<img"), "{md}");
    assert!(!md.contains("![t]"), "{md}");
    assert!(!md.contains("@octocat"), "{md}");
    assert!(md.contains("&lt;img src=x"), "{md}");
    // Inside a code span the text is shown as it is.
    assert!(md.contains("`keep <b>@code</b>`"), "{md}");
}

#[test]
fn git_store_branches_that_shadow_refs_are_refused() {
    let s = Scratch::new();
    for at in ["git:HEAD", "git:refs/heads/x"] {
        let r = s.qod(&["history", "--store", at]);
        assert_eq!(r.code, 64, "{at}: {}", r.stderr);
        assert!(r.stderr.contains("name a branch"), "{at}: {}", r.stderr);
    }
}

#[test]
fn a_secret_across_the_start_of_the_stderr_tail_is_not_half_kept() {
    const SECRET: &str = "s3cr3t-straddle-XYZ987";
    let s = Scratch::new().env("API_TOKEN", SECRET);
    // The kept tail (64 KiB) starts in the middle of the secret.
    write_plugin(
        &s,
        "straddle",
        &manifest("straddle"),
        &format!(
            "#!/bin/sh\ncat >/dev/null\nprintf '%s' \"$API_TOKEN\" >&2\nhead -c {} /dev/zero | tr '\\0' a >&2\nexit 3\n",
            (64 << 10) - 11
        ),
    );
    s.policy("version: 1\nplugins:\n  p: { uses: straddle, env: [API_TOKEN] }\nobjectives:\n  - { id: v, metric: p.value, pass: \"< 5\" }\n");
    let r = s.qod(&["run", "--no-record"]);
    let d = r.json();
    let tail = d["plugins"][0]["stderr_tail"].as_str().unwrap();
    assert!(tail.len() <= 64 << 10, "{}", tail.len());
    assert!(
        !tail.contains("XYZ987"),
        "half the secret kept: {}",
        &tail[..40]
    );
}

#[test]
fn absurd_numeric_arguments_never_panic_or_hang() {
    let s = Scratch::new();
    s.policy(&crate::common::emit_policy(
        &[("build", "duration", 40.0)],
        "  - { id: t, metric: build.duration, pass: \"<= baseline * 1.5\" }\n",
    ));
    for _ in 0..3 {
        assert_eq!(s.qod(&["run", "--store", "st"]).code, 0);
    }
    let values = [
        "0",
        "1",
        "-1",
        "18446744073709551615",
        "18446744073709551616",
        "1e308",
        "NaN",
        "inf",
        "0.5",
    ];
    let options: &[(&[&str], &str)] = &[
        (&["history", "--store", "st"], "--last"),
        (&["backtest", "--store", "st"], "--last"),
        (&["trend", "--store", "st"], "--last"),
        (&["trend", "--store", "st"], "--window"),
        (&["trend", "--store", "st"], "--max-pvalue"),
        (&["trend", "--store", "st"], "--min-magnitude"),
        (&["report", "--store", "st", "--out", "r.html"], "--last"),
        (&["run", "--store", "st", "--no-record"], "--jobs"),
        (&["store", "prune", "--store", "st"], "--keep"),
        (&["store", "prune", "--store", "st"], "--keep-days"),
        (&["run", "--store", "st", "--no-record"], "--heartbeat"),
        (&["run", "--store", "st", "--no-record"], "--kill-grace"),
        (
            &["run", "--store", "st", "--no-record", "--group", "g"],
            "--shard",
        ),
    ];
    for (command, option) in options {
        for value in values.iter().chain(&[
            "1/0",
            "0/0",
            "3/2",
            "18446744073709551615/18446744073709551615",
        ]) {
            if value.contains('/') != (*option == "--shard") {
                continue;
            }
            let mut args: Vec<&str> = command.to_vec();
            args.extend([*option, value]);
            let start = std::time::Instant::now();
            let r = s.qod(&args);
            assert_ne!(r.code, 101, "{args:?} panicked: {}", r.stderr);
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "{args:?} took {:?}",
                start.elapsed()
            );
        }
    }
}

#[test]
fn plugins_list_and_describe_find_a_policys_own_plugins() {
    let s = Scratch::new();
    // The policy lives in `gate/`, its plugin beside it.
    let dir = s.path().join("gate/plugins/beside-policy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.json"), manifest("beside-policy")).unwrap();
    std::fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(s.path().join("gate/qod.yaml"), "version: 1\n").unwrap();
    let r = s.qod(&["plugins", "list"]);
    assert!(!r.stdout.contains("beside-policy"), "{}", r.stdout);
    let r = s.qod(&["plugins", "list", "--policy", "gate/qod.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("beside-policy"), "{}", r.stdout);
    let r = s.qod(&[
        "plugins",
        "describe",
        "beside-policy",
        "--policy",
        "gate/qod.yaml",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\"name\": \"beside-policy\""),
        "{}",
        r.stdout
    );
}
