//! CodePipeline's two modes end to end: the real binary and the real
//! aws-sdk-codepipeline client, pointed at a small CodePipeline job API on
//! 127.0.0.1 that speaks the JSON protocol (`X-Amz-Target:
//! CodePipeline_20150709.*`), queues jobs, checks nonces and the documented
//! limits, and records what was reported. No public emulator implements the
//! job API, so this one lives here.

use crate::common::{emit_policy, fixture, Scratch};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct State {
    queued: Vec<Value>,
    /// Jobs another worker claimed between our poll and our acknowledgement.
    claimed_elsewhere: HashSet<String>,
    pub(crate) in_progress: HashSet<String>,
    /// (operation, request body) of every result reported.
    reports: Vec<(String, Value)>,
    /// Every continuation token an action returned: each must be new.
    tokens: HashSet<String>,
    /// Jobs claimed by a worker (custom actions), to be queued again with
    /// the continuation token an action returns, as CodePipeline does.
    claimed: Vec<Value>,
    unsigned: usize,
}

pub(crate) struct FakeCodePipeline {
    pub(crate) port: u16,
    pub(crate) state: Arc<Mutex<State>>,
}

fn error(kind: &str, message: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": message}))
}

fn handle(state: &Mutex<State>, target: &str, body: &Value) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    match target {
        "PollForJobs" => {
            let Some(action) = body.get("actionTypeId") else {
                return error("ValidationException", "actionTypeId is required");
            };
            if action["owner"] != "Custom" {
                return error("ValidationException", "owner must be Custom");
            }
            let max = body
                .get("maxBatchSize")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            let jobs: Vec<Value> = st
                .queued
                .iter()
                .filter(|j| j["data"]["actionTypeId"] == *action)
                .take(max)
                .cloned()
                .collect();
            (200, json!({"jobs": jobs}))
        }
        "AcknowledgeJob" => {
            let id = body["jobId"].as_str().unwrap_or_default().to_owned();
            let Some(pos) = st.queued.iter().position(|j| j["id"] == id.as_str()) else {
                return error("JobNotFoundException", "the job was not found");
            };
            if st.claimed_elsewhere.contains(&id) {
                // The other worker's acknowledgement took it off the queue.
                st.queued.remove(pos);
                return error(
                    "InvalidNonceException",
                    "the nonce was specified in an invalid format or is not current",
                );
            }
            if st.queued[pos]["nonce"] != body["nonce"] {
                return error(
                    "InvalidNonceException",
                    "the nonce was specified in an invalid format or is not current",
                );
            }
            let job = st.queued.remove(pos);
            st.claimed.push(job);
            st.in_progress.insert(id);
            (200, json!({"status": "InProgress"}))
        }
        "PutJobSuccessResult" | "PutJobFailureResult" => {
            let id = body["jobId"].as_str().unwrap_or_default().to_owned();
            if !st.in_progress.remove(&id) {
                return error("InvalidJobStateException", "the job is not in progress");
            }
            if let Some(token) = body.get("continuationToken").and_then(Value::as_str) {
                if token.is_empty() || token.len() > 2048 {
                    return error(
                        "ValidationException",
                        "continuationToken must be 1 to 2048 characters",
                    );
                }
                if body.get("outputVariables").is_some() {
                    return error(
                        "ValidationException",
                        "output variables cannot be set together with a continuation token",
                    );
                }
                if !st.tokens.insert(token.to_owned()) {
                    return error(
                        "ValidationException",
                        "continuationToken was returned before",
                    );
                }
                // A custom action's job comes back with the token.
                if let Some(job) = st.claimed.iter().find(|j| j["id"] == id.as_str()).cloned() {
                    let mut next = job;
                    let n = st.tokens.len();
                    next["id"] = json!(format!("{id}-c{n}"));
                    next["nonce"] = json!(format!("nonce-c{n}"));
                    next["data"]["continuationToken"] = json!(token);
                    st.queued.push(next);
                }
            }
            if target == "PutJobSuccessResult" {
                let summary = body
                    .pointer("/executionDetails/summary")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if summary.chars().count() > 2048 {
                    return error(
                        "ValidationException",
                        "executionDetails.summary is longer than 2048",
                    );
                }
                let vars = body
                    .get("outputVariables")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let size: usize = vars
                    .iter()
                    .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                    .sum();
                if size > 122_880
                    || vars.keys().any(|k| {
                        !k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "@-_".contains(c))
                    })
                {
                    return error(
                        "OutputVariablesSizeExceededException",
                        "output variables exceed the limit",
                    );
                }
            } else {
                let t = body
                    .pointer("/failureDetails/type")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let message = body
                    .pointer("/failureDetails/message")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let types = [
                    "JobFailed",
                    "ConfigurationError",
                    "PermissionError",
                    "RevisionOutOfSync",
                    "RevisionUnavailable",
                    "SystemUnavailable",
                ];
                if !types.contains(&t) || message.is_empty() || message.chars().count() > 5000 {
                    return error("ValidationException", "failureDetails is invalid");
                }
            }
            st.reports.push((target.to_owned(), body.clone()));
            (200, json!({}))
        }
        other => error(
            "UnknownOperationException",
            &format!("{other} is not implemented here"),
        ),
    }
}

fn serve(mut conn: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (mut len, mut target, mut signed) = (0usize, String::new(), false);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "x-amz-target" => {
                    target = v
                        .trim()
                        .trim_start_matches("CodePipeline_20150709.")
                        .to_owned()
                }
                "authorization" => signed = v.trim().starts_with("AWS4-HMAC-SHA256"),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if !signed {
            state.lock().unwrap().unsigned += 1;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (status, answer) = handle(&state, &target, &body);
        let text = answer.to_string();
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: 0\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if conn.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

impl FakeCodePipeline {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(500).flatten() {
                let st = st.clone();
                std::thread::spawn(move || serve(conn, st));
            }
        });
        FakeCodePipeline { port, state }
    }

    pub(crate) fn scratch(&self) -> Scratch {
        Scratch::new()
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "AWS_ENDPOINT_URL_CODEPIPELINE",
                &format!("http://127.0.0.1:{}", self.port),
            )
    }

    fn queue(&self, id: &str, nonce: &str, configuration: Value) {
        self.state.lock().unwrap().queued.push(json!({
            "id": id, "nonce": nonce, "accountId": "111111111111",
            "data": {
                "actionTypeId": {"category": "Test", "owner": "Custom", "provider": "QoD", "version": "1"},
                "actionConfiguration": {"configuration": configuration},
                "pipelineContext": {"pipelineName": "app-pipeline", "stage": {"name": "Gate"}, "action": {"name": "QoD"}, "pipelineExecutionId": "e-1"},
                "inputArtifacts": [], "outputArtifacts": [],
                "artifactCredentials": {"accessKeyId": "ASIAJOB", "secretAccessKey": "jobsecretvalue123", "sessionToken": "jobsessiontoken456"}
            }
        }));
    }

    pub(crate) fn reports(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().reports.clone()
    }
}

/// The documented event shows a placeholder `continuationToken`
/// (`token_ID`); a first invocation has none, so it is taken out.
pub(crate) fn first_invocation(doc: &mut Value) {
    doc["CodePipeline.job"]["data"]
        .as_object_mut()
        .unwrap()
        .remove("continuationToken");
}

const PASSING: &str = "  - { id: build-time, metric: build.duration, pass: \"<= 60s\" }\n";

fn lambda(fake: &FakeCodePipeline, policy: &str) -> (crate::common::Run, Vec<(String, Value)>) {
    lambda_with(fake, policy, |_| {})
}

/// `lambda` with the fixture's event changed by `edit` first.
fn lambda_with(
    fake: &FakeCodePipeline,
    policy: &str,
    edit: impl FnOnce(&mut Value),
) -> (crate::common::Run, Vec<(String, Value)>) {
    let s = fake.scratch();
    s.policy(policy);
    // A Lambda invoke job is in progress from the start.
    fake.state
        .lock()
        .unwrap()
        .in_progress
        .insert("11111111-abcd-1111-abcd-111111abcdef".into());
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("codepipeline/lambda-event.json")).unwrap(),
    )
    .unwrap();
    first_invocation(&mut doc);
    edit(&mut doc);
    let event = s.write("event.json", &doc.to_string());
    let r = s.qod(&[
        "codepipeline",
        "lambda-event",
        "--event",
        &event.to_string_lossy(),
    ]);
    for secret in [
        "wJalrXUtnFEMIartifactSECRETKEY",
        "FwoGZXIvYXdzEXAMPLEartifactSESSIONTOKEN",
    ] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "artifactCredentials were printed"
        );
    }
    let reports = fake.reports();
    (r, reports)
}

#[test]
fn lambda_event_reports_a_passing_gate() {
    let fake = FakeCodePipeline::start();
    let (r, reports) = lambda(&fake, &emit_policy(&[("build", "duration", 40.0)], PASSING));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["decision"], "pass");
    assert_eq!(reports.len(), 1);
    let (op, body) = &reports[0];
    assert_eq!(op, "PutJobSuccessResult");
    assert_eq!(body["jobId"], "11111111-abcd-1111-abcd-111111abcdef");
    assert_eq!(
        body["executionDetails"]["summary"],
        "qod pass: the objective passed"
    );
    assert_eq!(body["outputVariables"]["decision"], "pass");
    assert_eq!(body["outputVariables"]["score"], "100");
    assert_eq!(
        fake.state.lock().unwrap().unsigned,
        0,
        "requests are signed"
    );
}

#[test]
fn lambda_event_reports_a_failing_gate_and_a_bad_policy() {
    let fake = FakeCodePipeline::start();
    let (r, reports) = lambda(&fake, &emit_policy(&[("build", "duration", 90.0)], PASSING));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (op, body) = &reports[0];
    assert_eq!(op, "PutJobFailureResult");
    assert_eq!(body["failureDetails"]["type"], "JobFailed");
    assert_eq!(
        body["failureDetails"]["message"],
        "qod fail: 1 of 1 objective failed: build-time 90 s > 60 s"
    );
    assert_eq!(
        body["failureDetails"]["externalExecutionId"],
        r.json()["run"]["id"]
    );

    let fake = FakeCodePipeline::start();
    let (r, reports) = lambda(&fake, "version: 1\nplugins: {}\n");
    assert_eq!(r.code, 2);
    let (op, body) = &reports[0];
    assert_eq!(op, "PutJobFailureResult");
    assert_eq!(body["failureDetails"]["type"], "ConfigurationError");
    assert!(
        body["failureDetails"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid policy `qod.yaml`"),
        "{body:#}"
    );
}

#[test]
fn worker_skips_jobs_claimed_elsewhere_and_reports_its_own() {
    let fake = FakeCodePipeline::start();
    fake.queue("job-taken", "n1", json!({"Policy": "qod.yaml"}));
    fake.queue(
        "job-mine",
        "n2",
        json!({"Policy": "qod.yaml", "Strict": "true"}),
    );
    fake.state
        .lock()
        .unwrap()
        .claimed_elsewhere
        .insert("job-taken".into());
    let s = fake.scratch();
    s.policy(&emit_policy(&[("build", "duration", 40.0)], PASSING));
    let r = s.qod(&["codepipeline", "worker", "--once"]);
    assert!(
        r.stderr.contains("job job-taken was not claimed"),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["decision"], "pass");
    let reports = fake.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].1["jobId"], "job-mine");
    assert_eq!(reports[0].0, "PutJobSuccessResult");
    for secret in ["jobsecretvalue123", "jobsessiontoken456"] {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }
    // With no job left, --once exits at once.
    let r = s.qod(&["codepipeline", "worker", "--once"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

#[test]
fn worker_finishes_the_current_job_on_sigterm() {
    let fake = FakeCodePipeline::start();
    fake.queue("job-slow", "n1", json!({"Policy": "qod.yaml"}));
    fake.queue("job-next", "n2", json!({"Policy": "qod.yaml"}));
    let s = fake.scratch();
    // A plugin that takes a second, so the signal arrives mid-job.
    s.policy("version: 1\nplugins:\n  s: { uses: ok, timeout: 10s }\n  w: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: duration, value: 1 }] } } }\nobjectives:\n  - { id: v, metric: s.value, pass: \"< 100ms\" }\n");
    std::fs::create_dir_all(s.path().join("plugins/ok")).unwrap();
    std::fs::write(
        s.path().join("plugins/ok/plugin.json"),
        r#"{"manifest_version":1,"name":"ok","version":"1","protocol_versions":[1],"command":["./run.sh"],"metrics":[{"name":"value","unit":"ms","better":"lower"}]}"#,
    )
    .unwrap();
    std::fs::write(s.path().join("plugins/ok/run.sh"), "#!/bin/sh\ncat >/dev/null\nsleep 1\necho '{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{\"name\":\"value\",\"value\":5}]}'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        s.path().join("plugins/ok/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut child = s
        .command(&["codepipeline", "worker", "--poll-interval", "100ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first job is claimed, then ask the worker to stop.
    let start = Instant::now();
    while !fake.state.lock().unwrap().in_progress.contains("job-slow") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the worker never claimed a job"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = crate::common::terminate(&mut child, Duration::from_secs(20), "the worker");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{status:?}");
    let reports = fake.reports();
    assert_eq!(
        reports.len(),
        1,
        "the current job is finished and reported, the next one is left: {reports:?}"
    );
    assert_eq!(reports[0].1["jobId"], "job-slow");
    assert_eq!(fake.state.lock().unwrap().queued.len(), 1);
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["decision"], "pass");
}

#[test]
fn lambda_event_with_bad_user_parameters_is_a_configuration_error() {
    let fake = FakeCodePipeline::start();
    // The fixture's event with `UserParameters` cut short.
    let (r, reports) = lambda_with(
        &fake,
        &emit_policy(&[("build", "duration", 40.0)], PASSING),
        |event| {
            event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
                ["UserParameters"] = json!("{\"policy\": ");
        },
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stdout, "", "no gate ran");
    assert_eq!(
        r.stderr.trim_end().lines().collect::<Vec<_>>(),
        [
            "error: invalid `UserParameters` of the CodePipeline job: not valid JSON (EOF while parsing a value at line 1 column 10); give a policy path, or {\"policy\": \"qod.yaml\", \"store\": \"s3://bucket/prefix\"}"
        ]
    );
    let (op, body) = &reports[0];
    assert_eq!(op, "PutJobFailureResult");
    assert_eq!(body["failureDetails"]["type"], "ConfigurationError");
    assert!(
        body["failureDetails"]["message"]
            .as_str()
            .unwrap()
            .starts_with("qod could not make a decision: invalid `UserParameters`"),
        "{body:#}"
    );
}

/// A plugin that starts a "job" and reports it done on its third resume,
/// asking to be invoked again after a second.
fn poller(s: &Scratch) {
    crate::common::python_plugin(
        s,
        "poller",
        r#"[{"name": "steps", "better": "lower"}]"#,
        r#"import json, sys
ctx = json.load(sys.stdin)
r = ctx.get("resume")
step = 0 if r is None else r["step"]
job = "j-42" if r is None else r["job"]
if step < 3:
    print(json.dumps({"protocol": 1, "status": "pending", "state": {"step": step + 1, "job": job},
                      "retry_after": "1s", "summary": f"load test {step + 1} of 3 running"}))
else:
    print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "steps", "value": step}],
                      "summary": f"job {job} done"}))
"#,
    );
}

const POLLING: &str = r#"version: 1
plugins:
  load: { uses: poller }
  build: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: duration, value: 40 }] } } }
objectives:
  - { id: steps, metric: load.steps, pass: "== 3" }
  - { id: build-time, metric: build.duration, pass: "<= 60s" }
"#;

/// One Lambda invocation for job `job` (a job of its own, in progress),
/// resuming `token` when given.
fn invoke(
    fake: &FakeCodePipeline,
    s: &Scratch,
    job: &str,
    token: Option<&str>,
) -> crate::common::Run {
    fake.state
        .lock()
        .unwrap()
        .in_progress
        .insert(job.to_owned());
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("codepipeline/lambda-event.json")).unwrap(),
    )
    .unwrap();
    first_invocation(&mut doc);
    doc["CodePipeline.job"]["id"] = json!(job);
    if let Some(t) = token {
        doc["CodePipeline.job"]["data"]["continuationToken"] = json!(t);
    }
    let event = s.write("event.json", &doc.to_string());
    s.qod(&[
        "codepipeline",
        "lambda-event",
        "--event",
        &event.to_string_lossy(),
    ])
}

/// The continuation token of a report, checking it came without output
/// variables.
fn token_of(report: &(String, Value)) -> String {
    assert_eq!(report.0, "PutJobSuccessResult", "{report:?}");
    assert!(report.1.get("outputVariables").is_none(), "{report:?}");
    report.1["continuationToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no continuation token: {report:?}"))
        .to_owned()
}

#[test]
fn lambda_event_suspends_a_pending_gate_and_resumes_it_with_continuation_tokens() {
    let fake = FakeCodePipeline::start();
    let s = fake.scratch();
    poller(&s);
    s.policy(POLLING);
    let invoke = |n: usize, token: Option<&str>| invoke(&fake, &s, &format!("job-{n}"), token);
    let mut token: Option<String> = None;
    let mut tokens = Vec::new();
    for n in 1..=3 {
        let r = invoke(n, token.as_deref());
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, "", "a suspended gate prints no decision");
        assert!(
            r.stderr
                .contains(&format!("`load` pending (load test {n} of 3 running)")),
            "{}",
            r.stderr
        );
        let reports = fake.reports();
        let t = token_of(&reports[n - 1]);
        assert!(reports[n - 1].1["executionDetails"]["summary"]
            .as_str()
            .unwrap()
            .contains("asks to be resumed in 1s"));
        tokens.push(t.clone());
        token = Some(t);
    }
    let r = invoke(4, token.as_deref());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["decision"], "pass", "{d:#}");
    let load = &d["plugins"][0];
    assert_eq!(
        load["summary"], "job j-42 done",
        "the state round-tripped: {load:#}"
    );
    assert!(
        load["notes"].to_string().contains("was resumed 3 times"),
        "{load:#}"
    );
    assert_eq!(d["objectives"][0]["value"], 3.0);
    // `build` ran in the first invocation only, and was carried over.
    assert_eq!(d["plugins"][1]["status"], "ok");
    let reports = fake.reports();
    let (op, body) = &reports[3];
    assert_eq!(op, "PutJobSuccessResult");
    assert!(body.get("continuationToken").is_none());
    assert_eq!(body["outputVariables"]["decision"], "pass");
    assert_eq!(body["outputVariables"]["run_id"], d["run"]["id"]);
    // One run was recorded, not four.
    let h = s.qod(&["history", "--store", ".qod/store", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&h.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A token resumes its gate once; an unknown or foreign one fails the job.
    for (n, (t, says)) in [
        (tokens[0].as_str(), "was used before"),
        (
            "qod-suspended:01234567-89ab-7def-8123-456789abcdef",
            "names no suspended gate in `.qod/store`",
        ),
        ("something-else", "is not one qod gave"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = invoke(5 + n, Some(t));
        assert_eq!(r.code, 2, "{}", r.stderr);
        let reports = fake.reports();
        let (op, body) = reports.last().unwrap();
        assert_eq!(op, "PutJobFailureResult");
        let message = body["failureDetails"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
}

#[test]
fn the_worker_resumes_a_suspended_gate_across_polls() {
    let fake = FakeCodePipeline::start();
    fake.queue("job-long", "n1", json!({"Policy": "qod.yaml"}));
    let s = fake.scratch();
    poller(&s);
    s.policy(POLLING);
    // Each `--once` takes the job CodePipeline queued again with the token.
    for n in 1..=3 {
        let r = s.qod(&["codepipeline", "worker", "--once"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
        assert!(r.stderr.contains("gate suspended"), "{}", r.stderr);
        token_of(&fake.reports()[n - 1]);
    }
    let r = s.qod(&["codepipeline", "worker", "--once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["objectives"][0]["value"], 3.0);
    let reports = fake.reports();
    assert_eq!(reports.len(), 4);
    assert_eq!(reports[3].1["jobId"], "job-long-c1-c2-c3");
    assert_eq!(reports[3].1["outputVariables"]["decision"], "pass");
}

#[test]
fn an_expired_continuation_token_fails_the_job_with_the_reason() {
    let fake = FakeCodePipeline::start();
    let s = fake.scratch();
    poller(&s);
    s.policy(POLLING);
    assert_eq!(invoke(&fake, &s, "job-1", None).code, 0);
    let token = token_of(&fake.reports()[0]);
    // The saved gate, suspended two days ago.
    let id = token.strip_prefix("qod-suspended:").unwrap();
    let saved = s.path().join(format!(".qod/store/suspended/{id}.json"));
    let mut gate: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let old = chrono::Utc::now() - chrono::Duration::days(2);
    gate["saved_at"] = json!(qod::time::rfc3339(old));
    std::fs::write(&saved, gate.to_string()).unwrap();
    let r = invoke(&fake, &s, "job-2", Some(&token));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let reports = fake.reports();
    let (op, body) = reports.last().unwrap();
    assert_eq!(op, "PutJobFailureResult");
    let message = body["failureDetails"]["message"].as_str().unwrap();
    assert!(
        message.contains("expired: the gate was suspended at"),
        "{message}"
    );
    assert!(message.contains("start the action again"), "{message}");
}

#[test]
fn a_pending_plugins_summary_and_state_keep_no_secret() {
    const SECRET: &str = "tok-pending-s3cr3t";
    let fake = FakeCodePipeline::start();
    let s = fake.scratch().env("API_TOKEN", SECRET);
    crate::common::python_plugin(
        &s,
        "leaky",
        r#"[{"name": "steps", "better": "lower"}]"#,
        r#"import json, os, sys
json.load(sys.stdin)
t = os.environ["API_TOKEN"]
print(json.dumps({"protocol": 1, "status": "pending", "state": {"token": t},
                  "retry_after": "1s", "summary": f"job with {t} running"}))
"#,
    );
    s.policy(
        "version: 1\nplugins:\n  load: { uses: leaky, env: [API_TOKEN] }\nobjectives:\n  - { id: steps, metric: load.steps, pass: \"== 3\" }\n",
    );
    let r = invoke(&fake, &s, "job-1", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("pending (job with [redacted] running)"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
    let reports = fake.reports();
    assert!(!format!("{reports:?}").contains(SECRET), "{reports:?}");
    let dir = s.path().join(".qod/store/suspended");
    let saved: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(saved.len(), 1);
    let text = std::fs::read_to_string(saved[0].path()).unwrap();
    assert!(
        !text.contains(SECRET),
        "the suspension holds the secret: {text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
}

#[test]
fn a_tampered_suspension_cannot_write_outside_the_store() {
    let fake = FakeCodePipeline::start();
    let s = fake.scratch();
    poller(&s);
    s.policy(POLLING);
    let r = invoke(&fake, &s, "job-1", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut token = token_of(&fake.reports()[0]);
    // Someone with write access to the store rewrites the run id.
    let dir = s.path().join(".qod/store/suspended");
    let file = crate::common::first_file(&dir);
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["run_id"] = json!("../../../evil");
    doc["started_at"] = json!("../../../x");
    std::fs::write(&file, doc.to_string()).unwrap();
    for n in 2..=4 {
        let r = invoke(&fake, &s, &format!("job-{n}"), Some(&token));
        assert_eq!(r.code, 0, "{}", r.stderr);
        if n < 4 {
            token = token_of(&fake.reports()[n - 1]);
        }
    }
    let all = crate::common::files_under(s.path());
    assert!(
        !all.iter().any(|p| p.to_string_lossy().contains("evil")),
        "{all:?}"
    );
    let runs: Vec<_> = all
        .iter()
        .filter(|p| p.starts_with(s.path().join(".qod/store/runs")) && p.is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{all:?}");
}
