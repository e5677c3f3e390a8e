//! Line formats: libtest's `cargo bench` lines (also what criterion writes
//! with `--output-format bencher`) and `go test -bench` lines.

use super::{time_unit, Bench, Format, ParseError};
use crate::protocol::Better;
use std::collections::HashMap;

pub fn detect(text: &str) -> Option<Format> {
    for line in text.lines() {
        if libtest_line(line).is_some() {
            return Some(Format::Libtest);
        }
        if go_line(line).is_some() {
            return Some(Format::GoTest);
        }
    }
    None
}

/// `test NAME ... bench:   1,234 ns/iter (+/- 56)`, with any `X/iter` or
/// rate unit (`MB/s`).
fn libtest_line(line: &str) -> Option<(String, f64, String, Option<f64>)> {
    let rest = line.trim().strip_prefix("test ")?;
    let (name, rest) = rest.split_once(" ... bench:")?;
    let mut words = rest.split_whitespace();
    let value: f64 = words.next()?.replace(',', "").parse().ok()?;
    let unit = words.next()?.to_owned();
    let spread = rest.split_once("(+/-").and_then(|(_, r)| {
        r.trim()
            .trim_end_matches(')')
            .replace(',', "")
            .trim()
            .parse()
            .ok()
    });
    Some((name.trim().to_owned(), value, unit, spread))
}

pub fn libtest(text: &str) -> Result<Vec<Bench>, ParseError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, value, unit, _)) = libtest_line(line) else {
            continue;
        };
        let per_iter = unit.strip_suffix("/iter");
        let (unit, better) = match per_iter {
            Some(u) => (time_unit(u).unwrap_or(u).to_owned(), Better::Lower),
            None if unit.ends_with("/s") => (unit.clone(), Better::Higher),
            None => (unit.clone(), Better::Lower),
        };
        out.push(Bench::new(name, value, &unit, better));
    }
    if out.is_empty() {
        return Err(ParseError(
            "no `test NAME ... bench: N ns/iter` line".into(),
        ));
    }
    Ok(out)
}

/// A benchmark's values with their units (`ns/op`, `B/op`, custom units).
type Pairs = Vec<(f64, String)>;

/// `BenchmarkName-8   1000   1234 ns/op   56 B/op   2 allocs/op   7.5 custom/op`:
/// the name (GOMAXPROCS suffix removed), iterations, then value-unit pairs.
fn go_line(line: &str) -> Option<(String, Pairs)> {
    let line = line.trim();
    if !line.starts_with("Benchmark") {
        return None;
    }
    let mut words = line.split_whitespace();
    let name = words.next()?;
    words.next()?.parse::<u64>().ok()?;
    let rest: Vec<&str> = words.collect();
    if rest.len() < 2 {
        return None;
    }
    let mut pairs = Vec::new();
    for pair in rest.chunks(2) {
        let [v, u] = pair else { break };
        let Ok(v) = v.parse::<f64>() else { break };
        pairs.push((v, (*u).to_owned()));
    }
    if pairs.is_empty() {
        return None;
    }
    Some((strip_procs(name).to_owned(), pairs))
}

fn strip_procs(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

pub fn go_test(text: &str) -> Result<Vec<Bench>, ParseError> {
    // Names repeat across packages; qualify them with the package then.
    let mut rows: Vec<(Option<String>, String, Pairs)> = Vec::new();
    let mut pkg: Option<String> = None;
    for line in text.lines() {
        if let Some(p) = line.trim().strip_prefix("pkg:") {
            pkg = Some(p.trim().to_owned());
            continue;
        }
        if let Some((name, pairs)) = go_line(line) {
            rows.push((pkg.clone(), name, pairs));
        }
    }
    if rows.is_empty() {
        return Err(ParseError("no `BenchmarkNAME  N  X ns/op` line".into()));
    }
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, name, _) in &rows {
        *count.entry(name.as_str()).or_default() += 1;
    }
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (pkg, name, pairs) in &rows {
        let mut full = match pkg {
            Some(p) if count[name.as_str()] > 1 => format!("{p}/{name}"),
            _ => name.clone(),
        };
        // `-count N` repeats a benchmark in one package: number the repeats.
        let n = seen.entry(full.clone()).or_default();
        *n += 1;
        if *n > 1 {
            full = format!("{full} ({n})");
        }
        for (value, unit) in pairs {
            let b = match unit.as_str() {
                "ns/op" => Bench::new(full.clone(), *value, "ns", Better::Lower),
                "B/op" => Bench::new(full.clone(), *value, "B", Better::Lower).measure("B/op"),
                "MB/s" => Bench::new(full.clone(), *value, "MB/s", Better::Higher).measure("MB/s"),
                u if u.ends_with("/s") => {
                    Bench::new(full.clone(), *value, u, Better::Higher).measure(u)
                }
                u => Bench::new(full.clone(), *value, u, Better::Lower).measure(u),
            };
            out.push(b);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines() {
        let b = libtest("test sort::big ... bench:   1,234 ns/iter (+/- 56)\ntest up ... bench: 1911 MS/s (+/- 420)\n").unwrap();
        assert_eq!(b[0], Bench::new("sort::big", 1234.0, "ns", Better::Lower));
        assert_eq!(b[1], Bench::new("up", 1911.0, "MS/s", Better::Higher));
    }

    #[test]
    fn go_lines() {
        let b = go_test("pkg: a\nBenchmarkFib10-8 \t 5000 \t 325 ns/op \t 16 B/op \t 1 allocs/op \t 2.5 widgets/op\n").unwrap();
        assert_eq!(b.len(), 4);
        assert_eq!(
            b[0],
            Bench::new("BenchmarkFib10", 325.0, "ns", Better::Lower)
        );
        assert_eq!(b[2].measure.as_deref(), Some("allocs/op"));
        assert_eq!(b[3].unit.as_deref(), Some("widgets/op"));
    }
}
