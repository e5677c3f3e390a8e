//! The decision: qod's output contract, one JSON document per run, pass or
//! fail, with every objective's outcome and every plugin's outcome explained.
//!
//! Size: the contract types with their doc comments, which are the decision
//! schema's descriptions.

use crate::ids::{InstanceId, RunId};
use crate::policy::{Effect, Mode};
use crate::protocol::{ErrorInfo, Metric};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the decision format.
pub const DECISION_SCHEMA_VERSION: u32 = 1;

/// The gate's decision.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "qod decision")]
pub struct Decision {
    /// Version of this format; always 1.
    pub schema_version: u32,
    /// The verdict: `pass`, `warn` or `fail`.
    pub decision: Verdict,
    /// Weighted score in percent: pass counts an objective's weight, warn
    /// half of it, fail nothing; shadow objectives do not count.
    pub score: f64,
    /// One line saying why.
    pub summary: String,
    /// Each objective's outcome, in policy order.
    pub objectives: Vec<ObjectiveOutcome>,
    /// Each plugin instance's outcome, in policy order.
    pub plugins: Vec<PluginOutcome>,
    /// The pipeline and source the run gated.
    pub pipeline: PipelineSummary,
    /// The run itself.
    pub run: RunSummary,
    /// Whether the run reached the history store.
    pub store: StoreOutcome,
}

/// The gate's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// How an objective ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectiveStatus {
    /// Every `pass` criterion holds.
    Pass,
    /// `pass` does not hold but every `warn` criterion does.
    Warn,
    /// Neither holds.
    Fail,
    /// The metric was not measured.
    NoData,
    /// A relative criterion had too little history to compare with.
    NoBaseline,
    /// The change is beyond the tolerance, but the significance test had
    /// too few samples to tell it from noise.
    Inconclusive,
    /// The objective's own criterion does not hold, but an acknowledgement
    /// (`acknowledge:` or a request's `Qod-Acknowledge:` trailer) accepts
    /// the change and its criterion holds: a pass.
    Acknowledged,
}

impl ObjectiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveStatus::Pass => "pass",
            ObjectiveStatus::Warn => "warn",
            ObjectiveStatus::Fail => "fail",
            ObjectiveStatus::NoData => "no_data",
            ObjectiveStatus::NoBaseline => "no_baseline",
            ObjectiveStatus::Inconclusive => "inconclusive",
            ObjectiveStatus::Acknowledged => "acknowledged",
        }
    }
}

/// What an objective's outcome does to the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeEffect {
    Pass,
    Warn,
    Fail,
    /// A shadow objective: reported, no effect.
    None,
}

impl From<Effect> for OutcomeEffect {
    fn from(e: Effect) -> Self {
        match e {
            Effect::Pass => OutcomeEffect::Pass,
            Effect::Warn => OutcomeEffect::Warn,
            Effect::Fail => OutcomeEffect::Fail,
        }
    }
}

/// One objective's outcome, explained.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObjectiveOutcome {
    /// The objective's id; for one metric of an objective whose `metric` is
    /// a pattern, `<objective>[<metric>]`.
    pub id: String,
    /// The metric, as `<instance>.<metric>`.
    pub metric: String,
    /// For one metric of an objective whose `metric` is a pattern: that
    /// objective's id and pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// How it ended.
    pub status: ObjectiveStatus,
    /// The policy could not be applied to the metric the plugin reported
    /// (a criterion's unit does not fit it, or is missing): the objective
    /// is `inconclusive`, and the run exits 2, a broken policy rather than
    /// a regression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_error: Option<String>,
    /// What that does to the gate, after `mode` and `on_no_data`/`on_no_baseline`.
    pub effect: OutcomeEffect,
    /// The objective's mode.
    pub mode: Mode,
    /// Whether it is a key objective.
    pub key: bool,
    /// Its weight in the score.
    pub weight: f64,
    /// The measured value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The value's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The pass criteria as written.
    pub criteria: Vec<String>,
    /// The warn criteria as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warn_criteria: Vec<String>,
    /// The value compared with in the deciding criterion, in the metric's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// The baseline, when a criterion is relative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineOutcome>,
    /// Each evaluation before the final one, when `confirm:` re-ran the plugin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// The significance test, when the objective asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestOutcome>,
    /// The side-by-side comparison with the base (`against: base`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<ComparisonOutcome>,
    /// Change from the baseline in percent (positive: the value went up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct: Option<f64>,
    /// Whether the value moved in the metric's better direction from the
    /// baseline (absent without a baseline or when unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub improved: Option<bool>,
    /// One line saying why.
    pub reason: String,
    /// The condition, with targets resolved, under which the objective passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passes_if: Option<String>,
    /// The acknowledgement that judged this objective, or that was ignored
    /// because it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<AcknowledgementOutcome>,
}

/// An acknowledgement applied to an objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AcknowledgementOutcome {
    /// The criterion accepted instead of the objective's.
    pub accept: String,
    /// Why the change is intended.
    pub reason: String,
    /// Who accepted it.
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Its last day (`YYYY-MM-DD`); absent for a trailer, which lasts as
    /// long as its request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Where it is written: `policy`, `file` (the file `acknowledge:`
    /// names) or `trailer` (the request's head commit).
    pub source: String,
    /// Its `from:` revision: the point from which it re-baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The status the objective's own criterion gave.
    pub original_status: ObjectiveStatus,
    /// It expired before this run, so it was ignored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

/// The pairs one job measured of a comparison spread over jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PairShare {
    /// This job's `K` of `N`.
    pub k: u32,
    pub n: u32,
    /// The pairs' numbers in the whole comparison (K, K + N, …).
    pub pairs: Vec<u32>,
    /// Each pair's value on the base and on the candidate.
    pub base: Vec<f64>,
    pub candidate: Vec<f64>,
    /// The fingerprint of the runner that measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
}

/// Where pooled pairs came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pooled {
    pub jobs: u32,
    pub runners: u32,
}

/// The pattern objective a row belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Family {
    /// The objective's id.
    pub objective: String,
    /// Its metric pattern, as `<instance>.<pattern>`.
    pub pattern: String,
}

/// A side-by-side comparison: the base and the candidate measured in
/// alternating pairs on this runner, decided by a paired sequential test on
/// the log-ratios candidate/base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ComparisonOutcome {
    /// The base, as shown: `main@abc1234`, a revision, or a workspace folder.
    pub base: String,
    /// The base's commit, when it was checked out from git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_revision: Option<String>,
    /// `wilcoxon`, `paired-t` or `bootstrap`.
    pub test: String,
    /// The false-alarm rate of the whole sequence.
    pub alpha: f64,
    /// The significance spent by the looks made (at most `alpha`).
    pub alpha_spent: f64,
    /// Pairs measured.
    pub pairs: u32,
    pub min_pairs: u32,
    pub max_pairs: u32,
    /// Whether the test decided before `max_pairs`.
    pub stopped_early: bool,
    /// The tolerance of the criterion, in percent (`3` for `<= +3%`).
    pub tolerance_pct: f64,
    /// The estimated change candidate/base in percent (mean log-ratio).
    pub change_pct: f64,
    /// Its 95% confidence interval, in percent.
    pub ci_low_pct: f64,
    pub ci_high_pct: f64,
    /// One-sided p-value of "worse than the tolerance" at the last look.
    pub p_worse: f64,
    /// One-sided p-value of "inside the tolerance" at the last look.
    pub p_inside: f64,
    /// Median of the base's and of the candidate's values over the pairs.
    pub base_value: f64,
    pub candidate_value: f64,
    /// Seed of the pairs' order.
    pub seed: u64,
    /// Which side ran first in each pair: `b` (base) or `c` (candidate).
    pub order: String,
    /// The last look's boundary: the one-sided p-value at or below which
    /// it decided (computed for the design's looks, spending `alpha_spent`).
    pub boundary_p: f64,
    /// The smallest change, in percent, the test would have detected with
    /// 80% power at the pairs run, from the spread observed (absent with
    /// under 2 pairs or no spread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mde_pct: Option<f64>,
    /// Whether the sequence stopped because `compare.budget` ran out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub budget_exhausted: bool,
    /// The objectives judged with this one as a family (a metric pattern):
    /// their count, for the family-wise error control (Holm) that set its
    /// significance level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_size: Option<u32>,
    /// One job's share of a comparison spread over jobs (`qod run --pairs
    /// K/N`): the pairs it measured, for `qod combine` to pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<PairShare>,
    /// Pairs pooled by `qod combine` from several jobs: how many runners
    /// (machine fingerprints) measured them, and how many jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled: Option<Pooled>,
}

/// The baseline an objective was compared with.
/// The significance test behind a relative objective's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestOutcome {
    /// `mann-whitney`, `welch-t` or `bootstrap`.
    pub method: String,
    /// The significance level.
    pub alpha: f64,
    /// The baseline runs weighed (the unit of evidence is the run).
    pub n_baseline: usize,
    /// The samples behind this run's value (0 when it reported none).
    pub n_current: usize,
    /// Fewest baseline runs the test needs (records written before the
    /// test weighed runs say `min_samples`).
    #[serde(default, alias = "min_samples")]
    pub min_runs: u32,
    /// What a run's level is: `value` (the run's value) or `median of
    /// samples` (each run's samples' median; its value when it has none).
    #[serde(default)]
    pub level: String,
    /// The tolerance's limit the test is taken at (the null hypothesis), in
    /// the metric's unit, on the levels' scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Baseline runs' levels left out of the test as outliers (more than
    /// 5 scaled MADs from the baseline's median: a run measured cold or on
    /// a busy machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outliers: Vec<f64>,
    /// One-sided p-value: the chance, at the limit, of a run this far on
    /// the worse side (absent when there were too few runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Whether p <= alpha.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significant: Option<bool>,
    /// The estimated change (this run's level minus the baseline runs' mean
    /// level) in the metric's unit, with the interval one run's deviation
    /// allows at `1 - alpha` on each side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_high: Option<f64>,
    /// The same, in percent of the baseline runs' mean level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_pct_high: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BaselineOutcome {
    /// The aggregated value, when there was enough history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// How the runs were summarised (`mean`, `median`, `p90`…).
    pub aggregate: String,
    /// The runs used, newest first.
    pub runs: Vec<RunId>,
    /// How many runs were asked for.
    pub last: u32,
    /// How many runs are needed at least.
    pub min_runs: u32,
    /// Which runs qualified.
    pub include: crate::policy::Include,
    /// The branch the runs were taken from, if restricted to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Where the runs came from: `branch` (the run's own branch), `any`,
    /// or, for a pull (merge) request, `merge-base` (base-branch runs at
    /// the merge-base or before it) or `base-branch` (base-branch runs
    /// recorded before the merge-base was committed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BaselineSource>,
    /// The merge-base the runs were chosen by, for a pull (merge) request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Runs measured on another machine than this run (another runner
    /// fingerprint, or none recorded): kept because there were too few of
    /// this run's own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_runners: u64,
}

/// Where a baseline's runs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BaselineSource {
    /// Runs of the branch being gated.
    Branch,
    /// Runs of any branch.
    Any,
    /// Runs of the base branch at the merge-base or the commits before it.
    MergeBase,
    /// Runs of the base branch recorded before the merge-base was committed
    /// (no run at the merge-base or its ancestors, or git could not tell).
    BaseBranch,
}

/// How a plugin run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PluginStatus {
    /// It measured.
    Ok,
    /// It ran and said it could not measure (`status: error`).
    PluginError,
    /// It could not be started.
    SpawnFailed,
    /// It exited with a non-zero code.
    ExitNonzero,
    /// A signal ended it.
    Killed,
    /// It ran past its timeout and was stopped.
    Timeout,
    /// Its stdout was not exactly one JSON object (or was too large).
    InvalidOutput,
    /// Its JSON does not match the result schema.
    InvalidResult,
    /// Its result speaks a protocol version its manifest does not list.
    WrongProtocol,
    /// It reported a metric its manifest does not declare.
    UndeclaredMetric,
    /// It reported a value that is not a finite number.
    NonFinite,
    /// The gate was cancelled (SIGTERM, SIGINT or SIGHUP) before it ended,
    /// or before it started.
    Cancelled,
    /// It belongs to a part of the gate that was not recorded (`qod
    /// combine`); its error names the part.
    Missing,
    /// It answered `pending` and the gate was suspended to be resumed later
    /// (CodePipeline continuation tokens). Only in a suspended gate's saved
    /// state, never in a decision.
    Pending,
}

impl PluginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginStatus::Ok => "ok",
            PluginStatus::PluginError => "plugin_error",
            PluginStatus::SpawnFailed => "spawn_failed",
            PluginStatus::ExitNonzero => "exit_nonzero",
            PluginStatus::Killed => "killed",
            PluginStatus::Timeout => "timeout",
            PluginStatus::InvalidOutput => "invalid_output",
            PluginStatus::InvalidResult => "invalid_result",
            PluginStatus::WrongProtocol => "wrong_protocol",
            PluginStatus::UndeclaredMetric => "undeclared_metric",
            PluginStatus::NonFinite => "non_finite",
            PluginStatus::Cancelled => "cancelled",
            PluginStatus::Missing => "missing",
            PluginStatus::Pending => "pending",
        }
    }
}

/// One evaluation of an objective that `confirm:` then re-checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    /// 1 for the first evaluation.
    pub attempt: u32,
    /// The plugin runs pooled in it.
    pub runs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub status: ObjectiveStatus,
    pub reason: String,
}

/// How a plugin's runs were pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Repeats {
    /// Runs pooled.
    pub runs: u32,
    /// The aggregate of the runs' values each metric's value is (`median`, `mean`, …).
    pub aggregate: String,
    /// Each run's values, in the order they ran: metric name to values.
    pub values: std::collections::BTreeMap<String, Vec<f64>>,
}

/// One plugin instance's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PluginOutcome {
    /// The instance's name in the policy.
    pub instance: InstanceId,
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// How it ended.
    pub status: PluginStatus,
    /// Wall time from spawn to the end of its output, in milliseconds.
    pub duration_ms: u64,
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// What it measured (empty unless `ok`).
    pub metrics: Vec<Metric>,
    /// Its own one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What went wrong, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Things qod noticed that did not change the outcome (processes left running…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// When the plugin ran more than once (`repeat:`, or `confirm:` re-runs):
    /// how often, and how the runs' values were combined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    /// The end of its stderr, when not `ok` (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_tail: Option<String>,
    /// The part of the gate that ran it, when the decision was composed
    /// from parts (`qod combine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

impl PluginOutcome {
    /// An outcome of `instance` (plugin `name`, `version`) with `status`
    /// and nothing else yet: every outcome starts here.
    pub fn new(
        instance: InstanceId,
        name: String,
        version: String,
        status: PluginStatus,
    ) -> PluginOutcome {
        PluginOutcome {
            instance,
            name,
            version,
            status,
            duration_ms: 0,
            exit_code: None,
            signal: None,
            metrics: Vec::new(),
            summary: None,
            error: None,
            notes: Vec::new(),
            repeats: None,
            stderr_tail: None,
            part: None,
        }
    }

    /// The same outcome with an error of `kind` saying why.
    pub fn with_error(mut self, kind: &str, message: String) -> PluginOutcome {
        self.error = Some(ErrorInfo {
            kind: kind.into(),
            message,
        });
        self
    }
}

/// A pending plugin's saved state: what it answered, and how long it has
/// been running (its timeout counts the whole span).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingState {
    /// Its `state`, given back as the context's `resume`.
    pub state: serde_json::Value,
    /// Its `retry_after`, in milliseconds.
    pub retry_after_ms: u64,
    /// When it first started (RFC 3339).
    pub since: String,
    /// How many times it was invoked again so far.
    pub resumed: u32,
}

/// The pipeline and source the run gated.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PipelineSummary {
    /// The CI provider (`codebuild`, `github`, `gitlab`, `jenkins`, `local`).
    pub provider: String,
    /// Pipeline or project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Build id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// The commit gated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The branch gated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The pull (merge) request gated, if the run is for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    /// The branch the change targets, for a pull (merge) request or `--base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Where the change left its base branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_base: Option<String>,
}

/// The run itself.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    /// The run's id.
    pub id: RunId,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// The policy file used.
    pub policy: String,
    /// The signal that cancelled the run (`SIGTERM`, `SIGINT`, `SIGHUP`):
    /// the plugins were stopped, the decision was made on what they had
    /// measured, and the run enters no baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<String>,
    /// This run is one part of a gate spread over several jobs (`qod run
    /// --group`): recorded as a part, not as a run of its own; `qod
    /// combine` decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartInfo>,
    /// The parts this decision was composed from (`qod combine`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartSummary>,
    /// The machine the run measured on, and its fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<crate::machine::Runner>,
    /// The calibration (`qod calibrate`) of this runner the side-by-side
    /// objectives' reasons cite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationRef>,
}

/// A calibration a decision cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CalibrationRef {
    /// When it was made (RFC 3339, UTC).
    pub made_at: String,
    /// The runner it was made on (this run's).
    pub fingerprint: String,
}

/// Which part of a group a run is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PartInfo {
    /// The group: the gate the parts make up together (by default the CI's
    /// workflow run or pipeline id).
    pub group: String,
    /// The part's name: from `parts:`, `shard-K-of-N`, or `--part`.
    pub name: String,
    /// The plugin instances it ran.
    pub instances: Vec<InstanceId>,
    /// `[K, N]` for `--shard K/N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<[u32; 2]>,
    /// `[K, N]` for `--pairs K/N`: this part measured pairs K, K + N, …
    /// of every side-by-side comparison, for `qod combine` to pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<[u32; 2]>,
}

/// One part a combined decision was composed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PartSummary {
    /// The part's name.
    pub name: String,
    /// The part's own run id (parts are not runs of the history).
    pub run_id: RunId,
    /// When it started and finished (RFC 3339, UTC).
    pub started_at: String,
    pub finished_at: String,
    /// The plugin instances taken from it.
    pub instances: Vec<InstanceId>,
    /// Earlier recordings of the same part (a re-run job), left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<RunId>,
}

/// Whether the run reached the history store.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StoreOutcome {
    /// Where the history lives (`.qod/store`, `s3://…`).
    pub location: String,
    /// Whether history could be read for baselines.
    pub history_read: bool,
    /// Whether this run was recorded.
    pub recorded: bool,
    /// Whether this run's record created the store (nothing was recorded
    /// there before: a new store, or a mistyped `--store`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
    /// Whether the record was kept in the spool (`--spool`) for a later run to upload.
    #[serde(default)]
    pub spooled: bool,
    /// Records of earlier runs uploaded from the spool by this run.
    #[serde(default)]
    pub uploaded_from_spool: u32,
    /// The deployment the plugins were told about (`history.last_deployment`):
    /// a recorded one, or the last passing run when none is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment: Option<crate::protocol::Deployment>,
    /// HTTP requests this run made to the store (S3 only), retries included.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests: u64,
    /// What went wrong, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
