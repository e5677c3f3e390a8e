//! Regressions accepted on purpose: `acknowledge:` entries (in the policy or
//! a file it names) and a request's `Qod-Acknowledge:` trailers, on a real
//! git history with real plugins: a side-by-side request twice as slow,
//! and a branch whose history is rebaselined `from:` an intended change.

use crate::common::{emit_policy, git, Scratch};
use serde_json::Value;

/// A repository whose `main` sleeps 20 ms in `work.sh` and whose checked-out
/// `feature` (the request's head, committed with `message`) sleeps 40 ms.
fn slower_request(policy: &str, message: &str) -> Scratch {
    let s = Scratch::new();
    git(s.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(s.path().join(".gitignore"), ".qod/\n").unwrap();
    s.write("work.sh", "sleep 0.02\n");
    s.policy(policy);
    git(s.path(), &["add", "."]);
    git(s.path(), &["commit", "-q", "-m", "base"]);
    git(s.path(), &["checkout", "-q", "-b", "feature"]);
    s.write("work.sh", "sleep 0.04\n");
    git(s.path(), &["commit", "-q", "-am", message]);
    s
}

const SIDE_BY_SIDE: &str = r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: ["sh", "work.sh"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
compare:
  base: { revision: main }
objectives:
  - { id: speed, metric: work.mean, pass: "<= +10%", against: base }
"#;

/// The entry of `speed` for request 7, with `expires`.
fn entry(expires: &str) -> String {
    format!(
        r#"acknowledge:
  - objective: speed
    accept: "<= +150%"
    reason: the parser now checks every input
    owner: perf-team
    link: https://example.com/issues/12
    expires: {expires}
    pull_request: 7
"#
    )
}

/// `qod run` as GitHub runs it on pull request `n` (its summary in
/// `summary.md`).
fn on_request(s: &Scratch, n: u64) -> (i32, Value, String) {
    let out = s
        .command(&["run", "--markdown", "summary.md"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_REF", format!("refs/pull/{n}/merge"))
        .env("GITHUB_HEAD_REF", "feature")
        .env("GITHUB_BASE_REF", "main")
        .output()
        .unwrap();
    let r = crate::common::finish(out);
    (r.code, r.json(), r.stderr)
}

fn speed(d: &Value) -> &Value {
    &d["objectives"][0]
}

#[test]
fn a_request_acknowledged_for_itself_passes_and_not_once_expired() {
    let s = slower_request(&format!("{SIDE_BY_SIDE}{}", entry("2099-12-31")), "slower");
    let (code, d, stderr) = on_request(&s, 7);
    assert_eq!(code, 0, "{}\n{stderr}", d["summary"]);
    crate::common::assert_valid("decision.schema.json", &d);
    let o = speed(&d);
    assert_eq!(o["status"], "acknowledged", "{o}");
    assert_eq!(o["effect"], "pass");
    let reason = o["reason"].as_str().unwrap();
    for part in [
        "acknowledged: candidate vs",
        "the whole interval is beyond its own `<= +10%`",
        "`<= +150%` accepted by perf-team until 2099-12-31",
        "“the parser now checks every input” (https://example.com/issues/12)",
    ] {
        assert!(reason.contains(part), "{part} in {reason}");
    }
    let a = &o["acknowledgement"];
    assert_eq!(a["original_status"], "fail", "{a}");
    assert_eq!(a["source"], "policy");
    // The paired test ran at the accepted tolerance.
    assert_eq!(o["comparison"]["tolerance_pct"], 150.0);
    assert!(
        d["summary"]
            .as_str()
            .unwrap()
            .contains("1 acknowledged: speed"),
        "{}",
        d["summary"]
    );

    // Another request is not covered.
    let (code, d, _) = on_request(&s, 8);
    assert_eq!(code, 1, "{}", d["summary"]);
    assert_eq!(speed(&d)["status"], "fail");
    assert!(speed(&d)["acknowledgement"].is_null());

    // Once expired, it is ignored, said in the decision and as an annotation.
    s.policy(&format!("{SIDE_BY_SIDE}{}", entry("2021-06-30")));
    let (code, d, stderr) = on_request(&s, 7);
    assert_eq!(code, 1, "{}", d["summary"]);
    let o = speed(&d);
    assert_eq!(o["status"], "fail");
    assert_eq!(o["acknowledgement"]["expired"], true);
    assert!(
        o["reason"].as_str().unwrap().contains(
            "the acknowledgement of `<= +150%` by perf-team expired on 2021-06-30 and was ignored"
        ),
        "{o}"
    );
    assert!(
        stderr.contains("::warning title=qod::the acknowledgement of objective `speed` (`<= +150%25` by perf-team) expired on 2021-06-30"),
        "{stderr}"
    );

    // Metrics named by a pattern rather than an objective.
    s.policy(&format!(
        "{SIDE_BY_SIDE}{}",
        entry("2099-12-31").replace("objective: speed", "metric: \"work.*\"")
    ));
    let (code, d, stderr) = on_request(&s, 7);
    assert_eq!(code, 0, "{}\n{stderr}", d["summary"]);
    assert_eq!(speed(&d)["status"], "acknowledged");
}

#[test]
fn a_trailer_acknowledges_its_own_request_only() {
    let s = slower_request(
        SIDE_BY_SIDE,
        "Check every input\n\nQod-Acknowledge: speed <= +150% — the parser now checks every input\nQod-Acknowledge: sped <= +150% — a typo",
    );
    let (code, d, stderr) = on_request(&s, 7);
    assert_eq!(code, 0, "{}\n{stderr}", d["summary"]);
    let o = speed(&d);
    assert_eq!(o["status"], "acknowledged", "{o}");
    assert_eq!(o["acknowledgement"]["source"], "trailer");
    assert_eq!(o["acknowledgement"]["owner"], "qod");
    assert!(
        o["reason"]
            .as_str()
            .unwrap()
            .contains("accepted by qod for this request (trailer of "),
        "{o}"
    );
    // The comment says where the acknowledgement comes from.
    let md = std::fs::read_to_string(s.path().join("summary.md")).unwrap();
    assert!(
        md.contains("### Acknowledged\n\n- `speed`: `<= +150%` accepted by qod for this request (a `Qod-Acknowledge:` trailer of the request's head commit): the parser now checks every input"),
        "{md}"
    );
    // The misspelt one is named, with the fix.
    assert!(
        stderr.contains(
            "is not read: there is no objective `sped` to acknowledge (did you mean `speed`?"
        ),
        "{stderr}"
    );
    // The same commit built as a push (after the merge, say) is not a
    // request: the trailer does not apply.
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(speed(&r.json())["status"], "fail");
}

/// Commits the policy emitting `value` ms (with `acks`, the text of the
/// file it names) on `main`, then runs the gate there on `store`.
fn main_run(s: &Scratch, store: &str, value: f64, acks: &str, message: &str) -> (i32, Value) {
    let mut policy = emit_policy(
        &[("svc", "p95", value)],
        "  - { id: latency, metric: svc.p95, pass: \"<= +10%\", baseline: { last: 5 } }\n",
    );
    policy.push_str("acknowledge: acks.yaml\n");
    s.policy(&policy);
    s.write("acks.yaml", acks);
    git(s.path(), &["add", "."]);
    git(s.path(), &["commit", "-q", "--allow-empty", "-m", message]);
    let r = s.qod(&["run", "--store", store]);
    (r.code, r.json())
}

fn baseline_runs(d: &Value) -> Vec<String> {
    d["objectives"][0]["baseline"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn from_a_revision_later_runs_take_their_baseline_from_its_line() {
    let s = Scratch::new();
    let store_dir = tempfile::tempdir().unwrap();
    let store = store_dir.path().join("store").display().to_string();
    git(s.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(s.path().join(".gitignore"), ".qod/\n").unwrap();
    let before: Vec<String> = (0..3)
        .map(|i| {
            let (code, d) = main_run(&s, &store, 100.0, "[]\n", &format!("before {i}"));
            assert_eq!(code, 0, "{}", d["summary"]);
            d["run"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    // The intended change lands: without an acknowledgement it fails.
    let (code, d) = main_run(&s, &store, 200.0, "[]\n", "the intended change");
    assert_eq!(code, 1, "{}", d["summary"]);
    let change = git(s.path(), &["rev-parse", "HEAD"]);
    let ack = format!(
        "- objective: latency\n  accept: \"<= +150%\"\n  reason: every request is now signed\n  owner: platform\n  expires: 2099-12-31\n  branch: main\n  from: {}\n",
        &change[..12]
    );
    // The next run: no run of the change's line passed yet, so the old
    // runs are the baseline, and the accepted criterion judges.
    let (code, d) = main_run(&s, &store, 200.0, &ack, "acknowledge the change");
    assert_eq!(code, 0, "{}", d["summary"]);
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "acknowledged", "{o}");
    assert_eq!(o["acknowledgement"]["source"], "file");
    let acknowledged = d["run"]["id"].as_str().unwrap().to_owned();
    assert!(baseline_runs(&d).iter().all(|r| before.contains(r)), "{d}");
    insta::assert_json_snapshot!(
        "acknowledged_from_a_revision",
        crate::common::redact(d.clone())
    );
    // Later runs: the change's line is the baseline, the old runs are not,
    // and the objective's own criterion judges again.
    let (code, d) = main_run(&s, &store, 201.0, &ack, "later");
    assert_eq!(code, 0, "{}", d["summary"]);
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "pass", "{o}");
    assert_eq!(baseline_runs(&d), vec![acknowledged.clone()]);
    let (code, d) = main_run(&s, &store, 199.0, &ack, "later still");
    assert_eq!(code, 0, "{}", d["summary"]);
    assert_eq!(baseline_runs(&d).len(), 2, "{d}");
    assert!(!baseline_runs(&d).iter().any(|r| before.contains(r)));
    // A regression after the change is caught against the new level, not
    // excused by the acknowledgement of the change.
    let (code, d) = main_run(&s, &store, 260.0, &ack, "a real regression");
    assert_eq!(code, 1, "{}", d["summary"]);
    assert_eq!(d["objectives"][0]["status"], "fail", "{d}");

    // The report marks where the baseline starts anew.
    let html = s.path().join("report.html");
    let r = s.qod(&[
        "report",
        "--store",
        &store,
        "--out",
        &html.to_string_lossy(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("data-rebaselines=\"1\""),
        "no re-baseline mark"
    );
    assert!(page.contains("green dashed: an acknowledged change"));

    // `validate` with the store: this acknowledgement judged runs; one that
    // never did is stale.
    let r = s.qod(&["validate", "--store", &store]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("stale"), "{}", r.stderr);
    s.write(
        "acks.yaml",
        &format!("{ack}- {{ objective: latency, accept: \"<= +30%\", reason: an old migration, owner: data-team, expires: 2099-01-01 }}\n"),
    );
    let r = s.qod(&["validate", "--store", &store]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("the acknowledgement of objective `latency` (`<= +30%` by data-team) judged no run of the last 30 days (8 read from"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("stale").count(), 1, "{}", r.stderr);
}

#[test]
fn mistaken_acknowledgements_are_policy_errors_that_name_the_fix() {
    let s = Scratch::new();
    let policy = |acks: &str| {
        format!(
            "{}{acks}",
            emit_policy(
                &[("svc", "p95", 100.0)],
                "  - { id: latency, metric: svc.p95, pass: \"<= +10%\" }\n",
            )
        )
    };
    for (acks, wanted) in [
        (
            "acknowledge:\n  - { objective: latncy, accept: \"<= +25%\", reason: r, owner: o, expires: 2099-01-01 }\n",
            "there is no objective `latncy` to acknowledge",
        ),
        (
            "acknowledge:\n  - { objective: latency, accept: \"<= 25\", reason: r, owner: o, expires: 2099-01-01 }\n",
            "for objective `latency`",
        ),
        (
            "acknowledge:\n  - { objective: latency, accept: \"<= +25%\", reason: r, owner: o, expires: 2099-02-30 }\n",
            "`2099-02-30` is not a date",
        ),
        (
            "acknowledge:\n  - { objective: latency, metric: svc.p95, accept: \"<= +25%\", reason: r, owner: o, expires: 2099-01-01 }\n",
            "names `objective` or `metric`, one of the two",
        ),
        (
            "acknowledge:\n  - { objective: latency, accept: \"<= +25%\", reason: r, expires: 2099-01-01 }\n",
            "\"owner\" is a required property",
        ),
        (
            "acknowledge: .qod-acks.yaml\n",
            "cannot read the acknowledgements file",
        ),
    ] {
        s.policy(&policy(acks));
        let r = s.qod(&["validate"]);
        assert_eq!(r.code, 2, "{acks}: {}", r.stderr);
        assert!(r.stderr.contains(wanted), "{acks}: {}", r.stderr);
    }
    // A file's mistakes are located in the file.
    s.write(
        "acks.yaml",
        "- objective: latency\n  accept: \"<= +25%\"\n  reason: r\n  owner: o\n  expires: soon\n",
    );
    s.policy(&policy("acknowledge: acks.yaml\n"));
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "invalid acknowledgements file `acks.yaml`\n  at /0/expires (line 5 column 12)"
        ),
        "{}",
        r.stderr
    );
}

/// Runs of `main` on the scratch's store emitting each of `values` ms;
/// their ids.
fn record_main(s: &Scratch, values: &[f64]) -> Vec<String> {
    let context = s.write(
        "main.json",
        r#"{"source": {"branch": "main", "revision": "74881c4cbf59aa"}}"#,
    );
    values
        .iter()
        .map(|v| {
            s.policy(&emit_policy(
                &[("api", "p95", *v)],
                "  - { id: latency, metric: api.p95, pass: \"<= +20%\", baseline: { last: 10, include: all } }\n",
            ));
            let r = s.qod(&["run", "--context", &context.to_string_lossy()]);
            assert!(r.code <= 1, "{}", r.stderr);
            r.json()["run"]["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn an_excluded_run_leaves_every_baseline_and_is_shown_apart() {
    let s = Scratch::new().env("USER", "release-bot");
    let ids = record_main(&s, &[100.0, 102.0, 98.0, 300.0, 101.0]);
    let sick = &ids[3];
    // Mistakes are named, with the fix.
    let r = s.qod(&["history", "exclude", "0190-nope", "--reason", "x"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("no run `0190-nope` is recorded"),
        "{}",
        r.stderr
    );
    let r = s.qod(&["history", "exclude", sick, "--reason", " "]);
    assert_eq!(r.code, 64, "{}", r.stderr);

    let r = s.qod(&[
        "history",
        "exclude",
        sick,
        "--reason",
        "measured on a runner with a failing disk",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["by"], "release-bot");
    let r = s.qod(&["history", "exclude", sick, "--reason", "again"]);
    assert_eq!(r.code, 64);
    assert!(r.stderr.contains("is excluded already"), "{}", r.stderr);

    // The next gate's baseline leaves it out.
    let next = record_main(&s, &[100.0]);
    let d: Value = serde_json::from_str(
        &s.qod(&["history", "--format", "json", "--last", "1"])
            .stdout,
    )
    .unwrap();
    assert_eq!(d[0]["run_id"], next[0].as_str());
    let runs = |s: &Scratch| -> Vec<String> {
        let r = s.qod(&[
            "run",
            "--context",
            &s.path().join("main.json").to_string_lossy(),
        ]);
        baseline_runs(&r.json())
    };
    let chosen = runs(&s);
    assert_eq!(chosen.len(), 5, "{chosen:?}");
    assert!(!chosen.contains(sick), "{chosen:?}");

    // `history` and `export` keep it, flagged.
    let table = s.qod(&["history"]).stdout;
    assert!(
        table.contains(
            "excluded from baselines by release-bot: measured on a runner with a failing disk"
        ),
        "{table}"
    );
    let csv = s.qod(&["export", "--format", "csv"]).stdout;
    let flagged: Vec<&str> = csv.lines().filter(|l| l.ends_with(",true")).collect();
    assert_eq!(flagged.len(), 1, "{csv}");
    assert!(flagged[0].starts_with(sick.as_str()));
    assert!(csv.lines().next().unwrap().ends_with(",unit,excluded"));
    let jsonl = s.qod(&["export", "--format", "jsonl"]).stdout;
    let excluded: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| !r["excluded"].is_null())
        .collect();
    assert_eq!(excluded.len(), 1);
    assert_eq!(
        excluded[0]["excluded"]["reason"],
        "measured on a runner with a failing disk"
    );
    crate::common::assert_valid("run-record.schema.json", &excluded[0]);

    // `trend` and `backtest` skip it, and say so.
    for args in [&["trend"][..], &["backtest"][..]] {
        let r = s.qod(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("1 run excluded from baselines (`qod history exclude`) is left out"),
            "{args:?}: {}",
            r.stderr
        );
    }

    // The report draws it apart from the line, with the reason.
    let html = s.path().join("report.html");
    assert_eq!(s.qod(&["report", "--out", &html.to_string_lossy()]).code, 0);
    let dom = crate::visual::chromium(&html, &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"1\"") && dom.contains("data-errors=\"0\""));
    let charts = crate::visual::charts(&dom);
    let (open, whole) = &charts[0];
    assert_eq!(
        crate::visual::attr(open, "data-off-line"),
        Some("1"),
        "{open}"
    );
    assert!(
        whole.contains("excluded from baselines: measured on a runner with a failing disk"),
        "{whole}"
    );

    // `include` takes it back: a baseline again.
    let r = s.qod(&[
        "history",
        "include",
        sick,
        "--reason",
        "the disk was fine after all",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(runs(&s).contains(sick));
}

#[test]
fn backtest_against_the_old_policy_lists_the_runs_a_tighter_tolerance_stops() {
    let s = Scratch::new();
    // Two steps of about +10%: `<= +20%` passes them all; `<= +5%` stops
    // the first step and, since failed runs make no baseline, every run
    // after it.
    record_main(
        &s,
        &[
            100.0, 101.0, 103.0, 102.0, 112.0, 113.0, 112.0, 125.0, 124.0,
        ],
    );
    let old = emit_policy(
        &[("api", "p95", 1.0)],
        "  - { id: latency, metric: api.p95, pass: \"<= +20%\", baseline: { last: 3 } }\n",
    );
    s.write("old.yaml", &old);
    s.policy(&old.replace("<= +20%", "<= +5%"));
    let r = s.qod(&["backtest", "--against", "old.yaml", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["runs"], 9);
    assert_eq!(d["old_failures"], 0, "{d:#}");
    let extra: Vec<u64> = d["extra_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_number"].as_u64().unwrap())
        .collect();
    assert_eq!(extra, [5, 6, 7, 8, 9], "{d:#}");
    assert_eq!(d["new_failures"], 5);
    let changes = d["objectives"]["latency"].as_array().unwrap();
    assert_eq!(changes.len(), 5);
    assert_eq!(changes[0]["old"], "pass");
    assert_eq!(changes[0]["new"], "fail");
    assert!(
        changes[0]["reason"]
            .as_str()
            .unwrap()
            .contains("1.05 × mean of last 3"),
        "{changes:?}"
    );

    let table = s.qod(&["backtest", "--against", "old.yaml"]).stdout;
    for line in [
        "`qod.yaml` against `old.yaml` over 9 runs of `.qod/store`: 0 → 5 failed (5 more, 0 fewer)",
        "runs the new policy stops and the old did not:",
        "latency: 5 runs differ",
    ] {
        assert!(table.contains(line), "{line}\n{table}");
    }
    // The same policy against itself differs nowhere.
    let r = s.qod(&["backtest", "--against", "qod.yaml"]);
    assert!(
        r.stdout
            .contains("no objective's status differs in any run"),
        "{}",
        r.stdout
    );
    // A missing old policy is named.
    let r = s.qod(&["backtest", "--against", "nope.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nope.yaml"), "{}", r.stderr);
}
