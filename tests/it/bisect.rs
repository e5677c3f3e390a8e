//! `qod bisect` in a real git repository of 40 commits, one of which makes
//! a real workload (a shell program `command-bench` times) 25% slower:
//! each step a commit checked out in a worktree, prepared, and compared
//! side by side with the good revision on this machine.

use crate::common::{git, Scratch};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const POLICY: &str = r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: ["sh", "work.sh"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
compare:
  base: { revision: merge-base }
  prepare: "sh build.sh"
objectives:
  - { id: speed, metric: work.mean, pass: "<= +10%", against: base }
"#;

/// A repository of `n` commits after a first one: commit `culprit` makes
/// `work.sh` sleep 25 ms instead of 20; commit `broken` (if any) does not
/// build. Returns the scratch and the commits, oldest first (the first
/// one is the good revision).
fn history(n: usize, culprit: usize, broken: Option<usize>) -> (Scratch, Vec<String>) {
    let s = Scratch::new();
    let tmp = s.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let s = s.env("TMPDIR", &tmp.display().to_string());
    git(s.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(s.path().join(".gitignore"), ".qod/\ntmp/\n*.json\n*.md\n").unwrap();
    s.policy(POLICY);
    let mut commits = Vec::new();
    for i in 0..=n {
        let ms = if i >= culprit && i > 0 { 25 } else { 20 };
        s.write("work.sh", &format!("sleep 0.0{ms}\n"));
        let build = if Some(i) == broken {
            "echo 'error: cannot compile' >&2; exit 1\n"
        } else {
            "true\n"
        };
        s.write("build.sh", build);
        s.write("n.txt", &i.to_string());
        git(s.path(), &["add", "."]);
        git(s.path(), &["commit", "-q", "-m", &format!("change {i}")]);
        commits.push(git(s.path(), &["rev-parse", "HEAD"]));
    }
    (s, commits)
}

/// No worktree is left: not in git's list, not in the temporary folder.
fn assert_clean(dir: &Path) {
    let list = git(dir, &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    let left: Vec<_> = std::fs::read_dir(dir.join("tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// ⌈log₂ n⌉.
fn log2_ceil(n: usize) -> usize {
    (usize::BITS - (n - 1).leading_zeros()) as usize
}

/// `qod bisect ARGS --format json`, which must exit with `code`: the run
/// and its bisection, checked against the schema.
fn bisect(s: &Scratch, args: &[&str], code: i32) -> (crate::common::Run, serde_json::Value) {
    let all: Vec<&str> = ["bisect"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--format", "json"])
        .collect();
    let r = s.qod(&all);
    assert_eq!(r.code, code, "{}\n{}", r.stdout, r.stderr);
    let b = r.json();
    crate::common::assert_valid("bisect.schema.json", &b);
    (r, b)
}

#[test]
fn bisect_names_the_commit_that_made_the_workload_slower_and_skips_one_that_does_not_build() {
    let (s, commits) = history(40, 27, Some(20));
    let (r, b) = bisect(
        &s,
        &[
            "--good",
            &commits[0],
            "--bad",
            "HEAD",
            "--markdown",
            "bisect.md",
        ],
        0,
    );
    assert_eq!(b["verdict"], "found", "{b:#}");
    assert_eq!(b["commits"], 40);
    assert_eq!(b["culprit"]["revision"], commits[27].as_str(), "{b:#}");
    assert_eq!(b["culprit"]["subject"], "change 27");
    assert_eq!(b["culprit"]["author"], "qod <qod@example.com>");
    let change = b["culprit"]["change_pct"].as_f64().unwrap();
    assert!((15.0..35.0).contains(&change), "{change}");
    assert!(b["culprit"]["ci_low_pct"].as_f64().unwrap() > 10.0);
    let steps = b["steps"].as_array().unwrap();
    assert!(steps.len() <= log2_ceil(40) + 3, "{} steps", steps.len());
    // The first step checks that `bad` is worse at all.
    assert_eq!(steps[0]["revision"], commits[40].as_str());
    assert_eq!(steps[0]["verdict"], "worse");
    // The commit that does not build was met (the first middle), skipped
    // and named, and decided nothing.
    let skipped = b["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{b:#}");
    assert_eq!(skipped[0]["revision"], commits[20].as_str());
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot compile"),
        "{skipped:?}"
    );
    assert!(r.stderr.contains("made `work.mean`"), "{}", r.stderr);
    let md = std::fs::read_to_string(s.path().join("bisect.md")).unwrap();
    assert!(
        md.starts_with(&format!(
            "## qod bisect: `{}` made `speed` worse",
            &commits[27][..12]
        )),
        "{md}"
    );
    assert!(md.contains("| skipped |"), "{md}");
    assert_clean(s.path());
}

#[test]
fn a_range_without_a_regression_ends_after_one_comparison() {
    let (s, commits) = history(12, 99, None);
    let (_, b) = bisect(
        &s,
        &[
            "--good",
            &commits[0],
            "--bad",
            &commits[12],
            "--record",
            "--store",
            "store",
        ],
        1,
    );
    assert_eq!(b["verdict"], "no_regression", "{b:#}");
    assert_eq!(b["steps"].as_array().unwrap().len(), 1);
    assert_eq!(b["steps"][0]["verdict"], "same");
    assert!(b["culprit"].is_null());
    // `--record` kept the step, as a run no baseline takes.
    assert_eq!(b["recorded"].as_array().unwrap().len(), 1, "{b:#}");
    let h = s
        .qod(&["history", "--store", "store", "--format", "json"])
        .json();
    assert_eq!(h[0]["run_id"], b["recorded"][0]);
    assert_eq!(h[0]["source"]["revision"], commits[12].as_str());
    assert!(
        h[0]["excluded"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("a step of `qod bisect`"),
        "{h:#}"
    );
    // Mistakes are named.
    let r = s.qod(&["bisect", "--good", "nope", "--bad", "HEAD"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`nope` names no commit"), "{}", r.stderr);
    let r = s.qod(&["bisect", "--good", &commits[5], "--bad", &commits[2]]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not an ancestor of"), "{}", r.stderr);
    let r = s.qod(&[
        "bisect",
        "--good",
        &commits[0],
        "--bad",
        "HEAD",
        "--objective",
        "sped",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no objective `sped`"), "{}", r.stderr);
    assert_clean(s.path());
}

#[test]
fn sigterm_mid_bisect_leaves_no_worktree() {
    let (s, commits) = history(40, 27, None);
    let mut child = s
        .command(&[
            "bisect",
            "--good",
            &commits[0],
            "--bad",
            "HEAD",
            "--progress",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("bisect step 2 of about") {
                let _ = tx.send(());
            }
            seen.push(line);
        }
        seen
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the second step starts");
    std::thread::sleep(Duration::from_millis(300));
    let status = crate::common::terminate(&mut child, Duration::from_secs(30), "bisect");
    assert_eq!(status.code(), Some(143));
    assert_clean(s.path());
}

#[test]
fn bisect_starts_from_a_failed_gate_and_from_a_change_point() {
    let (s, commits) = history(12, 7, None);
    // A request gated against its merge-base: failed, its decision kept.
    let ctx = s.write(
        "ctx.json",
        &format!(
            r#"{{"source": {{"branch": "feature", "base_branch": "main", "pull_request": 4, "merge_base": "{}"}}}}"#,
            commits[0]
        ),
    );
    let r = s.qod(&[
        "run",
        "--context",
        &ctx.to_string_lossy(),
        "--out",
        "decision.json",
        "--no-record",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (_, b) = bisect(&s, &["--from-decision", "decision.json"], 0);
    assert_eq!(b["objective"], "speed");
    assert_eq!(b["good"], commits[0].as_str());
    assert_eq!(b["culprit"]["revision"], commits[7].as_str(), "{b:#}");

    // History recorded every other commit on `main` by a plugin that
    // reads the workload's level (so the series has a clear step, whatever
    // the machine's load): a change point between commits 6 and 8, from
    // which bisect takes the range, and times the objective `speed`.
    crate::common::python_plugin(
        &s,
        "level",
        r#"[{"name": "sleep", "unit": "s", "better": "lower"}]"#,
        "import json, os, sys\nctx = json.load(sys.stdin)\nlevel = float(open(os.path.join(ctx['paths']['workspace'], 'work.sh')).read().split()[1])\nprint(json.dumps({'protocol': 1, 'status': 'ok', 'metrics': [{'name': 'sleep', 'value': level, 'unit': 's'}]}))\n",
    );
    s.write(
        "history.yaml",
        "version: 1\nplugins:\n  w: { uses: level }\nobjectives:\n  - { id: level, metric: w.sleep, pass: \"< 1s\" }\n",
    );
    for c in (0..=12).step_by(2) {
        git(s.path(), &["checkout", "-q", &commits[c]]);
        let ctx = s.write(
            "main.json",
            &format!(
                r#"{{"source": {{"branch": "main", "revision": "{}"}}}}"#,
                commits[c]
            ),
        );
        for _ in 0..3 {
            let r = s.qod(&[
                "run",
                "--policy",
                "history.yaml",
                "--store",
                "store",
                "-q",
                "--context",
                &ctx.to_string_lossy(),
            ]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
    }
    git(s.path(), &["checkout", "-q", "main"]);
    let (_, b) = bisect(
        &s,
        &[
            "--from-trend",
            "--metric",
            "w.sleep",
            "--objective",
            "speed",
            "--store",
            "store",
        ],
        0,
    );
    assert_eq!(b["good"], commits[6].as_str(), "{b:#}");
    assert_eq!(b["bad"], commits[8].as_str());
    assert_eq!(b["commits"], 2);
    assert_eq!(b["culprit"]["revision"], commits[7].as_str(), "{b:#}");
    assert_clean(s.path());
}

#[test]
fn probes_on_a_matrix_narrow_the_range_before_the_search() {
    let (s, commits) = history(40, 27, None);
    // Two jobs of a matrix, each comparing one commit of the range.
    let probes: Vec<String> = (1..=2)
        .map(|k| {
            let (r, b) = bisect(
                &s,
                &[
                    "--good",
                    &commits[0],
                    "--bad",
                    "HEAD",
                    "--probe",
                    &format!("{k}/2"),
                ],
                0,
            );
            assert_eq!(b["verdict"], "probed");
            assert_eq!(b["steps"].as_array().unwrap().len(), 1);
            let file = format!("probe-{k}.json");
            s.write(&file, &r.stdout);
            file
        })
        .collect();
    // Probe 1 compares commit 14 (the same), probe 2 commit 27 (worse).
    let p1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join(&probes[0])).unwrap()).unwrap();
    assert_eq!(p1["steps"][0]["revision"], commits[14].as_str());
    assert_eq!(p1["steps"][0]["verdict"], "same");
    let (_, b) = bisect(
        &s,
        &[
            "--good",
            &commits[0],
            "--bad",
            "HEAD",
            "--after",
            &probes[0],
            &probes[1],
        ],
        0,
    );
    assert_eq!(b["culprit"]["revision"], commits[27].as_str(), "{b:#}");
    let steps = b["steps"].as_array().unwrap();
    // `bad`, the two probes, then at most ⌈log₂ 13⌉ = 4 more.
    assert!(steps.len() <= 3 + 4, "{}", steps.len());
    assert!(steps[1]["reason"].as_str().unwrap().starts_with("probe: "));
    assert_clean(s.path());
}
