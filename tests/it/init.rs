//! `qod init` on small real projects (`fixtures/projects/`): the harness
//! and CI found from their files, the files it writes for each CI
//! (snapshotted, and valid), refusing to overwrite, `--print`, and the
//! pytest-benchmark project's generated policy run for real on a pull
//! request that makes a benchmark twice as slow.

use crate::common::{git, repo, Scratch};
use crate::harnesses::copy_dir;

/// A copy of the fixture project `name` (without its own policies).
fn project(name: &str) -> Scratch {
    let s = Scratch::new();
    copy_dir(
        &crate::common::fixture(&format!("projects/{name}")),
        s.path(),
    );
    for p in ["qod.yaml", "qod-history.yaml"] {
        let _ = std::fs::remove_file(s.path().join(p));
    }
    s
}

#[test]
fn each_ci_gets_its_pipeline_and_every_file_is_valid() {
    for ci in ["github", "gitlab", "codebuild", "jenkins"] {
        let s = project("pybench");
        let r = s.qod(&["init", "--ci", ci, "--print"]);
        assert_eq!(r.code, 0, "{ci}: {}", r.stderr);
        insta::assert_snapshot!(format!("init_pybench_{ci}"), r.stdout);
        assert!(
            r.stderr.contains("qod: harness: pytest-benchmark, because `tests/test_bench.py` uses pytest-benchmark's `benchmark` fixture"),
            "{}",
            r.stderr
        );
        assert!(
            !s.path().join("qod.yaml").exists(),
            "--print writes nothing"
        );
        let r = s.qod(&["init", "--ci", ci, "--yes"]);
        assert_eq!(r.code, 0, "{ci}: {}", r.stderr);
        assert!(
            r.stderr.contains("next: commit these two files"),
            "{}",
            r.stderr
        );
        let v = s.qod(&["validate"]);
        assert_eq!(v.code, 0, "{ci}: {}", v.stderr);
    }
}

#[test]
fn the_harness_is_found_from_the_projects_files() {
    for (name, says, metric) in [
        (
            "crit",
            "harness: criterion, because `Cargo.toml` depends on criterion",
            "bench.*#median",
        ),
        (
            "gobench",
            "harness: go, because `sum_test.go` has `func Benchmark…`",
            "bench.*",
        ),
    ] {
        let s = project(name);
        std::fs::create_dir_all(s.path().join(".github/workflows")).unwrap();
        let r = s.qod(&["init", "--print"]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{name}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("CI: GitHub Actions, because `.github/workflows/` exists"),
            "{}",
            r.stderr
        );
        assert!(
            r.stdout.contains(&format!("metric: \"{metric}\"")),
            "{}",
            r.stdout
        );
        let policy = r.stdout.split("# ── .github").next().unwrap().to_owned();
        insta::assert_snapshot!(format!("init_{name}_policy"), policy);
    }
    // Nothing to find: said, with the fix.
    let s = Scratch::new();
    let r = s.qod(&["init", "--ci", "github", "--print"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("no benchmark harness found") && r.stderr.contains("`--harness`"),
        "{}",
        r.stderr
    );
    let s = project("gobench");
    let r = s.qod(&["init", "--print"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("no CI found")
            && r.stderr.contains("--ci github|gitlab|codebuild|jenkins"),
        "{}",
        r.stderr
    );
}

#[test]
fn nothing_is_overwritten_without_force_and_scripts_say_yes() {
    let s = project("gobench");
    let r = s.qod(&["init", "--ci", "gitlab"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("pass `--yes` to write them (in a script), or `--print` to see them"),
        "{}",
        r.stderr
    );
    assert!(!s.path().join("qod.yaml").exists());
    assert_eq!(s.qod(&["init", "--ci", "gitlab", "--yes"]).code, 0);
    std::fs::write(s.path().join("qod.yaml"), "# mine\n").unwrap();
    let r = s.qod(&["init", "--ci", "gitlab", "--yes"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`qod.yaml` already exists: qod init overwrites nothing without `--force`"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(s.path().join("qod.yaml")).unwrap(),
        "# mine\n"
    );
    let r = s.qod(&["init", "--ci", "gitlab", "--yes", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(s.path().join("qod.yaml"))
        .unwrap()
        .contains("format: go-test"));
}

#[test]
fn the_generated_policy_fails_a_pull_request_twice_as_slow() {
    let venv = repo().join(".venv/bin");
    let path = format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    crate::harnesses::pytest();
    let s = project("pybench").env("PATH", &path);
    // Worktrees of the base go to a temporary folder of the test's own.
    let tmp = tempfile::tempdir().unwrap();
    let s = s.env("TMPDIR", &tmp.path().display().to_string());
    std::fs::create_dir_all(s.path().join(".github/workflows")).unwrap();
    std::fs::write(s.path().join(".gitignore"), "qod-bench.json\n.qod/\n").unwrap();
    let r = s.qod(&["init", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A repository on `main` with a bare origin, then the pull request.
    let bare = tmp.path().join("origin.git");
    crate::common::publish(s.path(), &bare);
    git(s.path(), &["checkout", "-q", "-b", "slower"]);
    let file = s.path().join("slugs.py");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("SLUG_PASSES = 1", "SLUG_PASSES = 2")).unwrap();
    git(s.path(), &["commit", "-q", "-am", "slower slugs"]);
    let head = git(s.path(), &["rev-parse", "HEAD"]);
    let r = crate::common::finish(
        s.command(&["run", "--store", "git:qod-history"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_REF", "refs/pull/1/merge")
            .env("GITHUB_HEAD_REF", "slower")
            .env("GITHUB_BASE_REF", "main")
            .env("GITHUB_SHA", head.trim())
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let slug = d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"].as_str().unwrap().contains("test_slugify"))
        .unwrap_or_else(|| panic!("{d:#}"));
    assert_eq!(slug["status"], "fail", "{slug:#}");
}
