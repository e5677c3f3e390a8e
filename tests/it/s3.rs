//! The S3 store against a real S3-compatible server (moto) on 127.0.0.1,
//! started here, with the real AWS SDK. `scripts/test` installs the server;
//! without it these tests fail rather than skip.

use crate::common::{emit_policy, Scratch};
use qod::record::RunRecord;
use qod::store::{Blobs, S3Blobs, Store, Written};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A moto server on a free port of 127.0.0.1, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    pub fn start() -> Moto {
        let exe = std::env::var("QOD_MOTO_SERVER")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| crate::common::repo().join(".venv/bin/moto_server"));
        assert!(
            exe.is_file(),
            "no S3-compatible server at `{}`: run the tests with `scripts/test`, which installs moto[server] into .venv",
            exe.display()
        );
        let port = free_port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Dummy credentials and a local endpoint: signed requests, nothing leaves the machine.
pub fn aws_env(endpoint: &str) -> BTreeMap<String, String> {
    [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn create_bucket(endpoint: &str, bucket: &str) {
    rt().block_on(async {
        let env = aws_env(endpoint);
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version_latest()
            .endpoint_url(endpoint)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                &env["AWS_ACCESS_KEY_ID"],
                "test",
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
    });
}

pub fn scratch_for(endpoint: &str) -> Scratch {
    let mut s = Scratch::new();
    for (k, v) in aws_env(endpoint) {
        s = s.env(&k, &v);
    }
    s
}

const OBJECTIVE: &str = "  - { id: t, metric: build.duration, pass: \"<= baseline * 1.5\" }\n";

fn history_len(s: &Scratch, store: &str) -> usize {
    let r = s.qod(&[
        "history", "--store", store, "--format", "json", "--last", "100000",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json().as_array().unwrap().len()
}

#[test]
fn runs_record_and_compare_through_s3() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "gate");
    let s = scratch_for(&moto.endpoint());
    let store = "s3://gate/team/app";
    for d in [30.0, 32.0, 33.0] {
        s.policy(&emit_policy(&[("build", "duration", d)], OBJECTIVE));
        let r = s.qod(&["run", "--store", store]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.json()["store"]["recorded"], true);
    }
    s.policy(&emit_policy(&[("build", "duration", 48.0)], OBJECTIVE));
    let r = s.qod(&["run", "--store", store]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["objectives"][0]["target"], 47.5);
    assert_eq!(d["store"]["location"], store);
    assert_eq!(history_len(&s, store), 4);

    // Deployments feed `last_deployment` in the context.
    let r = s.qod(&["deployed", "--store", store, "--revision", "9f1c2e3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = s.qod(&["run", "--store", store, "--no-record"]).json();
    assert_eq!(d["store"]["last_deployment"]["revision"], "9f1c2e3");
    assert_eq!(d["store"]["last_deployment"]["source"], "deployment");

    // Export reads the records themselves (what Athena reads).
    let r = s.qod(&["export", "--store", store, "--format", "jsonl"]);
    assert_eq!(r.stdout.lines().count(), 4);
    for line in r.stdout.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        crate::common::assert_valid("run-record.schema.json", &rec);
    }
    let r = s.qod(&["store", "prune", "--store", store, "--keep", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(history_len(&s, store), 2);
    assert_eq!(
        s.qod(&["export", "--store", store, "--format", "csv"])
            .stdout
            .lines()
            .count(),
        3
    );
}

#[test]
fn conditional_writes_never_overwrite() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "cas");
    rt().block_on(async {
        let blobs = S3Blobs::connect("cas/p", &aws_env(&moto.endpoint()))
            .await
            .unwrap();
        assert_eq!(
            blobs.put("k.json", b"one".to_vec(), None).await.unwrap(),
            Written::Yes
        );
        // A second create of the same key is refused.
        assert_eq!(
            blobs.put("k.json", b"two".to_vec(), None).await.unwrap(),
            Written::Conflict
        );
        let first = blobs.get("k.json").await.unwrap().unwrap();
        assert_eq!(first.bytes, b"one");
        // Compare-and-swap: the current tag wins once; the stale one loses.
        assert_eq!(
            blobs
                .put("k.json", b"three".to_vec(), Some(&first.etag))
                .await
                .unwrap(),
            Written::Yes
        );
        assert_eq!(
            blobs
                .put("k.json", b"four".to_vec(), Some(&first.etag))
                .await
                .unwrap(),
            Written::Conflict
        );
        assert_eq!(blobs.get("k.json").await.unwrap().unwrap().bytes, b"three");
        assert_eq!(blobs.list("").await.unwrap(), ["k.json"]);

        // A run record, too, is written once.
        let store = Store::open("s3://cas/runs", &aws_env(&moto.endpoint()))
            .await
            .unwrap();
        let rec = seed_records(1).pop().unwrap();
        store.record(&rec).await.unwrap();
        let again = store.record(&rec).await.unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
    });
}

#[test]
fn sixteen_concurrent_runs_keep_sixteen_records_and_a_consistent_index() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "busy");
    let s = scratch_for(&moto.endpoint());
    s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
    let runs = (0..16).map(|_| s.command(&["run", "--store", "s3://busy/x"]));
    for r in crate::common::at_once(runs) {
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(history_len(&s, "s3://busy/x"), 16);
    let r = s.qod(&["export", "--store", "s3://busy/x", "--format", "jsonl"]);
    assert_eq!(r.stdout.lines().count(), 16);
}

/// A proxy in front of moto, one request per connection: `fault` sees each
/// request line and may answer it itself; everything else is passed on.
fn proxy(
    upstream: u16,
    fault: impl Fn(&str) -> Option<&'static [u8]> + Send + Sync + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fault = Arc::new(fault);
    std::thread::spawn(move || {
        for conn in listener.incoming().take(2000) {
            let Ok(mut client) = conn else { continue };
            let fault = fault.clone();
            std::thread::spawn(move || {
                let Ok(request) = read_request(&mut client) else {
                    return;
                };
                let line = String::from_utf8_lossy(
                    &request[..request.iter().position(|b| *b == b'\r').unwrap_or(0)],
                )
                .into_owned();
                if let Some(answer) = fault(&line) {
                    let _ = client.write_all(answer);
                    return;
                }
                let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                // One request per connection, so every request passes `fault`.
                let head_end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
                let mut forwarded = request[..head_end].to_vec();
                forwarded.extend_from_slice(b"Connection: close\r\n");
                forwarded.extend_from_slice(&request[head_end..]);
                if server.write_all(&forwarded).is_ok() {
                    let _ = std::io::copy(&mut server, &mut client);
                }
            });
        }
    });
    port
}

/// Reads one request: head and body.
fn read_request(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    buf.extend_from_slice(&body);
    Ok(buf)
}

const SLOW_DOWN: &[u8] = b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: 59\r\nConnection: close\r\n\r\n<Error><Code>SlowDown</Code><Message>busy</Message></Error>";
const PRECONDITION_FAILED: &[u8] = b"HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/xml\r\nContent-Length: 78\r\nConnection: close\r\n\r\n<Error><Code>PreconditionFailed</Code><Message>changed</Message></Error>\n\n\n\n\n\n";

/// A fault for the first `n` requests that `matches`.
fn first(
    n: usize,
    matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    answer: &'static [u8],
) -> (
    impl Fn(&str) -> Option<&'static [u8]> + Send + Sync + 'static,
    Arc<AtomicUsize>,
) {
    let left = Arc::new(AtomicUsize::new(n));
    let l = left.clone();
    let f = move |line: &str| {
        (matches(line)
            && l.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok())
        .then_some(answer)
    };
    (f, left)
}

#[test]
fn a_lost_index_race_is_retried() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "race");
    // The first swap of the index loses, as if another writer got there first.
    let (fault, left) = first(
        1,
        |line| line.starts_with("PUT /race/x/index/head.json"),
        PRECONDITION_FAILED,
    );
    let port = proxy(moto.port, fault);
    let s = scratch_for(&format!("http://127.0.0.1:{port}"));
    s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
    let r = s.qod(&["run", "--store", "s3://race/x"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(left.load(Ordering::SeqCst), 0);
    let d = r.json();
    assert_eq!(d["store"]["recorded"], true);
    // 6 requests, plus reading the index again and swapping it again.
    assert_eq!(d["store"]["requests"], 6 + 2);
    assert_eq!(history_len(&s, "s3://race/x"), 1);
}

#[test]
fn server_errors_are_retried() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "flaky");
    let (fault, left) = first(3, |_| true, SLOW_DOWN);
    let port = proxy(moto.port, fault);
    let s = scratch_for(&format!("http://127.0.0.1:{port}"));
    s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
    let r = s.qod(&["run", "--store", "s3://flaky/x"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_eq!(d["store"]["recorded"], true);
    assert_eq!(
        left.load(Ordering::SeqCst),
        0,
        "all three faults were served"
    );
    // A run lists the excluded runs, reads the index, lists the runner
    // calibrations, writes its record, then reads and swaps the index: 6
    // requests; each fault adds one retry.
    assert_eq!(d["store"]["requests"], 6 + 3);
}

#[test]
fn a_server_that_dies_mid_run_loses_nothing() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "fragile");
    let s = scratch_for(&moto.endpoint());
    // A plugin that stops the server while the gate runs.
    let plugin = s.path().join("plugins/stop-server");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.json"),
        r#"{"manifest_version":1,"name":"stop-server","version":"1","protocol_versions":[1],"command":["./run.sh"],"timeout":"20s","metrics":[{"name":"duration","unit":"s","better":"lower"}]}"#,
    )
    .unwrap();
    std::fs::write(
        plugin.join("run.sh"),
        // Waits until the server is gone (a zombie, since the test has not reaped it yet).
        format!(
            "#!/bin/sh\ncat >/dev/null\nkill {pid}\nwhile [ -e /proc/{pid} ] && ! grep -q ') Z' /proc/{pid}/stat; do sleep 0.05; done\necho '{{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{{\"name\":\"duration\",\"value\":12}}]}}'\n",
            pid = moto.pid()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        plugin.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    s.policy("version: 1\nplugins:\n  build: { uses: stop-server }\nobjectives:\n  - { id: t, metric: build.duration, pass: \"< 60s\" }\n");
    let r = s.qod(&["run", "--store", "s3://fragile/x", "--spool", "spool"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let d = r.json();
    assert_eq!(
        d["decision"], "pass",
        "the decision is still made and printed: {d:#}"
    );
    assert_eq!(d["store"]["recorded"], false);
    assert_eq!(d["store"]["spooled"], true);
    assert!(
        d["store"]["error"]
            .as_str()
            .unwrap()
            .contains("s3://fragile/x"),
        "{d:#}"
    );
    assert!(r.stderr.contains("error: history store"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_dir(s.path().join("spool")).unwrap().count(),
        1
    );
    drop(moto);

    // The server is back (empty, as moto keeps nothing): the next run uploads the spool.
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "fragile");
    let s2 = scratch_for(&moto.endpoint());
    std::fs::rename(s.path().join("spool"), s2.path().join("spool")).unwrap();
    s2.policy(&emit_policy(
        &[("build", "duration", 10.0)],
        "  - { id: t, metric: build.duration, pass: \"< 60s\" }\n",
    ));
    let r = s2.qod(&["run", "--store", "s3://fragile/x", "--spool", "spool"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["store"]["uploaded_from_spool"], 1);
    assert_eq!(
        std::fs::read_dir(s2.path().join("spool")).unwrap().count(),
        0
    );
    assert_eq!(history_len(&s2, "s3://fragile/x"), 2);
}

/// `n` past runs of one objective, oldest first, a minute apart.
pub fn seed_records(n: usize) -> Vec<RunRecord> {
    let base = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    (0..n)
        .map(|i| {
            let at = base + chrono::Duration::minutes(i as i64);
            let ts = qod::time::rfc3339(at);
            let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, 0));
            serde_json::from_value(serde_json::json!({
                "record_version": 1, "run_id": id.to_string(), "started_at": ts, "finished_at": ts,
                "pipeline": {"provider": "local"}, "source": {},
                "decision": "pass", "score": 100.0,
                "metrics": [{"key": "build.duration", "instance": "build", "name": "duration", "value": 10.0 + (i % 7) as f64, "unit": "s"}],
                "objectives": [{"id": "t", "metric": "build.duration", "status": "pass", "effect": "pass", "value": 10.0}],
                "plugins": [{"instance": "build", "name": "emit", "status": "ok", "duration_ms": 3}]
            }))
            .unwrap()
        })
        .collect()
}

#[test]
fn requests_per_evaluation_do_not_grow_with_history() {
    let moto = Moto::start();
    let env = aws_env(&moto.endpoint());
    let mut requests = Vec::new();
    for (bucket, n) in [("small", 100), ("large", 100_000)] {
        create_bucket(&moto.endpoint(), bucket);
        let store = format!("s3://{bucket}/h");
        rt().block_on(async {
            let s = Store::open(&store, &env).await.unwrap();
            s.import(seed_records(n), false).await.unwrap();
        });
        let s = scratch_for(&moto.endpoint());
        s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
        let r = s.qod(&["run", "--store", &store]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let d = r.json();
        assert_eq!(crate::common::baseline_runs(&d), 3);
        requests.push(d["store"]["requests"].as_u64().unwrap());
    }
    assert_eq!(
        requests[0], requests[1],
        "requests with 100 runs vs 100,000: {requests:?}"
    );
}

#[test]
fn store_errors_say_what_s3_answered_or_why_it_did_not() {
    // S3 answers with an error: its status, code and message.
    let moto = Moto::start();
    let s = scratch_for(&moto.endpoint());
    let r = s.qod(&["history", "--store", "s3://no-such-bucket/x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: cannot use the history store: cannot read `s3://no-such-bucket/x/index/head.json`: HTTP 404 NoSuchBucket: "
        ),
        "{}",
        r.stderr
    );
    // Nothing answers: the cause chain says why.
    let s = scratch_for(&format!("http://127.0.0.1:{}", free_port()));
    let r = s.qod(&["history", "--store", "s3://any/x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: cannot use the history store: cannot read `s3://any/x/index/head.json`: dispatch failure"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.to_lowercase().contains("connect"), "{}", r.stderr);
}

#[test]
fn an_excluded_run_leaves_the_baseline_of_an_s3_store_and_a_git_branch() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "excl");
    let s = scratch_for(&moto.endpoint());
    let bare = s.path().join("history.git");
    crate::common::bare_repo(&bare);
    for store in [
        "s3://excl/x".to_owned(),
        format!("git+file://{}#qod-history", bare.display()),
    ] {
        let mut ids = Vec::new();
        for v in [10.0, 10.5, 30.0, 10.2] {
            s.policy(&emit_policy(
                &[("build", "duration", v)],
                "  - { id: t, metric: build.duration, pass: \"<= baseline * 1.5\", baseline: { last: 10, include: all } }\n",
            ));
            let r = s.qod(&["run", "--store", &store]);
            assert!(r.code <= 1, "{store}: {}", r.stderr);
            ids.push(r.json()["run"]["id"].as_str().unwrap().to_owned());
        }
        let r = s.qod(&[
            "history",
            "exclude",
            &ids[2],
            "--reason",
            "a sick runner",
            "--store",
            &store,
        ]);
        assert_eq!(r.code, 0, "{store}: {}", r.stderr);
        let r = s.qod(&["run", "--store", &store, "--no-record"]);
        let d = r.json();
        let runs: Vec<&str> = d["objectives"][0]["baseline"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(runs.len(), 3, "{store}: {runs:?}");
        assert!(!runs.contains(&ids[2].as_str()), "{store}: {runs:?}");
        let r = s.qod(&["history", "--store", &store, "--format", "json"]);
        let history = r.json();
        let flagged: Vec<&serde_json::Value> = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| !r["excluded"].is_null())
            .collect();
        assert_eq!(flagged.len(), 1, "{store}");
        assert_eq!(flagged[0]["excluded"]["reason"], "a sick runner");
    }
}
