//! What `qod init` finds in a project: its benchmark harnesses, each with
//! the file that gave it away, and its CI.

use std::path::Path;

/// A benchmark harness qod can run and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Harness {
    PytestBenchmark,
    Criterion,
    Libtest,
    Go,
    GoogleBenchmark,
    Jmh,
    Hyperfine,
}

impl Harness {
    pub fn name(self) -> &'static str {
        match self {
            Harness::PytestBenchmark => "pytest-benchmark",
            Harness::Criterion => "criterion",
            Harness::Libtest => "libtest",
            Harness::Go => "go",
            Harness::GoogleBenchmark => "google-benchmark",
            Harness::Jmh => "jmh",
            Harness::Hyperfine => "hyperfine",
        }
    }
}

/// A CI qod writes a pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    Github,
    Gitlab,
    Codebuild,
    Jenkins,
}

impl Ci {
    pub fn name(self) -> &'static str {
        match self {
            Ci::Github => "GitHub Actions",
            Ci::Gitlab => "GitLab CI",
            Ci::Codebuild => "CodeBuild",
            Ci::Jenkins => "Jenkins",
        }
    }
}

/// Something found, and why it was taken for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub what: T,
    pub because: String,
    /// The file that gave it away, relative to the project.
    pub file: Option<String>,
}

fn read(dir: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(rel)).ok()
}

/// Files under `dir` (not into hidden folders, `target`, `node_modules`
/// or virtual environments), at most `depth` folders down.
fn files(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if path.is_dir() {
            let skip = name.starts_with('.')
                || [
                    "target",
                    "node_modules",
                    "venv",
                    "build",
                    "dist",
                    "__pycache__",
                ]
                .contains(&name.as_str());
            if depth > 0 && !skip {
                files(&path, depth - 1, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).display().to_string()
}

/// The harnesses of the project in `dir`, in a stable order.
pub fn harnesses(dir: &Path) -> Vec<Found<Harness>> {
    let mut all = Vec::new();
    files(dir, 4, &mut all);
    let text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut out = Vec::new();
    // pytest-benchmark: the dependency, and a test using its fixture.
    let dep = [
        "pyproject.toml",
        "requirements.txt",
        "requirements-dev.txt",
        "setup.cfg",
        "setup.py",
    ]
    .iter()
    .find(|f| read(dir, f).is_some_and(|t| t.contains("pytest-benchmark")));
    let fixture = all.iter().find(|p| {
        let n = p.file_name().unwrap_or_default().to_string_lossy();
        n.ends_with(".py") && (n.starts_with("test_") || n.ends_with("_test.py")) && {
            let t = text(p);
            t.contains("(benchmark)") || t.contains("(benchmark,") || t.contains(", benchmark)")
        }
    });
    if let Some(f) = fixture {
        out.push(Found {
            what: Harness::PytestBenchmark,
            file: Some(rel(dir, f)),
            because: match dep {
                Some(d) => format!(
                    "`{d}` names pytest-benchmark and `{}` uses its `benchmark` fixture",
                    rel(dir, f)
                ),
                None => format!(
                    "`{}` uses pytest-benchmark's `benchmark` fixture",
                    rel(dir, f)
                ),
            },
        });
    }
    // Rust: criterion in Cargo.toml, else `#[bench]` under benches/.
    if let Some(cargo) = read(dir, "Cargo.toml") {
        if cargo.contains("criterion") {
            out.push(Found {
                what: Harness::Criterion,
                file: None,
                because: "`Cargo.toml` depends on criterion".into(),
            });
        } else if let Some(b) = all
            .iter()
            .find(|p| rel(dir, p).starts_with("benches") && text(p).contains("#[bench]"))
        {
            out.push(Found {
                what: Harness::Libtest,
                file: None,
                because: format!("`{}` has `#[bench]` functions", rel(dir, b)),
            });
        }
    }
    // Go: `func Benchmark…` in a `_test.go` file.
    if let Some(g) = all
        .iter()
        .find(|p| p.to_string_lossy().ends_with("_test.go") && text(p).contains("func Benchmark"))
    {
        out.push(Found {
            what: Harness::Go,
            file: None,
            because: format!("`{}` has `func Benchmark…`", rel(dir, g)),
        });
    }
    // Google Benchmark: CMake linking `benchmark::benchmark`.
    if let Some(c) = all.iter().find(|p| {
        p.file_name().is_some_and(|n| n == "CMakeLists.txt") && {
            let t = text(p);
            t.contains("benchmark::benchmark") || t.contains("find_package(benchmark")
        }
    }) {
        out.push(Found {
            what: Harness::GoogleBenchmark,
            file: None,
            because: format!("`{}` uses Google Benchmark", rel(dir, c)),
        });
    }
    // JMH: Maven or Gradle naming jmh.
    if let Some(b) = ["pom.xml", "build.gradle", "build.gradle.kts"]
        .iter()
        .find(|f| read(dir, f).is_some_and(|t| t.contains("jmh")))
    {
        out.push(Found {
            what: Harness::Jmh,
            file: None,
            because: format!("`{b}` names JMH"),
        });
    }
    // hyperfine in a script.
    if let Some(s) = all.iter().find(|p| {
        let n = p.to_string_lossy();
        (n.ends_with(".sh") || n.ends_with("Makefile") || n.ends_with("justfile"))
            && text(p).contains("hyperfine ")
    }) {
        out.push(Found {
            what: Harness::Hyperfine,
            file: None,
            because: format!("`{}` runs hyperfine", rel(dir, s)),
        });
    }
    out
}

/// The CI the project in `dir` uses, by its files.
pub fn ci(dir: &Path) -> Option<Found<Ci>> {
    let found = |what, because: &str| {
        Some(Found {
            what,
            because: because.to_owned(),
            file: None,
        })
    };
    if dir.join(".github/workflows").is_dir() {
        return found(Ci::Github, "`.github/workflows/` exists");
    }
    if dir.join(".gitlab-ci.yml").is_file() {
        return found(Ci::Gitlab, "`.gitlab-ci.yml` exists");
    }
    if dir.join("buildspec.yml").is_file() {
        return found(Ci::Codebuild, "`buildspec.yml` exists");
    }
    if dir.join("Jenkinsfile").is_file() {
        return found(Ci::Jenkins, "`Jenkinsfile` exists");
    }
    None
}
