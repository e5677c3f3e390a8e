//! The CI examples in `examples/` and `action.yml`: parsed, and their qod
//! commands run here with a provider's environment fixture.

use crate::ci::read_env;
use crate::common::{emit_policy, fixture, repo, Scratch};
use serde_json::Value;
use std::process::Command;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A scratch folder with a passing (or failing) gate, the provider's
/// variables, a local store and the `qod` under test first on PATH.
fn gate(provider_env: &str, duration: f64) -> Scratch {
    let mut s = Scratch::new();
    for (k, v) in read_env(&fixture(provider_env)) {
        s = s.env(&k, &v);
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_qod"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    s = s.env("PATH", &path).env("QOD_STORE", ".qod/store");
    s.policy(&emit_policy(
        &[("build", "duration", duration)],
        "  - { id: build-time, metric: build.duration, pass: \"<= 60s\" }\n",
    ));
    s
}

fn sh(s: &Scratch, shell: &str, script: &str) -> crate::common::Run {
    let mut cmd = Command::new(shell);
    cmd.arg("-c")
        .arg(script)
        .current_dir(s.path())
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)));
    crate::common::finish(cmd.output().unwrap())
}

fn commands(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn buildspec_exports_the_decision_and_fails_a_failed_gate() {
    let spec = yaml("examples/buildspec.yml");
    assert_eq!(spec["version"], 0.2);
    assert_eq!(spec["reports"]["qod-gate"]["file-format"], "JUNITXML");
    let exported = commands(&spec["env"]["exported-variables"]);
    // The build's commands after the project's own build step, in one shell as CodeBuild runs them.
    let build: Vec<String> = commands(&spec["phases"]["build"]["commands"])
        .into_iter()
        .filter(|c| c != "./build.sh")
        .collect();
    // CodeBuild stops a phase at its first failing command.
    let script = format!("set -e\n{}\nenv | grep '^QOD_' | sort", build.join("\n"));
    for (duration, ok) in [(40.0, true), (90.0, false)] {
        let s = gate("ci/codebuild-push.env", duration);
        let r = sh(&s, "sh", &script);
        assert_eq!(r.code == 0, ok, "{}\n{}", r.stdout, r.stderr);
        if ok {
            for var in &exported {
                assert!(
                    r.stdout.contains(&format!("{var}=")),
                    "{var} is not set: {}",
                    r.stdout
                );
            }
        }
        assert!(s.path().join("qod-junit.xml").is_file());
    }
}

#[test]
fn action_yml_runs_the_gate_and_sets_outputs() {
    let action = yaml("action.yml");
    for input in ["policy", "store", "strict", "args"] {
        assert!(action["inputs"][input].is_object(), "input {input}");
    }
    for output in ["decision", "score"] {
        assert!(action["outputs"][output]["value"]
            .as_str()
            .unwrap()
            .contains("steps.gate.outputs"));
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    let gate_step = steps.iter().find(|st| st["id"] == "gate").unwrap();
    let s = gate("ci/github-push.env", 40.0);
    let dir = s.path().to_owned();
    let outputs = dir.join("outputs.txt");
    let s = s
        .env("GITHUB_OUTPUT", &outputs.to_string_lossy())
        .env(
            "GITHUB_STEP_SUMMARY",
            &dir.join("summary.md").to_string_lossy(),
        )
        .env("RUNNER_TEMP", &dir.to_string_lossy())
        .env("QOD_POLICY", "qod.yaml")
        .env("QOD_STRICT", "false")
        .env("QOD_ARGS", "--no-record");
    let r = sh(&s, "bash", gate_step["run"].as_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = std::fs::read_to_string(outputs).unwrap();
    assert!(
        out.starts_with("decision=pass\nscore=100\nfailed=\n"),
        "{out}"
    );
    assert!(s.path().join("qod-decision.json").is_file());
}

#[test]
fn gitlab_commands_write_their_reports() {
    let ci = yaml("examples/.gitlab-ci.yml");
    let job = &ci["qod-gate"];
    assert_eq!(job["artifacts"]["reports"]["junit"], "qod-junit.xml");
    let run = commands(&job["script"])
        .into_iter()
        .find(|c| c.starts_with("qod run"))
        .unwrap();
    let s = gate("ci/gitlab-merge-request.env", 40.0);
    let r = sh(&s, "sh", &run);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.path().join("qod-junit.xml").is_file() && s.path().join("qod-summary.md").is_file());
}

#[test]
fn custom_action_type_names_the_worker_configuration() {
    let text =
        std::fs::read_to_string(repo().join("examples/codepipeline/custom-action-type.json"))
            .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            v["category"].as_str(),
            v["provider"].as_str(),
            v["version"].as_str()
        ),
        (Some("Test"), Some("QoD"), Some("1"))
    );
    let names: Vec<&str> = v["configurationProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let config: std::collections::HashMap<String, String> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                if *n == "Strict" {
                    "true".into()
                } else {
                    format!("{n}-value")
                },
            )
        })
        .collect();
    let job = qod::ci::codepipeline::JobConfig::from_configuration(&config);
    assert_eq!(job.policy.as_deref(), Some("Policy-value"));
    assert_eq!(job.store.as_deref(), Some("Store-value"));
    assert!(job.strict);
}

/// A gate of four instances, for the fan-out examples to spread.
fn four_instance_gate(provider_env: &str) -> Scratch {
    let s = gate(provider_env, 40.0);
    s.policy(&emit_policy(
        &[
            ("a", "duration", 10.0),
            ("b", "size", 42.0),
            ("c", "p95", 30.0),
            ("d", "merged", 0.0),
        ],
        "  - { id: a, metric: a.duration, pass: \"<= 60s\" }\n  - { id: b, metric: b.size, pass: \"< 100B\" }\n  - { id: c, metric: c.p95, pass: \"< 50ms\" }\n  - { id: d, metric: d.merged, pass: \"== 0\" }\n",
    ));
    s
}

/// The combined decision in `qod-decision.json`: every instance from the
/// part that ran it.
fn assert_combined(s: &Scratch, parts: usize) {
    let d: Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("qod-decision.json")).unwrap())
            .unwrap();
    assert_eq!(d["decision"], "pass", "{d:#}");
    assert_eq!(d["run"]["parts"].as_array().unwrap().len(), parts, "{d:#}");
    assert!(d["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "ok" && p["part"].is_string()));
}

/// `sh` with more variables, as one job of a matrix or batch has.
fn sh_with(s: &Scratch, extra: &[(&str, &str)], shell: &str, script: &str) -> crate::common::Run {
    let mut cmd = Command::new(shell);
    cmd.arg("-c")
        .arg(script)
        .current_dir(s.path())
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .envs(extra.iter().copied());
    crate::common::finish(cmd.output().unwrap())
}

#[test]
fn codebuild_batch_example_runs_four_shards_then_combines() {
    let spec = yaml("examples/fan-out/buildspec-batch.yml");
    let graph = spec["batch"]["build-graph"].as_array().unwrap();
    assert_eq!(
        graph.last().unwrap()["depend-on"].as_array().unwrap().len(),
        4
    );
    let script = format!(
        "set -e\n{}",
        commands(&spec["phases"]["build"]["commands"]).join("\n")
    );
    let s = four_instance_gate("ci/codebuild-push.env");
    // The builds in the graph's order: the shards, then the combine.
    for build in graph {
        let shard = build["env"]["variables"]["QOD_SHARD"].as_str().unwrap();
        let r = sh_with(&s, &[("QOD_SHARD", shard)], "sh", &script);
        assert_eq!(r.code, 0, "{shard}: {}", r.stderr);
    }
    assert_combined(&s, 4);
    let exported = std::fs::read_to_string(s.path().join("qod.env")).unwrap();
    assert!(exported.contains("QOD_DECISION=pass"), "{exported}");
    assert!(s.path().join("qod-junit.xml").is_file());
}

#[test]
fn github_matrix_example_runs_four_shards_then_combines() {
    let wf = yaml("examples/fan-out/github-matrix.yml");
    let gate_step = crate::common::action_step("gate");
    let qod_step = |job: &str| {
        wf["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["uses"].as_str().is_some_and(|u| u.contains("/qod@")))
            .unwrap()["with"]
            .clone()
    };
    let s = four_instance_gate("ci/github-push.env");
    let dir = s.path().to_owned();
    let inputs = |with: &Value, extra: &str| {
        let mut v = vec![
            (
                "GITHUB_OUTPUT".to_owned(),
                dir.join("out.txt").display().to_string(),
            ),
            ("RUNNER_TEMP".to_owned(), dir.display().to_string()),
            ("QOD_POLICY".to_owned(), String::new()),
            ("QOD_STRICT".to_owned(), "false".to_owned()),
            ("QOD_STORE".to_owned(), ".qod/store".to_owned()),
            (
                "QOD_COMMAND".to_owned(),
                with["command"].as_str().unwrap_or("run").to_owned(),
            ),
        ];
        v.push(("QOD_ARGS".to_owned(), extra.to_owned()));
        v
    };
    let bench = qod_step("bench");
    let shards = wf["jobs"]["bench"]["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .clone();
    for shard in &shards {
        let args = bench["args"]
            .as_str()
            .unwrap()
            .replace("${{ matrix.shard }}", &shard.to_string());
        let env = inputs(&bench, &args);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = sh_with(&s, &env, "bash", &gate_step);
        assert_eq!(r.code, 0, "shard {shard}: {}", r.stderr);
    }
    let combine = qod_step("gate");
    assert_eq!(wf["jobs"]["gate"]["if"], "always()");
    let env = inputs(&combine, combine["args"].as_str().unwrap());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = sh_with(&s, &env, "bash", &gate_step);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_combined(&s, shards.len());
    // The combine step's outputs come last.
    let out = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    let last = out.lines().rfind(|l| l.starts_with("decision="));
    assert_eq!(last, Some("decision=pass"), "{out}");
}

#[test]
fn gitlab_parallel_example_runs_four_shards_then_combines() {
    let ci = yaml("examples/fan-out/gitlab-parallel.yml");
    let n = ci["qod-bench"]["parallel"].as_u64().unwrap();
    let s = four_instance_gate("ci/gitlab-merge-request.env");
    let bench = commands(&ci["qod-bench"]["script"]).join("\n");
    for k in 1..=n {
        let (k, n) = (k.to_string(), n.to_string());
        let r = sh_with(
            &s,
            &[("CI_NODE_INDEX", k.as_str()), ("CI_NODE_TOTAL", n.as_str())],
            "sh",
            &bench,
        );
        assert_eq!(r.code, 0, "{k}/{n}: {}", r.stderr);
    }
    let gate = commands(&ci["qod-gate"]["script"]).join("\n");
    let r = sh(&s, "sh", &gate);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_combined(&s, n as usize);
    assert!(s.path().join("qod-junit.xml").is_file());
}
