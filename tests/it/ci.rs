//! Context detection for each CI provider, from environment fixtures, through
//! the real binary (`qod context`).

use crate::common::{fixture, Scratch};
use serde_json::Value;

/// `NAME=value` lines; `#` comments and blank lines skipped.
pub fn read_env(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// A scratch folder with these variables set.
pub fn with_env(vars: &[(String, String)]) -> Scratch {
    let mut s = Scratch::new();
    for (k, v) in vars {
        s = s.env(k, v);
    }
    s
}

fn context(vars: &[(String, String)]) -> Value {
    let r = with_env(vars).qod(&["context"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

/// The provider environment fixtures, `fixtures/ci/*.env`, sorted.
pub fn provider_fixtures() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(fixture("ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "env"))
        .collect();
    files.sort();
    files
}

#[test]
fn each_provider_fixture_yields_its_context() {
    let files = provider_fixtures();
    assert!(files.len() >= 8);
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_json_snapshot!(format!("context_{name}"), context(&read_env(&file)));
    }
}

#[test]
fn real_codebuild_environments_from_the_corpus() {
    let dir = crate::common::repo().join("../shared/corpus/codebuild-env");
    if !dir.is_dir() {
        // The corpus sits beside the repository on development machines
        // and in CI; a bare clone elsewhere has only the fixtures above.
        return;
    }
    let push = context(&read_env(&dir.join("push-to-branch.env")));
    assert_eq!(push["pipeline"]["provider"], "codebuild");
    assert!(push["pipeline"]["started_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let pr = context(&read_env(&dir.join("pull-request-created.env")));
    assert_eq!(pr["source"]["pull_request"], 2);
    assert_eq!(pr["source"]["event"], "PULL_REQUEST_CREATED");
    assert_eq!(pr["pipeline"]["started_at"], "2021-10-01T12:39:31.530Z");
    let merged = context(&read_env(&dir.join("pull-request-merged.env")));
    assert_eq!(merged["pipeline"]["provider"], "codebuild");
}

#[test]
fn a_context_file_overrides_what_was_detected() {
    let vars = read_env(&fixture("ci/github-push.env"));
    let s = with_env(&vars);
    s.write(
        "ctx.json",
        r#"{"pipeline": {"name": "release", "job": null}, "source": {"branch": "release/1.2"}}"#,
    );
    let r = s.qod(&["context", "--context", "ctx.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["pipeline"]["name"], "release");
    assert!(v["pipeline"].get("job").is_none());
    assert_eq!(v["source"]["branch"], "release/1.2");
    assert_eq!(
        v["source"]["revision"],
        "9f1c2e3d4b5a69788796a5b4c3d2e1f00a1b2c3d"
    );

    s.write("bad.json", r#"{"pipline": {}}"#);
    let r = s.qod(&["context", "--context", "bad.json"]);
    assert_eq!(r.code, 2);
    insta::assert_snapshot!(r.stderr.trim(), @"error: invalid context `bad.json`: unknown field `pipline`; a context gives `pipeline` and/or `source`");
}
