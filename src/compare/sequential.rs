//! The paired sequential test behind `against: base`: each pair of
//! invocations gives one log-ratio candidate/base; at each look the
//! log-ratios are tested, one-sided, against the criterion's tolerance.
//!
//! The looks form a group-sequential design (Lan and DeMets): the
//! significance `alpha` is spent in proportion to the pairs seen (`alpha *
//! n / max` by the look at `n`), and each look's boundary is computed for
//! the looks actually made, accounting for their correlation (the test
//! statistics of nested looks behave as a Gaussian random walk; the
//! boundary is found by integrating over the paths that crossed no earlier
//! boundary). The chance that any look rejects a true null is then `alpha`,
//! not the much smaller sum a Bonferroni split over the looks gives. The
//! first look is the first number of pairs, from `pairs.min` on, at which
//! the test can reject at all (Wilcoxon's exact p-value is at least
//! `2^-n`); later looks come every `pairs.batch` pairs, and at `max`.
//!
//! The same boundaries decide "inside the tolerance": a sequence passes
//! early only when inside is as significant as a fail would have to be. At
//! `max`, an undecided sequence passes only when the whole 95% interval of
//! the change is inside the tolerance; otherwise it is inconclusive.

pub use super::boundary::boundaries;
use crate::policy::PairedMethod;
use crate::stats::{mean, sd};
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
    /// Inside the tolerance: significantly, or by the whole interval at `max`.
    Pass,
    /// Neither, at `max` (or when the budget ran out).
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
    /// Significance spent by the looks so far (`alpha * n / max`).
    pub alpha_spent: f64,
    /// This look's boundary: the nominal one-sided p-value that decides.
    pub boundary: f64,
    /// The p-value of "worse than the tolerance" at the last look.
    pub p_worse: f64,
    /// The p-value of "inside the tolerance" at the last look.
    pub p_inside: f64,
    /// The mean log-ratio and its 95% interval, as changes in percent.
    pub change_pct: f64,
    pub ci_pct: (f64, f64),
    /// The smallest change this look would detect with 80% power, in
    /// percent, from the observed spread (`None` with under 2 pairs or no
    /// spread).
    pub mde_pct: Option<f64>,
    /// Set once the sequence has ended.
    pub ending: Option<Ending>,
    pub stopped_early: bool,
}

/// A design's looks and their boundaries, computed once.
#[derive(Debug, Clone)]
pub struct Sequence {
    pub design: Design,
    /// Pairs at each look, ascending, ending at `max`.
    pub looks: Vec<usize>,
    /// Each look's nominal one-sided p-value boundary.
    pub boundaries: Vec<f64>,
}

impl Design {
    /// The significance spent by the look at `n` pairs. The t-test and the
    /// bootstrap estimate their spread at every look, which makes nested
    /// looks a little more liberal than the design (1.06–1.08% false alarms
    /// at α 1% in 100,000 simulated sequences): they spend 90% of `alpha`.
    fn spend(&self, n: usize) -> f64 {
        let share = match self.method {
            PairedMethod::Wilcoxon => 1.0,
            PairedMethod::PairedT | PairedMethod::Bootstrap => 0.9,
        };
        share * self.alpha * (n as f64 / self.max as f64).min(1.0)
    }

    /// The looks: from the first `n >= min` at which the test can reject
    /// (its smallest p-value within what the first look may spend), every
    /// `batch` pairs, and `max`.
    pub fn looks(&self) -> Vec<usize> {
        // The t-test's and the bootstrap's spread is estimated: on fewer
        // than 10 pairs its estimate moves so much from look to look that
        // the looks are less correlated than the design assumes (paired-t
        // from 6 pairs raised 1.2% false alarms at alpha 1% in
        // `benches/noise.rs`); the signed-rank test needs no estimate.
        let lowest = match self.method {
            PairedMethod::Wilcoxon => 1,
            _ => 10,
        };
        let first = (self.min.max(lowest)..self.max)
            .find(|&n| smallest_p(self.method, n) <= self.spend(n))
            .unwrap_or(self.max);
        let mut looks: Vec<usize> = (first..self.max).step_by(self.batch.max(1)).collect();
        looks.push(self.max);
        looks
    }

    /// The looks and their boundaries.
    pub fn sequence(&self) -> Sequence {
        self.sequence_at(self.looks())
    }

    /// The boundaries of `looks` for this design's `alpha` (the looks of a
    /// family stay those of its strictest member when significance is
    /// passed on; see `compare`).
    pub fn sequence_at(&self, looks: Vec<usize>) -> Sequence {
        let boundaries = boundaries(&looks, |n| self.spend(n));
        Sequence {
            design: *self,
            looks,
            boundaries,
        }
    }
}

impl Sequence {
    /// Whether `n` pairs is a look.
    pub fn is_look(&self, n: usize) -> bool {
        self.looks.contains(&n)
    }

    /// The boundary of the look at `n` pairs, or of the last look before it.
    fn boundary_at(&self, n: usize) -> (f64, f64) {
        match self.looks.iter().rposition(|&l| l <= n) {
            Some(k) => (self.boundaries[k], self.design.spend(self.looks[k])),
            None => (0.0, 0.0),
        }
    }

    /// The smallest change, in percent, that `w`'s spread lets the test
    /// detect with 80% power at boundary `p` (normal theory; Wilcoxon's
    /// efficiency relative to it is 0.955 for normal data).
    pub fn mde_pct(&self, w: &[f64], p: f64) -> Option<f64> {
        let n = w.len();
        let s = sd(w);
        if n < 2 || s <= 0.0 || p <= 0.0 {
            return None;
        }
        let normal = Normal::standard();
        let reach = (normal.inverse_cdf(1.0 - p) + normal.inverse_cdf(0.8)) * s / (n as f64).sqrt();
        let d = &self.design;
        let edge = if d.higher_is_worse {
            d.floor + reach
        } else {
            d.floor - reach
        };
        Some((edge.exp() - 1.0) * 100.0)
    }

    /// Looks at the log-ratios `w` (candidate/base, one per pair). At a
    /// look, the sequence ends when either side is significant at the
    /// look's boundary; at `max`, or when `last` (the budget ran out),
    /// when the whole interval is inside the tolerance (a pass), else it
    /// is inconclusive.
    pub fn look(&self, w: &[f64], last: bool) -> State {
        let d = &self.design;
        let n = w.len();
        // Oriented so that positive is worse than the tolerance.
        let worse: Vec<f64> = w
            .iter()
            .map(|x| {
                if d.higher_is_worse {
                    x - d.floor
                } else {
                    d.floor - x
                }
            })
            .collect();
        let inside: Vec<f64> = worse.iter().map(|x| -x).collect();
        let seed = d.seed ^ n as u64;
        let p_worse = p_greater(d.method, &worse, seed);
        let p_inside = p_greater(d.method, &inside, seed.rotate_left(17));
        let at_look = self.is_look(n);
        let (boundary, alpha_spent) = self.boundary_at(n);
        let (change_pct, ci_pct) = estimate(w);
        let mut state = State {
            pairs: n,
            alpha_spent,
            boundary,
            p_worse,
            p_inside,
            change_pct,
            ci_pct,
            mde_pct: self.mde_pct(w, if boundary > 0.0 { boundary } else { d.alpha }),
            ending: None,
            stopped_early: false,
        };
        let decided = at_look && (p_worse <= boundary || p_inside <= boundary);
        if at_look && p_worse <= boundary {
            state.ending = Some(Ending::Fail);
        } else if at_look && p_inside <= boundary {
            state.ending = Some(Ending::Pass);
        } else if n >= d.max || last {
            // The tolerance as a change in percent, and the interval's worse end.
            let tolerance = (d.floor.exp() - 1.0) * 100.0;
            let inside = if d.higher_is_worse {
                ci_pct.1 <= tolerance
            } else {
                ci_pct.0 >= tolerance
            };
            state.ending = Some(if inside && n >= 2 {
                Ending::Pass
            } else {
                Ending::Inconclusive
            });
        }
        state.stopped_early = decided && n < d.max;
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
        let seq = d.sequence();
        for n in 1..=w.len().min(d.max) {
            if seq.is_look(n) {
                let s = seq.look(&w[..n], false);
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
        // Twice as slow: a fail at the first look.
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
        // The interval reaches past +3%: what a pass would claim is not shown.
        assert!(s.mde_pct.is_some_and(|m| m > 3.0), "{s:?}");
    }

    #[test]
    fn the_first_look_is_where_the_test_can_reject() {
        // Wilcoxon's exact p on 8 pairs is at least 2^-8 = 0.0039, above
        // what 8 of 30 pairs may spend (0.0027); on 9, 0.0020 < 0.0030.
        let d = design(PairedMethod::Wilcoxon);
        assert_eq!(d.looks()[0], 9);
        assert_eq!(*d.looks().last().unwrap(), 30);
        // The t-test could reject on 6 pairs, but its estimated spread
        // needs 10 to keep the design's guarantee.
        assert_eq!(design(PairedMethod::PairedT).looks()[0], 10);
    }

    /// The whole sequence's false alarms, simulated: at most alpha.
    #[test]
    fn false_alarms_stay_within_alpha_whatever_the_looks() {
        for (method, batch) in [(PairedMethod::PairedT, 1), (PairedMethod::Wilcoxon, 2)] {
            let d = Design {
                alpha: 0.05,
                floor: 0.0,
                batch,
                ..design(method)
            };
            let seq = d.sequence();
            let mut rng = Rng::new(11);
            let normal = |rng: &mut Rng| {
                // Box-Muller from two uniforms.
                let u1 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 + 1e-300;
                let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            };
            let trials = 2000;
            let mut alarms = 0;
            for _ in 0..trials {
                let w: Vec<f64> = (0..30).map(|_| normal(&mut rng)).collect();
                let s = (1..=30)
                    .filter(|n| seq.is_look(*n))
                    .map(|n| seq.look(&w[..n], false))
                    .find(|s| s.ending.is_some())
                    .expect("max ends it");
                alarms += usize::from(s.ending == Some(Ending::Fail));
            }
            let rate = alarms as f64 / trials as f64;
            // 0.05 plus three standard errors of the simulation.
            assert!(
                rate <= 0.05 + 3.0 * (0.05f64 * 0.95 / 2000.0).sqrt(),
                "{method:?}: {rate}"
            );
            assert!(
                rate > 0.02,
                "{method:?}: {rate} (far below alpha: not spending it)"
            );
        }
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
