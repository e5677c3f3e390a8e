//! Decision quality: significance tests on relative objectives, with the
//! baseline runs' samples pooled from the store.

use crate::common::{assert_valid, Scratch};
use serde_json::Value;

/// A policy whose `api` instance reports p95 `value` with `samples`.
fn policy(value: f64, samples: &[f64], method: &str) -> String {
    let samples: Vec<String> = samples.iter().map(|s| s.to_string()).collect();
    format!(
        r#"version: 1
plugins:
  api: {{ uses: emit, with: {{ result: {{ protocol: 1, status: ok, metrics: [{{ name: p95, value: {value}, unit: ms, samples: [{}] }}] }} }} }}
baseline: {{ last: 3, aggregate: mean, include: all }}
objectives:
  - id: latency
    metric: api.p95
    pass: "<= +5%"
    test: {{ method: {method}, alpha: 0.01, min_samples: 5 }}
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

#[test]
fn a_change_beyond_the_tolerance_fails_only_when_significant() {
    let s = Scratch::new();
    for center in [100.0, 101.0, 99.0] {
        let samples = around(center, 4.0);
        gate(&s, mean(&samples), &samples, "mann-whitney", true);
    }
    for method in ["mann-whitney", "welch-t", "bootstrap"] {
        // +6% on average, but the samples overlap the baseline's widely.
        let noisy: Vec<f64> = around(106.0, 30.0);
        let d = gate(&s, mean(&noisy), &noisy, method, false);
        let o = &d["objectives"][0];
        assert_eq!(o["status"], "pass", "{method}: {o:#}");
        let t = &o["test"];
        assert_eq!(t["method"], method);
        assert_eq!(
            t["n_baseline"], 30,
            "the baseline runs' samples are pooled from the store"
        );
        assert_eq!(t["n_current"], 10);
        assert_eq!(t["significant"], false, "{t:#}");
        assert!(t["p_value"].as_f64().unwrap() > 0.01);
        let reason = o["reason"].as_str().unwrap();
        assert!(
            reason.contains("> 105 ms (1.05 × mean of last 3 = 100 ms), but not significant: "),
            "{reason}"
        );
        assert!(reason.contains("n = 10 vs 30"), "{reason}");

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
        assert!(
            o["reason"].as_str().unwrap().contains("; significant: "),
            "{o:#}"
        );
    }

    // Two samples cannot tell: inconclusive, which warns by default.
    let d = gate(&s, 120.0, &[119.0, 121.0], "welch-t", false);
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "inconclusive", "{o:#}");
    assert_eq!(o["effect"], "warn");
    assert_eq!(d["decision"], "warn");
    assert!(o["reason"].as_str().unwrap().contains(
        "inconclusive: the welch-t test needs 5 samples on each side, and there are 2 in this run and 30 in the baseline"
    ), "{o:#}");
    assert!(o["test"].get("p_value").is_none());
}

#[test]
fn an_absolute_limit_is_not_excused_by_noise() {
    let s = Scratch::new();
    for center in [100.0, 101.0, 99.0] {
        let samples = around(center, 4.0);
        gate(&s, mean(&samples), &samples, "welch-t", true);
    }
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
