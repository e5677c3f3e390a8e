//! Keeping a decided run: the run record in the store (or the spool when
//! the store cannot take it), or, for a part of a group, the part record.

use crate::decision::Decision;
use crate::diag::error_chain;
use crate::protocol::{Pipeline, Source};
use crate::record::RunRecord;
use crate::store::{spool, Store, StoreError};

/// Records the run; when the store cannot take it, keeps it in the spool.
pub(super) async fn record(
    store: &Store,
    spool_dir: Option<&std::path::Path>,
    decision: &mut Decision,
    pipeline: &Pipeline,
    source: &Source,
) {
    let record = RunRecord::from_decision(decision, pipeline, source);
    let e = match store.record(&record).await {
        Ok(first) => {
            decision.store.recorded = true;
            decision.store.created = first;
            return;
        }
        // The record is there; only the index is behind: nothing to spool.
        Err(e @ StoreError::NotIndexed { .. }) => {
            decision.store.recorded = true;
            add_store_error(decision, error_chain(&e));
            return;
        }
        Err(e) => e,
    };
    let mut msg = error_chain(&e);
    if let Some(dir) = spool_dir {
        match spool::keep(dir, &record).await {
            Ok(()) => decision.store.spooled = true,
            Err(e) => msg.push_str(&format!("; the spool failed too: {}", error_chain(&e))),
        }
    }
    add_store_error(decision, msg);
}

/// Keeps a part's record under its group, for `qod combine`, with the
/// part named in the summary; a part that cannot be kept is a store error
/// (there is no spool for parts: the combine would not see it). Returns
/// the notes for the user.
pub(super) async fn record_part(
    store: &Store,
    decision: &mut Decision,
    info: crate::decision::PartInfo,
    whole: usize,
    pipeline: &Pipeline,
    source: &Source,
) -> Vec<String> {
    decision.summary = format!(
        "part `{}` of group `{}` ({} of {} instance{}): {}",
        info.name,
        info.group,
        info.instances.len(),
        whole,
        if whole == 1 { "" } else { "s" },
        decision.summary
    );
    decision.run.part = Some(info.clone());
    let record = crate::parts::PartRecord {
        record_version: crate::parts::PART_RECORD_VERSION,
        part: info.clone(),
        run_id: decision.run.id.clone(),
        started_at: decision.run.started_at.clone(),
        finished_at: decision.run.finished_at.clone(),
        policy: decision.run.policy.clone(),
        cancelled: decision.run.cancelled.clone(),
        pipeline: pipeline.clone(),
        source: source.clone(),
        plugins: decision.plugins.clone(),
        objectives: decision.objectives.clone(),
    };
    match store
        .record_part(
            &crate::parts::key_of(&info.group),
            &info.name,
            decision.run.id.as_str(),
            &record,
        )
        .await
    {
        Ok(()) => {
            decision.store.recorded = true;
            vec![format!(
                "recorded as a part; `qod combine --group {}` decides once every part is recorded",
                info.group
            )]
        }
        Err(e) => {
            add_store_error(decision, error_chain(&e));
            Vec::new()
        }
    }
}

pub(super) fn add_store_error(decision: &mut Decision, msg: String) {
    decision.store.error = Some(match decision.store.error.take() {
        Some(prev) => format!("{prev}; {msg}"),
        None => msg,
    });
}
