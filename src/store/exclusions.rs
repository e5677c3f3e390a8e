//! Excluded runs: runs measured on a broken runner, say, that must not be
//! baselines. Each `qod history exclude` or `include` writes one marker,
//! `excluded/<run-id>/<time>-<exclude|include>.json`, create-only and never
//! rewritten, so who excluded what and why stays in the store; a run's
//! newest marker says whether it is excluded. The state is read from one
//! listing: the action is in the key.

use super::{to_line, Blobs, Store, StoreError, Written};
use crate::record::Exclusion;
use std::collections::BTreeMap;

const PREFIX: &str = "excluded/";

impl Store {
    /// Excludes run `run` (`exclude`) or takes it back (`!exclude`), for
    /// `reason`, by `by`, at `at` (RFC 3339).
    pub async fn mark_excluded(
        &self,
        run: &str,
        exclude: bool,
        marker: &Exclusion,
    ) -> Result<(), StoreError> {
        let stamp: String = marker
            .at
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let action = if exclude { "exclude" } else { "include" };
        for n in 0..100 {
            let key = match n {
                0 => format!("{PREFIX}{run}/{stamp}-{action}.json"),
                _ => format!("{PREFIX}{run}/{stamp}.{n:02}-{action}.json"),
            };
            if let Written::Yes = self.backend.put(&key, to_line(marker), None).await? {
                return Ok(());
            }
        }
        Err(StoreError::Exists {
            location: self.location(),
            key: format!("{PREFIX}{run}/{stamp}-{action}.json"),
        })
    }

    /// The runs excluded now, by id: each with the key of its newest
    /// marker (one listing; [`Store::exclusion`] reads a marker).
    pub async fn excluded(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut newest: BTreeMap<String, String> = BTreeMap::new();
        for key in self.backend.list(PREFIX).await? {
            let Some((run, name)) = key
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            // Keys sort by time within a run: the last one listed is newest.
            if name.ends_with("-exclude.json") || name.ends_with("-include.json") {
                newest.insert(run.to_owned(), key.clone());
            }
        }
        newest.retain(|_, key| key.ends_with("-exclude.json"));
        Ok(newest)
    }

    /// The marker at `key` (from [`Store::excluded`]).
    pub async fn exclusion(&self, key: &str) -> Result<Option<Exclusion>, StoreError> {
        Ok(self.read::<Exclusion>(key).await?.map(|(e, _)| e))
    }
}
