//! Instruction counts from Valgrind-based harnesses: cachegrind's (and
//! callgrind's) own output files, and gungraun (formerly iai-callgrind) in
//! its summary JSON, its JSON lines or its terminal output. Every count is
//! tagged with the `valgrind` instrument, like `command-bench`'s.

use super::{Bench, ParseError};
use crate::builtin::instructions;
use crate::protocol::Better;
use serde_json::Value;

const INSTRUMENT: &str = "valgrind";

fn count(name: &str, measure: Option<&str>, value: f64) -> Bench {
    let mut b = Bench::new(name, value, "", Better::Lower);
    b.measure = measure.map(str::to_owned);
    b.instrument = Some(INSTRUMENT.to_owned());
    b
}

/// Whether `text` is a cachegrind or callgrind output file.
pub fn is_cachegrind(text: &str) -> bool {
    let head: Vec<&str> = text.lines().take(40).collect();
    (head
        .first()
        .is_some_and(|l| l.starts_with("# callgrind format"))
        || head.iter().any(|l| l.starts_with("desc: ")))
        && head.iter().any(|l| l.starts_with("events:"))
}

/// One file: the command (its `cmd:` line) with its instructions and, from
/// a cache simulation, its misses and estimated cycles.
pub fn cachegrind(text: &str) -> Result<Vec<Bench>, ParseError> {
    let counts = instructions::parse_out(text).map_err(ParseError)?;
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("cmd:"))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ParseError("it has no `cmd:` line to name the benchmark by".into()))?;
    let ir = counts.get("Ir").ok_or_else(|| {
        ParseError("it counts no instructions (`Ir` is not among its events)".into())
    })?;
    let mut out = vec![count(name, None, ir as f64)];
    if let Some((l1, ll, cycles)) = counts.cache() {
        out.push(count(name, Some("l1_misses"), l1 as f64));
        out.push(count(name, Some("ll_misses"), ll as f64));
        out.push(count(name, Some("estimated_cycles"), cycles as f64));
    }
    Ok(out)
}

/// gungraun's metric keys and terminal labels, with the measure each
/// becomes. Instructions are the main measure. L1 hits are left out: more
/// of them is better or worse depending on whether the accesses or the
/// misses changed, and `estimated_cycles` already weighs them.
const GUNGRAUN: &[(&str, &str, Option<&str>)] = &[
    ("Ir", "Instructions", None),
    ("LLhits", "LL Hits", Some("ll_hits")),
    ("RamHits", "RAM Hits", Some("ram_hits")),
    ("TotalRW", "Total read+write", Some("total_rw")),
    (
        "EstimatedCycles",
        "Estimated Cycles",
        Some("estimated_cycles"),
    ),
];

/// Whether `v` is one gungraun (or iai-callgrind) benchmark summary.
pub fn is_gungraun_summary(v: &Value) -> bool {
    v.get("module_path").is_some() && v.get("profiles").is_some()
}

/// Whether `text` is gungraun's terminal output.
pub fn is_gungraun_text(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start()
            .strip_prefix("Instructions:")
            .is_some_and(|r| r.contains('|'))
    })
}

/// A summary file, a JSON array of summaries (`--output-format=json | jq
/// -s`), or JSON lines (`--output-format=json`).
pub fn gungraun_json(text: &str) -> Result<Vec<Bench>, ParseError> {
    // Typed and streamed: each summary's per-thread `parts` (most of the
    // file) are skipped unread and each summary is dropped once counted,
    // so memory stays near the file's size whatever its length.
    let mut out = Vec::new();
    let mut add = |n: usize, summary: Result<Summary, serde_json::Error>| {
        let s = summary.map_err(|e| {
            ParseError(format!(
                "entry {n}: {e}; is it a gungraun summary (`--save-summary=json` or `--output-format=json`)?"
            ))
        })?;
        s.counts(&mut out)
    };
    if text.trim_start().starts_with('[') {
        let summaries: Vec<Summary> = serde_json::from_str(text)
            .map_err(|e| ParseError(format!("not a JSON array of gungraun summaries: {e}")))?;
        for (i, s) in summaries.into_iter().enumerate() {
            add(i + 1, Ok(s))?;
        }
    } else {
        // One summary file, or JSON lines: a stream of documents.
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Summary>();
        for (i, s) in stream.enumerate() {
            add(i + 1, s)?;
        }
    }
    Ok(out)
}

/// The parts of a gungraun summary qod reads; everything else is skipped.
#[derive(serde::Deserialize)]
struct Summary {
    module_path: String,
    #[serde(default)]
    id: Option<String>,
    profiles: Vec<Profile>,
}

#[derive(serde::Deserialize)]
struct Profile {
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    data: Option<ProfileData>,
}

#[derive(serde::Deserialize)]
struct ProfileData {
    #[serde(default)]
    total: Option<Value>,
}

impl Summary {
    fn counts(self, out: &mut Vec<Bench>) -> Result<(), ParseError> {
        let name = match &self.id {
            Some(id) => format!("{} {id}", self.module_path),
            None => self.module_path.clone(),
        };
        // DHAT, Massif and the other tools measure other things.
        let metrics = self
            .profiles
            .iter()
            .find(|p| matches!(p.tool.as_deref(), Some("Callgrind" | "Cachegrind")))
            .and_then(|p| p.data.as_ref()?.total.as_ref()?["metrics"].as_object());
        let Some(metrics) = metrics else {
            return Err(ParseError(format!(
                "`{name}` has no Callgrind or Cachegrind profile with totals"
            )));
        };
        for (key, _, measure) in GUNGRAUN {
            // `new` is this run; `old` the harness's own previous run.
            if let Some(v) = metrics.get(*key).and_then(|m| m["values"]["new"].as_f64()) {
                out.push(count(&name, *measure, v));
            }
        }
        Ok(())
    }
}

/// The terminal output: a line naming each benchmark (`module::bench id:(args)`),
/// then indented `Label: new|old (change)` lines.
pub fn gungraun_text(text: &str) -> Result<Vec<Bench>, ParseError> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            // `fib::math::bench_fibonacci long:(21)`: the path and the id.
            let header = line.trim();
            current = (!header.contains(" result:")).then(|| match header.split_once(' ') {
                Some((path, rest)) => {
                    let id = rest.split(':').next().unwrap_or(rest).trim();
                    format!("{path} {id}")
                }
                None => header.to_owned(),
            });
            continue;
        }
        let Some(name) = &current else { continue };
        let Some((label, rest)) = line.trim().split_once(':') else {
            continue;
        };
        let Some((_, _, measure)) = GUNGRAUN.iter().find(|(_, l, _)| *l == label.trim()) else {
            continue;
        };
        let new = rest.split('|').next().unwrap_or("").trim();
        let value: f64 = new.parse().map_err(|_| {
            ParseError(format!(
                "`{name}`: `{}` holds `{new}`, not a count",
                label.trim()
            ))
        })?;
        out.push(count(name, *measure, value));
    }
    Ok(out)
}
