//! Whole gate runs: the prototype's build-time rule on the embedded store,
//! strategies, modes, units, branches and exit codes.

use crate::common::{assert_valid, emit_policy, redact, Scratch};
use serde_json::Value;

const BUILD_TIME: &str = r#"  - id: build-time
    metric: build.duration
    pass: "<= baseline * 1.5"
    baseline: { last: 3, aggregate: mean }
"#;

fn build(s: &Scratch, duration: f64, record: bool) -> crate::common::Run {
    s.policy(&emit_policy(&[("build", "duration", duration)], BUILD_TIME));
    let mut args = vec!["run"];
    if !record {
        args.push("--no-record");
    }
    s.qod(&args)
}

#[test]
fn prototype_build_time_rule_on_the_embedded_store() {
    let s = Scratch::new();

    // The first run has no history: no_baseline, which warns — not a pass, not a crash.
    let first = build(&s, 30.0, true);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let d = first.json();
    assert_valid("decision.schema.json", &d);
    insta::assert_json_snapshot!("first_run_no_baseline", redact(d));

    for duration in [32.0, 33.0] {
        let r = build(&s, duration, true);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.json()["decision"], "pass");
    }

    // mean(30, 32, 33) = 31.67; × 1.5 = 47.5
    let pass = build(&s, 47.0, false);
    assert_eq!(pass.code, 0, "{}", pass.stderr);
    let d = pass.json();
    assert_valid("decision.schema.json", &d);
    assert_eq!(d["objectives"][0]["target"], 47.5);
    assert_eq!(crate::common::baseline_runs(&d), 3);
    insta::assert_json_snapshot!("build_time_47s_passes", redact(d));

    let fail = build(&s, 48.0, false);
    assert_eq!(fail.code, 1, "{}", fail.stderr);
    let d = fail.json();
    assert_valid("decision.schema.json", &d);
    assert_eq!(d["decision"], "fail");
    insta::assert_json_snapshot!("build_time_48s_fails", redact(d));
    // People get the same explanation on stderr.
    assert!(
        fail.stderr
            .contains("48 s > 47.5 s (1.5 × mean of last 3 = 31.67 s)"),
        "{}",
        fail.stderr
    );
}

#[test]
fn failed_runs_stay_out_of_the_baseline() {
    let s = Scratch::new();
    for d in [10.0, 100.0, 11.0] {
        build(&s, d, true);
    }
    // 100 s failed (> 15 s); the baseline is mean(10, 11), not of all three.
    let r = build(&s, 12.0, false);
    let d = r.json();
    assert_eq!(d["objectives"][0]["baseline"]["value"], 10.5);
    assert_eq!(crate::common::baseline_runs(&d), 2);
}

fn run_policy(s: &Scratch, yaml: &str, args: &[&str]) -> (i32, Value) {
    s.policy(yaml);
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let r = s.qod(&all);
    let d = r.json();
    assert_valid("decision.schema.json", &d);
    (r.code, d)
}

#[test]
fn warn_criteria_strict_and_units() {
    let s = Scratch::new();
    let objectives = r#"  - id: latency
    metric: latency.p95
    pass: "< 0.3s"
    warn: "< 400ms"
"#;
    let (code, d) = run_policy(
        &s,
        &emit_policy(&[("latency", "p95", 350.0)], objectives),
        &[],
    );
    assert_eq!((code, d["decision"].as_str()), (0, Some("warn")));
    assert_eq!(d["objectives"][0]["target"], 300.0);
    insta::assert_snapshot!(d["objectives"][0]["reason"].as_str().unwrap(), @"350 ms >= 300 ms; within the warn limit: 350 ms < 400 ms");
    let (code, _) = run_policy(
        &s,
        &emit_policy(&[("latency", "p95", 350.0)], objectives),
        &["--strict"],
    );
    assert_eq!(code, 1, "--strict makes warn exit 1");
    let (code, d) = run_policy(
        &s,
        &emit_policy(&[("latency", "p95", 450.0)], objectives),
        &[],
    );
    assert_eq!((code, d["decision"].as_str()), (1, Some("fail")));
}

#[test]
fn score_strategy_with_weights_and_key_objectives() {
    let s = Scratch::new();
    let metrics = [
        ("a", "p95", 100.0),
        ("a", "throughput", 50.0),
        ("a", "size", 10.0),
    ];
    let objectives = |key: bool| {
        format!(
            r#"  - id: latency
    metric: a.p95
    pass: "< 200ms"
    weight: 3
  - id: throughput
    metric: a.throughput
    pass: ">= 100req/s"
    warn: ">= 40req/s"
    weight: 1
  - id: size
    metric: a.size
    pass: "< 5B"
    key: {key}
    weight: 1
"#
        )
    };
    let policy = |key| {
        format!(
            "{}decision: {{ strategy: score, pass: 80, warn: 60 }}\n",
            emit_policy(&metrics, &objectives(key))
        )
    };
    // (3 + 0.5 + 0) / 5 = 70 %: between warn (60) and pass (80).
    let (code, d) = run_policy(&s, &policy(false), &[]);
    assert_eq!(d["score"], 70.0);
    assert_eq!((code, d["decision"].as_str()), (0, Some("warn")));
    // The same, but `size` is key: its failure fails the gate whatever the score.
    let (code, d) = run_policy(&s, &policy(true), &[]);
    assert_eq!(d["score"], 70.0);
    assert_eq!((code, d["decision"].as_str()), (1, Some("fail")));
    insta::assert_snapshot!(d["summary"].as_str().unwrap(), @"score 70: 1 of 3 objectives failed: size 10 B >= 5 B");
}

#[test]
fn modes_and_missing_data() {
    let s = Scratch::new();
    let objectives = r#"  - id: enforced-but-missing
    metric: a.merged
    pass: ">= 3"
    on_no_data: warn
  - id: only-warns
    metric: a.p95
    pass: "< 100ms"
    mode: warn
  - id: tried-out
    metric: a.size
    pass: "< 1B"
    mode: shadow
"#;
    let (code, d) = run_policy(
        &s,
        &emit_policy(&[("a", "p95", 150.0), ("a", "size", 10.0)], objectives),
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(d["decision"], "warn");
    let statuses: Vec<(&str, &str)> = d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["status"].as_str().unwrap(), o["effect"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [("no_data", "warn"), ("fail", "warn"), ("fail", "none")]
    );
    insta::assert_snapshot!(d["objectives"][0]["reason"].as_str().unwrap(), @"no value: plugin `a` did not report metric `merged`; it reported `size`, `p95`");
    // Without on_no_data the default is fail: nothing passes silently.
    let objectives = "  - id: missing\n    metric: a.merged\n    pass: \">= 3\"\n";
    let (code, d) = run_policy(&s, &emit_policy(&[("a", "p95", 1.0)], objectives), &[]);
    assert_eq!((code, d["decision"].as_str()), (1, Some("fail")));
}

#[test]
fn a_broken_plugin_explains_the_missing_metric() {
    let s = Scratch::new();
    let (code, d) = run_policy(
        &s,
        "version: 1\nplugins:\n  api: { uses: reports-error }\nobjectives:\n  - id: latency\n    metric: api.value\n    pass: \"< 300ms\"\n",
        &[],
    );
    assert_eq!(code, 1);
    insta::assert_json_snapshot!("plugin_error_decision", redact(d));
}

#[test]
fn pattern_metrics_carry_their_unit() {
    let s = Scratch::new();
    let policy = r#"version: 1
plugins:
  bench: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: "bench/sort", value: 2.5, unit: "ms" }, { name: "bench/copy", value: 7, unit: "MiB" }] } } }
objectives:
  - id: sort
    metric: bench.bench/sort
    pass: "< 0.003s"
  - id: copy
    metric: bench.bench/copy
    pass: "< 3ms"
"#;
    let (code, d) = run_policy(&s, policy, &[]);
    // A criterion that does not fit what the plugin reported is a broken
    // policy (exit 2), not a regression.
    assert_eq!(code, 2);
    assert_eq!(d["objectives"][0]["status"], "pass");
    assert_eq!(d["objectives"][0]["target"], 3.0);
    assert_eq!(d["objectives"][1]["status"], "inconclusive");
    assert!(d["objectives"][1]["policy_error"].is_string());
    insta::assert_snapshot!(d["objectives"][1]["reason"].as_str().unwrap(), @"cannot compare: criterion `< 3ms`: unit `ms` does not fit the metric's unit `MiB`");
}

#[test]
fn baselines_come_from_the_same_branch() {
    let policy = emit_policy(&[("build", "duration", 10.0)], BUILD_TIME);
    let on = |branch: &str| {
        Scratch::new()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REF", &format!("refs/heads/{branch}"))
    };
    let main = on("main");
    main.policy(&policy);
    assert_eq!(main.qod(&["run"]).code, 0);
    // Same store, another branch: no baseline there yet.
    let feature = on("feature").env(
        "QOD_STORE",
        &main.path().join(".qod/store").to_string_lossy(),
    );
    feature.policy(&policy);
    let d = feature.qod(&["run"]).json();
    assert_eq!(d["objectives"][0]["status"], "no_baseline");
    assert_eq!(d["objectives"][0]["baseline"]["branch"], "feature");
    assert_eq!(d["pipeline"]["provider"], "github");
    let d = main.qod(&["run"]).json();
    assert_eq!(d["objectives"][0]["status"], "pass");
    assert_eq!(crate::common::baseline_runs(&d), 1);
}

#[test]
fn out_file_holds_the_same_decision() {
    let s = Scratch::new();
    s.policy(&emit_policy(&[("build", "duration", 10.0)], BUILD_TIME));
    let r = s.qod(&["run", "--out", "decision.json"]);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("decision.json")).unwrap())
            .unwrap();
    assert_eq!(file, r.json());
}

#[test]
fn the_context_reaches_the_plugin() {
    // The Python example prints nothing but its timing; this checks the
    // context itself through a plugin that echoes it back in its summary.
    let s = Scratch::new();
    let plugin = s.path().join("echo");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.json"),
        r#"{"manifest_version":1,"name":"echo","version":"1","protocol_versions":[1],"command":["python3","./echo.py"],
            "config_schema":{"type":"object","properties":{"requests":{"type":"integer","default":500}}},
            "metrics":[{"name":"n","better":"higher"}]}"#,
    )
    .unwrap();
    std::fs::write(
        plugin.join("echo.py"),
        "import json, sys\nctx = json.load(sys.stdin)\nprint(json.dumps({'protocol': 1, 'status': 'ok', 'metrics': [{'name': 'n', 'value': ctx['config']['requests']}], 'summary': json.dumps(ctx)}))\n",
    )
    .unwrap();
    let (code, d) = run_policy(
        &s,
        "version: 1\nplugins:\n  e: { uses: echo, path: echo, timeout: 30s }\nobjectives:\n  - id: n\n    metric: e.n\n    pass: \">= 500\"\n",
        &[],
    );
    assert_eq!(code, 0, "{d:#}");
    let ctx: Value = serde_json::from_str(d["plugins"][0]["summary"].as_str().unwrap()).unwrap();
    assert_valid("context.schema.json", &ctx);
    assert_eq!(
        ctx["config"],
        serde_json::json!({"requests": 500}),
        "schema defaults are filled in"
    );
    assert_eq!(
        ctx["plugin"],
        serde_json::json!({"name": "echo", "instance": "e"})
    );
    assert_eq!(ctx["run"]["id"], d["run"]["id"]);
    assert!(ctx["paths"]["artifacts"]
        .as_str()
        .unwrap()
        .ends_with(".qod/artifacts/e"));
    assert!(std::path::Path::new(ctx["paths"]["artifacts"].as_str().unwrap()).is_dir());
}

fn probe_policy(dir: &std::path::Path, n: usize) -> String {
    let mut s = String::from("version: 1\nplugins:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  p{i}: {{ uses: concurrency-probe, with: {{ dir: \"{}\" }} }}\n",
            dir.display()
        ));
    }
    s.push_str("objectives:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - {{ id: p{i}, metric: p{i}.running, pass: \">= 1\" }}\n"
        ));
    }
    s
}

fn most_running(d: &Value) -> u64 {
    d["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metrics"][0]["value"].as_f64().unwrap() as u64)
        .max()
        .unwrap()
}

#[test]
fn jobs_bounds_how_many_plugins_run_at_once() {
    let s = Scratch::new();
    let shared = s.path().join("running");
    std::fs::create_dir_all(&shared).unwrap();
    s.policy(&probe_policy(&shared, 6));
    let r = s.qod(&["run", "--jobs", "2", "--no-record"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        most_running(&r.json()),
        2,
        "with --jobs 2 exactly two ran at once at some point"
    );
    let r = s.qod(&["run", "--jobs", "6", "--no-record"]);
    assert!(
        most_running(&r.json()) > 2,
        "with --jobs 6 more than two ran at once"
    );
}

#[test]
fn policy_timeout_overrides_the_manifest() {
    let s = Scratch::new();
    s.policy("version: 1\nplugins:\n  s: { uses: sleep-forever, timeout: 300ms }\nobjectives:\n  - { id: v, metric: s.value, pass: \"< 1ms\" }\n");
    let start = std::time::Instant::now();
    let r = s.qod(&["run", "--kill-grace", "200ms"]);
    assert_eq!(r.code, 1);
    let d = r.json();
    assert_eq!(d["plugins"][0]["status"], "timeout");
    assert!(
        d["plugins"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timeout of 300ms"),
        "{d:#}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
}

#[test]
fn progress_goes_to_stderr_only_when_asked() {
    let s = Scratch::new();
    s.policy(&emit_policy(&[("build", "duration", 10.0)], BUILD_TIME));
    let quiet = s.qod(&["run", "--no-record"]);
    assert!(!quiet.stderr.contains("started"), "{}", quiet.stderr);
    let loud = s.qod(&["run", "--no-record", "--progress"]);
    assert!(
        loud.stderr.contains("qod: `build` (emit) started"),
        "{}",
        loud.stderr
    );
    assert!(
        loud.stderr.contains("qod: `build` ok in "),
        "{}",
        loud.stderr
    );
    // stdout is the decision alone either way.
    assert_eq!(loud.json()["decision"], "warn");
}
