//! The CI systems qod knows, as a type: each in its own file with what it
//! answers (its variables as the protocol's `pipeline` and `source`, the
//! group its jobs share), and [`Provider`] dispatching to them. A provider
//! is detected once per run; adding one is a variant here, and the
//! compiler then names every `match` it must answer in.

mod codebuild;
mod github;
mod gitlab;
mod jenkins;

use crate::protocol::{Pipeline, Source};
use std::collections::BTreeMap;
use std::path::Path;

type Env = BTreeMap<String, String>;

/// The CI system running qod, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    CodeBuild,
    GitHub,
    GitLab,
    Jenkins,
    /// No CI: a developer's machine.
    Local,
}

impl Provider {
    /// Every provider, in the order detection tries them.
    pub const ALL: [Provider; 5] = [
        Provider::CodeBuild,
        Provider::GitHub,
        Provider::GitLab,
        Provider::Jenkins,
        Provider::Local,
    ];

    /// The provider whose variables are set (the first, in [`Provider::ALL`]'s
    /// order; `Local` when none is).
    pub fn detect(env: &Env) -> Provider {
        Provider::ALL
            .into_iter()
            .find(|p| p.is_set(env))
            .unwrap_or(Provider::Local)
    }

    /// Whether `env` is this provider's.
    fn is_set(self, env: &Env) -> bool {
        match self {
            Provider::CodeBuild => get(env, "CODEBUILD_BUILD_ID").is_some(),
            Provider::GitHub => get(env, "GITHUB_ACTIONS") == Some("true"),
            Provider::GitLab => get(env, "GITLAB_CI").is_some(),
            Provider::Jenkins => {
                get(env, "JENKINS_URL").is_some() || get(env, "JENKINS_HOME").is_some()
            }
            Provider::Local => true,
        }
    }

    /// Its name in the decision's `pipeline.provider`: a contract.
    pub fn name(self) -> &'static str {
        match self {
            Provider::CodeBuild => "codebuild",
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Jenkins => "jenkins",
            Provider::Local => "local",
        }
    }

    /// The pipeline and source its variables tell.
    pub fn context(self, env: &Env) -> (Pipeline, Source) {
        match self {
            Provider::CodeBuild => codebuild::context(env),
            Provider::GitHub => github::context(env),
            Provider::GitLab => gitlab::context(env),
            Provider::Jenkins => jenkins::context(env),
            Provider::Local => (
                Pipeline {
                    provider: self.name().into(),
                    ..Pipeline::default()
                },
                Source::default(),
            ),
        }
    }

    /// The group every job of one pipeline run shares, for a gate spread
    /// over jobs (`qod run --part`, `qod combine`). A re-run job keeps it.
    pub fn group(self, env: &Env) -> Option<String> {
        match self {
            Provider::CodeBuild => codebuild::group(env),
            Provider::GitHub => github::group(env),
            Provider::GitLab => gitlab::group(env),
            Provider::Jenkins => jenkins::group(env),
            Provider::Local => None,
        }
    }

    /// What to do when it has no group to give.
    pub fn group_hint(self) -> &'static str {
        match self {
            Provider::CodeBuild => {
                " (in CodePipeline, pass `#{codepipeline.PipelineExecutionId}` as `QOD_GROUP`)"
            }
            Provider::GitHub | Provider::GitLab | Provider::Jenkins | Provider::Local => "",
        }
    }

    /// The runner image or machine class the CI names, for the run's
    /// runner fingerprint: GitHub's image and its version, GitLab's runner
    /// tags (else its description), CodeBuild's build image, Jenkins's node.
    pub fn runner_image(self, env: &Env) -> Option<String> {
        match self {
            Provider::GitHub => match (get(env, "ImageOS"), get(env, "ImageVersion")) {
                (Some(os), Some(v)) => Some(format!("{os}/{v}")),
                (Some(os), None) => Some(os.to_owned()),
                _ => owned(env, "RUNNER_ENVIRONMENT"),
            },
            Provider::GitLab => first(env, &["CI_RUNNER_TAGS", "CI_RUNNER_DESCRIPTION"]),
            Provider::CodeBuild => owned(env, "CODEBUILD_BUILD_IMAGE"),
            Provider::Jenkins => owned(env, "NODE_NAME"),
            Provider::Local => None,
        }
    }

    /// The file describing the event that started the run (a pull
    /// request's number, base and head), where the provider writes one.
    pub fn event_file(self, env: &Env) -> Option<&Path> {
        match self {
            Provider::GitHub => get(env, "GITHUB_EVENT_PATH").map(Path::new),
            Provider::CodeBuild | Provider::GitLab | Provider::Jenkins | Provider::Local => None,
        }
    }

    /// Whether the job log understands workflow commands (`::error::`,
    /// `::stop-commands::`): annotations and a summary for them.
    pub fn annotates(self) -> bool {
        match self {
            Provider::GitHub => true,
            Provider::CodeBuild | Provider::GitLab | Provider::Jenkins | Provider::Local => false,
        }
    }

    /// The job summary file and the step outputs file, where the provider
    /// has them.
    pub fn job_files(self, env: &Env) -> (Option<&Path>, Option<&Path>) {
        match self {
            Provider::GitHub => (
                get(env, "GITHUB_STEP_SUMMARY").map(Path::new),
                get(env, "GITHUB_OUTPUT").map(Path::new),
            ),
            Provider::CodeBuild | Provider::GitLab | Provider::Jenkins | Provider::Local => {
                (None, None)
            }
        }
    }
}

fn get<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    env.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn owned(env: &Env, name: &str) -> Option<String> {
    get(env, name).map(str::to_owned)
}

fn first(env: &Env, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| owned(env, n))
}

fn number(env: &Env, name: &str) -> Option<u64> {
    get(env, name).and_then(|n| n.parse().ok())
}

fn strip_ref(r: &str) -> String {
    r.strip_prefix("refs/heads/").unwrap_or(r).to_owned()
}

/// `pr/12` (CodeBuild) as 12.
fn pr_number(s: &str) -> Option<u64> {
    s.strip_prefix("pr/").and_then(|n| n.parse().ok())
}

fn looks_like_commit(s: &str) -> bool {
    s.len() >= 7 && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What each provider's CI sets, the least that detects it.
    fn marks(p: Provider) -> Env {
        match p {
            Provider::CodeBuild => env(&[("CODEBUILD_BUILD_ID", "app:1")]),
            Provider::GitHub => env(&[("GITHUB_ACTIONS", "true")]),
            Provider::GitLab => env(&[("GITLAB_CI", "true")]),
            Provider::Jenkins => env(&[("JENKINS_URL", "http://ci/")]),
            Provider::Local => Env::new(),
        }
    }

    #[test]
    fn every_ci_names_its_runner_where_it_can() {
        let with = |p: Provider, pairs: &[(&str, &str)]| {
            let mut e = marks(p);
            e.extend(env(pairs));
            p.runner_image(&e)
        };
        assert_eq!(
            with(
                Provider::GitHub,
                &[("ImageOS", "ubuntu24"), ("ImageVersion", "20241201.1")]
            )
            .as_deref(),
            Some("ubuntu24/20241201.1")
        );
        assert_eq!(
            with(
                Provider::GitLab,
                &[("CI_RUNNER_TAGS", "[\"saas-linux-small-amd64\"]")]
            )
            .as_deref(),
            Some("[\"saas-linux-small-amd64\"]")
        );
        assert_eq!(
            with(
                Provider::CodeBuild,
                &[("CODEBUILD_BUILD_IMAGE", "aws/codebuild/standard:7.0")]
            )
            .as_deref(),
            Some("aws/codebuild/standard:7.0")
        );
        assert_eq!(
            with(Provider::Jenkins, &[("NODE_NAME", "linux-2")]).as_deref(),
            Some("linux-2")
        );
        assert_eq!(with(Provider::Local, &[("ImageOS", "x")]), None);
    }

    #[test]
    fn every_provider_is_detected_by_its_variables_and_named_once() {
        let mut names = std::collections::BTreeSet::new();
        for p in Provider::ALL {
            assert_eq!(Provider::detect(&marks(p)), p);
            assert!(names.insert(p.name()), "{} named twice", p.name());
            assert_eq!(p.context(&marks(p)).0.provider, p.name());
            // No provider answers for another's variables.
            for q in Provider::ALL.into_iter().filter(|q| *q != p) {
                assert_eq!(p.group(&marks(q)), None, "{p:?} on {q:?}");
            }
        }
    }
}
