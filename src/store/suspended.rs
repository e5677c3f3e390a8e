//! Suspended gates, kept under `suspended/<id>.json` between two
//! invocations of a CodePipeline action (the continuation token names the
//! id); `suspended/<id>.used` marks a token as spent, so that it resumes
//! the gate once.

use super::Blobs;
use super::{to_line, Store, StoreError, Written};

/// What a continuation token finds.
#[derive(Debug)]
pub enum Taken<T> {
    /// The saved gate; the token is now spent.
    Found(T),
    /// The token resumed its gate before.
    Used,
    /// Nothing was saved under it (here).
    Unknown,
}

impl Store {
    /// Keeps a suspended gate under `id`.
    pub async fn keep_suspended<T: serde::Serialize>(
        &self,
        id: &str,
        doc: &T,
    ) -> Result<(), StoreError> {
        let key = format!("suspended/{id}.json");
        match self.backend.put(&key, to_line(doc), None).await? {
            Written::Yes => Ok(()),
            Written::Conflict => Err(StoreError::Exists {
                location: self.location(),
                key,
            }),
        }
    }

    /// The suspended gate under `id`, spending its token: a second take
    /// finds it [`Taken::Used`], even when two takes race.
    pub async fn take_suspended<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Taken<T>, StoreError> {
        let Some((doc, _)) = self.read::<T>(&format!("suspended/{id}.json")).await? else {
            return Ok(Taken::Unknown);
        };
        let mark = format!("suspended/{id}.used");
        Ok(
            match self.backend.put(&mark, b"{}\n".to_vec(), None).await? {
                Written::Yes => Taken::Found(doc),
                Written::Conflict => Taken::Used,
            },
        )
    }
}
