//! Change points in a metric's history with E-divisive means, the method
//! of Apache Otava (formerly Hunter; Fleming et al., "Hunter: Using Change
//! Point Detection to Hunt for Performance Regressions", ICPE 2023):
//!
//! 1. Split: slide a window over the series (half a window at a time); in
//!    each window, repeatedly take the split that maximises the energy
//!    statistic Q̂ (Matteson and James, 2014) and keep it while a
//!    two-sided Student's t-test between its two sides is significant at a
//!    relaxed level. The union of these are the weak change points.
//! 2. Merge: drop the weakest change point (the highest p-value above the
//!    limit, else the smallest relative change under `min_magnitude`), and
//!    recompute its neighbours, until every one is both significant and big
//!    enough.
//!
//! The result matches Otava's for the same parameters, which the tests
//! check on a real series from Otava's own tests.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// How change points are searched for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Points per sliding window in the split step.
    pub window: usize,
    /// Largest p-value a change point may have.
    pub max_pvalue: f64,
    /// Smallest relative change a change point must have (0.05 = 5%).
    pub min_magnitude: f64,
}

impl Default for Params {
    /// A 30-run window, p <= 0.001, and changes of at least 5%.
    fn default() -> Self {
        Params {
            window: 30,
            max_pvalue: 0.001,
            min_magnitude: 0.05,
        }
    }
}

/// A change point: the series changes from index `index` on.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePoint {
    pub index: usize,
    qhat: f64,
    pub stats: Stats,
}

/// The two sides of a change point, compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub mean_before: f64,
    pub mean_after: f64,
    /// Population standard deviations of each side.
    pub std_before: f64,
    pub std_after: f64,
    pub pvalue: f64,
}

impl Stats {
    /// The relative change from before to after (`0.1` = 10% up).
    pub fn forward_change(&self) -> f64 {
        if self.mean_before == 0.0 {
            0.0
        } else {
            self.mean_after / self.mean_before - 1.0
        }
    }

    /// The larger of the relative changes either way.
    pub fn magnitude(&self) -> f64 {
        let back = if self.mean_after == 0.0 {
            0.0
        } else {
            self.mean_before / self.mean_after - 1.0
        };
        self.forward_change().abs().max(back.abs())
    }
}

/// The change points of `series` (oldest first), sorted by index.
pub fn detect(series: &[f64], p: Params) -> Vec<ChangePoint> {
    let first_pass = if p.max_pvalue < 0.05 {
        p.max_pvalue * 10.0
    } else if p.max_pvalue < 0.5 {
        p.max_pvalue * 2.0
    } else {
        p.max_pvalue
    };
    let weak = split(series, p.window.max(2), first_pass);
    merge(weak, series, p.max_pvalue, p.min_magnitude)
}

/// `[start, stop)` ranges between change points.
fn intervals(cps: &[ChangePoint], len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(cps.len() + 1);
    let mut start = 0;
    for cp in cps {
        if cp.index != start {
            out.push((start, cp.index));
        }
        start = cp.index;
    }
    if start != len {
        out.push((start, len));
    }
    out
}

/// The two sides of a change point at `index`: the interval it splits, or
/// the two intervals it separates.
fn sides(index: usize, intervals: &[(usize, usize)]) -> Option<((usize, usize), (usize, usize))> {
    for (i, &(start, stop)) in intervals.iter().enumerate() {
        if stop == index {
            return intervals.get(i + 1).map(|&next| ((start, stop), next));
        }
        if start < index && index < stop {
            return Some(((start, index), (index, stop)));
        }
    }
    None
}

fn mean_std(x: &[f64]) -> (f64, f64) {
    let mean = crate::stats::mean(x);
    let std = if x.len() >= 2 {
        crate::stats::population_sd(mean, x)
    } else {
        0.0
    };
    (mean, std)
}

/// A two-sided Student's t-test with pooled variance on the two sides'
/// means and (population) standard deviations, as Otava computes it.
fn compare(left: &[f64], right: &[f64]) -> Stats {
    let (m1, s1) = mean_std(left);
    let (m2, s2) = mean_std(right);
    let (n1, n2) = (left.len() as f64, right.len() as f64);
    let df = n1 + n2 - 2.0;
    let pvalue = if df > 0.0 {
        let pooled = ((n1 - 1.0) * s1 * s1 + (n2 - 1.0) * s2 * s2) / df;
        let denom = (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
        let t = (m1 - m2) / denom;
        if t.is_nan() {
            f64::NAN
        } else if t.is_infinite() {
            0.0
        } else {
            match StudentsT::new(0.0, 1.0, df) {
                Ok(dist) => 2.0 * (1.0 - dist.cdf(t.abs())),
                Err(_) => 1.0,
            }
        }
    } else {
        1.0
    };
    Stats {
        mean_before: m1,
        mean_after: m2,
        std_before: s1,
        std_after: s2,
        pvalue,
    }
}

fn stats_at(index: usize, qhat: f64, series: &[f64], iv: &[(usize, usize)]) -> ChangePoint {
    let ((a, b), (c, d)) = sides(index, iv).expect("a change point lies in or between intervals");
    ChangePoint {
        index,
        qhat,
        stats: compare(&series[a..b], &series[c..d]),
    }
}

/// The split of `x[start..stop]` that maximises Q̂, with Q̂; `None` when the
/// interval is too short to split.
fn candidate(x: &[f64], start: usize, stop: usize) -> Option<(usize, f64)> {
    if stop - start < 2 {
        return None;
    }
    let d = |i: usize, j: usize| (x[i] - x[j]).abs();
    let mut best: Option<(usize, f64)> = None;
    // Within-left sums for each split τ: Σ_{start<=i<k<τ} |x_i - x_k|.
    let mut within_left = 0.0;
    for tau in start + 1..stop {
        within_left += (start..tau - 1).map(|i| d(i, tau - 1)).sum::<f64>();
        let n = (tau - start) as f64;
        let mut cross = 0.0;
        let mut within_right = 0.0;
        for kappa in tau + 1..=stop {
            let y = kappa - 1;
            cross += (start..tau).map(|i| d(i, y)).sum::<f64>();
            within_right += (tau..y).map(|j| d(j, y)).sum::<f64>();
            let m = (kappa - tau) as f64;
            let a = 2.0 / (m + n) * cross;
            let b = if n > 1.0 {
                2.0 * m / (m + n) / (n - 1.0) * within_left
            } else {
                0.0
            };
            let c = if m > 1.0 {
                2.0 * n / (m + n) / (m - 1.0) * within_right
            } else {
                0.0
            };
            let q = a - b - c;
            if best.is_none_or(|(_, bq)| q > bq) {
                best = Some((tau, q));
            }
        }
    }
    // Otava takes the arg-max over a square matrix whose unused lower
    // triangle holds zeros: when every split scores below zero, that zero
    // (the split after the second point) wins.
    match best {
        Some((_, q)) if q < 0.0 && stop - start > 2 => Some((start + 2, 0.0)),
        other => other,
    }
}

/// The split step over `series[start..stop]`, in the window's own indexes.
fn window_change_points(x: &[f64], max_pvalue: f64) -> Vec<ChangePoint> {
    let mut cps: Vec<ChangePoint> = Vec::new();
    loop {
        let iv = intervals(&cps, x.len());
        let best = iv.iter().filter_map(|&(a, b)| candidate(x, a, b)).fold(
            None::<(usize, f64)>,
            |acc, c| match acc {
                Some(a) if a.1 >= c.1 => Some(a),
                _ => Some(c),
            },
        );
        let Some((index, qhat)) = best else { break };
        let cp = stats_at(index, qhat, x, &iv);
        if cp.stats.pvalue <= max_pvalue {
            cps.push(cp);
            cps.sort_by_key(|c| c.index);
        } else {
            break;
        }
    }
    cps
}

fn split(series: &[f64], window: usize, max_pvalue: f64) -> Vec<ChangePoint> {
    let step = window / 2;
    let mut cps: Vec<ChangePoint> = Vec::new();
    let mut start = 0;
    while start < series.len() {
        let end = (start + window).min(series.len());
        let mut found = window_change_points(&series[start..end], max_pvalue);
        for cp in &mut found {
            cp.index += start;
        }
        let last = found.last().map_or(0, |c| c.index);
        start = last.max(start + step);
        for cp in found {
            if !cps.iter().any(|c| c.index == cp.index) {
                cps.push(cp);
            }
        }
    }
    cps.sort_by_key(|c| c.index);
    let iv = intervals(&cps, series.len());
    cps.iter()
        .map(|c| stats_at(c.index, c.qhat, series, &iv))
        .collect()
}

fn merge(
    mut cps: Vec<ChangePoint>,
    series: &[f64],
    max_pvalue: f64,
    min_magnitude: f64,
) -> Vec<ChangePoint> {
    while !cps.is_empty() {
        // The first of the highest p-values.
        let mut weakest = 0;
        for (i, c) in cps.iter().enumerate() {
            if c.stats.pvalue > cps[weakest].stats.pvalue {
                weakest = i;
            }
        }
        if cps[weakest].stats.pvalue < max_pvalue {
            weakest = 0;
            for (i, c) in cps.iter().enumerate() {
                if c.stats.magnitude() < cps[weakest].stats.magnitude() {
                    weakest = i;
                }
            }
            if cps[weakest].stats.magnitude() > min_magnitude {
                return cps;
            }
        }
        cps.remove(weakest);
        // As Otava does: recompute the change point now at the removed one's
        // place and the one after it.
        let iv = intervals(&cps, series.len());
        for i in [weakest, weakest + 1] {
            if let Some(c) = cps.get(i) {
                cps[i] = stats_at(c.index, c.qhat, series, &iv);
            }
        }
    }
    cps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_found_where_it_is() {
        let mut series: Vec<f64> = (0..40).map(|i| 100.0 + (i % 3) as f64).collect();
        series.extend((0..40).map(|i| 120.0 + (i % 3) as f64));
        let cps = detect(&series, Params::default());
        assert_eq!(cps.iter().map(|c| c.index).collect::<Vec<_>>(), [40]);
        let s = cps[0].stats;
        assert!((s.forward_change() - 0.2).abs() < 0.01, "{s:?}");
        assert!(s.pvalue < 1e-10);
    }

    #[test]
    fn noise_alone_has_no_change_points() {
        // A fixed pseudo-random sequence around 100.
        let mut x = 12345u64;
        let series: Vec<f64> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                100.0 + (x % 1000) as f64 / 1000.0
            })
            .collect();
        let cps = detect(&series, Params::default());
        assert!(cps.is_empty(), "{cps:?}");
    }

    #[test]
    fn short_and_constant_series() {
        assert!(detect(&[], Params::default()).is_empty());
        assert!(detect(&[1.0], Params::default()).is_empty());
        assert!(detect(&[5.0; 50], Params::default()).is_empty());
    }

    /// Otava's own results on a real series (`../shared/corpus/`), when present.
    #[test]
    fn matches_otava_on_the_tigerbeetle_series() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/corpus/otava-tigerbeetle.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: no corpus at {}", path.display());
            return;
        };
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let series: Vec<f64> = doc["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let mut mismatches = Vec::new();
        for case in doc["cases"].as_array().unwrap() {
            let p = Params {
                window: case["window"].as_u64().unwrap() as usize,
                max_pvalue: case["max_pvalue"].as_f64().unwrap(),
                min_magnitude: case["min_magnitude"].as_f64().unwrap(),
            };
            let expected: Vec<usize> = case["change_points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let got: Vec<usize> = detect(&series, p).iter().map(|c| c.index).collect();
            if got != expected {
                mismatches.push(format!("{p:?}:\n  otava {expected:?}\n  qod   {got:?}"));
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
}
