//! CodePipeline: report a gate's decision as a job result, from a Lambda
//! invoke event (`qod codepipeline lambda-event`) or as a job worker for a
//! custom action (`qod codepipeline worker`). A pass or warn is
//! `PutJobSuccessResult` with an execution summary and the output variables
//! `decision`, `score` and `run_id`; a fail is `PutJobFailureResult` with
//! `JobFailed`; a policy that cannot be used is `ConfigurationError`.
//! Only these commands call the job API: inside a CodeBuild or Commands
//! action the exit code of `qod run` is the result.

use crate::decision::Decision;
use crate::exit::Exit;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionOwner, ActionTypeId, ExecutionDetails, FailureDetails, FailureType,
};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// CodePipeline's limits on what a job result may carry.
pub const MAX_SUMMARY: usize = 2048;
pub const MAX_CONTINUATION_TOKEN: usize = 2048;
pub const MAX_FAILURE_MESSAGE: usize = 5000;

/// Why a job could not be handled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    #[error("invalid Lambda event: {0}; expected the `CodePipeline.job` event CodePipeline sends to a Lambda invoke action")]
    Event(String),
    #[error("CodePipeline `{operation}` failed for job `{job}`: {detail}")]
    Api {
        operation: &'static str,
        job: String,
        detail: String,
    },
}

/// What a job asks of the gate: from `UserParameters` (a policy path, or
/// JSON with `policy`, `store`, `strict`) or a custom action's configuration
/// (`Policy`, `Store`, `Strict`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct JobConfig {
    #[serde(default, alias = "Policy")]
    pub policy: Option<String>,
    #[serde(default, alias = "Store")]
    pub store: Option<String>,
    #[serde(default, alias = "Strict", deserialize_with = "bool_or_string")]
    pub strict: bool,
}

fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        S(String),
    }
    Ok(match <B as serde::Deserialize>::deserialize(d)? {
        B::B(b) => b,
        B::S(s) => s.eq_ignore_ascii_case("true"),
    })
}

impl JobConfig {
    /// From a Lambda action's `UserParameters`.
    pub fn from_user_parameters(p: Option<&str>) -> Result<JobConfig, String> {
        match p.map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(JobConfig::default()),
            Some(p) if p.starts_with('{') => serde_json::from_str(p).map_err(|e| {
                format!("not valid JSON ({e}); give a policy path, or {{\"policy\": \"qod.yaml\", \"store\": \"s3://bucket/prefix\"}}")
            }),
            Some(p) => Ok(JobConfig {
                policy: Some(p.to_owned()),
                ..JobConfig::default()
            }),
        }
    }

    /// From a custom action's configuration properties.
    pub fn from_configuration(c: &HashMap<String, String>) -> JobConfig {
        let get = |k: &str| {
            c.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        JobConfig {
            policy: get("policy"),
            store: get("store"),
            strict: get("strict").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        }
    }
}

/// What was reported for a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Success {
        summary: String,
        variables: BTreeMap<String, String>,
    },
    /// The action is still working: CodePipeline invokes it again with
    /// `token` (no output variables may come with it).
    Continue {
        summary: String,
        token: String,
    },
    Failure {
        kind: FailureType,
        message: String,
    },
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The job result for a decision and the exit code it led to (or for the
/// reason no decision was made).
pub fn report_for(outcome: Result<(&Decision, Exit), &dyn std::error::Error>) -> Report {
    match outcome {
        Ok((d, Exit::Pass)) => Report::Success {
            summary: truncate(
                &format!("qod {}: {}", d.decision.as_str(), d.summary),
                MAX_SUMMARY,
            ),
            variables: [
                ("decision".to_owned(), d.decision.as_str().to_owned()),
                ("score".to_owned(), crate::units::format_value(d.score)),
                ("run_id".to_owned(), d.run.id.to_string()),
            ]
            .into(),
        },
        Ok((d, exit)) => Report::Failure {
            kind: FailureType::JobFailed,
            message: truncate(
                &match (&d.store.error, exit) {
                    (Some(e), Exit::NoDecision) => format!(
                        "qod: the history store failed: {e}; decision was {}: {}",
                        d.decision.as_str(),
                        d.summary
                    ),
                    _ => format!("qod {}: {}", d.decision.as_str(), d.summary),
                },
                MAX_FAILURE_MESSAGE,
            ),
        },
        Err(e) => Report::Failure {
            kind: FailureType::ConfigurationError,
            message: truncate(
                &format!(
                    "qod could not make a decision: {}",
                    crate::diag::error_chain(e)
                ),
                MAX_FAILURE_MESSAGE,
            ),
        },
    }
}

/// The job result of an action still at work: invoke it again with
/// `token`.
pub fn continue_report(summary: &str, token: &str) -> Report {
    Report::Continue {
        summary: truncate(summary, MAX_SUMMARY),
        token: token.to_owned(),
    }
}

/// A CodePipeline client configured from `env` (endpoint overrides included).
pub async fn client(env: &BTreeMap<String, String>) -> aws_sdk_codepipeline::Client {
    let (config, _) = crate::aws::sdk_config(env, "CODEPIPELINE").await;
    aws_sdk_codepipeline::Client::new(&config)
}

fn api_error<E: std::error::Error + 'static>(operation: &'static str, job: &str, e: E) -> JobError {
    JobError::Api {
        operation,
        job: job.to_owned(),
        detail: crate::diag::error_chain(&e),
    }
}

/// Sends the job result.
pub async fn send_report(
    client: &aws_sdk_codepipeline::Client,
    job: &str,
    report: &Report,
    run_id: Option<&str>,
) -> Result<(), JobError> {
    match report {
        Report::Continue { summary, token } => client
            .put_job_success_result()
            .job_id(job)
            .continuation_token(token)
            .execution_details(ExecutionDetails::builder().summary(summary).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error("PutJobSuccessResult", job, e)),
        Report::Success { summary, variables } => {
            let mut req = client
                .put_job_success_result()
                .job_id(job)
                .execution_details(
                    ExecutionDetails::builder()
                        .summary(summary)
                        .percent_complete(100)
                        .build(),
                );
            for (k, v) in variables {
                req = req.output_variables(k, v);
            }
            req.send()
                .await
                .map(|_| ())
                .map_err(|e| api_error("PutJobSuccessResult", job, e))
        }
        Report::Failure { kind, message } => {
            let mut details = FailureDetails::builder()
                .r#type(kind.clone())
                .message(message);
            if let Some(id) = run_id {
                details = details.external_execution_id(id);
            }
            client
                .put_job_failure_result()
                .job_id(job)
                .failure_details(details.build().expect("type and message are set"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| api_error("PutJobFailureResult", job, e))
        }
    }
}

/// A Lambda invoke event: the job, its `UserParameters`, and the
/// continuation token when the action asked to be invoked again.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub job: String,
    pub params: Option<String>,
    pub continuation: Option<String>,
}

/// The job id, `UserParameters` and continuation token of a Lambda invoke
/// event.
pub fn parse_event(event: &str) -> Result<Event, JobError> {
    let v: serde_json::Value =
        serde_json::from_str(event).map_err(|e| JobError::Event(e.to_string()))?;
    let job = v
        .get("CodePipeline.job")
        .ok_or_else(|| JobError::Event("no `CodePipeline.job` field".into()))?;
    let id = job
        .get("id")
        .and_then(|i| i.as_str())
        .ok_or_else(|| JobError::Event("`CodePipeline.job` has no `id`".into()))?;
    let text = |ptr: &str| job.pointer(ptr).and_then(|p| p.as_str()).map(str::to_owned);
    Ok(Event {
        job: id.to_owned(),
        params: text("/data/actionConfiguration/configuration/UserParameters"),
        continuation: text("/data/continuationToken").filter(|t| !t.is_empty()),
    })
}

/// Settings of `qod codepipeline worker`.
#[derive(Debug, Clone)]
pub struct Worker {
    pub category: String,
    pub provider: String,
    pub version: String,
    /// Handle at most one job, and exit when there is none.
    pub once: bool,
    pub poll_interval: Duration,
}

impl Worker {
    /// The custom action this worker takes jobs of.
    pub fn action(&self) -> ActionTypeId {
        ActionTypeId::builder()
            .category(ActionCategory::from(self.category.as_str()))
            .owner(ActionOwner::Custom)
            .provider(&self.provider)
            .version(&self.version)
            .build()
            .expect("all fields are set")
    }
}

/// What one poll for a job found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// No job is waiting.
    None,
    /// A job, claimed, with what it asks of the gate, and the continuation
    /// token when it resumes a suspended gate.
    Job {
        id: String,
        config: JobConfig,
        continuation: Option<String>,
    },
    /// A job another worker claimed first (or that could not be claimed).
    Skipped(String),
}

/// Polls once for a job of `action` and claims it.
pub async fn claim(
    client: &aws_sdk_codepipeline::Client,
    action: &ActionTypeId,
) -> Result<Claim, JobError> {
    let polled = client
        .poll_for_jobs()
        .action_type_id(action.clone())
        .max_batch_size(1)
        .send()
        .await
        .map_err(|e| api_error("PollForJobs", "-", e))?;
    let Some(job) = polled.jobs().first().cloned() else {
        return Ok(Claim::None);
    };
    let id = job.id().unwrap_or_default().to_owned();
    // Another worker may have claimed it since the poll: skip it then.
    match client
        .acknowledge_job()
        .job_id(&id)
        .nonce(job.nonce().unwrap_or_default())
        .send()
        .await
    {
        Ok(ack) if ack.status().is_none_or(|s| s.as_str() == "InProgress") => {}
        Ok(ack) => {
            return Ok(Claim::Skipped(format!(
                "job {id} is {:?}; skipped",
                ack.status()
            )))
        }
        Err(e) => {
            return Ok(Claim::Skipped(format!(
                "job {id} was not claimed ({}); skipped",
                crate::diag::error_chain(&e)
            )))
        }
    }
    let config = job
        .data()
        .and_then(|d| d.action_configuration())
        .and_then(|c| c.configuration())
        .map(JobConfig::from_configuration)
        .unwrap_or_default();
    let continuation = job
        .data()
        .and_then(|d| d.continuation_token())
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok(Claim::Job {
        id,
        config,
        continuation,
    })
}
