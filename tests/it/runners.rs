//! The runner is part of the record: every decision and record says what
//! machine it measured on (its fingerprint, and what it is made of);
//! baselines prefer runs of the same fingerprint and say when they could
//! not; `qod trend` calls a change point where the runner changed a change
//! of runner, not of code. `QOD_RUNNER` names a machine class, as a
//! self-hosted pool would.

use crate::common::{emit_policy, Scratch};
use serde_json::Value;

const OBJECTIVE: &str =
    "  - { id: t, metric: build.duration, pass: \"<= +20%\", baseline: { last: 5 } }\n";

fn run_on(s: &Scratch, runner: &str, value: f64, record: bool) -> Value {
    s.policy(&emit_policy(&[("build", "duration", value)], OBJECTIVE));
    let mut args = vec!["run"];
    if !record {
        args.push("--no-record");
    }
    let out = s.command(&args).env("QOD_RUNNER", runner).output().unwrap();
    let d: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    crate::common::assert_valid("decision.schema.json", &d);
    d
}

#[test]
fn baselines_prefer_runs_of_the_same_runner_and_say_when_they_cannot() {
    let s = Scratch::new();
    for _ in 0..5 {
        run_on(&s, "pool-a", 100.0, true);
    }
    // Two newer runs on slower machines.
    for _ in 0..2 {
        run_on(&s, "pool-b", 150.0, true);
    }
    let d = run_on(&s, "pool-a", 110.0, false);
    let runner = &d["run"]["runner"];
    assert_eq!(runner["name"], "pool-a", "{runner:#}");
    assert_eq!(runner["fingerprint"].as_str().unwrap().len(), 12);
    assert!(runner["cores"].as_u64().unwrap() >= 1);
    assert!(!runner["arch"].as_str().unwrap().is_empty());
    let o = &d["objectives"][0];
    // Against pool-a's five runs (100), not the newest five (mean 120).
    assert_eq!(o["baseline"]["value"], 100.0, "{o:#}");
    assert!(o["baseline"].get("other_runners").is_none(), "{o:#}");
    assert_eq!(o["status"], "pass");

    // The records carry the runner too.
    let stored = s.qod(&["export", "--format", "jsonl"]);
    let first: Value = serde_json::from_str(stored.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["runner"]["name"], "pool-a", "{first:#}");

    // A machine with no history of its own: the newest runs, named.
    let d = run_on(&s, "pool-c", 110.0, false);
    let o = &d["objectives"][0];
    assert_eq!(o["baseline"]["other_runners"], 5, "{o:#}");
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains("5 of 5 baseline runs measured on another runner than this one"),
        "{reason}"
    );
    assert_ne!(
        d["run"]["runner"]["fingerprint"], runner["fingerprint"],
        "another name, another fingerprint"
    );
}

#[test]
fn trend_calls_a_change_of_runner_a_change_of_runner() {
    let s = Scratch::new();
    for i in 0..12 {
        run_on(&s, "small", 100.0 + (i % 3) as f64, true);
    }
    for i in 0..12 {
        run_on(&s, "large", 60.0 + (i % 3) as f64, true);
    }
    let r = s.qod(&["trend", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = r.json();
    let points = t[0]["change_points"].as_array().unwrap().clone();
    assert_eq!(points.len(), 1, "{t:#}");
    assert_eq!(points[0]["run_number"], 13);
    assert_eq!(points[0]["cause"], "runner", "{t:#}");
    assert_ne!(points[0]["runner_before"], points[0]["runner_after"]);
    let table = s.qod(&["trend"]);
    assert!(
        table.stdout.contains("a change of runner, not of code"),
        "{}",
        table.stdout
    );
    // The report marks it on the chart.
    let r = s.qod(&["report", "--out", "report.html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(s.path().join("report.html")).unwrap();
    assert!(
        html.contains("data-runner-changes=\"1\""),
        "no runner change on the chart"
    );
}
