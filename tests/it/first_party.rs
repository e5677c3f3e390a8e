//! The first-party plugins (`plugins/*`), each run by the engine as a
//! subprocess over protocol v1, on real inputs: a real git history, real
//! commands, a real HTTP server on 127.0.0.1, real harness outputs.

use crate::common::{assert_valid, fixture, redact, Scratch};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The plugin result of `instance` in decision `d`.
fn plugin<'a>(d: &'a Value, instance: &str) -> &'a Value {
    d["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["instance"] == instance)
        .unwrap_or_else(|| panic!("no plugin `{instance}` in {d:#}"))
}

fn metric(p: &Value, name: &str) -> f64 {
    p["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric `{name}` in {p:#}"))["value"]
        .as_f64()
        .unwrap()
}

/// Checks that `p` ended with an error result of `kind`; its message.
fn expect_error(p: &Value, kind: &str) -> String {
    let (got, message) = error_of(p);
    assert_eq!(got, kind, "{message}");
    message
}

fn error_of(p: &Value) -> (String, String) {
    assert_eq!(p["status"], "plugin_error", "{p:#}");
    (
        p["error"]["kind"].as_str().unwrap_or_default().to_owned(),
        p["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn first_party_plugins_are_found_by_name() {
    let s = Scratch::new();
    let r = s.qod(&["plugins", "list", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: Value = serde_json::from_str(&r.stdout).unwrap();
    for name in [
        "bench-import",
        "build-time",
        "command-bench",
        "http-load",
        "merged-changes",
    ] {
        let p = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("`{name}` not listed: {list:#}"));
        assert_eq!(p["origin"], "first-party", "{p:#}");
    }
    // Every manifest is valid, and its command runs the qod that found it.
    for entry in std::fs::read_dir(crate::common::repo().join("plugins")).unwrap() {
        let file = entry.unwrap().path().join("plugin.json");
        if file.is_file() {
            let m: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            assert_valid("plugin-manifest.schema.json", &m);
            assert_eq!(m["command"][0], "qod", "{}", file.display());
        }
    }
}

// ---------------------------------------------------------------- build-time

#[test]
fn build_time_measures_from_codebuild_start_time() {
    let start_ms = chrono::Utc::now().timestamp_millis() - 30_000;
    let s = Scratch::new()
        .env("CODEBUILD_BUILD_ID", "app:1b2c")
        .env("CODEBUILD_START_TIME", &start_ms.to_string());
    s.policy(
        "version: 1\nplugins:\n  build: { uses: build-time }\nobjectives:\n  - { id: fast, metric: build.duration, pass: \"< 60s\" }\n",
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let seconds = metric(plugin(&d, "build"), "duration");
    assert!((30.0..40.0).contains(&seconds), "{seconds}");
    assert!(plugin(&d, "build")["summary"]
        .as_str()
        .unwrap()
        .contains("CODEBUILD_START_TIME"));
}

#[test]
fn build_time_without_a_start_says_how_to_give_one() {
    // CodeBuild can leave the variable empty; nothing else says when the build started.
    let s = Scratch::new().env("CODEBUILD_START_TIME", "");
    s.policy(
        "version: 1\nplugins:\n  build: { uses: build-time }\n  bad: { uses: build-time, with: { start: yesterday } }\nobjectives:\n  - { id: fast, metric: build.duration, pass: \"< 60s\" }\n  - { id: bad, metric: bad.duration, pass: \"< 60s\" }\n",
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let message = expect_error(plugin(&d, "build"), "no-start-time");
    assert!(message.contains("`with.start`"), "{message}");
    let message = expect_error(plugin(&d, "bad"), "bad-config");
    assert!(
        message.contains("`with.start`") && message.contains("yesterday"),
        "{message}"
    );
}

// ------------------------------------------------------------ merged-changes

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn commit(dir: &Path, file: &str, message: &str) {
    std::fs::write(dir.join(file), message).unwrap();
    git(dir, &["add", file]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// A history after a deployment: two merged pull requests (one of them
/// merged `main` into itself first), one squash-merged, one direct commit.
fn repo_after_deployment(dir: &Path) -> String {
    git(dir, &["init", "-q"]);
    commit(dir, "a.txt", "initial");
    let deployed = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["checkout", "-q", "-b", "feature-1"]);
    commit(dir, "b.txt", "feature one");
    git(dir, &["checkout", "-q", "main"]);
    git(
        dir,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #1",
            "feature-1",
        ],
    );
    commit(dir, "c.txt", "Add the thing (#2)");
    git(dir, &["checkout", "-q", "-b", "feature-3"]);
    commit(dir, "d.txt", "feature three");
    git(dir, &["checkout", "-q", "main"]);
    commit(dir, "e.txt", "fix a typo");
    git(dir, &["checkout", "-q", "feature-3"]);
    git(
        dir,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge main into feature-3",
            "main",
        ],
    );
    git(dir, &["checkout", "-q", "main"]);
    git(
        dir,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #3",
            "feature-3",
        ],
    );
    deployed
}

#[test]
fn merged_changes_counts_pull_requests_since_the_recorded_deployment() {
    let s = Scratch::new();
    let deployed = repo_after_deployment(s.path());
    s.policy(
        "version: 1\nplugins:\n  changes: { uses: merged-changes }\nobjectives:\n  - { id: release, metric: changes.merged, pass: \">= 3\" }\n",
    );
    // No deployment recorded: an error that says how to record one.
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let message = expect_error(plugin(&r.json(), "changes"), "no-reference");
    assert!(message.contains("qod deployed"), "{message}");

    let r = s.qod(&["deployed", "--revision", &deployed]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = plugin(&d, "changes");
    // Merges #1 and #3 and squash #2; not the merge of main into feature-3.
    assert_eq!(metric(p, "merged"), 3.0, "{p:#}");
    assert_eq!(metric(p, "commits"), 7.0, "{p:#}");
    assert!(metric(p, "days_since_deployment") < 0.01);
    assert_eq!(
        p["summary"]
            .as_str()
            .unwrap()
            .split(" since ")
            .next()
            .unwrap(),
        "3 merged (2 merge commits, 1 squash merge) and 7 commits"
    );

    // Counting every merge, the merge inside feature-3 counts too.
    s.policy(&format!(
        "version: 1\nplugins:\n  changes: {{ uses: merged-changes, with: {{ since: \"{deployed}\", first_parent: false }} }}\n  tagged: {{ uses: merged-changes, with: {{ squash_pattern: \"^Add\" }} }}\nobjectives:\n  - {{ id: release, metric: changes.merged, pass: \">= 3\" }}\n  - {{ id: tagged, metric: tagged.merged, pass: \">= 3\" }}\n"
    ));
    let d = s.qod(&["run"]).json();
    assert_eq!(metric(plugin(&d, "changes"), "merged"), 4.0);
    assert_eq!(metric(plugin(&d, "tagged"), "merged"), 3.0);
}

#[test]
fn merged_changes_names_a_revision_it_cannot_find() {
    let s = Scratch::new();
    repo_after_deployment(s.path());
    s.policy(
        "version: 1\nplugins:\n  a: { uses: merged-changes, with: { since: v9.9.9 } }\n  b: { uses: merged-changes, with: { since: HEAD~1, repository: nowhere } }\n  c: { uses: merged-changes, with: { since: HEAD~1, squash_pattern: \"(\" } }\nobjectives:\n  - { id: a, metric: a.merged, pass: \">= 3\" }\n  - { id: b, metric: b.merged, pass: \">= 3\" }\n  - { id: c, metric: c.merged, pass: \">= 3\" }\n",
    );
    let d = s.qod(&["run"]).json();
    let message = expect_error(plugin(&d, "a"), "unknown-revision");
    assert!(message.contains("`v9.9.9`"), "{message}");
    let message = expect_error(plugin(&d, "b"), "not-a-repository");
    assert!(message.contains("with.repository"), "{message}");
    let message = expect_error(plugin(&d, "c"), "bad-config");
    assert!(message.contains("with.squash_pattern"), "{message}");
}

// ------------------------------------------------------------- command-bench

#[test]
fn command_bench_times_runs_like_hyperfine() {
    let s = Scratch::new();
    s.policy(
        r#"version: 1
plugins:
  argv: { uses: command-bench, with: { command: ["sleep", "0.02"], warmup: 1, min_runs: 4, min_time: 0s } }
  shell:
    uses: command-bench
    with: { command: "head -c 8000000 /dev/zero | wc -c", prepare: "touch prepared", cleanup: "rm prepared", min_runs: 3, max_runs: 3 }
objectives:
  - { id: sleep, metric: argv.mean, pass: "< 1s" }
  - { id: pipe, metric: shell.max, pass: "< 5s" }
"#,
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = plugin(&d, "argv");
    let samples = p["metrics"][0]["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 4, "{p:#}");
    let (min, mean, max) = (metric(p, "min"), metric(p, "mean"), metric(p, "max"));
    assert!(
        0.02 <= min && min <= mean && mean <= max && max < 1.0,
        "{p:#}"
    );
    assert!(metric(p, "median") >= min && metric(p, "stddev") >= 0.0);
    // `sleep` barely runs on the CPU and stays small.
    assert!(
        metric(p, "user") < 0.02 && metric(p, "peak_rss") < 20e6,
        "{p:#}"
    );
    let p = plugin(&d, "shell");
    assert_eq!(p["metrics"][0]["samples"].as_array().unwrap().len(), 3);
    assert!(metric(p, "peak_rss") > 0.0);
    assert!(!s.path().join("prepared").exists(), "cleanup ran");
}

#[test]
fn command_bench_reports_a_failing_command() {
    let s = Scratch::new();
    s.policy(
        r#"version: 1
plugins:
  fails: { uses: command-bench, with: { command: "echo boom >&2; exit 3", min_runs: 2 } }
  ignored: { uses: command-bench, with: { command: "exit 3", ignore_failure: true, min_runs: 2, min_time: 0s, warmup: 0 } }
  prepare: { uses: command-bench, with: { command: "true", prepare: "exit 4" } }
  limits: { uses: command-bench, with: { command: "true", min_runs: 5, max_runs: 2 } }
  missing: { uses: command-bench, with: { command: ["no-such-program-here"] } }
objectives:
  - { id: a, metric: fails.mean, pass: "< 1s" }
  - { id: b, metric: ignored.mean, pass: "< 1s" }
  - { id: c, metric: prepare.mean, pass: "< 1s" }
  - { id: d, metric: limits.mean, pass: "< 1s" }
  - { id: e, metric: missing.mean, pass: "< 1s" }
"#,
    );
    let d = s.qod(&["run"]).json();
    let message = expect_error(plugin(&d, "fails"), "command-failed");
    assert!(
        message.contains("exited with status 3")
            && message.contains("boom")
            && message.contains("ignore_failure"),
        "{message}"
    );
    assert_eq!(plugin(&d, "ignored")["status"], "ok");
    let message = expect_error(plugin(&d, "prepare"), "command-failed");
    assert!(
        message.contains("`with.prepare` exited with status 4"),
        "{message}"
    );
    let message = expect_error(plugin(&d, "limits"), "bad-config");
    assert!(message.contains("`with.max_runs`"), "{message}");
    let message = expect_error(plugin(&d, "missing"), "command-failed");
    assert!(message.contains("no-such-program-here"), "{message}");
}

// ------------------------------------------------------------- bench-import

/// Every fixture format through one engine run; the metrics are snapshotted.
#[test]
fn bench_import_reads_every_harness_format() {
    let s = Scratch::new();
    let dir = fixture("bench-import");
    let inputs = [
        ("criterion", "criterion", "auto"),
        ("criterion02", "criterion-0.2", "criterion"),
        ("bencher", "criterion-bencher.txt", "auto"),
        ("hyperfine", "hyperfine.json", "auto"),
        ("gbench", "google-benchmark-single.json", "auto"),
        ("gbenchreps", "google-benchmark-repetitions.json", "auto"),
        (
            "gbenchaggs",
            "google-benchmark-aggregates-only.json",
            "google-benchmark",
        ),
        ("pytest", "pytest-benchmark.json", "auto"),
        ("go", "go-test.txt", "auto"),
        ("jmh", "jmh.json", "auto"),
        ("k6", "k6-summary.json", "auto"),
        ("bmf", "bmf.json", "auto"),
        ("custom", "custom.json", "auto"),
    ];
    let mut policy = String::from("version: 1\nplugins:\n");
    for (id, file, format) in inputs {
        policy.push_str(&format!(
            "  {id}: {{ uses: bench-import, with: {{ path: \"{}\", format: {format} }} }}\n",
            dir.join(file).display()
        ));
    }
    policy.push_str(
        "objectives:\n  - { id: fib, metric: \"criterion.fib 15\", pass: \"< 1ms\" }\n  - { id: thresholds, metric: k6.thresholds_failed, pass: \"== 0\", mode: shadow }\n",
    );
    s.policy(&policy);
    let r = s.qod(&["run", "--samples", "all"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_valid("decision.schema.json", &d);
    // One line per metric: instance, name, value, unit, direction, samples.
    let mut lines = Vec::new();
    for p in d["plugins"].as_array().unwrap() {
        assert_eq!(p["status"], "ok", "{p:#}");
        for m in p["metrics"].as_array().unwrap() {
            lines.push(format!(
                "{}.{} = {} {} ({}){}",
                p["instance"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
                m["value"],
                m["unit"].as_str().unwrap_or("-"),
                m["better"].as_str().unwrap(),
                m["samples"]
                    .as_array()
                    .map(|s| format!(" [{} samples]", s.len()))
                    .unwrap_or_default()
            ));
        }
    }
    insta::assert_snapshot!("bench_import_metrics", lines.join("\n"));
    // k6 marks a failed threshold `true`.
    assert_eq!(metric(plugin(&d, "k6"), "thresholds_failed"), 1.0);
}

#[test]
fn bench_import_fails_clearly_on_unusable_input() {
    let s = Scratch::new();
    let hyperfine = std::fs::read_to_string(fixture("bench-import/hyperfine.json")).unwrap();
    s.write("truncated.json", &hyperfine[..hyperfine.len() / 2]);
    s.write("foreign.txt", "PASS\nok  \texample.com/fib\t0.016s\n");
    s.write(
        "dup.json",
        r#"[{"name":"a","value":1},{"name":"a","value":2}]"#,
    );
    s.policy(&format!(
        r#"version: 1
plugins:
  truncated: {{ uses: bench-import, with: {{ path: truncated.json }} }}
  truncatedhf: {{ uses: bench-import, with: {{ path: truncated.json, format: hyperfine }} }}
  foreign: {{ uses: bench-import, with: {{ path: foreign.txt }} }}
  wrong: {{ uses: bench-import, with: {{ path: "{}", format: go-test }} }}
  missing: {{ uses: bench-import, with: {{ path: "out/*.json" }} }}
  dup: {{ uses: bench-import, with: {{ path: dup.json }} }}
objectives:
  - {{ id: a, metric: "truncated.x", pass: "< 1s" }}
"#,
        fixture("bench-import/hyperfine.json").display()
    ));
    let r = s.qod(&["run"]);
    let d = r.json();
    let mut lines = Vec::new();
    for p in d["plugins"].as_array().unwrap() {
        let (kind, message) = error_of(p);
        let message = message
            .replace(&s.path().display().to_string(), "[scratch]")
            .replace(&crate::common::repo().display().to_string(), "[repo]");
        lines.push(format!(
            "{}: {kind}: {message}",
            p["instance"].as_str().unwrap()
        ));
    }
    insta::assert_snapshot!("bench_import_errors", lines.join("\n"));
}

/// Real outputs another project collected for its own parser tests, when
/// they are present beside the repository; they are not copied in.
#[test]
fn bench_import_reads_the_corpus_of_real_outputs() {
    let corpus = crate::common::repo().join("../shared/corpus/github-action-benchmark");
    if !corpus.is_dir() {
        eprintln!("skipped: no corpus at {}", corpus.display());
        return;
    }
    // file → (format detected, a metric it must hold, its value)
    let expected = [
        ("cargo_output.txt", "libtest", "bench_fib_10", 135.0),
        ("cargo_output2.txt", "libtest", "", 0.0),
        ("cargo_output3.txt", "libtest", "", 0.0),
        ("cargo_output_units.txt", "libtest", "cmov", 2835.0),
        ("go_output.txt", "go-test", "BenchmarkFib10", 325.0),
        ("go_single_package_output.txt", "go-test", "", 0.0),
        ("go_fiber_duplicate_names_output.txt", "go-test", "", 0.0),
        (
            "googlecpp_output.json",
            "google-benchmark",
            "fib_10",
            214.98980114547953,
        ),
        (
            "pytest_output.json",
            "pytest-benchmark",
            "bench.py::test_fib_10",
            2.408868133322941e-05,
        ),
        ("pytest_several_units.json", "pytest-benchmark", "", 0.0),
        ("jmh_output.json", "jmh", "", 0.0),
        ("jmh_output_2.json", "jmh", "", 0.0),
        ("customSmallerIsBetter_output.json", "custom", "", 0.0),
        ("customBiggerIsBetter_output.json", "custom", "", 0.0),
    ];
    let s = Scratch::new();
    let mut policy = String::from("version: 1\nplugins:\n");
    for (i, (file, format, _, _)) in expected.iter().enumerate() {
        policy.push_str(&format!(
            "  c{i}: {{ uses: bench-import, with: {{ path: \"{}\" }} }}\n  f{i}: {{ uses: bench-import, with: {{ path: \"{}\", format: {format} }} }}\n",
            corpus.join(file).display(),
            corpus.join(file).display()
        ));
    }
    policy.push_str("objectives:\n  - { id: a, metric: c0.x, pass: \"< 1s\", mode: shadow }\n");
    s.policy(&policy);
    let d = s.qod(&["run"]).json();
    for (i, (file, format, name, value)) in expected.iter().enumerate() {
        let p = plugin(&d, &format!("c{i}"));
        assert_eq!(p["status"], "ok", "{file}: {p:#}");
        assert!(
            p["summary"]
                .as_str()
                .unwrap()
                .ends_with(&format!("({format})")),
            "{file}: {p:#}"
        );
        assert_eq!(
            p["metrics"],
            plugin(&d, &format!("f{i}"))["metrics"],
            "{file}"
        );
        if !name.is_empty() {
            let got = metric(p, name);
            assert!(
                (got - value).abs() <= value.abs() * 1e-9,
                "{file}: {name} = {got}"
            );
        }
    }
    let _ = redact;
}

// ----------------------------------------------------------------- http-load

/// A real HTTP server on 127.0.0.1: `/` answers 200, `/fail` 503, `/slow`
/// 200 after 20 ms. With a certificate it speaks TLS and offers HTTP/2.
struct HttpServer {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

fn http_server(tls: Option<(&Path, &Path)>) -> HttpServer {
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.map(|(cert, key)| {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
    });
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let hits = counter.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        hits.fetch_add(1, Ordering::Relaxed);
                        async move {
                            let status = match req.uri().path() {
                                "/fail" => 503,
                                "/slow" => {
                                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                                    200
                                }
                                _ => 200,
                            };
                            let mut resp =
                                hyper::Response::new(Full::new(Bytes::from_static(b"ok\n")));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    },
                );
                match acceptor {
                    None => {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    }
                    Some(a) => {
                        let Ok(stream) = a.accept(tcp).await else {
                            return;
                        };
                        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        } else {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                }
            });
        }
    });
    HttpServer {
        port,
        hits,
        _rt: rt,
    }
}

#[test]
fn http_load_measures_a_local_server() {
    let server = http_server(None);
    let s = Scratch::new();
    s.policy(&format!(
        r#"version: 1
plugins:
  count: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/", requests: 300, concurrency: 4, warmup: 0s, max_samples: 100 }} }}
  slow: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/slow", duration: 300ms, concurrency: 2, warmup: 0s }} }}
  paced: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/", duration: 500ms, rate: 40, concurrency: 4, warmup: 0s, method: POST, body: "x=1", headers: {{ x-test: "1" }} }} }}
  behind: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/slow", duration: 300ms, rate: 100, concurrency: 1, warmup: 0s }} }}
objectives:
  - {{ id: p95, metric: count.p95, pass: "< 1s" }}
  - {{ id: errors, metric: count.error_rate, pass: "== 0" }}
"#,
        port = server.port
    ));
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = plugin(&d, "count");
    assert_eq!(metric(p, "requests"), 300.0, "{p:#}");
    assert_eq!(metric(p, "error_rate"), 0.0);
    let q: Vec<f64> = ["p50", "p90", "p95", "p99", "max"]
        .iter()
        .map(|n| metric(p, n))
        .collect();
    assert!(q.windows(2).all(|w| w[0] <= w[1]) && q[0] > 0.0, "{q:?}");
    assert!(metric(p, "throughput") > 0.0);
    let mean = p["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "mean")
        .unwrap();
    assert_eq!(mean["samples"].as_array().unwrap().len(), 100);
    // Every slow response takes its 20 ms; two connections, 300 ms: about 30 requests.
    let p = plugin(&d, "slow");
    assert!(metric(p, "p50") >= 20.0, "{p:#}");
    let n = metric(p, "requests");
    assert!((10.0..=32.0).contains(&n), "{n}");
    // 40 requests/s for half a second is about 20, whatever the connections.
    let n = metric(plugin(&d, "paced"), "requests");
    assert!((15.0..=22.0).contains(&n), "{n}");
    // 100 requests/s on one connection to a 20 ms endpoint fall behind:
    // latencies count from when each request was due, so they grow.
    let behind = plugin(&d, "behind");
    assert!(metric(behind, "p90") > 50.0, "{behind:#}");
    let served = server.hits.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let sent = metric(plugin(&d, "count"), "requests")
        + metric(plugin(&d, "slow"), "requests")
        + n
        + metric(behind, "requests");
    // The server saw every request the plugin counted, and at most one
    // more per connection of the timed instances (2 + 4 + 1): those still
    // in flight when their `duration` ended, which are not measured.
    assert!(
        (0.0..=7.0).contains(&(served - sent)),
        "served {served}, counted {sent}"
    );
}

#[test]
fn http_load_reports_statuses_and_unreachable_servers() {
    let server = http_server(None);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let s = Scratch::new();
    s.policy(&format!(
        r#"version: 1
plugins:
  fail: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/fail", requests: 20, warmup: 0s }} }}
  accepted: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/fail", requests: 20, warmup: 0s, status: [503] }} }}
  down: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{closed_port}/", duration: 200ms, warmup: 0s, concurrency: 2 }} }}
  timeout: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{port}/slow", requests: 4, warmup: 0s, timeout: 5ms, concurrency: 1 }} }}
  badurl: {{ uses: http-load, with: {{ url: "http://", requests: 1 }} }}
objectives:
  - {{ id: a, metric: fail.p95, pass: "< 1s" }}
"#,
        port = server.port
    ));
    let d = s.qod(&["run"]).json();
    let message = expect_error(plugin(&d, "fail"), "no-successful-response");
    assert!(
        message.contains("20× 503") && message.contains("with.status"),
        "{message}"
    );
    assert_eq!(metric(plugin(&d, "accepted"), "error_rate"), 0.0);
    let message = expect_error(plugin(&d, "down"), "no-successful-response");
    assert!(message.contains("cannot connect"), "{message}");
    let message = expect_error(plugin(&d, "timeout"), "no-successful-response");
    assert!(message.contains("5ms timeout"), "{message}");
    let message = expect_error(plugin(&d, "badurl"), "bad-config");
    assert!(message.contains("`with.url`"), "{message}");
}

#[test]
fn http_load_speaks_http2_over_tls() {
    let s = Scratch::new();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .current_dir(s.path())
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = http_server(Some((
        &s.path().join("cert.pem"),
        &s.path().join("key.pem"),
    )));
    s.policy(&format!(
        r#"version: 1
plugins:
  tls: {{ uses: http-load, with: {{ url: "https://localhost:{port}/", requests: 50, concurrency: 2, warmup: 0s, ca_cert: cert.pem }} }}
  untrusted: {{ uses: http-load, with: {{ url: "https://localhost:{port}/", requests: 5, warmup: 0s }} }}
objectives:
  - {{ id: a, metric: tls.p95, pass: "< 1s" }}
"#,
        port = server.port
    ));
    let d = s.qod(&["run"]).json();
    let p = plugin(&d, "tls");
    assert_eq!(metric(p, "requests"), 50.0, "{p:#}");
    assert!(p["summary"].as_str().unwrap().contains("HTTP/2"), "{p:#}");
    let message = expect_error(plugin(&d, "untrusted"), "no-successful-response");
    assert!(message.contains("TLS"), "{message}");
}

/// A server that answers each request with `Connection: close` and closes
/// (as gunicorn's sync workers do), or that accepts and never answers;
/// counts the requests it read.
fn closing_server(answer: bool) -> (u16, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            if !answer {
                held.push(conn);
                continue;
            }
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::Relaxed);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    (port, hits)
}

#[test]
fn http_load_reconnects_to_servers_that_close_connections() {
    use std::io::BufRead;
    // Python's http.server speaks HTTP/1.0: it closes after every response.
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "hello").unwrap();
    let mut python = std::process::Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
        .current_dir(web.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufReader::new(python.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let py_port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let (close_port, close_hits) = closing_server(true);
    let s = Scratch::new();
    s.policy(&format!(
        r#"version: 1
plugins:
  py: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{py_port}/", requests: 200, concurrency: 4, warmup: 0s }} }}
  close: {{ uses: http-load, with: {{ url: "http://127.0.0.1:{close_port}/", requests: 300, concurrency: 4, warmup: 0s }} }}
objectives:
  - {{ id: py, metric: py.error_rate, pass: "== 0" }}
  - {{ id: close, metric: close.error_rate, pass: "== 0" }}
"#
    ));
    let r = s.qod(&["run"]);
    let _ = python.kill();
    let out = python.wait_with_output().unwrap();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let py = plugin(&d, "py");
    assert_eq!(metric(py, "requests"), 200.0, "{py:#}");
    assert_eq!(metric(py, "error_rate"), 0.0, "{py:#}");
    assert_eq!(metric(py, "connections"), 200.0, "one per request");
    let served = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("\"GET / HTTP/1.1\" 200"))
        .count();
    assert_eq!(served, 200, "python served what the plugin counted");
    let close = plugin(&d, "close");
    assert_eq!(
        (metric(close, "requests"), metric(close, "error_rate")),
        (300.0, 0.0),
        "{close:#}"
    );
    assert_eq!(
        close_hits.load(std::sync::atomic::Ordering::Relaxed),
        300,
        "the server's count is the plugin's"
    );
}

#[test]
fn http_load_stops_early_against_a_server_that_never_answers() {
    let (port, _) = closing_server(false);
    let s = Scratch::new();
    s.policy(&format!(
        "version: 1\nplugins:\n  dead: {{ uses: http-load, with: {{ url: \"http://127.0.0.1:{port}/\", requests: 200, concurrency: 4, timeout: 1s, warmup: 0s }} }}\nobjectives:\n  - {{ id: p95, metric: dead.p95, pass: \"< 1s\" }}\n"
    ));
    let start = std::time::Instant::now();
    let r = s.qod(&["run", "--no-record"]);
    // 200 requests of 1 s each on 4 connections would take 50 s.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let message = expect_error(plugin(&r.json(), "dead"), "no-successful-response");
    assert!(
        message.contains(
            "a request took longer than the 1s timeout; stopped early, after 5s without one"
        ),
        "{message}"
    );
}
