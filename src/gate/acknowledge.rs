//! Which acknowledgements apply to this build: the policy's, whose scope
//! (request, branch, `from:` revision) takes it in, and on a request those
//! in its head commit's `Qod-Acknowledge:` trailers.

use crate::plan::acknowledged::{self, Ack, AckSource, Build};
use crate::plan::Plan;
use crate::policy::criterion;
use crate::policy::Acknowledgement;
use crate::protocol::Source;
use std::collections::BTreeSet;
use std::path::Path;

/// Commits after a `from:` revision read at most.
const LINE_MAX: usize = 10_000;

/// Gives `plan`'s objectives the acknowledgements that apply to this build;
/// what a user should know (expired ones, unreadable trailers, ones that
/// name nothing) goes to `warnings`.
pub(super) fn assign(
    plan: &mut Plan,
    source: &Source,
    cwd: &Path,
    event: Option<&Path>,
    today: chrono::NaiveDate,
    warnings: &mut Vec<String>,
) {
    let mut acks = plan.acknowledgements.clone();
    if let (Some(n), Some(head)) = (source.pull_request, crate::ci::request_head(source, event)) {
        acks.extend(trailers(plan, cwd, &head, n, warnings));
    }
    if acks.is_empty() {
        return;
    }
    let head = source.revision.clone().unwrap_or_else(|| "HEAD".into());
    let descends_from =
        |rev: &str| crate::git::run(cwd, &["merge-base", "--is-ancestor", rev, &head]).is_ok();
    let line_from = |rev: &str| -> Option<BTreeSet<String>> {
        let full = crate::git::run(
            cwd,
            &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
        )
        .ok()?;
        let mut line: BTreeSet<String> = crate::git::run(
            cwd,
            &[
                "rev-list",
                "--ancestry-path",
                &format!("--max-count={LINE_MAX}"),
                &format!("{rev}..{head}"),
            ],
        )
        .ok()?
        .lines()
        .map(str::to_owned)
        .collect();
        line.insert(full.trim().to_owned());
        Some(line)
    };
    let build = Build {
        pull_request: source.pull_request,
        branch: source.branch.as_deref(),
        descends_from: &descends_from,
        line_from: &line_from,
        today,
    };
    let unused = acknowledged::assign(&mut plan.objectives, &acks, &build);
    for a in unused {
        warnings.push(format!(
            "the acknowledgement of {} ({}) names no objective of this run",
            a.target(),
            a.describe()
        ));
    }
    let mut expired: Vec<&Ack> = Vec::new();
    for a in plan.objectives.iter().flat_map(|o| &o.acknowledgements) {
        if a.expired && !expired.contains(&a) {
            expired.push(a);
        }
    }
    for a in expired {
        warnings.push(format!(
            "the acknowledgement of {} (`{}` by {}) expired on {}: it is ignored; renew its `expires` or remove it",
            a.target(),
            a.entry.accept,
            a.entry.owner,
            a.expires.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
}

/// The acknowledgements in the trailers of a request's head commit, checked
/// against the plan as the policy's are.
fn trailers(
    plan: &Plan,
    cwd: &Path,
    head: &str,
    request: u64,
    warnings: &mut Vec<String>,
) -> Vec<Ack> {
    let Ok(text) = crate::git::run(cwd, &["show", "-s", "--format=%an%x00%B", head]) else {
        return Vec::new();
    };
    let (author, message) = text.split_once('\0').unwrap_or(("", &text));
    if !message.contains("Qod-Acknowledge:") {
        return Vec::new();
    }
    let (acks, problems) = parse_trailers(message, author.trim(), head, request);
    for p in problems {
        warnings.push(format!(
            "a `Qod-Acknowledge:` trailer of {head} is not read: {p}"
        ));
    }
    acks.into_iter()
        .filter(|a| match acknowledged::check_trailer(a, &plan.objectives) {
            Ok(()) => true,
            Err(e) => {
                warnings.push(format!(
                    "a `Qod-Acknowledge:` trailer of {head} is not read: {e}"
                ));
                false
            }
        })
        .collect()
}

/// The acknowledgements in `message` (a request's head commit, by `author`):
/// one per `Qod-Acknowledge: <objective> <criterion> — <reason>` line
/// (`--` for the dash also), or the line and why it was not read.
fn parse_trailers(
    message: &str,
    author: &str,
    revision: &str,
    pull_request: u64,
) -> (Vec<Ack>, Vec<String>) {
    let mut acks = Vec::new();
    let mut problems = Vec::new();
    for line in message.lines() {
        let Some(rest) = line.trim().strip_prefix("Qod-Acknowledge:") else {
            continue;
        };
        let rest = rest.trim();
        let parsed = rest
            .split_once(" — ")
            .or_else(|| rest.split_once(" -- "))
            .and_then(|(head, reason)| {
                let (objective, accept) = head.trim().split_once(char::is_whitespace)?;
                let accept = accept.trim();
                Some((objective, accept, reason.trim(), criterion::parse(accept)))
            });
        match parsed {
            Some((objective, accept, reason, Ok(parsed))) if !reason.is_empty() => {
                acks.push(Ack {
                    entry: Acknowledgement {
                        objective: Some(objective.to_owned()),
                        metric: None,
                        accept: accept.to_owned(),
                        reason: reason.to_owned(),
                        owner: author.to_owned(),
                        link: None,
                        expires: String::new(),
                        pull_request: Some(pull_request),
                        branch: None,
                        from: None,
                    },
                    source: AckSource::Trailer {
                        revision: revision.to_owned(),
                    },
                    accept: parsed,
                    expires: None,
                    expired: false,
                    since: None,
                });
            }
            Some((_, _, _, Err(e))) => problems.push(format!("`{}`: {e}", line.trim())),
            _ => problems.push(format!(
                "`{}`: write `Qod-Acknowledge: <objective> <criterion> — <reason>`",
                line.trim()
            )),
        }
    }
    (acks, problems)
}
