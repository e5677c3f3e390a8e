//! Threshold models: limits computed from the values of the baseline runs,
//! with the formulas Bencher documents and uses (so the same history gives
//! the same limits):
//!
//! - `percentage`: mean ± mean × boundary;
//! - `z-score`: the boundary's percentile of Normal(mean, σ);
//! - `t-test`: mean + t(n - 1) quantile × σ × √(1 + 1/n), the prediction
//!   interval of one new value (Bencher's documented worked example);
//! - `log-normal`: the boundary's percentile of LogNormal(mean of ln x, σ of ln x);
//! - `iqr`: median ± boundary × (Q3 - Q1);
//! - `delta-iqr`: median ± median × boundary × IQR of the relative changes
//!   between consecutive values.
//!
//! σ is the population standard deviation. A lower limit of a
//! distribution model mirrors the percentile across the centre. Zero
//! variance or too few values is an error, never a silent pass.

use crate::policy::{BaselineSpec, ThresholdModel};
use crate::stats::{mean, quantile_sorted};
use statrs::distribution::{ContinuousCDF, LogNormal, Normal, StudentsT};

/// A model's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The model's centre: the mean, median, or e^(mean of ln x).
    pub centre: f64,
    pub upper: Option<f64>,
    pub lower: Option<f64>,
}

/// Why a model has no limits for these values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("the {model} model needs at least {need} values, and the baseline has {have}")]
    TooFew {
        model: &'static str,
        need: usize,
        have: usize,
    },
    #[error("the baseline's values do not vary (zero variance), so the {model} model has no spread to set a limit with")]
    ZeroVariance { model: &'static str },
    #[error("the log-normal model needs values above zero, and the baseline has {0}")]
    NotPositive(f64),
}

/// Population standard deviation; `None` for fewer than two values or none
/// at all.
fn std_dev(centre: f64, x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let sd = crate::stats::population_sd(centre, x);
    (sd > 0.0 && sd.is_finite()).then_some(sd)
}

/// Q1, median and Q3.
fn quartiles(x: &[f64]) -> (f64, f64, f64) {
    let s = crate::stats::sorted(x);
    (
        quantile_sorted(&s, 0.25),
        quantile_sorted(&s, 0.5),
        quantile_sorted(&s, 0.75),
    )
}

/// The limits of `model` for `values`, oldest to newest in any order.
pub fn limits(
    model: ThresholdModel,
    values: &[f64],
    upper: Option<f64>,
    lower: Option<f64>,
) -> Result<Limits, ModelError> {
    let name = model.as_str();
    let need = match model {
        ThresholdModel::Percentage | ThresholdModel::Iqr => 1,
        _ => 2,
    };
    if values.len() < need {
        return Err(ModelError::TooFew {
            model: name,
            need,
            have: values.len(),
        });
    }
    let zero = || ModelError::ZeroVariance { model: name };
    Ok(match model {
        ThresholdModel::Percentage => {
            let m = mean(values);
            Limits {
                centre: m,
                upper: upper.map(|b| m + m * b),
                lower: lower.map(|b| m - m * b),
            }
        }
        ThresholdModel::ZScore | ThresholdModel::TTest => {
            let m = mean(values);
            let sd = std_dev(m, values).ok_or_else(zero)?;
            let quantile = |p: f64| -> f64 {
                if model == ThresholdModel::ZScore {
                    Normal::new(m, sd)
                        .map(|d| d.inverse_cdf(p))
                        .unwrap_or(f64::NAN)
                } else {
                    // A prediction interval for one new value: the t quantile
                    // with n - 1 degrees of freedom, scaled by σ·√(1 + 1/n).
                    let n = values.len() as f64;
                    StudentsT::new(0.0, 1.0, n - 1.0)
                        .map(|d| m + d.inverse_cdf(p) * sd * (1.0 + 1.0 / n).sqrt())
                        .unwrap_or(f64::NAN)
                }
            };
            Limits {
                centre: m,
                upper: upper.map(quantile),
                lower: lower.map(|b| 2.0 * m - quantile(b)),
            }
        }
        ThresholdModel::LogNormal => {
            if let Some(bad) = values.iter().find(|v| **v <= 0.0) {
                return Err(ModelError::NotPositive(*bad));
            }
            let ln: Vec<f64> = values.iter().map(|v| v.ln()).collect();
            let location = mean(&ln);
            let scale = std_dev(location, &ln).ok_or_else(zero)?;
            let d = LogNormal::new(location, scale).map_err(|_| zero())?;
            let centre = location.exp();
            Limits {
                centre,
                upper: upper.map(|b| d.inverse_cdf(b)),
                lower: lower.map(|b| 2.0 * centre - d.inverse_cdf(b)),
            }
        }
        ThresholdModel::Iqr => {
            let (q1, q2, q3) = quartiles(values);
            Limits {
                centre: q2,
                upper: upper.map(|b| q2 + (q3 - q1) * b),
                lower: lower.map(|b| q2 - (q3 - q1) * b),
            }
        }
        ThresholdModel::DeltaIqr => {
            let (_, q2, _) = quartiles(values);
            let changes: Vec<f64> = values
                .windows(2)
                .map(|w| ((w[1] - w[0]) / w[0]).abs())
                .collect();
            let (d1, _, d3) = quartiles(&changes);
            Limits {
                centre: q2,
                upper: upper.map(|b| q2 + q2 * (d3 - d1) * b),
                lower: lower.map(|b| q2 - q2 * (d3 - d1) * b),
            }
        }
    })
}

/// Checks a baseline's model settings; the problems, with the field.
pub fn check(spec: &BaselineSpec) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let Some(model) = spec.model else {
        for (field, v) in [
            ("upper_boundary", spec.upper_boundary),
            ("lower_boundary", spec.lower_boundary),
        ] {
            if v.is_some() {
                out.push((field, format!("`{field}` needs a `model`")));
            }
        }
        return out;
    };
    if spec.upper_boundary.is_none() && spec.lower_boundary.is_none() {
        out.push((
            "model",
            format!(
                "the {} model needs `upper_boundary`, `lower_boundary` or both",
                model.as_str()
            ),
        ));
    }
    let percentile = matches!(
        model,
        ThresholdModel::ZScore | ThresholdModel::TTest | ThresholdModel::LogNormal
    );
    for (field, v) in [
        ("upper_boundary", spec.upper_boundary),
        ("lower_boundary", spec.lower_boundary),
    ] {
        match v {
            Some(b) if percentile && !(0.5..1.0).contains(&b) => out.push((
                field,
                format!(
                    "`{field}` is {b}, but the {} model takes a percentile from 0.5 up to (not including) 1, such as 0.977",
                    model.as_str()
                ),
            )),
            Some(b) if !b.is_finite() || b < 0.0 => {
                out.push((field, format!("`{field}` must be a number of 0 or more")))
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` values with the given mean and population standard deviation.
    fn spread(n: usize, mean: f64, sd: f64) -> Vec<f64> {
        (0..n)
            .map(|i| if i % 2 == 0 { mean - sd } else { mean + sd })
            .collect()
    }

    /// Bencher's worked examples: z-score with mean 100, σ 10 and boundary
    /// 0.977 gives 119.95; t-test with n = 25 gives 121.46 (2.1044 × 10 ×
    /// √(1 + 1/25)); IQR with multiplier 2, median 100 and IQR 10 gives 120.
    #[test]
    fn bencher_worked_examples() {
        let z = limits(
            ThresholdModel::ZScore,
            &spread(10, 100.0, 10.0),
            Some(0.977),
            None,
        )
        .unwrap();
        assert_eq!(format!("{:.2}", z.upper.unwrap()), "119.95");
        // 25 values with mean 100 and σ 10 (12 below, 12 above, one at the mean).
        let mut t_values = spread(24, 100.0, 10.0 * (25.0f64 / 24.0).sqrt());
        t_values.push(100.0);
        let t = limits(ThresholdModel::TTest, &t_values, Some(0.977), None).unwrap();
        assert_eq!(format!("{:.2}", t.upper.unwrap()), "121.46");
        let iqr = limits(
            ThresholdModel::Iqr,
            &[90.0, 95.0, 100.0, 105.0, 110.0],
            Some(2.0),
            Some(2.0),
        )
        .unwrap();
        assert_eq!(
            (iqr.centre, iqr.upper, iqr.lower),
            (100.0, Some(120.0), Some(80.0))
        );
    }

    /// The values of Bencher's own unit tests of these formulas.
    #[test]
    fn matches_bencher_unit_values() {
        // Normal(0, 1) at 0.85, and Student's t with 5 degrees of freedom.
        let d = Normal::new(0.0, 1.0).unwrap();
        assert!((d.inverse_cdf(0.85) - 1.0364333894937896).abs() < 1e-9);
        let t = StudentsT::new(0.0, 1.0, 5.0).unwrap();
        assert!((t.inverse_cdf(0.85) - 1.1557673428942912).abs() < 1e-9);
        let p = limits(ThresholdModel::Percentage, &[1.0], Some(0.1), Some(0.1)).unwrap();
        assert!((p.upper.unwrap() - 1.1).abs() < 1e-12 && (p.lower.unwrap() - 0.9).abs() < 1e-12);
        // Delta quartiles of 1..=5: Q1 0.3125, Q3 0.625; median 3.
        let d = limits(
            ThresholdModel::DeltaIqr,
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            Some(1.0),
            None,
        )
        .unwrap();
        assert!((d.upper.unwrap() - (3.0 + 3.0 * 0.3125)).abs() < 1e-12);
        // Log-normal of 1..=5: location 0.9574983485564091.
        let l = limits(
            ThresholdModel::LogNormal,
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            Some(0.5),
            None,
        )
        .unwrap();
        assert!((l.centre - 0.9574983485564091f64.exp()).abs() < 1e-9);
        assert!(
            (l.upper.unwrap() - l.centre).abs() < 1e-9,
            "the median of a log-normal is e^location"
        );
    }

    #[test]
    fn no_spread_or_too_few_values_is_an_error() {
        assert_eq!(
            limits(ThresholdModel::ZScore, &[5.0; 4], Some(0.9), None),
            Err(ModelError::ZeroVariance { model: "z-score" })
        );
        assert!(matches!(
            limits(ThresholdModel::TTest, &[5.0], Some(0.9), None),
            Err(ModelError::TooFew {
                need: 2,
                have: 1,
                ..
            })
        ));
        assert_eq!(
            limits(ThresholdModel::LogNormal, &[1.0, 0.0], Some(0.9), None),
            Err(ModelError::NotPositive(0.0))
        );
    }
}
