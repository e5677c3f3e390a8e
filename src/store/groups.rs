//! Parts of gates spread over several jobs, kept under
//! `groups/<group>/<part>/<run-id>.json` until `qod combine` composes them;
//! and `groups/<group>/combined/<newest-part>.json`, which says a set of
//! parts was recorded as a run already. Parts are not runs: the index
//! never names them, and baselines never see them.

use super::Blobs;
use super::{to_line, Store, StoreError, Written};

fn prefix(group_key: &str) -> String {
    format!("groups/{group_key}/")
}

/// When the time-ordered id (UUIDv7) at the end of `key` was made, in
/// milliseconds since the epoch.
fn millis_of(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    let id = name
        .strip_suffix(".json")
        .or_else(|| name.strip_suffix(".used"))?;
    let hex: String = id.chars().filter(|c| *c != '-').take(12).collect();
    u64::from_str_radix(&hex, 16).ok()
}

impl Store {
    /// Removes the parts (and combine marks) and the suspended gates made
    /// before `before_ms` (milliseconds since the epoch); returns how many.
    pub(super) async fn prune_groups(&self, before_ms: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut keys = self.backend.list("groups/").await?;
        keys.extend(self.backend.list("suspended/").await?);
        keys.retain(|key| millis_of(key).is_some_and(|t| t < before_ms));
        removed += keys.len();
        self.delete_all(&keys).await?;
        Ok(removed)
    }

    /// Keeps a part's record; each recording has its own key (the part's run
    /// id), so that parts written at once by many jobs all arrive.
    pub async fn record_part<T: serde::Serialize>(
        &self,
        group_key: &str,
        part: &str,
        run_id: &str,
        doc: &T,
    ) -> Result<(), StoreError> {
        let key = format!("{}{part}/{run_id}.json", prefix(group_key));
        match self.backend.put(&key, to_line(doc), None).await? {
            Written::Yes => Ok(()),
            Written::Conflict => Err(StoreError::Exists {
                location: self.location(),
                key,
            }),
        }
    }

    /// Every part recorded in a group, in any order, and why each damaged
    /// one was passed over (it is left in place: its part counts as not
    /// recorded, and running that part again replaces it).
    pub async fn parts<T: serde::de::DeserializeOwned>(
        &self,
        group_key: &str,
    ) -> Result<(Vec<T>, Vec<String>), StoreError> {
        let (mut out, mut damaged) = (Vec::new(), Vec::new());
        for key in self.backend.list(&prefix(group_key)).await? {
            if key.ends_with(".json") && !key.contains("/combined/") {
                match self.read::<T>(&key).await {
                    Ok(Some((doc, _))) => out.push(doc),
                    Ok(None) => {}
                    Err(e @ StoreError::Corrupt { .. }) => damaged.push(format!(
                        "{e}; the part counts as not recorded: run it again"
                    )),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((out, damaged))
    }

    /// Marks the set of parts whose newest is `newest_part` as recorded as
    /// run `run_id`; `Some(earlier run id)` when it was already.
    pub async fn mark_combined(
        &self,
        group_key: &str,
        newest_part: &str,
        run_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = format!("{}combined/{newest_part}.json", prefix(group_key));
        let doc = serde_json::json!({ "run_id": run_id });
        match self.backend.put(&key, to_line(&doc), None).await? {
            Written::Yes => Ok(None),
            Written::Conflict => Ok(Some(
                self.read::<serde_json::Value>(&key)
                    .await?
                    .and_then(|(v, _)| v.get("run_id").and_then(|r| r.as_str()).map(str::to_owned))
                    .unwrap_or_default(),
            )),
        }
    }
}
