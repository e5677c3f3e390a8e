//! `qod trend` (change points) and `qod backtest` (a policy replayed) on
//! stored histories, on the directory store and on S3 (a real moto server
//! on 127.0.0.1); change points marked in the report.

use crate::common::Scratch;
use crate::s3::{aws_env, create_bucket, rt, scratch_for, Moto};
use qod::record::RunRecord;
use qod::store::Store;
use serde_json::Value;

/// 80 builds a minute apart: about 100 s, then about 120 s from build 41
/// (revision `rev0040`), with a little deterministic noise; and a steady
/// second metric.
fn step_records() -> Vec<RunRecord> {
    let base = chrono::DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    (0..80)
        .map(|i| {
            let at = base + chrono::Duration::minutes(i as i64);
            let ts = qod::time::rfc3339(at);
            let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, 0));
            let noise = ((i * 7919) % 13) as f64 / 10.0;
            let duration = if i < 40 { 100.0 } else { 120.0 } + noise;
            serde_json::from_value(serde_json::json!({
                "record_version": 1, "run_id": id.to_string(), "started_at": ts, "finished_at": ts,
                "pipeline": {"provider": "local"}, "source": {"branch": "main", "revision": format!("rev{i:04}")},
                "decision": "pass", "score": 100.0,
                "metrics": [
                    {"key": "build.duration", "instance": "build", "name": "duration", "value": duration, "unit": "s"},
                    {"key": "build.size", "instance": "build", "name": "size", "value": 5000.0 + noise, "unit": "B"}
                ],
                "objectives": [{"id": "t", "metric": "build.duration", "status": "pass", "effect": "pass", "value": duration}],
                "plugins": [{"instance": "build", "name": "emit", "status": "ok", "duration_ms": 3}]
            }))
            .unwrap()
        })
        .collect()
}

/// A moto server whose bucket holds [`step_records`] under `s3://BUCKET/qod`,
/// and a scratch folder with the credentials to reach it.
fn s3_with_steps(bucket: &str) -> (Moto, Scratch) {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), bucket);
    let env = aws_env(&moto.endpoint());
    rt().block_on(async {
        Store::open(&format!("s3://{bucket}/qod"), &env)
            .await
            .unwrap()
            .import(step_records(), false)
            .await
            .unwrap()
    });
    let s = scratch_for(&moto.endpoint());
    (moto, s)
}

fn check_trend(out: &Value) {
    let metrics = out.as_array().unwrap();
    assert_eq!(metrics.len(), 2, "{out:#}");
    let duration = metrics
        .iter()
        .find(|m| m["metric"] == "build.duration")
        .unwrap();
    assert_eq!(duration["runs"], 80);
    let cps = duration["change_points"].as_array().unwrap();
    assert_eq!(cps.len(), 1, "{out:#}");
    let cp = &cps[0];
    assert_eq!(cp["run_number"], 41);
    assert_eq!(cp["revision"], "rev0040");
    assert_eq!(cp["previous_revision"], "rev0039");
    assert_eq!(cp["cause"], "code", "another revision, no runner recorded");
    let pct = cp["change_pct"].as_f64().unwrap();
    assert!((19.0..21.0).contains(&pct), "{pct}");
    assert!(cp["pvalue"].as_f64().unwrap() < 1e-10);
    let size = metrics
        .iter()
        .find(|m| m["metric"] == "build.size")
        .unwrap();
    assert_eq!(
        size["change_points"].as_array().unwrap().len(),
        0,
        "{out:#}"
    );
}

#[test]
fn trend_finds_the_step_in_a_directory_store() {
    let s = Scratch::new();
    let store = s.path().join("store");
    rt().block_on(Store::dir(&store).import(step_records(), false))
        .unwrap();
    let store = store.to_string_lossy().into_owned();
    let r = s.qod(&["trend", "--store", &store, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_trend(&serde_json::from_str(&r.stdout).unwrap());

    let r = s.qod(&["trend", "--store", &store, "--metric", "build.dur*"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "build.duration: 80 runs, 1 change point");
    assert!(
        lines[1].starts_with("  run    41  2025-03-01T00:40:00.000Z  "),
        "{}",
        r.stdout
    );
    assert!(
        lines[1].contains("100.58 s → 120.59 s (+19.9%, p < 1e-12)")
            && lines[1].ends_with("at rev0040"),
        "{}",
        r.stdout
    );
    assert_eq!(lines.len(), 2, "{}", r.stdout);

    // Fewer runs than a change needs on each side: nothing to report.
    let r = s.qod(&["trend", "--store", &store, "--last", "2", "--json"]);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(out
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["change_points"].as_array().unwrap().is_empty()));

    let r = s.qod(&["trend", "--store", &store, "--window", "1"]);
    assert_eq!(r.code, 64, "a window of one run is a usage error");

    // The report marks the change point on the chart.
    let r = s.qod(&["report", "--store", &store, "--out", "r.html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(s.path().join("r.html")).unwrap();
    assert!(page.contains("data-metric=\"build.duration\" data-runs=\"80\" data-drawn=\"80\" data-off-line=\"0\" data-markers=\"0\" data-deployments=\"0\" data-change-points=\"1\""), "{}", &page[..2000]);
    assert!(page.contains("data-metric=\"build.size\" data-runs=\"80\" data-drawn=\"80\" data-off-line=\"0\" data-markers=\"0\" data-deployments=\"0\" data-change-points=\"0\""));
}

#[test]
fn trend_finds_the_step_in_an_s3_store() {
    let (_moto, s) = s3_with_steps("trend");
    let r = s.qod(&["trend", "--store", "s3://trend/qod", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_trend(&serde_json::from_str(&r.stdout).unwrap());
}

fn backtest_policy(include: &str) -> String {
    format!(
        "version: 1\nplugins:\n  build: {{ uses: emit, with: {{ result: {{ protocol: 1, status: ok, metrics: [{{ name: duration, value: 1 }}] }} }} }}\nbaseline: {{ last: 3, aggregate: mean, include: {include} }}\nobjectives:\n  - {{ id: build-time, metric: build.duration, pass: \"<= baseline * 1.1\" }}\n"
    )
}

fn stopped(out: &Value) -> Vec<u64> {
    out["objectives"]["build-time"]["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[test]
fn backtest_replays_a_policy_over_the_history() {
    let s = Scratch::new();
    let store = s.path().join("store");
    rt().block_on(Store::dir(&store).import(step_records(), false))
        .unwrap();
    let store = store.to_string_lossy().into_owned();

    // Baselines of passing runs only: after the 20% step every build is
    // held to the old level, so the gate stops all 40 of them.
    s.policy(&backtest_policy("pass"));
    let r = s.qod(&["backtest", "--store", &store, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["runs"], 80);
    let t = &out["objectives"]["build-time"];
    assert_eq!(
        (
            t["pass"].as_u64(),
            t["fail"].as_u64(),
            t["no_baseline"].as_u64()
        ),
        (Some(39), Some(40), Some(1)),
        "{t:#}"
    );
    assert_eq!(stopped(&out), (41..=80).collect::<Vec<_>>());
    assert_eq!(out["gate"]["fail"], 40);
    // Every run was recorded as a pass; 40 would have failed and 1 warned.
    assert_eq!(out["changed"], 41);
    let first = &out["replayed"][40];
    assert_eq!(first["revision"], "rev0040");
    assert!(
        first["objectives"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1.1 × mean of last 3"),
        "{first:#}"
    );

    // With every run in the baseline it adapts: two builds stopped.
    s.policy(&backtest_policy("all"));
    let r = s.qod(&["backtest", "--store", &store]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = &r.stdout;
    assert!(
        text.starts_with("backtest of `qod.yaml` over 80 runs of `"),
        "{text}"
    );
    assert!(
        text.contains(": 77 pass, 1 warn, 2 fail (3 differ from the recorded decision)"),
        "{text}"
    );
    assert!(
        text.contains("build-time     77     0     2        0            1  #41 #42"),
        "{text}"
    );
    assert!(
        text.contains("\n  #42    2025-03-01T00:41:00.000Z  "),
        "{text}"
    );

    // Only a branch's runs, when asked.
    let r = s.qod(&[
        "backtest", "--store", &store, "--branch", "feature", "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["runs"], 0, "{out:#}");

    // A side-by-side objective has no base in the history: left out, said.
    s.policy(&format!(
        "{}  - {{ id: speed, metric: build.duration, pass: \"<= +5%\", against: base }}\ncompare:\n  base: {{ workspace: . }}\n",
        backtest_policy("all")
    ));
    let r = s.qod(&["backtest", "--store", &store, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("objective `speed` is judged side by side (`against: base`): a replay has no base to measure it against, so it is left out"),
        "{}",
        r.stderr
    );
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(out["objectives"].get("speed").is_none(), "{out:#}");
    assert_eq!(out["objectives"]["build-time"]["fail"], 2, "{out:#}");

    // A policy that does not load is reported as such.
    s.policy("version: 1\nplugins: {}\nobjectives: []\n");
    let r = s.qod(&["backtest", "--store", &store]);
    assert_eq!(r.code, 2, "{}", r.stdout);
}

#[test]
fn backtest_reads_an_s3_store() {
    let (_moto, s) = s3_with_steps("replay");
    s.policy(&backtest_policy("all"));
    let r = s.qod(&["backtest", "--store", "s3://replay/qod", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(stopped(&out), [41, 42]);
}
