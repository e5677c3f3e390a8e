//! JUnit XML: one flat `<testsuite>`, one `<testcase>` per objective and one
//! per failed plugin, with counts that agree on both levels (CodeBuild
//! rejects reports where they do not). A failed objective is a `<failure>`,
//! a failed plugin an `<error>`, a shadow objective `<skipped>`; a warning
//! is visible in the case's `<system-out>` without counting as a failure.

use crate::decision::{Decision, ObjectiveOutcome, ObjectiveStatus, OutcomeEffect, PluginStatus};
use crate::units::format_with_unit;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// CodeBuild reads at most this many cases per report.
pub const MAX_CASES: usize = 500;

enum Outcome {
    Pass,
    Failure { message: String, text: String },
    Error { message: String, text: String },
    Skipped { message: String },
}

struct Case {
    classname: &'static str,
    name: String,
    time: f64,
    outcome: Outcome,
    out: Option<String>,
    err: Option<String>,
}

fn value_of(o: &ObjectiveOutcome) -> String {
    o.value
        .map(|v| format_with_unit(v, o.unit.as_deref().unwrap_or("")))
        .unwrap_or_else(|| "no value".into())
}

fn objective_case(o: &ObjectiveOutcome) -> Case {
    let details = format!(
        "status: {}\nvalue: {}\ncriteria: {}\npasses if: {}\nreason: {}",
        o.status.as_str(),
        value_of(o),
        o.criteria.join(" and "),
        o.passes_if.as_deref().unwrap_or("-"),
        o.reason
    );
    let outcome = match o.effect {
        OutcomeEffect::Fail => Outcome::Failure {
            message: format!("{}: {}", o.status.as_str(), o.reason),
            text: details.clone(),
        },
        OutcomeEffect::None => Outcome::Skipped {
            message: format!("shadow mode ({}): {}", o.status.as_str(), o.reason),
        },
        _ => Outcome::Pass,
    };
    let out = match (o.effect, o.status) {
        (OutcomeEffect::Warn, _) => Some(format!(
            "WARN {}: {}\n{details}",
            o.status.as_str(),
            o.reason
        )),
        (OutcomeEffect::Pass, ObjectiveStatus::Pass) => Some(details),
        (OutcomeEffect::Pass, _) => Some(details),
        _ => None,
    };
    Case {
        classname: "qod.objectives",
        name: o.id.clone(),
        time: 0.0,
        outcome,
        out,
        err: None,
    }
}

/// The report for `d`.
pub fn render(d: &Decision) -> String {
    let mut cases: Vec<Case> = d.objectives.iter().map(objective_case).collect();
    for p in d.plugins.iter().filter(|p| p.status != PluginStatus::Ok) {
        let message = p
            .error
            .as_ref()
            .map(|e| format!("{}: {}", p.status.as_str(), e.message))
            .unwrap_or_else(|| p.status.as_str().to_owned());
        cases.push(Case {
            classname: "qod.plugins",
            name: p.instance.to_string(),
            time: p.duration_ms as f64 / 1000.0,
            outcome: Outcome::Error {
                message,
                text: format!("plugin `{}` {} ({})", p.instance, p.name, p.version),
            },
            out: None,
            err: p.stderr_tail.clone(),
        });
    }
    if cases.len() > MAX_CASES {
        let dropped = cases.len() - (MAX_CASES - 1);
        cases.truncate(MAX_CASES - 1);
        cases.push(Case {
            classname: "qod",
            name: "report-truncated".into(),
            time: 0.0,
            outcome: Outcome::Skipped {
                message: format!(
                    "{dropped} more cases left out: a report holds at most {MAX_CASES}"
                ),
            },
            out: None,
            err: None,
        });
    }
    let failures = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Failure { .. }))
        .count();
    let errors = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Error { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skipped { .. }))
        .count();
    let time: f64 = d.plugins.iter().map(|p| p.duration_ms).max().unwrap_or(0) as f64 / 1000.0;
    let counts = |e: &mut BytesStart, name: &str| {
        e.push_attribute(("name", name));
        e.push_attribute(("tests", cases.len().to_string().as_str()));
        e.push_attribute(("failures", failures.to_string().as_str()));
        e.push_attribute(("errors", errors.to_string().as_str()));
        e.push_attribute(("skipped", skipped.to_string().as_str()));
        e.push_attribute(("time", format!("{time:.3}").as_str()));
    };

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let write = |w: &mut Writer<Vec<u8>>, e: Event| w.write_event(e).expect("writing to memory");
    write(
        &mut w,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    );
    let mut root = BytesStart::new("testsuites");
    counts(&mut root, "qod");
    write(&mut w, Event::Start(root));
    let mut suite = BytesStart::new("testsuite");
    counts(&mut suite, &format!("qod gate ({})", d.decision.as_str()));
    suite.push_attribute(("timestamp", d.run.started_at.trim_end_matches('Z')));
    suite.push_attribute(("id", d.run.id.as_str()));
    write(&mut w, Event::Start(suite));

    write(&mut w, Event::Start(BytesStart::new("properties")));
    let props = [
        ("qod.decision", d.decision.as_str().to_owned()),
        ("qod.score", crate::units::format_value(d.score)),
        ("qod.summary", d.summary.clone()),
        (
            "qod.revision",
            d.pipeline.revision.clone().unwrap_or_default(),
        ),
    ];
    for (k, v) in props {
        let mut p = BytesStart::new("property");
        p.push_attribute(("name", k));
        p.push_attribute(("value", v.as_str()));
        write(&mut w, Event::Empty(p));
    }
    write(&mut w, Event::End(BytesEnd::new("properties")));

    for c in &cases {
        let mut tc = BytesStart::new("testcase");
        tc.push_attribute(("classname", c.classname));
        tc.push_attribute(("name", c.name.as_str()));
        tc.push_attribute(("time", format!("{:.3}", c.time).as_str()));
        write(&mut w, Event::Start(tc));
        let mut element = |tag: &str, message: &str, text: Option<&str>| {
            let mut e = BytesStart::new(tag);
            e.push_attribute(("message", message));
            match text {
                Some(t) => {
                    e.push_attribute(("type", tag));
                    write(&mut w, Event::Start(e));
                    write(&mut w, Event::Text(BytesText::new(t)));
                    write(&mut w, Event::End(BytesEnd::new(tag)));
                }
                None => write(&mut w, Event::Empty(e)),
            }
        };
        match &c.outcome {
            Outcome::Pass => {}
            Outcome::Failure { message, text } => element("failure", message, Some(text)),
            Outcome::Error { message, text } => element("error", message, Some(text)),
            Outcome::Skipped { message } => element("skipped", message, None),
        }
        for (tag, text) in [("system-out", &c.out), ("system-err", &c.err)] {
            if let Some(t) = text {
                write(&mut w, Event::Start(BytesStart::new(tag)));
                write(&mut w, Event::Text(BytesText::new(t)));
                write(&mut w, Event::End(BytesEnd::new(tag)));
            }
        }
        write(&mut w, Event::End(BytesEnd::new("testcase")));
    }
    write(&mut w, Event::End(BytesEnd::new("testsuite")));
    write(&mut w, Event::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8(w.into_inner()).expect("XML is UTF-8");
    out.push('\n');
    strip_invalid_xml_chars(&out)
}

/// Plugin stderr may hold control characters that XML 1.0 forbids.
fn strip_invalid_xml_chars(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(objectives: usize) -> Decision {
        let objectives: Vec<serde_json::Value> = (0..objectives)
            .map(|i| {
                serde_json::json!({"id": format!("o{i}"), "metric": "a.b", "status": if i % 2 == 0 { "pass" } else { "fail" },
                    "effect": if i % 2 == 0 { "pass" } else { "fail" }, "mode": "enforce", "key": false, "weight": 1.0,
                    "value": 1.0, "criteria": ["< 1"], "reason": "1 >= 1"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "decision": "fail", "score": 50.0, "summary": "s", "objectives": objectives, "plugins": [],
            "pipeline": {"provider": "local"},
            "run": {"id": "r", "started_at": "2026-01-01T00:00:00.000Z", "finished_at": "2026-01-01T00:00:01.000Z", "policy": "qod.yaml"},
            "store": {"location": "x", "history_read": true, "recorded": true}
        }))
        .unwrap()
    }

    #[test]
    fn at_most_500_cases_with_counts_that_still_agree() {
        let xml = render(&decision(700));
        assert_eq!(xml.matches("<testcase ").count(), MAX_CASES);
        assert!(
            xml.contains("201 more cases left out"),
            "{}",
            &xml[xml.len() - 400..]
        );
        let failures = xml.matches("<failure ").count();
        assert_eq!(
            failures, 249,
            "the odd ones of the 499 objectives kept fail"
        );
        assert!(xml.contains(&format!(
            "tests=\"500\" failures=\"{failures}\" errors=\"0\" skipped=\"1\""
        )));
    }

    #[test]
    fn control_characters_from_plugins_are_dropped() {
        assert_eq!(strip_invalid_xml_chars("a\u{1b}[31mb\tc\n"), "a[31mb\tc\n");
    }
}
