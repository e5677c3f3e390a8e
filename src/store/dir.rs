//! Blobs in a directory. A new blob is written to a temporary file, synced,
//! then linked into place without replacing anything, so a killed writer
//! leaves no half blob and two writers never both win. Replacing a blob
//! holds an exclusive lock on a lock file beside it while it compares tags
//! and renames the new content into place; readers never wait, since a
//! rename is atomic. The tag is the file's inode, size and change time,
//! all of which a rename changes.

use super::blobs::{Blob, Blobs, Written};
use super::StoreError;
use nix::fcntl::{Flock, FlockArg};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Blobs in a directory.
#[derive(Debug, Clone)]
pub struct DirBlobs {
    root: PathBuf,
}

const TEMP_PREFIX: &str = ".tmp-";

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn etag(meta: &std::fs::Metadata) -> String {
    format!(
        "{:x}-{:x}-{:x}.{:x}",
        meta.ino(),
        meta.len(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

impl DirBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirBlobs { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes the temporary files older than `age` under the root.
    pub fn sweep_temporary(&self, age: std::time::Duration) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("list", &dir)(e)),
            };
            for e in entries.flatten() {
                let path = e.path();
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let stale = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|a| a >= age);
                if stale && e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    std::fs::remove_file(&path).map_err(io("remove", &path))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn get_sync(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        let path = self.path(key);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &path)(e)),
        };
        // The tag and the content come from the same open file, so they
        // agree even when a writer renames a new version in meanwhile.
        let meta = file.metadata().map_err(io("read", &path))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io("read", &path))?;
        Ok(Some(Blob {
            bytes,
            etag: etag(&meta),
        }))
    }

    fn temp_in(&self, dir: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(io("create a temporary file in", dir))?;
        tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
        tmp.as_file().sync_all().map_err(io("sync", dir))?;
        Ok(tmp)
    }

    fn put_sync(
        &self,
        key: &str,
        bytes: &[u8],
        if_match: Option<&str>,
    ) -> Result<Written, StoreError> {
        let path = self.path(key);
        let dir = path.parent().expect("keys have a folder").to_owned();
        let tmp = self.temp_in(&dir, bytes)?;
        let written = match if_match {
            None => match tmp.persist_noclobber(&path) {
                Ok(_) => Written::Yes,
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Written::Conflict,
                Err(e) => return Err(io("write", &path)(e.error)),
            },
            Some(expected) => {
                let lock_path = dir.join(format!(
                    ".{}.lock",
                    path.file_name().expect("named").to_string_lossy()
                ));
                let lock_file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)
                    .map_err(io("open the lock file", &lock_path))?;
                let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
                    .map_err(|(_, errno)| io("lock", &lock_path)(std::io::Error::from(errno)))?;
                let current = match std::fs::metadata(&path) {
                    Ok(m) => Some(etag(&m)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(io("read", &path)(e)),
                };
                if current.as_deref() != Some(expected) {
                    Written::Conflict
                } else {
                    tmp.persist(&path)
                        .map_err(|e| io("write", &path)(e.error))?;
                    Written::Yes
                }
            }
        };
        if written == Written::Yes {
            // Make the new directory entry itself durable.
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
        }
        Ok(written)
    }

    fn list_sync(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Keys are `/`-separated; list the deepest folder the prefix names.
        let (folder, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let mut out = Vec::new();
        let mut stack = vec![folder.to_owned()];
        while let Some(rel) = stack.pop() {
            let dir = self.root.join(&rel);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound) => continue,
                Err(e) => return Err(io("list", &dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io("list", &dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir {
                    if key.starts_with(prefix) || prefix.starts_with(&format!("{key}/")) {
                        stack.push(key);
                    }
                } else if key.starts_with(prefix) {
                    out.push(key);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

// Local file I/O is quick, and the runtime here only supervises child
// processes, so the blocking calls are made in place.
impl Blobs for DirBlobs {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        self.get_sync(key)
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<Written, StoreError> {
        self.put_sync(key, &bytes, if_match)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.list_sync(prefix)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &path)(e)),
        }
    }
}
