//! Reports for CI systems: JUnit XML checked against a JUnit schema with
//! xmllint, the Markdown summary, GitHub outputs and annotations, and the
//! env file — from the real binary.

use crate::ci::read_env;
use crate::common::{fixture, Scratch};
use std::process::Command;

const POLICY: &str = r#"version: 1
plugins:
  app: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: p95, value: 350 }, { name: throughput, value: 120 }, { name: size, value: 2048 }, { name: merged, value: 1 }] } } }
  api: { uses: exit-3 }
  forged: { uses: issues-workflow-commands }
objectives:
  - { id: latency, metric: app.p95, pass: "< 300ms", warn: "< 400ms" }
  - { id: throughput, metric: app.throughput, pass: ">= 100req/s" }
  - { id: size, metric: app.size, pass: "< 1KiB" }
  - { id: release-criteria, metric: app.merged, pass: ">= 3", mode: shadow }
  - { id: api-latency, metric: api.value, pass: "< 100ms" }
"#;

fn xmllint(xml: &std::path::Path) {
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(fixture("junit/junit.xsd"))
        .arg(xml)
        .output()
        .expect("xmllint runs (scripts/test installs libxml2-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn attr(xml: &str, element: &str, name: &str) -> usize {
    let start = xml
        .find(&format!("<{element} "))
        .unwrap_or_else(|| panic!("no <{element}>"));
    let rest = &xml[start..];
    let tag = &rest[..rest.find('>').unwrap()];
    let v = tag
        .split(&format!(" {name}=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} on <{element}>"));
    v[..v.find('"').unwrap()].parse().unwrap()
}

fn redact_xml(xml: &str) -> String {
    let mut out = String::new();
    for line in xml.lines() {
        let mut l = line.to_owned();
        for key in [" time=\"", " timestamp=\"", " id=\""] {
            if let Some(i) = l.find(key) {
                let j = l[i + key.len()..].find('"').unwrap() + i + key.len();
                l.replace_range(i + key.len()..j, "[redacted]");
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn junit_report_is_valid_and_its_counts_agree() {
    let s = Scratch::new();
    s.policy(POLICY);
    let r = s.qod(&["run", "--junit", "report.xml", "--env-file", "qod.env"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let path = s.path().join("report.xml");
    xmllint(&path);
    let xml = std::fs::read_to_string(&path).unwrap();
    let cases = xml.matches("<testcase ").count();
    assert_eq!(cases, 5 + 2, "one case per objective and per failed plugin");
    for element in ["testsuites", "testsuite"] {
        assert_eq!(attr(&xml, element, "tests"), cases);
        assert_eq!(
            attr(&xml, element, "failures"),
            xml.matches("<failure ").count()
        );
        assert_eq!(
            attr(&xml, element, "errors"),
            xml.matches("<error ").count()
        );
        assert_eq!(
            attr(&xml, element, "skipped"),
            xml.matches("<skipped ").count()
        );
    }
    // size and api-latency (no data) fail; the warning shows without failing.
    assert_eq!(xml.matches("<failure ").count(), 2);
    assert!(xml.contains("WARN warn: 350 ms &gt;= 300 ms"), "{xml}");
    insta::assert_snapshot!("junit_report", redact_xml(&xml));
    let env = std::fs::read_to_string(s.path().join("qod.env")).unwrap();
    assert!(
        env.starts_with("QOD_DECISION=fail\nQOD_SCORE=37.5\nQOD_RUN_ID="),
        "{env}"
    );
}

#[test]
fn github_summary_outputs_and_annotations() {
    let s = crate::ci::with_env(&read_env(&fixture("ci/github-pull-request.env")));
    let summary = s.path().join("summary.md");
    let outputs = s.path().join("outputs.txt");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let s = s
        .env("GITHUB_STEP_SUMMARY", &summary.to_string_lossy())
        .env("GITHUB_OUTPUT", &outputs.to_string_lossy());
    s.policy(POLICY);
    let r = s.qod(&["run", "--markdown", "summary-copy.md"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let run_id = r.json()["run"]["id"].as_str().unwrap().to_owned();

    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert_eq!(
        outputs,
        format!("decision=fail\nscore=37.5\nfailed=size,api-latency\nrun-id={run_id}\n")
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## qod: ❌ fail"),
        "appended, not replaced: {md}"
    );
    assert_eq!(
        std::fs::read_to_string(s.path().join("summary-copy.md")).unwrap() + "\n",
        md["earlier step\n".len()..]
    );
    insta::assert_snapshot!("github_summary", md.replace(&run_id, "[run-id]"));

    let annotations: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error") || l.starts_with("::warning"))
        .collect();
    insta::assert_snapshot!("github_annotations", annotations.join("\n"));
    // The plugin's forged commands are printed only between stop-commands and its resume token.
    let forged = r.stderr.find("::error::forged by a plugin").unwrap();
    let stop = r.stderr[..forged]
        .rfind("::stop-commands::")
        .expect("stderr tails are fenced");
    let token = r.stderr[stop + "::stop-commands::".len()..]
        .lines()
        .next()
        .unwrap();
    let resume = r.stderr.find(&format!("::{token}::")).unwrap();
    assert!(stop < forged && forged < resume, "{}", r.stderr);
    assert_ne!(
        token, run_id,
        "the token must not be guessable from the context"
    );
}

#[test]
fn every_provider_gets_a_junit_report() {
    let files = crate::ci::provider_fixtures();
    for file in files {
        let s = crate::ci::with_env(&read_env(&file));
        s.policy("version: 1\nplugins:\n  app: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: p95, value: 250 }] } } }\nobjectives:\n  - { id: latency, metric: app.p95, pass: \"< 300ms\" }\n");
        let r = s.qod(&["run", "--junit", "junit.xml"]);
        assert_eq!(r.code, 0, "{}: {}", file.display(), r.stderr);
        xmllint(&s.path().join("junit.xml"));
        let xml = std::fs::read_to_string(s.path().join("junit.xml")).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!("junit_{name}"), redact_xml(&xml));
    }
}
