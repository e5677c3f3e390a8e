//! The policy (`qod.yaml`): which plugins run, with what config, and the
//! objectives their metrics are held to. This module holds the contract
//! types; `load` reads and checks a file, `criterion` parses the criteria.
//!
//! Size: the contract types with their doc comments, which are the
//! policy schema's descriptions; most of the lines are documentation.

mod acknowledge;
pub mod criterion;
mod load;

pub use acknowledge::{Acknowledge, Acknowledgement};

pub use load::{check_policy, find_policy, load_policy, LoadedPolicy, POLICY_FILE_NAMES};

use crate::duration::HumanDuration;
use crate::ids::InstanceId;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A qod policy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "qod policy")]
pub struct Policy {
    /// Version of the policy format; always 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Plugin instances by name; objectives refer to their metrics as `<instance>.<metric>`.
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z0-9_-]+$"}), extend("minProperties" = 1))]
    pub plugins: IndexMap<InstanceId, PluginInstance>,
    /// Default baseline for relative criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineSpec>,
    /// What the metrics are held to.
    #[schemars(length(min = 1))]
    pub objectives: Vec<Objective>,
    /// How objective outcomes combine into the decision.
    #[serde(default)]
    pub decision: DecisionSpec,
    /// Measure the base and the candidate side by side, for objectives
    /// `against: base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareSpec>,
    /// Named parts of the policy, for gates spread over several jobs: each
    /// part lists the plugin instances it runs (`qod run --part NAME`), and
    /// `qod combine` composes the parts into one decision. When given,
    /// every instance belongs to exactly one part.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z0-9._-]+$"}))]
    pub parts: IndexMap<String, Vec<InstanceId>>,
    /// Regressions accepted on purpose: a list of entries, or a YAML file
    /// holding one (`.qod/acknowledgements.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<Acknowledge>,
}

/// A side-by-side comparison: the plugins behind `against: base`
/// objectives run alternately on the base and on the candidate, in pairs of
/// random order, and a paired sequential test decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    /// Where the base is: `{revision: merge-base}` (the change's merge-base,
    /// from the CI or `--base`), `{revision: REF}` (a branch, tag or sha;
    /// checked out in a temporary git worktree), or `{workspace: PATH}` (a
    /// folder the pipeline prepared, relative to the working directory).
    pub base: BaseSource,
    /// A shell command run once in each workspace before measuring (a build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare: Option<String>,
    /// How long `prepare` may run on each side (default `30m`); past it,
    /// it is stopped (its whole process group) and the comparison fails
    /// with the reason.
    #[serde(default = "default_prepare_timeout")]
    pub prepare_timeout: HumanDuration,
    /// How many pairs: the first look, the most, and the pairs between looks.
    #[serde(default)]
    pub pairs: PairsSpec,
    /// The paired test: `wilcoxon` (signed-rank, the default), `paired-t`
    /// or `bootstrap`.
    #[serde(default)]
    pub test: PairedMethod,
    /// The false-alarm rate of the whole sequence of looks.
    #[serde(default = "default_alpha")]
    #[schemars(range(min = 0.0, max = 0.5))]
    pub alpha: f64,
    /// Seed of the pairs' order (default: from the run id); recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The most wall time all pairs of the run may take (`10m`): when the
    /// next pair would not fit, the sequence stops, and what it did not
    /// decide ends `inconclusive` with the change it could have detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<HumanDuration>,
}

fn default_prepare_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30 * 60))
}

/// Where the base of a comparison comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum BaseSource {
    /// `merge-base`, or a git ref or sha.
    Revision(String),
    /// A folder holding the base, already checked out (and built).
    Workspace(PathBuf),
}

/// The number of pairs of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PairsSpec {
    /// Pairs before the first look.
    #[serde(default = "default_min_pairs")]
    #[schemars(range(min = 2, max = 1000))]
    pub min: u32,
    /// Pairs at most; the last look.
    #[serde(default = "default_max_pairs")]
    #[schemars(range(min = 2, max = 1000))]
    pub max: u32,
    /// Pairs between looks after the first.
    #[serde(default = "default_batch")]
    #[schemars(range(min = 1, max = 1000))]
    pub batch: u32,
}

// Measured (`cargo bench --bench noise`): looks at 10, 20 and 30 pairs
// caught more regressions than looking every 2 or 5 pairs from 6, and
// stopped as early for large ones (10 pairs at +50%).
fn default_min_pairs() -> u32 {
    10
}
fn default_max_pairs() -> u32 {
    30
}
fn default_batch() -> u32 {
    10
}

impl Default for PairsSpec {
    fn default() -> Self {
        PairsSpec {
            min: default_min_pairs(),
            max: default_max_pairs(),
            batch: default_batch(),
        }
    }
}

/// The paired tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PairedMethod {
    #[default]
    Wilcoxon,
    PairedT,
    Bootstrap,
}

impl PairedMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PairedMethod::Wilcoxon => "wilcoxon",
            PairedMethod::PairedT => "paired-t",
            PairedMethod::Bootstrap => "bootstrap",
        }
    }
}

/// What an objective's relative criterion compares with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Against {
    /// Earlier runs in the history store (`baseline:`).
    #[default]
    History,
    /// The base measured side by side in this run (`compare:`).
    Base,
}

/// One instance of a plugin.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginInstance {
    /// The plugin's name, found by discovery (`./plugins/<name>/`,
    /// `QOD_PLUGIN_PATH`, first-party plugins, `qod-plugin-<name>` on PATH).
    #[schemars(length(min = 1))]
    pub uses: String,
    /// An explicit plugin folder (or its `plugin.json`), relative to the policy file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Config for the plugin, checked against its manifest's `config_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<serde_json::Value>,
    /// How long the plugin may run; overrides the manifest's timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// More environment variables to pass to the plugin (names, or prefixes
    /// ending in `*`). Their values are redacted from qod's output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Run the plugin this many times, one after another, and pool what it
    /// measured: each metric's samples are all the runs' samples (or values),
    /// and its value is their `repeat_aggregate`.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub repeat: u32,
    /// How the repeated runs' values make one value (default `median`).
    #[serde(default = "median")]
    pub repeat_aggregate: Aggregate,
}

fn one() -> u32 {
    1
}
fn median() -> Aggregate {
    Aggregate::Median
}

/// Which earlier runs make a baseline, and how they are summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// How many earlier runs to use at most.
    #[serde(default = "default_last")]
    #[schemars(range(min = 1, max = 10000))]
    pub last: u32,
    /// How the runs' values are summarised.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Which earlier runs qualify, by this objective's outcome in them:
    /// `pass` (passed, or was not judged yet: no baseline, or a `test:` still
    /// short of baseline runs), `pass_or_warn`, or `all`.
    #[serde(default)]
    pub include: Include,
    /// `auto` (the default): the base branch on a pull (merge) request,
    /// else the same branch; `same`, `base` or `any`.
    #[serde(default)]
    pub branch: BranchScope,
    /// Fewest runs that make a baseline; with fewer the objective is `no_baseline`.
    #[serde(default = "default_min_runs")]
    #[schemars(range(min = 1, max = 10000))]
    pub min_runs: u32,
    /// Only runs this recent (`30d`, `12h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::duration::HumanDuration>,
    /// A threshold model, computed from the baseline runs' values as Bencher
    /// does; criteria then compare with its limits: `<= upper`, `>= lower`.
    /// `last` is the model's maximum sample size and `min_runs` its minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ThresholdModel>,
    /// The upper limit's boundary: a percentile for `z-score`, `t-test` and
    /// `log-normal` (0.5 to 1, e.g. 0.977), a fraction for `percentage`
    /// (0.1 = 10% above the mean), a multiplier of the IQR for `iqr` and `delta-iqr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub upper_boundary: Option<f64>,
    /// The lower limit's boundary, as `upper_boundary` on the other side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub lower_boundary: Option<f64>,
}

/// Bencher's threshold models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ThresholdModel {
    /// The mean plus or minus a fraction of it.
    Percentage,
    /// A percentile of the normal distribution of the values.
    ZScore,
    /// A percentile of Student's t distribution (n - 1 degrees of freedom).
    TTest,
    /// A percentile of the log-normal distribution of the values.
    LogNormal,
    /// The median plus or minus a multiple of the interquartile range.
    Iqr,
    /// The median plus or minus a multiple of the IQR of the relative
    /// changes between consecutive values.
    DeltaIqr,
}

impl ThresholdModel {
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdModel::Percentage => "percentage",
            ThresholdModel::ZScore => "z-score",
            ThresholdModel::TTest => "t-test",
            ThresholdModel::LogNormal => "log-normal",
            ThresholdModel::Iqr => "iqr",
            ThresholdModel::DeltaIqr => "delta-iqr",
        }
    }
}

fn default_last() -> u32 {
    3
}
fn default_min_runs() -> u32 {
    1
}

impl Default for BaselineSpec {
    fn default() -> Self {
        BaselineSpec {
            last: default_last(),
            aggregate: Aggregate::default(),
            include: Include::default(),
            branch: BranchScope::default(),
            min_runs: default_min_runs(),
            window: None,
            model: None,
            upper_boundary: None,
            lower_boundary: None,
        }
    }
}

/// How a baseline summarises the values of earlier runs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Aggregate {
    #[default]
    Mean,
    Median,
    Min,
    Max,
    /// A percentile, 0 to 100.
    Percentile(u8),
}

impl Aggregate {
    pub fn name(&self) -> String {
        match self {
            Aggregate::Mean => "mean".into(),
            Aggregate::Median => "median".into(),
            Aggregate::Min => "min".into(),
            Aggregate::Max => "max".into(),
            Aggregate::Percentile(p) => format!("p{p}"),
        }
    }
}

impl std::str::FromStr for Aggregate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "mean" => Aggregate::Mean,
            "median" => Aggregate::Median,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            p if p.starts_with('p') => match p[1..].parse::<u8>() {
                Ok(n) if n <= 100 && !p[1..].starts_with('+') => Aggregate::Percentile(n),
                _ => return Err(format!("unknown aggregate `{s}`")),
            },
            _ => return Err(format!("unknown aggregate `{s}`")),
        })
    }
}

impl Serialize for Aggregate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Aggregate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e: String| {
            serde::de::Error::custom(format!("{e}: use mean, median, min, max or pNN"))
        })
    }
}

impl JsonSchema for Aggregate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Aggregate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "`mean`, `median`, `min`, `max`, or a percentile `p0`..`p100` such as `p90`.",
            "pattern": "^(mean|median|min|max|p([0-9]|[1-9][0-9]|100))$"
        })
    }
}

/// Which earlier runs may form a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Include {
    /// Runs where this objective passed (or was not judged yet: no baseline,
    /// or a `test:` still short of baseline runs).
    #[default]
    Pass,
    /// Runs where it passed or warned.
    PassOrWarn,
    /// Every run that measured the metric.
    All,
}

/// Which branch's runs a baseline comes from. Runs of pull (merge) requests
/// never enter the baseline of another branch or of another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BranchScope {
    /// `base` on a pull (merge) request build, `same` on any other build.
    #[default]
    Auto,
    /// Only runs of the branch being gated (all runs when the branch is unknown).
    Same,
    /// Runs of the base branch a pull (merge) request targets: those at its
    /// merge-base or the commits before it, else the base branch's runs
    /// recorded before the merge-base was committed. On a build that is no
    /// request, the same as `same`.
    Base,
    /// Runs of any branch.
    Any,
}

/// A significance test on an objective's relative criteria.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignificanceTest {
    /// How a run's level is read and weighed. `mann-whitney`: each run's
    /// level is the median of its samples (robust to outlier rounds),
    /// weighed by Student's t prediction over the baseline runs;
    /// `welch-t`: each run's value, by the same prediction; `bootstrap`:
    /// each run's value, by a smoothed bootstrap of the baseline runs.
    pub method: TestMethod,
    /// Significance level: a failed tolerance counts when p <= alpha, p
    /// being the chance of a run this far beyond the tolerance's limit.
    #[serde(default = "default_alpha")]
    #[schemars(range(min = 0.0, max = 0.5))]
    pub alpha: f64,
    /// Fewest baseline runs (the run-to-run spread is read from them);
    /// with fewer the objective is `inconclusive`. Default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3, max = 100000))]
    pub min_runs: Option<u32>,
    /// The former name of `min_runs`, from when the test pooled samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 100000))]
    pub min_samples: Option<u32>,
}

impl SignificanceTest {
    /// Fewest baseline runs the test needs.
    pub fn min_runs(&self) -> u32 {
        self.min_runs.or(self.min_samples).unwrap_or(5)
    }
}

fn default_alpha() -> f64 {
    0.01
}

/// The two-sample tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TestMethod {
    MannWhitney,
    WelchT,
    Bootstrap,
}

impl TestMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TestMethod::MannWhitney => "mann-whitney",
            TestMethod::WelchT => "welch-t",
            TestMethod::Bootstrap => "bootstrap",
        }
    }
}

/// One goal a metric is held to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// A unique name for the objective.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub id: String,
    /// The metric, as `<instance>.<metric>`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+\..+$"))]
    pub metric: String,
    /// Criteria that must all hold to pass: `<op> <value>` with op one of
    /// `<`, `<=`, `>`, `>=`, `==`, `!=` and value absolute (`300ms`, `3`),
    /// relative to the baseline (`+10%`, `-5%`, `+20ms`) or an expression
    /// on it (`baseline * 1.5`, `baseline + 20ms`).
    pub pass: Criteria,
    /// When `pass` fails but these all hold, the objective warns instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<Criteria>,
    /// Baseline for this objective's relative criteria (overrides the top-level one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineSpec>,
    /// Effect when the metric is missing.
    #[serde(default = "effect_fail")]
    pub on_no_data: Effect,
    /// Effect when a relative criterion has not enough history.
    #[serde(default = "effect_warn")]
    pub on_no_baseline: Effect,
    /// Fail a relative criterion only when the change is also significant:
    /// a two-sample test between the baseline runs' pooled samples and this
    /// run's. The decision carries the p-value and the estimated change with
    /// its confidence interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<SignificanceTest>,
    /// Effect when a test has too few samples to decide (`inconclusive`).
    #[serde(default = "effect_warn")]
    pub on_inconclusive: Effect,
    /// When the objective fails, run its plugin up to this many more times
    /// and decide on all the runs pooled, so one noisy run cannot fail the
    /// gate. The decision lists every attempt.
    #[serde(default)]
    #[schemars(range(max = 20))]
    pub confirm: u32,
    /// `enforce` (default), `warn` (a fail only warns), `shadow` (reported, no effect).
    #[serde(default)]
    pub mode: Mode,
    /// Weight in the `score` strategy.
    #[serde(default = "default_weight")]
    #[schemars(range(min = 0.0))]
    pub weight: f64,
    /// With the `score` strategy: a failed key objective fails the gate whatever the score.
    #[serde(default)]
    pub key: bool,
    /// What the objective is for, shown with its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `history` (default): the relative criterion compares with earlier
    /// runs. `base`: with the base measured side by side (`compare:`); the
    /// criterion's tolerance (`<= +3%`) is the paired test's effect floor.
    #[serde(default, skip_serializing_if = "is_history")]
    pub against: Against,
}

fn is_history(a: &Against) -> bool {
    *a == Against::History
}

fn effect_fail() -> Effect {
    Effect::Fail
}
fn effect_warn() -> Effect {
    Effect::Warn
}
fn default_weight() -> f64 {
    1.0
}

/// One criterion, or a list that must all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Criteria {
    One(String),
    All(#[schemars(length(min = 1))] Vec<String>),
}

impl Criteria {
    pub fn as_slice(&self) -> &[String] {
        match self {
            Criteria::One(s) => std::slice::from_ref(s),
            Criteria::All(v) => v,
        }
    }
}

/// What an outcome does to the gate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    Pass,
    Warn,
    Fail,
}

/// How much an objective may affect the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mode {
    /// Its effect counts in full.
    #[default]
    Enforce,
    /// A fail counts only as a warn.
    Warn,
    /// Evaluated and reported, with no effect — for trying an objective out.
    Shadow,
}

/// How objective outcomes combine into one decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "strategy", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum DecisionSpec {
    /// Any enforced fail fails the gate, else any warn warns.
    #[default]
    All,
    /// Keptn-like: pass counts the weight, warn half of it, fail nothing; the
    /// percentage is compared with `pass` and `warn`. A failed `key`
    /// objective fails the gate whatever the score.
    Score {
        /// Lowest score that passes.
        #[serde(default = "default_score_pass")]
        #[schemars(range(min = 0.0, max = 100.0))]
        pass: f64,
        /// Lowest score that warns.
        #[serde(default = "default_score_warn")]
        #[schemars(range(min = 0.0, max = 100.0))]
        warn: f64,
    },
}

fn default_score_pass() -> f64 {
    90.0
}
fn default_score_warn() -> f64 {
    75.0
}
