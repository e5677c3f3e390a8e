//! The boundaries of a group-sequential design: for looks at `n_1 < n_2 <
//! …` pairs and a spending function, the nominal one-sided p-value at each
//! look such that the chance, under the null, of crossing that look having
//! crossed no earlier one is what the look may spend. Computed by carrying
//! the distribution of the paths still running from look to look on a grid
//! (Armitage, McPherson and Rowe's recursive integration).

use statrs::distribution::{ContinuousCDF, Normal};

/// Cells of the grid on the z scale, and its range.
const GRID: usize = 800;
const Z_RANGE: f64 = 8.0;

/// The nominal one-sided p-value boundaries of a group-sequential design
/// with looks at `looks` pairs, spending `spend(n)` by the look at `n`: at
/// each look, the chance under the null of crossing it, having crossed no
/// earlier one, is what the look may spend. The statistic at look `k` is
/// `Z_k = S(n_k) / sqrt(n_k)`, `S` a sum of standard normals; the
/// distribution of the paths still running is carried on a grid of `z`
/// from look to look.
pub fn boundaries(looks: &[usize], spend: impl Fn(usize) -> f64) -> Vec<f64> {
    let normal = Normal::standard();
    let cdf = |x: f64| normal.cdf(x);
    let width = 2.0 * Z_RANGE / GRID as f64;
    let lo = |j: usize| -Z_RANGE + j as f64 * width;
    let centre = |j: usize| lo(j) + width / 2.0;
    let mut mass = vec![0f64; GRID];
    let mut out = Vec::with_capacity(looks.len());
    let mut spent = 0.0;
    let mut prev: Option<usize> = None;
    for &n in looks {
        let now = spend(n);
        let share = (now - spent).max(0.0);
        spent = now;
        let nf = n as f64;
        // The chance of being at `z` at this look given the cell `i` at
        // the last: Z_k = (sqrt(n_p) u + sqrt(d) X) / sqrt(n_k).
        let (c, next) = match prev {
            None => {
                let c = if share > 0.0 {
                    normal.inverse_cdf(1.0 - share)
                } else {
                    f64::INFINITY
                };
                let next = (0..GRID)
                    .map(|j| (cdf(lo(j) + width).min(cdf(c)) - cdf(lo(j))).max(0.0))
                    .collect::<Vec<f64>>();
                (c, next)
            }
            Some(p) => {
                let (pf, d) = (p as f64, (n - p) as f64);
                let (a, b) = (pf.sqrt() / nf.sqrt(), (d / nf).sqrt());
                // P(Z_k >= x | u) = 1 - Φ((x - a u) / b).
                let cross = |x: f64| -> f64 {
                    mass.iter()
                        .enumerate()
                        .filter(|(_, m)| **m > 0.0)
                        .map(|(i, m)| m * (1.0 - cdf((x - a * centre(i)) / b)))
                        .sum()
                };
                let c = if share <= 0.0 || cross(Z_RANGE) >= share {
                    if share <= 0.0 {
                        f64::INFINITY
                    } else {
                        Z_RANGE
                    }
                } else {
                    let (mut lo_c, mut hi_c) = (-Z_RANGE, Z_RANGE);
                    for _ in 0..60 {
                        let mid = (lo_c + hi_c) / 2.0;
                        if cross(mid) > share {
                            lo_c = mid;
                        } else {
                            hi_c = mid;
                        }
                    }
                    hi_c
                };
                let mut next = vec![0f64; GRID];
                for (i, m) in mass.iter().enumerate().filter(|(_, m)| **m > 1e-300) {
                    let mu = a * centre(i);
                    // Only the cells within 9 sd of where the path goes.
                    let from = ((mu - 9.0 * b + Z_RANGE) / width).floor().max(0.0) as usize;
                    let to = (((mu + 9.0 * b + Z_RANGE) / width).ceil() as usize).min(GRID);
                    // Each cell's lower edge is the upper edge of the one below.
                    let mut below = cdf((lo(from) - mu) / b);
                    for (j, cell) in next.iter_mut().enumerate().take(to).skip(from) {
                        let top = (lo(j) + width).min(c);
                        if top <= lo(j) {
                            break;
                        }
                        let up = cdf((top - mu) / b);
                        *cell += m * (up - below).max(0.0);
                        below = up;
                    }
                }
                (c, next)
            }
        };
        out.push(if c.is_finite() { 1.0 - cdf(c) } else { 0.0 });
        mass = next;
        prev = Some(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_spend_alpha_over_correlated_looks() {
        // One look: the boundary is alpha itself.
        let b = boundaries(&[30], |_| 0.01);
        assert!((b[0] - 0.01).abs() < 1e-9, "{b:?}");
        // Two looks at the same information are one: the second adds the
        // rest of alpha on top of what the first spent.
        // Pocock's classic two looks at alpha 0.05 (one-sided 0.025 each
        // half): the nominal level is 0.0147 at both (Jennison & Turnbull,
        // table 2.1: c = 2.178 for alpha 0.05 two-sided).
        let b = boundaries(&[10, 20], |n| if n == 10 { 0.0147 } else { 0.025 });
        assert!(
            (b[0] - 0.0147).abs() < 1e-9 && (b[1] - 0.0147).abs() < 4e-4,
            "{b:?}"
        );
        // Many correlated looks: each nominal level is above the share of
        // alpha a Bonferroni split would give it.
        let looks: Vec<usize> = (9..30).step_by(2).chain([30]).collect();
        let b = boundaries(&looks, |n| 0.01 * n as f64 / 30.0);
        let mut before = 0.0;
        for (k, &n) in looks.iter().enumerate() {
            let share = 0.01 * n as f64 / 30.0 - before;
            before += share;
            assert!(b[k] >= share * 0.999, "look {n}: {} < {share}", b[k]);
        }
    }
}
