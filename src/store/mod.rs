//! The history store: every run is recorded here, and baselines and the last
//! deployment are read back from it. One layout, kept by [`Store`] over any
//! [`Blobs`] backend — a directory ([`DirBlobs`]) or an S3 bucket
//! ([`S3Blobs`]):
//!
//! - `runs/date=YYYY-MM-DD/<run-id>.json` — each run's full record, one JSON
//!   line, written once and never overwritten (Athena reads these);
//! - `deployments/date=YYYY-MM-DD/<id>.json` — what `qod deployed` records;
//! - `calibrations/<runner>/<policy>/…` — what `qod calibrate` measured;
//! - `excluded/<run-id>/…` — markers of runs excluded from baselines
//!   (`qod history exclude`; [`exclusions`]);
//! - `index/head.json` and `index/segments/` — summaries of the newest runs
//!   and the latest deployments, so evaluating costs the same however long
//!   the history is ([`index`]).
//!
//! Size: the store's write protocol (conditional writes, the index head
//! and its segments, retries, prune and reindex) is kept in one file so
//! that its invariants can be checked together.

pub mod blobs;
mod calibrations;
mod dir;
mod exclusions;
mod git;
mod groups;
pub mod index;
mod s3;
pub mod spool;
mod suspended;

pub use blobs::{Blob, Blobs, Written};
pub use dir::DirBlobs;
pub use git::GitBlobs;
pub use s3::S3Blobs;
pub use suspended::Taken;

use crate::protocol::Deployment;
use crate::record::{DeploymentRecord, RunRecord};
use index::{Head, Segment, HEAD_KEY};
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

/// Why the store could not be used.
/// How long parts and suspended gates are kept whatever `store prune`
/// keeps of the runs: longer than any `combine --wait` or CodePipeline
/// continuation waits.
pub const IN_FLIGHT: chrono::Duration = chrono::Duration::days(1);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {action} `{location}`{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    S3 {
        action: &'static str,
        location: String,
        /// What S3 answered (`HTTP 403 AccessDenied: …`); empty when it
        /// did not answer, and the cause is then in `source`.
        detail: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("cannot {action} `{location}`: {detail}")]
    Git {
        action: &'static str,
        location: String,
        /// What git said (credentials taken out).
        detail: String,
    },
    #[error("`{key}` already exists in `{location}`; records are never overwritten")]
    Exists { location: String, key: String },
    #[error("invalid store location `{location}`; {hint}")]
    BadLocation { location: String, hint: String },
    #[error("`{key}` in `{location}` is damaged: {detail}; `qod store reindex` rebuilds the index from the run records and moves damaged records aside")]
    Corrupt {
        location: String,
        key: String,
        detail: String,
    },
    #[error("recorded `{key}` in `{location}`, but the index was not updated; `qod store reindex` adds it")]
    NotIndexed {
        location: String,
        key: String,
        #[source]
        source: Box<StoreError>,
    },
    #[error("`{location}`: gave up updating `{key}` after {attempts} attempts; too many concurrent writers")]
    Contended {
        location: String,
        key: String,
        attempts: u32,
    },
}

/// Where damaged records are moved by reindex.
pub const QUARANTINE: &str = "quarantine/";

/// Temporary files older than this are left from a killed writer.
pub const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// What `reindex` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reindexed {
    /// Runs in the new index.
    pub runs: usize,
    /// Where damaged records were moved.
    pub quarantined: Vec<String>,
    /// Stale temporary files removed.
    pub swept: usize,
}

/// The backends.
#[derive(Debug, Clone)]
enum Backend {
    Dir(DirBlobs),
    S3(S3Blobs),
    Git(GitBlobs),
}

impl Blobs for Backend {
    fn location(&self) -> String {
        match self {
            Backend::Dir(b) => b.location(),
            Backend::S3(b) => b.location(),
            Backend::Git(b) => b.location(),
        }
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        match self {
            Backend::Dir(b) => b.get(key).await,
            Backend::S3(b) => b.get(key).await,
            Backend::Git(b) => b.get(key).await,
        }
    }
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<Written, StoreError> {
        match self {
            Backend::Dir(b) => b.put(key, bytes, if_match).await,
            Backend::S3(b) => b.put(key, bytes, if_match).await,
            Backend::Git(b) => b.put(key, bytes, if_match).await,
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Backend::Dir(b) => b.list(prefix).await,
            Backend::S3(b) => b.list(prefix).await,
            Backend::Git(b) => b.list(prefix).await,
        }
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Backend::Dir(b) => b.delete(key).await,
            Backend::S3(b) => b.delete(key).await,
            Backend::Git(b) => b.delete(key).await,
        }
    }
}

/// How many times a compare-and-swap of the index is tried.
const CAS_ATTEMPTS: u32 = 30;

/// What `prune` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Runs that started within the last N days.
    Days(u32),
    /// The newest N runs.
    Newest(usize),
}

/// What `prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub removed_runs: usize,
    /// Parts of gates spread over jobs (`groups/`) and suspended gates
    /// (`suspended/`), older than every kept run.
    pub removed_parts: usize,
    pub kept_runs: usize,
    /// A git branch's history was not compacted: it holds files qod did
    /// not write (named here), so it is never rewritten.
    pub not_compacted: Vec<String>,
}

/// The history store a run uses.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

/// A random duration up to `cap`: full jitter for retries.
fn jitter(cap: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_micros(r % (cap.as_micros() as u64).max(1))
}

fn record_key(record: &RunRecord) -> String {
    format!("runs/date={}/{}.json", record.date(), record.run_id)
}

fn to_line<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(v).expect("store documents serialize");
    line.push(b'\n');
    line
}

impl Store {
    /// Opens the store at `location`: `s3://bucket/prefix` or a directory.
    /// Nothing is created until something is written.
    pub async fn open(location: &str, env: &BTreeMap<String, String>) -> Result<Store, StoreError> {
        // `git@host:owner/repo.git#branch`, as `git clone` takes it.
        if git::is_scp_like(location) {
            let with = format!("git+{location}");
            return Box::pin(Store::open(&with, env)).await;
        }
        // `s3:/bucket`, `s3:bucket` and `s3//bucket` mean S3, mistyped.
        let s3_typo = location.starts_with("s3/")
            || location
                .strip_prefix("s3:")
                .is_some_and(|r| !r.starts_with("//"));
        if s3_typo {
            return Err(StoreError::BadLocation {
                location: location.to_owned(),
                hint: "an S3 store is `s3://bucket/prefix` (two slashes after `s3:`)".into(),
            });
        }
        if git::is_git(location) {
            let cwd = std::env::current_dir().unwrap_or_default();
            return Ok(Store {
                backend: Backend::Git(GitBlobs::open(location, &cwd, env)?),
            });
        }
        let backend = match location.split_once("://") {
            Some(("s3", rest)) => Backend::S3(S3Blobs::connect(rest, env).await?),
            Some((scheme, _)) => {
                return Err(StoreError::BadLocation {
                    location: location.to_owned(),
                    hint: format!(
                    "scheme `{scheme}` is not supported: use `s3://bucket/prefix`, `git:BRANCH`, `git+URL#BRANCH` or a directory"
                ),
                })
            }
            // `dir:/x` or `file:x` reads like a scheme but would be a
            // folder named `dir:`: said, not created.
            None if location
                .split_once(':')
                .is_some_and(|(s, _)| s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')) =>
            {
                let scheme = location.split_once(':').map_or("", |(s, _)| s);
                let rest = &location[scheme.len() + 1..];
                return Err(StoreError::BadLocation {
                    location: location.to_owned(),
                    hint: format!(
                        "`{scheme}:` is not a store qod knows: a directory is given as its path (`{rest}`, or `./{location}` for a folder named so); the others are `s3://bucket/prefix`, `git:BRANCH` and `git+URL#BRANCH`"
                    ),
                });
            }
            None => Backend::Dir(DirBlobs::new(location)),
        };
        Ok(Store { backend })
    }

    /// A store in a directory.
    pub fn dir(path: impl Into<PathBuf>) -> Store {
        Store {
            backend: Backend::Dir(DirBlobs::new(path)),
        }
    }

    /// Whether anything was ever recorded here: an index, a run or a
    /// deployment (for a directory, the directory itself).
    pub async fn exists(&self) -> Result<bool, StoreError> {
        if let Backend::Dir(d) = &self.backend {
            return Ok(d.root().exists());
        }
        if self.backend.get(HEAD_KEY).await?.is_some() {
            return Ok(true);
        }
        for prefix in ["runs/", "deployments/"] {
            if !self.backend.list(prefix).await?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Where the history lives.
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// HTTP requests made so far (S3 only; zero for a directory).
    pub fn requests(&self) -> u64 {
        match &self.backend {
            Backend::S3(b) => b.requests(),
            Backend::Git(b) => b.requests(),
            Backend::Dir(_) => 0,
        }
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, String)>, StoreError> {
        let Some(blob) = self.backend.get(key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&blob.bytes)
            .map(|v| Some((v, blob.etag)))
            .map_err(|e| StoreError::Corrupt {
                location: self.location(),
                key: key.to_owned(),
                detail: e.to_string(),
            })
    }

    async fn head(&self) -> Result<(Head, Option<String>), StoreError> {
        Ok(match self.read::<Head>(HEAD_KEY).await? {
            Some((h, etag)) => (h, Some(etag)),
            None => (Head::default(), None),
        })
    }

    /// Visits run summaries (records without samples) newest first until
    /// `visit` breaks. A damaged segment goes to `skipped` and ends the walk.
    pub async fn scan(
        &self,
        visit: impl FnMut(RunRecord) -> ControlFlow<()>,
        skipped: impl FnMut(String),
    ) -> Result<(), StoreError> {
        self.scan_with_deployments(visit, skipped).await.map(|_| ())
    }

    /// [`Store::scan`], also returning the latest deployments, which come
    /// with the first read: one evaluation reads the head once.
    pub async fn scan_with_deployments(
        &self,
        mut visit: impl FnMut(RunRecord) -> ControlFlow<()>,
        mut skipped: impl FnMut(String),
    ) -> Result<Vec<index::IndexedDeployment>, StoreError> {
        let (head, _) = self.head().await?;
        let deployments = head.deployments;
        for run in head.runs {
            if visit(run).is_break() {
                return Ok(deployments);
            }
        }
        let mut older = head.older;
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = older {
            // A damaged or forged index can chain back to a segment already
            // read: walking on would never end.
            if !seen.insert(key.clone()) {
                skipped(format!("index segment `{key}` is reached twice: the index loops, so older runs are not visible (`qod store reindex` rebuilds the index)"));
                return Ok(deployments);
            }
            match self.read::<Segment>(&key).await {
                Ok(Some((segment, _))) => {
                    for run in segment.runs {
                        if visit(run).is_break() {
                            return Ok(deployments);
                        }
                    }
                    older = segment.older;
                }
                Ok(None) => {
                    skipped(format!("index segment `{key}` is missing; older runs are not visible (`qod store reindex` rebuilds the index)"));
                    return Ok(deployments);
                }
                Err(e) => {
                    skipped(e.to_string());
                    return Ok(deployments);
                }
            }
        }
        Ok(deployments)
    }

    /// Runs `attempt` until it succeeds (`Some`) or has lost the race for
    /// the head (`None`) [`CAS_ATTEMPTS`] times, with backoff and full jitter.
    async fn with_retries<T>(
        &self,
        mut attempt: impl AsyncFnMut() -> Result<Option<T>, StoreError>,
    ) -> Result<T, StoreError> {
        for n in 0..CAS_ATTEMPTS {
            if let Some(done) = attempt().await? {
                return Ok(done);
            }
            tokio::time::sleep(jitter(Duration::from_millis(10 << n.min(7)))).await;
        }
        Err(StoreError::Contended {
            location: self.location(),
            key: HEAD_KEY.into(),
            attempts: CAS_ATTEMPTS,
        })
    }

    /// Reads the head, lets `change` edit it, and swaps it in only if no
    /// one else changed it meanwhile.
    async fn update_head(
        &self,
        mut change: impl FnMut(&mut Head) -> bool,
    ) -> Result<(), StoreError> {
        self.with_retries(async || {
            let (mut head, etag) = self.head().await?;
            if !change(&mut head) {
                return Ok(Some(()));
            }
            while let Some((key, segment)) = head.seal() {
                // Content-derived key: a conflict means the same segment is there.
                self.backend.put(&key, to_line(&segment), None).await?;
            }
            let written = self
                .backend
                .put(HEAD_KEY, to_line(&head), etag.as_deref())
                .await?;
            Ok((written == Written::Yes).then_some(()))
        })
        .await
    }

    /// Records a run: the full record once (never overwritten), then its
    /// summary into the index. `true` when it is the store's first.
    pub async fn record(&self, record: &RunRecord) -> Result<bool, StoreError> {
        let key = record_key(record);
        if self.backend.put(&key, to_line(record), None).await? == Written::Conflict {
            return Err(StoreError::Exists {
                location: self.location(),
                key,
            });
        }
        self.index(record)
            .await
            .map_err(|e| StoreError::NotIndexed {
                location: self.location(),
                key,
                source: Box::new(e),
            })
    }

    /// Indexes a recorded run; `true` when this made the store's first index.
    async fn index(&self, record: &RunRecord) -> Result<bool, StoreError> {
        let summary = index::summary(record);
        let mut first = false;
        self.update_head(|head| {
            first = head.runs.is_empty() && head.older.is_none() && head.deployments.is_empty();
            head.insert(summary.clone())
        })
        .await?;
        Ok(first)
    }

    /// Records a run that may have been recorded before (a spooled run
    /// uploaded again): an existing record is left as it is and indexed.
    pub async fn record_again(&self, record: &RunRecord) -> Result<(), StoreError> {
        match self.record(record).await {
            Err(StoreError::Exists { .. }) => self.index(record).await.map(|_| ()),
            other => other.map(|_| ()),
        }
    }

    /// Records a deployment and makes it the branch's latest.
    pub async fn record_deployment(&self, d: &DeploymentRecord) -> Result<(), StoreError> {
        let key = format!(
            "deployments/date={}/{}.json",
            d.at.get(..10).unwrap_or("unknown"),
            d.id
        );
        if self.backend.put(&key, to_line(d), None).await? == Written::Conflict {
            return Err(StoreError::Exists {
                location: self.location(),
                key,
            });
        }
        let deployment = Deployment {
            revision: d.revision.clone(),
            at: d.at.clone(),
            run_id: d.run_id.clone(),
            source: "deployment".into(),
        };
        self.update_head(|head| {
            head.deployed(d.branch.clone(), deployment.clone());
            true
        })
        .await
    }

    /// The newest `max` recorded deployments, oldest first.
    pub async fn deployments(&self, max: usize) -> Result<Vec<DeploymentRecord>, StoreError> {
        let mut keys = self.backend.list("deployments/").await?;
        keys.retain(|k| k.ends_with(".json"));
        keys.sort();
        let skip = keys.len().saturating_sub(max);
        let mut out = Vec::new();
        for key in &keys[skip..] {
            if let Some((d, _)) = self.read::<DeploymentRecord>(key).await? {
                out.push(d);
            }
        }
        out.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(out)
    }

    /// Keys of every run record, oldest first; with `since` (`YYYY-MM-DD`),
    /// only those of that day and later.
    pub async fn run_keys(&self, since: Option<&str>) -> Result<Vec<String>, StoreError> {
        let mut keys = self.backend.list("runs/").await?;
        keys.retain(|k| k.ends_with(".json"));
        if let Some(since) = since {
            keys.retain(|k| {
                k.strip_prefix("runs/date=")
                    .is_some_and(|rest| rest.get(..10).is_some_and(|d| d >= since))
            });
        }
        Ok(keys)
    }

    /// Keys of the run records of one day (`YYYY-MM-DD`, UTC): a listing
    /// of that day's folder only.
    pub async fn run_keys_on(&self, day: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = self.backend.list(&format!("runs/date={day}/")).await?;
        keys.retain(|k| k.ends_with(".json"));
        Ok(keys)
    }

    /// The full record (with samples) of a run the index summarised.
    pub async fn full_record(&self, summary: &RunRecord) -> Result<RunRecord, StoreError> {
        self.read_record(&record_key(summary)).await
    }

    pub async fn read_record(&self, key: &str) -> Result<RunRecord, StoreError> {
        match self.read::<RunRecord>(key).await? {
            Some((r, _)) => Ok(r),
            None => Err(StoreError::Corrupt {
                location: self.location(),
                key: key.to_owned(),
                detail: "it disappeared while being read".into(),
            }),
        }
    }

    /// The head with its tag, every summary it reaches (newest first) and
    /// the keys of its segments.
    async fn whole_index(
        &self,
    ) -> Result<(Head, Option<String>, Vec<RunRecord>, Vec<String>), StoreError> {
        let (mut head, etag) = self.head().await?;
        let mut runs = std::mem::take(&mut head.runs);
        let mut segments = Vec::new();
        let mut older = head.older.clone();
        while let Some(key) = older {
            if segments.contains(&key) {
                return Err(StoreError::Corrupt {
                    location: self.location(),
                    key,
                    detail: "the index's segments loop back to this one; run `qod store reindex` to rebuild the index from the records".into(),
                });
            }
            let (segment, _) =
                self.read::<Segment>(&key)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt {
                        location: self.location(),
                        key: key.clone(),
                        detail: "the segment is missing".into(),
                    })?;
            runs.extend(segment.runs);
            segments.push(key);
            older = segment.older;
        }
        Ok((head, etag, runs, segments))
    }

    /// Replaces the whole index with `runs` (summaries, any order): sealed
    /// segments written first, then the head swapped in if `expect` still
    /// holds. Returns the keys of the new index's segments, or `None` when
    /// the head changed meanwhile.
    async fn write_index(
        &self,
        mut runs: Vec<RunRecord>,
        deployments: Vec<index::IndexedDeployment>,
        expect: Option<&str>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        runs.sort_by(|a, b| b.run_id.cmp(&a.run_id));
        runs.dedup_by(|a, b| a.run_id == b.run_id);
        let mut head = Head {
            index_version: index::INDEX_VERSION,
            deployments,
            ..Head::default()
        };
        // Seal from the oldest end so each segment points at the one before.
        let keep_in_head = runs.len().min(index::HEAD_MAX - index::SEGMENT_SIZE);
        let (newest, sealed) = runs.split_at(keep_in_head);
        let mut keys = Vec::new();
        for chunk in sealed.rchunks(index::SEGMENT_SIZE) {
            let segment = Segment {
                index_version: index::INDEX_VERSION,
                runs: chunk.to_vec(),
                older: head.older.take(),
            };
            let key = index::segment_key(&segment);
            self.backend.put(&key, to_line(&segment), None).await?;
            head.sealed_runs += segment.runs.len() as u64;
            keys.push(key.clone());
            head.older = Some(key);
        }
        head.runs = newest.to_vec();
        let written = self.backend.put(HEAD_KEY, to_line(&head), expect).await?;
        Ok((written == Written::Yes).then_some(keys))
    }

    /// Adds many runs at once, newest last or in any order: each record is
    /// written (when `with_records`) and the index rebuilt in one go. For
    /// seeding a store from an export, and for tests and benchmarks.
    pub async fn import(
        &self,
        records: Vec<RunRecord>,
        with_records: bool,
    ) -> Result<(), StoreError> {
        if with_records {
            for r in &records {
                // A record that is there already was imported before.
                self.backend.put(&record_key(r), to_line(r), None).await?;
            }
        }
        let summaries: Vec<RunRecord> = records.iter().map(index::summary).collect();
        self.with_retries(async || {
            let (head, etag, mut runs, _) = self.whole_index().await?;
            runs.extend(summaries.iter().cloned());
            Ok(self
                .write_index(runs, head.deployments, etag.as_deref())
                .await?
                .map(|_| ()))
        })
        .await
    }

    /// Rebuilds the index from the run records themselves: repairs a
    /// damaged index, and indexes runs whose writer died between writing
    /// the record and indexing it.
    pub async fn reindex(&self) -> Result<Reindexed, StoreError> {
        let mut summaries = Vec::new();
        let mut damaged = Vec::new();
        let keys = self.run_keys(None).await?;
        let blobs = self.get_many(&keys).await?;
        for (key, bytes) in keys.into_iter().zip(blobs) {
            // A record removed meanwhile (a prune) is not in the history.
            let Some(bytes) = bytes else { continue };
            match serde_json::from_slice::<RunRecord>(&bytes) {
                Ok(r) => summaries.push(index::summary(&r)),
                Err(_) => damaged.push((key, bytes)),
            }
        }
        let quarantined = self.quarantine_all(damaged).await?;
        let swept = self.sweep_temporary_files()?;
        let n = summaries.len();
        self.with_retries(async || {
            // A damaged head loses only its deployments list.
            let (deployments, etag) = match self.backend.get(HEAD_KEY).await? {
                Some(blob) => (
                    serde_json::from_slice::<Head>(&blob.bytes)
                        .map(|h| h.deployments)
                        .unwrap_or_default(),
                    Some(blob.etag),
                ),
                None => (Vec::new(), None),
            };
            Ok(self
                .write_index(summaries.clone(), deployments, etag.as_deref())
                .await?
                .map(|_| n))
        })
        .await
        .map(|runs| Reindexed {
            runs,
            quarantined: quarantined.clone(),
            swept,
        })
    }

    /// The blobs at `keys`: on a git branch in one batch, not a fetch
    /// and a read each; elsewhere one by one.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if let Backend::Git(g) = &self.backend {
            return g.get_many(keys).await;
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.backend.get(key).await?.map(|b| b.bytes));
        }
        Ok(out)
    }

    /// Moves damaged records, with their content, aside (see
    /// [`Store::quarantine`]): on a git branch in one commit and push, not
    /// two a record.
    async fn quarantine_all(
        &self,
        damaged: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<String>, StoreError> {
        let Backend::Git(g) = &self.backend else {
            let mut out = Vec::new();
            for (key, _) in &damaged {
                out.push(self.quarantine(key).await?);
            }
            return Ok(out);
        };
        let moves: Vec<_> = damaged
            .into_iter()
            .map(|(key, bytes)| {
                let to = format!("{QUARANTINE}{key}");
                (key, to, Some(bytes))
            })
            .collect();
        g.move_many(&moves).await?;
        Ok(moves.into_iter().map(|(_, to, _)| to).collect())
    }

    /// Moves a damaged record aside, to `quarantine/<key>`: out of the
    /// history, never deleted. Returns where it went.
    async fn quarantine(&self, key: &str) -> Result<String, StoreError> {
        let to = format!("{QUARANTINE}{key}");
        if let Some(blob) = self.backend.get(key).await? {
            self.backend.put(&to, blob.bytes, None).await?;
        }
        self.backend.delete(key).await?;
        Ok(to)
    }

    /// Removes temporary files that writers killed mid-write left behind
    /// (directory stores only; older than [`STALE_TEMPORARY`], so that no
    /// writer still at work loses its file). Returns how many.
    pub fn sweep_temporary_files(&self) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Dir(d) => d.sweep_temporary(STALE_TEMPORARY),
            Backend::S3(_) | Backend::Git(_) => Ok(0),
        }
    }

    /// Removes `keys`: one commit on a git branch, one by one elsewhere.
    async fn delete_all(&self, keys: &[String]) -> Result<(), StoreError> {
        if let Backend::Git(g) = &self.backend {
            return g.delete_many(keys).await;
        }
        for key in keys {
            self.backend.delete(key).await?;
        }
        Ok(())
    }

    /// Removes old runs: their records, and their entries in the index.
    /// Parts and suspended gates go with the runs of their time, but never
    /// before they are [`IN_FLIGHT`] old.
    /// The index is swapped in only if no run was recorded meanwhile (else
    /// it is rebuilt again), so a concurrent run is never dropped.
    pub async fn prune(
        &self,
        keep: Keep,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<PruneReport, StoreError> {
        let (removed, kept, old_segments, new_segments) = self
            .with_retries(async || {
                let (head, etag, runs, old_segments) = self.whole_index().await?;
                let (kept, removed): (Vec<RunRecord>, Vec<RunRecord>) = match keep {
                    Keep::Newest(n) => {
                        let mut runs = runs;
                        runs.sort_by(|a, b| b.run_id.cmp(&a.run_id));
                        let removed = runs.split_off(n.min(runs.len()));
                        (runs, removed)
                    }
                    Keep::Days(d) => {
                        let cutoff =
                            crate::time::rfc3339(now - chrono::Duration::days(i64::from(d)));
                        runs.into_iter().partition(|r| r.started_at >= cutoff)
                    }
                };
                if removed.is_empty() {
                    return Ok(Some((removed, kept, Vec::new(), Vec::new())));
                }
                let swapped = self
                    .write_index(kept.clone(), head.deployments, etag.as_deref())
                    .await?;
                Ok(swapped.map(|new| (removed, kept, old_segments, new)))
            })
            .await?;
        // The new index no longer names them: the old segments and the
        // removed records can go.
        let mut gone: Vec<String> = old_segments
            .iter()
            .filter(|k| !new_segments.contains(k))
            .cloned()
            .collect();
        gone.extend(removed.iter().map(record_key));
        self.delete_all(&gone).await?;
        // Parts of gates spread over jobs, and suspended gates, go with the
        // runs of their time.
        let oldest_kept = kept
            .iter()
            .filter_map(|r| chrono::DateTime::parse_from_rfc3339(&r.started_at).ok())
            .map(|t| t.timestamp_millis())
            .min()
            .unwrap_or(now.timestamp_millis());
        // Work still in flight is never pruned: a part waiting for its
        // group's `combine`, a gate suspended for a CodePipeline job. Both
        // are kept for a day, whatever `--keep` says.
        let in_flight = (now - IN_FLIGHT).timestamp_millis();
        let removed_parts = self
            .prune_groups(oldest_kept.min(in_flight).max(0) as u64)
            .await?;
        // A git branch keeps what was removed in its history: start it
        // anew, unless it holds anything but qod's own files.
        let mut not_compacted = Vec::new();
        if let Backend::Git(g) = &self.backend {
            if !removed.is_empty() || removed_parts > 0 {
                if let git::Compacted::Refused(foreign) = g.compact().await? {
                    not_compacted = foreign;
                }
            }
        }
        Ok(PruneReport {
            removed_parts,
            removed_runs: removed.len(),
            kept_runs: kept.len(),
            not_compacted,
        })
    }
}
