//! What one evaluation reads from the history store, at a small and a very
//! long history, side by side (ratios: these machines are noisy).
//!
//! - Directory store: 100 vs 1,000,000 stored runs; target ratio <= 1.2.
//! - S3 store (when `QOD_MOTO_SERVER` points at moto_server, as
//!   `scripts/test` sets up): 100 vs 100,000 runs; requests must be equal.
//!
//! The long histories are seeded through `Store::import` into the index
//! alone (the run records themselves are never read by an evaluation, and
//! a million files would only measure the disk).
//!
//! Run: `cargo bench --bench store` (add `-- --quick` for fewer rounds).

use qod::record::RunRecord;
use qod::store::Store;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn records(n: usize) -> Vec<RunRecord> {
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    (0..n)
        .map(|i| {
            let at = base + chrono::Duration::seconds(i as i64 * 30);
            let ts = qod::time::rfc3339(at);
            let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, (i % 1000) as u32 * 1000));
            serde_json::from_value(serde_json::json!({
                "record_version": 1, "run_id": id.to_string(), "started_at": ts, "finished_at": ts,
                "pipeline": {"provider": "local"}, "source": {"branch": "main"},
                "decision": "pass", "score": 100.0,
                "metrics": [{"key": "build.duration", "instance": "build", "name": "duration", "value": 30.0 + (i % 5) as f64, "unit": "s"}],
                "objectives": [{"id": "build-time", "metric": "build.duration", "status": "pass", "effect": "pass", "value": 30.0}],
                "plugins": [{"instance": "build", "name": "emit", "status": "ok", "duration_ms": 3}]
            }))
            .unwrap()
        })
        .collect()
}

const POLICY: &str = r#"version: 1
plugins:
  build: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: duration, value: 31 }] } } }
objectives:
  - id: build-time
    metric: build.duration
    pass: "<= baseline * 1.5"
    baseline: { last: 3, aggregate: mean }
"#;

/// One evaluation's reads: the baseline runs and the last deployment.
async fn evaluate_reads(store: &Store, plan: &qod::plan::Plan) -> usize {
    let mut warnings = Vec::new();
    let h = qod::gate::history::read(
        store,
        &plan.objectives,
        &qod::gate::history::Target {
            branch: Some("main".into()),
            ..Default::default()
        },
        qod::time::now(),
        &mut warnings,
    )
    .await;
    assert!(h.error.is_none(), "{:?}", h.error);
    h.baselines.of(0).map_or(0, |b| b.runs.len())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 50 } else { 300 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("qod.yaml"), POLICY).unwrap();
    std::env::set_var(
        "QOD_PLUGIN_PATH",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugins"),
    );
    let plan = qod::plan::load(Some(Path::new("qod.yaml")), work.path()).unwrap();

    // Directory store.
    let small = Store::dir(work.path().join("small"));
    let large = Store::dir(work.path().join("large"));
    let t = Instant::now();
    rt.block_on(small.import(records(100), false)).unwrap();
    rt.block_on(large.import(records(1_000_000), false))
        .unwrap();
    eprintln!("seeded 100 and 1,000,000 runs in {:.1?}", t.elapsed());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (store, out) in [(&small, &mut a), (&large, &mut b)] {
            let t = Instant::now();
            let n = rt.block_on(evaluate_reads(store, &plan));
            out.push(t.elapsed());
            assert!(n >= 3);
        }
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "directory store: evaluation reads {ma:.1?} at 100 runs, {mb:.1?} at 1,000,000 runs: ratio {:.2} (target <= 1.2)",
        mb.as_secs_f64() / ma.as_secs_f64()
    );

    // S3 store, against a local moto server.
    let Ok(moto) = std::env::var("QOD_MOTO_SERVER") else {
        println!("s3 store: skipped (set QOD_MOTO_SERVER to a moto_server, as scripts/test does)");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let env: BTreeMap<String, String> = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut results = Vec::new();
    for (bucket, n) in [("small", 100), ("large", 100_000)] {
        // moto accepts an unsigned bucket creation.
        let status = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-X",
                "PUT",
                &format!("{endpoint}/{bucket}"),
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let store = rt
            .block_on(Store::open(&format!("s3://{bucket}/h"), &env))
            .unwrap();
        rt.block_on(store.import(records(n), false)).unwrap();
        let before = store.requests();
        let mut times = Vec::new();
        let s3_rounds = rounds / 5;
        for _ in 0..s3_rounds {
            let t = Instant::now();
            rt.block_on(evaluate_reads(&store, &plan));
            times.push(t.elapsed());
        }
        let per = (store.requests() - before) as f64 / s3_rounds as f64;
        results.push((n, per, median(times)));
    }
    let _ = server.kill();
    let _ = server.wait();
    for (n, per, t) in &results {
        println!("s3 store: {n} runs: {per:.1} requests and {t:.1?} per evaluation (local moto)");
    }
    println!(
        "s3 store: requests at 100,000 vs 100 runs: {:.1} vs {:.1} (target: equal); time ratio {:.2}",
        results[1].1,
        results[0].1,
        results[1].2.as_secs_f64() / results[0].2.as_secs_f64()
    );
}
