//! Decision quality: significance tests on relative objectives, weighed
//! run by run against the baseline runs in the store.

use crate::common::{assert_valid, Scratch};
use serde_json::Value;

/// A policy whose `api` instance reports p95 `value` with `samples`.
fn policy(value: f64, samples: &[f64], method: &str) -> String {
    let samples: Vec<String> = samples.iter().map(|s| s.to_string()).collect();
    format!(
        r#"version: 1
plugins:
  api: {{ uses: emit, with: {{ result: {{ protocol: 1, status: ok, metrics: [{{ name: p95, value: {value}, unit: ms, samples: [{}] }}] }} }} }}
baseline: {{ last: 6, aggregate: mean, include: all }}
objectives:
  - id: latency
    metric: api.p95
    pass: "<= +5%"
    test: {{ method: {method}, alpha: 0.01 }}
"#,
        samples.join(", ")
    )
}

/// Ten samples around `center`, spread by `spread`.
fn around(center: f64, spread: f64) -> Vec<f64> {
    (0..10)
        .map(|i| center + spread * ((i as f64) - 4.5) / 4.5)
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn gate(s: &Scratch, center: f64, samples: &[f64], method: &str, record: bool) -> Value {
    s.policy(&policy(center, samples, method));
    let mut args = vec!["run"];
    if !record {
        args.push("--no-record");
    }
    let r = s.qod(&args);
    assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_valid("decision.schema.json", &d);
    d
}

/// Six runs whose levels vary by about ±2%, each of ten samples.
fn six_runs(s: &Scratch) {
    for center in [100.0, 102.0, 98.0, 101.0, 99.0, 100.0] {
        let samples = around(center, 4.0);
        gate(s, mean(&samples), &samples, "welch-t", true);
    }
}

#[test]
fn a_change_beyond_the_tolerance_fails_only_when_beyond_it_by_more_than_runs_vary() {
    let s = Scratch::new();
    six_runs(&s);
    for method in ["mann-whitney", "welch-t", "bootstrap"] {
        // +6%: past `<= +5%` by less than runs vary from one another.
        let near: Vec<f64> = around(106.0, 4.0);
        let d = gate(&s, mean(&near), &near, method, false);
        let o = &d["objectives"][0];
        assert_eq!(o["status"], "pass", "{method}: {o:#}");
        let t = &o["test"];
        assert_eq!(t["method"], method);
        assert_eq!(t["n_baseline"], 6, "the unit of evidence is the run");
        assert_eq!(t["n_current"], 10);
        assert_eq!(t["limit"], 105.0, "{t:#}");
        assert_eq!(t["significant"], false, "{t:#}");
        assert!(t["p_value"].as_f64().unwrap() > 0.01);
        let reason = o["reason"].as_str().unwrap();
        assert!(
            reason.contains(
                "> 105 ms (1.05 × mean of last 6 = 100 ms), but by less than runs vary: "
            ),
            "{reason}"
        );
        assert!(reason.contains("at the limit 105 ms"), "{reason}");
        assert!(reason.contains("6 baseline runs"), "{reason}");

        // +20%, clearly: fails, and says how sure it is.
        let shifted = around(120.0, 4.0);
        let d = gate(&s, mean(&shifted), &shifted, method, false);
        let o = &d["objectives"][0];
        assert_eq!(o["status"], "fail", "{method}: {o:#}");
        assert_eq!(d["decision"], "fail");
        let t = &o["test"];
        assert_eq!(t["significant"], true, "{t:#}");
        let (pct, lo, hi) = (
            t["change_pct"].as_f64().unwrap(),
            t["change_pct_low"].as_f64().unwrap(),
            t["change_pct_high"].as_f64().unwrap(),
        );
        assert!(lo < pct && pct < hi && (15.0..25.0).contains(&pct), "{t:#}");
        assert!(lo > 5.0, "the interval clears the tolerance: {t:#}");
        assert!(
            o["reason"]
                .as_str()
                .unwrap()
                .contains("; beyond the tolerance by more than runs vary: "),
            "{o:#}"
        );
    }
}

#[test]
fn many_samples_cannot_make_a_drift_significant() {
    // Before, the test pooled samples: 200 tight samples a side made any
    // shift "significant". Now a run is one level, whatever its samples.
    let s = Scratch::new();
    six_runs(&s);
    let tight: Vec<f64> = (0..200).map(|i| 107.0 + (i % 3) as f64 * 0.01).collect();
    let d = gate(&s, mean(&tight), &tight, "mann-whitney", false);
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(o["test"]["n_current"], 200);
    assert_eq!(o["test"]["level"], "median of samples");
}

#[test]
fn too_few_baseline_runs_are_inconclusive_with_the_fix() {
    let s = Scratch::new();
    for center in [100.0, 102.0, 98.0] {
        let samples = around(center, 4.0);
        gate(&s, mean(&samples), &samples, "welch-t", true);
    }
    let shifted = around(120.0, 4.0);
    let d = gate(&s, mean(&shifted), &shifted, "welch-t", false);
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "inconclusive", "{o:#}");
    assert_eq!(o["effect"], "warn");
    assert_eq!(d["decision"], "warn");
    assert!(o["reason"].as_str().unwrap().contains(
        "inconclusive: the welch-t test reads how runs vary from 5 baseline runs and there are 3 (it will decide once the history holds them)"
    ), "{o:#}");
    assert!(o["test"].get("p_value").is_none());

    // A test that needs more runs than the baseline keeps is a policy error.
    s.policy(&policy(1.0, &[1.0], "welch-t").replace("last: 6", "last: 3"));
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("`test` reads how runs vary from 5 baseline runs, but `baseline.last` keeps 3: it could never decide"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_absolute_limit_is_not_excused_by_noise() {
    let s = Scratch::new();
    six_runs(&s);
    let noisy: Vec<f64> = around(106.0, 30.0);
    s.policy(
        &policy(mean(&noisy), &noisy, "welch-t")
            .replace("pass: \"<= +5%\"", "pass: [\"<= +5%\", \"< 104ms\"]"),
    );
    let d = s.qod(&["run", "--no-record"]).json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "fail", "{o:#}");
    assert_eq!(o["test"]["significant"], false);
}

fn model_policy(value: f64, baseline: &str) -> String {
    format!(
        r#"version: 1
plugins:
  api: {{ uses: emit, with: {{ result: {{ protocol: 1, status: ok, metrics: [{{ name: p95, value: {value}, unit: ms }}] }} }} }}
objectives:
  - id: latency
    metric: api.p95
    pass: "<= upper"
    baseline: {baseline}
"#
    )
}

#[test]
fn threshold_models_set_limits_from_the_history() {
    let s = Scratch::new();
    let z = "{ model: z-score, upper_boundary: 0.977, last: 30, include: all }";
    // Ten runs at 90 and 110 ms: mean 100 ms, σ 10 ms.
    for i in 0..10 {
        s.policy(&model_policy(if i % 2 == 0 { 90.0 } else { 110.0 }, z));
        assert!(s.qod(&["run"]).code <= 1);
    }
    s.policy(&model_policy(119.0, z));
    let d = s.qod(&["run", "--no-record"]).json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(
        o["reason"],
        "119 ms <= 119.95 ms (z-score upper limit at 0.977 of last 10, centre 100 ms)"
    );
    assert_eq!(o["baseline"]["aggregate"], "z-score");
    s.policy(&model_policy(121.0, z));
    let d = s.qod(&["run", "--no-record"]).json();
    assert_eq!(d["objectives"][0]["status"], "fail", "{d:#}");

    // IQR: median 100 ms, IQR 20 ms (Q1 90, Q3 110) × 2.
    let iqr = "{ model: iqr, upper_boundary: 2, lower_boundary: 2, last: 30, include: all }";
    s.policy(
        &model_policy(139.0, iqr)
            .replace("pass: \"<= upper\"", "pass: [\"<= upper\", \">= lower\"]"),
    );
    let d = s.qod(&["run", "--no-record"]).json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass", "{o:#}");
    assert!(
        o["reason"].as_str().unwrap().contains(
            "139 ms <= 140 ms (iqr upper limit at 2 of last 10, centre 100 ms), 139 ms >= 60 ms"
        ),
        "{o:#}"
    );
}

#[test]
fn a_model_without_spread_is_reported_not_passed() {
    let s = Scratch::new();
    let t = "{ model: t-test, upper_boundary: 0.99, include: all, last: 10 }";
    for _ in 0..4 {
        s.policy(&model_policy(100.0, t));
        s.qod(&["run"]);
    }
    s.policy(&model_policy(500.0, t));
    let d = s.qod(&["run", "--no-record"]).json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "no_baseline", "{o:#}");
    assert_eq!(o["effect"], "warn");
    assert!(o["reason"].as_str().unwrap().starts_with(
        "no baseline: the baseline's values do not vary (zero variance), so the t-test model has no spread to set a limit with (4 runs); value 500 ms"
    ), "{o:#}");
}

#[test]
fn threshold_model_settings_are_checked_before_running() {
    let s = Scratch::new();
    s.policy(&model_policy(
        1.0,
        "{ model: z-score, upper_boundary: 1.5 }",
    ));
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`upper_boundary` is 1.5, but the z-score model takes a percentile from 0.5 up to (not including) 1"), "{}", r.stderr);
    s.policy(&model_policy(1.0, "{ last: 3 }"));
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`<= upper` compares with the threshold model's upper limit, but the baseline has no `model`"), "{}", r.stderr);
    s.policy(&model_policy(1.0, "{ model: iqr, lower_boundary: 2 }"));
    let r = s.qod(&["validate"]);
    assert!(
        r.stderr
            .contains("but the baseline has no `upper_boundary`"),
        "{}",
        r.stderr
    );
}

fn sequence_policy(values: &[f64], instance_extra: &str, objective_extra: &str) -> String {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!(
        "version: 1\nplugins:\n  seq: {{ uses: sequence, with: {{ values: [{}] }}{instance_extra} }}\nobjectives:\n  - {{ id: fast, metric: seq.value, pass: \"< 200ms\"{objective_extra} }}\n",
        values.join(", ")
    )
}

#[test]
fn repeat_pools_the_runs_of_a_plugin() {
    let s = Scratch::new();
    s.policy(&sequence_policy(
        &[100.0, 300.0, 105.0, 95.0, 110.0],
        ", repeat: 5",
        "",
    ));
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = &d["plugins"][0];
    assert_eq!(p["repeats"]["runs"], 5);
    assert_eq!(p["repeats"]["aggregate"], "median");
    assert_eq!(
        p["repeats"]["values"]["value"],
        serde_json::json!([100.0, 300.0, 105.0, 95.0, 110.0])
    );
    assert_eq!(p["metrics"][0]["value"], 105.0);
    assert_eq!(p["metrics"][0]["samples"].as_array().unwrap().len(), 15);
    assert_eq!(d["objectives"][0]["status"], "pass");
    // The record keeps the pooled samples for later significance tests.
    let runs = s.path().join(".qod/store/runs");
    let day = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let file = std::fs::read_dir(day)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(record["run_id"], d["run"]["id"]);
    let m = &record["metrics"][0];
    assert_eq!(
        (&m["key"], &m["value"]),
        (&serde_json::json!("seq.value"), &serde_json::json!(105.0))
    );
    assert_eq!(m["samples"], p["metrics"][0]["samples"], "{m:#}");
}

#[test]
fn confirm_reruns_a_failing_objective_and_records_every_attempt() {
    let s = Scratch::new();
    // One slow run among fast ones: confirmation clears it.
    s.policy(&sequence_policy(&[300.0, 100.0, 102.0], "", ", confirm: 2"));
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(o["value"], 102.0, "the median of 300, 100 and 102");
    let attempts = o["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{o:#}");
    assert_eq!(
        (
            attempts[0]["attempt"].as_u64(),
            attempts[0]["runs"].as_u64(),
            attempts[0]["value"].as_f64()
        ),
        (Some(1), Some(1), Some(300.0))
    );
    assert_eq!(
        (
            attempts[1]["attempt"].as_u64(),
            attempts[1]["runs"].as_u64(),
            attempts[1]["value"].as_f64()
        ),
        (Some(2), Some(2), Some(200.0))
    );
    assert_eq!(attempts[1]["status"], "fail");
    assert_eq!(d["plugins"][0]["repeats"]["runs"], 3);

    // A real regression stays failed after every confirmation.
    let s = Scratch::new();
    s.policy(&sequence_policy(&[300.0], "", ", confirm: 2"));
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 1);
    let d = r.json();
    assert_eq!(d["objectives"][0]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(
        d["plugins"][0]["repeats"]["values"]["value"],
        serde_json::json!([300.0, 300.0, 300.0])
    );
}

#[test]
fn confirming_a_repeated_instance_repeats_it_and_counts_every_run() {
    let s = Scratch::new();
    s.policy(&sequence_policy(
        &[300.0, 310.0, 100.0, 102.0, 98.0, 104.0],
        ", repeat: 2",
        ", confirm: 2",
    ));
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(
        (o["status"].as_str(), o["value"].as_f64()),
        (Some("pass"), Some(103.0)),
        "{o:#}"
    );
    let runs: Vec<u64> = o["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["runs"].as_u64().unwrap())
        .collect();
    // Each attempt counts the runs it judged: 2, then 4; the decision, 6.
    assert_eq!(runs, [2, 4], "{o:#}");
    let repeats = &d["plugins"][0]["repeats"];
    assert_eq!(repeats["runs"], 6, "{repeats:#}");
    assert_eq!(
        repeats["values"]["value"],
        serde_json::json!([300.0, 310.0, 100.0, 102.0, 98.0, 104.0])
    );
}

#[test]
fn imported_metrics_keep_their_samples_for_each_runs_level() {
    // pytest-benchmark's fixture keeps 413 samples of `test_fib`, Google
    // Benchmark's 3 repetitions of `BM_Sort/1000`: each run records them,
    // and the test reads each baseline run's level from its own.
    let s = Scratch::new();
    let dir = crate::common::fixture("bench-import");
    s.policy(&format!(
        "version: 1\nplugins:\n  py: {{ uses: bench-import, with: {{ path: \"{}\" }} }}\n  gb: {{ uses: bench-import, with: {{ path: \"{}\" }} }}\nobjectives:\n  - {{ id: fib, metric: \"py.test_bench.py::test_fib\", pass: \"<= +10%\", baseline: {{ last: 3 }}, test: {{ method: mann-whitney, min_runs: 3 }} }}\n  - {{ id: sort, metric: \"gb.BM_Sort/1000\", pass: \"<= +10%\", baseline: {{ last: 3 }}, test: {{ method: welch-t, min_samples: 3 }} }}\n",
        dir.join("pytest-benchmark.json").display(),
        dir.join("google-benchmark-repetitions.json").display(),
    ));
    for _ in 0..3 {
        assert_eq!(s.qod(&["run"]).code, 0);
    }
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    let stored = |run_id: &str, key: &str| -> usize {
        let day = std::fs::read_dir(s.path().join(".qod/store/runs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(day.join(format!("{run_id}.json"))).unwrap();
        let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
        rec["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == key)
            .map(|m| m["samples"].as_array().map_or(1, |s| s.len()))
            .unwrap()
    };
    for (o, key, per_run, level) in [
        (
            &d["objectives"][0],
            "py.test_bench.py::test_fib",
            413,
            "median of samples",
        ),
        (&d["objectives"][1], "gb.BM_Sort/1000", 3, "value"),
    ] {
        let runs: Vec<&str> = o["baseline"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(runs.len(), 3, "{o:#}");
        for id in &runs {
            assert_eq!(
                stored(id, key),
                per_run,
                "{key}: the records keep every sample"
            );
        }
        let t = &o["test"];
        assert_eq!(t["n_baseline"], 3, "{key}: {o:#}");
        assert_eq!(t["n_current"], per_run, "{key}");
        assert_eq!(t["min_runs"], 3, "`min_samples` still reads: {key}");
        assert_eq!(t["level"], level, "{key}");
    }
}

#[test]
fn a_test_on_a_metric_without_samples_weighs_its_runs() {
    // pytest-benchmark's `#median` is one figure a run: the test weighs
    // the runs' figures, so a 2× regression fails and a +11% one within
    // how the runs vary does not.
    let s = Scratch::new();
    let fixture = crate::common::fixture("bench-import/pytest-benchmark.json");
    let text = std::fs::read_to_string(&fixture).unwrap();
    let scaled = |by: f64| {
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let stats = doc["benchmarks"][0]["stats"].as_object_mut().unwrap();
        for key in [
            "min", "max", "mean", "median", "q1", "q3", "iqr", "ld15iqr", "hd15iqr",
        ] {
            if let Some(v) = stats.get(key).and_then(|v| v.as_f64()) {
                stats.insert(key.into(), serde_json::json!(v * by));
            }
        }
        doc.to_string()
    };
    s.policy(
        "version: 1\nplugins:\n  py: { uses: bench-import, with: { path: bench.json } }\nobjectives:\n  - { id: fib, metric: \"py.test_bench.py::test_fib#median\", pass: \"<= +10%\", baseline: { last: 5 }, test: { method: mann-whitney } }\n",
    );
    // Five runs whose medians vary by ±4%.
    for by in [1.0, 1.04, 0.96, 1.02, 0.98] {
        s.write("bench.json", &scaled(by));
        assert_eq!(s.qod(&["run", "-q"]).code, 0);
    }
    s.write("bench.json", &scaled(1.11));
    let d = s.qod(&["run", "--no-record"]).json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(o["test"]["n_current"], 0, "{o:#}");
    assert_eq!(o["test"]["level"], "median of samples");

    s.write("bench.json", &scaled(2.0));
    let d = s.qod(&["run", "--no-record"]).json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "fail", "{o:#}");
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains("beyond the tolerance by more than runs vary: mann-whitney p = "),
        "{reason}"
    );
}

#[test]
fn pytest_benchmark_results_can_be_named_without_their_file() {
    // `names: name`: a test moved to another file keeps its history.
    let s = Scratch::new();
    let fixture = crate::common::fixture("bench-import/pytest-benchmark.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    s.write("bench.json", &doc.to_string());
    s.policy(
        "version: 1\nplugins:\n  py: { uses: bench-import, with: { path: bench.json, names: name } }\nobjectives:\n  - { id: fib, metric: \"py.test_fib\", pass: \"<= +10%\", baseline: { last: 1 } }\n",
    );
    assert_eq!(s.qod(&["run", "-q"]).code, 0);
    // The file moved: its node ids change, its names do not.
    for b in doc["benchmarks"].as_array_mut().unwrap() {
        let name = b["name"].as_str().unwrap().to_owned();
        b["fullname"] = serde_json::json!(format!("tests/moved/test_bench.py::{name}"));
    }
    s.write("bench.json", &doc.to_string());
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = &r.json()["objectives"][0];
    assert_eq!(
        o["status"], "pass",
        "compared with the run before the move: {o:#}"
    );
    // On another harness's output, `names` is refused with the reason.
    let hyperfine = crate::common::fixture("bench-import/hyperfine.json");
    s.policy(&format!(
        "version: 1\nplugins:\n  h: {{ uses: bench-import, with: {{ path: \"{}\", names: name }} }}\nobjectives:\n  - {{ id: x, metric: \"h.*\", pass: \"< 10s\" }}\n",
        hyperfine.display()
    ));
    let r = s.qod(&["run", "--no-record"]);
    assert!(
        r.stdout
            .contains("`with.names` applies to pytest-benchmark's output"),
        "{}",
        r.stdout
    );
}
