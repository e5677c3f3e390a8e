//! Calibrations (`qod calibrate`), kept under
//! `calibrations/<runner-fingerprint>/<policy-hash>/<time>.json`, written
//! once; a gate reads the newest of each runner for its policy.

use super::{to_line, Blobs, Store, StoreError, Written};

const PREFIX: &str = "calibrations/";

impl Store {
    /// Keeps `doc`, the calibration made on runner `fingerprint` for the
    /// policy `hash` at `made_at` (RFC 3339); the key it went to.
    pub async fn keep_calibration<T: serde::Serialize>(
        &self,
        fingerprint: &str,
        hash: &str,
        made_at: &str,
        doc: &T,
    ) -> Result<String, StoreError> {
        let stamp: String = made_at
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let key = format!("{PREFIX}{fingerprint}/{hash}/{stamp}.json");
        match self.backend.put(&key, to_line(doc), None).await? {
            Written::Yes => Ok(key),
            Written::Conflict => Err(StoreError::Exists {
                location: self.location(),
                key,
            }),
        }
    }

    /// The newest calibration of each runner for the policy `hash`: one
    /// listing, and a read for each runner that has one.
    pub async fn calibrations<T: serde::de::DeserializeOwned>(
        &self,
        hash: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut newest: std::collections::BTreeMap<String, String> = Default::default();
        for key in self.backend.list(PREFIX).await? {
            let parts: Vec<&str> = key.trim_start_matches(PREFIX).split('/').collect();
            if let [runner, h, _] = parts[..] {
                if h == hash {
                    // Keys sort by time within a runner: the last is newest.
                    newest.insert(runner.to_owned(), key.clone());
                }
            }
        }
        let mut out = Vec::new();
        for key in newest.values() {
            if let Some((c, _)) = self.read::<T>(key).await? {
                out.push(c);
            }
        }
        Ok(out)
    }
}
