//! `qod calibrate`: side-by-side objectives measured A/A with real
//! subprocess plugins, and their own test replayed over the pairs; history
//! objectives run many times in a row, and their own rule replayed over
//! the series.

use crate::common::{python_plugin, Scratch};

/// A plugin whose value on each side of each pair scatters by ±1% around
/// 100 ms, the same on both sides: A/A, with a known spread.
const SCATTER: &str = r#"import json, sys
ctx = json.load(sys.stdin)
pair, side = ctx.get("pair", 0), ctx.get("variant", "candidate")
scatter = ((pair * 7919 + (1 if side == "candidate" else 0) * 104729) % 13 - 6) / 600
print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "value", "value": 100.0 * (1 + scatter), "unit": "ms"}]}))
"#;

/// A plugin that reads one value, whatever the pair: it measures nothing.
const CONSTANT: &str = r#"import json, sys
json.load(sys.stdin)
print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "value", "value": 42.0, "unit": "ms"}]}))
"#;

/// `qod calibrate ARGS --format json`: the calibration, checked against
/// its schema.
fn calibrated(s: &Scratch, args: &[&str]) -> serde_json::Value {
    let all: Vec<&str> = ["calibrate"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--format", "json"])
        .collect();
    let r = s.qod(&all);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = r.json();
    crate::common::assert_valid("calibration.schema.json", &c);
    c
}

fn project(script: &str) -> Scratch {
    let s = Scratch::new();
    python_plugin(
        &s,
        "aa",
        r#"[{"name": "value", "unit": "ms", "better": "lower"}]"#,
        script,
    );
    s.policy(
        "version: 1\nplugins:\n  p: { uses: aa }\ncompare:\n  base: { revision: merge-base }\n  pairs: { min: 10, max: 30, batch: 10 }\nobjectives:\n  - { id: speed, metric: p.value, pass: \"<= +5%\", against: base }\n  - { id: ceiling, metric: p.value, pass: \"< 1s\" }\n",
    );
    s
}

#[test]
fn an_aa_calibration_gives_the_false_alarms_the_detection_and_the_smallest_change() {
    let s = project(SCATTER);
    let c = calibrated(&s, &["--pairs", "40", "--runs", "12", "--target-mde", "8"]);
    let o = &c["objectives"][0];
    assert_eq!(o["id"], "speed");
    assert_eq!(o["pairs"], 40);
    let cv = o["cv_pct"].as_f64().unwrap();
    assert!((0.5..2.0).contains(&cv), "the plugin scatters ±1%: {cv}");
    let fa = o["false_alarm_pct"].as_f64().unwrap();
    assert!(fa <= 5.0, "{o:#}");
    let hi = o["false_alarm_interval_pct"][1].as_f64().unwrap();
    assert!(hi >= fa && hi < 10.0, "{o:#}");
    let detected = |pct: f64| {
        o["detection"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["change_pct"].as_f64() == Some(pct))
            .unwrap()["detected_pct"]
            .as_f64()
            .unwrap()
    };
    assert!(detected(2.0) <= 5.0, "inside the tolerance: {o:#}");
    assert_eq!(detected(20.0), 100.0);
    assert_eq!(detected(50.0), 100.0);
    let mde = o["mde_pct"].as_f64().unwrap();
    assert!((5.0..8.0).contains(&mde), "{mde}");
    assert!(
        o["recommendation"]
            .as_str()
            .unwrap()
            .contains("the target +8% is reached; nothing to change"),
        "{o:#}"
    );
    // The history objective: 12 runs in a row, its fixed limit 10 times
    // what the plugin measures: no alarm, and no change up to +100% fails.
    let h = &c["objectives"][1];
    assert_eq!(
        (&h["id"], &h["against"]),
        (&"ceiling".into(), &"history".into()),
        "{c:#}"
    );
    assert_eq!(h["pairs"], 12);
    assert_eq!(h["false_alarm_pct"], 0.0);
    assert!(h["mde_pct"].is_null(), "{h:#}");
    assert!(
        h["recommendation"]
            .as_str()
            .unwrap()
            .contains("stay inside `< 1s`"),
        "{h:#}"
    );
    // The table reads the same.
    let t = s
        .qod(&[
            "calibrate",
            "--pairs",
            "40",
            "--runs",
            "12",
            "--format",
            "table",
        ])
        .stdout;
    assert!(t.contains("speed (`p.value`): 40 A/A pairs"), "{t}");
    assert!(t.contains("ceiling (`p.value`): 12 runs in a row"), "{t}");
    assert!(
        t.contains("smallest change detected 95% of the time: +"),
        "{t}"
    );
}

#[test]
fn a_plugin_that_returns_one_value_measures_nothing() {
    let s = project(CONSTANT);
    let r = s.qod(&[
        "calibrate",
        "--pairs",
        "12",
        "--runs",
        "12",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = &r.json()["objectives"][0];
    assert!(o["mde_pct"].is_null());
    assert!(
        o["recommendation"]
            .as_str()
            .unwrap()
            .contains("measures nothing"),
        "{o:#}"
    );
}

#[test]
fn the_budget_cuts_the_calibration_short_and_says_so() {
    let s = project(&SCATTER.replace(
        "import json, sys",
        "import json, sys, time\ntime.sleep(0.1)",
    ));
    let c = calibrated(&s, &["--pairs", "200", "--budget", "2s"]);
    let o = &c["objectives"][0];
    assert_eq!(o["partial"], true, "{o:#}");
    // As many as fit (a slow machine fits two), never all.
    let pairs = o["pairs"].as_u64().unwrap();
    assert!((1..200).contains(&pairs), "{pairs}");
    // History runs share the budget, and say so too.
    s.policy("version: 1\nplugins:\n  p: { uses: aa }\nobjectives:\n  - { id: ceiling, metric: p.value, pass: \"< 1s\" }\n");
    let c = calibrated(&s, &["--runs", "200", "--budget", "2s"]);
    let o = &c["objectives"][0];
    assert_eq!(
        (&o["against"], &o["partial"]),
        (&"history".into(), &true.into()),
        "{o:#}"
    );
    let runs = o["pairs"].as_u64().unwrap();
    assert!((1..200).contains(&runs), "{runs}");
}

#[test]
fn a_gate_cites_its_runners_calibration_and_names_another_runners() {
    let s = project(SCATTER);
    std::fs::create_dir(s.path().join("base")).unwrap();
    s.policy(
        "version: 1\nplugins:\n  p: { uses: aa }\ncompare:\n  base: { workspace: base }\n  pairs: { min: 10, max: 30, batch: 10 }\nobjectives:\n  - { id: speed, metric: p.value, pass: \"<= +5%\", against: base }\n",
    );
    let r = s.qod(&["calibrate", "--pairs", "30", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("kept as `calibrations/"), "{}", r.stderr);
    let mde = r.json()["objectives"][0]["mde_pct"].as_f64().unwrap();

    let r = s.qod(&["run", "--markdown", "summary.md"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass");
    let cited =
        format!("on this runner, +{mde}% is detected 95% of the time within 30 pairs (calibrated ");
    assert!(o["reason"].as_str().unwrap().contains(&cited), "{o:#}");
    assert!(!d["run"]["calibration"].is_null());
    crate::common::assert_valid("decision.schema.json", &d);
    let md = std::fs::read_to_string(s.path().join("summary.md")).unwrap();
    assert!(md.contains("runner calibrated "), "{md}");

    // Another runner: the calibration is named, not used.
    let mut other = s.command(&["run"]);
    other.env("QOD_RUNNER", "another-pool");
    let r = crate::common::finish(other.output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert!(!d["objectives"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("on this runner"));
    assert!(d["run"]["calibration"].is_null());
    assert!(
        r.stderr
            .contains("the calibration of this policy was made on runner"),
        "{}",
        r.stderr
    );

    // A history objective cites its calibration the same way.
    s.policy("version: 1\nplugins:\n  p: { uses: aa }\nobjectives:\n  - { id: steady, metric: p.value, pass: \"<= +5%\" }\n");
    let r = s.qod(&["calibrate", "--runs", "20", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = r.json();
    let mde = c["objectives"][0]["mde_pct"].as_f64().unwrap();
    assert!(
        (5.0..6.0).contains(&mde),
        "a value that never varies: {mde}"
    );
    // The default target: one point beyond the tolerance.
    let rec = c["objectives"][0]["recommendation"].as_str().unwrap();
    assert!(rec.contains("the target +6% is reached"), "{rec}");
    for _ in 0..2 {
        let r = s.qod(&["run"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = s.qod(&["run"]);
    let o = &r.json()["objectives"][0];
    assert_eq!(o["status"], "pass", "{o:#}");
    let cited =
        format!("on this runner, +{mde}% is detected 95% of the time from one run (calibrated ");
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains(&cited) && reason.contains("20 runs in a row)"),
        "{reason}"
    );
}

/// A plugin that replays `fixtures/series/pybench-slugify.json`, a
/// recorded timing series: each invocation reports its next value.
fn replaying(s: &Scratch) {
    let series = crate::common::fixture("series/pybench-slugify.json");
    let counter = s.path().join("replayed");
    python_plugin(
        s,
        "replay",
        r#"[{"name": "t", "unit": "us", "better": "lower"}]"#,
        &format!(
            r#"import json, os, sys
json.load(sys.stdin)
series = json.load(open({series:?}))["series"]
at = {counter:?}
i = int(open(at).read()) if os.path.exists(at) else 0
open(at, "w").write(str(i + 1))
print(json.dumps({{"protocol": 1, "status": "ok", "metrics": [{{"name": "t", "value": series[i % len(series)], "unit": "us"}}]}}))
"#
        ),
    );
}

/// What `benches/noise.rs` measures on the same series for the same rules
/// (`cargo bench --bench noise -- --only-history --series
/// fixtures/series/pybench-slugify.json`, 4000 trials a cell; its
/// implementation of each rule is its own, apart from the gate's): the
/// false-alarm rate of `<= +5%` on the last 10 runs with a one-sided t
/// test over runs at α 0.01 (11.7%: the slow runs are left out of the
/// baselines as outliers, and a slow run then fails), and with
/// `confirm: 2` (5.4%: slow runs come in bursts).
const NOISE_RS_FALSE_ALARMS: [(&str, f64); 2] = [("", 11.7), ("confirm: 2, ", 5.4)];

#[test]
fn a_recorded_series_calibrates_to_the_false_alarms_the_noise_benchmark_measures() {
    for (extra, noise) in NOISE_RS_FALSE_ALARMS {
        let s = Scratch::new();
        replaying(&s);
        s.policy(&format!(
            "version: 1\nplugins:\n  p: {{ uses: replay }}\nobjectives:\n  - {{ id: slugify, metric: p.t, pass: \"<= +5%\", test: {{ method: welch-t, alpha: 0.01 }}, {extra}baseline: {{ last: 10, include: all }} }}\n"
        ));
        let c = calibrated(&s, &["--runs", "200", "--no-record"]);
        let o = &c["objectives"][0];
        assert_eq!(
            (&o["against"], &o["pairs"]),
            (&"history".into(), &200.into()),
            "{o:#}"
        );
        let [lo, hi] = [0, 1].map(|k| o["false_alarm_interval_pct"][k].as_f64().unwrap());
        assert!(
            (lo..=hi).contains(&noise),
            "{extra}noise.rs measured {noise}%; calibrate {}% [{lo}, {hi}]",
            o["false_alarm_pct"]
        );
        // One slow run in six or seven: the spread from run to run is wide.
        let cv = o["cv_pct"].as_f64().unwrap();
        assert!(cv > 10.0, "{o:#}");
        if extra.is_empty() {
            let rec = o["recommendation"].as_str().unwrap();
            assert!(
                rec.contains("would fail on this runner (add `confirm: 2`"),
                "{rec}"
            );
        }
        let at50 = &o["detection"][4];
        assert_eq!(at50["change_pct"], 50.0);
        assert!(at50["detected_pct"].as_f64().unwrap() >= 80.0, "{o:#}");
    }
}

#[test]
fn a_pattern_objective_is_calibrated_metric_by_metric_within_its_family() {
    let s = Scratch::new();
    let counter = s.path().join("n");
    python_plugin(
        &s,
        "suite",
        r#"[{"name": "a", "unit": "ms", "better": "lower"}, {"name": "b", "unit": "ms", "better": "lower"}, {"name": "c", "unit": "ms", "better": "lower"}]"#,
        &format!(
            r#"import json, os, sys
json.load(sys.stdin)
at = {counter:?}
i = int(open(at).read()) if os.path.exists(at) else 0
open(at, "w").write(str(i + 1))
scatter = lambda k: 1 + ((i * 7919 + k * 104729) % 13 - 6) / 600
print(json.dumps({{"protocol": 1, "status": "ok", "metrics": [{{"name": n, "value": base * scatter(k), "unit": "ms"}} for k, (n, base) in enumerate([("a", 10.0), ("b", 20.0), ("c", 40.0)])]}}))
"#
        ),
    );
    s.policy("version: 1\nplugins:\n  p: { uses: suite }\nobjectives:\n  - { id: suite, metric: \"p.*\", pass: \"<= +5%\", test: { method: welch-t }, baseline: { last: 5 } }\n");
    let c = calibrated(&s, &["--runs", "25", "--no-record"]);
    let rows = c["objectives"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["suite[a]", "suite[b]", "suite[c]"], "{c:#}");
    for o in rows {
        assert_eq!(o["against"], "history");
        assert!(o["metric"].as_str().unwrap().starts_with("p."), "{o:#}");
        // ±1% from run to run: no alarm; +50% always fails.
        assert_eq!(o["false_alarm_pct"], 0.0, "{o:#}");
        assert_eq!(o["detection"][4]["detected_pct"], 100.0, "{o:#}");
    }
}
