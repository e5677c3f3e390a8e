//! Acknowledgements, checked: each entry's target, accepted criterion and
//! expiry, from the policy or the file it names, or from a request's head
//! commit (`Qod-Acknowledge:`); and which of them apply to a build.

use super::{pattern_matches, PlannedObjective};
use crate::diag::{pointer, Diagnostic, FileKind};
use crate::policy::criterion::{self, Parsed};
use crate::policy::{Acknowledge, Acknowledgement, LoadedPolicy};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Where an acknowledgement was written.
#[derive(Debug, Clone, PartialEq)]
pub enum AckSource {
    /// In the policy's `acknowledge:` list.
    Policy,
    /// In the file `acknowledge:` names.
    File(PathBuf),
    /// In the `Qod-Acknowledge:` trailer of a request's head commit.
    Trailer { revision: String },
}

/// One acknowledgement, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub entry: Acknowledgement,
    pub source: AckSource,
    pub accept: Parsed,
    /// The last day it applies; a trailer's lasts as long as its request.
    pub expires: Option<NaiveDate>,
    /// Past `expires` on the build's day (set when assigned to a build).
    pub expired: bool,
    /// For `from: REV`: REV and the build's ancestors that descend from it
    /// (set when assigned to a build). Once runs of these exist, older
    /// runs are no baselines of the objective.
    pub since: Option<std::sync::Arc<std::collections::BTreeSet<String>>>,
}

/// What a build is, for an acknowledgement's scope.
pub struct Build<'a> {
    pub pull_request: Option<u64>,
    pub branch: Option<&'a str>,
    /// Whether the build's revision is `rev` or descends from it.
    pub descends_from: &'a dyn Fn(&str) -> bool,
    /// `rev` and the build's ancestors that descend from it.
    pub line_from: &'a dyn Fn(&str) -> Option<std::collections::BTreeSet<String>>,
    pub today: NaiveDate,
}

impl Ack {
    /// Whether it names `row`: an objective, or one metric of a pattern
    /// objective.
    pub fn names(&self, row: &PlannedObjective) -> bool {
        if let Some(id) = &self.entry.objective {
            return *id == row.spec.id || row.family.as_ref().is_some_and(|f| f.objective == *id);
        }
        self.entry
            .metric
            .as_deref()
            .is_some_and(|p| pattern_matches(p, &row.spec.metric))
    }

    /// Whether it may name `o` or one of its rows, before the rows are known.
    fn may_name(&self, o: &PlannedObjective) -> bool {
        match (&self.entry.objective, &self.entry.metric) {
            (Some(id), _) => {
                *id == o.spec.id || (id.starts_with(&format!("{}[", o.spec.id)) && o.is_pattern())
            }
            (None, Some(_)) if o.is_pattern() => self.entry.metric.as_deref().is_some_and(|p| {
                p.split_once('.')
                    .is_some_and(|(inst, _)| inst == o.instance.as_str() || inst == "*")
            }),
            _ => self.names(o),
        }
    }

    /// Whether its scope takes in `build` (its expiry aside).
    pub fn in_scope(&self, build: &Build) -> bool {
        let e = &self.entry;
        e.pull_request.is_none_or(|n| build.pull_request == Some(n))
            && e.branch.as_deref().is_none_or(|b| build.branch == Some(b))
            && e.from.as_deref().is_none_or(|r| (build.descends_from)(r))
    }

    /// "`<= +25%` accepted by perf-team until 2027-01-31: “the new parser
    /// trades speed for correctness” (https://…)".
    pub fn describe(&self) -> String {
        let e = &self.entry;
        let until = match (&self.source, self.expires) {
            (AckSource::Trailer { revision }, _) => format!(
                " for this request (trailer of {})",
                &revision[..revision.len().min(12)]
            ),
            (_, Some(d)) => format!(" until {d}"),
            (_, None) => String::new(),
        };
        let link = e
            .link
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        format!(
            "`{}` accepted by {}{until}: “{}”{link}",
            e.accept, e.owner, e.reason
        )
    }

    /// Whether `revision` is on the line of its `from:` revision (that
    /// revision or a descendant the build descends from).
    pub fn on_line(&self, revision: &str) -> bool {
        self.since.as_deref().is_some_and(|line| {
            // Records hold full ids; only an abbreviated one is looked for
            // by prefix (a scan of the line).
            line.contains(revision)
                || ((7..40).contains(&revision.len())
                    && line.iter().any(|l| l.starts_with(revision)))
        })
    }

    /// What it names, for messages: "objective `x`" or "metrics `bench.*`".
    pub fn target(&self) -> String {
        match (&self.entry.objective, &self.entry.metric) {
            (Some(id), _) => format!("objective `{id}`"),
            (_, Some(m)) => format!("metrics `{m}`"),
            _ => "nothing".into(),
        }
    }
}

/// Reads and checks the policy's acknowledgements against its objectives;
/// problems go to `diags` (located in their own file).
pub(super) fn check(
    policy: &LoadedPolicy,
    objectives: &[PlannedObjective],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Ack> {
    let (entries, source, file, text) = match &policy.policy.acknowledge {
        None => return Vec::new(),
        Some(Acknowledge::List(list)) => (
            list.clone(),
            AckSource::Policy,
            policy.file.clone(),
            policy.text.clone(),
        ),
        Some(Acknowledge::File(rel)) => {
            let file = match policy.dir() {
                d if d == Path::new(".") => rel.clone(),
                d => d.join(rel),
            };
            match read_file(&file, &policy.file) {
                Ok((list, text)) => (list, AckSource::File(file.clone()), file, text),
                Err(d) => {
                    diags.push(*d);
                    return Vec::new();
                }
            }
        }
    };
    let prefix = match source {
        AckSource::Policy => vec!["acknowledge".to_owned()],
        _ => Vec::new(),
    };
    let mut found = Vec::new();
    let mut mine = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let at = |field: &str| {
            let mut segs = prefix.clone();
            segs.extend([i.to_string(), field.to_owned()]);
            pointer(segs)
        };
        let kind = match source {
            AckSource::Policy => FileKind::Policy,
            _ => FileKind::Acknowledgements,
        };
        let diag = |msg: String, field: &str| Diagnostic::new(kind, &file, msg).at(at(field));
        let checked = check_target(&e, objectives).and_then(|accept| {
            NaiveDate::parse_from_str(&e.expires, "%Y-%m-%d")
                .map(|d| (accept, d))
                .map_err(|err| {
                    (
                        "expires",
                        format!("`{}` is not a date: {err}", e.expires),
                        "write the last day the acknowledgement applies as `YYYY-MM-DD` (UTC)"
                            .into(),
                    )
                })
        });
        match checked {
            Ok((accept, expires)) => found.push(Ack {
                entry: e,
                source: source.clone(),
                accept,
                expires: Some(expires),
                expired: false,
                since: None,
            }),
            Err((field, problem, fix)) => mine.push(diag(problem, field).hint(fix)),
        }
    }
    crate::diag::locate_all(&mut mine, &file, &text);
    diags.extend(mine);
    found
}

/// Reads an acknowledgements file: a YAML list of entries.
fn read_file(
    file: &Path,
    policy: &Path,
) -> Result<(Vec<Acknowledgement>, String), Box<Diagnostic>> {
    let diag = |msg: String| Diagnostic::new(FileKind::Acknowledgements, file, msg);
    let text = std::fs::read_to_string(file).map_err(|e| {
        Diagnostic::new(
            FileKind::Policy,
            policy,
            format!(
                "cannot read the acknowledgements file `{}`: {e}",
                file.display()
            ),
        )
        .at("/acknowledge")
        .hint("`acknowledge:` names a YAML file relative to the policy, or holds the list itself")
    })?;
    let value: serde_json::Value =
        serde_norway::from_str(&text).map_err(|e| diag(format!("not valid YAML: {e}")))?;
    let value = if value.is_null() {
        serde_json::Value::Array(Vec::new())
    } else {
        value
    };
    let list = serde_json::from_value(value).map_err(|e| {
        Box::new(diag(format!("not a list of acknowledgements: {e}")).hint(
            "each entry is `{ objective: ID, accept: \"<= +25%\", reason: …, owner: …, expires: YYYY-MM-DD }`; `qod schema policy` shows every field",
        ))
    })?;
    Ok((list, text))
}

type Problem = (&'static str, String, String);

/// Checks a trailer's acknowledgement as the policy's are checked: what
/// is wrong with it, and the fix.
pub fn check_trailer(ack: &Ack, objectives: &[PlannedObjective]) -> Result<(), String> {
    check_target(&ack.entry, objectives)
        .map(|_| ())
        .map_err(|(_, problem, fix)| format!("{problem} ({fix})"))
}

/// Checks what an entry names and the criterion it accepts.
fn check_target(e: &Acknowledgement, objectives: &[PlannedObjective]) -> Result<Parsed, Problem> {
    let named: Vec<&PlannedObjective> = match (&e.objective, &e.metric) {
        (Some(_), Some(_)) | (None, None) => {
            return Err((
                "objective",
                "an acknowledgement names `objective` or `metric`, one of the two".into(),
                "give the objective's id (`objective: latency`) or a pattern of metrics (`metric: bench.*parse*`)".into(),
            ))
        }
        (Some(id), None) => {
            let base = id.split_once('[').map_or(id.as_str(), |(b, _)| b);
            let found: Vec<_> = objectives.iter().filter(|o| o.spec.id == base).collect();
            if found.is_empty() {
                return Err((
                    "objective",
                    format!("there is no objective `{base}` to acknowledge"),
                    format!(
                        "{}the objectives are: {}",
                        crate::diag::did_you_mean(base, objectives.iter().map(|o| o.spec.id.as_str())),
                        objectives
                            .iter()
                            .map(|o| format!("`{}`", o.spec.id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if base != id && !found.iter().any(|o| o.is_pattern()) {
                return Err((
                    "objective",
                    format!("`{id}` names one metric of `{base}`, which is not a pattern objective"),
                    format!("write `objective: {base}`"),
                ));
            }
            found
        }
        (None, Some(m)) => {
            let (inst, _) = m.split_once('.').unwrap_or(("", ""));
            objectives
                .iter()
                .filter(|o| inst == "*" || o.instance.as_str() == inst)
                .collect()
        }
    };
    if named.is_empty() {
        return Err((
            "metric",
            format!(
                "`{}` matches no objective's metric",
                e.metric.as_deref().unwrap_or_default()
            ),
            "write it as `<instance>.<metric>` (a `*` stands for any characters), naming an instance whose metrics an objective gates".into(),
        ));
    }
    let accept = criterion::parse(&e.accept)
        .map_err(|err| ("accept", err.to_string(), super::CRITERION_HINT.into()))?;
    for o in &named {
        if o.compared.is_some() {
            super::compared::tolerance_of(&accept).map_err(|(p, fix)| {
                (
                    "accept",
                    format!("objective `{}` is judged side by side: {p}", o.spec.id),
                    fix,
                )
            })?;
        } else if let Some(unit) = &o.declared_unit {
            accept.resolve(unit).map_err(|err| {
                (
                    "accept",
                    format!("for objective `{}`: {err}", o.spec.id),
                    super::CRITERION_HINT.into(),
                )
            })?;
        }
    }
    Ok(accept)
}

/// Gives each objective the acknowledgements in `acks` that may name it
/// and whose scope takes in `build` (expired ones included: the outcome
/// says they were ignored). Returns those that apply to nothing.
pub fn assign(objectives: &mut [PlannedObjective], acks: &[Ack], build: &Build) -> Vec<Ack> {
    let mut unused = Vec::new();
    for a in acks.iter().filter(|a| a.in_scope(build)) {
        let a = &Ack {
            expired: a.expires.is_some_and(|d| d < build.today),
            since: a
                .entry
                .from
                .as_deref()
                .and_then(|r| (build.line_from)(r))
                .map(std::sync::Arc::new),
            ..a.clone()
        };
        let mut used = false;
        for o in objectives.iter_mut().filter(|o| a.may_name(o)) {
            o.acknowledgements.push(a.clone());
            used = true;
        }
        if !used {
            unused.push(a.clone());
        }
    }
    unused
}
