//! The CI examples as a user copies them: each example's own commands,
//! install step included, run with that CI's variables against local
//! stand-ins: the release server (install.sh and the action fetch the
//! binary under test from 127.0.0.1), a bare git repository as `origin`
//! (the git-branch store), moto for S3. Only `https://github.com` in the
//! examples' URLs is pointed at the local release server.

use crate::ci::read_env;
use crate::common::{emit_policy, fixture, git, repo};
use crate::install::{Release, VERSION};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(repo().join(path)).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The policy the examples gate with, as the docs lead: requests judged
/// side by side with their merge-base (a command timed on each side),
/// pushes recording history; and the build's duration against a limit.
fn policy(build_s: f64) -> String {
    emit_policy(
        &[("build", "duration", build_s)],
        "  - { id: build-time, metric: build.duration, pass: \"<= 60s\" }\n  - { id: speed, metric: work.mean, pass: \"<= +50%\", against: base }\n",
    )
    .replace(
        "objectives:\n",
        "  work: { uses: command-bench, with: { command: [\"true\"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }\ncompare:\n  base: { revision: merge-base }\n  pairs: { min: 6, max: 12, batch: 2 }\nobjectives:\n",
    )
}

/// A CI workspace: a clone of a bare `origin` with a passing policy, the
/// CI's variables, and a PATH with the system's tools but no `qod` (the
/// example must install it).
struct Workspace {
    _top: tempfile::TempDir,
    origin: PathBuf,
    dir: PathBuf,
    /// Where the example installs qod (its `/usr/local/bin`).
    bin: PathBuf,
    env: Vec<(String, String)>,
    release: Release,
}

impl Workspace {
    fn new(ci_env: &str) -> Workspace {
        let top = tempfile::tempdir().unwrap();
        let origin = top.path().join("origin.git");
        git(
            top.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                &origin.to_string_lossy(),
            ],
        );
        git(&origin, &["config", "uploadpack.allowFilter", "true"]);
        git(
            &origin,
            &["config", "uploadpack.allowAnySHA1InWant", "true"],
        );
        let dir = top.path().join("workspace");
        git(
            top.path(),
            &[
                "clone",
                "-q",
                &origin.to_string_lossy(),
                &dir.to_string_lossy(),
            ],
        );
        std::fs::write(dir.join("qod.yaml"), policy(40.0)).unwrap();
        git(&dir, &["add", "qod.yaml"]);
        git(&dir, &["commit", "-q", "-m", "gate"]);
        git(&dir, &["push", "-q", "origin", "HEAD:main"]);
        let bin = top.path().join("usr-local-bin");
        let system: Vec<PathBuf> = std::env::split_paths(&std::env::var("PATH").unwrap())
            .filter(|p| !p.join("qod").exists())
            .collect();
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(system)).unwrap();
        let mut env: Vec<(String, String)> = read_env(&fixture(ci_env)).into_iter().collect();
        env.extend([
            ("PATH".to_owned(), path.to_string_lossy().into_owned()),
            ("HOME".to_owned(), top.path().to_string_lossy().into_owned()),
            (
                "QOD_PLUGIN_PATH".to_owned(),
                fixture("plugins").to_string_lossy().into_owned(),
            ),
        ]);
        let release = Release::start(false);
        env.push(("QOD_DOWNLOAD_URL".to_owned(), release.url()));
        Workspace {
            _top: top,
            origin,
            dir,
            bin,
            env,
            release,
        }
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.to_owned(), v.to_owned()));
    }

    /// An example's command as this workspace runs it: GitHub's URL
    /// pointed at the release server, `/usr/local/bin` at the workspace's.
    fn localize(&self, command: &str) -> String {
        command
            .replace(
                "https://github.com",
                &format!("http://127.0.0.1:{}", self.release.port),
            )
            .replace("/usr/local/bin", &self.bin.to_string_lossy())
    }

    fn sh(&self, shell: &str, script: &str) -> crate::common::Run {
        let out = Command::new(shell)
            .arg("-c")
            .arg(self.localize(script))
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        crate::common::finish(out)
    }

    /// The runs on the history branch of `origin`.
    fn recorded(&self) -> usize {
        let files = Command::new("git")
            .args(["ls-tree", "-r", "--name-only", "qod-history", "runs/"])
            .current_dir(&self.origin)
            .output()
            .unwrap();
        String::from_utf8_lossy(&files.stdout).lines().count()
    }

    fn decision(&self, file: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(file)).unwrap()).unwrap()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The action's steps, as the runner runs them: `inputs` as the step's
/// `env:` maps them.
fn run_action(w: &Workspace, with: &Value, expressions: &[(&str, &str)]) -> crate::common::Run {
    let action = yaml("action.yml");
    let mut run = None;
    for step in action["runs"]["steps"].as_array().unwrap() {
        let mut env: Vec<(String, String)> = Vec::new();
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            let v = v.as_str().unwrap();
            let value = match v
                .strip_prefix("${{ inputs.")
                .and_then(|r| r.strip_suffix(" }}"))
            {
                Some(input) => match with.get(input) {
                    Some(x) => {
                        let x = x
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string());
                        expressions
                            .iter()
                            .find(|(e, _)| x == *e)
                            .map_or(x.clone(), |(_, to)| to.to_string())
                    }
                    None => action["inputs"][input]["default"]
                        .as_str()
                        .unwrap_or("")
                        .replace("${{ github.token }}", "tok-readonly"),
                },
                None if v == "${{ github.action_ref }}" => format!("v{VERSION}"),
                None => v.to_owned(),
            };
            env.push((k.clone(), value));
        }
        let script = step["run"].as_str().unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .current_dir(&w.dir)
            .env_clear()
            .envs(w.env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("GITHUB_ACTION_PATH", repo());
        let r = crate::common::finish(cmd.output().unwrap());
        if r.code != 0 || step["id"] == "gate" {
            run = Some(r);
            break;
        }
    }
    run.unwrap()
}

fn github_workspace(ci_env: &str) -> Workspace {
    let mut w = Workspace::new(ci_env);
    let top = w.dir.parent().unwrap().to_owned();
    for (k, v) in [
        ("GITHUB_PATH", top.join("github_path")),
        ("GITHUB_OUTPUT", top.join("github_output")),
        ("GITHUB_STEP_SUMMARY", top.join("step_summary.md")),
        ("RUNNER_TEMP", top.join("runner_temp")),
        ("RUNNER_TOOL_CACHE", top.join("toolcache")),
    ] {
        w.set(k, &v.to_string_lossy());
    }
    std::fs::create_dir_all(top.join("runner_temp")).unwrap();
    // The tool cache the install step fills is on PATH for the gate step,
    // as `$GITHUB_PATH` makes it.
    let cached = top
        .join("toolcache/qod")
        .join(VERSION)
        .join(std::env::consts::ARCH);
    let path = w.env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
    w.set("PATH", &format!("{}:{path}", cached.display()));
    // No comment reaches the real API: a closed port stands for it.
    w.set("GITHUB_API_URL", "http://127.0.0.1:9");
    w
}

#[test]
fn github_workflow_keeps_history_on_a_branch_and_a_fork_records_nothing() {
    let wf = yaml("examples/github-workflow.yml");
    assert_eq!(wf["permissions"]["contents"], "write");
    let with = wf["jobs"]["gate"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "qod")
        .unwrap()["with"]
        .clone();
    assert_eq!(with["store"], "git:qod-history");
    let args = with["args"].as_str().unwrap();
    // A push, then another: the second compares with the first.
    let w = github_workspace("ci/github-push.env");
    for n in 1..=2 {
        let r = run_action(&w, &with, &[(args, "")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(w.recorded(), n);
    }
    let out = std::fs::read_to_string(w.dir.parent().unwrap().join("github_output")).unwrap();
    assert!(out.contains("decision=pass"), "{out}");
    let d = w.decision(
        &w.dir
            .parent()
            .unwrap()
            .join("runner_temp/qod-decision.json"),
    );
    assert_eq!(d["store"]["recorded"], true);
    // A push has no base to compare with: the side-by-side objective is
    // reported without effect, its command's time recorded as history.
    let speed = &d["objectives"][1];
    assert_eq!(
        (speed["status"].as_str(), speed["effect"].as_str()),
        (Some("no_baseline"), Some("none")),
        "{speed:#}"
    );
    assert_eq!(d["decision"], "pass");

    // A pull request from a fork: the expression gives `--no-record`; the
    // comment cannot be written and goes to the job summary; the job passes.
    let mut w2 = github_workspace("ci/github-pull-request.env");
    w2.set("GITHUB_TOKEN", "tok-readonly");
    let r = run_action(&w2, &with, &[(args, "--no-record")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(w2.recorded(), 0);
    assert!(
        r.stderr
            .contains("qod could not comment on the pull request"),
        "{}",
        r.stderr
    );
    let summary =
        std::fs::read_to_string(w2.dir.parent().unwrap().join("step_summary.md")).unwrap();
    assert!(summary.contains("> qod could not comment"), "{summary}");
}

#[test]
fn github_s3_workflow_records_to_s3() {
    let wf = yaml("examples/github-workflow-s3.yml");
    assert_eq!(wf["permissions"]["id-token"], "write");
    let steps = wf["jobs"]["gate"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials"))));
    let with = steps.iter().find(|s| s["id"] == "qod").unwrap()["with"].clone();
    let store = with["store"].as_str().unwrap();
    let bucket = store.trim_start_matches("s3://").split('/').next().unwrap();
    let moto = crate::s3::Moto::start();
    crate::s3::create_bucket(&moto.endpoint(), bucket);
    // What configure-aws-credentials leaves in the environment.
    let mut w = github_workspace("ci/github-push.env");
    for (k, v) in crate::s3::aws_env(&moto.endpoint()) {
        w.set(&k, &v);
    }
    let r = run_action(&w, &with, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = w.decision(
        &w.dir
            .parent()
            .unwrap()
            .join("runner_temp/qod-decision.json"),
    );
    assert_eq!(d["store"]["recorded"], true, "{d:#}");
    assert_eq!(d["store"]["location"], store);
}

#[test]
fn gitlab_example_installs_gates_a_merge_request_and_keeps_history_on_a_branch() {
    let ci = yaml("examples/.gitlab-ci.yml");
    let job = &ci["qod-gate"];
    let mut w = Workspace::new("ci/gitlab-merge-request.env");
    for (k, v) in job["variables"].as_object().unwrap() {
        w.set(k, v.as_str().unwrap());
    }
    // The request's branch, one commit past `main`.
    let main = git(&w.dir, &["rev-parse", "HEAD"]);
    git(&w.dir, &["checkout", "-q", "-b", "feature/faster-sort"]);
    git(&w.dir, &["commit", "-q", "--allow-empty", "-m", "faster"]);
    let head = git(&w.dir, &["rev-parse", "HEAD"]);
    w.set("CI_COMMIT_SHA", &head);
    let script = [strings(&job["before_script"]), strings(&job["script"])]
        .concat()
        .join("\n");
    let r = w.sh("sh", &format!("set -e\n{script}"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("installed qod {VERSION}")),
        "{}",
        r.stderr
    );
    assert_eq!(w.recorded(), 1);
    for f in ["qod-junit.xml", "qod-summary.md", "qod-decision.json"] {
        assert!(w.dir.join(f).is_file(), "{f}");
    }
    // Judged side by side with its merge-base.
    let d = w.decision(Path::new("qod-decision.json"));
    let c = &d["objectives"][1]["comparison"];
    assert_eq!(
        c["base_revision"],
        main.as_str(),
        "{:#}",
        d["objectives"][1]
    );
    assert!(c["pairs"].as_u64().unwrap() >= 1, "{c:#}");
    // The after_script's comment: no token here, so it says why, puts the
    // summary in the job log, and fails nothing.
    w.set("CI_API_V4_URL", "http://127.0.0.1:9/api/v4");
    w.set("CI_PROJECT_ID", "4242");
    let after = strings(&job["after_script"]).join("\n");
    let r = w.sh("sh", &format!("set -e\n{after}"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("qod could not comment on the merge request: `QOD_GITLAB_TOKEN` is not set"),
        "{}",
        r.stderr
    );
}

#[test]
fn jenkins_example_installs_gates_and_fails_a_failed_gate() {
    let text = std::fs::read_to_string(repo().join("examples/Jenkinsfile")).unwrap();
    let commands: Vec<&str> = text
        .split("sh '")
        .skip(1)
        .map(|r| r.split('\'').next().unwrap())
        .collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(text.contains("testResults: 'qod-junit.xml'"));
    let mut w = Workspace::new("ci/jenkins-multibranch.env");
    // The pipeline's `environment` block.
    let install = w.dir.join(".qod/bin");
    let path = w.env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
    w.set("QOD_INSTALL_DIR", &install.to_string_lossy());
    w.set("PATH", &format!("{}:{path}", install.display()));
    w.set("QOD_STORE", "git:qod-history");
    for c in &commands {
        let r = w.sh("sh", c);
        assert_eq!(r.code, 0, "{c}: {}", r.stderr);
    }
    assert_eq!(w.recorded(), 1);
    assert!(w.dir.join("qod-junit.xml").is_file());
    // A failing gate fails the stage.
    std::fs::write(w.dir.join("qod.yaml"), policy(90.0)).unwrap();
    let r = w.sh("sh", commands[1]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(w.recorded(), 2);
}

#[test]
fn codebuild_example_installs_gates_and_exports_the_decision() {
    let spec = yaml("examples/buildspec.yml");
    let mut w = Workspace::new("ci/codebuild-push.env");
    // The history is S3's in the example; a local directory here.
    w.set("QOD_STORE", ".qod/store");
    let install = strings(&spec["phases"]["install"]["commands"]).join("\n");
    let build: Vec<String> = strings(&spec["phases"]["build"]["commands"])
        .into_iter()
        .filter(|c| c != "./build.sh")
        .collect();
    let r = w.sh(
        "sh",
        &format!(
            "set -e\n{install}\n{}\nenv | grep '^QOD_' | sort",
            build.join("\n")
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("installed qod {VERSION}")),
        "{}",
        r.stderr
    );
    for var in strings(&spec["env"]["exported-variables"]) {
        assert!(r.stdout.contains(&format!("{var}=")), "{var}: {}", r.stdout);
    }
    assert!(w.dir.join("qod-junit.xml").is_file());
}
