//! `qod bisect`: which commit between a good and a bad revision made an
//! objective worse. This module holds the output contract and the search,
//! which is pure: it proposes the next commit to compare with the good
//! revision and takes each answer — worse, same, unknown, or skipped (the
//! commit could not be prepared) — and an unknown or skipped commit never
//! decides a half: the search tries another commit of the interval, and
//! ends inconclusive, naming the commits left, when only those remain.
//! `gate::bisect` checks the commits out and measures them side by side.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What `qod bisect` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "qod bisect")]
pub struct Bisection {
    /// The known-good revision (full id).
    pub good: String,
    /// The known-bad revision (full id).
    pub bad: String,
    /// The objective whose metric and tolerance decide each step.
    pub objective: String,
    /// Its metric (`<instance>.<metric>`).
    pub metric: String,
    /// The tolerance: a step is `worse` when the change from the good
    /// revision is significantly beyond it.
    pub tolerance_pct: f64,
    /// Commits after `good` up to `bad`, on the path between them.
    pub commits: usize,
    /// `found` (the culprit), `no_regression` (`bad` is not worse than
    /// `good`) or `inconclusive` (only unknown or skipped commits left).
    pub verdict: BisectVerdict,
    /// The first commit that is worse, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culprit: Option<Culprit>,
    /// Every comparison, in the order made.
    pub steps: Vec<Step>,
    /// Commits that could not be prepared, with why.
    pub skipped: Vec<Skipped>,
    /// When inconclusive: the commits that may hold the culprit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// With `--record`: the run ids of the steps kept in the store
    /// (excluded from baselines; the report shows them apart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recorded: Vec<String>,
    /// What could not be done (a step that could not be recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// How a bisection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BisectVerdict {
    Found,
    NoRegression,
    Inconclusive,
    /// One commit compared (`--probe K/N`), for a later `--after` to
    /// narrow the range from.
    Probed,
}

/// The commit that made the objective worse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Culprit {
    pub revision: String,
    pub subject: String,
    pub author: String,
    /// Its change from the good revision, with the 95% interval.
    pub change_pct: f64,
    pub ci_low_pct: f64,
    pub ci_high_pct: f64,
    /// The smallest change its comparison could have detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mde_pct: Option<f64>,
}

/// One comparison of a commit with the good revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    pub revision: String,
    pub subject: String,
    pub verdict: StepVerdict,
    /// Pairs measured.
    pub pairs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_low_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_high_pct: Option<f64>,
    /// The comparison's reason, as a decision gives it.
    pub reason: String,
}

/// What one step answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    /// Significantly beyond the tolerance.
    Worse,
    /// Inside the tolerance.
    Same,
    /// Neither could be told.
    Unknown,
    /// The commit could not be prepared (or measured).
    Skipped,
}

impl StepVerdict {
    /// The answer as a table shows it: `worse`, `same`, `unknown`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepVerdict::Worse => "worse",
            StepVerdict::Same => "same",
            StepVerdict::Unknown => "unknown",
            StepVerdict::Skipped => "skipped",
        }
    }

    /// The answer in a sentence: "is worse", "is the same".
    pub fn phrase(self) -> &'static str {
        match self {
            StepVerdict::Same => "the same",
            other => other.as_str(),
        }
    }
}

/// A commit left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Skipped {
    pub revision: String,
    pub reason: String,
}

/// The search over commits `0..n` (oldest first; `n - 1` is `bad`, known
/// worse; the good revision sits before `0`, known same).
#[derive(Debug, Clone)]
pub struct Search {
    /// The newest commit known the same as good (`None`: good itself).
    lo: Option<usize>,
    /// The oldest commit known worse.
    hi: usize,
    /// Commits that gave no answer (unknown or skipped).
    untestable: std::collections::BTreeSet<usize>,
}

/// Where a search stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Compare this commit next.
    Test(usize),
    /// The culprit: the one commit between the last same and the first worse.
    Found(usize),
    /// Only commits that gave no answer are left between them.
    Stuck(Vec<usize>),
}

impl Search {
    /// A search over `n` commits, the last of which is worse.
    pub fn new(n: usize) -> Search {
        assert!(n > 0, "a search needs a commit");
        Search {
            lo: None,
            hi: n - 1,
            untestable: Default::default(),
        }
    }

    /// The commits that may hold the culprit: after the last same, up to
    /// the first worse.
    fn open(&self) -> std::ops::RangeInclusive<usize> {
        self.lo.map_or(0, |l| l + 1)..=self.hi
    }

    /// What to do next: the testable commit nearest the middle of what is
    /// open (the lower on a tie), the culprit, or stuck.
    pub fn next(&self) -> Next {
        let open = self.open();
        let (first, last) = (*open.start(), *open.end());
        if first == last {
            return Next::Found(last);
        }
        // `last` is known worse; the culprit is in first..=last.
        let mid = (first + last - 1) / 2;
        let candidates = (first..last).filter(|i| !self.untestable.contains(i));
        match candidates.min_by_key(|&i| (i.abs_diff(mid), i)) {
            Some(i) => Next::Test(i),
            None => Next::Stuck(open.collect()),
        }
    }

    /// Takes the answer for commit `i`.
    pub fn answer(&mut self, i: usize, verdict: StepVerdict) {
        if !self.open().contains(&i) || i == self.hi {
            return;
        }
        match verdict {
            StepVerdict::Worse => self.hi = i,
            StepVerdict::Same => self.lo = Some(i),
            StepVerdict::Unknown | StepVerdict::Skipped => {
                self.untestable.insert(i);
            }
        }
    }
}

/// The commit probe `k` of `n` compares (`--probe K/N`): the `n` probes
/// split the `len` commits (the last of which is `bad`) evenly.
pub fn probe_index(k: u32, n: u32, len: usize) -> usize {
    let at = (k as usize * len) / (n as usize + 1);
    at.min(len.saturating_sub(2))
}

/// About how many steps a search over `n` commits takes: ⌈log₂ n⌉ (the
/// first comparison, of `bad`, not counted).
pub fn expected_steps(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search over `n` commits whose first worse one is `culprit`,
    /// answering with `say` (`None`: the truth); the commits tested.
    fn run(
        n: usize,
        culprit: usize,
        say: impl Fn(usize) -> Option<StepVerdict>,
    ) -> (Next, Vec<usize>) {
        let mut s = Search::new(n);
        let mut tested = Vec::new();
        loop {
            match s.next() {
                Next::Test(i) => {
                    tested.push(i);
                    let truth = if i >= culprit {
                        StepVerdict::Worse
                    } else {
                        StepVerdict::Same
                    };
                    s.answer(i, say(i).unwrap_or(truth));
                }
                other => return (other, tested),
            }
        }
    }

    #[test]
    fn every_culprit_is_found_in_log2_steps() {
        for n in [1, 2, 3, 7, 8, 40, 41, 1000] {
            for culprit in 0..n {
                let (end, tested) = run(n, culprit, |_| None);
                assert_eq!(end, Next::Found(culprit), "n {n} culprit {culprit}");
                assert!(tested.len() <= expected_steps(n), "n {n}: {tested:?}");
            }
        }
        assert_eq!(expected_steps(40), 6);
        assert_eq!(expected_steps(1), 0);
    }

    #[test]
    fn an_unknown_or_skipped_commit_never_decides_a_half() {
        // Commit 19 cannot be told: the search goes around it and still
        // finds the culprit, unless the culprit is the commit it could not tell.
        for culprit in [3, 19, 20, 33] {
            let (end, tested) = run(40, culprit, |i| (i == 19).then_some(StepVerdict::Unknown));
            if culprit == 19 || culprit == 20 {
                // 18 same, 20 worse or 19 unknown: 19 or 20 may be it.
                match end {
                    Next::Found(c) => assert_eq!(c, culprit),
                    Next::Stuck(left) => assert_eq!(left, vec![19, 20], "{tested:?}"),
                    other => panic!("{other:?}"),
                }
            } else {
                assert_eq!(end, Next::Found(culprit), "{tested:?}");
            }
            assert!(tested.len() <= expected_steps(40) + 2, "{tested:?}");
        }
        // Every commit skipped: stuck with the whole range.
        let (end, _) = run(5, 2, |_| Some(StepVerdict::Skipped));
        assert_eq!(end, Next::Stuck(vec![0, 1, 2, 3, 4]));
    }
}
