//! The directory store: records survive, concurrent writers lose nothing,
//! leftovers of a crash are ignored.

use crate::common::{emit_policy, Scratch};
use qod::store::Store;
use std::ops::ControlFlow;

/// Every run summary in the store's index, newest first.
pub fn records(store: &std::path::Path) -> Vec<qod::record::RunRecord> {
    let store = Store::dir(store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = Vec::new();
    rt.block_on(store.scan(
        |r| {
            out.push(r);
            ControlFlow::Continue(())
        },
        |w| panic!("{w}"),
    ))
    .unwrap();
    out
}

#[test]
fn concurrent_runs_lose_no_record() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"<= +50%\" }\n",
    ));
    // All 16 start before any is waited for, so they race for the index.
    for r in crate::common::at_once((0..16).map(|_| s.command(&["run"]))) {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let recs = records(&s.path().join(".qod/store"));
    assert_eq!(recs.len(), 16);
    let files = std::fs::read_dir(s.path().join(".qod/store/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read_dir(files).unwrap().count(),
        16,
        "16 record files"
    );
    let mut ids: Vec<_> = recs.iter().map(|r| r.run_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 16);
    // Newest first.
    assert!(recs.windows(2).all(|w| w[0].run_id > w[1].run_id));
}

#[test]
fn parallel_writers_in_threads() {
    let s = Scratch::new();
    let policy = emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"<= 60s\" }\n",
    );
    s.policy(&policy);
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let mut cmd = s.command(&["run"]);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().status.success());
    }
    assert_eq!(records(&s.path().join(".qod/store")).len(), 16);
}

#[test]
fn crash_leftovers_are_ignored_and_a_damaged_index_is_explained() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"<= +50%\" }\n",
    ));
    assert_eq!(s.qod(&["run"]).code, 0);
    let store = s.path().join(".qod/store");
    let partition = std::fs::read_dir(store.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // What a writer killed before its rename leaves behind: a temp file.
    std::fs::write(partition.join(".tmp-abc123"), "{\"record_version\":1,").unwrap();
    std::fs::write(store.join("index/.tmp-def456"), "{\"runs\":[").unwrap();
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["objectives"][0]["status"], "pass");
    assert_eq!(crate::common::baseline_runs(&d), 1);

    // A damaged index: no decision can rest on it; the message says how to repair.
    std::fs::write(store.join("index/head.json"), "{not json").unwrap();
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 2);
    assert!(
        r.json()["store"]["error"]
            .as_str()
            .unwrap()
            .contains("qod store reindex"),
        "{}",
        r.stdout
    );
    let r = s.qod(&["store", "reindex"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("indexed 2 runs"), "{}", r.stderr);
    let d = s.qod(&["run", "--no-record"]).json();
    assert_eq!(crate::common::baseline_runs(&d), 2);
}

#[test]
fn an_unwritable_store_still_prints_the_decision_and_exits_2() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"<= 60s\" }\n",
    ));
    s.write("not-a-dir", "a file where the store should be");
    let r = s.qod(&["run", "--store", "not-a-dir"]);
    assert_eq!(r.code, 2);
    let d = r.json();
    assert_eq!(d["decision"], "pass");
    assert_eq!(d["store"]["recorded"], false);
    assert!(
        d["store"]["error"].as_str().unwrap().contains("not-a-dir"),
        "{d:#}"
    );
}

#[test]
fn history_takes_a_metric_glob_and_says_why_it_found_nothing() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("bench", "p95", 12.0), ("bench", "throughput", 900.0)],
        "  - { id: p95, metric: bench.p95, pass: \"< 50ms\" }\n",
    ));
    for _ in 0..3 {
        assert_eq!(s.qod(&["run", "-q"]).code, 0);
    }
    // A glob, as `trend` takes one.
    let r = s.qod(&["history", "--metric", "bench.*"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A header, then each run with its matching metrics below it.
    assert_eq!(r.stdout.lines().count(), 7, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("\n  bench.p95 = 12 ms · bench.throughput = 900 req/s\n"),
        "{}",
        r.stdout
    );
    // Readable in a terminal of 100 columns.
    assert!(
        r.stdout.lines().all(|l| l.chars().count() <= 100),
        "{}",
        r.stdout
    );
    // Without `--metric`: the metrics the objectives judged.
    let r = s.qod(&["history"]);
    assert!(r.stdout.contains("\n  bench.p95 = 12 ms\n"), "{}", r.stdout);
    // A near miss names the runs recorded and the metric meant.
    let r = s.qod(&["history", "--metric", "bench.p59"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "no run measured `bench.p59`; 3 runs recorded; did you mean `bench.p95`? they measured `bench.p95`, `bench.throughput`"
        ),
        "{}",
        r.stderr
    );
    let r = s.qod(&["history", "--branch", "nowhere"]);
    assert!(
        r.stderr
            .contains("no run on branch `nowhere` matched; 3 runs recorded"),
        "{}",
        r.stderr
    );
    // A glob that does not parse is a usage error.
    assert_eq!(s.qod(&["history", "--metric", "[oops"]).code, 64);
}
