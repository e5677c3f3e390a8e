//! One comment per policy on a pull request (GitHub) or merge request
//! (GitLab), created once and updated on every push: found again by a
//! hidden marker naming the policy. The body is the Markdown summary.
//!
//! A token that may not write (a pull request from a fork gets a read-only
//! `GITHUB_TOKEN`) is no failure of the job: the summary goes to the job
//! summary (GitHub) or the job log (GitLab) instead, with a one-line note.
//!
//! Size: one small REST client for both forges (their addresses, the
//! token's user, paging, authorship, bounded answers, the fallback) kept
//! together, since each rule holds for both.

use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a comment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    Github,
    Gitlab,
}

/// What became of the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commented {
    Created {
        url: String,
    },
    Updated {
        url: String,
    },
    /// Not a pull or merge request build: nothing to comment on.
    NotARequest,
    /// The comment could not be written; the reason, and where the summary
    /// went instead.
    Fallback {
        why: String,
        instead: String,
    },
}

/// Why no comment could even be tried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommentError {
    #[error("`{0}` is not set; it is set on {1}, or set it yourself")]
    Missing(&'static str, &'static str),
    /// No token: not an error of the job, the summary goes elsewhere.
    #[error("`{0}` is not set; it is set by {1}")]
    NoToken(&'static str, &'static str),
}

/// The marker that finds this policy's comment again.
pub fn marker(policy: &str) -> String {
    format!("<!-- qod-comment policy={} -->", policy.replace("--", "-"))
}

/// How long one API request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Comments read at most (pages of 100) when looking for ours.
const MAX_PAGES: u32 = 30;

/// The most of an API's answer read: a page of 100 comments is far less.
const MAX_ANSWER: usize = 4 << 20;

struct Api {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Full<bytes::Bytes>,
    >,
    headers: Vec<(&'static str, String)>,
}

impl Api {
    fn new(headers: Vec<(&'static str, String)>) -> Result<Api, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no CA certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Api { client, headers })
    }

    /// Sends one JSON request; the status and the JSON answer.
    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("user-agent", concat!("qod/", env!("CARGO_PKG_VERSION")))
            .header("accept", "application/json")
            .header("content-type", "application/json");
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from(bytes)))
            .map_err(|e| format!("bad request to {url}: {e}"))?;
        let res = tokio::time::timeout(TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| format!("{method} {url}: no answer within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("{method} {url}: {}", crate::diag::error_chain(&e)))?;
        let status = res.status().as_u16();
        // An answer that never ends is cut at 4 MiB, not read to exhaustion.
        let body = tokio::time::timeout(
            TIMEOUT,
            http_body_util::Limited::new(res.into_body(), MAX_ANSWER).collect(),
        )
        .await
        .map_err(|_| format!("{method} {url}: the answer did not end"))?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                format!(
                    "{method} {url}: the answer passed the {} MiB qod reads of one; it was cut there",
                    MAX_ANSWER >> 20
                )
            } else {
                format!("{method} {url}: {e}")
            }
        })?
        .to_bytes();
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

/// The request being built, where its comments live and how to write them.
struct Target {
    /// Who the token acts as (`GET <api>/user`), so that only its own
    /// comment is ever updated.
    user: String,
    forge: Forge,
    /// The comments' collection (GET for pages, POST to create).
    list: String,
    /// The URL of one comment, by its id (PATCH or PUT to update).
    one: Box<dyn Fn(&str) -> String + Send + Sync>,
    /// Where a person reads one comment, by its id.
    page: Box<dyn Fn(&str) -> String + Send + Sync>,
    update: &'static str,
}

fn get<'a>(env: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
    env.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

/// The pull request of a GitHub build: the event's, or the merge ref's.
fn github_pull(env: &BTreeMap<String, String>) -> Option<u64> {
    if let Some(path) = get(env, "GITHUB_EVENT_PATH") {
        if let Some(n) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.pointer("/pull_request/number").and_then(Value::as_u64))
        {
            return Some(n);
        }
    }
    get(env, "GITHUB_REF")?
        .strip_prefix("refs/pull/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

fn target(
    forge: Forge,
    env: &BTreeMap<String, String>,
) -> Result<Option<(Target, Api)>, CommentError> {
    match forge {
        Forge::Github => {
            let Some(pull) = github_pull(env) else {
                return Ok(None);
            };
            let api = get(env, "GITHUB_API_URL").unwrap_or("https://api.github.com");
            let api = api.trim_end_matches('/').to_owned();
            let repo = get(env, "GITHUB_REPOSITORY")
                .ok_or(CommentError::Missing("GITHUB_REPOSITORY", "GitHub Actions"))?
                .to_owned();
            let token = get(env, "GITHUB_TOKEN").ok_or(CommentError::NoToken(
                "GITHUB_TOKEN",
                "no step by default: add `env: { GITHUB_TOKEN: ${{ github.token }} }` and `permissions: { pull-requests: write }`",
            ))?;
            let headers = vec![
                ("authorization", format!("Bearer {token}")),
                ("x-github-api-version", "2022-11-28".to_owned()),
            ];
            let one_api = api.clone();
            let one_repo = repo.clone();
            let server = get(env, "GITHUB_SERVER_URL")
                .unwrap_or("https://github.com")
                .trim_end_matches('/');
            let thread = format!("{server}/{repo}/pull/{pull}");
            Ok(Some((
                Target {
                    user: format!("{api}/user"),
                    forge,
                    list: format!("{api}/repos/{repo}/issues/{pull}/comments"),
                    one: Box::new(move |id| {
                        format!("{one_api}/repos/{one_repo}/issues/comments/{id}")
                    }),
                    page: Box::new(move |id| format!("{thread}#issuecomment-{id}")),
                    update: "PATCH",
                },
                Api::new(headers)
                    .map_err(|_| CommentError::Missing("CA certificates", "most systems"))?,
            )))
        }
        Forge::Gitlab => {
            let Some(iid) = get(env, "CI_MERGE_REQUEST_IID") else {
                return Ok(None);
            };
            let api = get(env, "CI_API_V4_URL")
                .ok_or(CommentError::Missing("CI_API_V4_URL", "GitLab CI"))?
                .trim_end_matches('/')
                .to_owned();
            let project = get(env, "CI_PROJECT_ID")
                .ok_or(CommentError::Missing("CI_PROJECT_ID", "GitLab CI"))?
                .to_owned();
            let token = get(env, "QOD_GITLAB_TOKEN")
                .or_else(|| get(env, "GITLAB_TOKEN"))
                .ok_or(CommentError::NoToken(
                    "QOD_GITLAB_TOKEN",
                    "no job by default (the job token may not write notes): a project access token with the `api` scope, as a masked CI/CD variable",
                ))?;
            let base = format!("{api}/projects/{project}/merge_requests/{iid}/notes");
            let one_base = base.clone();
            let thread = match get(env, "CI_PROJECT_URL") {
                Some(url) => format!("{}/-/merge_requests/{iid}", url.trim_end_matches('/')),
                None => format!("merge request !{iid}"),
            };
            Ok(Some((
                Target {
                    user: format!("{api}/user"),
                    forge,
                    list: base,
                    one: Box::new(move |id| format!("{one_base}/{id}")),
                    page: Box::new(move |id| format!("{thread}#note_{id}")),
                    update: "PUT",
                },
                Api::new(vec![("private-token", token.to_owned())])
                    .map_err(|_| CommentError::Missing("CA certificates", "most systems"))?,
            )))
        }
    }
}

/// Creates or updates the policy's comment with `body` (Markdown).
pub async fn comment(
    forge: Forge,
    policy: &str,
    body: &str,
    env: &BTreeMap<String, String>,
) -> Result<Commented, CommentError> {
    let (t, api) = match target(forge, env) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(Commented::NotARequest),
        Err(e @ CommentError::NoToken(..)) => {
            let why = e.to_string();
            return Ok(Commented::Fallback {
                instead: fallback(forge, &why, body, env),
                why,
            });
        }
        Err(e) => return Err(e),
    };
    let mark = marker(policy);
    let text = format!("{mark}\n{body}");
    match write(&t, &api, &mark, &text).await {
        Ok(done) => Ok(done),
        Err((status, why)) => {
            let why = match status {
                Some(401 | 403 | 404) => format!(
                    "the token may not write comments here ({why}){}",
                    if forge == Forge::Github {
                        "; a pull request from a fork gets a read-only token"
                    } else {
                        ""
                    }
                ),
                _ => why,
            };
            Ok(Commented::Fallback {
                instead: fallback(forge, &why, body, env),
                why,
            })
        }
    }
}

/// Finds the comment by its marker, then updates it or creates one.
async fn write(
    t: &Target,
    api: &Api,
    mark: &str,
    text: &str,
) -> Result<Commented, (Option<u16>, String)> {
    let failed = |status: u16, what: &str, v: &Value| {
        let message = v.get("message").map(|m| m.to_string()).unwrap_or_default();
        (
            Some(status),
            format!("{what}: HTTP {status} {message}").trim().to_owned(),
        )
    };
    // The comment is found by its marker *and* its author: anyone may
    // write the marker into a comment of theirs.
    let me = whoami(t, api).await;
    let mine = |c: &Value| -> bool {
        match t.forge {
            Forge::Github => c["user"]["login"].as_str() == Some(me.as_str()),
            Forge::Gitlab => c["author"]["username"].as_str() == Some(me.as_str()),
        }
    };
    let mut found = None;
    for page in 1..=MAX_PAGES {
        let url = format!("{}?per_page=100&page={page}", t.list);
        let (status, v) = api.send("GET", &url, None).await.map_err(|e| (None, e))?;
        if status != 200 {
            return Err(failed(status, "cannot read the comments", &v));
        }
        let items = v.as_array().cloned().unwrap_or_default();
        found = items.iter().find_map(|c| {
            (c["body"].as_str().is_some_and(|b| b.starts_with(mark)) && mine(c))
                .then(|| c["id"].to_string())
        });
        if found.is_some() || items.len() < 100 {
            break;
        }
    }
    let body = json!({ "body": text });
    // The forge's own link when it gives one (GitHub), else the page's.
    let link = |v: &Value| {
        v.get("html_url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| (t.page)(&v["id"].to_string()))
    };
    match found {
        Some(id) => {
            let (status, v) = api
                .send(t.update, &(t.one)(&id), Some(&body))
                .await
                .map_err(|e| (None, e))?;
            if status != 200 {
                return Err(failed(status, "cannot update the comment", &v));
            }
            Ok(Commented::Updated { url: link(&v) })
        }
        None => {
            let (status, v) = api
                .send("POST", &t.list, Some(&body))
                .await
                .map_err(|e| (None, e))?;
            if status != 201 && status != 200 {
                return Err(failed(status, "cannot create the comment", &v));
            }
            Ok(Commented::Created { url: link(&v) })
        }
    }
}

/// The user the token acts as: its login on GitHub (a workflow's
/// `GITHUB_TOKEN` cannot read `/user`: it writes as `github-actions[bot]`),
/// its username on GitLab. Looked up once a run; when it cannot be, no
/// comment is anyone's, and a new one is written.
async fn whoami(t: &Target, api: &Api) -> String {
    let answer = api.send("GET", &t.user, None).await;
    let field = match t.forge {
        Forge::Github => "login",
        Forge::Gitlab => "username",
    };
    match answer {
        Ok((200, v)) => v[field].as_str().unwrap_or_default().to_owned(),
        _ if t.forge == Forge::Github => "github-actions[bot]".to_owned(),
        _ => String::new(),
    }
}

/// Puts the summary where it can be read without the comment: GitHub's job
/// summary, or the job log. Returns where.
fn fallback(forge: Forge, why: &str, body: &str, env: &BTreeMap<String, String>) -> String {
    let note = format!(
        "> qod could not comment on the {}: {why}. The summary is here instead.\n\n",
        match forge {
            Forge::Github => "pull request",
            Forge::Gitlab => "merge request",
        }
    );
    if let Some(path) = get(env, "GITHUB_STEP_SUMMARY").filter(|_| forge == Forge::Github) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, format!("{note}{body}\n").as_bytes())
            });
        if written.is_ok() {
            return "the job summary".into();
        }
    }
    let mut err = std::io::stderr();
    let _ = std::io::Write::write_all(&mut err, format!("{note}{body}\n").as_bytes());
    "the job log".into()
}
