//! Side by side with real harnesses that measure on each side: a real
//! pytest-benchmark suite (`fixtures/projects/pybench`, pytest-benchmark
//! installed by `scripts/test` into `.venv`) and real hyperfine, through
//! `bench-import`'s `with.run`, judged by one pattern objective; what
//! fakes pairs is refused or found out; shallow checkouts fetch their
//! merge-base; `compare.budget` stops a long sequence.

use crate::common::{git, python_plugin, repo, Scratch};
use serde_json::Value;
use std::path::Path;

/// The pytest of `scripts/test`'s venv: the tests need it, and say how to get it.
pub(crate) fn pytest() -> String {
    let p = repo().join(".venv/bin/pytest");
    assert!(
        p.is_file() && repo().join(".venv/bin/pytest-benchmark").is_file(),
        "pytest-benchmark is not in `.venv`: run the tests with `scripts/test`, which installs it"
    );
    p.display().to_string()
}

/// Copies the fixture project into a fresh repository, commits it on
/// `main`, and checks out `feature` with `change` applied to `slugs.py`.
fn pybench(policy: &str, change: &[(&str, &str)]) -> Scratch {
    let s = Scratch::new().env("QOD_PYTEST", &pytest());
    let tmp = s.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let s = s.env("TMPDIR", &tmp.display().to_string());
    let from = crate::common::fixture("projects/pybench");
    copy_dir(&from, s.path());
    std::fs::write(s.path().join(".gitignore"), ".qod/\ntmp/\nbench.json\n").unwrap();
    s.policy(policy);
    git(s.path(), &["init", "-q", "-b", "main"]);
    git(s.path(), &["add", "."]);
    git(s.path(), &["commit", "-q", "-m", "base"]);
    git(s.path(), &["checkout", "-q", "-b", "feature"]);
    let file = s.path().join("slugs.py");
    let mut text = std::fs::read_to_string(&file).unwrap();
    for (from, to) in change {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    text.push_str("\n# changed on the feature branch\n");
    std::fs::write(&file, text).unwrap();
    git(s.path(), &["commit", "-q", "-am", "change"]);
    s
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "qod.yaml" {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The fixture's policy, with the measure and pairs given.
fn suite_policy(pairs: &str, extra: &str) -> String {
    let policy = std::fs::read_to_string(crate::common::fixture("projects/pybench/qod.yaml"))
        .unwrap()
        .replace("{ min: 6, max: 20, batch: 2 }", pairs);
    format!("{policy}{extra}")
}

/// Each row of the pattern objective, by benchmark.
pub(crate) fn rows(d: &Value) -> Vec<(String, String)> {
    d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let id = o["id"].as_str().unwrap();
            let bench = id
                .split("::")
                .nth(1)
                .and_then(|t| t.split('#').next())
                .unwrap_or(id)
                .to_owned();
            (bench, o["status"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn a_pytest_benchmark_suite_fails_on_its_two_regressions_through_one_pattern() {
    let s = pybench(
        &suite_policy("{ min: 6, max: 30, batch: 2 }", ""),
        &[
            ("SLUG_PASSES = 1", "SLUG_PASSES = 2"),
            // About +25%: under the whole suite running in parallel on two
            // cores a pair's ratio varies so much that +15% against a +5%
            // tolerance is not always separable in 30 pairs (the decision
            // then says so, inconclusive, with what it could detect).
            ("COUNT_PASSES = 100", "COUNT_PASSES = 125"),
        ],
    );
    let r = s.qod(&[
        "run",
        "--base",
        "main",
        "--progress",
        "--markdown",
        "summary.md",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    crate::common::assert_valid("decision.schema.json", &d);
    let rows = rows(&d);
    assert_eq!(rows.len(), 3, "{rows:?}");
    // Failures first, each row its own metric of the family.
    let status = |b: &str| rows.iter().find(|(n, _)| n == b).unwrap().1.clone();
    assert_eq!(status("test_slugify"), "fail", "{rows:?}\n{}", r.stderr);
    assert_eq!(status("test_word_count"), "fail", "{rows:?}\n{}", r.stderr);
    assert_ne!(status("test_checksum"), "fail", "{rows:?}");
    assert_eq!(rows[2].0, "test_checksum", "{rows:?}");
    for o in d["objectives"].as_array().unwrap() {
        assert_eq!(o["family"]["objective"], "suite", "{o:#}");
        assert_eq!(o["comparison"]["family_size"], 3, "{o:#}");
        assert!(o["comparison"]["mde_pct"].as_f64().is_some(), "{o:#}");
    }
    let summary = d["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("`suite`: 2 of 3 metrics fail `<= +5%`"),
        "{summary}"
    );
    let md = std::fs::read_to_string(s.path().join("summary.md")).unwrap();
    assert!(
        md.contains("suite[tests/test_bench.py::test_slugify#min]"),
        "{md}"
    );
    // The harness ran on each invocation of each side: real pairs.
    let note = d["plugins"][0]["notes"].to_string();
    assert!(note.contains("measured side by side"), "{note}");
    // Progress said how far the comparison had come.
    assert!(
        r.stderr.contains("side by side: pair 1 of at most 30"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unchanged_pytest_benchmark_suite_passes_again_and_again() {
    let s = pybench(&suite_policy("{ min: 6, max: 30, batch: 2 }", ""), &[]);
    for round in 0..2 {
        let r = s.qod(&["run", "--base", "main"]);
        let d = r.json();
        assert_eq!(r.code, 0, "round {round}: {}\n{}", d["summary"], r.stderr);
        assert!(
            rows(&d).iter().all(|(_, st)| st != "fail"),
            "round {round}: {:?}",
            rows(&d)
        );
    }
}

#[test]
fn bench_import_without_run_is_refused_behind_a_side_by_side_objective() {
    let s = Scratch::new();
    s.policy(
        r#"version: 1
plugins:
  bench: { uses: bench-import, with: { path: bench.json } }
compare: { base: { revision: main }, prepare: "pytest --benchmark-json=bench.json" }
objectives:
  - { id: suite, metric: "bench.*", against: base, pass: "<= +3%" }
"#,
    );
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("/plugins/bench/with"), "{}", r.stderr);
    assert!(
        r.stderr.contains("has no `run`") && r.stderr.contains("`with.run`"),
        "{}",
        r.stderr
    );
    // A history objective reads a file written once, as before.
    s.policy(
        r#"version: 1
plugins:
  bench: { uses: bench-import, with: { path: bench.json } }
objectives:
  - { id: one, metric: "bench.fib", pass: "<= +3%" }
"#,
    );
    assert_eq!(s.qod(&["validate"]).code, 0);
}

/// A repository with a Python plugin `p` whose values the test scripts.
fn scripted(rule: &str, policy: &str) -> Scratch {
    let s = Scratch::new();
    let tmp = s.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let s = s.env("TMPDIR", &tmp.display().to_string());
    std::fs::write(s.path().join(".gitignore"), ".qod/\ntmp/\n").unwrap();
    python_plugin(
        &s,
        "scripted",
        r#"[{"name": "*", "unit": "ms", "better": "lower"}]"#,
        &format!(
            r#"import json, random, sys
ctx = json.load(sys.stdin)
variant, pair = ctx.get("variant"), ctx.get("pair")
def values(variant, pair):
{rule}
print(json.dumps({{"protocol": 1, "status": "ok", "metrics": [{{"name": k, "value": v}} for k, v in values(variant, pair).items()]}}))
"#
        ),
    );
    s.policy(policy);
    git(s.path(), &["init", "-q", "-b", "main"]);
    git(s.path(), &["add", "."]);
    git(s.path(), &["commit", "-q", "-m", "base"]);
    git(s.path(), &["checkout", "-q", "-b", "feature"]);
    git(
        s.path(),
        &["commit", "-q", "--allow-empty", "-m", "candidate"],
    );
    s
}

const SCRIPTED: &str = r#"version: 1
plugins:
  p: { uses: scripted }
compare:
  base: { revision: main }
  pairs: { min: 6, max: 12, batch: 2 }
objectives:
  - { id: all, metric: "p.*", pass: "<= +3%", against: base }
"#;

#[test]
fn a_plugin_that_returns_the_same_values_is_inconclusive_never_significant() {
    // Each side reads one file written once: constant on both sides, 4% apart.
    let s = scripted(
        "    return {'t': 104.0 if variant == 'candidate' else 100.0, 'u': 50.0 + (random.random() if variant == 'base' else 0)}",
        SCRIPTED,
    );
    let r = s.qod(&["run"]);
    let d = r.json();
    let rows: Vec<&Value> = d["objectives"].as_array().unwrap().iter().collect();
    assert_eq!(rows.len(), 2, "{d:#}");
    for o in &rows {
        assert_eq!(o["status"], "inconclusive", "{o:#}");
        let reason = o["reason"].as_str().unwrap();
        assert!(
            reason.contains("it does not measure on each invocation"),
            "{reason}"
        );
        // Found out at the third pair: no more invocations wasted.
        assert_eq!(o["comparison"]["pairs"], 3, "{o:#}");
    }
    assert!(rows[0]["reason"]
        .as_str()
        .unwrap()
        .contains("same value on all 3 invocations of each side"));
    assert!(rows[1]["reason"]
        .as_str()
        .unwrap()
        .contains("of the candidate while the other side varied"));
    assert_eq!(r.code, 0, "inconclusive warns by default: {}", r.stderr);
}

#[test]
fn the_budget_stops_a_long_sequence_with_what_it_could_detect() {
    // A metric whose pairs swing by a factor of two either way (no answer
    // in a few pairs), each invocation 0.2 s: with a 4 s budget only a few
    // pairs fit.
    let s = scripted(
        "    import time; time.sleep(0.2)\n    return {'t': 100.0 * (1.5 if (pair + (variant == 'candidate')) % 2 else 0.7)}",
        &SCRIPTED
            .replace("{ min: 6, max: 12, batch: 2 }", "{ min: 6, max: 30, batch: 2 }\n  budget: 4s"),
    );
    let r = s.qod(&["run"]);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "inconclusive", "{o:#}");
    let c = &o["comparison"];
    assert_eq!(c["budget_exhausted"], true, "{c:#}");
    assert!((2..9).contains(&c["pairs"].as_u64().unwrap()), "{c:#}");
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains("`compare.budget` ran out") && reason.contains("are not detectable with"),
        "{reason}"
    );
    assert!(d["plugins"][0]["notes"]
        .to_string()
        .contains("`compare.budget` (4s) ran out"));
}

/// A shallow clone (depth 1) of `feature` from `origin` into `tmp/NAME`,
/// with the scratch's plugins.
fn shallow_clone(s: &Scratch, origin: &Path, name: &str) -> std::path::PathBuf {
    let dir = s.path().join("tmp").join(name);
    git(
        s.path(),
        &[
            "clone",
            "-q",
            "--depth=1",
            "--branch",
            "feature",
            &format!("file://{}", origin.display()),
            &dir.display().to_string(),
        ],
    );
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    copy_dir(&s.path().join("plugins"), &dir.join("plugins"));
    dir
}

/// `qod run` in `dir` as GitLab runs a merge request's pipeline.
fn merge_request_run(s: &Scratch, dir: &Path) -> crate::common::Run {
    let mut cmd = s.command(&["run"]);
    cmd.current_dir(dir)
        .env("GITLAB_CI", "true")
        .env("CI_MERGE_REQUEST_IID", "7")
        .env("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
        .env("CI_COMMIT_REF_NAME", "feature");
    crate::common::finish(cmd.output().unwrap())
}

#[test]
fn a_shallow_pull_request_checkout_fetches_its_merge_base() {
    let s = scripted(
        "    return {'t': 100.0 * (2.0 if variant == 'candidate' else 1.0) + random.random()}",
        &SCRIPTED.replace("revision: main", "revision: merge-base"),
    );
    // Twenty commits on main after the branch point, pushed to an origin.
    git(s.path(), &["checkout", "-q", "main"]);
    for i in 0..20 {
        git(
            s.path(),
            &["commit", "-q", "--allow-empty", "-m", &format!("main {i}")],
        );
    }
    let origin = s.path().join("tmp/origin.git");
    git(
        s.path(),
        &["clone", "-q", "--bare", ".", &origin.display().to_string()],
    );
    // CI's shallow clone of the request's branch.
    let work = shallow_clone(&s, &origin, "work");
    let r = merge_request_run(&s, &work);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_eq!(
        d["objectives"][0]["status"], "fail",
        "{:#}\n{}",
        d["objectives"][0], r.stderr
    );
    assert!(
        d["pipeline"]["merge_base"].is_string(),
        "{:#}",
        d["pipeline"]
    );

    // An origin that cannot give it: the reason names the fix.
    let lonely = shallow_clone(&s, &origin, "lonely");
    git(
        &lonely,
        &["remote", "set-url", "origin", "/nonexistent/origin.git"],
    );
    let r = merge_request_run(&s, &lonely);
    let d = r.json();
    let reason = d["objectives"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("the checkout is shallow") && reason.contains("fetch-depth: 0"),
        "{reason}"
    );
    assert!(
        !reason.contains("run it in a pull or merge request build"),
        "{reason}"
    );
}

#[test]
fn hyperfine_measures_on_each_side() {
    assert!(
        std::process::Command::new("hyperfine")
            .arg("--version")
            .output()
            .is_ok(),
        "hyperfine is not installed: run the tests with `scripts/test`, which installs it"
    );
    let s = Scratch::new();
    let tmp = s.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let s = s.env("TMPDIR", &tmp.display().to_string());
    std::fs::write(s.path().join(".gitignore"), ".qod/\ntmp/\nh.json\n").unwrap();
    let work = |turns: u32| format!("i=0; while [ $i -lt {turns} ]; do i=$((i+1)); done\n");
    s.write("work.sh", &work(20000));
    s.write("steady.sh", &work(20000));
    s.policy(
        r#"version: 1
plugins:
  h:
    uses: bench-import
    with:
      run: "hyperfine --style none --warmup 1 --runs 5 --export-json h.json 'sh work.sh' 'sh steady.sh'"
      path: h.json
compare:
  base: { revision: main }
  pairs: { min: 6, max: 20, batch: 2 }
objectives:
  - { id: cmds, metric: "h.*#min", against: base, pass: "<= +10%" }
"#,
    );
    git(s.path(), &["init", "-q", "-b", "main"]);
    git(s.path(), &["add", "."]);
    git(s.path(), &["commit", "-q", "-m", "base"]);
    git(s.path(), &["checkout", "-q", "-b", "feature"]);
    s.write("work.sh", &work(40000));
    git(s.path(), &["commit", "-q", "-am", "twice the work"]);
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let status = |id: &str| {
        d["objectives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {d:#}"))["status"]
            .clone()
    };
    assert_eq!(status("cmds[sh work.sh#min]"), "fail");
    assert_ne!(status("cmds[sh steady.sh#min]"), "fail");
}

#[test]
fn a_push_build_records_history_and_is_not_warned_about_a_missing_base() {
    let s = scripted(
        "    return {'t': 100.0 + random.random()}",
        &SCRIPTED.replace("revision: main", "revision: merge-base"),
    );
    git(s.path(), &["checkout", "-q", "main"]);
    let sha = git(s.path(), &["rev-parse", "HEAD"]);
    let mut cmd = s.command(&["run"]);
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_SHA", &sha);
    let r = crate::common::finish(cmd.output().unwrap());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    assert_eq!(d["decision"], "pass", "{:#}", d);
    let o = &d["objectives"][0];
    assert_eq!(
        (o["status"].as_str(), o["effect"].as_str()),
        (Some("no_baseline"), Some("none")),
        "{o:#}"
    );
    assert!(
        o["reason"]
            .as_str()
            .unwrap()
            .starts_with("not judged: this build is not a pull or merge request"),
        "{o:#}"
    );
    assert!(
        d["summary"]
            .as_str()
            .unwrap()
            .starts_with("no objective applies to this build"),
        "{}",
        d["summary"]
    );
    // The plugin ran once, and its values are history.
    assert_eq!(d["store"]["recorded"], true, "{:#}", d["store"]);
    assert!(d["plugins"][0]["metrics"][0]["value"].as_f64().is_some());
}

#[test]
fn a_pattern_objectives_decision_and_markdown() {
    // Three metrics from the same invocations: `slow` twice as slow, `same`
    // unchanged, `ops` a rate that halves (higher is better); `named` is
    // judged by its own objective, not by the pattern.
    let s = scripted(
        "    j = (pair * 7 + (variant == 'base')) % 5 * 0.002\n    c = variant == 'candidate'\n    return {'slow': 10 * (2 if c else 1) * (1 + j), 'same': 5 * (1 + j), 'ops': 1000 * (0.5 if c else 1) * (1 + j), 'named': 3 * (1 + j)}",
        &SCRIPTED
            .replace("compare:\n", "compare:\n  seed: 42\n")
            .replace(
                "objectives:\n",
                "objectives:\n  - { id: own, metric: p.named, pass: \"<= +50%\", against: base }\n",
            ),
    );
    std::fs::write(
        s.path().join("plugins/scripted/plugin.json"),
        std::fs::read_to_string(s.path().join("plugins/scripted/plugin.json"))
            .unwrap()
            .replace(
                r#"[{"name": "*", "unit": "ms", "better": "lower"}]"#,
                r#"[{"name": "ops", "unit": "ops/s", "better": "higher"}, {"name": "*", "unit": "ms", "better": "lower"}]"#,
            ),
    )
    .unwrap();
    let r = s.qod(&["run", "--markdown", "summary.md"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    // `main@abc1234` → `main@[sha]`, everywhere.
    let sha = |text: &str| -> String {
        let mut parts = text.split("main@");
        let mut out = parts.next().unwrap_or("").to_owned();
        for p in parts {
            out.push_str("main@[sha]");
            out.push_str(p.get(7..).unwrap_or(""));
        }
        out
    };
    let rows: Vec<Value> = d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o["reason"] = Value::String(sha(o["reason"].as_str().unwrap()));
            if let Some(c) = o.get_mut("comparison") {
                c["base"] = Value::String("[base]".into());
                c["base_revision"] = Value::String("[sha]".into());
            }
            o
        })
        .collect();
    insta::assert_json_snapshot!("pattern_objective_rows", rows);
    let md = std::fs::read_to_string(s.path().join("summary.md")).unwrap();
    let md: String = md
        .lines()
        .filter(|l| !l.starts_with("<sub>run `"))
        .map(|l| sha(l) + "\n")
        .collect();
    insta::assert_snapshot!("pattern_objective_markdown", md);
}

#[test]
fn a_plugin_failing_on_the_base_only_warns_like_a_missing_base() {
    let s = scripted(
        "    if variant == 'base':\n        print(json.dumps({'protocol': 1, 'status': 'error', 'error': {'kind': 'build', 'message': 'the base does not build'}}))\n        sys.exit(0)\n    return {'t': 100.0 + random.random()}",
        &SCRIPTED.replace("p.*", "p.t"),
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(
        (o["status"].as_str(), o["effect"].as_str()),
        (Some("no_baseline"), Some("warn")),
        "{o:#}"
    );
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains("the base side of pair 1 ended `plugin_error`: the base does not build"),
        "{reason}"
    );
    // The candidate was measured all the same, and recorded.
    assert_eq!(d["plugins"][0]["status"], "ok", "{:#}", d["plugins"][0]);
    assert!(o["value"].as_f64().is_some(), "{o:#}");
}
