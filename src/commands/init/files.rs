//! The files `qod init` writes: the policy for a harness, and the pipeline
//! for a CI that runs it on requests (side by side) and on pushes to the
//! default branch (history), with the history on a git branch.

use super::detect::{Ci, Harness};

/// How a harness runs under qod.
pub struct Suite {
    pub harness: Harness,
    /// What runs it on each side, writing `path`.
    pub run: String,
    pub path: &'static str,
    pub format: &'static str,
    /// The metrics the objective judges.
    pub metric: &'static str,
    /// What builds a side before its pairs (`compare.prepare`).
    pub prepare: Option<&'static str>,
}

impl Suite {
    /// The suite of `harness`; `hyperfine` repeats the project's own
    /// command line, when it has one.
    /// `tests`: the folder pytest collects from, when known.
    pub fn of(harness: Harness, hyperfine_line: Option<&str>, tests: Option<&str>) -> Suite {
        let (run, path, format, metric, prepare) = match harness {
            Harness::PytestBenchmark => (
                format!(
                    "python -m pytest -q -p no:cacheprovider --benchmark-only --benchmark-json=qod-bench.json --benchmark-min-rounds=20 --benchmark-max-time=0.1 --benchmark-timer=time.process_time{}",
                    tests.map(|t| format!(" {t}")).unwrap_or_default()
                ),
                "qod-bench.json",
                "pytest-benchmark",
                "bench.*#min",
                None,
            ),
            Harness::Criterion => (
                "cargo bench -q -- --noplot".to_owned(),
                "target/criterion",
                "criterion",
                "bench.*#median",
                Some("cargo bench --no-run -q"),
            ),
            Harness::Libtest => (
                "cargo bench -q > qod-bench.txt".to_owned(),
                "qod-bench.txt",
                "libtest",
                "bench.*",
                Some("cargo bench --no-run -q"),
            ),
            Harness::Go => (
                "go test -run '^$' -bench . -benchmem -count 1 ./... > qod-bench.txt".to_owned(),
                "qod-bench.txt",
                "go-test",
                "bench.*",
                Some("go build ./..."),
            ),
            Harness::GoogleBenchmark => (
                // The benchmark binary's name is the project's: edit it here.
                "./build/benchmarks --benchmark_format=json --benchmark_out=qod-bench.json".to_owned(),
                "qod-bench.json",
                "google-benchmark",
                "bench.*",
                Some("cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build"),
            ),
            Harness::Jmh => (
                "java -jar target/benchmarks.jar -rf json -rff qod-bench.json".to_owned(),
                "qod-bench.json",
                "jmh",
                "bench.*",
                Some("mvn -q -DskipTests package"),
            ),
            Harness::Hyperfine => (
                format!(
                    "{} --export-json qod-bench.json",
                    hyperfine_line.unwrap_or("hyperfine 'make'")
                ),
                "qod-bench.json",
                "hyperfine",
                "bench.*",
                None,
            ),
        };
        Suite {
            harness,
            run,
            path,
            format,
            metric,
            prepare,
        }
    }
}

/// YAML's double-quoted form of `s`.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// `qod.yaml` for `suite`, explained line by line.
pub fn policy(suite: &Suite, because: &str, tolerance: &str) -> String {
    let prepare = suite
        .prepare
        .map(|p| {
            format!(
                "  # Builds each side once, before its pairs.\n  prepare: {}\n",
                quoted(p)
            )
        })
        .unwrap_or_default();
    format!(
        r#"# Written by `qod init` for a {harness} suite ({because}).
#
# A pull (merge) request: the suite runs on its base (the merge-base,
# checked out in a git worktree) and on the change, alternately, on the
# same runner, and every benchmark is judged side by side: it may be at
# most {tol_words} slower (`pass: "{tolerance}"`, qod init's default; change
# it below). A push to the default branch records the same measurements as
# history (`qod history`, `qod trend`, `qod report`).
version: 1
plugins:
  bench:
    uses: bench-import
    with:
      run: {run}
      path: {path}
      format: {format}
compare:
  base: {{ revision: merge-base }}
{prepare}objectives:
  - id: benchmarks
    metric: "{metric}"
    against: base
    pass: "{tolerance}"
"#,
        harness = suite.harness.name(),
        tol_words = tolerance
            .trim_start_matches("<=")
            .trim()
            .trim_start_matches('+'),
        run = quoted(&suite.run),
        path = suite.path,
        format = suite.format,
        metric = suite.metric,
    )
}

/// The steps that install the harness's toolchain and dependencies, as
/// shell lines.
fn install(h: Harness, requirements: &[String]) -> Vec<String> {
    match h {
        Harness::PytestBenchmark => {
            let mut line = "python -m pip install pytest pytest-benchmark".to_owned();
            for r in requirements {
                line.push_str(&format!(" -r {r}"));
            }
            vec![line]
        }
        Harness::Criterion | Harness::Libtest | Harness::Go | Harness::Jmh => Vec::new(),
        Harness::GoogleBenchmark => {
            vec!["command -v cmake || (apt-get update && apt-get install -y cmake g++)".into()]
        }
        Harness::Hyperfine => {
            vec!["command -v hyperfine || (apt-get update && apt-get install -y hyperfine)".into()]
        }
    }
}

/// What qod's install script line is, everywhere but GitHub (its action).
const INSTALL_QOD: &str =
    "command -v qod || curl -fsSL https://github.com/example/qod/releases/latest/download/install.sh | QOD_INSTALL_DIR=/usr/local/bin sh";

/// The pipeline file for `ci`: its path and text.
pub fn pipeline(
    ci: Ci,
    h: Harness,
    default_branch: &str,
    requirements: &[String],
    taken: impl Fn(&str) -> bool,
) -> (String, String) {
    let installs = install(h, requirements);
    match ci {
        Ci::Github => {
            let setup = match h {
                Harness::PytestBenchmark => "      - uses: actions/setup-python@v5\n        with:\n          python-version: \"3.12\"\n",
                Harness::Go => "      - uses: actions/setup-go@v5\n        with:\n          go-version: stable\n",
                Harness::Jmh => "      - uses: actions/setup-java@v4\n        with:\n          distribution: temurin\n          java-version: \"21\"\n",
                _ => "",
            };
            let runs: String = installs
                .iter()
                .map(|l| format!("      - run: {}\n", quoted(l)))
                .collect();
            (
                ".github/workflows/qod.yml".into(),
                format!(
                    r#"# Written by `qod init`: gate every pull request side by side with its
# merge-base, and record the benchmarks as history on pushes to
# `{default_branch}`, on the `qod-history` branch of this repository.
name: qod
on:
  push:
    branches: [{default_branch}]
  pull_request:
permissions:
  contents: write        # push the runs to the history branch
  pull-requests: write   # the pull request's comment
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0   # the merge-base, for the side-by-side comparison
{setup}{runs}      - id: qod
        uses: example/qod@v0.1.0
        with:
          store: git:qod-history
          comment: true
          # A fork's pull request gets a read-only token: it compares, and
          # records nothing.
          args: ${{{{ github.event.pull_request.head.repo.fork && '--no-record' || '' }}}}
"#
                ),
            )
        }
        Ci::Gitlab => {
            let image = match h {
                Harness::PytestBenchmark => "python:3.12",
                Harness::Criterion | Harness::Libtest => "rust:1",
                Harness::Go => "golang:1",
                Harness::Jmh => "maven:3-eclipse-temurin-21",
                _ => "buildpack-deps:bookworm",
            };
            let path = if taken(".gitlab-ci.yml") {
                "qod.gitlab-ci.yml"
            } else {
                ".gitlab-ci.yml"
            };
            let mut before = vec![INSTALL_QOD.to_owned()];
            before.extend(installs);
            let before: String = before
                .iter()
                .map(|l| format!("    - {}\n", quoted(l)))
                .collect();
            (
                path.into(),
                format!(
                    r#"# Written by `qod init`: gate merge requests side by side with their
# merge-base, and record the benchmarks as history on the default branch,
# on the `qod-history` branch of this project (allow the job token to push:
# Settings → CI/CD → Job token permissions). The comment needs a project
# access token with the `api` scope in the masked variable QOD_GITLAB_TOKEN.
qod-gate:
  stage: test
  image: {image}
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  variables:
    GIT_DEPTH: "0"
    QOD_STORE: git:qod-history
  before_script:
{before}  script:
    - qod run --junit qod-junit.xml --markdown qod-summary.md --out qod-decision.json
  after_script:
    - qod gitlab comment --decision qod-decision.json --markdown qod-summary.md || true
  artifacts:
    when: always
    reports:
      junit: qod-junit.xml
    paths:
      - qod-decision.json
      - qod-summary.md
"#
                ),
            )
        }
        Ci::Codebuild => {
            let runtime = match h {
                Harness::PytestBenchmark => "        python: 3.12\n",
                Harness::Go => "        golang: 1.22\n",
                Harness::Jmh => "        java: corretto21\n",
                _ => "",
            };
            let runtime = if runtime.is_empty() {
                String::new()
            } else {
                format!("    runtime-versions:\n{runtime}")
            };
            let mut lines = vec![INSTALL_QOD.to_owned()];
            lines.extend(installs);
            let lines: String = lines
                .iter()
                .map(|l| format!("      - {}\n", quoted(l)))
                .collect();
            let path = if taken("buildspec.yml") {
                "buildspec-qod.yml"
            } else {
                "buildspec.yml"
            };
            (
                path.into(),
                format!(
                    r#"# Written by `qod init`: gate a pull request build side by side with its
# merge-base, and record the benchmarks as history on pushes to
# `{default_branch}`, on the `qod-history` branch of the repository (the
# project's source credentials must allow a push; else set QOD_STORE to
# s3://bucket/prefix). Give the project a full clone (git-clone-depth: 0).
version: 0.2
env:
  variables:
    QOD_STORE: git:qod-history
phases:
  install:
{runtime}    commands:
{lines}  build:
    commands:
      - qod run --junit qod-junit.xml --out qod-decision.json
reports:
  qod-gate:
    files:
      - qod-junit.xml
    file-format: JUNITXML
artifacts:
  files:
    - qod-decision.json
"#
                ),
            )
        }
        Ci::Jenkins => {
            let mut lines = vec![INSTALL_QOD.replace(" QOD_INSTALL_DIR=/usr/local/bin", "")];
            lines.extend(installs);
            let lines: String = lines
                .iter()
                .map(|l| {
                    format!(
                        "        sh '{}'\n",
                        l.replace('\\', "\\\\").replace('\'', "\\'")
                    )
                })
                .collect();
            let path = if taken("Jenkinsfile") {
                "Jenkinsfile.qod"
            } else {
                "Jenkinsfile"
            };
            (
                path.into(),
                format!(
                    r#"// Written by `qod init`: gate a change request (multibranch CHANGE_ID)
// side by side with its merge-base, and record the benchmarks as history
// on branch builds, on the `qod-history` branch of the repository (pushed
// with the credentials `git-push`, a username and token).
pipeline {{
  agent any
  environment {{
    QOD_INSTALL_DIR = "${{WORKSPACE}}/.qod/bin"
    PATH = "${{WORKSPACE}}/.qod/bin:${{PATH}}"
    QOD_STORE = 'git:qod-history'
  }}
  stages {{
    stage('Install') {{
      steps {{
{lines}      }}
    }}
    stage('Gate') {{
      steps {{
        withCredentials([gitUsernamePassword(credentialsId: 'git-push')]) {{
          sh 'qod run --junit qod-junit.xml --out qod-decision.json'
        }}
      }}
    }}
  }}
  post {{
    always {{
      junit allowEmptyResults: false, testResults: 'qod-junit.xml'
      archiveArtifacts artifacts: 'qod-decision.json'
    }}
  }}
}}
"#
                ),
            )
        }
    }
}
