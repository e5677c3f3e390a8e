//! `qod validate` on every invalid policy in `fixtures/policies/invalid/`
//! prints errors a user can act on (file, position, cause, hint) and exits 2;
//! the valid ones pass.

use crate::common::{fixture, repo, Scratch};

fn validate(policy: &std::path::Path) -> crate::common::Run {
    let s = Scratch::new();
    let mut cmd = s.command(&[
        "validate",
        "--policy",
        &policy.strip_prefix(repo()).unwrap().to_string_lossy(),
    ]);
    cmd.current_dir(repo());
    crate::common::finish(cmd.output().unwrap())
}

#[test]
fn invalid_policies_are_explained() {
    let mut files: Vec<_> = std::fs::read_dir(fixture("policies/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15);
    for file in files {
        let r = validate(&file);
        assert_eq!(r.code, 2, "{}: {}", file.display(), r.stderr);
        assert!(r.stdout.is_empty());
        // Paths of this checkout would differ elsewhere.
        let stderr = r
            .stderr
            .replace(&repo().to_string_lossy().into_owned(), "[repo]");
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!("invalid_{name}"), stderr);
    }
}

#[test]
fn valid_policies_pass() {
    for name in ["prototype.yaml", "everything.json"] {
        let r = validate(&fixture("policies/valid").join(name));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    }
}

#[test]
fn validate_runs_nothing() {
    let s = Scratch::new();
    s.policy("version: 1\nplugins:\n  s: { uses: sleep-forever }\nobjectives:\n  - { id: v, metric: s.value, pass: \"< 1ms\" }\n");
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !s.path().join(".qod").exists(),
        "validate must not run plugins or touch the store"
    );
}

#[test]
fn no_policy_file_is_a_clear_error() {
    let r = Scratch::new().qod(&["run"]);
    assert_eq!(r.code, 2);
    let stderr = r
        .stderr
        .lines()
        .filter(|l| !l.contains("no policy file found in"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(stderr, @r"
    error: invalid policy `qod.yaml`
      hint: create `qod.yaml` there, or pass `--policy FILE`; `qod schema policy` shows the format
    ");
}
