//! `qod deployed`: records that a revision reached production.

use super::{CommandError, Env};
use crate::record::DeploymentRecord;
use crate::store::Store;
use std::path::Path;

/// What `qod deployed` was told (each default comes from the CI or git).
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub revision: Option<String>,
    pub run_id: Option<String>,
    pub branch: Option<String>,
}

/// Records the deployment; returns the record and the store's location.
pub async fn deployed(
    env: &Env,
    location: &str,
    given: Deployment,
    cwd: &Path,
) -> Result<(DeploymentRecord, String), CommandError> {
    let provider = crate::ci::Provider::detect(env);
    let (pipeline, source) = crate::ci::detect(env, provider, cwd, || crate::ci::git_info(cwd));
    // A deployment without a revision is of no use to anything that reads it.
    if given.revision.is_none() && source.revision.is_none() {
        return Err(CommandError::Usage(
            "cannot tell which revision was deployed: this is no git checkout and no CI variable names the commit; give it with `--revision SHA`".into(),
        ));
    }
    let store = Store::open(location, env).await?;
    let record = DeploymentRecord {
        record_version: crate::record::DEPLOYMENT_VERSION,
        id: uuid::Uuid::now_v7().to_string(),
        branch: given.branch.or(source.branch),
        revision: given.revision.or(source.revision),
        at: crate::time::rfc3339(crate::time::now()),
        run_id: given.run_id.map(crate::ids::RunId::new),
        pipeline,
    };
    store.record_deployment(&record).await?;
    Ok((record, store.location()))
}
