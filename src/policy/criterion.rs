//! The criterion grammar: `<op> <value>`, where the value is absolute
//! (`300ms`), relative to the baseline (`+10%`, `-5%`, `+20ms`) or a linear
//! expression on it (`baseline * 1.5`, `baseline + 20ms`, `1.2 * baseline - 5%`).
//!
//! Parsing happens in two steps: [`parse`] checks the syntax, and
//! [`Parsed::resolve`] converts every quantity into the metric's unit, so
//! unit mistakes are caught before anything runs.
//!
//! Size: the grammar of criteria and their resolution in the metric's unit,
//! with a message for each way one can be wrong.

use crate::units::{format_with_unit, parse_quantity, Dimension, Quantity, Unit};
use std::fmt;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// The operator that holds exactly when this one does not.
    pub fn negated(self) -> Op {
        match self {
            Op::Lt => Op::Ge,
            Op::Le => Op::Gt,
            Op::Gt => Op::Le,
            Op::Ge => Op::Lt,
            Op::Eq => Op::Ne,
            Op::Ne => Op::Eq,
        }
    }

    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        // Equality on measured floats is only meaningful up to rounding noise.
        let eq = (lhs - rhs).abs() <= 1e-9 * lhs.abs().max(rhs.abs()).max(1.0);
        match self {
            Op::Lt => lhs < rhs && !eq,
            Op::Le => lhs <= rhs || eq,
            Op::Gt => lhs > rhs && !eq,
            Op::Ge => lhs >= rhs || eq,
            Op::Eq => eq,
            Op::Ne => !eq,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A criterion whose syntax is checked but whose units are not yet resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub text: String,
    pub op: Op,
    pub rhs: ParsedRhs,
}

/// The right-hand side as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedRhs {
    Absolute(Quantity),
    /// `baseline * mul + add`; `add` may be a percentage of the baseline.
    Baseline {
        mul: f64,
        add: Option<(f64, Quantity)>,
    },
    /// `upper` or `lower`: a limit of the baseline's threshold model.
    Limit(Side),
}

/// Which limit of a threshold model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Upper,
    Lower,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Upper => "upper",
            Side::Lower => "lower",
        }
    }
}

/// What relative criteria are measured against: the baseline value and,
/// with a threshold model, its limits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reference {
    pub baseline: Option<f64>,
    pub upper: Option<f64>,
    pub lower: Option<f64>,
}

/// A criterion ready to evaluate, every quantity in the metric's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub text: String,
    pub op: Op,
    pub rhs: Rhs,
}

/// The resolved right-hand side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rhs {
    Absolute(f64),
    /// `baseline * mul + add`.
    Baseline {
        mul: f64,
        add: f64,
    },
    Limit(Side),
}

impl Criterion {
    pub fn is_relative(&self) -> bool {
        matches!(self.rhs, Rhs::Baseline { .. } | Rhs::Limit(_))
    }

    /// The value the metric is compared with, given the baseline.
    pub fn target(&self, reference: &Reference) -> Option<f64> {
        match self.rhs {
            Rhs::Absolute(v) => Some(v),
            Rhs::Baseline { mul, add } => reference.baseline.map(|b| b * mul + add),
            Rhs::Limit(Side::Upper) => reference.upper,
            Rhs::Limit(Side::Lower) => reference.lower,
        }
    }

    /// How the target derives from the baseline, around its description:
    /// `("1.5 × ", "")` or `("", ", plus 5 s")`.
    pub fn baseline_factor_text(&self, unit: &str) -> (String, String) {
        match self.rhs {
            Rhs::Absolute(_) | Rhs::Limit(_) => (String::new(), String::new()),
            Rhs::Baseline { mul, add } => {
                let factor = if (mul - 1.0).abs() > 1e-12 {
                    format!("{} × ", crate::units::format_value(mul))
                } else {
                    String::new()
                };
                let offset = if add > 0.0 {
                    format!(", plus {}", format_with_unit(add, unit))
                } else if add < 0.0 {
                    format!(", minus {}", format_with_unit(-add, unit))
                } else {
                    String::new()
                };
                (factor, offset)
            }
        }
    }
}

/// Why a criterion cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CriterionError {
    #[error("criterion `{text}` must start with one of `<`, `<=`, `>`, `>=`, `==`, `!=`")]
    MissingOperator { text: String },
    #[error("criterion `{text}` has no value after `{op}`")]
    MissingValue { text: String, op: &'static str },
    #[error("criterion `{text}`: cannot read `{part}` as a number with an optional unit")]
    BadValue { text: String, part: String },
    #[error("criterion `{text}`: cannot read the expression on `baseline` (write `baseline * 1.5`, `baseline + 20ms` or `+10%`)")]
    BadExpression { text: String },
    #[error("criterion `{text}`: unknown unit `{unit}`")]
    UnknownUnit { text: String, unit: String },
    #[error("criterion `{text}`: unknown unit `{unit}`; did you mean `{suggestion}`?")]
    MisspeltUnit {
        text: String,
        unit: String,
        suggestion: &'static str,
    },
    #[error(
        "criterion `{text}` has no unit, and the metric is measured in `{metric_unit}`: it would read as {reading}; write the unit ({fixes})"
    )]
    NoUnit {
        text: String,
        metric_unit: String,
        reading: String,
        fixes: String,
    },
    #[error(
        "criterion `{text}`: unit `{unit}` does not fit the metric's unit {metric_unit}{}",
        signed_percent(text, unit)
    )]
    IncompatibleUnit {
        text: String,
        unit: String,
        metric_unit: String,
    },
}

/// For `<= 10%` on a metric that is no ratio: the change against the
/// baseline it most likely means.
fn signed_percent(text: &str, unit: &str) -> String {
    let t = text.trim();
    let op = ["<=", ">=", "<", ">"]
        .into_iter()
        .find(|op| t.starts_with(op));
    match (unit, op) {
        ("%", Some(op)) => {
            let rest = t[op.len()..].trim();
            let sign = if op.starts_with('<') { '+' } else { '-' };
            format!("; a change against the baseline is written with a sign: `{op} {sign}{rest}`")
        }
        _ => String::new(),
    }
}

/// Checks the syntax of one criterion.
pub fn parse(text: &str) -> Result<Parsed, CriterionError> {
    let t = text.trim();
    let (op, rest) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(sym, op)| t.strip_prefix(sym).map(|rest| (*op, rest.trim())))
    .ok_or_else(|| CriterionError::MissingOperator { text: t.to_owned() })?;
    if rest.is_empty() {
        return Err(CriterionError::MissingValue {
            text: t.to_owned(),
            op: op.symbol(),
        });
    }
    let bad_value = |part: &str| CriterionError::BadValue {
        text: t.to_owned(),
        part: part.to_owned(),
    };
    let rhs = if rest == "upper" {
        ParsedRhs::Limit(Side::Upper)
    } else if rest == "lower" {
        ParsedRhs::Limit(Side::Lower)
    } else if rest.contains("baseline") {
        parse_expression(t, rest)?
    } else if let Some(sign) = rest.strip_prefix(['+', '-']).map(|_| &rest[..1]) {
        let q = parse_quantity(rest[1..].trim()).ok_or_else(|| bad_value(rest))?;
        let signed = if sign == "-" { -q.value } else { q.value };
        ParsedRhs::Baseline {
            mul: 1.0,
            add: Some((
                signed.signum(),
                Quantity {
                    value: q.value,
                    unit: q.unit,
                },
            )),
        }
    } else {
        ParsedRhs::Absolute(parse_quantity(rest).ok_or_else(|| bad_value(rest))?)
    };
    let quantities: Vec<&Quantity> = match &rhs {
        ParsedRhs::Absolute(q) => vec![q],
        ParsedRhs::Baseline {
            add: Some((_, q)), ..
        } => vec![q],
        _ => Vec::new(),
    };
    for q in quantities {
        if let Some(unit) = &q.unit {
            if let Some(suggestion) = crate::units::Unit::misspelt(unit) {
                return Err(CriterionError::MisspeltUnit {
                    text: t.to_owned(),
                    unit: unit.clone(),
                    suggestion,
                });
            }
        }
    }
    Ok(Parsed {
        text: t.to_owned(),
        op,
        rhs,
    })
}

/// `baseline`, `baseline * k`, `k * baseline`, `baseline / k`, each
/// optionally followed by `+ q` or `- q`.
fn parse_expression(text: &str, expr: &str) -> Result<ParsedRhs, CriterionError> {
    let bad = || CriterionError::BadExpression {
        text: text.to_owned(),
    };
    let tokens = tokenize(expr).ok_or_else(bad)?;
    let mut it = tokens.iter().map(String::as_str).peekable();
    let number = |s: &str| -> Result<f64, CriterionError> {
        match parse_quantity(s) {
            Some(Quantity { value, unit: None }) => Ok(value),
            _ => Err(bad()),
        }
    };
    let mul = match it.next() {
        Some("baseline") => match it.peek() {
            Some(&"*") => {
                it.next();
                number(it.next().ok_or_else(bad)?)?
            }
            Some(&"/") => {
                it.next();
                let d = number(it.next().ok_or_else(bad)?)?;
                if d == 0.0 {
                    return Err(bad());
                }
                1.0 / d
            }
            _ => 1.0,
        },
        Some(k) => {
            let k = number(k)?;
            if it.next() != Some("*") || it.next() != Some("baseline") {
                return Err(bad());
            }
            k
        }
        None => return Err(bad()),
    };
    let add = match it.next() {
        None => None,
        Some(sign @ ("+" | "-")) => {
            let q = parse_quantity(it.next().ok_or_else(bad)?).ok_or_else(bad)?;
            Some((if sign == "-" { -1.0 } else { 1.0 }, q))
        }
        Some(_) => return Err(bad()),
    };
    if it.next().is_some() {
        return Err(bad());
    }
    Ok(ParsedRhs::Baseline { mul, add })
}

fn tokenize(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "+-*/".contains(c) {
            out.push(c.to_string());
            chars.next();
        } else if c.is_ascii_digit() || c == '.' || c.is_alphabetic() || c == '%' {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                // A `/` inside a unit (`req/s`) belongs to the quantity.
                let unit_slash = d == '/' && j > i && s[i..j].ends_with(char::is_alphabetic);
                if d.is_alphanumeric() || d == '.' || d == '%' || d == 'µ' || unit_slash {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(s[i..end].to_owned());
        } else {
            return None;
        }
    }
    Some(out)
}

impl Parsed {
    /// Converts every quantity into `metric_unit`. Plain numbers are taken
    /// to be in the metric's unit already.
    /// The target as a multiple of the baseline (`1.03` for `<= +3%`,
    /// `1.5` for `<= baseline * 1.5`), when the criterion is one; an
    /// absolute offset (`+20ms`) or an absolute value is not.
    pub fn ratio(&self) -> Option<f64> {
        match &self.rhs {
            ParsedRhs::Baseline { mul, add: None } => Some(*mul),
            ParsedRhs::Baseline {
                mul,
                add: Some((sign, q)),
            } if q.unit.as_deref() == Some("%") => Some(mul + sign * q.value / 100.0),
            _ => None,
        }
    }

    /// The error for a number without a unit on a metric with one, with
    /// how it would read and what to write instead.
    fn no_unit(&self, q: &Quantity, metric_unit: &Unit) -> CriterionError {
        let n = crate::units::format_value(q.value);
        let u = &metric_unit.symbol;
        let op = self.op.symbol();
        let relative =
            matches!(self.rhs, ParsedRhs::Baseline { mul, .. } if (mul - 1.0).abs() < f64::EPSILON);
        let (reading, fixes) = match self.rhs {
            ParsedRhs::Baseline { .. } if relative => {
                let sign = if self.text.contains('-') { '-' } else { '+' };
                (
                    format!("{sign}{n} {u} on the baseline"),
                    format!(
                        "`{op} {sign}{n}%` for a share of the baseline, or `{op} {sign}{n}{u}`"
                    ),
                )
            }
            ParsedRhs::Baseline { .. } => (
                format!("{n} {u} added to the baseline"),
                format!("`+ {n}{u}`, or `+ {n}%` of the baseline"),
            ),
            _ => {
                let other = match (&metric_unit.dimension, u.as_str()) {
                    (Dimension::Time, "ms") => "s",
                    (Dimension::Time, _) => "ms",
                    (_, "B") => "KiB",
                    _ => "B",
                };
                (
                    format!("{n} {u}"),
                    format!("`{op} {n}{u}`, or `{op} {n}{other}` if {other} were meant"),
                )
            }
        };
        CriterionError::NoUnit {
            text: self.text.clone(),
            metric_unit: u.clone(),
            reading,
            fixes,
        }
    }

    pub fn resolve(&self, metric_unit: &Unit) -> Result<Criterion, CriterionError> {
        let convert = |q: &Quantity| -> Result<f64, CriterionError> {
            let Some(symbol) = &q.unit else {
                // `< 8` on a time or a size: 8 of what? Ask rather than guess.
                if matches!(metric_unit.dimension, Dimension::Time | Dimension::Bytes) {
                    return Err(self.no_unit(q, metric_unit));
                }
                return Ok(q.value);
            };
            if *symbol == metric_unit.symbol {
                return Ok(q.value);
            }
            let unit = Unit::known(symbol).ok_or_else(|| CriterionError::UnknownUnit {
                text: self.text.clone(),
                unit: symbol.clone(),
            })?;
            unit.convert(q.value, metric_unit)
                .ok_or_else(|| CriterionError::IncompatibleUnit {
                    text: self.text.clone(),
                    unit: symbol.clone(),
                    metric_unit: match metric_unit.dimension {
                        Dimension::None => "(none: a plain number)".to_owned(),
                        _ => format!("`{}`", metric_unit.symbol),
                    },
                })
        };
        let rhs = match &self.rhs {
            ParsedRhs::Absolute(q) => Rhs::Absolute(convert(q)?),
            ParsedRhs::Limit(side) => Rhs::Limit(*side),
            ParsedRhs::Baseline { mul, add } => match add {
                None => Rhs::Baseline {
                    mul: *mul,
                    add: 0.0,
                },
                // A percentage after `baseline` is a share of the baseline.
                Some((sign, q)) if q.unit.as_deref() == Some("%") && metric_unit.symbol != "%" => {
                    Rhs::Baseline {
                        mul: mul + sign * q.value / 100.0,
                        add: 0.0,
                    }
                }
                Some((sign, q)) => Rhs::Baseline {
                    mul: *mul,
                    add: sign * convert(q)?,
                },
            },
        };
        Ok(Criterion {
            text: self.text.clone(),
            op: self.op,
            rhs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, unit: &str) -> Result<Criterion, CriterionError> {
        parse(text)?.resolve(&Unit::of_metric(Some(unit)))
    }

    #[test]
    fn absolute_with_units() {
        let c = resolve("< 300ms", "s").unwrap();
        assert_eq!(c.op, Op::Lt);
        assert_eq!(c.rhs, Rhs::Absolute(0.3));
        assert_eq!(resolve(">= 3", "").unwrap().rhs, Rhs::Absolute(3.0));
        assert_eq!(
            resolve("<= 2MiB", "B").unwrap().rhs,
            Rhs::Absolute(2097152.0)
        );
    }

    #[test]
    fn relative_forms() {
        assert_eq!(
            resolve("<= +10%", "ms").unwrap().rhs,
            Rhs::Baseline { mul: 1.1, add: 0.0 }
        );
        assert_eq!(
            resolve(">= -5%", "req/s").unwrap().rhs,
            Rhs::Baseline {
                mul: 0.95,
                add: 0.0
            }
        );
        assert_eq!(
            resolve("<= +20ms", "s").unwrap().rhs,
            Rhs::Baseline {
                mul: 1.0,
                add: 0.02
            }
        );
        assert_eq!(
            resolve("<= baseline * 1.5", "s").unwrap().rhs,
            Rhs::Baseline { mul: 1.5, add: 0.0 }
        );
        assert_eq!(
            resolve("<= baseline + 20ms", "ms").unwrap().rhs,
            Rhs::Baseline {
                mul: 1.0,
                add: 20.0
            }
        );
        assert_eq!(
            resolve("< 2 * baseline - 1s", "ms").unwrap().rhs,
            Rhs::Baseline {
                mul: 2.0,
                add: -1000.0
            }
        );
        assert_eq!(
            resolve(">= baseline / 2", "req/s").unwrap().rhs,
            Rhs::Baseline { mul: 0.5, add: 0.0 }
        );
    }

    #[test]
    fn errors() {
        insta::assert_snapshot!(resolve("300ms", "ms").unwrap_err(), @"criterion `300ms` must start with one of `<`, `<=`, `>`, `>=`, `==`, `!=`");
        insta::assert_snapshot!(resolve("< 300mss", "ms").unwrap_err(), @"criterion `< 300mss`: unknown unit `mss`");
        insta::assert_snapshot!(resolve("< 3MiB", "ms").unwrap_err(), @"criterion `< 3MiB`: unit `MiB` does not fit the metric's unit `ms`");
        insta::assert_snapshot!(resolve("<= baseline ** 2", "ms").unwrap_err(), @"criterion `<= baseline ** 2`: cannot read the expression on `baseline` (write `baseline * 1.5`, `baseline + 20ms` or `+10%`)");
        insta::assert_snapshot!(resolve("<=", "ms").unwrap_err(), @"criterion `<=` has no value after `<=`");
        insta::assert_snapshot!(resolve("< fast", "ms").unwrap_err(), @"criterion `< fast`: cannot read `fast` as a number with an optional unit");
    }

    #[test]
    fn operators_tolerate_rounding() {
        assert!(Op::Le.holds(47.5, 47.5));
        assert!(Op::Le.holds(0.1 + 0.2, 0.3));
        assert!(!Op::Lt.holds(0.1 + 0.2, 0.3));
        assert!(Op::Gt.holds(48.0, 47.5));
    }
}
