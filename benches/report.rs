//! The HTML report of a long history: 10,000 runs of 20 metrics (target:
//! opens in a browser in under 2 s), side by side with a 20-run report in
//! the same run. Writes both reports, then has headless Chromium load each
//! and take a screenshot (which lays the page out and paints it), three
//! rounds alternating. Needs Debian's `chromium`.
//!
//! Run: `cargo bench --bench report`

use qod::record::RunRecord;
use qod::store::Store;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const METRICS: usize = 20;

fn records(n: usize) -> Vec<RunRecord> {
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    (0..n)
        .map(|i| {
            let at = base + chrono::Duration::seconds(i as i64 * 600);
            let ts = qod::time::rfc3339(at);
            let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, 0));
            let metrics: Vec<serde_json::Value> = (0..METRICS)
                .map(|m| {
                    let v = 100.0 + 10.0 * ((i * (m + 1)) as f64 / 37.0).sin() + if i > n / 2 { 15.0 } else { 0.0 };
                    serde_json::json!({"key": format!("bench.m{m:02}"), "instance": "bench", "name": format!("m{m:02}"), "value": v, "unit": "ms"})
                })
                .collect();
            let objectives: Vec<serde_json::Value> = (0..METRICS)
                .map(|m| {
                    let status = if (i + m) % 97 == 0 { "fail" } else if (i + m) % 31 == 0 { "warn" } else { "pass" };
                    serde_json::json!({"id": format!("o{m:02}"), "metric": format!("bench.m{m:02}"), "status": status, "effect": status,
                        "value": 100.0, "baseline": 100.0, "target": 120.0, "reason": "110 ms <= 120 ms"})
                })
                .collect();
            serde_json::from_value(serde_json::json!({
                "record_version": 1, "run_id": id.to_string(), "started_at": ts, "finished_at": ts,
                "pipeline": {"provider": "local"}, "source": {"branch": "main", "revision": format!("{i:040x}")},
                "decision": "pass", "score": 100.0, "metrics": metrics, "objectives": objectives,
                "plugins": [{"instance": "bench", "name": "bench-import", "status": "ok", "duration_ms": 3}]
            }))
            .unwrap()
        })
        .collect()
}

/// Seconds Chromium takes to load `page` and screenshot it, and the page's
/// own load time (ms after navigation start).
fn chromium(page: &Path, shot: &Path) -> (f64, String) {
    let profile = tempfile::tempdir().unwrap();
    let flags = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--no-first-run".to_owned(),
        "--proxy-server=127.0.0.1:9".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let start = Instant::now();
    let status = Command::new("chromium")
        .args(&flags)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,1800")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("chromium runs");
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success());
    let dom = Command::new("chromium")
        .args(&flags)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let load = dom
        .split("data-load-ms=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("?")
        .to_owned();
    assert!(dom.contains("data-errors=\"0\""), "the page raised errors");
    (secs, load)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut pages = Vec::new();
    for n in [20usize, 10_000] {
        let dir = work.path().join(format!("store-{n}"));
        let store = Store::dir(&dir);
        rt.block_on(store.import(records(n), false)).unwrap();
        let out = work.path().join(format!("report-{n}.html"));
        let start = Instant::now();
        rt.block_on(qod::commands::report::report(
            &Default::default(),
            &dir.to_string_lossy(),
            &out,
            n,
            &[],
            None,
            None,
        ))
        .unwrap();
        let secs = start.elapsed().as_secs_f64();
        let size = std::fs::metadata(&out).unwrap().len();
        println!(
            "{n:>6} runs × {METRICS} metrics: report written in {secs:.2} s, {:.0} KiB",
            size as f64 / 1024.0
        );
        pages.push((n, out));
    }
    println!("\nround  runs    load+paint (s)  page load event (ms)");
    for round in 1..=3 {
        for (n, page) in &pages {
            let (secs, load) = chromium(page, &work.path().join("shot.png"));
            println!("{round:<6} {n:<7} {secs:>14.2}  {load:>20}");
        }
    }
}
