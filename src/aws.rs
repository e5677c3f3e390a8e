//! The AWS SDK configuration qod's clients share: region, credentials and
//! endpoints from the given environment first, then the standard chain
//! (profiles, SSO, container and instance roles); bounded retries and
//! timeouts so an unreachable service ends a run instead of hanging it.

use std::collections::BTreeMap;
use std::time::Duration;

/// How many times one call is tried before the service counts as unreachable.
pub const MAX_ATTEMPTS: u32 = 4;

/// SDK configuration for a service whose endpoint variable is
/// `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `S3`, `CODEPIPELINE`). Returns the
/// configuration and whether a custom endpoint was set.
pub async fn sdk_config(
    env: &BTreeMap<String, String>,
    service: &str,
) -> (aws_config::SdkConfig, bool) {
    let var = |k: &str| env.get(k).filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    // Read from `env` rather than the process so that what qod was given
    // is what it uses.
    let endpoint = var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| var("AWS_ENDPOINT_URL"));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            key,
            secret,
            var("AWS_SESSION_TOKEN").cloned(),
            None,
            "environment",
        ));
    }
    let config = loader
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await;
    (config, endpoint.is_some())
}
