//! `qod calibrate`: side-by-side objectives measured A/A with real
//! subprocess plugins, and their own test replayed over the pairs.

use crate::common::{python_plugin, Scratch};

/// A plugin whose value on each side of each pair scatters by ±1% around
/// 100 ms, the same on both sides: A/A, with a known spread.
const SCATTER: &str = r#"import json, sys
ctx = json.load(sys.stdin)
pair, side = ctx["pair"], ctx["variant"]
scatter = ((pair * 7919 + (1 if side == "candidate" else 0) * 104729) % 13 - 6) / 600
print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "value", "value": 100.0 * (1 + scatter), "unit": "ms"}]}))
"#;

/// A plugin that reads one value, whatever the pair: it measures nothing.
const CONSTANT: &str = r#"import json, sys
json.load(sys.stdin)
print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "value", "value": 42.0, "unit": "ms"}]}))
"#;

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
    let r = s.qod(&[
        "calibrate",
        "--pairs",
        "40",
        "--target-mde",
        "8",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = r.json();
    crate::common::assert_valid("calibration.schema.json", &c);
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
    // The history objective is named, not calibrated.
    assert!(
        c["skipped"][0]
            .as_str()
            .unwrap()
            .contains("objective `ceiling` compares with history"),
        "{c:#}"
    );
    // The table reads the same.
    let t = s
        .qod(&["calibrate", "--pairs", "40", "--format", "table"])
        .stdout;
    assert!(t.contains("speed (`p.value`): 40 A/A pairs"), "{t}");
    assert!(
        t.contains("smallest change detected 95% of the time: +"),
        "{t}"
    );
}

#[test]
fn a_plugin_that_returns_one_value_measures_nothing() {
    let s = project(CONSTANT);
    let r = s.qod(&["calibrate", "--pairs", "12", "--format", "json"]);
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
    let r = s.qod(&[
        "calibrate",
        "--pairs",
        "200",
        "--budget",
        "2s",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = &r.json()["objectives"][0];
    assert_eq!(o["partial"], true, "{o:#}");
    let pairs = o["pairs"].as_u64().unwrap();
    assert!((3..200).contains(&pairs), "{pairs}");
    // No comparison in the policy: nothing to calibrate.
    s.policy("version: 1\nplugins:\n  p: { uses: aa }\nobjectives:\n  - { id: ceiling, metric: p.value, pass: \"< 1s\" }\n");
    let r = s.qod(&["calibrate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("has no objective `against: base`"),
        "{}",
        r.stderr
    );
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
}
