//! The index that keeps one evaluation's cost flat in the length of the
//! history. `index/head.json` holds summaries of the newest runs (newest
//! first) and the latest deployments; when it grows past [`HEAD_MAX`] runs,
//! its oldest [`SEGMENT_SIZE`] move into an immutable segment
//! (`index/segments/<key>.json`), and segments chain from newest to
//! oldest. A baseline of the last few runs is one read of the head,
//! whether the store holds a hundred runs or a million.
//!
//! Summaries are run records without their samples; the full records stay
//! under `runs/date=YYYY-MM-DD/`.

use crate::protocol::Deployment;
use crate::record::RunRecord;
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

pub const HEAD_KEY: &str = "index/head.json";
pub const SEGMENT_PREFIX: &str = "index/segments/";
/// Runs the head holds before its oldest are sealed into a segment.
pub const HEAD_MAX: usize = 64;
/// Runs per sealed segment.
pub const SEGMENT_SIZE: usize = 32;
/// Deployments remembered in the head (the latest per branch).
pub const DEPLOYMENTS_MAX: usize = 64;

/// Version of the index format (`index/head.json` and its segments).
pub const INDEX_VERSION: u32 = 1;

/// `index/head.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub index_version: u32,
    /// Newest first.
    pub runs: Vec<RunRecord>,
    /// The newest sealed segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older: Option<String>,
    /// How many runs the sealed segments hold.
    #[serde(default)]
    pub sealed_runs: u64,
    /// The latest deployment of each branch, newest first.
    #[serde(default)]
    pub deployments: Vec<IndexedDeployment>,
}

/// A deployment as the head remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedDeployment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    pub deployment: Deployment,
}

/// `index/segments/<key>.json`: sealed runs, newest first; never rewritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub index_version: u32,
    pub runs: Vec<RunRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older: Option<String>,
}

/// What goes into the index for a run: the record without samples.
pub fn summary(record: &RunRecord) -> RunRecord {
    let mut s = record.clone();
    for m in &mut s.metrics {
        m.samples.clear();
    }
    s
}

impl Head {
    /// Inserts a run in order; `false` when it is there already.
    pub fn insert(&mut self, run: RunRecord) -> bool {
        match self.runs.binary_search_by(|r| run.run_id.cmp(&r.run_id)) {
            Ok(_) => false,
            Err(at) => {
                self.runs.insert(at, run);
                self.index_version = INDEX_VERSION;
                true
            }
        }
    }

    /// When the head is over [`HEAD_MAX`], moves its oldest runs into a new
    /// segment and returns it with its key. The key derives from the
    /// segment's content, so two writers sealing the same runs write the
    /// same object, and different content never shares a key.
    pub fn seal(&mut self) -> Option<(String, Segment)> {
        if self.runs.len() <= HEAD_MAX {
            return None;
        }
        let sealed: Vec<RunRecord> = self.runs.split_off(self.runs.len() - SEGMENT_SIZE);
        let segment = Segment {
            index_version: INDEX_VERSION,
            runs: sealed,
            older: self.older.take(),
        };
        let key = segment_key(&segment);
        self.sealed_runs += segment.runs.len() as u64;
        self.older = Some(key.clone());
        Some((key, segment))
    }

    /// Records a deployment as its branch's latest.
    pub fn deployed(&mut self, branch: Option<String>, deployment: Deployment) {
        self.deployments.retain(|d| d.branch != branch);
        self.deployments
            .insert(0, IndexedDeployment { branch, deployment });
        self.deployments.truncate(DEPLOYMENTS_MAX);
        self.index_version = INDEX_VERSION;
    }
}

/// The latest of `deployments` for `branch` (any branch when unknown).
pub fn last_deployment<'a>(
    deployments: &'a [IndexedDeployment],
    branch: Option<&str>,
) -> Option<&'a Deployment> {
    deployments
        .iter()
        .find(|d| branch.is_none() || d.branch.as_deref() == branch)
        .map(|d| &d.deployment)
}

/// The key of a segment, derived from its content.
pub fn segment_key(segment: &Segment) -> String {
    // A fixed-key SipHash: the same content gives the same key in every process.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    for r in &segment.runs {
        r.run_id.hash(&mut h);
    }
    segment.older.hash(&mut h);
    let newest = segment
        .runs
        .first()
        .map(|r| r.run_id.as_str())
        .unwrap_or("empty");
    format!("{SEGMENT_PREFIX}{newest}-{:016x}.json", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Verdict;
    use crate::ids::RunId;

    pub fn run(id: u32) -> RunRecord {
        RunRecord {
            record_version: 1,
            run_id: RunId::new(format!("{id:08}")),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            finished_at: "2026-01-01T00:00:01.000Z".into(),
            pipeline: Default::default(),
            source: Default::default(),
            decision: Verdict::Pass,
            score: 100.0,
            metrics: vec![],
            objectives: vec![],
            plugins: vec![],
            cancelled: false,
            runner: None,
            excluded: None,
        }
    }

    #[test]
    fn head_keeps_order_and_seals_the_oldest() {
        let mut head = Head::default();
        for i in (0..HEAD_MAX as u32).rev() {
            assert!(head.insert(run(i * 2)));
        }
        assert!(!head.insert(run(0)), "no duplicates");
        assert!(head.insert(run(7)), "a straggler lands in order");
        assert!(head.runs.windows(2).all(|w| w[0].run_id > w[1].run_id));
        let (key, seg) = head.seal().expect("over the limit");
        assert_eq!(head.runs.len(), HEAD_MAX + 1 - SEGMENT_SIZE);
        assert_eq!(seg.runs.len(), SEGMENT_SIZE);
        assert_eq!(seg.runs.last().unwrap().run_id.as_str(), "00000000");
        assert_eq!(head.older.as_deref(), Some(key.as_str()));
        assert!(head.seal().is_none());
        // The same runs sealed again give the same key; other runs another.
        let mut again = Head::default();
        for r in seg.runs.iter().rev() {
            again.insert(r.clone());
        }
        assert_eq!(
            segment_key(&Segment {
                index_version: INDEX_VERSION,
                runs: again.runs.clone(),
                older: None
            }),
            key
        );
        again.runs.pop();
        assert_ne!(
            segment_key(&Segment {
                index_version: INDEX_VERSION,
                runs: again.runs,
                older: None
            }),
            key
        );
    }
}
