//! The git-branch store against local bare repositories: concurrent runs
//! from separate clones, a fresh clone's view, objects fetched per
//! evaluation, a push rejected mid-run, and an unreachable remote.

use crate::common::{emit_policy, git, Scratch};
use crate::s3::{rt, seed_records};
use qod::store::Store;
use std::path::{Path, PathBuf};

const OBJECTIVE: &str = "  - { id: t, metric: build.duration, pass: \"<= baseline * 1.5\" }\n";

/// A bare repository that serves partial fetches, as GitHub and GitLab do,
/// with one commit on `main`.
fn remote(dir: &Path) -> PathBuf {
    let bare = dir.join("remote.git");
    let work = dir.join("seed");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("README"), "app\n").unwrap();
    crate::common::publish(&work, &bare);
    git(&bare, &["config", "uploadpack.allowFilter", "true"]);
    git(&bare, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    bare
}

/// A clone of `bare` with a gate policy, where `qod` runs.
fn checkout(bare: &Path, name: &str) -> Scratch {
    let s = Scratch::new();
    let dir = s.path().join(name);
    git(
        s.path(),
        &[
            "clone",
            "-q",
            &bare.to_string_lossy(),
            &dir.to_string_lossy(),
        ],
    );
    std::fs::write(
        dir.join("qod.yaml"),
        emit_policy(&[("build", "duration", 10.0)], OBJECTIVE),
    )
    .unwrap();
    s
}

fn in_checkout(s: &Scratch, name: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = s.command(args);
    cmd.current_dir(s.path().join(name));
    cmd
}

#[test]
fn sixteen_runs_from_separate_clones_record_sixteen_runs_that_a_fresh_clone_sees() {
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    let clones: Vec<Scratch> = (0..16).map(|_| checkout(&bare, "app")).collect();
    let runs = clones
        .iter()
        .map(|s| in_checkout(s, "app", &["run", "--store", "git:qod-history", "-q"]));
    for r in crate::common::at_once(runs) {
        let d = r.json();
        assert_eq!(d["store"]["recorded"], true, "{}", r.stderr);
        assert!(
            d["store"]["location"]
                .as_str()
                .unwrap()
                .starts_with("git:qod-history (origin "),
            "{d:#}"
        );
    }
    let fresh = checkout(&bare, "fresh");
    let out = in_checkout(
        &fresh,
        "fresh",
        &[
            "history",
            "--store",
            "git:qod-history",
            "--format",
            "json",
            "--last",
            "100",
        ],
    )
    .output()
    .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 16);
    // The project's own branch is untouched.
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "1");
}

/// Objects in a local partial repository.
fn objects(repo: &Path) -> u64 {
    git(repo, &["count-objects", "-v"])
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            matches!(k, "count" | "in-pack").then(|| v.parse::<u64>().unwrap())
        })
        .sum()
}

#[test]
fn an_evaluation_fetches_as_many_objects_at_10000_runs_as_at_100() {
    let top = tempfile::tempdir().unwrap();
    let mut fetched = Vec::new();
    for n in [100, 10_000] {
        // The history: a directory store's files, committed to the branch.
        let bare = top.path().join(format!("h{n}.git"));
        git(
            top.path(),
            &["init", "-q", "--bare", &bare.to_string_lossy()],
        );
        git(&bare, &["config", "uploadpack.allowFilter", "true"]);
        git(&bare, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
        let files = top.path().join(format!("files{n}"));
        rt().block_on(Store::dir(&files).import(seed_records(n), true))
            .unwrap();
        git(&files, &["init", "-q", "-b", "qod-history"]);
        git(&files, &["add", "-A"]);
        git(&files, &["commit", "-q", "-m", "history"]);
        git(
            &files,
            &["push", "-q", &bare.to_string_lossy(), "qod-history"],
        );

        let s = Scratch::new();
        s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
        let cache = s.path().join("cache");
        let mut cmd = s.command(&[
            "run",
            "--no-record",
            "--store",
            &format!("git+file://{}#qod-history", bare.display()),
        ]);
        cmd.env("QOD_GIT_CACHE", &cache);
        let r = crate::common::finish(cmd.output().unwrap());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let d = r.json();
        assert_eq!(crate::common::baseline_runs(&d), 3, "{d:#}");
        // The commit, the root tree, `index/` and the index head: what the
        // evaluation read, whatever the length of the history.
        fetched.push(objects(&cache));
    }
    assert_eq!(
        fetched[0], fetched[1],
        "objects fetched with 100 runs vs 10,000: {fetched:?}"
    );
}

#[test]
fn a_push_rejected_mid_run_is_built_again_on_the_new_tip() {
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    let url = format!("git+file://{}#qod-history", bare.display());
    let s = checkout(&bare, "app");
    // A first run makes the branch.
    let out = in_checkout(&s, "app", &["run", "--store", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    // While the second run measures, another writer pushes to the branch:
    // the run's push is rejected and rebuilt on top of it.
    let other = top.path().join("other");
    clone_history(&bare, &other);
    crate::common::python_plugin(
        &s,
        "meddler",
        r#"[{"name": "duration", "unit": "s", "better": "lower"}]"#,
        &format!(
            r#"import json, subprocess, sys
json.load(sys.stdin)
d = {other:?}
open(d + "/note.txt", "w").write("someone else\n")
for args in (["add", "note.txt"], ["-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", "other"], ["push", "-q", "origin", "qod-history"]):
    subprocess.run(["git", "-C", d] + args, check=True, stdout=subprocess.DEVNULL)
print(json.dumps({{"protocol": 1, "status": "ok", "metrics": [{{"name": "duration", "value": 10}}]}}))
"#,
            other = other.to_string_lossy()
        ),
    );
    std::fs::write(
        s.path().join("app/qod.yaml"),
        format!("version: 1\nplugins:\n  build: {{ uses: meddler, path: ../plugins/meddler }}\nobjectives:\n{OBJECTIVE}"),
    )
    .unwrap();
    let r = crate::common::finish(
        in_checkout(&s, "app", &["run", "--store", &url])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["store"]["recorded"], true);
    // The fetches after the rejection show in the request count: a read,
    // then for each of the two writes at least a push; one more fetch and
    // push for the rejected one.
    assert!(d["store"]["requests"].as_u64().unwrap() >= 5, "{d:#}");
    let files = git(&bare, &["ls-tree", "-r", "--name-only", "qod-history"]);
    assert!(
        files.contains("note.txt"),
        "the other writer's file is kept: {files}"
    );
    assert_eq!(
        files.lines().filter(|f| f.starts_with("runs/")).count(),
        2,
        "{files}"
    );
}

#[test]
fn an_unreachable_remote_prints_the_decision_exits_2_and_spools_without_showing_credentials() {
    let s = Scratch::new();
    s.policy(&emit_policy(&[("build", "duration", 10.0)], OBJECTIVE));
    // Nothing listens on port 9 of 127.0.0.1.
    let store = "git+http://ci:hunter2secret@127.0.0.1:9/app.git#qod-history";
    let r = s.qod(&["run", "--store", store, "--spool", "spool"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let d = r.json();
    assert_eq!(d["decision"], "warn", "{d:#}");
    assert_eq!(d["store"]["spooled"], true);
    assert!(
        d["store"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot fetch"),
        "{d:#}"
    );
    assert!(!r.stdout.contains("hunter2secret") && !r.stderr.contains("hunter2secret"));
    assert_eq!(
        std::fs::read_dir(s.path().join("spool")).unwrap().count(),
        1
    );
    let r = s.qod(&["history", "--store", "git:qod-history"]);
    assert_eq!(r.code, 64);
    assert!(
        r.stderr
            .contains("`git:BRANCH` keeps the history on a branch of this checkout's `origin`"),
        "{}",
        r.stderr
    );
}

#[test]
fn prune_keeps_the_branch_small() {
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    let url = format!("git+file://{}#qod-history", bare.display());
    let s = checkout(&bare, "app");
    for _ in 0..4 {
        let out = in_checkout(&s, "app", &["run", "--store", &url])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    assert!(
        git(&bare, &["rev-list", "--count", "qod-history"])
            .parse::<u32>()
            .unwrap()
            >= 8
    );
    let out = in_checkout(
        &s,
        "app",
        &["store", "prune", "--store", &url, "--keep", "2"],
    )
    .output()
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 2 runs, kept 2"));
    // One commit: the removed records are gone from the branch's history too.
    assert_eq!(git(&bare, &["rev-list", "--count", "qod-history"]), "1");
    let out = in_checkout(&s, "app", &["history", "--store", &url, "--format", "json"])
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
}

#[test]
fn prune_never_rewrites_a_branch_holding_other_files() {
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    // Someone keeps notes on the history branch.
    let work = top.path().join("seed");
    git(&work, &["checkout", "-q", "--orphan", "qod-history"]);
    git(&work, &["rm", "-q", "-rf", "."]);
    std::fs::write(work.join("NOTES.md"), "benchmarks\n").unwrap();
    git(&work, &["add", "NOTES.md"]);
    git(&work, &["commit", "-q", "-m", "notes"]);
    git(&work, &["push", "-q", "origin", "qod-history"]);
    let url = format!("git+file://{}#qod-history", bare.display());
    let s = checkout(&bare, "app");
    for _ in 0..3 {
        let out = in_checkout(&s, "app", &["run", "--store", &url])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let before: u32 = git(&bare, &["rev-list", "--count", "qod-history"])
        .parse()
        .unwrap();
    let r = crate::common::finish(
        in_checkout(
            &s,
            "app",
            &["store", "prune", "--store", &url, "--keep", "1"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "holds files qod did not write (NOTES.md): its git history was kept, not rewritten"
        ),
        "{}",
        r.stderr
    );
    // The records went in one more commit; nothing was squashed.
    let after: u32 = git(&bare, &["rev-list", "--count", "qod-history"])
        .parse()
        .unwrap();
    assert!(after > before, "{before} → {after}");
    let listed = git(&bare, &["ls-tree", "-r", "--name-only", "qod-history"]);
    assert!(listed.contains("NOTES.md"), "{listed}");
}

#[test]
fn a_first_write_creates_the_local_repository() {
    // `qod deployed` writes before it reads anything: on a fresh runner
    // the store's local repository does not exist yet.
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    let s = checkout(&bare, "app");
    let out = in_checkout(&s, "app", &["deployed", "--store", "git:qod-history"])
        .output()
        .unwrap();
    let r = crate::common::finish(out);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let listed = git(&bare, &["ls-tree", "-r", "--name-only", "qod-history"]);
    assert!(listed.contains("deployments/"), "{listed}");
}

#[test]
fn a_killed_processs_repository_folder_is_swept_by_the_next() {
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    let s = checkout(&bare, "app");
    let tmp = s.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // What `kill -9` leaves: a folder named after a process that is gone,
    // beside one of a process that is alive (this test's).
    let gone = tmp.join("qod-git-2147483646-abc123");
    let alive = tmp.join(format!("qod-git-{}-def456", std::process::id()));
    for d in [&gone, &alive] {
        std::fs::create_dir_all(d.join("objects")).unwrap();
    }
    let out = in_checkout(&s, "app", &["history", "--store", "git:qod-history"])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let r = crate::common::finish(out);
    assert!(r.code == 0 || r.code == 2, "{}", r.stderr);
    assert!(!gone.exists(), "the killed process's folder is left");
    assert!(alive.exists(), "a live process's folder was removed");
    // And the run's own folder went with it.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn reindex_quarantines_many_damaged_records_in_one_commit() {
    let top = tempfile::tempdir().unwrap();
    let bare = remote(top.path());
    let s = checkout(&bare, "app");
    let r = crate::common::finish(
        in_checkout(&s, "app", &["run", "--store", "git:qod-history", "-q"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Fifty damaged records pushed onto the history branch.
    let junk = top.path().join("junk");
    clone_history(&bare, &junk);
    let day = junk.join("runs/date=2026-01-01");
    std::fs::create_dir_all(&day).unwrap();
    for i in 0..50 {
        std::fs::write(
            day.join(format!("01900000-0000-7000-8000-{i:012}.json")),
            "{ junk",
        )
        .unwrap();
    }
    git(&junk, &["add", "."]);
    git(&junk, &["commit", "-q", "-m", "junk"]);
    git(&junk, &["push", "-q", "origin", "qod-history"]);
    let count = || {
        git(&bare, &["rev-list", "--count", "qod-history"])
            .parse::<u32>()
            .unwrap()
    };
    let before = count();
    let r = crate::common::finish(
        in_checkout(
            &s,
            "app",
            &["store", "reindex", "--store", "git:qod-history"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        count() - before <= 3,
        "{} commits for 50 damaged records",
        count() - before
    );
    let moved = git(
        &bare,
        &["ls-tree", "-r", "--name-only", "qod-history", "quarantine/"],
    );
    assert_eq!(moved.lines().count(), 50, "{moved}");
    // The good run stays where it was.
    let kept = git(
        &bare,
        &["ls-tree", "-r", "--name-only", "qod-history", "runs/"],
    );
    assert_eq!(kept.lines().count(), 1, "{kept}");
    // Moved with their content, nothing lost.
    let first = moved.lines().next().unwrap();
    assert_eq!(
        git(&bare, &["show", &format!("qod-history:{first}")]),
        "{ junk"
    );
}

/// A plain clone of the history branch of `bare` into `to`, for a writer
/// other than qod.
fn clone_history(bare: &Path, to: &Path) {
    git(
        to.parent().expect("a parent folder"),
        &[
            "clone",
            "-q",
            "-b",
            "qod-history",
            &bare.to_string_lossy(),
            &to.to_string_lossy(),
        ],
    );
}

#[test]
fn a_remote_that_is_no_repository_is_one_line() {
    let s = Scratch::new();
    let missing = s.path().join("nowhere.git");
    let store = format!("git+file://{}#qod-history", missing.display());
    let r = s.qod(&["history", "--store", &store]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("does not appear to be a git repository")
            && !r.stderr.contains("Please make sure"),
        "{}",
        r.stderr
    );
}
