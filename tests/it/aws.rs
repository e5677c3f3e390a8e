//! The AWS deployment of examples/aws: the zip `package.sh` builds, its
//! `bootstrap` run as Lambda runs a custom runtime — against a Lambda
//! Runtime API on 127.0.0.1 (`invocation/next`, `/response`, `/error`, as
//! the service speaks it) and the CodePipeline job API of
//! `codepipeline.rs` — and the template: linted by cfn-lint, transformed by
//! AWS's SAM translator and linted again, its roles' permissions checked,
//! its Glue table checked against the run-record schema.

use crate::codepipeline::{first_invocation, FakeCodePipeline};
use crate::common::{emit_policy, fixture, repo};
use serde_json::{json, Value};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the runtime API saw: each answer as (request id, `response` or
/// `error`, body), and how often `next` was asked.
#[derive(Default)]
struct Runtime {
    events: Vec<Value>,
    answers: Vec<(String, String, Value)>,
    next_calls: usize,
}

/// A Lambda Runtime API: `next` hands out the queued events in order (and
/// then holds the request, as Lambda freezes an idle function), each with
/// its `Lambda-Runtime-Aws-Request-Id`.
fn runtime_api(events: Vec<Value>) -> (u16, Arc<Mutex<Runtime>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(Runtime {
        events,
        ..Default::default()
    }));
    let st = state.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(50).flatten() {
            let st = st.clone();
            std::thread::spawn(move || serve(conn, st));
        }
    });
    (port, state)
}

fn serve(mut conn: TcpStream, state: Arc<Mutex<Runtime>>) {
    loop {
        // A keep-alive connection: the runtime asks again once answered.
        let req = match crate::common::read_http(&conn) {
            Ok(req) if !req.method.is_empty() => req,
            _ => return,
        };
        let error_type = req
            .headers
            .get("lambda-runtime-function-error-type")
            .cloned();
        let (method, path, body) = (req.method, req.path, req.body);
        let reply = |conn: &mut TcpStream, status: &str, head: &str, body: &str| {
            let text = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{head}Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(text.as_bytes()).is_ok()
        };
        let base = "/2018-06-01/runtime/invocation/";
        let Some(rest) = path.strip_prefix(base) else {
            reply(&mut conn, "404 Not Found", "", "{}");
            return;
        };
        if method == "GET" && rest == "next" {
            let event = {
                let mut st = state.lock().unwrap();
                st.next_calls += 1;
                let n = st.next_calls;
                (!st.events.is_empty()).then(|| (n, st.events.remove(0)))
            };
            let Some((n, event)) = event else {
                // Idle: Lambda freezes the function here.
                std::thread::sleep(Duration::from_secs(120));
                return;
            };
            let head = format!(
                "Lambda-Runtime-Aws-Request-Id: req-{n}\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:111111111111:function:qod-gate\r\n"
            );
            if !reply(&mut conn, "200 OK", &head, &event.to_string()) {
                return;
            }
            continue;
        }
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        if method != "POST" || !matches!(kind, "response" | "error") {
            reply(&mut conn, "404 Not Found", "", "{}");
            return;
        }
        if kind == "error" {
            assert_eq!(error_type.as_deref(), Some("Unhandled"));
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        state
            .lock()
            .unwrap()
            .answers
            .push((id.to_owned(), kind.to_owned(), body));
        if !reply(&mut conn, "202 Accepted", "", "{\"status\":\"OK\"}") {
            return;
        }
    }
}

/// A CodePipeline "Invoke" event for job `id` with `user_parameters`.
fn job_event(id: &str, user_parameters: &str) -> Value {
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("codepipeline/lambda-event.json")).unwrap(),
    )
    .unwrap();
    first_invocation(&mut doc);
    doc["CodePipeline.job"]["id"] = json!(id);
    doc["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        json!(user_parameters);
    doc
}

/// This machine's processor, as the template's `Architecture` names it.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// Runs `cmd`, which must succeed: its output (stdout and stderr in the
/// panic message when it does not).
fn succeeded(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Unzips `zip` into `dir` with the files' modes, as Lambda does.
fn unzip(zip: &Path, dir: &Path) -> Vec<(String, u32)> {
    let out = succeeded(
        Command::new("python3").args([
            "-c",
            "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist():\n    p = z.extract(i, sys.argv[2])\n    os.chmod(p, (i.external_attr >> 16) & 0o777)\n    print(f'{(i.external_attr >> 16) & 0o777:o} {i.filename}')",
        ])
        .arg(zip)
        .arg(dir),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (mode, name) = l.split_once(' ').unwrap();
            (name.to_owned(), u32::from_str_radix(mode, 8).unwrap())
        })
        .collect()
}

#[test]
fn the_packaged_bootstrap_runs_each_job_and_answers_the_runtime_api() {
    let fake = FakeCodePipeline::start();
    let s = fake.scratch();
    // The project: a policy and a plugin of its own in `plugins/`.
    s.policy(&emit_policy(
        &[("build", "duration", 40.0)],
        "  - { id: build-time, metric: build.duration, pass: \"<= 60s\" }\n",
    ));
    let plugin = s.path().join("plugins/emit");
    std::fs::create_dir_all(&plugin).unwrap();
    crate::harnesses::copy_dir(&fixture("plugins/emit"), &plugin);
    let zip = s.path().join("dist/qod-lambda.zip");
    let out = succeeded(
        Command::new("sh")
            .arg(repo().join("examples/aws/package.sh"))
            .args(["--arch", arch(), "--binary", env!("CARGO_BIN_EXE_qod")])
            .args(["--policy", "qod.yaml", "--plugins", "plugins", "--out"])
            .arg(&zip)
            .current_dir(s.path())
            .env("QOD_PLUGIN_PATH", ""),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("package.sh: wrote"), "{stderr}");

    // The zip holds what the function needs, executable where it must be.
    let task = s.path().join("task");
    let files = unzip(&zip, &task);
    let mode = |name: &str| files.iter().find(|(n, _)| n == name).map(|(_, m)| *m);
    assert_eq!(mode("bootstrap"), Some(0o755), "{files:?}");
    assert_eq!(mode("qod"), Some(0o755));
    assert_eq!(mode("qod.yaml"), Some(0o644));
    assert_eq!(mode("plugins/emit/plugin.json"), Some(0o644));
    assert_eq!(mode("plugins/emit/run.sh"), Some(0o755));
    assert_eq!(files.len(), 5, "{files:?}");

    // Three invocations: an event that is no CodePipeline job, a job whose
    // policy is missing, and a job that passes.
    for id in ["job-bad-policy", "job-pass"] {
        fake.state.lock().unwrap().in_progress.insert(id.into());
    }
    let (port, runtime) = runtime_api(vec![
        json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
        job_event("job-bad-policy", "{\"policy\": \"missing.yaml\"}"),
        job_event("job-pass", "{\"policy\": \"qod.yaml\"}"),
    ]);
    let store = s.path().join("history");
    let mut child = Command::new(task.join("bootstrap"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("LAMBDA_TASK_ROOT", &task)
        .env("QOD_WORK_DIR", s.path().join("work"))
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("QOD_STORE", &store)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(
            "AWS_ENDPOINT_URL_CODEPIPELINE",
            format!("http://127.0.0.1:{}", fake.port),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while runtime.lock().unwrap().answers.len() < 3 && start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the runtime ended ({status}) before answering three invocations");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The runtime waits for a fourth event: alive, as Lambda expects.
    std::thread::sleep(Duration::from_millis(300));
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(alive, "the runtime must wait for the next event: {logs}");
    let st = runtime.lock().unwrap();
    assert_eq!(st.next_calls, 4, "{logs}");
    let answers = &st.answers;
    assert_eq!(answers.len(), 3, "{answers:?}\n{logs}");

    // 1. Not a job: an error, and the runtime went on.
    let (id, kind, body) = &answers[0];
    assert_eq!((id.as_str(), kind.as_str()), ("req-1", "error"), "{body}");
    assert_eq!(body["errorType"], "QodNotACodePipelineJob");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("CodePipeline.job"),
        "{body}"
    );

    // 2. A missing policy: the job fails as a configuration error, and the
    // invocation, which did its work, is answered.
    let reports = fake.reports();
    let (op, report) = &reports[0];
    assert_eq!(op, "PutJobFailureResult", "{reports:?}");
    assert_eq!(report["jobId"], "job-bad-policy");
    assert_eq!(
        report["failureDetails"]["type"], "ConfigurationError",
        "{report}"
    );
    assert!(report["failureDetails"]["message"]
        .as_str()
        .unwrap()
        .contains("missing.yaml"));
    let (id, kind, body) = &answers[1];
    assert_eq!((id.as_str(), kind.as_str()), ("req-2", "response"));
    assert!(
        body["error"].as_str().unwrap().contains("missing.yaml"),
        "{body}"
    );

    // 3. The gate passes, with the packaged plugin, recorded in the store.
    let (op, report) = &reports[1];
    assert_eq!(op, "PutJobSuccessResult", "{report}");
    assert_eq!(report["jobId"], "job-pass");
    assert_eq!(report["outputVariables"]["decision"], "pass");
    let (id, kind, body) = &answers[2];
    assert_eq!((id.as_str(), kind.as_str()), ("req-3", "response"));
    assert_eq!(body["decision"], "pass", "{body}");
    assert_eq!(body["summary"], "the objective passed");
    assert_eq!(reports.len(), 2);
    let records = crate::common::files_under(&store.join("runs"));
    assert_eq!(records.len(), 1, "{records:?}");
    // The event's artifact credentials never reach the logs.
    for secret in [
        "wJalrXUtnFEMIartifactSECRETKEY",
        "FwoGZXIvYXdzEXAMPLEartifactSESSIONTOKEN",
    ] {
        assert!(!logs.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret));
    }
}

#[test]
fn package_sh_refuses_a_binary_for_another_processor_and_a_missing_policy() {
    let s = crate::common::Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 40.0)],
        "  - { id: t, metric: build.duration, pass: \"<= 60s\" }\n",
    ));
    let other = if arch() == "arm64" { "x86_64" } else { "arm64" };
    let run = |args: &[&str]| {
        Command::new("sh")
            .arg(repo().join("examples/aws/package.sh"))
            .args(args)
            .current_dir(s.path())
            .output()
            .unwrap()
    };
    let out = run(&[
        "--arch",
        other,
        "--binary",
        env!("CARGO_BIN_EXE_qod"),
        "--out",
        "x.zip",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("is not built for {other}")), "{err}");
    let out = run(&[
        "--arch",
        arch(),
        "--binary",
        env!("CARGO_BIN_EXE_qod"),
        "--policy",
        "nope.yaml",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no policy at `nope.yaml`"));
    let out = run(&["--arch", arch(), "--binary", "qod.yaml"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Linux executable"));
    assert!(!s.path().join("x.zip").exists());
}

/// The venv's programs (`scripts/test` installs cfn-lint and the SAM
/// translator there, beside the S3 server).
fn venv_bin(name: &str) -> PathBuf {
    let moto = std::env::var("QOD_MOTO_SERVER")
        .expect("QOD_MOTO_SERVER is not set: run the tests with scripts/test, which installs cfn-lint and aws-sam-translator");
    let bin = Path::new(&moto).parent().unwrap().join(name);
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test",
        bin.display()
    );
    bin
}

fn template() -> Value {
    serde_norway::from_str(
        &std::fs::read_to_string(repo().join("examples/aws/template.yaml")).unwrap(),
    )
    .expect("template.yaml is plain YAML (intrinsics in their long form)")
}

#[test]
fn the_template_lints_clean_before_and_after_the_sam_transform() {
    let template = repo().join("examples/aws/template.yaml");
    let lint = |file: &Path| succeeded(Command::new(venv_bin("cfn-lint")).arg(file));
    lint(&template);
    let dir = tempfile::tempdir().unwrap();
    let cfn = dir.path().join("template.json");
    succeeded(
        Command::new(venv_bin("python"))
            .arg(repo().join("tests/it/aws/translate.py"))
            .arg(&template)
            .arg(&cfn),
    );
    let transformed: Value = serde_json::from_slice(&std::fs::read(&cfn).unwrap()).unwrap();
    assert_eq!(
        transformed["Resources"]["GateFunction"]["Type"],
        "AWS::Lambda::Function"
    );
    assert_eq!(
        transformed["Resources"]["GateFunction"]["Properties"]["Runtime"],
        "provided.al2023"
    );
    lint(&cfn);
}

/// What each role may do: exactly what qod (or the example pipeline) calls.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "GateRole",
        &[
            "codepipeline:PutJobSuccessResult",
            "codepipeline:PutJobFailureResult",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ],
    ),
    (
        "ExamplePipelineRole",
        &[
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetBucketVersioning",
            "s3:PutObject",
            "lambda:InvokeFunction",
        ],
    ),
];

/// Actions that name no resource in IAM: `*` is their only resource.
const RESOURCELESS: &[&str] = &[
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
];

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    }
}

/// The problems of `role`'s permissions against `allowed`.
fn role_problems(name: &str, role: &Value, allowed: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut granted = Vec::new();
    for policy in role["Properties"]["Policies"].as_array().unwrap() {
        for st in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            if st["Effect"] != "Allow" {
                continue;
            }
            if st.get("NotAction").is_some() || st.get("NotResource").is_some() {
                problems.push(format!("{name}: NotAction/NotResource grant too much"));
            }
            let actions = strings(&st["Action"]);
            let resources = strings(&st["Resource"]);
            for a in &actions {
                if a.contains('*') {
                    problems.push(format!("{name}: wildcard action `{a}`"));
                }
                if !allowed.contains(&a.as_str()) {
                    problems.push(format!("{name}: `{a}` is not needed"));
                }
                granted.push(a.clone());
            }
            let any = resources.iter().any(|r| r == "*");
            if any && !actions.iter().all(|a| RESOURCELESS.contains(&a.as_str())) {
                problems.push(format!(
                    "{name}: `*` resource for {actions:?}, which can name theirs"
                ));
            }
        }
    }
    for a in allowed {
        if !granted.iter().any(|g| g == a) {
            problems.push(format!("{name}: `{a}` is needed but not granted"));
        }
    }
    problems
}

#[test]
fn the_roles_grant_what_qod_calls_and_nothing_more() {
    let t = template();
    let roles: Vec<(&String, &Value)> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .collect();
    assert_eq!(
        roles.len(),
        ALLOWED.len(),
        "a role without a test: {roles:?}"
    );
    let mut problems = Vec::new();
    for (name, role) in &roles {
        let allowed = ALLOWED
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no permissions listed for `{name}`"))
            .1;
        problems.extend(role_problems(name, role, allowed));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The checks bite: a wildcard and an extra permission are caught.
    let mut bad = t["Resources"]["GateRole"].clone();
    bad["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][2]["Action"] =
        json!(["s3:*", "s3:DeleteObject"]);
    let found = role_problems("GateRole", &bad, ALLOWED[0].1);
    assert!(
        found.iter().any(|p| p.contains("wildcard action `s3:*`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("`s3:DeleteObject` is not needed")),
        "{found:?}"
    );
    // The history is written under the prefix only.
    let rw =
        &t["Resources"]["GateRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][2];
    assert_eq!(
        rw["Resource"]["Fn::Sub"],
        "${HistoryBucket.Arn}/${HistoryPrefix}/*"
    );
}

#[test]
fn the_bucket_is_private_versioned_encrypted_and_cleans_up_work_in_flight() {
    let t = template();
    let b = &t["Resources"]["HistoryBucket"]["Properties"];
    assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");
    assert!(
        b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_string()
    );
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(b["PublicAccessBlockConfiguration"][k], true, "{k}");
    }
    let prefixes: Vec<String> = b["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["Prefix"]["Fn::Sub"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        prefixes,
        ["${HistoryPrefix}/groups/", "${HistoryPrefix}/suspended/"]
    );
    // The function finds its store where the role lets it write.
    assert_eq!(
        t["Resources"]["GateFunction"]["Properties"]["Environment"]["Variables"]["QOD_STORE"]
            ["Fn::Sub"],
        "s3://${HistoryBucket}/${HistoryPrefix}"
    );
}

#[test]
fn the_glue_table_is_the_athena_table_of_docs_store_md() {
    let t = template();
    let table = &t["Resources"]["RunsTable"]["Properties"]["TableInput"];
    let columns: Vec<(String, String)> = table["StorageDescriptor"]["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Name"].as_str().unwrap().to_owned(),
                c["Type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let errors = crate::docs::check_columns(&columns);
    assert!(errors.is_empty(), "{errors:#?}");
    // The same columns as the DDL, in the same order.
    let ddl = crate::docs::ddl_columns();
    let norm = |s: &str| s.replace(' ', "");
    assert_eq!(
        columns
            .iter()
            .map(|(n, t)| (n.clone(), norm(t)))
            .collect::<Vec<_>>(),
        ddl.iter()
            .map(|(n, t)| (n.clone(), norm(t)))
            .collect::<Vec<_>>()
    );
    assert_eq!(table["PartitionKeys"][0]["Name"], "date");
    assert_eq!(
        table["Parameters"]["storage.location.template"]["Fn::Sub"],
        "s3://${HistoryBucket}/${HistoryPrefix}/runs/date=${!date}"
    );
}

#[test]
fn package_sh_packages_a_downloaded_release_and_refuses_a_wrong_checksum() {
    let s = crate::common::Scratch::new();
    s.policy(&emit_policy(
        &[("build", "duration", 40.0)],
        "  - { id: t, metric: build.duration, pass: \"<= 60s\" }\n",
    ));
    let package = |release: &crate::install::Release, out: &str| {
        Command::new("sh")
            .arg(repo().join("examples/aws/package.sh"))
            .args([
                "--arch",
                arch(),
                "--version",
                crate::install::VERSION,
                "--out",
                out,
            ])
            .current_dir(s.path())
            .env("QOD_DOWNLOAD_URL", release.url())
            // The policy's plugin is found where the tests keep it (and
            // so is not packaged: the project has no `plugins/`).
            .env("QOD_PLUGIN_PATH", fixture("plugins"))
            .env("HOME", s.path())
            .output()
            .unwrap()
    };
    let release = crate::install::Release::start(false);
    let out = package(&release, "good.zip");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let files = unzip(&s.path().join("good.zip"), &s.path().join("good"));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["qod", "bootstrap", "qod.yaml"]);
    // The release's binary, byte for byte.
    assert_eq!(
        std::fs::read(s.path().join("good/qod")).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_qod")).unwrap()
    );

    let corrupt = crate::install::Release::start(true);
    let out = package(&corrupt, "bad.zip");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("cannot download qod for"), "{err}");
    assert!(!s.path().join("bad.zip").exists());
}
