//! Instruction counts: `command-bench` with `measure: instructions` under
//! the real Valgrind, judged by the real gate, and the instrument that keeps
//! counts of different instruments apart.

use crate::common::{fixture, Scratch};
use serde_json::Value;

fn objective<'a>(d: &'a Value, id: &str) -> &'a Value {
    d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("no objective `{id}` in {d:#}"))
}

fn instructions(d: &Value) -> &Value {
    d["plugins"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "instructions")
        .unwrap_or_else(|| panic!("no instructions metric in {d:#}"))
}

/// A shell loop whose work is its argument: `sh work.sh 22000` does 10%
/// more loop turns than `sh work.sh 20000`.
const WORK: &str = "i=0\nwhile [ $i -lt $1 ]; do i=$((i+1)); done\n";

fn work_policy(turns: u32) -> String {
    format!(
        r#"version: 1
plugins:
  work: {{ uses: command-bench, with: {{ command: ["sh", "work.sh", "{turns}"], measure: instructions, instruction_runs: 3 }} }}
baseline: {{ last: 1, min_runs: 1 }}
objectives:
  - {{ id: work, metric: work.instructions, pass: "<= +1%" }}
"#
    )
}

#[test]
fn instruction_counts_repeat_exactly_and_catch_ten_percent_more_work() {
    let s = Scratch::new();
    s.write("work.sh", WORK);
    let mut counts = Vec::new();
    for (turns, code, status) in [
        (20000, 0, "no_baseline"),
        (20000, 0, "pass"),
        (22000, 1, "fail"),
    ] {
        s.policy(&work_policy(turns));
        let r = s.qod(&["run"]);
        assert_eq!(r.code, code, "{}\n{}", r.stdout, r.stderr);
        let d = r.json();
        let o = objective(&d, "work");
        assert_eq!(o["status"], status, "{o:#}");
        let m = instructions(&d);
        assert_eq!(m["instrument"], "valgrind", "{m:#}");
        // Three runs under Valgrind, one count.
        let samples: Vec<f64> = m["samples"]
            .as_array()
            .expect("three runs give samples")
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(samples.len(), 3, "{m:#}");
        assert!(samples.iter().all(|v| *v == samples[0]), "{samples:?}");
        counts.push(m["value"].as_f64().unwrap());
        if status == "fail" {
            let change = o["change_pct"].as_f64().unwrap();
            assert!((9.0..11.0).contains(&change), "{o:#}");
            assert!(
                o["reason"]
                    .as_str()
                    .unwrap()
                    .contains("1.01 × mean of last 1"),
                "{}",
                o["reason"]
            );
        }
    }
    assert_eq!(counts[0], counts[1], "two gates, one count");
    assert!(counts[0] > 1e6, "{counts:?}");
}

#[test]
fn cache_simulation_reports_misses_and_estimated_cycles() {
    let s = Scratch::new();
    s.write("work.sh", WORK);
    s.policy(
        r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: "sh work.sh 2000", measure: both, cache_sim: true, min_runs: 2, min_time: 0s, warmup: 0 } }
objectives:
  - { id: cycles, metric: work.estimated_cycles, pass: "< 1000000000" }
"#,
    );
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = &d["plugins"][0];
    let get = |name: &str| {
        p["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {p:#}"))["value"]
            .as_f64()
            .unwrap()
    };
    let (ir, l1, ll, cycles) = (
        get("instructions"),
        get("l1_misses"),
        get("ll_misses"),
        get("estimated_cycles"),
    );
    // Every instruction is an access that hits L1 or misses it.
    assert!(ll <= l1 && l1 < ir && ir < cycles, "{p:#}");
    // `both` keeps the times too.
    assert!(get("mean") > 0.0);
    let summary = p["summary"].as_str().unwrap();
    assert!(
        summary.contains("instructions (valgrind, 1 run"),
        "{summary}"
    );
}

#[test]
fn children_are_counted_and_summed() {
    let s = Scratch::new();
    s.write("work.sh", WORK);
    s.policy(
        r#"version: 1
plugins:
  one: { uses: command-bench, with: { command: ["sh", "work.sh", "3000"], measure: instructions } }
  two: { uses: command-bench, with: { command: "sh work.sh 3000; sh work.sh 3000", measure: instructions } }
objectives:
  - { id: one, metric: one.instructions, pass: "> 0" }
"#,
    );
    let r = s.qod(&["run"]);
    let d = r.json();
    let value = |i: usize| d["plugins"][i]["metrics"][0]["value"].as_f64().unwrap();
    let (one, two) = (value(0), value(1));
    // The outer shell adds its own start-up; the two children do the work twice.
    assert!(two > 1.9 * one && two < 2.3 * one, "{one} vs {two}");
    // The shell may run the last command in its own process (dash execs it).
    let summary = d["plugins"][1]["summary"].as_str().unwrap();
    assert!(
        summary.contains("3 processes") || summary.contains("2 processes"),
        "{summary}"
    );
}

#[test]
fn missing_valgrind_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let s = Scratch::new().env("PATH", &empty.path().display().to_string());
    s.policy(
        r#"version: 1
plugins:
  work: { uses: command-bench, with: { command: ["/bin/true"], measure: instructions } }
  perf: { uses: command-bench, with: { command: ["/bin/true"], measure: instructions, instrument: perf, cache_sim: true } }
objectives:
  - { id: work, metric: work.instructions, pass: "<= +1%" }
"#,
    );
    // The scratch's own PATH comes first; the later one wins in `envs`.
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let error = &d["plugins"][0]["error"];
    assert_eq!(error["kind"], "missing-tool", "{error:#}");
    let message = error["message"].as_str().unwrap();
    for needed in [
        "`valgrind` is not on PATH",
        "apt-get install valgrind",
        "brew install valgrind",
    ] {
        assert!(message.contains(needed), "{message}");
    }
    let error = &d["plugins"][1]["error"];
    assert_eq!(error["kind"], "bad-config", "{error:#}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("`with.cache_sim`"),
        "{error:#}"
    );
    assert_eq!(objective(&d, "work")["status"], "no_data");
}

/// A plugin that reports the instruction count and instrument in `report`.
fn reporting_plugin(s: &Scratch) {
    let dir = s.path().join("plugins").join("counts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plugin.json"),
        r#"{"manifest_version": 1, "name": "counts", "version": "1", "protocol_versions": [1],
  "command": ["./counts.sh"], "metrics": [{"name": "instructions", "better": "lower"}]}"#,
    )
    .unwrap();
    let script = dir.join("counts.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >/dev/null\nprintf '{{\"protocol\":1,\"status\":\"ok\",\"metrics\":[%s]}}\\n' \"$(cat '{}')\"\n",
            s.path().join("report").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn counts_of_another_instrument_form_no_baseline() {
    let s = Scratch::new();
    reporting_plugin(&s);
    s.policy(
        r#"version: 1
plugins:
  c: { uses: counts }
baseline: { last: 3, min_runs: 1 }
objectives:
  - { id: ir, metric: c.instructions, pass: "<= +1%" }
"#,
    );
    let report = |count: u64, instrument: &str| {
        s.write(
            "report",
            &format!(r#"{{"name":"instructions","value":{count},"instrument":"{instrument}"}}"#),
        );
        s.qod(&["run"]).json()
    };
    report(1000, "valgrind");
    report(1000, "valgrind");
    // A hardware counter's count is not compared with Valgrind's.
    let d = report(1100, "perf");
    let o = objective(&d, "ir");
    assert_eq!(o["status"], "no_baseline", "{o:#}");
    let reason = o["reason"].as_str().unwrap();
    assert!(
        reason.contains("2 runs measured with `valgrind` left out")
            && reason.contains("this run was measured with `perf`"),
        "{reason}"
    );
    // The next perf run compares with the perf run only.
    let d = report(1100, "perf");
    let o = objective(&d, "ir");
    assert_eq!(o["status"], "pass", "{o:#}");
    assert_eq!(o["baseline"]["runs"].as_array().unwrap().len(), 1, "{o:#}");
    // The record keeps the instrument.
    let records = std::fs::read_dir(s.path().join(".qod/store/runs"))
        .unwrap()
        .flatten()
        .flat_map(|day| std::fs::read_dir(day.path()).unwrap().flatten())
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .collect::<String>();
    assert!(records.contains(r#""instrument":"perf""#), "{records}");
}

#[test]
fn bench_import_reads_cachegrind_and_gungraun_outputs() {
    let s = Scratch::new();
    let dir = fixture("bench-import");
    let mut policy = String::from("version: 1\nplugins:\n");
    for (id, path, format) in [
        ("cachegrind", "cachegrind/cachegrind.out.*", "auto"),
        ("cachesim", "cachegrind-cache-sim.out", "cachegrind"),
        (
            "gungraun",
            "gungraun/fib/math/bench_fibonacci.long/summary.json",
            "auto",
        ),
        ("gungraunall", "gungraun/**/summary.json", "iai-callgrind"),
        ("gungraunlines", "gungraun.jsonl", "auto"),
        ("gungrauntext", "gungraun.txt", "auto"),
    ] {
        policy.push_str(&format!(
            "  {id}: {{ uses: bench-import, with: {{ path: \"{}\", format: {format} }} }}\n",
            dir.join(path).display()
        ));
    }
    policy.push_str("objectives:\n  - { id: fib, metric: \"gungraun.fib::math::bench_fibonacci long\", pass: \"<= 400000\" }\n");
    s.policy(&policy);
    let r = s.qod(&["run", "--samples", "all"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let mut lines = Vec::new();
    for p in d["plugins"].as_array().unwrap() {
        assert_eq!(p["status"], "ok", "{p:#}");
        for m in p["metrics"].as_array().unwrap() {
            lines.push(format!(
                "{}.{} = {} ({}, {})",
                p["instance"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
                m["value"],
                m["better"].as_str().unwrap(),
                m["instrument"].as_str().unwrap_or("-"),
            ));
        }
    }
    insta::assert_snapshot!("bench_import_instruction_counts", lines.join("\n"));
}
