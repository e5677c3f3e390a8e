//! Objectives whose metric is a pattern, compared with history: one row
//! per metric the plugin reports, each with its own baseline, the
//! significance tests of the family held to one level by Holm.

use crate::common::{python_plugin, Scratch};
use serde_json::Value;

/// A plugin reporting `a`, `b` and `c` (20 samples each, seeded noise),
/// `b` multiplied by the number in `factor.txt` when it is there.
fn suite() -> Scratch {
    let s = Scratch::new();
    python_plugin(
        &s,
        "suite",
        r#"[{"name": "*", "unit": "ms", "better": "lower"}]"#,
        r#"import json, os, random, sys
ctx = json.load(sys.stdin)
ws = ctx["paths"]["workspace"]
random.seed(int(open(os.path.join(ws, "seed.txt")).read()))
factor = float(open(os.path.join(ws, "factor.txt")).read()) if os.path.exists(os.path.join(ws, "factor.txt")) else 1.0
metrics = []
for name, centre in [("a", 10.0), ("b", 20.0), ("c", 30.0)]:
    f = factor if name == "b" else 1.0
    samples = [centre * f * (1 + random.gauss(0, 0.02)) for _ in range(20)]
    metrics.append({"name": name, "value": sorted(samples)[10], "samples": samples})
print(json.dumps({"protocol": 1, "status": "ok", "metrics": metrics}))
"#,
    );
    s.policy(
        r#"version: 1
plugins:
  p: { uses: suite }
baseline: { last: 5, aggregate: median }
objectives:
  - { id: all, metric: "p.*", pass: "<= +10%", test: { method: mann-whitney, alpha: 0.01 } }
  - { id: own, metric: p.c, pass: "<= +50%" }
"#,
    );
    s
}

fn rows(d: &Value) -> Vec<(String, String)> {
    d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_history_pattern_judges_each_metric_against_its_own_baseline() {
    let s = suite();
    for seed in 1..=5 {
        s.write("seed.txt", &seed.to_string());
        let r = s.qod(&["run"]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
    // `b` 30% slower: its row fails, the others pass; `c` is judged by the
    // objective naming it, not by the pattern.
    s.write("seed.txt", "6");
    s.write("factor.txt", "1.3");
    let r = s.qod(&["run"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    crate::common::assert_valid("decision.schema.json", &d);
    assert_eq!(
        rows(&d),
        [
            ("all[a]".to_owned(), "pass".to_owned()),
            ("all[b]".to_owned(), "fail".to_owned()),
            ("own".to_owned(), "pass".to_owned()),
        ]
    );
    let b = &d["objectives"][1];
    assert_eq!(b["metric"], "p.b");
    assert_eq!(b["family"]["objective"], "all");
    assert_eq!(b["family"]["pattern"], "p.*");
    assert_eq!(b["baseline"]["runs"].as_array().unwrap().len(), 5, "{b:#}");
    // The family's two tests at one level: the smaller p at α/2.
    let reason = b["reason"].as_str().unwrap();
    assert!(
        reason.contains("Holm over the 2 metrics of `all`: tested at α 0.005"),
        "{reason}"
    );
    assert_eq!(b["test"]["alpha"], 0.005, "{b:#}");
    assert!(
        d["summary"]
            .as_str()
            .unwrap()
            .starts_with("`all`: 1 of 2 metrics fail `<= +10%`; 1 of 3 objectives failed: all[b]"),
        "{}",
        d["summary"]
    );
    // A pattern that matches nothing says so, never passes silently.
    s.policy(
        r#"version: 1
plugins:
  p: { uses: suite }
objectives:
  - { id: none, metric: "p.z*", pass: "<= +10%" }
"#,
    );
    let r = s.qod(&["run"]);
    let d = r.json();
    assert_eq!(d["objectives"][0]["status"], "no_data", "{d:#}");
    assert!(
        d["objectives"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no metric of `p` matches `z*`"),
        "{:#}",
        d["objectives"][0]
    );
    assert_eq!(r.code, 1, "no data fails by default");
}
