//! `qod report`: the HTML report rendered by headless Chromium as a person
//! would open it (no network), and the SVG charts' structure.

use crate::common::{emit_policy, Scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A store with six gated builds (durations and p95 latencies), one of them
/// too slow, and a deployment after the third.
fn gated_history(s: &Scratch) -> PathBuf {
    let store = s.path().join("store");
    let durations = [30.0, 32.0, 33.0, 48.0, 31.0, 32.0];
    let p95s = [180.0, 175.0, 190.0, 185.0, 170.0, 172.0];
    for (i, (d, p)) in durations.iter().zip(p95s).enumerate() {
        s.policy(&emit_policy(
            &[("build", "duration", *d), ("api", "p95", p)],
            "  - { id: build-time, metric: build.duration, pass: \"<= baseline * 1.5\" }\n  - { id: latency, metric: api.p95, pass: \"< 200ms\" }\nbaseline: { last: 3, aggregate: mean, include: pass }\n",
        ));
        let r = s.qod(&["run", "--store", &store.to_string_lossy()]);
        assert!(r.code <= 1, "{}\n{}", r.stdout, r.stderr);
        if i == 2 {
            let r = s.qod(&[
                "deployed",
                "--store",
                &store.to_string_lossy(),
                "--revision",
                "77aa",
            ]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
    }
    store
}

/// Runs headless Chromium on `page` with no network; what it printed on
/// stdout. Chromium comes from Debian (`scripts/test` installs it).
pub(crate) fn chromium(page: &Path, extra: &[&str]) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("headless Chromium is needed: `apt-get install chromium` (scripts/test does)");
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=5000",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of attribute `name` in the first tag of `tag_text`.
pub(crate) fn attr<'a>(tag_text: &'a str, name: &str) -> Option<&'a str> {
    let start = tag_text.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag_text[start..].find('"')? + start;
    Some(&tag_text[start..end])
}

/// Each chart of a page or SVG file: its opening tag and its whole text.
pub(crate) fn charts(text: &str) -> Vec<(&str, &str)> {
    text.match_indices("<svg class=\"qod-chart\"")
        .map(|(at, _)| {
            let open_end = text[at..].find('>').unwrap() + at + 1;
            let end = text[at..].find("</svg>").unwrap() + at;
            (&text[at..open_end], &text[at..end])
        })
        .collect()
}

#[test]
fn report_renders_in_headless_chromium() {
    let s = Scratch::new();
    let store = gated_history(&s);
    let html = s.path().join("report.html");
    let svgs = s.path().join("svgs");
    let r = s.qod(&[
        "report",
        "--store",
        &store.to_string_lossy(),
        "--out",
        &html.to_string_lossy(),
        "--svg-dir",
        &svgs.to_string_lossy(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("6 runs, 2 metrics, and 2 SVG charts"),
        "{}",
        r.stderr
    );
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing to fetch (the SVG namespace is a name, not a fetch).
    for needle in ["src=", "href=", "@import", "url("] {
        assert!(
            !page.contains(needle),
            "the page refers out with `{needle}`"
        );
    }
    assert!(page.contains("Latest decision: <span class=\"badge pass\">pass</span>"));

    let dom = chromium(&html, &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the script did not finish:\n{dom}"
    );
    assert!(
        dom.contains("data-errors=\"0\""),
        "the page raised errors:\n{dom}"
    );
    let charts = charts(&dom);
    assert_eq!(charts.len(), 2, "one chart per metric");
    for (open, whole) in &charts {
        let metric = attr(open, "data-metric").unwrap();
        assert_eq!(attr(open, "data-runs"), Some("6"), "{metric}");
        assert_eq!(
            whole.matches("<circle class=\"point").count(),
            6,
            "{metric}"
        );
        assert_eq!(attr(open, "data-deployments"), Some("1"), "{metric}");
        let (markers, fails) = match metric {
            // The 48 s build fails; p95 stays under 200 ms in every run.
            "build.duration" => ("1", 1),
            "api.p95" => ("0", 0),
            other => panic!("unexpected chart {other}"),
        };
        assert_eq!(attr(open, "data-markers"), Some(markers), "{metric}");
        assert_eq!(whole.matches("<circle class=\"point fail\"").count(), fails);
    }
    // The runs table is drawn by the script: six rows, newest first.
    let tbody = &dom[dom.find("<table class=\"runs\">").unwrap()..];
    let tbody = &tbody[tbody.find("<tbody>").unwrap()..tbody.find("</tbody>").unwrap()];
    assert_eq!(tbody.matches("<tr>").count(), 6, "{tbody}");
    assert!(dom.contains("page 1 of 1 (6 runs)"));

    let shot = s.path().join("report.png");
    chromium(
        &html,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1800",
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Ok(dir) = std::env::var("QOD_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&dir).join("report.png")).unwrap();
    }

    // The standalone SVG files hold the same charts.
    let svg = std::fs::read_to_string(svgs.join("build.duration.svg")).unwrap();
    insta::assert_snapshot!("report_svg_structure", svg_structure(&svg));
}

/// What a chart is made of, without pixels: its data attributes, how many
/// elements of each kind, its texts, and each point's class and hover text
/// (run ids and times redacted).
fn svg_structure(svg: &str) -> String {
    let (open, _) = charts(svg)[0];
    let mut out = Vec::new();
    for a in [
        "data-metric",
        "data-runs",
        "data-drawn",
        "data-markers",
        "data-deployments",
        "data-change-points",
    ] {
        out.push(format!("{a}={}", attr(open, a).unwrap_or("-")));
    }
    let mut counts = std::collections::BTreeMap::new();
    for tag in svg.split('<').skip(1) {
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !name.is_empty() {
            *counts.entry(name).or_insert(0) += 1;
        }
    }
    out.push(format!("elements: {counts:?}"));
    for t in svg.split("<text").skip(1) {
        let body = t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].trim();
        // The x axis shows when each run started (`12-02 15:08`): now.
        let is_time = body.len() == 11
            && body.chars().enumerate().all(|(i, c)| {
                matches!((i, c), (2, '-') | (5, ' ') | (8, ':')) || c.is_ascii_digit()
            });
        out.push(format!(
            "text: {}",
            if is_time { "[MM-DD hh:mm]" } else { body }
        ));
    }
    for c in svg.split("<circle class=\"").skip(1) {
        let class = &c[..c.find('"').unwrap()];
        let title = &c[c.find("<title>").unwrap() + 7..c.find("</title>").unwrap()];
        let title: Vec<String> = title
            .lines()
            .map(|l| {
                if l.starts_with("run ") {
                    format!("{} ([run-id])", l.split(" (").next().unwrap())
                } else if l.len() > 4 && l.as_bytes()[4] == b'-' {
                    "[time]".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect();
        out.push(format!("point {class}: {}", title.join(" | ")));
    }
    out.join("\n")
}

#[test]
fn report_of_an_empty_store_and_bad_metric_patterns() {
    let s = Scratch::new();
    // A store that exists but holds no runs yet (a store that does not
    // exist at all is an error: see hardening.rs).
    std::fs::create_dir(s.path().join("empty")).unwrap();
    let html = s.path().join("r.html");
    let r = s.qod(&[
        "report",
        "--store",
        "empty",
        "--out",
        &html.to_string_lossy(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("The store holds no runs yet"));
    let r = s.qod(&["report", "--store", "empty", "--metric", "[oops"]);
    assert_eq!(r.code, 64, "a bad argument is a usage error");
    assert!(
        r.stderr.contains("invalid `--metric` `[oops`"),
        "{}",
        r.stderr
    );
    let r = s.qod(&["report", "--store", "empty", "--out", "no/such/dir/r.html"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot write `no/such/dir/r.html`"),
        "{}",
        r.stderr
    );
}

#[test]
fn markdown_summary_has_a_sparkline_per_metric() {
    let s = Scratch::new();
    let store = gated_history(&s);
    let md = s.path().join("summary.md");
    let r = s.qod(&[
        "run",
        "--store",
        &store.to_string_lossy(),
        "--markdown",
        &md.to_string_lossy(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&md).unwrap();
    // Six recorded runs and this one: 30 32 33 48 31 32 32 s.
    let row = text
        .lines()
        .find(|l| l.contains("`build-time`"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("| ▁▂▂█▁▂▂ |"), "{row}");
    let row = text.lines().find(|l| l.contains("`latency`")).unwrap();
    assert_eq!(
        row.split('|').nth(6).unwrap().trim().chars().count(),
        7,
        "{row}"
    );
}

#[test]
fn report_lists_failed_plugins_with_their_stderr() {
    let s = Scratch::new();
    s.policy("version: 1\nplugins:\n  api: { uses: exit-3 }\nobjectives:\n  - { id: latency, metric: api.value, pass: \"< 1s\" }\n");
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = s.qod(&["report", "--out", "r.html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(s.path().join("r.html")).unwrap();
    let section = &page[page.find("<section id=\"failed-plugins\">").unwrap()..];
    assert!(
        section.contains("<code>api</code> (<code>exit-3</code>)")
            && section.contains("exit_nonzero")
            && section.contains("<pre>cannot reach the endpoint</pre>"),
        "{section}"
    );
    assert!(page.contains("Latest decision: <span class=\"badge fail\">fail</span>"));
}

#[test]
fn the_report_puts_what_failed_first_and_folds_ungated_metrics() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("a", "p95", 250.0), ("a", "duration", 10.0), ("a", "size", 3.0)],
        "  - { id: ok, metric: a.duration, pass: \"< 60s\" }\n  - { id: slow, metric: a.p95, pass: \"< 200ms\" }\n",
    ));
    assert_eq!(s.qod(&["run"]).code, 1);
    let r = s.qod(&["report", "--out", "r.html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(s.path().join("r.html")).unwrap();
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(
        at("id=\"chart-a.p95\"") < at("id=\"chart-a.duration\""),
        "the failing metric first"
    );
    assert!(
        at("class=\"legend\"") < at("id=\"chart-a.p95\""),
        "the legend on top"
    );
    let folded = at("<details class=\"ungated\"><summary>1 metric no objective uses</summary>");
    assert!(folded < at("id=\"chart-a.size\"") && at("id=\"chart-a.duration\"") < folded);
    // The latest decision's table: the failed objective first.
    assert!(at("<code>slow</code>") < at("<code>ok</code>"));
    // Axis ticks carry the unit.
    assert!(
        page.contains(">\n250 ms\n<") || page.contains("ms\n</text>"),
        "units on the axis"
    );
}

/// A failing pull request against `main`'s history, rendered in headless
/// Chromium: the failing metric's chart first, its axis in the metric's
/// unit, `main` as the line and the request as a point apart. With
/// `QOD_REPORT_SCREENSHOT=DIR` the screenshot goes to `DIR/report-pr.png`
/// (how `docs/report-pr.png` is made).
#[test]
fn a_failing_pull_request_renders_apart_from_its_base() {
    let s = Scratch::new();
    let policy = |p95: f64| {
        emit_policy(
            &[("api", "p95", p95), ("api", "duration", 40.0)],
            "  - { id: api-latency, metric: api.p95, pass: \"<= +20%\", baseline: { last: 5, branch: any } }\n  - { id: build-time, metric: api.duration, pass: \"< 120s\" }\n",
        )
    };
    let context = s.write(
        "main.json",
        r#"{"source": {"branch": "main", "revision": "74881c4cbf59aa"}}"#,
    );
    for v in [180.0, 175.0, 190.0, 185.0, 170.0, 172.0] {
        s.policy(&policy(v));
        let r = s.qod(&["run", "--context", &context.to_string_lossy()]);
        assert!(r.code <= 1, "{}", r.stderr);
    }
    let pr = s.write(
        "pr.json",
        r#"{"source": {"branch": "feature/slow-json", "revision": "abcdef1234567", "base_branch": "main", "pull_request": 12, "merge_base": "74881c4cbf59aa"}}"#,
    );
    s.policy(&policy(260.0));
    let r = s.qod(&["run", "--context", &pr.to_string_lossy()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let html = s.path().join("report.html");
    assert_eq!(s.qod(&["report", "--out", &html.to_string_lossy()]).code, 0);

    let dom = chromium(&html, &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"1\"") && dom.contains("data-errors=\"0\""));
    let charts = charts(&dom);
    let order: Vec<&str> = charts
        .iter()
        .map(|(open, _)| attr(open, "data-metric").unwrap())
        .collect();
    assert_eq!(
        order,
        ["api.p95", "api.duration"],
        "the failing metric first"
    );
    let (open, whole) = &charts[0];
    assert_eq!(attr(open, "data-off-line"), Some("1"), "the request, apart");
    assert!(
        whole.contains("<path class=\"point off-line fail\""),
        "a failing diamond"
    );
    assert!(whole.contains("pull request #12 (feature/slow-json into main)"));
    for tick in ["180 ms", "200 ms", "260 ms"] {
        assert!(whole.contains(tick), "the axis in ms: no `{tick}`");
    }
    let shot = s.path().join("report-pr.png");
    chromium(
        &html,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1100",
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000);
    if let Ok(dir) = std::env::var("QOD_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&dir).join("report-pr.png")).unwrap();
    }
}

#[test]
fn each_objective_on_a_metric_gets_its_own_band_and_target() {
    let s = Scratch::new();
    s.policy(&emit_policy(
        &[("api", "p95", 100.0)],
        "  - { id: steady, metric: api.p95, pass: \"<= +20%\" }\n  - { id: ceiling, metric: api.p95, pass: \"< 300ms\" }\n",
    ));
    for _ in 0..3 {
        assert_eq!(s.qod(&["run"]).code, 0);
    }
    let r = s.qod(&["report", "--out", "r.html", "--svg-dir", "svg"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let svg = std::fs::read_to_string(s.path().join("svg/api.p95.svg")).unwrap();
    assert_eq!(
        svg.matches("stroke-dasharray=\"4 3\"").count(),
        2,
        "one dashed target per objective"
    );
    assert!(svg.contains("target of steady 120 ms") && svg.contains("target of ceiling 300 ms"));
}
