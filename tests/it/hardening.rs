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
