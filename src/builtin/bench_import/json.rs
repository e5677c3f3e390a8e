//! JSON formats: criterion's `estimates.json`, hyperfine `--export-json`,
//! Google Benchmark, pytest-benchmark, JMH, k6 `--summary-export`, Bencher
//! Metric Format and a plain custom list.
//!
//! Size: eight small parsers, one per harness format, side by side so that
//! their unit conversions can be compared.

use super::{time_unit, Bench, Format, ParseError};
use crate::protocol::Better;
use serde_json::Value;
use std::path::Path;

fn err(s: impl Into<String>) -> ParseError {
    ParseError(s.into())
}

fn doc(text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(text).map_err(|e| err(format!("not JSON ({e})")))
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

fn string<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn floats(v: Option<&Value>) -> Vec<f64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

pub fn detect(v: &Value) -> Option<Format> {
    let first = |key: &str| {
        v.get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned()
    };
    if let Some(r) = first("results") {
        if r.get("command").is_some() {
            return Some(Format::Hyperfine);
        }
    }
    if let Some(b) = first("benchmarks") {
        if b.get("stats").is_some() {
            return Some(Format::PytestBenchmark);
        }
        if b.get("real_time").is_some() || b.get("run_type").is_some() {
            return Some(Format::GoogleBenchmark);
        }
    }
    if let Some(items) = v.as_array() {
        let item = items.first()?;
        if item.get("primaryMetric").is_some() {
            return Some(Format::Jmh);
        }
        if item.get("name").is_some() && item.get("value").is_some() {
            return Some(Format::Custom);
        }
        return None;
    }
    let obj = v.as_object()?;
    if obj.contains_key("metrics") && (obj.contains_key("root_group") || obj.contains_key("state"))
    {
        return Some(Format::K6);
    }
    if ["mean", "Mean"].iter().any(|k| {
        obj.get(*k)
            .is_some_and(|m| m.get("point_estimate").is_some())
    }) {
        return Some(Format::Criterion);
    }
    // Bencher Metric Format: benchmark → measure → {value, …}.
    let bmf = !obj.is_empty()
        && obj.values().all(|measures| {
            measures.as_object().is_some_and(|m| {
                !m.is_empty()
                    && m.values()
                        .all(|x| x.get("value").is_some_and(Value::is_number))
            })
        });
    bmf.then_some(Format::Bmf)
}

/// `target/criterion` (or any folder under it): every
/// `<bench>/new/estimates.json`, named by the `benchmark.json` beside it.
pub fn criterion_dir(dir: &Path) -> Result<Vec<Bench>, ParseError> {
    let pattern = format!(
        "{}/**/new/estimates.json",
        glob::Pattern::escape(&dir.to_string_lossy())
    );
    let mut files: Vec<_> = glob::glob(&pattern)
        .map_err(|e| err(e.to_string()))?
        .flatten()
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(
            "has no `**/new/estimates.json`; point `with.path` at criterion's output folder (`target/criterion`) after `cargo bench`",
        ));
    }
    let mut out = Vec::new();
    for f in files {
        let new = f.parent().expect("matched under a folder");
        let name = std::fs::read_to_string(new.join("benchmark.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|b| string(&b, "full_id").map(str::to_owned))
            .unwrap_or_else(|| {
                new.parent()
                    .and_then(|p| p.strip_prefix(dir).ok())
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let text = std::fs::read_to_string(&f)
            .map_err(|e| err(format!("cannot read `{}`: {e}", f.display())))?;
        out.extend(
            criterion_estimates(&text, &name)
                .map_err(|e| err(format!("`{}`: {}", f.display(), e.0)))?,
        );
    }
    Ok(out)
}

/// One `estimates.json`, in nanoseconds: `mean` (or `Mean` in criterion
/// before 0.3) as the benchmark, `median` as a measure.
pub fn criterion_estimates(text: &str, name: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let estimate = |key: &str| {
        let cap = format!("{}{}", key[..1].to_uppercase(), &key[1..]);
        v.get(key)
            .or_else(|| v.get(&cap))
            .and_then(|e| num(e, "point_estimate"))
    };
    let mean = estimate("mean").ok_or_else(|| err("no `mean.point_estimate`"))?;
    let mut out = vec![Bench::new(name, mean, "ns", Better::Lower)];
    if let Some(m) = estimate("median") {
        out.push(Bench::new(name, m, "ns", Better::Lower).measure("median"));
    }
    if let Some(s) = estimate("std_dev").or_else(|| estimate("stdDev")) {
        out.push(Bench::new(name, s, "ns", Better::Lower).measure("std_dev"));
    }
    Ok(out)
}

/// hyperfine `--export-json`: seconds per command.
pub fn hyperfine(text: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| err("no `results` list"))?;
    let mut out = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let name =
            string(r, "command").ok_or_else(|| err(format!("`results[{i}]` has no `command`")))?;
        let mean = num(r, "mean").ok_or_else(|| err(format!("`results[{i}]` has no `mean`")))?;
        out.push(Bench::new(name, mean, "s", Better::Lower).samples(floats(r.get("times"))));
        for key in ["median", "min", "max", "stddev", "user", "system"] {
            if let Some(x) = num(r, key) {
                out.push(Bench::new(name, x, "s", Better::Lower).measure(key));
            }
        }
    }
    Ok(out)
}

/// Google Benchmark `--benchmark_format=json` (or `--benchmark_out`). With
/// repetitions, the `mean` aggregate is the benchmark, with the repetitions'
/// real times as samples; without, each run is.
pub fn google_benchmark(text: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let list = v
        .get("benchmarks")
        .and_then(Value::as_array)
        .ok_or_else(|| err("no `benchmarks` list"))?;
    let run_name = |b: &Value| {
        string(b, "run_name")
            .or_else(|| string(b, "name"))
            .unwrap_or("")
            .to_owned()
    };
    let has_mean = |name: &str| {
        list.iter().any(|b| {
            string(b, "run_type") == Some("aggregate")
                && string(b, "aggregate_name") == Some("mean")
                && run_name(b) == name
        })
    };
    let mut out = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let name = run_name(b);
        if name.is_empty() {
            return Err(err(format!("`benchmarks[{i}]` has no `name`")));
        }
        if string(b, "error_occurred").is_some()
            || b.get("error_occurred") == Some(&Value::Bool(true))
        {
            continue;
        }
        let unit = time_unit(string(b, "time_unit").unwrap_or("ns")).unwrap_or("ns");
        let aggregate = string(b, "run_type") == Some("aggregate");
        let agg = string(b, "aggregate_name").unwrap_or("");
        let measure: Option<String> = match (aggregate, agg) {
            (false, _) if has_mean(&name) => continue,
            (false, _) => None,
            (true, "mean") => None,
            (true, "cv") => continue,
            (true, a) => Some(a.to_owned()),
        };
        let real = num(b, "real_time")
            .ok_or_else(|| err(format!("`benchmarks[{i}]` has no `real_time`")))?;
        let with = |bench: Bench, m: &str| match &measure {
            Some(a) => bench.measure(format!("{m}{a}")),
            None if m.is_empty() => bench,
            None => bench.measure(m.trim_end_matches('_')),
        };
        let mut main = with(Bench::new(&name, real, unit, Better::Lower), "");
        if measure.is_none() && aggregate {
            let reps: Vec<f64> = list
                .iter()
                .filter(|r| string(r, "run_type") != Some("aggregate") && run_name(r) == name)
                .filter_map(|r| num(r, "real_time"))
                .collect();
            main = main.samples(reps);
        }
        out.push(main);
        if let Some(cpu) = num(b, "cpu_time") {
            out.push(with(
                Bench::new(&name, cpu, unit, Better::Lower),
                "cpu_time_",
            ));
        }
        for (key, unit) in [("bytes_per_second", "B/s"), ("items_per_second", "items/s")] {
            if let Some(x) = num(b, key) {
                // A rate is higher-is-better; its spread is not.
                let better = if measure.as_deref() == Some("stddev") {
                    Better::Lower
                } else {
                    Better::Higher
                };
                out.push(with(Bench::new(&name, x, unit, better), &format!("{key}_")));
            }
        }
    }
    if out.is_empty() && !list.is_empty() {
        return Err(err("every benchmark reported an error"));
    }
    Ok(out)
}

/// pytest-benchmark `--benchmark-json`: seconds per round.
pub fn pytest_benchmark(text: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let list = v
        .get("benchmarks")
        .and_then(Value::as_array)
        .ok_or_else(|| err("no `benchmarks` list"))?;
    let mut out = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let name = string(b, "fullname")
            .or_else(|| string(b, "name"))
            .ok_or_else(|| err(format!("`benchmarks[{i}]` has no `name`")))?;
        let short =
            string(b, "name").map(|n| (n.to_owned(), string(b, "group").map(str::to_owned)));
        let stats = b
            .get("stats")
            .ok_or_else(|| err(format!("`benchmarks[{i}]` has no `stats`")))?;
        let mean = num(stats, "mean")
            .ok_or_else(|| err(format!("`benchmarks[{i}].stats` has no `mean`")))?;
        let first = out.len();
        out.push(Bench::new(name, mean, "s", Better::Lower).samples(floats(stats.get("data"))));
        for key in ["median", "min", "max", "stddev"] {
            if let Some(x) = num(stats, key) {
                out.push(Bench::new(name, x, "s", Better::Lower).measure(key));
            }
        }
        if let Some(ops) = num(stats, "ops") {
            out.push(Bench::new(name, ops, "ops/s", Better::Higher).measure("ops"));
        }
        for bench in &mut out[first..] {
            bench.short = short.clone();
        }
    }
    Ok(out)
}

/// JMH `-rf json`: the primary metric in its unit (throughput modes are
/// higher-is-better), parameters in the name, secondary metrics as measures.
pub fn jmh(text: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let list = v
        .as_array()
        .ok_or_else(|| err("not a list of benchmarks"))?;
    let mut out = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let mut name = string(b, "benchmark")
            .ok_or_else(|| err(format!("`[{i}]` has no `benchmark`")))?
            .to_owned();
        if let Some(params) = b.get("params").and_then(Value::as_object) {
            let p: Vec<String> = params
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect();
            if !p.is_empty() {
                name = format!("{name}({})", p.join(","));
            }
        }
        let mode = string(b, "mode").unwrap_or("avgt");
        let primary = b
            .get("primaryMetric")
            .ok_or_else(|| err(format!("`[{i}]` has no `primaryMetric`")))?;
        let score = num(primary, "score")
            .ok_or_else(|| err(format!("`[{i}].primaryMetric` has no `score`")))?;
        let unit = string(primary, "scoreUnit").unwrap_or("");
        let (unit, better) = jmh_unit(unit, mode == "thrpt");
        let raw: Vec<f64> = primary
            .get("rawData")
            .and_then(Value::as_array)
            .map(|forks| forks.iter().flat_map(|f| floats(Some(f))).collect())
            .unwrap_or_default();
        out.push(Bench::new(&name, score, &unit, better).samples(raw));
        if let Some(sec) = b.get("secondaryMetrics").and_then(Value::as_object) {
            for (key, m) in sec {
                if let Some(s) = num(m, "score") {
                    let (unit, better) = jmh_unit(string(m, "scoreUnit").unwrap_or(""), false);
                    out.push(
                        Bench::new(&name, s, &unit, better).measure(key.trim_start_matches('·')),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// `ns/op` → `ns`; `ops/s` and friends are rates, higher is better.
fn jmh_unit(unit: &str, throughput: bool) -> (String, Better) {
    if let Some(t) = unit.strip_suffix("/op").and_then(time_unit) {
        return (t.to_owned(), Better::Lower);
    }
    if throughput || unit.starts_with("ops/") {
        return (unit.to_owned(), Better::Higher);
    }
    (unit.to_owned(), Better::Lower)
}

/// k6 `--summary-export`: every metric's statistics as measures
/// (`http_req_duration#p(95)`), in ms for time trends. A threshold marked
/// `true` there has failed; their count is `thresholds_failed`.
pub fn k6(text: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let metrics = v
        .get("metrics")
        .and_then(Value::as_object)
        .ok_or_else(|| err("no `metrics` object"))?;
    let mut out = Vec::new();
    let mut failed = 0u32;
    for (name, m) in metrics {
        let Some(stats) = m.as_object() else { continue };
        let time = name.contains("duration")
            || name.starts_with("http_req_") && !matches!(name.as_str(), "http_req_failed");
        let data = name.starts_with("data_");
        let lower_is_better =
            time || name.ends_with("_failed") || name.contains("error") || name.contains("fail");
        for (stat, x) in stats {
            if stat == "thresholds" {
                if let Some(t) = x.as_object() {
                    failed += t.values().filter(|ok| ok.as_bool() == Some(true)).count() as u32;
                }
                continue;
            }
            let Some(x) = x.as_f64().filter(|x| x.is_finite()) else {
                continue;
            };
            let (unit, better) = match stat.as_str() {
                "count" if data => ("B", Better::Higher),
                "rate" if data => ("B/s", Better::Higher),
                "count" => ("", Better::Higher),
                "rate" if stats.contains_key("count") => ("/s", Better::Higher),
                // A rate metric's `value` is the share of true values.
                "value" | "rate" if stats.contains_key("passes") => (
                    "ratio",
                    if lower_is_better {
                        Better::Lower
                    } else {
                        Better::Higher
                    },
                ),
                "passes" | "fails" => (
                    "",
                    if (stat == "fails") ^ lower_is_better {
                        Better::Lower
                    } else {
                        Better::Higher
                    },
                ),
                _ if time => ("ms", Better::Lower),
                _ => (
                    "",
                    if lower_is_better {
                        Better::Lower
                    } else {
                        Better::Higher
                    },
                ),
            };
            out.push(Bench::new(name, x, unit, better).measure(stat));
        }
    }
    out.push(Bench::new(
        "thresholds_failed",
        failed as f64,
        "",
        Better::Lower,
    ));
    Ok(out)
}

/// Bencher Metric Format: `{benchmark: {measure: {value, lower_value, upper_value}}}`.
/// `latency` (ns) is the benchmark itself; Bencher's other built-in
/// measures have their units; any other measure is lower-is-better.
pub fn bmf(text: &str) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let obj = v
        .as_object()
        .ok_or_else(|| err("not an object of benchmarks"))?;
    let mut out = Vec::new();
    for (name, measures) in obj {
        let measures = measures
            .as_object()
            .ok_or_else(|| err(format!("`{name}` is not an object of measures")))?;
        for (measure, m) in measures {
            let value = num(m, "value")
                .ok_or_else(|| err(format!("`{name}.{measure}` has no numeric `value`")))?;
            let b = match measure.as_str() {
                "latency" => Bench::new(name, value, "ns", Better::Lower),
                "throughput" => Bench::new(name, value, "ops/s", Better::Higher).measure(measure),
                "file-size" => Bench::new(name, value, "B", Better::Lower).measure(measure),
                "build-time" => Bench::new(name, value, "s", Better::Lower).measure(measure),
                _ => Bench::new(name, value, "", Better::Lower).measure(measure),
            };
            out.push(b);
        }
    }
    Ok(out)
}

/// A plain list: `[{"name", "value", "unit"?, "better"?: "lower"|"higher"}]`
/// (the custom format of github-action-benchmark, with an optional direction).
pub fn custom(text: &str, default: Better) -> Result<Vec<Bench>, ParseError> {
    let v = doc(text)?;
    let list = v
        .as_array()
        .ok_or_else(|| err("not a list of `{name, value, unit}` objects"))?;
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let name = string(item, "name").ok_or_else(|| err(format!("`[{i}]` has no `name`")))?;
        let value =
            num(item, "value").ok_or_else(|| err(format!("`[{i}]` has no numeric `value`")))?;
        let better = match string(item, "better") {
            None => default,
            Some("lower") => Better::Lower,
            Some("higher") => Better::Higher,
            Some(other) => {
                return Err(err(format!(
                    "`[{i}].better` is `{other}`; use `lower` or `higher`"
                )))
            }
        };
        let unit = string(item, "unit").unwrap_or("");
        let unit = time_unit(unit).unwrap_or(unit);
        out.push(Bench::new(name, value, unit, better).samples(floats(item.get("samples"))));
    }
    Ok(out)
}
