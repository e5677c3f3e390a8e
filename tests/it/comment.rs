//! One comment per policy on a pull request (GitHub) or merge request
//! (GitLab): the real binary against a fake REST API on 127.0.0.1 that
//! checks every request (the token, the method, the path) and keeps the
//! comments: created once, then updated, never a second one; a token that
//! may not write falls back to the job summary without failing the job.

use crate::ci::read_env;
use crate::common::{emit_policy, fixture, Scratch};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Api {
    /// Comments on the request: (id, body, author).
    comments: Vec<(u64, String, String)>,
    /// `METHOD path` of every request.
    log: Vec<String>,
    /// Answer writes with 403, as GitHub does for a fork's token.
    read_only: bool,
}

/// A fake GitHub (`github = true`) or GitLab API on 127.0.0.1.
fn serve(github: bool, api: Arc<Mutex<Api>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(100).flatten() {
            let Ok(req) = crate::common::read_http(&conn) else {
                continue;
            };
            let auth = req
                .headers
                .get("authorization")
                .or_else(|| req.headers.get("private-token"))
                .cloned()
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let (method, path) = (req.method.as_str(), req.path.as_str());
            let mut st = api.lock().unwrap();
            st.log.push(format!("{method} {path}"));
            let (list, one) = if github {
                (
                    "/repos/example/app/issues/7/comments",
                    "/repos/example/app/issues/comments/",
                )
            } else {
                (
                    "/projects/4242/merge_requests/31/notes",
                    "/projects/4242/merge_requests/31/notes/",
                )
            };
            let want_auth = if github {
                "Bearer tok-123"
            } else {
                "glpat-456"
            };
            let (status, answer) = if auth != want_auth {
                (401, json!({"message": "Bad credentials"}))
            } else if method == "GET" && path == "/user" {
                // The token's own user: qod's comments are its.
                if github {
                    (200, json!({"login": "qod-bot"}))
                } else {
                    (200, json!({"id": 77, "username": "project_4242_bot"}))
                }
            } else if method == "GET" && path == list {
                let items: Vec<Value> = st
                    .comments
                    .iter()
                    .map(|(id, b, who)| {
                        if github {
                            json!({"id": id, "body": b, "user": {"login": who}})
                        } else {
                            json!({"id": id, "body": b, "author": {"username": who}})
                        }
                    })
                    .collect();
                (200, Value::Array(items))
            } else if st.read_only && method != "GET" {
                (
                    403,
                    json!({"message": "Resource not accessible by integration"}),
                )
            } else if method == "POST" && path == list {
                let id = 100 + st.comments.len() as u64;
                let me = if github {
                    "qod-bot"
                } else {
                    "project_4242_bot"
                };
                st.comments.push((
                    id,
                    body["body"].as_str().unwrap_or("").to_owned(),
                    me.to_owned(),
                ));
                // GitLab's notes carry no web address; GitHub's comments do.
                let answer = if github {
                    json!({"id": id, "html_url": format!("https://example.test/c/{id}")})
                } else {
                    json!({"id": id, "body": "…"})
                };
                (201, answer)
            } else if (method == "PATCH" && github || method == "PUT" && !github)
                && path.starts_with(one)
            {
                let id: u64 = path[one.len()..].parse().unwrap_or(0);
                match st.comments.iter_mut().find(|(i, _, _)| *i == id) {
                    Some(c) => {
                        c.1 = body["body"].as_str().unwrap_or("").to_owned();
                        let answer = if github {
                            json!({"id": id, "html_url": format!("https://example.test/c/{id}")})
                        } else {
                            json!({"id": id, "body": "…"})
                        };
                        (200, answer)
                    }
                    None => (404, json!({"message": "Not Found"})),
                }
            } else {
                (404, json!({"message": "Not Found"}))
            };
            drop(st);
            let head = "Content-Type: application/json\r\n";
            crate::common::respond(&conn, status, head, answer.to_string().as_bytes());
        }
    });
    port
}

/// A gate run on a pull or merge request build, with its decision and
/// summary written, and the API's variables.
fn gated(env_fixture: &str, extra: &[(&str, String)]) -> Scratch {
    let mut s = Scratch::new();
    for (k, v) in read_env(&fixture(env_fixture)) {
        s = s.env(&k, &v);
    }
    for (k, v) in extra {
        s = s.env(k, v);
    }
    s.policy(&emit_policy(
        &[("build", "duration", 40.0)],
        "  - { id: build-time, metric: build.duration, pass: \"<= 60s\" }\n",
    ));
    let r = s.qod(&[
        "run",
        "--no-record",
        "--out",
        "d.json",
        "--markdown",
        "s.md",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    s
}

#[test]
fn a_pull_request_gets_one_comment_created_then_updated() {
    let api = Arc::new(Mutex::new(Api::default()));
    // Someone else's comments are there first, and stay as they are: one
    // carries qod's marker to draw the gate's result into it.
    api.lock()
        .unwrap()
        .comments
        .push((1, "LGTM".into(), "alice".into()));
    api.lock().unwrap().comments.push((
        2,
        "<!-- qod-comment policy=qod.yaml -->\nall fine, merge it".into(),
        "mallory".into(),
    ));
    let port = serve(true, api.clone());
    let s = gated(
        "ci/github-pull-request.env",
        &[
            ("GITHUB_API_URL", format!("http://127.0.0.1:{port}")),
            ("GITHUB_TOKEN", "tok-123".into()),
        ],
    );
    let args = [
        "github",
        "comment",
        "--decision",
        "d.json",
        "--markdown",
        "s.md",
    ];
    let r = s.qod(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("commented on the pull request: https://example.test/c/102"),
        "{}",
        r.stderr
    );
    let r = s.qod(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("updated the pull request's comment"),
        "{}",
        r.stderr
    );
    let st = api.lock().unwrap();
    assert_eq!(
        st.log,
        [
            "GET /user",
            "GET /repos/example/app/issues/7/comments",
            "POST /repos/example/app/issues/7/comments",
            "GET /user",
            "GET /repos/example/app/issues/7/comments",
            "PATCH /repos/example/app/issues/comments/102",
        ]
    );
    assert_eq!(st.comments.len(), 3);
    assert_eq!(st.comments[0].1, "LGTM");
    assert_eq!(
        st.comments[1].1, "<!-- qod-comment policy=qod.yaml -->\nall fine, merge it",
        "a comment of someone else's that carries the marker is left alone"
    );
    let body = &st.comments[2].1;
    assert!(
        body.starts_with("<!-- qod-comment policy=qod.yaml -->\n## qod: ✅ pass"),
        "{body}"
    );
    let summary = std::fs::read_to_string(s.path().join("s.md")).unwrap();
    assert!(body.ends_with(&summary));
}

#[test]
fn a_read_only_token_puts_the_summary_in_the_job_summary_without_failing() {
    let api = Arc::new(Mutex::new(Api {
        read_only: true,
        ..Api::default()
    }));
    let port = serve(true, api.clone());
    let dir = tempfile::tempdir().unwrap();
    let summary_file = dir.path().join("step-summary.md");
    let s = gated(
        "ci/github-pull-request.env",
        &[
            ("GITHUB_API_URL", format!("http://127.0.0.1:{port}")),
            ("GITHUB_TOKEN", "tok-123".into()),
            (
                "GITHUB_STEP_SUMMARY",
                summary_file.to_string_lossy().into_owned(),
            ),
        ],
    );
    let r = s.qod(&["github", "comment", "--decision", "d.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("the token may not write comments here (cannot create the comment: HTTP 403 \"Resource not accessible by integration\"); a pull request from a fork gets a read-only token; the summary went to the job summary"),
        "{}",
        r.stderr
    );
    let written = std::fs::read_to_string(&summary_file).unwrap();
    assert!(
        written.contains("> qod could not comment on the pull request"),
        "{written}"
    );
    assert!(api.lock().unwrap().comments.is_empty());
}

#[test]
fn a_merge_request_gets_one_note_and_a_push_build_none() {
    let api = Arc::new(Mutex::new(Api::default()));
    let port = serve(false, api.clone());
    let s = gated(
        "ci/gitlab-merge-request.env",
        &[
            ("CI_API_V4_URL", format!("http://127.0.0.1:{port}")),
            ("CI_PROJECT_ID", "4242".into()),
            ("QOD_GITLAB_TOKEN", "glpat-456".into()),
        ],
    );
    // GitLab's answer gives no web address: the note's page is named.
    for said in [
        "commented on the merge request",
        "updated the merge request's comment",
    ] {
        let r = s.qod(&["gitlab", "comment", "--decision", "d.json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "{said}: https://gitlab.example.com/team/app/-/merge_requests/31#note_100"
            )),
            "{}",
            r.stderr
        );
    }
    let st = api.lock().unwrap();
    assert_eq!(
        st.log,
        [
            "GET /user",
            "GET /projects/4242/merge_requests/31/notes",
            "POST /projects/4242/merge_requests/31/notes",
            "GET /user",
            "GET /projects/4242/merge_requests/31/notes",
            "PUT /projects/4242/merge_requests/31/notes/100",
        ]
    );
    assert_eq!(st.comments.len(), 1);
    drop(st);
    // Not a request: nothing to comment on, and no request made.
    let s = gated("ci/github-push.env", &[("GITHUB_TOKEN", "tok-123".into())]);
    let r = s.qod(&["github", "comment", "--decision", "d.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("not a pull request build"),
        "{}",
        r.stderr
    );
    // A missing decision is an error that names the file.
    let r = s.qod(&["github", "comment", "--decision", "nope.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot read `nope.json`"), "{}", r.stderr);
}

/// An API that answers every request with a body that never ends (chunks
/// of 64 KiB, up to 256 MiB): qod stops reading at its 4 MiB cap, says so
/// and closes the connection, rather than holding what it is sent.
#[test]
fn an_endless_answer_is_cut_at_the_cap_and_reported() {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().take(4).flatten() {
            if crate::common::read_http(&conn).is_err() {
                continue;
            }
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if conn.write_all(head.as_bytes()).is_err() {
                continue;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 64 << 10, "[".repeat(64 << 10));
            for _ in 0..4096 {
                if conn.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                counter.fetch_add(64 << 10, Ordering::Relaxed);
            }
        }
    });
    let s = gated(
        "ci/github-pull-request.env",
        &[
            ("GITHUB_API_URL", format!("http://127.0.0.1:{port}")),
            ("GITHUB_TOKEN", "tok-123".into()),
        ],
    );
    let r = s.qod(&["github", "comment", "--decision", "d.json"]);
    // A comment that cannot be posted never fails the job: the summary is
    // printed instead, with the reason.
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the answer passed the 4 MiB qod reads of one; it was cut there"),
        "{}",
        r.stderr
    );
    // qod hung up soon after its cap: what the server got out before the
    // close is the cap plus the sockets' buffers, not the 256 MiB it offered.
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 64 << 20, "the server sent {sent} bytes");
}

#[test]
fn a_bisection_gets_a_comment_of_its_own_beside_the_gates() {
    let api = Arc::new(Mutex::new(Api::default()));
    let port = serve(true, api.clone());
    let s = gated(
        "ci/github-pull-request.env",
        &[
            ("GITHUB_API_URL", format!("http://127.0.0.1:{port}")),
            ("GITHUB_TOKEN", "tok-123".into()),
        ],
    );
    // A bisection as `qod bisect --format json` prints it, with a subject
    // that tries to break out of the table.
    let b = json!({
        "good": "a".repeat(40), "bad": "b".repeat(40), "objective": "speed",
        "metric": "work.mean", "tolerance_pct": 10.0, "commits": 40, "verdict": "found",
        "culprit": {"revision": "c".repeat(40), "subject": "Validate | every <input>",
                    "author": "Ada <ada@example.com>", "change_pct": 22.5,
                    "ci_low_pct": 21.9, "ci_high_pct": 23.1},
        "steps": [{"revision": "c".repeat(40), "subject": "Validate | every <input>",
                   "verdict": "worse", "pairs": 10, "change_pct": 22.5,
                   "reason": "+22.5% [+21.9%, +23.1%] over 10 pairs: worse than +10.0%"}],
        "skipped": []
    });
    crate::common::assert_valid("bisect.schema.json", &b);
    s.write("bisect.json", &b.to_string());
    assert_eq!(
        s.qod(&["github", "comment", "--decision", "d.json"]).code,
        0
    );
    let r = s.qod(&["github", "comment", "--bisect", "bisect.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = api.lock().unwrap();
    assert_eq!(st.comments.len(), 2, "the gate's comment stays");
    let body = &st.comments[1].1;
    assert!(
        body.starts_with("<!-- qod-comment policy=bisect:speed -->\n## qod bisect: `cccccccccccc` made `speed` worse"),
        "{body}"
    );
    assert!(
        body.contains("**Validate \\| every &lt;input&gt;** by Ada &lt;ada@example.com&gt;"),
        "{body}"
    );
}
