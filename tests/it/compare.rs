//! Side-by-side comparisons (`compare:`, objectives `against: base`): a
//! real git repository with a base commit and a candidate commit, real
//! subprocess plugins run alternately on each side's worktree, and the
//! paired sequential test deciding.

use crate::common::{git, python_plugin, redact, Scratch};
use serde_json::Value;
use std::path::Path;

/// A repository whose `main` holds `work.sh` sleeping `base_s`, and whose
/// checked-out `feature` sleeps `candidate_s`; the policy compares the two.
fn repo(base_s: f64, candidate_s: f64, policy: &str) -> Scratch {
    let s = Scratch::new();
    let tmp = s.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let s = s.env("TMPDIR", &tmp.display().to_string());
    git(s.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(s.path().join(".gitignore"), ".qod/\ntmp/\n").unwrap();
    s.write("work.sh", &format!("sleep {base_s}\n"));
    s.policy(policy);
    git(s.path(), &["add", "."]);
    git(s.path(), &["commit", "-q", "-m", "base"]);
    git(s.path(), &["checkout", "-q", "-b", "feature"]);
    s.write("work.sh", &format!("sleep {candidate_s}\n"));
    git(
        s.path(),
        &["commit", "-q", "--allow-empty", "-am", "candidate"],
    );
    s
}

const TIMED: &str = r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: ["sh", "work.sh"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
compare:
  base: { revision: main }
objectives:
  - { id: speed, metric: work.mean, pass: "<= +10%", against: base }
"#;

fn objective(d: &Value) -> &Value {
    &d["objectives"][0]
}

/// No worktree is left: not in git's list, not in the temporary folder.
fn assert_clean(s: &Scratch) {
    let list = git(s.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    let left: Vec<_> = std::fs::read_dir(s.path().join("tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn a_twice_slower_candidate_fails_early_and_an_unchanged_one_passes() {
    let s = repo(0.02, 0.04, TIMED);
    let r = s.qod(&["run", "--junit", "junit.xml", "--markdown", "summary.md"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    // Every output says what the comparison found.
    for file in ["junit.xml", "summary.md"] {
        let text = std::fs::read_to_string(s.path().join(file)).unwrap();
        assert!(text.contains("candidate vs `main@"), "{file}: {text}");
    }
    let md = std::fs::read_to_string(s.path().join("summary.md")).unwrap();
    assert!(
        md.contains("(median of ") && md.contains(", `main@") && md.contains("% ["),
        "{md}"
    );
    crate::common::assert_valid("decision.schema.json", &d);
    let o = objective(&d);
    assert_eq!(o["status"], "fail", "{o:#}");
    let c = &o["comparison"];
    assert_eq!(c["stopped_early"], true, "{c:#}");
    assert!(c["pairs"].as_u64().unwrap() < 30, "{c:#}");
    let change = c["change_pct"].as_f64().unwrap();
    assert!((60.0..130.0).contains(&change), "{c:#}");
    let reason = o["reason"].as_str().unwrap();
    assert!(reason.starts_with("candidate vs `main@"), "{reason}");
    assert!(
        reason.contains("stopped early: worse than +10%"),
        "{reason}"
    );
    // The summary on stderr says the same.
    assert!(r.stderr.contains("candidate vs `main@"), "{}", r.stderr);
    assert_clean(&s);

    // The candidate made as fast as the base again.
    s.write("work.sh", "sleep 0.02\n");
    git(s.path(), &["commit", "-q", "-am", "fixed"]);
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let o = objective(&r.json()).clone();
    assert_eq!(o["status"], "pass", "{o:#}");
    assert!(
        o["comparison"]["change_pct"].as_f64().unwrap().abs() < 10.0,
        "{o:#}"
    );
    assert_clean(&s);
}

#[test]
fn the_merge_base_comes_from_base_and_a_prepared_workspace_works_too() {
    let policy = TIMED.replace("revision: main", "revision: merge-base");
    let s = repo(0.02, 0.04, &policy);
    // Without a base there is nothing to compare with: said, not passed.
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let o = objective(&r.json()).clone();
    assert_eq!(
        (o["status"].as_str(), o["effect"].as_str()),
        (Some("no_baseline"), Some("warn"))
    );
    assert!(
        o["reason"].as_str().unwrap().contains("--base BRANCH"),
        "{o:#}"
    );
    let r = s.qod(&["run", "--base", "main"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_eq!(objective(&d)["status"], "fail");
    assert_eq!(
        objective(&d)["comparison"]["base_revision"]
            .as_str()
            .map(str::len),
        Some(40)
    );
    assert_clean(&s);

    // A base the pipeline checked out itself.
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("work.sh"), "sleep 0.04\n").unwrap();
    let policy = TIMED.replace(
        "revision: main",
        &format!("workspace: \"{}\"", base.path().display()),
    );
    s.policy(&policy);
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let o = objective(&r.json()).clone();
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(o["comparison"]["base"], base.path().display().to_string());
}

/// A plugin that logs each invocation (variant, pair, workspace) and
/// reports the value `rule` (the body of `value(variant, pair)`) gives.
fn recording(s: &Scratch, rule: &str) {
    python_plugin(
        s,
        "paired",
        r#"[{"name": "t", "unit": "ms", "better": "lower"}]"#,
        &format!(
            r#"import json, os, sys
ctx = json.load(sys.stdin)
variant, pair, ws = ctx["variant"], ctx["pair"], ctx["paths"]["workspace"]
with open(os.path.join("{log}", "calls.log"), "a") as f:
    f.write(f"{{pair}} {{variant}} {{ws}}\n")
def value(variant, pair):
{rule}
v = value(variant, pair)
metrics = [] if v is None else [{{"name": "t", "value": v}}]
print(json.dumps({{"protocol": 1, "status": "ok", "metrics": metrics}}))
"#,
            log = s.path().display()
        ),
    );
}

fn paired_policy(pairs: &str) -> String {
    format!(
        r#"version: 1
plugins:
  p: {{ uses: paired }}
compare:
  base: {{ revision: main }}
  pairs: {pairs}
  seed: 42
objectives:
  - {{ id: t, metric: p.t, pass: "<= +5%", against: base }}
"#
    )
}

#[test]
fn pairs_alternate_in_the_recorded_order_on_each_sides_workspace() {
    let s = repo(0.0, 0.0, &paired_policy("{ min: 6, max: 10, batch: 2 }"));
    // 50% slower, with a little jitter: a fail at the first look that can reject.
    recording(
        &s,
        "    base = 100 + pair % 3\n    return base * 1.5 if variant == \"candidate\" else base",
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let c = objective(&d)["comparison"].clone();
    assert_eq!(
        (c["pairs"].as_u64(), c["stopped_early"].as_bool()),
        (Some(8), Some(true)),
        "{c:#}"
    );
    let log = std::fs::read_to_string(s.path().join("calls.log")).unwrap();
    let calls: Vec<Vec<&str>> = log.lines().map(|l| l.splitn(3, ' ').collect()).collect();
    assert_eq!(calls.len(), 16, "{log}");
    let order: Vec<&str> = c["order"].as_str().unwrap().split(' ').collect();
    assert_eq!(order.len(), 8);
    for (k, pair) in calls.chunks(2).enumerate() {
        assert_eq!(pair[0][0], (k + 1).to_string(), "{log}");
        assert_eq!(pair[1][0], (k + 1).to_string(), "{log}");
        let first = if order[k] == "b" { "base" } else { "candidate" };
        assert_eq!(pair[0][1], first, "pair {} in {log}", k + 1);
        assert_ne!(pair[0][1], pair[1][1], "{log}");
        // The base runs in its worktree, the candidate in the checkout.
        for call in pair {
            let in_checkout = Path::new(call[2]) == s.path();
            assert_eq!(in_checkout, call[1] == "candidate", "{log}");
        }
    }
    // Both orders occur: the order is random, not fixed.
    assert!(order.contains(&"b") && order.contains(&"c"), "{order:?}");
    // The same seed gives the same order.
    std::fs::remove_file(s.path().join("calls.log")).unwrap();
    let again = s.qod(&["run"]).json();
    assert_eq!(objective(&again)["comparison"]["order"], c["order"]);
    assert_clean(&s);
}

#[test]
fn sequences_stop_early_or_end_inconclusive_at_max() {
    let s = repo(0.0, 0.0, &paired_policy("{ min: 6, max: 12, batch: 2 }"));
    // Unchanged but for a 1% jitter: a pass before 12 pairs.
    recording(
        &s,
        "    return 100 + (pair * 7 + (variant == \"base\")) % 3 * 0.5",
    );
    let d = s.qod(&["run"]).json();
    let o = objective(&d).clone();
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(o["comparison"]["stopped_early"], true, "{o:#}");
    assert!(
        o["reason"].as_str().unwrap().contains("inside +5%"),
        "{o:#}"
    );

    // Right at the tolerance with wide swings: neither, at 12 pairs.
    recording(
        &s,
        "    return 100 + pair % 2 * 0.1 if variant == \"base\" else (180 if pair % 2 else 65)",
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let o = objective(&d).clone();
    assert_eq!(
        (o["status"].as_str(), o["effect"].as_str()),
        (Some("inconclusive"), Some("warn")),
        "{o:#}"
    );
    let c = &o["comparison"];
    assert_eq!(
        (c["pairs"].as_u64(), c["stopped_early"].as_bool()),
        (Some(12), Some(false))
    );
    assert!(c["alpha_spent"].as_f64().unwrap() <= 0.01 + 1e-12, "{c:#}");
    let inconclusive = o.clone();

    // A base that does not report the metric: said, after one pair.
    std::fs::remove_file(s.path().join("calls.log")).unwrap();
    recording(&s, "    return None if variant == \"base\" else 100");
    let d = s.qod(&["run"]).json();
    let o = objective(&d);
    assert_eq!(o["status"], "no_baseline", "{o:#}");
    assert_eq!(
        o["reason"],
        "no comparison with the base: the base did not report `t` (pair 1)"
    );
    let calls = std::fs::read_to_string(s.path().join("calls.log")).unwrap();
    assert_eq!(calls.lines().count(), 2, "{calls}");
    let o = inconclusive;
    insta::assert_json_snapshot!("compare_inconclusive", redact(o), {
        ".comparison.base" => "[base]",
        ".comparison.base_revision" => "[sha]",
        ".reason" => insta::dynamic_redaction(|v, _| {
            let text = v.as_str().unwrap().to_owned();
            let at = text.find('@').unwrap();
            format!("{}[sha]{}", &text[..=at], &text[at + 8..])
        }),
    });
}

#[test]
fn a_cancelled_comparison_removes_its_worktree() {
    let s = repo(0.3, 0.3, TIMED);
    let child = s
        .command(&["run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the worktree exists, then stop the gate.
    let start = std::time::Instant::now();
    while git(s.path(), &["worktree", "list"]).lines().count() < 2 {
        assert!(start.elapsed().as_secs() < 20, "no worktree appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let r = crate::common::finish(out);
    // 128 + SIGTERM, as a shell reports a process killed by it.
    assert_eq!(r.code, 143, "{}\n{}", r.stdout, r.stderr);
    assert_clean(&s);
}

#[test]
fn command_bench_compares_two_programs_without_git() {
    let s = Scratch::new();
    s.policy(
        r#"version: 1
plugins:
  two: { uses: command-bench, with: { command: ["sleep", "0.04"], base_command: ["sleep", "0.02"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
compare:
  base: { workspace: . }
objectives:
  - { id: speed, metric: two.median, pass: "<= +10%", against: base }
"#,
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let c = &objective(&d)["comparison"];
    assert_eq!(c["base"], ".");
    let (b, cand) = (
        c["base_value"].as_f64().unwrap(),
        c["candidate_value"].as_f64().unwrap(),
    );
    // The base side ran `base_command`: half the sleep.
    assert!(cand / b > 1.5 && b >= 0.02, "{c:#}");
}

#[test]
fn against_base_is_checked_before_anything_runs() {
    let s = Scratch::new();
    s.policy(
        r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: "true" } }
objectives:
  - { id: a, metric: work.mean, pass: "<= +3%", against: base }
  - { id: b, metric: work.mean, pass: "< 1s", against: base }
"#,
    );
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("`against: base` needs a `compare:` section"),
        "{}",
        r.stderr
    );
    s.policy(
        r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: "true" } }
objectives:
  - { id: a, metric: work.mean, pass: "< 1s", against: base }
  - { id: b, metric: work.mean, pass: "<= +3%", against: base, confirm: 2 }
  - { id: c, metric: work.mean, pass: "<= +20ms", against: base }
compare: { base: { revision: main }, pairs: { min: 20, max: 10 } }
"#,
    );
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    for said in [
        "`< 1s` is not a ratio of the base",
        "`confirm` applies to comparisons with history",
        "`<= +20ms` is not a ratio of the base",
        "`pairs.max` (10) is below `pairs.min` (20)",
    ] {
        assert!(r.stderr.contains(said), "{said}\n{}", r.stderr);
    }
}

/// A policy whose `prepare` writes its shell's pid (its process group) to
/// `prepare.pid`, then runs `then`.
fn preparing(then: &str, timeout: &str) -> String {
    TIMED.replace(
        "  base: { revision: main }\n",
        &format!(
            "  base: {{ revision: main }}\n  prepare: \"echo $$ > prepare.pid; {then}\"\n  prepare_timeout: {timeout}\n"
        ),
    )
}

/// Whether any process is still in process group `pgid` (from `/proc`).
fn group_alive(pgid: i32) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|stat| {
                let after = &stat[stat.rfind(')')? + 1..];
                // `state ppid pgrp …`; a zombie is dead, waiting for its
                // parent (here perhaps a container's init) to reap it.
                let fields: Vec<&str> = after.split_whitespace().collect();
                if fields.first() == Some(&"Z") {
                    return None;
                }
                fields.get(2)?.parse::<i32>().ok()
            })
            == Some(pgid)
    })
}

/// Waits for `prepare.pid` in `dir`; the group it names.
fn prepare_group(dir: &Path) -> i32 {
    let start = std::time::Instant::now();
    loop {
        if let Some(pid) = std::fs::read_to_string(dir.join("prepare.pid"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(start.elapsed().as_secs() < 20, "prepare never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_hung_prepare_ends_at_its_timeout_with_the_reason() {
    let s = repo(0.01, 0.01, &preparing("sleep 3600", "1s"));
    let started = std::time::Instant::now();
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("did not end within 1s and was stopped; raise `compare.prepare_timeout` if the build needs longer"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed().as_secs() < 30);
    let pgid = prepare_group(s.path());
    assert!(!group_alive(pgid), "the prepare's processes outlived it");
    assert_clean(&s);
}

#[test]
fn sigterm_during_prepare_exits_143_and_leaves_nothing() {
    let s = repo(0.01, 0.01, &preparing("sleep 3600", "30m"));
    let child = s
        .command(&["run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = prepare_group(s.path());
    let stopped = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let r = crate::common::finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 143, "{}\n{}", r.stdout, r.stderr);
    // Within the grace (3 s by default), with room for a busy machine.
    assert!(stopped.elapsed().as_secs() < 10, "{:?}", stopped.elapsed());
    assert!(
        r.stderr
            .contains("cancelled by SIGTERM while `compare.prepare` ran in the candidate's folder"),
        "{}",
        r.stderr
    );
    assert!(!group_alive(pgid), "the prepare's processes outlived qod");
    assert_clean(&s);
}

#[test]
fn a_worktree_left_by_a_killed_run_is_removed_by_the_next() {
    let s = repo(0.01, 0.01, &preparing("sleep 3600", "30m"));
    let mut child = s.command(&["run"]).spawn().unwrap();
    let pgid = prepare_group(s.path());
    // `kill -9`: qod has no chance to clean up; its prepare is ended by hand.
    child.kill().unwrap();
    let _ = child.wait();
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let list = git(s.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 2, "{list}");
    // The next run removes the folder and its registration.
    s.policy(&preparing("true", "30m"));
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_clean(&s);
}
