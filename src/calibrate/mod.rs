//! `qod calibrate`: what a side-by-side objective's test can do on this
//! runner, from pairs measured A/A (both sides the same workspace, so any
//! difference is the runner's noise). Pure: the pairs' log-ratios in; by
//! resampling them into sequences of the policy's own design (pairs, looks,
//! test, α, tolerance), the false-alarm rate with its interval, the rate at
//! which injected changes are detected, and the smallest change detected
//! 95% of the time.

pub mod history;

use crate::compare::sequential::{Ending, Rng, Sequence};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The changes the detection table injects, in percent.
pub const CHANGES: [f64; 5] = [2.0, 5.0, 10.0, 20.0, 50.0];

/// Resampled sequences per rate.
pub const TRIALS: usize = 1000;

/// What `qod calibrate` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "qod calibration")]
pub struct Calibration {
    /// The policy file.
    pub policy: String,
    /// When it was made (RFC 3339, UTC).
    pub made_at: String,
    /// The machine it was made on.
    pub runner: crate::machine::Runner,
    /// A hash of the policy's text: a gate cites a calibration of its own
    /// policy only.
    pub policy_hash: String,
    pub objectives: Vec<ObjectiveCalibration>,
    /// Objectives not calibrated, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// What an objective is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Against {
    /// Side by side: calibrated from pairs measured A/A.
    #[default]
    Base,
    /// History: calibrated from runs measured in a row, the objective's
    /// rule replayed over them.
    History,
}

/// One objective (or one metric of a pattern objective) on this runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectiveCalibration {
    pub id: String,
    pub metric: String,
    /// What it is judged against (calibrations written before history
    /// objectives were calibrated say nothing: `base`).
    #[serde(default)]
    pub against: Against,
    /// The measurements it rests on: A/A pairs (side by side), or runs
    /// in a row (history).
    pub pairs: u32,
    /// `--budget` ran out before all the pairs asked for were measured.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// The spread of one pair's ratio, in percent.
    pub cv_pct: f64,
    /// How often the gate would fail an unchanged change, in percent, with
    /// the resampling's 95% interval.
    pub false_alarm_pct: f64,
    pub false_alarm_interval_pct: [f64; 2],
    pub detection: Vec<Detection>,
    /// The smallest change detected 95% of the time within `pairs.max`
    /// (`None`: none up to +100%, or the pairs measure nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mde_pct: Option<f64>,
    /// What to change, if anything.
    pub recommendation: String,
}

/// How often a change of `change_pct` is detected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Detection {
    pub change_pct: f64,
    pub detected_pct: f64,
    /// The median pairs to the decision among detections (history: the
    /// runs, 1 plus the confirming ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_pairs: Option<u32>,
}

/// How long a calibration is cited.
pub const FRESH_DAYS: i64 = 30;

/// The hash of a policy's text, as calibrations name it.
pub fn policy_hash(text: &str) -> String {
    format!("{:012x}", crate::machine::fnv1a(text.as_bytes()) >> 16)
}

/// What a gate on `runner` for policy `hash` at `now` makes of the newest
/// calibrations (by runner fingerprint): the one to cite, or why none is.
pub fn choose<'a>(
    newest: &'a [Calibration],
    fingerprint: &str,
    hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<&'a Calibration, String> {
    let mine: Vec<&Calibration> = newest.iter().filter(|c| c.policy_hash == hash).collect();
    let Some(c) = mine
        .iter()
        .filter(|c| c.runner.fingerprint == fingerprint)
        .max_by(|a, b| a.made_at.cmp(&b.made_at))
    else {
        return Err(match mine.first() {
            Some(other) => format!(
                "the calibration of this policy was made on runner {} ({}), not this one ({fingerprint}): not used; run `qod calibrate` here",
                other.runner.fingerprint,
                other.made_at.get(..10).unwrap_or_default()
            ),
            None => String::new(),
        });
    };
    let age = chrono::DateTime::parse_from_rfc3339(&c.made_at)
        .map(|t| (now - t.with_timezone(&chrono::Utc)).num_days())
        .unwrap_or(i64::MAX);
    if age > FRESH_DAYS {
        return Err(format!(
            "this runner's calibration is {age} days old (made {}): not used; run `qod calibrate` again",
            c.made_at.get(..10).unwrap_or_default()
        ));
    }
    Ok(c)
}

/// The Wilson 95% interval of `k` of `n`, in percent.
pub fn wilson(k: usize, n: usize) -> [f64; 2] {
    if n == 0 {
        return [0.0, 100.0];
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    [
        ((centre - half) * 100.0).max(0.0),
        ((centre + half) * 100.0).min(100.0),
    ]
}

/// Sequences of the design of `seq` resampled from `w` (with replacement)
/// with `shift` added to every log-ratio: how many failed the gate, and at
/// how many pairs each did.
pub fn simulate(
    seq: &Sequence,
    w: &[f64],
    shift: f64,
    trials: usize,
    seed: u64,
) -> Vec<Option<usize>> {
    let max = seq.design.max;
    let mut rng = Rng::new(seed);
    (0..trials)
        .map(|_| {
            let drawn: Vec<f64> = (0..max).map(|_| w[rng.below(w.len())] + shift).collect();
            for &n in &seq.looks {
                let s = seq.look(&drawn[..n], n == max);
                match s.ending {
                    Some(Ending::Fail) => return Some(n),
                    Some(_) => return None,
                    None => {}
                }
            }
            None
        })
        .collect()
}

/// The calibration of one row from its A/A log-ratios `w`, the design of
/// its objective `seq`, and the change it should reach (`target_pct`).
pub fn calibrate(
    id: &str,
    metric: &str,
    seq: &Sequence,
    w: &[f64],
    target_pct: f64,
    partial: bool,
) -> ObjectiveCalibration {
    let d = &seq.design;
    let n = w.len();
    let sd = if n > 1 {
        let m = w.iter().sum::<f64>() / n as f64;
        (w.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
    } else {
        0.0
    };
    let mut out = ObjectiveCalibration {
        id: id.to_owned(),
        metric: metric.to_owned(),
        against: Against::Base,
        pairs: n as u32,
        partial,
        cv_pct: sd * 100.0,
        false_alarm_pct: 0.0,
        false_alarm_interval_pct: [0.0, 100.0],
        detection: Vec::new(),
        mde_pct: None,
        recommendation: String::new(),
    };
    if n < 3 || sd == 0.0 {
        out.recommendation = if n < 3 {
            format!(
                "{n} A/A pair{} cannot tell: give `--pairs` (and `--budget`) room for 10 or more",
                if n == 1 { "" } else { "s" }
            )
        } else {
            "this measurement measures nothing: both sides returned the same value in every pair, so no test can tell noise from a change; make the plugin measure on each invocation (a `bench-import` needs `with.run`), or judge a count that never varies against history".into()
        };
        return out;
    }
    // Worse is a higher ratio for `<=`, a lower one for `>=`.
    let sign = if d.higher_is_worse { 1.0 } else { -1.0 };
    let rate = |pct: f64, seed: u64| -> (f64, Option<u32>) {
        let shift = sign * (1.0 + pct / 100.0).ln();
        let ends = simulate(seq, w, shift, TRIALS, seed);
        let mut at: Vec<usize> = ends.iter().flatten().copied().collect();
        at.sort_unstable();
        let detected = at.len() as f64 * 100.0 / TRIALS as f64;
        (detected, at.get(at.len() / 2).map(|&p| p as u32))
    };
    let alarms = simulate(seq, w, 0.0, TRIALS, d.seed ^ 0xA11CE)
        .iter()
        .filter(|e| e.is_some())
        .count();
    out.false_alarm_pct = alarms as f64 * 100.0 / TRIALS as f64;
    out.false_alarm_interval_pct = wilson(alarms, TRIALS);
    for (i, pct) in CHANGES.iter().enumerate() {
        let (detected, median) = rate(*pct, d.seed ^ (i as u64 + 1));
        out.detection.push(Detection {
            change_pct: *pct,
            detected_pct: detected,
            median_pairs: median,
        });
    }
    out.mde_pct = smallest_detected(|pct| rate(pct, 7).0);
    let tolerance = (d.floor.exp() - 1.0).abs() * 100.0;
    out.recommendation = recommend(&out, d.max, target_pct, tolerance);
    out
}

/// The smallest change detected 95% of the time, given the detection
/// rate (percent) of a change of `pct` percent: bisection on 0–100% to a
/// tenth of a point (detection grows with the change); `None` when +100%
/// is not detected 95% of the time.
fn smallest_detected(detected: impl Fn(f64) -> f64) -> Option<f64> {
    if detected(100.0) < 95.0 {
        return None;
    }
    let (mut lo, mut hi) = (0.0_f64, 100.0_f64);
    while hi - lo > 0.1 {
        let mid = (lo + hi) / 2.0;
        if detected(mid) >= 95.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some((hi * 10.0).ceil() / 10.0)
}

/// What to change to reach `target_pct`: nothing, more pairs, or quieter
/// measurement.
fn recommend(c: &ObjectiveCalibration, max: usize, target_pct: f64, tolerance: f64) -> String {
    let Some(mde) = c.mde_pct else {
        return format!(
            "no change up to +100% is detected 95% of the time within {max} pairs on this runner: quiet the measurement (instruction counts, more runs per invocation) or raise `compare.pairs.max`"
        );
    };
    let within = format!("within {max} pairs");
    if let Some(done) = recommend_target(mde, target_pct, Some(tolerance), &within) {
        return done;
    }
    // What is detectable beyond the tolerance shrinks with √pairs.
    let needed =
        (max as f64 * ((mde - tolerance) / (target_pct - tolerance)).powi(2)).ceil() as usize;
    if needed <= 1000 {
        format!(
            "+{mde}% is the smallest change detected 95% of the time {within}: to reach +{target_pct}%, raise `compare.pairs.max` to about {needed} (or quiet the measurement)"
        )
    } else {
        format!(
            "+{mde}% is the smallest change detected 95% of the time {within}, and this measurement cannot reach +{target_pct}% on this runner (it would take about {needed} pairs): quiet it (instruction counts, more runs per invocation)"
        )
    }
}

/// The recommendation when no design change is asked for: the target is
/// reached, or no design reaches it (it lies inside the `tolerance`, in
/// percent, that the gate lets pass). `within` says how the smallest
/// detectable change `mde` was measured ("within 30 pairs").
fn recommend_target(
    mde: f64,
    target_pct: f64,
    tolerance: Option<f64>,
    within: &str,
) -> Option<String> {
    if mde <= target_pct {
        return Some(format!(
            "on this runner, +{mde}% is detected 95% of the time {within}: the target +{target_pct}% is reached; nothing to change"
        ));
    }
    let tolerance = tolerance.filter(|t| target_pct <= *t)?;
    Some(
        format!(
            "on this runner, +{mde}% is detected 95% of the time {within}; the gate fails only changes beyond its tolerance (+{tolerance:.3}%), so no design reaches a target of +{target_pct}%: give `--target-mde` above the tolerance"
        )
        .replace(".000%", "%"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::sequential::Design;
    use crate::policy::PairedMethod;

    fn sequence() -> Sequence {
        Design {
            method: PairedMethod::Wilcoxon,
            alpha: 0.05,
            min: 10,
            max: 30,
            batch: 10,
            floor: 1.05_f64.ln(),
            higher_is_worse: true,
            seed: 1,
        }
        .sequence()
    }

    /// One draw of normal noise of `sd` (Box–Muller).
    fn normal(rng: &mut Rng, sd: f64) -> f64 {
        let u1 = (rng.next_u64() as f64 + 1.0) / (u64::MAX as f64 + 2.0);
        let u2 = rng.next_u64() as f64 / u64::MAX as f64;
        sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Normal noise of `sd` (a log-ratio), from a fixed generator.
    fn noise(n: usize, sd: f64) -> Vec<f64> {
        let mut rng = Rng::new(42);
        (0..n).map(|_| normal(&mut rng, sd)).collect()
    }

    #[test]
    fn quiet_pairs_detect_small_changes_and_noisy_ones_do_not() {
        let quiet = calibrate("a", "m", &sequence(), &noise(60, 0.01), 10.0, false);
        let noisy = calibrate("a", "m", &sequence(), &noise(60, 0.15), 10.0, false);
        let at_tolerance = calibrate("a", "m", &sequence(), &noise(60, 0.01), 5.0, false);
        assert!(
            at_tolerance
                .recommendation
                .contains("no design reaches a target of +5%"),
            "{}",
            at_tolerance.recommendation
        );
        // Beyond the +5% tolerance the test fails; an unchanged change rarely.
        assert!(quiet.false_alarm_pct <= 1.0, "{quiet:?}");
        assert!(noisy.false_alarm_pct <= 5.0, "{noisy:?}");
        let at = |c: &ObjectiveCalibration, pct: f64| {
            c.detection
                .iter()
                .find(|d| d.change_pct == pct)
                .unwrap()
                .detected_pct
        };
        assert!(at(&quiet, 10.0) >= 95.0, "{quiet:?}");
        assert!(
            at(&quiet, 2.0) <= 5.0,
            "a change inside the tolerance is no alarm"
        );
        let q = quiet.mde_pct.unwrap();
        assert!((5.0..10.0).contains(&q), "{q}");
        let n = noisy.mde_pct.unwrap_or(100.0);
        assert!(n > q, "{n} vs {q}");
        assert!(
            noisy.recommendation.contains("raise `compare.pairs.max`")
                || noisy.recommendation.contains("cannot reach"),
            "{}",
            noisy.recommendation
        );
        assert!(
            quiet.recommendation.contains("nothing to change"),
            "{}",
            quiet.recommendation
        );
    }

    /// The smallest detectable change from resampled A/A pairs against a
    /// direct measurement: fresh noise of the same spread with the change
    /// injected, many trials.
    #[test]
    fn the_smallest_change_matches_a_direct_measurement_within_two_points() {
        let seq = sequence();
        let sd = 0.03;
        let c = calibrate("a", "m", &seq, &noise(300, sd), 50.0, false);
        let mde = c.mde_pct.unwrap();
        let direct = |pct: f64| {
            let mut rng = Rng::new(99);
            let trials = 2000;
            let mut hits = 0;
            for _ in 0..trials {
                let w: Vec<f64> = (0..seq.design.max)
                    .map(|_| normal(&mut rng, sd) + (1.0 + pct / 100.0).ln())
                    .collect();
                // One sequence over fresh pairs: resampling `w` itself
                // with one trial is the same walk.
                if simulate_fixed(&seq, &w) {
                    hits += 1;
                }
            }
            hits as f64 * 100.0 / trials as f64
        };
        assert!(
            direct(mde + 2.0) >= 95.0,
            "mde {mde}: {}",
            direct(mde + 2.0)
        );
        assert!(direct(mde - 2.0) < 95.0, "mde {mde}: {}", direct(mde - 2.0));
    }

    /// Whether one sequence over exactly `w` fails the gate.
    fn simulate_fixed(seq: &Sequence, w: &[f64]) -> bool {
        for &n in &seq.looks {
            match seq.look(&w[..n], n == seq.design.max).ending {
                Some(Ending::Fail) => return true,
                Some(_) => return false,
                None => {}
            }
        }
        false
    }

    #[test]
    fn pairs_that_never_differ_measure_nothing() {
        let c = calibrate("a", "m", &sequence(), &[0.0; 20], 5.0, false);
        assert!(c.recommendation.contains("measures nothing"), "{c:?}");
        assert!(c.mde_pct.is_none());
    }

    #[test]
    fn only_a_fresh_calibration_of_this_runner_and_policy_is_cited() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let made = |fp: &str, at: &str| Calibration {
            policy: "qod.yaml".into(),
            made_at: at.into(),
            runner: crate::machine::Runner {
                fingerprint: fp.into(),
                ..crate::machine::Runner::default()
            },
            policy_hash: "h".into(),
            objectives: Vec::new(),
            skipped: Vec::new(),
        };
        let all = [
            made("aaa", "2026-12-01T00:00:00Z"),
            made("bbb", "2026-10-01T00:00:00Z"),
        ];
        assert_eq!(
            choose(&all, "aaa", "h", now).unwrap().runner.fingerprint,
            "aaa"
        );
        let old = choose(&all, "bbb", "h", now).unwrap_err();
        assert!(old.contains("65 days old (made 2026-10-01)"), "{old}");
        let other = choose(&all[1..], "ccc", "h", now).unwrap_err();
        assert!(other.contains("made on runner bbb"), "{other}");
        assert_eq!(choose(&all, "aaa", "another policy", now).unwrap_err(), "");
    }

    #[test]
    fn the_wilson_interval_holds_the_rate() {
        let [lo, hi] = wilson(50, 1000);
        assert!(
            (3.7..4.0).contains(&lo) && (6.4..6.7).contains(&hi),
            "{lo} {hi}"
        );
        assert!(wilson(0, 1000)[0] < 1e-9);
    }
}
