//! A change judged against its base: pull (merge) request builds of every
//! provider, in a real git repository whose `main` moved on after the
//! feature branch left it, compared with `main`'s runs at the merge-base.

use crate::common::{emit_policy, git, Run, Scratch};
use serde_json::Value;
use std::path::Path;

const OBJECTIVE: &str = "  - { id: t, metric: bench.duration, pass: \"<= baseline * 1.5\", baseline: { last: 3, min_runs: 1 } }\n";

fn commit(dir: &Path, file: &str) -> String {
    std::fs::write(dir.join(file), file).unwrap();
    git(dir, &["add", file]);
    git(dir, &["commit", "-q", "-m", file]);
    git(dir, &["rev-parse", "HEAD"])
}

/// `main`: c1 → mb → tip; `feature` left `main` at mb and adds f1; the
/// checkout is on `feature`.
struct Repo {
    s: Scratch,
    c1: String,
    mb: String,
    tip: String,
    f1: String,
}

impl Repo {
    fn new() -> Repo {
        let s = Scratch::new();
        let d = s.path();
        git(d, &["init", "-q", "-b", "main"]);
        std::fs::write(d.join(".gitignore"), ".qod/\nqod.yaml\n*.json\n").unwrap();
        let c1 = commit(d, "c1");
        let mb = commit(d, "mb");
        git(d, &["checkout", "-q", "-b", "feature"]);
        let f1 = commit(d, "f1");
        git(d, &["checkout", "-q", "main"]);
        let tip = commit(d, "tip");
        git(d, &["checkout", "-q", "feature"]);
        Repo { s, c1, mb, tip, f1 }
    }

    /// A gate run measuring `value`, in the CI environment `env`.
    fn run(&self, value: f64, env: &[(&str, String)]) -> Run {
        self.s
            .policy(&emit_policy(&[("bench", "duration", value)], OBJECTIVE));
        let mut cmd = self.s.command(&["run"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        crate::common::finish(cmd.output().unwrap())
    }

    /// A push build of `main` at `revision` (GitHub's variables).
    fn main_run(&self, value: f64, revision: &str) -> Value {
        let r = self.run(
            value,
            &[
                ("GITHUB_ACTIONS", "true".into()),
                ("GITHUB_REF", "refs/heads/main".into()),
                ("GITHUB_SHA", revision.into()),
                ("GITHUB_EVENT_NAME", "push".into()),
            ],
        );
        assert!(r.code <= 1, "{}", r.stderr);
        r.json()
    }

    /// `main`'s history: 10 at c1 and at the merge-base, then 5 twice at
    /// its tip (a change measured against the tip would look 2× slower).
    fn with_main_history(self) -> (Repo, Vec<String>) {
        let ids = [
            (10.0, &self.c1),
            (10.0, &self.mb),
            (5.0, &self.tip),
            (5.0, &self.tip),
        ]
        .iter()
        .map(|(v, rev)| {
            self.main_run(*v, rev)["run"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        (self, ids)
    }

    /// The variables of a request (7) from `feature` into `base` on `provider`.
    fn request_env(&self, provider: &str, base: &str) -> Vec<(&'static str, String)> {
        let f1 = self.f1.clone();
        match provider {
            "github" => {
                // The event names the request's head and base commits.
                let event = self.s.write(
                    "event.json",
                    &serde_json::json!({"pull_request": {"number": 7,
                        "head": {"sha": f1, "ref": "feature"},
                        "base": {"sha": self.tip, "ref": base}}})
                    .to_string(),
                );
                vec![
                    ("GITHUB_ACTIONS", "true".into()),
                    ("GITHUB_REF", "refs/pull/7/merge".into()),
                    ("GITHUB_HEAD_REF", "feature".into()),
                    ("GITHUB_BASE_REF", base.into()),
                    ("GITHUB_SHA", f1),
                    ("GITHUB_EVENT_NAME", "pull_request".into()),
                    ("GITHUB_EVENT_PATH", event.to_string_lossy().into_owned()),
                ]
            }
            "gitlab" => vec![
                ("GITLAB_CI", "true".into()),
                ("CI_MERGE_REQUEST_IID", "7".into()),
                ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature".into()),
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", base.into()),
                ("CI_MERGE_REQUEST_DIFF_BASE_SHA", self.mb.clone()),
                ("CI_COMMIT_SHA", f1),
                ("CI_PIPELINE_SOURCE", "merge_request_event".into()),
            ],
            "codebuild" => vec![
                ("CODEBUILD_BUILD_ID", "app:1".into()),
                ("CODEBUILD_SOURCE_VERSION", "pr/7".into()),
                ("CODEBUILD_WEBHOOK_TRIGGER", "pr/7".into()),
                ("CODEBUILD_WEBHOOK_BASE_REF", format!("refs/heads/{base}")),
                ("CODEBUILD_WEBHOOK_HEAD_REF", "refs/heads/feature".into()),
                ("CODEBUILD_RESOLVED_SOURCE_VERSION", f1),
            ],
            "jenkins" => vec![
                ("JENKINS_URL", "http://127.0.0.1:9/".into()),
                ("BRANCH_NAME", "PR-7".into()),
                ("CHANGE_ID", "7".into()),
                ("CHANGE_BRANCH", "feature".into()),
                ("CHANGE_TARGET", base.into()),
                ("GIT_COMMIT", f1),
            ],
            other => panic!("no provider {other}"),
        }
    }
}

fn baseline(d: &Value) -> &Value {
    &d["objectives"][0]["baseline"]
}

fn baseline_ids(d: &Value) -> Vec<String> {
    baseline(d)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_provider_compares_a_request_with_its_base_at_the_merge_base() {
    for provider in ["github", "gitlab", "codebuild", "jenkins"] {
        let (repo, main_ids) = Repo::new().with_main_history();
        let env = repo.request_env(provider, "main");
        let at_merge_base = vec![main_ids[1].clone(), main_ids[0].clone()];

        // 2× slower than the merge-base: the gate fails.
        let slow = repo.run(20.0, &env);
        assert_eq!(slow.code, 1, "{provider}: {}\n{}", slow.stdout, slow.stderr);
        let d = slow.json();
        assert_eq!(d["decision"], "fail", "{provider}");
        let b = baseline(&d);
        assert_eq!(
            (&b["source"], &b["branch"], b["revision"].as_str()),
            (
                &Value::from("merge-base"),
                &Value::from("main"),
                Some(repo.mb.as_str())
            ),
            "{provider}: {b:#}"
        );
        assert_eq!(
            baseline_ids(&d),
            at_merge_base,
            "{provider}: the runs at c1 and mb"
        );
        let mb7 = &repo.mb[..7];
        let reason = d["objectives"][0]["reason"].as_str().unwrap();
        assert!(
            reason.ends_with(&format!(
                "compared with `main` at `{mb7}` (merge-base), 2 runs"
            )),
            "{provider}: {reason}"
        );
        assert!(
            slow.stderr.contains(&format!("at `{mb7}` (merge-base)")),
            "{}",
            slow.stderr
        );
        assert_eq!(
            (
                &d["pipeline"]["pull_request"],
                &d["pipeline"]["base_branch"]
            ),
            (&Value::from(7), &Value::from("main")),
            "{provider}"
        );

        // Unchanged: passes (against `main`'s tip, 5, it would fail).
        let same = repo.run(10.0, &env);
        assert_eq!(same.code, 0, "{provider}: {}", same.stderr);
        // The same request again still compares with the base, not with
        // its own earlier runs.
        let again = repo.run(10.0, &env);
        assert_eq!(again.code, 0, "{provider}: {}", again.stderr);
        assert_eq!(baseline_ids(&again.json()), at_merge_base, "{provider}");

        // A later `main` run's baseline holds no request's run.
        let request_ids = [&slow, &same, &again].map(|r| r.json()["run"]["id"].clone());
        let later = repo.main_run(5.0, &repo.tip);
        assert_eq!(baseline(&later)["source"], "branch");
        let ids = baseline_ids(&later);
        assert_eq!(
            ids,
            [
                main_ids[3].clone(),
                main_ids[2].clone(),
                main_ids[1].clone()
            ]
        );
        assert!(request_ids
            .iter()
            .all(|id| !ids.contains(&id.as_str().unwrap().to_owned())));
    }
}

#[test]
fn a_base_without_runs_is_no_baseline_and_says_so() {
    let (repo, _) = Repo::new().with_main_history();
    let r = repo.run(10.0, &repo.request_env("gitlab", "release"));
    assert_eq!(r.code, 0, "a warning, not a failure: {}", r.stderr);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "no_baseline");
    assert_eq!(d["decision"], "warn", "never a silent pass");
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains("0 earlier qualifying runs on the base branch `release`, 1 needed; record runs on `release`"),
        "{reason}"
    );
}

#[test]
fn a_merge_base_git_does_not_know_falls_back_to_the_base_branch() {
    let (repo, main_ids) = Repo::new().with_main_history();
    let mut env = repo.request_env("gitlab", "main");
    for (k, v) in env.iter_mut() {
        if *k == "CI_MERGE_REQUEST_DIFF_BASE_SHA" {
            *v = "0123456789abcdef0123456789abcdef01234567".into();
        }
    }
    let r = repo.run(10.0, &env);
    let d = r.json();
    let b = baseline(&d);
    assert_eq!(b["source"], "base-branch", "{b:#}");
    assert_eq!(
        baseline_ids(&d),
        [
            main_ids[3].clone(),
            main_ids[2].clone(),
            main_ids[1].clone()
        ]
    );
    let reason = d["objectives"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("(runs before the merge-base), 3 runs"),
        "{reason}"
    );
}

#[test]
fn a_local_change_is_compared_with_base() {
    let (repo, main_ids) = Repo::new().with_main_history();
    let r = repo.s.qod(&["context", "--base", "main"]);
    let source = &r.json()["source"];
    assert_eq!(
        (
            &source["branch"],
            &source["base_branch"],
            source["merge_base"].as_str()
        ),
        (
            &Value::from("feature"),
            &Value::from("main"),
            Some(repo.mb.as_str())
        ),
        "{source:#}"
    );
    repo.s
        .policy(&emit_policy(&[("bench", "duration", 20.0)], OBJECTIVE));
    let r = repo.s.qod(&["run", "--base", "main"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        baseline_ids(&r.json()),
        [main_ids[1].clone(), main_ids[0].clone()]
    );
    // Without `--base`, a local run of `feature` has only its own branch.
    let r = repo.s.qod(&["run", "--no-record"]);
    assert_eq!(baseline(&r.json())["branch"], "feature");
}

#[test]
fn branch_same_compares_a_request_with_its_own_runs() {
    let (repo, _) = Repo::new().with_main_history();
    let env = repo.request_env("github", "main");
    let first = repo.run(10.0, &env);
    assert_eq!(first.code, 0);
    repo.s.policy(&emit_policy(
        &[("bench", "duration", 12.0)],
        "  - { id: t, metric: bench.duration, pass: \"<= baseline * 1.5\", baseline: { last: 3, min_runs: 1, branch: same } }\n",
    ));
    let mut cmd = repo.s.command(&["run"]);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let r = crate::common::finish(cmd.output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    assert_eq!(baseline(&d)["source"], "branch");
    assert_eq!(
        baseline_ids(&d),
        [first.json()["run"]["id"].as_str().unwrap()]
    );
}

#[test]
fn what_a_request_sees() {
    let (repo, _) = Repo::new().with_main_history();
    let env = repo.request_env("gitlab", "main");
    let md = repo.s.path().join("summary.md");
    repo.s
        .policy(&emit_policy(&[("bench", "duration", 20.0)], OBJECTIVE));
    let mut cmd = repo
        .s
        .command(&["run", "--markdown", &md.to_string_lossy()]);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let r = crate::common::finish(cmd.output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_json_snapshot!("request_decision", crate::common::redact(r.json()));
    let stderr: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("qod: `"))
        .collect();
    insta::assert_snapshot!("request_stderr", stderr.join("\n"));
    let markdown = std::fs::read_to_string(&md).unwrap();
    let run_id = r.json()["run"]["id"].as_str().unwrap().to_owned();
    insta::assert_snapshot!("request_markdown", markdown.replace(&run_id, "[run-id]"));
}

#[test]
fn series_leave_requests_out_unless_their_branch_is_asked_for() {
    let (repo, _) = Repo::new().with_main_history();
    let env = repo.request_env("jenkins", "main");
    for _ in 0..2 {
        assert_eq!(repo.run(10.0, &env).code, 0);
    }
    let runs_of = |args: &[&str]| -> u64 {
        let r = repo.s.qod(args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()[0]["runs"].as_u64().unwrap()
    };
    assert_eq!(
        runs_of(&["trend", "--format", "json"]),
        4,
        "main's runs only"
    );
    assert_eq!(
        runs_of(&["trend", "--format", "json", "--branch", "feature"]),
        2
    );
    // The report shows every run: `main` as the line, the request's runs
    // as points apart.
    let r = repo.s.qod(&["report", "--out", "r.html"]);
    assert!(r.stderr.contains(": 6 runs, 1 metric"), "{}", r.stderr);
    let page = std::fs::read_to_string(repo.s.path().join("r.html")).unwrap();
    assert!(
        page.contains("data-off-line=\"2\""),
        "two points off the line"
    );
    assert_eq!(
        page.matches("pull request #7 (feature into main)").count(),
        2
    );
    // The latest decision is `main`'s, not the newer request's.
    let latest = &page[page.find("id=\"latest\"").unwrap()..];
    let latest = &latest[..latest.find("</p>").unwrap()];
    assert!(latest.contains(" on <code>main</code>"), "{latest}");
    assert!(!latest.contains("pull or merge request"), "{latest}");
    let r = repo
        .s
        .qod(&["history", "--branch", "feature", "--format", "json"]);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let r = repo.s.qod(&["history", "--format", "json"]);
    assert_eq!(
        r.json().as_array().unwrap().len(),
        6,
        "the list has every run"
    );
}
