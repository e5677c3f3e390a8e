//! GitHub Actions: step outputs (`decision`, `score`, `failed`) and
//! `::error::`/`::warning::` annotations for failed and warned objectives.
//! Text from plugins is escaped, and anything printed verbatim (stderr
//! tails) is wrapped in `::stop-commands::` so it cannot issue workflow
//! commands.

use crate::decision::{Decision, OutcomeEffect, PluginStatus};

/// Escapes a workflow command's message.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .chars()
        // ANSI escapes and NUL would reach the log as they are.
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Escapes a workflow command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `key=value` lines for `$GITHUB_OUTPUT`.
pub fn outputs(d: &Decision) -> String {
    let failed: Vec<&str> = d
        .objectives
        .iter()
        .filter(|o| o.effect == OutcomeEffect::Fail)
        .map(|o| o.id.as_str())
        .collect();
    format!(
        "decision={}\nscore={}\nfailed={}\nrun-id={}\n",
        d.decision.as_str(),
        crate::units::format_value(d.score),
        failed.join(","),
        d.run.id
    )
}

/// A gate's warning (a new store, a baseline it could not read) as a
/// workflow command, so the CI shows it on the run's page.
pub fn warning(text: &str) -> String {
    format!("::warning title=qod::{}", data(text))
}

/// One workflow command per failed or warned objective and failed plugin.
pub fn annotations(d: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    for o in &d.objectives {
        let level = match o.effect {
            OutcomeEffect::Fail => "error",
            OutcomeEffect::Warn => "warning",
            _ => continue,
        };
        out.push(format!(
            "::{level} title={}::{}",
            property(&format!("qod {} {}", o.id, o.status.as_str())),
            data(&o.reason)
        ));
    }
    // A failed plugin is annotated as what it does to the gate: an error
    // when an objective on it fails the gate, a warning when one warns, and
    // not at all when nothing the gate decides depends on it.
    for p in d.plugins.iter().filter(|p| p.status != PluginStatus::Ok) {
        let prefix = format!("{}.", p.instance);
        let effects = d
            .objectives
            .iter()
            .filter(|o| o.metric.starts_with(&prefix))
            .map(|o| o.effect);
        let level = if effects.clone().any(|e| e == OutcomeEffect::Fail) {
            "error"
        } else if effects.into_iter().any(|e| e == OutcomeEffect::Warn) {
            "warning"
        } else {
            continue;
        };
        let msg = p.error.as_ref().map(|e| e.message.as_str()).unwrap_or("");
        out.push(format!(
            "::{level} title={}::{}",
            property(&format!("qod plugin {} {}", p.instance, p.status.as_str())),
            data(msg)
        ));
    }
    out
}

/// Wraps verbatim text so the runner does not read commands in it.
pub fn verbatim(text: &str, token: &str) -> String {
    format!("::stop-commands::{token}\n{text}\n::{token}::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(property("a: b, c"), "a%3A b%2C c");
    }
}
