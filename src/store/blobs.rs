//! The object layer under the history store: named blobs with ETags and
//! conditional writes. A directory and an S3 bucket both provide it, so the
//! layout and the index logic above are written once.

use super::StoreError;
use std::future::Future;

/// A blob's content and the tag that changes whenever it is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The condition did not hold: the blob exists (create) or changed (swap).
    Conflict,
}

/// Named blobs with conditional writes.
pub trait Blobs {
    /// Where the blobs live, for messages (`.qod/store`, `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// The blob at `key`, if there is one.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Blob>, StoreError>> + Send;

    /// Writes `bytes` at `key` only if no blob is there (`If-None-Match: *`),
    /// or only if the blob there still has tag `etag` (`If-Match`).
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;

    /// Every key under `prefix`, sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Removes `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
