//! Turning what a plugin process produced into one [`PluginOutcome`]: every
//! way a plugin can misbehave becomes a clear status and message, never an
//! engine error.

use crate::decision::{PluginOutcome, PluginStatus};
use crate::ids::InstanceId;
use crate::protocol::{ErrorInfo, Manifest, PluginResult, ResultStatus};
use crate::supervise::child::{signal_of, Ending, RawRun};
use crate::units::format_value;
use crate::validate::{violations, SchemaKind};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// Interprets a finished run of `manifest`'s plugin.
pub fn interpret(
    instance: &InstanceId,
    manifest: &Manifest,
    raw: RawRun,
    timeout: Duration,
    grace: Duration,
) -> PluginOutcome {
    let stderr = String::from_utf8_lossy(&raw.stderr_tail).into_owned();
    let mut out = PluginOutcome::new(
        instance.clone(),
        manifest.name.clone(),
        manifest.version.clone(),
        PluginStatus::Ok,
    );
    out.duration_ms = raw.duration.as_millis() as u64;
    out.notes = raw.notes;
    let verdict = judge(
        manifest,
        &raw.ending,
        &raw.stdout,
        raw.stdout_overflow,
        timeout,
        grace,
    );
    if let Ending::Exited(s) = &raw.ending {
        out.exit_code = s.code();
        out.signal = signal_of(s);
    }
    match verdict {
        Ok(result) => {
            out.metrics = result.metrics;
            out.summary = result.summary;
        }
        Err(f) => {
            out.status = f.status;
            out.error = Some(ErrorInfo {
                kind: f.kind,
                message: f.message,
            });
            if !stderr.trim().is_empty() {
                out.stderr_tail = Some(stderr);
            }
        }
    }
    out
}

struct Failure {
    status: PluginStatus,
    kind: String,
    message: String,
}

fn failure(status: PluginStatus, kind: &str, message: String) -> Failure {
    Failure {
        status,
        kind: kind.to_owned(),
        message,
    }
}

fn judge(
    manifest: &Manifest,
    ending: &Ending,
    stdout: &[u8],
    overflow: bool,
    timeout: Duration,
    grace: Duration,
) -> Result<PluginResult, Failure> {
    let status = match ending {
        Ending::SpawnFailed(e) => {
            return Err(failure(
                PluginStatus::SpawnFailed,
                "spawn-failed",
                format!(
                    "cannot start `{}`: {e}; check `command` in its manifest",
                    manifest.command.join(" ")
                ),
            ))
        }
        Ending::TimedOut => {
            return Err(failure(
                PluginStatus::Timeout,
                "timeout",
                format!(
                    "still running after its timeout of {}; its process group was stopped (SIGTERM, then SIGKILL after {} if still running)",
                    humantime::format_duration(timeout),
                    humantime::format_duration(grace)
                ),
            ))
        }
        Ending::Cancelled(sig) => {
            return Err(failure(
                PluginStatus::Cancelled,
                "cancelled",
                format!(
                    "cancelled by {}: qod passed the signal on to its process group (SIGKILL after {} if still running)",
                    super::signal_name(*sig),
                    humantime::format_duration(grace)
                ),
            ))
        }
        Ending::Exited(s) => s,
    };
    if overflow {
        return Err(failure(
            PluginStatus::InvalidOutput,
            "stdout-too-large",
            format!(
                "printed more than {} MiB on stdout and was stopped; a result is one small JSON object (logs go to stderr)",
                crate::supervise::STDOUT_CAP >> 20
            ),
        ));
    }
    if let Some(sig) = signal_of(status) {
        let name = nix::sys::signal::Signal::try_from(sig)
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|_| format!("signal {sig}"));
        return Err(failure(
            PluginStatus::Killed,
            "killed",
            format!("was ended by {name}"),
        ));
    }
    if let Some(code) = status.code().filter(|c| *c != 0) {
        return Err(failure(
            PluginStatus::ExitNonzero,
            "exit-nonzero",
            format!("exited with code {code}; a plugin that cannot measure should exit 0 with `\"status\": \"error\"`"),
        ));
    }
    let text = std::str::from_utf8(stdout).map_err(|e| {
        failure(
            PluginStatus::InvalidOutput,
            "invalid-utf8",
            format!(
                "stdout is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    let doc = parse_one(text)?;
    if let Some(p) = doc.get("protocol").and_then(Value::as_u64) {
        if !manifest
            .protocol_versions
            .iter()
            .any(|v| u64::from(*v) == p)
        {
            return Err(failure(
                PluginStatus::WrongProtocol,
                "wrong-protocol",
                format!(
                    "result says `protocol: {p}`, but its manifest lists {:?} and qod speaks 1",
                    manifest.protocol_versions
                ),
            ));
        }
    }
    let problems = violations(SchemaKind::Result.validator(), &doc);
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .take(5)
            .map(|v| {
                format!(
                    "{}: {}",
                    if v.pointer.is_empty() {
                        "/"
                    } else {
                        &v.pointer
                    },
                    v.message
                )
            })
            .collect();
        return Err(failure(
            PluginStatus::InvalidResult,
            "invalid-result",
            format!(
                "result does not match the result schema: {}",
                list.join("; ")
            ),
        ));
    }
    let mut result: PluginResult = serde_json::from_value(doc).map_err(|e| {
        failure(
            PluginStatus::InvalidResult,
            "invalid-result",
            format!("result does not match the result schema: {e}"),
        )
    })?;
    // The runner resumes pending plugins before interpreting; one that gets
    // here had no way to be resumed.
    if result.status == ResultStatus::Pending {
        return Err(failure(
            PluginStatus::InvalidResult,
            "pending",
            "answered `pending` where it cannot be resumed".into(),
        ));
    }
    if result.status == ResultStatus::Error {
        let info = result.error.unwrap_or(ErrorInfo {
            kind: "unspecified".into(),
            message: "the plugin reported an error without saying what".into(),
        });
        return Err(failure(PluginStatus::PluginError, &info.kind, info.message));
    }
    let mut seen = HashSet::new();
    for m in &mut result.metrics {
        let Some(decl) = manifest.metric(&m.name) else {
            return Err(failure(
                PluginStatus::UndeclaredMetric,
                "undeclared-metric",
                format!(
                    "reported metric `{}`, which its manifest does not declare (it declares {})",
                    m.name,
                    manifest
                        .metrics
                        .iter()
                        .map(|d| format!("`{}`", d.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if !seen.insert(m.name.clone()) {
            return Err(failure(
                PluginStatus::InvalidResult,
                "invalid-result",
                format!("reported metric `{}` twice", m.name),
            ));
        }
        let bad_sample = m.samples.iter().flatten().find(|s| !s.is_finite());
        if !m.value.is_finite() || bad_sample.is_some() {
            return Err(failure(
                PluginStatus::NonFinite,
                "non-finite",
                format!(
                    "metric `{}` has a value that is not a finite number",
                    m.name
                ),
            ));
        }
        if m.unit.is_none() {
            m.unit = decl.unit.clone();
        }
        // A unit that does not convert to the declared one would only
        // surface later as an objective that "cannot compare".
        if let (Some(got), Some(declared)) = (&m.unit, &decl.unit) {
            let (g, d) = (
                crate::units::Unit::of_metric(Some(got)),
                crate::units::Unit::of_metric(Some(declared)),
            );
            if g.convert(1.0, &d).is_none() {
                return Err(failure(
                    PluginStatus::InvalidResult,
                    "invalid-result",
                    format!(
                        "metric `{}` is reported in `{got}`, which does not convert to `{declared}`, the unit its manifest declares; report it in `{declared}` (or a unit of the same kind), or fix the manifest",
                        m.name
                    ),
                ));
            }
        }
        if m.better.is_none() {
            m.better = Some(decl.better);
        }
    }
    Ok(result)
}

/// Exactly one JSON object, surrounded by nothing but whitespace.
fn parse_one(text: &str) -> Result<Value, Failure> {
    let invalid = |m: String| failure(PluginStatus::InvalidOutput, "invalid-output", m);
    if text.trim().is_empty() {
        return Err(invalid(
            "printed nothing on stdout; a plugin prints exactly one JSON result object".into(),
        ));
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let first = match stream.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            if let Some(token) = non_finite_token(text) {
                return Err(failure(
                    PluginStatus::NonFinite,
                    "non-finite",
                    format!("result contains `{token}`, which is not a finite number (JSON has no NaN or Infinity)"),
                ));
            }
            // Text before the result is nearly always a log line.
            let logged = !text.trim_start().starts_with(['{', '[']);
            return Err(invalid(format!(
                "stdout is not JSON: {e}; it starts with {}{}",
                head(text),
                if logged {
                    ", which reads like a log line: a plugin logs on stderr (`>&2` in sh, `print(..., file=sys.stderr)` in Python, `eprintln!` in Rust) and prints only its result on stdout"
                } else {
                    ""
                }
            )));
        }
        None => unreachable!("non-empty text yields a value or an error"),
    };
    match stream.next() {
        None => {}
        Some(_) => {
            return Err(invalid(
                "stdout holds more than one JSON document; print exactly one result object (logs go to stderr)".into(),
            ))
        }
    }
    if !first.is_object() {
        return Err(invalid(format!(
            "stdout is JSON but not an object: {}",
            head(text)
        )));
    }
    Ok(first)
}

fn head(text: &str) -> String {
    let t = text.trim_start();
    let mut end = t.len().min(80);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}", &t[..end])
}

/// Finds `NaN`, `Infinity` or `-Infinity` outside strings (what Python's
/// `json.dumps` writes for non-finite floats).
fn non_finite_token(text: &str) -> Option<&'static str> {
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else {
            for token in ["NaN", "-Infinity", "Infinity"] {
                if bytes[i..].starts_with(token.as_bytes()) {
                    return Some(token);
                }
            }
        }
        i += 1;
    }
    None
}

/// Formats a metric for progress lines.
pub fn brief(outcome: &PluginOutcome) -> String {
    outcome
        .metrics
        .iter()
        .take(3)
        .map(|m| {
            format!(
                "{}={}{}",
                m.name,
                format_value(m.value),
                m.unit.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_non_finite_tokens_outside_strings() {
        assert_eq!(non_finite_token(r#"{"a": NaN}"#), Some("NaN"));
        assert_eq!(non_finite_token(r#"{"a": -Infinity}"#), Some("-Infinity"));
        assert_eq!(non_finite_token(r#"{"NaN": "Infinity \" NaN"}"#), None);
    }

    #[test]
    fn a_log_line_on_stdout_gets_the_fix() {
        let e = parse_one("running 3 benchmarks\n{\"protocol\": 1}\n").unwrap_err();
        let message = e.message;
        assert!(
            message.contains("reads like a log line: a plugin logs on stderr"),
            "{message}"
        );
        // Broken JSON is not a log line.
        let e = parse_one("{\"protocol\": 1,").unwrap_err();
        assert!(!e.message.contains("log line"), "{}", e.message);
    }

    #[test]
    fn one_document_only() {
        assert!(parse_one("{}\n").is_ok());
        assert_eq!(
            parse_one("{} {}").unwrap_err().status,
            PluginStatus::InvalidOutput
        );
        assert_eq!(
            parse_one("[1]").unwrap_err().status,
            PluginStatus::InvalidOutput
        );
        assert_eq!(
            parse_one("").unwrap_err().status,
            PluginStatus::InvalidOutput
        );
    }
}
