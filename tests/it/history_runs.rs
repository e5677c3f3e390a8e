//! History that tells the truth, with a real pytest-benchmark suite
//! (`fixtures/projects/pybench`) and the history policy the docs
//! recommend (`qod-history.yaml`): ten runs of `main` recorded from
//! separate clones on a git-branch store, then a pull request twice as
//! slow on one benchmark, and one that changes nothing, run beside a busy
//! process. The test weighs runs, not rounds: the regression fails, the
//! unchanged request does not.

use crate::common::{git, Scratch};
use crate::harnesses::{copy_dir, pytest, rows};
use serde_json::Value;
use std::path::{Path, PathBuf};

const STORE: &str = "git:qod-history";

/// A bare remote holding the suite on `main`, with the history policy.
fn remote(s: &Scratch) -> PathBuf {
    let bare = s.path().join("remote.git");
    let seed = s.path().join("seed");
    std::fs::create_dir(&seed).unwrap();
    copy_dir(&crate::common::fixture("projects/pybench"), &seed);
    std::fs::rename(seed.join("qod-history.yaml"), seed.join("qod.yaml")).unwrap();
    std::fs::write(seed.join(".gitignore"), ".qod/\nbench.json\n").unwrap();
    crate::common::publish(&seed, &bare);
    bare
}

fn clone(s: &Scratch, bare: &Path, name: &str) -> PathBuf {
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
    dir
}

fn gate(s: &Scratch, dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = s.command(args).current_dir(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let d: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), d, stderr)
}

/// A pull request branch of a fresh clone, with `change` applied to `slugs.py`.
fn request(s: &Scratch, bare: &Path, name: &str, change: (&str, &str)) -> PathBuf {
    let dir = clone(s, bare, name);
    git(&dir, &["checkout", "-q", "-b", name]);
    let file = dir.join("slugs.py");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(change.0), "{}", change.0);
    std::fs::write(&file, text.replace(change.0, change.1) + "\n# changed\n").unwrap();
    git(&dir, &["commit", "-q", "-am", name]);
    dir
}

#[test]
fn the_recommended_history_policy_fails_a_2x_regression_and_not_a_busy_neighbour() {
    let s = Scratch::new().env("QOD_PYTEST", &pytest());
    let bare = remote(&s);
    // Ten runs (the policy's `last: 10`): a run that strays past the
    // tolerance before the test has its five runs is `inconclusive`, and
    // still joins later baselines (left out, a noisy runner once left only
    // 3 of 7 in, and the 2x regression could not be tested).
    // Each is decided and recorded; one slowed past what the runs before
    // it varied by (the tests share two cores) may fail, and a failed run
    // stays out of later baselines.
    let mut passed = 0;
    for i in 0..10 {
        let dir = clone(&s, &bare, &format!("main-{i}"));
        let (code, d, stderr) = gate(&s, &dir, &["run", "--store", STORE, "-q"]);
        assert!(
            code == 0 || code == 1,
            "run {i}: {}\n{stderr}",
            d["summary"]
        );
        assert_eq!(d["store"]["recorded"], true, "run {i}: {:#}", d["store"]);
        passed += usize::from(code == 0);
    }
    assert!(passed >= 7, "{passed} of 10 runs of `main` passed");

    let slow = request(&s, &bare, "slow", ("SLUG_PASSES = 1", "SLUG_PASSES = 2"));
    let (code, d, stderr) = gate(&s, &slow, &["run", "--store", STORE, "--base", "main"]);
    assert_eq!(code, 1, "{}\n{stderr}", d["summary"]);
    crate::common::assert_valid("decision.schema.json", &d);
    let status = |d: &Value, b: &str| {
        rows(d)
            .into_iter()
            .find(|(n, _)| n == b)
            .unwrap_or_else(|| panic!("no row {b}: {:?}", rows(d)))
            .1
    };
    assert_eq!(status(&d, "test_slugify"), "fail", "{:?}", rows(&d));
    assert_eq!(status(&d, "test_checksum"), "pass", "{:?}", rows(&d));
    let slug = d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"].as_str().unwrap().contains("test_slugify"))
        .unwrap();
    // Ten runs, less any that failed or were left out as outliers.
    let n = slug["test"]["n_baseline"].as_u64().unwrap();
    assert!((5..=10).contains(&n), "{slug:#}");
    assert_eq!(slug["test"]["significant"], true, "{slug:#}");
    let reason = slug["reason"].as_str().unwrap();
    assert!(
        reason.contains("beyond the tolerance by more than runs vary")
            && reason.contains("compared with `main`"),
        "{reason}"
    );

    // Nothing changed, but a busy process shares the two cores.
    let same = request(
        &s,
        &bare,
        "same",
        ("COUNT_PASSES = 100", "COUNT_PASSES = 100"),
    );
    let mut busy = std::process::Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let result = gate(&s, &same, &["run", "--store", STORE, "--base", "main"]);
    busy.kill().unwrap();
    busy.wait().unwrap();
    let (code, d, stderr) = result;
    assert!(
        rows(&d).iter().all(|(_, st)| st != "fail"),
        "{:?}\n{}\n{stderr}",
        rows(&d),
        d["summary"]
    );
    assert_eq!(code, 0, "{}\n{stderr}", d["summary"]);
}
