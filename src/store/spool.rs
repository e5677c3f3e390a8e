//! The spool: a local folder where a run's record waits when the store
//! cannot take it (`--spool`), uploaded by the next run that reaches the
//! store. Records are written atomically, one file each, as in the store.

use super::{Blobs, DirBlobs, Store, StoreError};
use crate::diag::error_chain;
use crate::record::RunRecord;
use std::path::Path;

/// Keeps a record that the store could not take.
pub async fn keep(spool: &Path, record: &RunRecord) -> Result<(), StoreError> {
    let mut line = serde_json::to_vec(record).expect("records serialize");
    line.push(b'\n');
    DirBlobs::new(spool)
        .put(&format!("{}.json", record.run_id), line, None)
        .await
        .map(|_| ())
}

/// Uploads what earlier runs spooled; what fails stays for the next run.
/// Returns how many records were uploaded.
pub async fn upload(store: &Store, spool: &Path, warnings: &mut Vec<String>) -> u32 {
    let blobs = DirBlobs::new(spool);
    let Ok(keys) = blobs.list("").await else {
        return 0;
    };
    let mut uploaded = 0;
    for key in keys.iter().filter(|k| k.ends_with(".json")) {
        let record = match blobs.get(key).await {
            Ok(Some(b)) => serde_json::from_slice::<RunRecord>(&b.bytes),
            _ => continue,
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!(
                    "spooled record `{}` is unreadable and stays there: {e}",
                    spool.join(key).display()
                ));
                continue;
            }
        };
        match store.record_again(&record).await {
            Ok(()) => {
                let _ = blobs.delete(key).await;
                uploaded += 1;
            }
            Err(e) => {
                warnings.push(format!(
                    "spooled run {} stays in `{}`: {}",
                    record.run_id,
                    spool.display(),
                    error_chain(&e)
                ));
                break;
            }
        }
    }
    uploaded
}
