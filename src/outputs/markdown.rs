//! A short Markdown summary: the verdict, a table of objectives with status,
//! value, target and change against the baseline, and the failed plugins
//! with the end of their stderr, fenced so it renders as text.

use crate::decision::{
    Decision, ObjectiveOutcome, ObjectiveStatus, OutcomeEffect, PluginStatus, Verdict,
};
use crate::units::{format_value, format_with_unit};

/// A table cell of text that may come from plugins or requests: one
/// line, and no raw HTML tags, images or @-mentions outside code spans (a
/// comment on a pull request renders them, fetches the images and
/// notifies whoever is named); inside a code span they are shown as they
/// are, and an unmatched backtick is escaped so that no span opens.
fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let ticks = s.matches('`').count();
    let (mut out, mut inside, mut seen) = (String::with_capacity(s.len()), false, 0);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        // Raw HTML (and autolinks) needs `<` before a letter, `/`, `!` or
        // `?`; `<= 15 s` stays as it reads.
        let opens_tag = c == '<'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
        match c {
            '`' => {
                seen += 1;
                if ticks % 2 == 1 && seen == ticks {
                    out.push_str("\\`");
                } else {
                    inside = !inside;
                    out.push(c);
                }
            }
            _ if inside => out.push(c),
            '<' if opens_tag => out.push_str("&lt;"),
            '@' => out.push_str("@\u{200b}"),
            '[' if out.ends_with('!') => out.push_str("\\["),
            c => out.push(c),
        }
    }
    out
}

fn mark(o: &ObjectiveOutcome) -> &'static str {
    match (o.effect, o.status) {
        (OutcomeEffect::None, _) => "👻 shadow",
        (_, ObjectiveStatus::Pass) => "✅ pass",
        (_, ObjectiveStatus::Acknowledged) => "☑️ acknowledged",
        (_, ObjectiveStatus::Warn) => "⚠️ warn",
        (_, ObjectiveStatus::Fail) if o.effect == OutcomeEffect::Warn => "⚠️ fail (warn only)",
        (_, ObjectiveStatus::Fail) => "❌ fail",
        (_, ObjectiveStatus::NoData) => "❔ no data",
        (_, ObjectiveStatus::NoBaseline) => "🆕 no baseline",
        (_, ObjectiveStatus::Inconclusive) => "❓ inconclusive",
    }
}

/// A code fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// The summary for `d`, with a sparkline of each metric's recent values
/// from `trends` (`(metric, values oldest first)`) and a link to the HTML
/// report where the pipeline publishes it (`QOD_REPORT_URL`).
pub fn render(d: &Decision, trends: &[(String, Vec<f64>)], report_url: Option<&str>) -> String {
    let verdict = match d.decision {
        Verdict::Pass => "✅ pass",
        Verdict::Warn => "⚠️ warn",
        Verdict::Fail => "❌ fail",
    };
    let mut s = format!(
        "## qod: {verdict} (score {})\n\n{}\n\n",
        format_value(d.score),
        cell(&d.summary)
    );
    s.push_str(
        "| | Objective | Base | Value | Change | Trend | Target | Reason |\n|---|---|--:|--:|--:|---|--:|---|\n",
    );
    // What failed the gate first, then what warned, then the rest.
    let mut ordered: Vec<&ObjectiveOutcome> = d.objectives.iter().collect();
    ordered.sort_by_key(|o| match o.effect {
        OutcomeEffect::Fail => 0,
        OutcomeEffect::Warn => 1,
        _ => 2,
    });
    for o in ordered {
        let unit = o.unit.as_deref().unwrap_or("");
        // Side by side, both columns are the medians over the pairs that
        // the paired change comes from, and say so.
        let value = match &o.comparison {
            Some(c) => format!(
                "{} (median of {})",
                format_with_unit(c.candidate_value, unit),
                c.pairs
            ),
            None => o
                .value
                .map(|v| format_with_unit(v, unit))
                .unwrap_or_else(|| "–".into()),
        };
        // Side by side, the base measured beside the candidate (with where it came from).
        let base = match (&o.comparison, o.baseline.as_ref().and_then(|b| b.value)) {
            (Some(c), _) => format!(
                "{} (median of {}, `{}`)",
                format_with_unit(c.base_value, unit),
                c.pairs,
                c.base
            ),
            (None, Some(v)) => format_with_unit(v, unit),
            (None, None) => "–".into(),
        };
        let target = o.passes_if.clone().unwrap_or_else(|| "–".into());
        let pct = |c: f64| format!("{}{}%", if c > 0.0 { "+" } else { "" }, format_value(c));
        // With a significance test, the change's confidence interval too.
        let interval = o
            .test
            .as_ref()
            .and_then(|t| Some((t.change_pct_low?, t.change_pct_high?)))
            .or_else(|| o.comparison.as_ref().map(|c| (c.ci_low_pct, c.ci_high_pct)))
            .map(|(lo, hi)| format!(" [{}, {}]", pct(lo), pct(hi)))
            .unwrap_or_default();
        let change = o
            .change_pct
            .map(|c| format!("{}{interval}", pct(c)))
            .unwrap_or_else(|| "–".into());
        let trend = trends
            .iter()
            .find(|(k, _)| *k == o.metric)
            .filter(|(_, v)| v.len() >= 2)
            .map(|(_, v)| sparkline(v))
            .unwrap_or_else(|| "–".into());
        s.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
            mark(o),
            cell(&o.id),
            cell(&base),
            cell(&value),
            change,
            trend,
            cell(&target),
            cell(&o.reason)
        ));
    }
    // Regressions accepted on purpose, with who accepted them and where it
    // is written: reviewers see a trailer's acknowledgement as such.
    let acknowledged: Vec<&ObjectiveOutcome> = d
        .objectives
        .iter()
        .filter(|o| o.status == crate::decision::ObjectiveStatus::Acknowledged)
        .collect();
    if !acknowledged.is_empty() {
        s.push_str("\n### Acknowledged\n\n");
        for o in acknowledged {
            let Some(a) = &o.acknowledgement else {
                continue;
            };
            let (where_, until) = match (a.source.as_str(), &a.expires) {
                ("trailer", _) => (
                    "a `Qod-Acknowledge:` trailer of the request's head commit".to_owned(),
                    "for this request".to_owned(),
                ),
                (src, Some(d)) => (
                    if src == "file" {
                        "the acknowledgements file".to_owned()
                    } else {
                        "the policy".to_owned()
                    },
                    format!("until {d}"),
                ),
                (_, None) => ("the policy".to_owned(), String::new()),
            };
            s.push_str(&format!(
                "- `{}`: `{}` accepted by {} {} ({}): {}{}\n",
                cell(&o.id),
                cell(&a.accept),
                cell(&a.owner),
                until,
                where_,
                cell(&a.reason),
                a.link
                    .as_deref()
                    .map(|l| format!(" — {}", cell(l)))
                    .unwrap_or_default()
            ));
        }
    }
    let broken: Vec<_> = d
        .plugins
        .iter()
        .filter(|p| p.status != PluginStatus::Ok)
        .collect();
    if !broken.is_empty() {
        s.push_str("\n### Plugin problems\n\n");
        for p in broken {
            let msg = p.error.as_ref().map(|e| e.message.as_str()).unwrap_or("");
            s.push_str(&format!(
                "- **`{}`** (`{}`) — {}: {}\n",
                p.instance,
                p.name,
                p.status.as_str(),
                cell(msg)
            ));
            if let Some(tail) = &p.stderr_tail {
                let lines: Vec<&str> = tail.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n");
                let f = fence(&tail);
                s.push_str(&format!("\n  <details><summary>stderr (last lines)</summary>\n\n{f}text\n{tail}\n{f}\n\n  </details>\n\n"));
            }
        }
    }
    let mut footer = vec![format!("run `{}`", d.run.id)];
    if let Some(c) = &d.run.calibration {
        footer.push(format!(
            "runner calibrated {}",
            c.made_at.get(..10).unwrap_or_default()
        ));
    }
    if let Some(url) = report_url {
        footer.push(format!("[HTML report]({url})"));
    }
    if let Some(r) = &d.pipeline.revision {
        footer.push(format!("revision `{}`", &r[..r.len().min(12)]));
    }
    if let Some(b) = &d.pipeline.branch {
        footer.push(format!("branch `{b}`"));
    }
    match (d.pipeline.pull_request, &d.pipeline.base_branch) {
        (Some(n), Some(base)) => footer.push(format!("request #{n} into `{base}`")),
        (None, Some(base)) => footer.push(format!("compared with `{base}`")),
        (Some(n), None) => footer.push(format!("request #{n}")),
        (None, None) => {}
    }
    if let Some(mb) = &d.pipeline.merge_base {
        footer.push(format!("merge-base `{}`", &mb[..mb.len().min(12)]));
    }
    s.push_str(&format!("\n<sub>{}</sub>\n", footer.join(" · ")));
    s
}

/// A text sparkline of `values` (`▁▂▃▅▇`), oldest first.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    finite
        .iter()
        .map(|v| {
            if hi > lo {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            } else {
                BARS[3]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 8.0]), "▁▂▃█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn fences_outgrow_the_content() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```` b"), "`````");
    }
}
