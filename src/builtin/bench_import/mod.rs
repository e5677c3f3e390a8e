//! `bench-import`: turns what benchmark harnesses already write into
//! metrics, one per benchmark and measure. A harness's main time measure is
//! named after the benchmark (`fib 20`); every other measure gets the
//! measure after a `#` (`fib 20#median`, `BenchmarkFib#allocs/op`). Each
//! metric carries its unit and direction, since they depend on the input.
//!
//! Size: the importer's core kept together (its config, the value a
//! harness gives, the run, reading, format detection and naming); each
//! harness's parser is in its own file.

mod json;
mod text;
mod valgrind;

use super::{Failure, Measured};
use crate::protocol::{Better, Context};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The formats `bench-import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Auto,
    Criterion,
    Libtest,
    Hyperfine,
    GoogleBenchmark,
    PytestBenchmark,
    GoTest,
    Jmh,
    K6,
    Bmf,
    Custom,
    Cachegrind,
    /// gungraun, and iai-callgrind before its rename.
    #[serde(alias = "iai-callgrind")]
    Gungraun,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Criterion => "criterion",
            Format::Libtest => "libtest",
            Format::Hyperfine => "hyperfine",
            Format::GoogleBenchmark => "google-benchmark",
            Format::PytestBenchmark => "pytest-benchmark",
            Format::GoTest => "go-test",
            Format::Jmh => "jmh",
            Format::K6 => "k6",
            Format::Bmf => "bmf",
            Format::Custom => "custom",
            Format::Cachegrind => "cachegrind",
            Format::Gungraun => "gungraun",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// A shell command run in the workspace on every invocation, before
    /// `path` is read: the harness measuring afresh.
    #[serde(default)]
    run: Option<String>,
    path: String,
    #[serde(default = "auto")]
    format: Format,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    better: Option<Better>,
    #[serde(default)]
    names: Names,
}

/// What names pytest-benchmark's results go by: the test's full node id
/// (`tests/test_text.py::test_slugify`, the default), its name alone
/// (`test_slugify`: a moved test file keeps its history), or its group
/// and name (`text/test_slugify`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
enum Names {
    #[default]
    #[serde(rename = "fullname")]
    Fullname,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "group/name")]
    GroupName,
}

fn auto() -> Format {
    Format::Auto
}

/// One value read from a harness's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Bench {
    /// The benchmark's name as the harness reports it.
    pub name: String,
    /// The measure, or `None` for the harness's main time measure.
    pub measure: Option<String>,
    pub value: f64,
    pub unit: Option<String>,
    pub better: Better,
    pub samples: Option<Vec<f64>>,
    /// What measured it, where counts of different instruments differ.
    pub instrument: Option<String>,
    /// Shorter names the harness gives too (pytest-benchmark: the test's
    /// own name and its group), for `with.names`.
    pub short: Option<(String, Option<String>)>,
}

impl Bench {
    pub fn new(name: impl Into<String>, value: f64, unit: &str, better: Better) -> Self {
        Bench {
            name: name.into(),
            measure: None,
            value,
            unit: (!unit.is_empty()).then(|| unit.to_owned()),
            better,
            samples: None,
            instrument: None,
            short: None,
        }
    }

    pub fn measure(mut self, m: impl Into<String>) -> Self {
        self.measure = Some(m.into());
        self
    }

    pub fn samples(mut self, s: Vec<f64>) -> Self {
        if !s.is_empty() && s.iter().all(|x| x.is_finite()) {
            self.samples = Some(s);
        }
        self
    }

    fn metric_name(&self, prefix: &str, names: Names) -> String {
        let name = match (names, &self.short) {
            (Names::Name, Some((name, _))) => name.clone(),
            (Names::GroupName, Some((name, Some(group)))) => format!("{group}/{name}"),
            (Names::GroupName, Some((name, None))) => name.clone(),
            _ => self.name.clone(),
        };
        match &self.measure {
            Some(m) => format!("{prefix}{name}#{m}"),
            None => format!("{prefix}{name}"),
        }
    }
}

/// Why an input could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

pub fn run(ctx: &Context) -> Result<Measured, Failure> {
    let config: Config = super::config(ctx)?;
    let workspace = super::workspace(ctx);
    let started = std::time::SystemTime::now();
    if let Some(cmd) = &config.run {
        run_harness(cmd, &workspace, ctx)?;
    }
    let files = inputs(&workspace, &config.path)?;
    if config.run.is_some() {
        // A file the run did not write is an earlier invocation's result.
        let stale: Vec<&PathBuf> = files
            .iter()
            .filter(|f| f.is_file())
            .filter(|f| {
                std::fs::metadata(f)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < started)
            })
            .collect();
        if !stale.is_empty() && stale.len() == files.len() {
            return Err(Failure::new(
                "stale-input",
                format!(
                    "`with.run` succeeded but did not write `{}` (it is older than this invocation): make the command write the harness's output there, or fix `with.path`",
                    config.path
                ),
            ));
        }
    }
    let mut benches = Vec::new();
    let mut formats = Vec::new();
    for file in &files {
        let (format, found) = read(file, config.format, config.better)
            .map_err(|e| Failure::new("unreadable-input", format!("`{}`: {e}", file.display())))?;
        if config.names != Names::Fullname && format != Format::PytestBenchmark {
            return Err(Failure::config(format!(
                "`with.names` applies to pytest-benchmark's output, and `{}` is {} output; leave `names` out",
                file.display(),
                format.name()
            )));
        }
        if !formats.contains(&format.name()) {
            formats.push(format.name());
        }
        benches.extend(found);
    }
    if benches.is_empty() {
        return Err(Failure::new(
            "no-benchmarks",
            format!(
                "`{}` held no benchmark results; check that the harness ran and wrote there",
                config.path
            ),
        ));
    }
    let mut m = Measured::default();
    let mut seen = std::collections::HashSet::new();
    for b in benches {
        if !b.value.is_finite() {
            continue;
        }
        let name = b.metric_name(&config.prefix, config.names);
        if !seen.insert(name.clone()) {
            return Err(Failure::new(
                "duplicate-benchmark",
                format!("two results are both named `{name}`; import the files one instance at a time, or give each a `with.prefix`"),
            ));
        }
        let metric = m.push(name, b.value, b.unit.as_deref());
        metric.better = Some(b.better);
        metric.samples = b.samples;
        metric.instrument = b.instrument;
    }
    m.summary = format!(
        "{} metric{} from {} file{} ({})",
        m.metrics.len(),
        if m.metrics.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        formats.join(", ")
    );
    Ok(m)
}

/// Runs `with.run` with `sh -c` in the workspace: its output goes to the
/// plugin's stderr (stdout carries the result); it ends with the plugin,
/// in its process group, under its timeout. `QOD_VARIANT` and `QOD_PAIR`
/// tell it which side and pair it measures, side by side.
fn run_harness(cmd: &str, workspace: &Path, ctx: &Context) -> Result<(), Failure> {
    let mut command = crate::supervise::Cmd::new("sh")
        .arg("-c")
        .arg(cmd)
        .cwd(workspace);
    if let Some(v) = &ctx.variant {
        command = command.env("QOD_VARIANT", v);
    }
    if let Some(p) = ctx.pair {
        command = command.env("QOD_PAIR", p.to_string());
    }
    let status = command.status_to_stderr().map_err(|e| {
        Failure::new(
            "run-failed",
            format!("`with.run` could not start `sh`: {e}"),
        )
    })?;
    if !status.success() {
        let how = match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(c), _) => format!("exited with {c}"),
            (None, Some(s)) => format!("was killed by signal {s}"),
            _ => "failed".to_owned(),
        };
        return Err(Failure::new(
            "run-failed",
            format!(
                "`with.run` {how} in `{}`; its output is above, on the plugin's stderr",
                workspace.display()
            ),
        ));
    }
    Ok(())
}

/// The files `path` names: a file, a glob, or a folder (a criterion output
/// folder is read as a whole).
fn inputs(workspace: &Path, path: &str) -> Result<Vec<PathBuf>, Failure> {
    let full = workspace.join(path);
    if full.is_file() || full.is_dir() {
        return Ok(vec![full]);
    }
    let pattern = full.to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = glob::glob(&pattern)
        .map_err(|e| Failure::config(format!("`with.path`: `{path}` is not a valid glob: {e}")))?
        .flatten()
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Failure::new(
            "no-input",
            format!(
                "`with.path`: nothing at `{}`; run the benchmarks before qod, or fix the path (relative to the workspace)",
                full.display()
            ),
        ));
    }
    Ok(files)
}

/// Reads one file or folder, detecting the format when asked.
pub fn read(
    path: &Path,
    format: Format,
    better: Option<Better>,
) -> Result<(Format, Vec<Bench>), ParseError> {
    if path.is_dir() {
        if !matches!(format, Format::Auto | Format::Criterion) {
            return Err(ParseError(format!(
                "is a folder, which only the `criterion` format reads; point `with.path` at the {} output file",
                format.name()
            )));
        }
        return json::criterion_dir(path).map(|b| (Format::Criterion, b));
    }
    let bytes = std::fs::read(path).map_err(|e| ParseError(format!("cannot read: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text, format, better)
}

/// Parses one document, detecting the format when asked.
pub fn parse(
    text: &str,
    format: Format,
    better: Option<Better>,
) -> Result<(Format, Vec<Bench>), ParseError> {
    let format = match format {
        Format::Auto => detect(text).ok_or_else(|| {
            let json = text.trim_start();
            if json.starts_with('{') || json.starts_with('[') {
                if let Err(e) = serde_json::from_str::<serde_json::Value>(json) {
                    return ParseError(format!(
                        "looks like JSON but does not parse ({e}); was the file cut short?"
                    ));
                }
            }
            ParseError(
                "is in no format qod recognises (criterion, libtest, hyperfine, google-benchmark, pytest-benchmark, go-test, jmh, k6, bmf, custom, cachegrind, gungraun); set `with.format` to get a precise error".into(),
            )
        })?,
        f => f,
    };
    let benches = match format {
        Format::Libtest => text::libtest(text),
        Format::GoTest => text::go_test(text),
        Format::Criterion => json::criterion_estimates(text, "estimates"),
        Format::Hyperfine => json::hyperfine(text),
        Format::GoogleBenchmark => json::google_benchmark(text),
        Format::PytestBenchmark => json::pytest_benchmark(text),
        Format::Jmh => json::jmh(text),
        Format::K6 => json::k6(text),
        Format::Bmf => json::bmf(text),
        Format::Custom => json::custom(text, better.unwrap_or(Better::Lower)),
        Format::Cachegrind => valgrind::cachegrind(text),
        Format::Gungraun if valgrind::is_gungraun_text(text) => valgrind::gungraun_text(text),
        Format::Gungraun => valgrind::gungraun_json(text),
        Format::Auto => unreachable!("resolved above"),
    }
    .map_err(|e| ParseError(format!("not valid {} output: {}", format.name(), e.0)))?;
    Ok((format, benches))
}

/// Guesses the format from the content.
pub fn detect(text: &str) -> Option<Format> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(v) if valgrind::is_gungraun_summary(&v) => Some(Format::Gungraun),
            Ok(serde_json::Value::Array(a))
                if a.first().is_some_and(valgrind::is_gungraun_summary) =>
            {
                Some(Format::Gungraun)
            }
            Ok(v) => json::detect(&v),
            // JSON lines: gungraun's `--output-format=json`.
            Err(_) => trimmed
                .lines()
                .next()
                .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(valgrind::is_gungraun_summary)
                .map(|_| Format::Gungraun),
        };
    }
    if valgrind::is_cachegrind(text) {
        return Some(Format::Cachegrind);
    }
    if valgrind::is_gungraun_text(text) {
        return Some(Format::Gungraun);
    }
    text::detect(text)
}

/// Unit names the harnesses write for times, in qod's spelling.
pub fn time_unit(u: &str) -> Option<&'static str> {
    Some(match u.trim() {
        "ns" | "nanoseconds" => "ns",
        "us" | "µs" | "μs" | "microseconds" => "us",
        "ms" | "milliseconds" => "ms",
        "s" | "sec" | "seconds" => "s",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_foreign_input_never_panics() {
        let docs = [
            r#"{"results":[{"command":"sleep 0.1","mean":0.1,"times":[0.1,0.2]}]}"#,
            r#"{"context":{},"benchmarks":[{"name":"a","run_name":"a","run_type":"iteration","real_time":1.5,"cpu_time":1.4,"time_unit":"ns"}]}"#,
            "test a ... bench:  1,234 ns/iter (+/- 5)\n",
            "BenchmarkA-8 100 12.5 ns/op 3 B/op 1 allocs/op\n",
            r#"[{"benchmark":"a.b","mode":"thrpt","primaryMetric":{"score":1.0,"scoreUnit":"ops/s","rawData":[[1.0]]}}]"#,
            r#"{"metrics":{"http_reqs":{"count":3,"rate":1.5}},"root_group":{}}"#,
            r#"{"a":{"latency":{"value":1.0}}}"#,
            r#"[{"name":"a","unit":"ms","value":1}]"#,
        ];
        for doc in docs {
            for cut in 0..doc.len() {
                if doc.is_char_boundary(cut) {
                    let _ = parse(&doc[..cut], Format::Auto, None);
                    for f in [Format::Hyperfine, Format::K6, Format::Jmh, Format::GoTest] {
                        let _ = parse(&doc[..cut], f, None);
                    }
                }
            }
            assert!(parse(doc, Format::Auto, None).is_ok(), "{doc}");
        }
    }
}
