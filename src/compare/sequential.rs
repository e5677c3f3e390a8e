//! The paired sequential test behind `against: base`: each pair of
//! invocations gives one log-ratio candidate/base; after each batch of
//! pairs the log-ratios are tested, one-sided, against the criterion's
//! tolerance, with the significance level spent over the looks so that the
//! whole sequence keeps its false-alarm rate at `alpha`.
//!
//! Spending: by the look at `n` of at most `max` pairs, at most
//! `alpha * (n / max)^2` has been spent (a power-2 spending function,
//! between Pocock's and O'Brien-Fleming's). Each look spends what the
//! function allows beyond what earlier looks spent; a look where the test
//! could not reject whatever the data (Wilcoxon's exact p-value is at least
//! `2^-n`) spends nothing and leaves its share to the next. Looks are
//! combined by Bonferroni's inequality, which holds whatever the
//! correlation between looks: the false-alarm rate is at most `alpha`.

use crate::policy::PairedMethod;
use crate::stats::mean;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The smallest p-value `method` can give on `n` pairs.
fn smallest_p(method: PairedMethod, n: usize) -> f64 {
    match method {
        PairedMethod::Wilcoxon => 0.5f64.powi(n as i32),
        PairedMethod::PairedT => 0.0,
        PairedMethod::Bootstrap => 1.0 / (BOOTSTRAP_RESAMPLES + 1) as f64,
    }
}

/// Resamples of the paired bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;

/// One-sided p-value that the location of `d` is above 0.
pub fn p_greater(method: PairedMethod, d: &[f64], seed: u64) -> f64 {
    match method {
        PairedMethod::Wilcoxon => wilcoxon_greater(d),
        PairedMethod::PairedT => t_greater(d),
        PairedMethod::Bootstrap => bootstrap_greater(d, seed),
    }
}

/// Wilcoxon's signed-rank test, one-sided (location > 0): zeros dropped,
/// ties given mid-ranks, the exact distribution of the rank sum up to 60
/// pairs, the normal approximation with the tie correction above.
pub fn wilcoxon_greater(d: &[f64]) -> f64 {
    let nz: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return 1.0;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| nz[a].abs().total_cmp(&nz[b].abs()));
    // Doubled mid-ranks, so that ties stay integers.
    let mut ranks2 = vec![0usize; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nz[order[j + 1]].abs() == nz[order[i]].abs() {
            j += 1;
        }
        for &k in &order[i..=j] {
            ranks2[k] = i + j + 2;
        }
        ties.push((j - i + 1) as f64);
        i = j + 1;
    }
    let w2: usize = (0..n).filter(|&k| nz[k] > 0.0).map(|k| ranks2[k]).sum();
    if n <= 60 {
        let total: usize = ranks2.iter().sum();
        let mut ways = vec![0f64; total + 1];
        ways[0] = 1.0;
        for &r in &ranks2 {
            for s in (r..=total).rev() {
                ways[s] += ways[s - r];
            }
        }
        let at_least: f64 = ways[w2..].iter().sum();
        return (at_least / 2f64.powi(n as i32)).min(1.0);
    }
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0
        - ties.iter().map(|t| t * t * t - t).sum::<f64>() / 48.0;
    let w = w2 as f64 / 2.0;
    let z = (w - mean - 0.5) / var.sqrt();
    1.0 - Normal::standard().cdf(z)
}

fn sd(x: &[f64]) -> f64 {
    crate::stats::variance(x).sqrt()
}

/// The paired t-test, one-sided (mean > 0).
pub fn t_greater(d: &[f64]) -> f64 {
    if d.len() < 2 {
        return 1.0;
    }
    let (m, s) = (mean(d), sd(d));
    if s == 0.0 {
        return if m > 0.0 { 0.0 } else { 1.0 };
    }
    let t = m / (s / (d.len() as f64).sqrt());
    let dist = StudentsT::new(0.0, 1.0, (d.len() - 1) as f64).expect("degrees of freedom > 0");
    1.0 - dist.cdf(t)
}

/// The paired bootstrap, one-sided (mean > 0): the share of resampled means
/// of the data centred on 0 that reach the observed mean.
pub fn bootstrap_greater(d: &[f64], seed: u64) -> f64 {
    if d.len() < 2 {
        return 1.0;
    }
    let m = mean(d);
    let centred: Vec<f64> = d.iter().map(|x| x - m).collect();
    let mut rng = Rng::new(seed);
    let reach = (0..BOOTSTRAP_RESAMPLES)
        .filter(|_| {
            let s: f64 = (0..d.len()).map(|_| centred[rng.below(d.len())]).sum();
            s / d.len() as f64 >= m
        })
        .count();
    (reach + 1) as f64 / (BOOTSTRAP_RESAMPLES + 1) as f64
}

/// splitmix64: small, seeded, reproducible; for pair orders and resamples.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// How an objective's comparison ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Worse than the tolerance, significantly.
    Fail,
    /// Inside the tolerance: significantly, or by the estimate at `max`.
    Pass,
    /// At `max`, neither: the estimate is beyond the tolerance but not significantly.
    Inconclusive,
}

/// The test's settings for one objective.
#[derive(Debug, Clone, Copy)]
pub struct Design {
    pub method: PairedMethod,
    pub alpha: f64,
    pub min: usize,
    pub max: usize,
    /// Pairs between looks after the first.
    pub batch: usize,
    /// The tolerance as a log-ratio: `ln(1.03)` for `<= +3%`.
    pub floor: f64,
    /// Whether a higher ratio is worse (`<=`, `<`); else a lower one is.
    pub higher_is_worse: bool,
    pub seed: u64,
}

/// Where a sequence stands after a look.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub pairs: usize,
    /// Significance spent by the looks so far.
    pub alpha_spent: f64,
    /// The p-value of "worse than the tolerance" at the last look.
    pub p_worse: f64,
    /// The p-value of "inside the tolerance" at the last look.
    pub p_inside: f64,
    /// The mean log-ratio and its 95% interval, as changes in percent.
    pub change_pct: f64,
    pub ci_pct: (f64, f64),
    /// Set once the sequence has ended.
    pub ending: Option<Ending>,
    pub stopped_early: bool,
}

impl Design {
    /// Whether `n` pairs is a look.
    pub fn is_look(&self, n: usize) -> bool {
        n == self.max || (n >= self.min && (n - self.min).is_multiple_of(self.batch.max(1)))
    }

    fn allowed(&self, n: usize) -> f64 {
        self.alpha * (n as f64 / self.max as f64).powi(2)
    }

    /// Looks at the log-ratios `w` (candidate/base, one per pair) with the
    /// significance `spent` by earlier looks.
    pub fn look(&self, w: &[f64], spent: f64) -> State {
        let n = w.len();
        // Oriented so that positive is worse than the tolerance.
        let worse: Vec<f64> = w
            .iter()
            .map(|x| {
                if self.higher_is_worse {
                    x - self.floor
                } else {
                    self.floor - x
                }
            })
            .collect();
        let inside: Vec<f64> = worse.iter().map(|x| -x).collect();
        let seed = self.seed ^ n as u64;
        let p_worse = p_greater(self.method, &worse, seed);
        let p_inside = p_greater(self.method, &inside, seed.rotate_left(17));
        let available = (self.allowed(n) - spent).max(0.0);
        let feasible = smallest_p(self.method, n) <= available;
        let spent_now = if feasible { spent + available } else { spent };
        let (change_pct, ci_pct) = estimate(w);
        let mut state = State {
            pairs: n,
            alpha_spent: spent_now,
            p_worse,
            p_inside,
            change_pct,
            ci_pct,
            ending: None,
            stopped_early: false,
        };
        if feasible && p_worse <= available {
            state.ending = Some(Ending::Fail);
        } else if feasible && p_inside <= available {
            state.ending = Some(Ending::Pass);
        } else if n >= self.max {
            let mean_worse = worse.iter().sum::<f64>() / n.max(1) as f64;
            state.ending = Some(if mean_worse <= 0.0 {
                Ending::Pass
            } else {
                Ending::Inconclusive
            });
        }
        state.stopped_early = state.ending.is_some() && n < self.max;
        state
    }
}

/// The mean log-ratio with its 95% t-interval, as percent changes.
pub fn estimate(w: &[f64]) -> (f64, (f64, f64)) {
    let pct = |x: f64| (x.exp() - 1.0) * 100.0;
    if w.is_empty() {
        return (0.0, (0.0, 0.0));
    }
    let m = mean(w);
    if w.len() < 2 {
        return (pct(m), (pct(m), pct(m)));
    }
    let dist = StudentsT::new(0.0, 1.0, (w.len() - 1) as f64).expect("degrees of freedom > 0");
    let half = dist.inverse_cdf(0.975) * sd(w) / (w.len() as f64).sqrt();
    (pct(m), (pct(m - half), pct(m + half)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilcoxon_matches_the_exact_tables() {
        // All 8 positive: only one of 2^8 sign patterns reaches the sum.
        let d: Vec<f64> = (1..=8).map(f64::from).collect();
        assert!((wilcoxon_greater(&d) - 1.0 / 256.0).abs() < 1e-12);
        // All negative: every pattern reaches 0.
        let neg: Vec<f64> = d.iter().map(|x| -x).collect();
        assert_eq!(wilcoxon_greater(&neg), 1.0);
        // n = 10, W+ = 45 of 55: 43 of the 1024 sign patterns reach it
        // (counted by brute force).
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -10.0];
        assert!((wilcoxon_greater(&d) - 43.0 / 1024.0).abs() < 1e-12);
        // Symmetric with ties (mid-ranks 1.5, 3.5, 5.5): 36 of 64 patterns.
        let d = [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0];
        assert!((wilcoxon_greater(&d) - 36.0 / 64.0).abs() < 1e-12);
        // The normal approximation above 60 pairs agrees in the tail.
        let d: Vec<f64> = (1..=80)
            .map(|i| if i % 4 == 0 { -(i as f64) } else { i as f64 })
            .collect();
        let p = wilcoxon_greater(&d);
        assert!(p < 1e-4, "{p}");
    }

    #[test]
    fn t_and_bootstrap_agree_on_clear_and_null_data() {
        let clear: Vec<f64> = (0..20)
            .map(|i| 0.1 + 0.01 * ((i % 5) as f64 - 2.0))
            .collect();
        assert!(t_greater(&clear) < 1e-6);
        assert!(bootstrap_greater(&clear, 7) < 0.001);
        let null: Vec<f64> = (0..20).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
        assert!(t_greater(&null) > 0.2, "{}", t_greater(&null));
        assert!(bootstrap_greater(&null, 7) > 0.2);
    }

    fn design(method: PairedMethod) -> Design {
        Design {
            method,
            alpha: 0.01,
            min: 6,
            max: 30,
            batch: 2,
            floor: 1.03f64.ln(),
            higher_is_worse: true,
            seed: 1,
        }
    }

    /// Runs the sequence on `w` until it ends.
    fn run(d: &Design, w: &[f64]) -> State {
        let mut spent = 0.0;
        for n in 1..=w.len().min(d.max) {
            if d.is_look(n) {
                let s = d.look(&w[..n], spent);
                spent = s.alpha_spent;
                if s.ending.is_some() {
                    return s;
                }
            }
        }
        unreachable!("the look at max ends the sequence")
    }

    #[test]
    fn sequences_stop_early_or_end_at_max() {
        let d = design(PairedMethod::Wilcoxon);
        let jitter = |i: usize| ((i * 7919) % 11) as f64 / 100.0 - 0.05;
        // Twice as slow: a fail long before 30 pairs.
        let slow: Vec<f64> = (0..30).map(|i| 2f64.ln() + jitter(i)).collect();
        let s = run(&d, &slow);
        assert_eq!(s.ending, Some(Ending::Fail));
        assert!(s.stopped_early && s.pairs <= 10, "{s:?}");
        assert!((80.0..120.0).contains(&s.change_pct), "{s:?}");
        // Unchanged with little noise: a pass before 30 pairs.
        let same: Vec<f64> = (0..30).map(|i| jitter(i) / 5.0).collect();
        let s = run(&d, &same);
        assert_eq!(s.ending, Some(Ending::Pass));
        assert!(s.stopped_early, "{s:?}");
        // Right at the tolerance with wide noise: neither, at 30.
        let edge: Vec<f64> = (0..30)
            .map(|i| 0.05 + if i % 2 == 0 { 0.4 } else { -0.4 } + jitter(i))
            .collect();
        let s = run(&d, &edge);
        assert_eq!(
            (s.ending, s.pairs, s.stopped_early),
            (Some(Ending::Inconclusive), 30, false)
        );
        assert!(s.alpha_spent <= 0.01 + 1e-12, "{s:?}");
    }

    #[test]
    fn spending_never_exceeds_alpha_and_skips_infeasible_looks() {
        let d = design(PairedMethod::Wilcoxon);
        // At 6 pairs the exact test cannot reach 0.01 * (6/30)^2: nothing spent.
        let s = d.look(&[1.0; 6], 0.0);
        assert_eq!(s.alpha_spent, 0.0);
        assert_eq!(s.ending, None);
        let mut spent = 0.0;
        for n in 6..=30 {
            if d.is_look(n) {
                spent = d.look(&vec![0.0; n], spent).alpha_spent;
            }
        }
        assert!(spent <= 0.01 + 1e-12 && spent > 0.009, "{spent}");
    }

    #[test]
    fn higher_is_better_metrics_fail_when_the_ratio_drops() {
        let d = Design {
            floor: 0.97f64.ln(),
            higher_is_worse: false,
            ..design(PairedMethod::PairedT)
        };
        let halved: Vec<f64> = (0..30)
            .map(|i| 0.5f64.ln() + (i % 3) as f64 / 100.0)
            .collect();
        assert_eq!(run(&d, &halved).ending, Some(Ending::Fail));
    }
}
