//! Everything `qod run` checks before it runs anything: the policy, each
//! plugin's manifest, each instance's config, each objective's metric and
//! criteria. The result is a [`Plan`], or every problem found at once.
//!
//! Size: one pass over the policy that gathers every problem at once; the
//! checks share its pointers and its list of diagnostics.

use crate::diag::{did_you_mean, pointer, Diagnostic, Diagnostics, FileKind};
use crate::duration::HumanDuration;
use crate::ids::{InstanceId, MetricName};
use crate::plugin::{check_config, Discovery, DiscoveryError, ResolvedPlugin};
use crate::policy::criterion::{self, Parsed};
use crate::policy::{load_policy, BaselineSpec, DecisionSpec, LoadedPolicy, Objective};
use crate::protocol::Better;
use crate::units::Unit;
pub use compared::{tolerance_of, CompareTolerance};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod acknowledged;
mod compared;
mod parts;

/// How long a plugin may run when neither the policy nor its manifest says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// A checked policy, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub policy: LoadedPolicy,
    pub instances: Vec<PlannedInstance>,
    pub objectives: Vec<PlannedObjective>,
    /// The policy's acknowledgements, checked; which apply is known once
    /// the build is ([`acknowledged::assign`]).
    pub acknowledgements: Vec<acknowledged::Ack>,
}

/// One plugin instance, resolved.
#[derive(Debug, Clone)]
pub struct PlannedInstance {
    pub id: InstanceId,
    pub plugin: ResolvedPlugin,
    /// `with:`, checked, with defaults filled in.
    pub config: Value,
    pub timeout: Duration,
    /// Names (or `PREFIX*`) of variables passed through: the manifest's and the policy's.
    pub env: Vec<String>,
    /// Runs per gate, pooled (`repeat:`), and how their values combine.
    pub repeat: u32,
    pub repeat_aggregate: crate::policy::Aggregate,
}

/// One objective, with its metric resolved and criteria parsed.
#[derive(Debug, Clone)]
pub struct PlannedObjective {
    pub spec: Objective,
    pub instance: InstanceId,
    pub metric: MetricName,
    /// The unit declared in the manifest; `None` for a pattern whose results
    /// carry the unit, checked when the value arrives.
    pub declared_unit: Option<Unit>,
    pub better: Better,
    pub pass: Vec<Parsed>,
    pub warn: Vec<Parsed>,
    pub baseline: BaselineSpec,
    /// For an objective `against: base`: its tolerance for the paired test.
    pub compared: Option<CompareTolerance>,
    /// For one metric of a pattern objective: the objective it comes from.
    pub family: Option<crate::decision::Family>,
    /// The acknowledgements whose scope takes in this build and that may
    /// name this objective (or rows of it); the first that names a row
    /// judges it.
    pub acknowledgements: Vec<acknowledged::Ack>,
}

impl PlannedObjective {
    /// The store key of this objective's metric: `<instance>.<metric>`.
    pub fn key(&self) -> &str {
        &self.spec.metric
    }

    /// Whether `metric` is a pattern (`bench.*`): the objective applies to
    /// every metric of its instance that matches.
    pub fn is_pattern(&self) -> bool {
        self.metric.as_str().contains('*')
    }

    /// Whether the metric `name` (without the instance) matches this
    /// objective's pattern.
    pub fn matches(&self, name: &str) -> bool {
        pattern_matches(self.metric.as_str(), name)
    }

    /// The objective for one metric `name` matched by this pattern
    /// objective: its row id is `<objective>[<metric>]`.
    pub fn row(&self, name: &str) -> PlannedObjective {
        let mut row = self.clone();
        row.family = Some(crate::decision::Family {
            objective: self.spec.id.clone(),
            pattern: self.spec.metric.clone(),
        });
        row.spec.id = format!("{}[{name}]", self.spec.id);
        row.spec.metric = format!("{}.{name}", self.instance);
        row.metric = MetricName::new(name);
        row
    }

    /// The acknowledgement that judges this row (an objective, or one
    /// metric of a pattern objective): the first in force that names it.
    pub fn acknowledgement(&self) -> Option<&acknowledged::Ack> {
        self.acknowledgements
            .iter()
            .find(|a| a.names(self) && !a.expired)
    }

    /// The expired acknowledgements that name this row.
    pub fn expired_acknowledgements(&self) -> impl Iterator<Item = &acknowledged::Ack> {
        self.acknowledgements
            .iter()
            .filter(|a| a.names(self) && a.expired)
    }

    /// Whether the objective compares with history (not `against: base`).
    pub fn is_relative(&self) -> bool {
        self.compared.is_none()
            && self.pass.iter().chain(&self.warn).any(|p| {
                matches!(
                    p.rhs,
                    criterion::ParsedRhs::Baseline { .. } | criterion::ParsedRhs::Limit(_)
                )
            })
    }
}

/// Whether `name` matches `pattern`, in which `*` stands for any sequence
/// of characters (`/`, `:`, `#` and `[` included: benchmark names hold
/// them) and every other character for itself.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether `uses:` names a folder rather than a plugin.
fn looks_like_path(uses: &str) -> bool {
    uses.starts_with("./") || uses.starts_with("../") || uses.starts_with('/')
}

/// Loads and checks everything `run` would, without running anything.
pub fn load(policy: Option<&std::path::Path>, cwd: &std::path::Path) -> Result<Plan, Diagnostics> {
    let file = crate::policy::find_policy(policy, cwd)?;
    let file = if file.is_relative() {
        cwd.join(&file)
    } else {
        file
    };
    // Shown relative to the working directory when qod runs there, which
    // is how users name it; absolute when a caller passes another folder.
    let file = if std::env::current_dir().ok().as_deref() == Some(cwd) {
        pathdiff(&file, cwd)
    } else {
        file
    };
    let policy_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let discovery = Discovery::standard(&cwd.join(policy_dir), cwd);
    Plan::prepare(&file, &discovery)
}

/// Shows `file` relative to `cwd` when it is inside it, for shorter messages.
fn pathdiff(file: &std::path::Path, cwd: &std::path::Path) -> PathBuf {
    file.strip_prefix(cwd)
        .map(PathBuf::from)
        .unwrap_or_else(|_| file.to_owned())
}

impl Plan {
    /// The position of instance `id` in [`Plan::instances`].
    pub fn instance_index(&self, id: &InstanceId) -> usize {
        self.instances
            .iter()
            .position(|i| i.id == *id)
            .expect("objectives name planned instances")
    }

    /// Loads `policy_file` and checks everything, reporting all problems.
    pub fn prepare(policy_file: &Path, discovery: &Discovery) -> Result<Plan, Diagnostics> {
        let policy = load_policy(policy_file)?;
        let file = policy.file.clone();
        let base = policy.dir().to_owned();
        let p = &policy.policy;
        let mut diags = Vec::new();
        let diag = |msg: String| Diagnostic::new(FileKind::Policy, &file, msg);

        let mut instances = Vec::new();
        for (id, inst) in &p.plugins {
            let at = pointer(["plugins", id.as_str()]);
            // `uses: ./plugins/x` (a path, as in GitHub Actions) is `path:`.
            let uses_path = (inst.path.is_none() && looks_like_path(&inst.uses))
                .then(|| PathBuf::from(&inst.uses));
            let explicit = inst.path.as_deref().or(uses_path.as_deref());
            let plugin = match discovery.find(&inst.uses, explicit, &base) {
                Ok(plugin) => plugin,
                Err(DiscoveryError::Manifest { diagnostics, .. }) => {
                    diags.extend(diagnostics);
                    continue;
                }
                Err(e @ DiscoveryError::NotFound { .. }) => {
                    let at_field = if inst.path.is_some() {
                        "/path"
                    } else {
                        "/uses"
                    };
                    if explicit.is_some() {
                        diags.push(diag(e.to_string()).at(format!("{at}{at_field}")).hint(
                            "a path names the plugin's folder (with its `plugin.json`) or the manifest itself, relative to the policy",
                        ));
                        continue;
                    }
                    let names = discovery.names();
                    let guess = did_you_mean(&inst.uses, names.iter().map(String::as_str));
                    diags.push(diag(e.to_string()).at(format!("{at}{at_field}")).hint(format!(
                        "{guess}put the plugin in `plugins/{}/`, add its folder to `QOD_PLUGIN_PATH`, or give its folder with `path:`; `qod plugins list` shows what is found",
                        inst.uses
                    )));
                    continue;
                }
                Err(e) => {
                    diags.push(diag(e.to_string()).at(format!("{at}/uses")).hint(
                        "the folder name and the manifest's `name` must agree, or give the folder with `path:`",
                    ));
                    continue;
                }
            };
            let config = match check_config(
                &file,
                id.as_str(),
                &plugin.manifest.name,
                plugin.manifest.config_schema.as_ref(),
                inst.with.as_ref(),
            ) {
                Ok(c) => c,
                Err(d) => {
                    diags.extend(d);
                    continue;
                }
            };
            let timeout = inst
                .timeout
                .or(plugin.manifest.timeout)
                .map(HumanDuration::get)
                .unwrap_or(DEFAULT_TIMEOUT);
            if timeout.is_zero() {
                diags.push(
                    diag("timeout must be longer than zero".into()).at(format!("{at}/timeout")),
                );
            }
            let mut env = plugin.manifest.env.clone();
            env.extend(inst.env.iter().cloned());
            if inst.repeat == 0 {
                diags.push(diag("`repeat` must be 1 or more".into()).at(format!("{at}/repeat")));
            }
            instances.push(PlannedInstance {
                id: id.clone(),
                plugin,
                config,
                timeout,
                env,
                repeat: inst.repeat.max(1),
                repeat_aggregate: inst.repeat_aggregate,
            });
        }

        let mut seen = HashSet::new();
        let mut objectives = Vec::new();
        for (i, o) in p.objectives.iter().enumerate() {
            let at = |field: &str| pointer(["objectives", &i.to_string(), field]);
            if !seen.insert(o.id.as_str()) {
                diags.push(
                    diag(format!("objective id `{}` is used twice", o.id))
                        .at(at("id"))
                        .hint("give each objective its own `id`"),
                );
            }
            let Some((inst_name, metric_name)) = o.metric.split_once('.') else {
                diags.push(
                    diag(format!(
                        "metric `{}` must be `<instance>.<metric>`",
                        o.metric
                    ))
                    .at(at("metric")),
                );
                continue;
            };
            let instance_id = InstanceId::new(inst_name);
            if !p.plugins.contains_key(&instance_id) {
                diags.push(
                    diag(format!("objective `{}` uses metric `{}`, but there is no plugin instance `{inst_name}`", o.id, o.metric))
                        .at(at("metric"))
                        .hint(format!(
                            "{}the instances are: {}",
                            did_you_mean(inst_name, p.plugins.keys().map(|k| k.as_str())),
                            p.plugins.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        )),
                );
                continue;
            }
            let mut parse_all = |criteria: &[String], field: &str| -> Vec<Parsed> {
                let many = criteria.len() > 1;
                criteria
                    .iter()
                    .enumerate()
                    .filter_map(|(j, c)| match criterion::parse(c) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            let ptr = if many {
                                format!("{}/{j}", at(field))
                            } else {
                                at(field)
                            };
                            diags.push(diag(e.to_string()).at(ptr).hint(CRITERION_HINT));
                            None
                        }
                    })
                    .collect()
            };
            let pass = parse_all(o.pass.as_slice(), "pass");
            let warn = o
                .warn
                .as_ref()
                .map(|w| parse_all(w.as_slice(), "warn"))
                .unwrap_or_default();
            // The instance may have failed to resolve; its problem is reported already.
            let Some(planned) = instances.iter().find(|x| x.id == instance_id) else {
                continue;
            };
            let manifest = &planned.plugin.manifest;
            let pattern = metric_name.contains('*');
            // A pattern is checked against the metrics the plugin declares:
            // a pattern of its own may match anything; names must match.
            let decl = if pattern {
                manifest
                    .metrics
                    .iter()
                    .find(|m| m.is_pattern())
                    .or_else(|| {
                        manifest
                            .metrics
                            .iter()
                            .find(|m| pattern_matches(metric_name, &m.name))
                    })
            } else {
                manifest.metric(metric_name)
            };
            let Some(decl) = decl else {
                diags.push(
                    diag(if pattern {
                        format!(
                            "plugin `{}` (instance `{inst_name}`) declares no metric that `{metric_name}` matches",
                            manifest.name
                        )
                    } else {
                        format!(
                            "plugin `{}` (instance `{inst_name}`) does not declare metric `{metric_name}`",
                            manifest.name
                        )
                    })
                    .at(at("metric"))
                    .hint(format!(
                        "{}it declares: {}",
                        did_you_mean(metric_name, manifest.metrics.iter().map(|m| m.name.as_str())),
                        manifest.metrics.iter().map(|m| format!("`{}`", m.name)).collect::<Vec<_>>().join(", ")
                    )),
                );
                continue;
            };
            let declared_unit = (!pattern && (!decl.is_pattern() || decl.unit.is_some()))
                .then(|| Unit::of_metric(decl.unit.as_deref()));
            if let Some(unit) = &declared_unit {
                for (field, list) in [("pass", &pass), ("warn", &warn)] {
                    let many = list.len() > 1;
                    for (j, c) in list.iter().enumerate() {
                        if let Err(e) = c.resolve(unit) {
                            let ptr = if many {
                                format!("{}/{j}", at(field))
                            } else {
                                at(field)
                            };
                            diags.push(diag(e.to_string()).at(ptr).hint(CRITERION_HINT));
                        }
                    }
                }
            }
            let baseline = o
                .baseline
                .clone()
                .or_else(|| p.baseline.clone())
                .unwrap_or_default();
            let base_ptr = if o.baseline.is_some() {
                at("baseline")
            } else {
                "/baseline".to_owned()
            };
            for (field, problem) in crate::threshold::check(&baseline) {
                diags.push(
                    diag(problem)
                        .at(format!("{base_ptr}/{field}"))
                        .hint("models: percentage, z-score, t-test, log-normal, iqr, delta-iqr; see `qod schema policy`"),
                );
            }
            // A test that needs more runs than the baseline keeps could
            // never decide.
            if let Some(t) = o.test.as_ref().filter(|t| t.min_runs() > baseline.last) {
                diags.push(
                    diag(format!(
                        "`test` reads how runs vary from {} baseline runs, but `baseline.last` keeps {}: it could never decide",
                        t.min_runs(), baseline.last
                    ))
                    .at(format!("{base_ptr}/last"))
                    .hint(format!(
                        "give the objective `baseline: {{ last: {} }}` (10 or more tells drift from regression better), or lower `test.min_runs`",
                        t.min_runs().max(10)
                    )),
                );
            }
            for (field, list) in [("pass", &pass), ("warn", &warn)] {
                for c in list.iter() {
                    let criterion::ParsedRhs::Limit(side) = c.rhs else {
                        continue;
                    };
                    let boundary = match side {
                        criterion::Side::Upper => baseline.upper_boundary,
                        criterion::Side::Lower => baseline.lower_boundary,
                    };
                    if baseline.model.is_none() || boundary.is_none() {
                        diags.push(
                            diag(format!(
                                "`{}` compares with the threshold model's {} limit, but the baseline has no {}",
                                c.text,
                                side.as_str(),
                                if baseline.model.is_none() {
                                    "`model`".to_owned()
                                } else {
                                    format!("`{}_boundary`", side.as_str())
                                }
                            ))
                            .at(at(field))
                            .hint(format!(
                                "give the objective `baseline: {{ model: t-test, {}_boundary: 0.99 }}` (or another model)",
                                side.as_str()
                            )),
                        );
                    }
                }
            }
            let side = compared::check(o, &pass, p.compare.is_some())
                .map_err(|(field, problem, fix)| diags.push(diag(problem).at(at(field)).hint(fix)))
                .ok()
                .flatten();
            // Fake pairs: an import without `run` reads the same file on
            // every invocation of a side, so every pair has the same ratio.
            if side.is_some()
                && manifest.name == "bench-import"
                && planned.config.get("run").is_none()
            {
                diags.push(
                    diag(format!(
                        "objective `{}` is judged side by side, but instance `{inst_name}` (bench-import) has no `run`: it would read the same results on every invocation of a side, and every pair would have the same ratio",
                        o.id
                    ))
                    .at(pointer(["plugins", inst_name, "with"]))
                    .hint("give the command that runs the benchmarks and writes `path` as `with.run` (for example `run: \"pytest --benchmark-json=bench.json\"`), so that each invocation measures afresh"),
                );
            }
            objectives.push(PlannedObjective {
                spec: o.clone(),
                instance: instance_id,
                metric: MetricName::new(metric_name),
                declared_unit,
                better: decl.better,
                pass,
                warn,
                baseline,
                compared: side,
                family: None,
                acknowledgements: Vec::new(),
            });
        }
        if let Some(c) = p.compare.as_ref().filter(|c| c.pairs.max < c.pairs.min) {
            diags.push(
                diag(format!(
                    "`pairs.max` ({}) is below `pairs.min` ({})",
                    c.pairs.max, c.pairs.min
                ))
                .at("/compare/pairs/max")
                .hint("`min` is the first look and `max` the last: raise `max` or lower `min`"),
            );
        }
        for (at, problem, fix) in parts::check(p) {
            diags.push(diag(problem).at(at).hint(fix));
        }
        if let DecisionSpec::Score { pass, warn } = &p.decision {
            if warn > pass {
                diags.push(
                    diag(format!("score threshold `warn` ({warn}) is above `pass` ({pass})"))
                        .at("/decision")
                        .hint("a score of `pass` or more passes, of `warn` or more warns: `warn` must not exceed `pass`"),
                );
            }
        }
        if p.objectives.iter().all(|o| o.weight == 0.0)
            && matches!(p.decision, DecisionSpec::Score { .. })
        {
            diags.push(
                diag("every objective has weight 0, so no score can be computed".into())
                    .at("/objectives"),
            );
        }
        let acknowledgements = acknowledged::check(&policy, &objectives, &mut diags);
        if !diags.is_empty() {
            crate::diag::locate_all(&mut diags, &policy.file, &policy.text);
            return Err(Diagnostics(diags));
        }
        Ok(Plan {
            policy,
            instances,
            objectives,
            acknowledgements,
        })
    }
}

const CRITERION_HINT: &str =
    "write `<op> <value>`: `< 300ms`, `>= 3`, `<= +10%`, `<= baseline * 1.5`, or `<= upper` with a threshold model";
