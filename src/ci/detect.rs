//! Reading each provider's variables into the protocol's `pipeline` and
//! `source`.

use super::Provider;
use crate::protocol::{Pipeline, Source};
use std::collections::BTreeMap;
use std::path::Path;

type Env = BTreeMap<String, String>;

/// What git says about the checkout: revision and branch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GitInfo {
    pub revision: Option<String>,
    pub branch: Option<String>,
}

/// The revision and branch of `cwd`: from its `.git` files when they say
/// it plainly, else from git, in one call. Detached checkouts (CI) have
/// no branch.
pub fn git_info(cwd: &Path) -> GitInfo {
    if let Some(info) = super::head::read(cwd) {
        return info;
    }
    let Some(out) = git(cwd, &["rev-parse", "HEAD", "--abbrev-ref", "HEAD"]) else {
        return GitInfo::default();
    };
    let mut lines = out.lines().map(str::trim);
    GitInfo {
        revision: lines.next().map(str::to_owned),
        branch: lines.next().filter(|b| *b != "HEAD").map(str::to_owned),
    }
}

/// Fills what `provider` tells; `git` (called only when
/// the provider leaves something out) fills the rest of `source`.
pub fn detect(
    env: &Env,
    provider: Provider,
    cwd: &Path,
    git: impl FnOnce() -> GitInfo,
) -> (Pipeline, Source) {
    let (mut pipeline, mut source) = provider.context(env);
    if source.revision.is_none() || source.branch.is_none() {
        let g = git();
        source.revision = source.revision.or(g.revision);
        source.branch = source.branch.or(g.branch);
    }
    if pipeline.name.is_none() && provider == Provider::Local {
        pipeline.name = cwd.file_name().map(|n| n.to_string_lossy().into_owned());
    }
    (pipeline, source)
}

pub(super) fn git(cwd: &Path, args: &[&str]) -> Option<String> {
    crate::git::run(cwd, args)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Why a `--context` document cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    #[error("cannot read the context `{file}`")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid context `{file}`: {message}")]
    Invalid { file: String, message: String },
}

/// Merges a JSON document `{"pipeline": {…}, "source": {…}}` over what was
/// detected: fields it gives replace detected ones, `null` removes one.
pub fn merge_context(
    file: &str,
    text: &str,
    pipeline: &mut Pipeline,
    source: &mut Source,
) -> Result<(), ContextError> {
    let invalid = |message: String| ContextError::Invalid {
        file: file.to_owned(),
        message,
    };
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("expected a JSON object with `pipeline` and/or `source`".into()))?;
    if let Some(k) = obj.keys().find(|k| *k != "pipeline" && *k != "source") {
        return Err(invalid(format!(
            "unknown field `{k}`; a context gives `pipeline` and/or `source`"
        )));
    }
    fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
        if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(p) = obj.get("pipeline") {
        let mut v = serde_json::to_value(&*pipeline).expect("serializes");
        merge(&mut v, p);
        *pipeline = serde_json::from_value(v).map_err(|e| invalid(format!("/pipeline: {e}")))?;
    }
    if let Some(s) = obj.get("source") {
        let mut v = serde_json::to_value(&*source).expect("serializes");
        merge(&mut v, s);
        *source = serde_json::from_value(v).map_err(|e| invalid(format!("/source: {e}")))?;
    }
    Ok(())
}
