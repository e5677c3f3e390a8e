//! Objectives `against: base`: what the plan checks of them and the
//! tolerance it gives the paired test.

use crate::policy::criterion::{self, Parsed};
use crate::policy::{Against, Objective};

/// What an objective `against: base` holds the candidate/base ratio to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareTolerance {
    /// The largest (or, when lower is worse, smallest) ratio that passes:
    /// `1.03` for `<= +3%`.
    pub ratio: f64,
    /// Whether a higher ratio is worse (`<`, `<=`).
    pub higher_is_worse: bool,
}

impl CompareTolerance {
    /// The tolerance of one row whose comparison says `tolerance_pct`:
    /// this one, or its mirror for a metric where higher is better.
    pub fn matching(self, tolerance_pct: f64) -> CompareTolerance {
        let mirror = CompareTolerance {
            ratio: 1.0 / self.ratio,
            higher_is_worse: !self.higher_is_worse,
        };
        let off = |t: CompareTolerance| ((t.ratio - 1.0) * 100.0 - tolerance_pct).abs();
        if off(mirror) < off(self) {
            mirror
        } else {
            self
        }
    }

    /// The tolerance for a metric of a pattern objective whose direction is
    /// `better`: "no more than 3% worse" is `<= +3%` for a time and, for a
    /// higher-is-better metric (`ops`), the same distance the other way
    /// (a ratio of `1 / 1.03`).
    pub fn toward(self, better: Option<crate::protocol::Better>) -> CompareTolerance {
        let lower_is_worse = better == Some(crate::protocol::Better::Higher);
        if lower_is_worse != self.higher_is_worse {
            return self;
        }
        CompareTolerance {
            ratio: 1.0 / self.ratio,
            higher_is_worse: !self.higher_is_worse,
        }
    }
}

/// Checks an objective: `None` for one compared with history; for one
/// `against: base`: one relative pass criterion with a
/// ratio (`<= +3%`, `>= -5%`, `<= baseline * 1.1`), a `compare:` section,
/// and none of the history-only settings. Returns the tolerance, or the
/// field, the problem and the fix.
pub(super) fn check(
    o: &Objective,
    pass: &[Parsed],
    has_compare: bool,
) -> Result<Option<CompareTolerance>, (&'static str, String, String)> {
    if o.against == Against::History {
        return Ok(None);
    }
    if !has_compare {
        return Err((
            "against",
            "`against: base` needs a `compare:` section saying where the base is".into(),
            "add `compare: { base: { revision: merge-base } }` (or `{ workspace: ../base }`) at the top of the policy".into(),
        ));
    }
    for (field, set) in [
        ("warn", o.warn.is_some()),
        ("test", o.test.is_some()),
        ("baseline", o.baseline.is_some()),
        ("confirm", o.confirm > 0),
    ] {
        if set {
            return Err((
                field,
                format!("`{field}` applies to comparisons with history, not to `against: base`"),
                "the paired sequential test of `compare:` decides and confirms by itself; remove the field, or compare this objective with history in a second objective".into(),
            ));
        }
    }
    let [c] = pass else {
        return Err((
            "pass",
            format!(
                "`against: base` takes one relative criterion, not {}",
                pass.len()
            ),
            "write one, such as `pass: \"<= +3%\"`; hold absolute limits in another objective"
                .into(),
        ));
    };
    tolerance_of(c)
        .map(Some)
        .map_err(|(problem, fix)| ("pass", problem, fix))
}

/// The tolerance a side-by-side criterion gives the paired test (`<= +3%`
/// is a ratio of 1.03, higher worse), or the problem and the fix.
pub fn tolerance_of(c: &Parsed) -> Result<CompareTolerance, (String, String)> {
    let higher_is_worse =
        match c.op {
            criterion::Op::Lt | criterion::Op::Le => true,
            criterion::Op::Gt | criterion::Op::Ge => false,
            _ => return Err((
                format!(
                    "`{}`: a side-by-side comparison tests a direction; `==` and `!=` have none",
                    c.text
                ),
                "write `<= +3%` for lower-is-better metrics, `>= -3%` for higher-is-better ones"
                    .into(),
            )),
        };
    match c.ratio() {
        Some(ratio) if ratio > 0.0 => Ok(CompareTolerance {
            ratio,
            higher_is_worse,
        }),
        _ => Err((
            format!(
                "`{}` is not a ratio of the base: a side-by-side comparison tests candidate/base",
                c.text
            ),
            "write the tolerance as a percentage (`<= +3%`) or a factor (`<= baseline * 1.1`)"
                .into(),
        )),
    }
}
