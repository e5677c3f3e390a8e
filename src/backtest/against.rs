//! `qod backtest --against OLD`: the same runs replayed under two
//! policies, and the runs and objectives where they decide otherwise.

use super::{Backtest, ReplayedObjective, ReplayedRun};
use crate::decision::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a policy change would have decided otherwise: the same runs
/// replayed under the old policy and the new one.
#[derive(Debug, Clone, Serialize)]
pub struct Differences {
    pub runs: usize,
    /// Runs the old policy would have failed (the gate's verdict).
    pub old_failures: usize,
    /// Runs the new policy would have failed.
    pub new_failures: usize,
    /// Runs the new policy fails and the old did not.
    pub extra_failures: Vec<RunChange>,
    /// Runs the old policy failed and the new does not.
    pub fewer_failures: Vec<RunChange>,
    /// For each objective (by id, in either policy): the runs where its
    /// status differs, old → new (`absent` where a policy lacks it).
    pub objectives: BTreeMap<String, Vec<StatusChange>>,
}

/// A run whose verdict changes.
#[derive(Debug, Clone, Serialize)]
pub struct RunChange {
    pub run_number: usize,
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub old: Verdict,
    pub new: Verdict,
}

/// An objective whose status changes in one run.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    pub run_number: usize,
    pub run_id: String,
    pub old: String,
    pub new: String,
    /// Why the new policy decided as it did.
    pub reason: String,
}

/// The differences between `old` and `new`, two replays of the same runs.
pub fn differences(old: &Backtest, new: &Backtest) -> Differences {
    let fails = |b: &Backtest| b.gate.get("fail").copied().unwrap_or(0);
    let mut d = Differences {
        runs: new.runs,
        old_failures: fails(old),
        new_failures: fails(new),
        extra_failures: Vec::new(),
        fewer_failures: Vec::new(),
        objectives: BTreeMap::new(),
    };
    for (o, n) in old.replayed.iter().zip(&new.replayed) {
        let change = || RunChange {
            run_number: n.run_number,
            run_id: n.run_id.clone(),
            revision: n.revision.clone(),
            old: o.decision,
            new: n.decision,
        };
        match (o.decision == Verdict::Fail, n.decision == Verdict::Fail) {
            (false, true) => d.extra_failures.push(change()),
            (true, false) => d.fewer_failures.push(change()),
            _ => {}
        }
        let mut ids: Vec<&str> = o.objectives.iter().map(|x| x.id.as_str()).collect();
        ids.extend(n.objectives.iter().map(|x| x.id.as_str()));
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let find = |r: &ReplayedRun| r.objectives.iter().find(|x| x.id == id).cloned();
            let (was, is) = (find(o), find(n));
            let name = |x: &Option<ReplayedObjective>| {
                x.as_ref()
                    .map_or("absent", |x| x.status.as_str())
                    .to_owned()
            };
            if name(&was) != name(&is) {
                d.objectives
                    .entry(id.to_owned())
                    .or_default()
                    .push(StatusChange {
                        run_number: n.run_number,
                        run_id: n.run_id.clone(),
                        old: name(&was),
                        new: name(&is),
                        reason: is.map(|x| x.reason).unwrap_or_default(),
                    });
            }
        }
    }
    d
}
