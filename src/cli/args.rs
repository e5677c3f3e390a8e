//! The command line's grammar: every subcommand, flag and default, as clap
//! types. Nothing here runs anything.
//!
//! Size: the whole grammar with its help texts, which are most of the lines.

use crate::validate::SchemaKind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// qod — a Quality-of-Deployment gate: runs benchmark plugins, compares what
/// they measure with goals and history, and prints one explained decision.
#[derive(Debug, Parser)]
#[command(name = "qod", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only the data, the warnings and the errors: no summary, no progress, no notes.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// How a command prints its data on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// JSON for programs.
    Json,
}

/// `--format`, with `--json` kept as a hidden alias for one release.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArg {
    /// How to print the result.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// The same as `--format json` (deprecated).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
}

impl FormatArg {
    /// The chosen format, or this command's default.
    pub fn or(&self, default: Format) -> Format {
        match (self.format, self.json) {
            (Some(f), _) => f,
            (None, true) => Format::Json,
            (None, false) => default,
        }
    }
}

/// `--samples N|all`: how many samples per metric the printed decision holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Samples {
    All,
    At(usize),
}

impl Samples {
    /// The limit, `None` for all.
    pub fn limit(self) -> Option<usize> {
        match self {
            Samples::All => None,
            Samples::At(n) => Some(n),
        }
    }
}

impl std::str::FromStr for Samples {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Samples::All),
            n => n
                .parse()
                .map(Samples::At)
                .map_err(|_| format!("`{n}` is not a number or `all`")),
        }
    }
}

impl std::fmt::Display for Samples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Samples::All => f.write_str("all"),
            Samples::At(n) => write!(f, "{n}"),
        }
    }
}

/// A duration on the command line (`3s`, `500ms`, `1m 30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

/// The longest duration an option takes: longer is a mistake, and would
/// overflow the clocks it is added to.
const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
        if d > LONGEST {
            return Err(format!(
                "`{s}` is longer than a year; give a shorter duration, such as `10m`"
            ));
        }
        Ok(Span(d))
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gate: plugins, evaluation, decision on stdout, run recorded.
    Run(RunArgs),
    /// Check the policy, manifests and configs without running anything.
    Validate {
        /// Policy file (default: qod.yaml, qod.yml or qod.json here).
        #[arg(long, short)]
        policy: Option<PathBuf>,
        /// A history store to check the acknowledgements against: one that
        /// matched no run in the last 30 days is reported as stale.
        #[arg(long, env = "QOD_STORE")]
        store: Option<String>,
    },
    /// Print a JSON Schema of one of qod's documents.
    Schema {
        /// Which document.
        #[arg(value_enum)]
        kind: Option<SchemaKind>,
        /// Write every schema into this folder instead (how `schema/` is made).
        #[arg(long, value_name = "DIR", conflicts_with = "kind")]
        write: Option<PathBuf>,
    },
    /// What plugin discovery finds.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Print the pipeline and source qod detects from the CI environment
    /// (JSON; `--format table` for people).
    Context {
        /// A JSON document (`{"pipeline": …, "source": …}`) to merge over
        /// what was detected: a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        context: Option<String>,
        /// Compare with this branch, as a pull request would (a branch or
        /// `origin/<branch>`; the merge-base comes from git).
        #[arg(long, value_name = "BRANCH")]
        base: Option<String>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Record that a revision reached production (run it after a successful
    /// deploy); prints the record (JSON; `--format table` for people).
    Deployed(DeployedArgs),
    /// Recent runs with their decisions and metric values.
    History(HistoryArgs),
    /// Write the whole history for spreadsheets, Athena or QuickSight.
    Export(ExportArgs),
    /// Write an HTML report of the history: the latest decision, a chart per
    /// metric, the recent runs.
    Report(ReportArgs),
    /// Find change points in each metric's history (E-divisive means, as
    /// Apache Otava does).
    Trend(TrendArgs),
    /// Set the gate up in a project: find its benchmark harness and its CI,
    /// and write `qod.yaml` (side by side on requests, history on the
    /// default branch) and the CI's pipeline.
    Init(InitArgs),
    /// Replay the policy over the stored history: how often each objective
    /// would have passed, warned and failed, and which runs it would have
    /// stopped (`--format json` lists every replayed run).
    Backtest(BacktestArgs),
    /// Find the commit that made an objective worse: the commits between a
    /// good and a bad revision, each checked out and compared side by side
    /// with the good one on this runner, halving the range at each step.
    Bisect(BisectArgs),
    /// Measure what the objectives can detect on this runner: side by side,
    /// plugins run A/A (both sides the same workspace) and each objective's
    /// own test replayed over those pairs; against history, plugins run many
    /// times in a row and each objective's own rule replayed over the
    /// series. Each gives its false-alarm rate, how often +2% to +50% is
    /// detected, and the smallest change detected 95% of the time. Changes
    /// nothing; says what to change.
    Calibrate(CalibrateArgs),
    /// Compose the parts of a gate spread over several jobs (`qod run
    /// --group`) into one decision over the whole policy, and record it.
    Combine(CombineArgs),
    /// GitHub: the decision's summary as the pull request's comment.
    Github {
        #[command(subcommand)]
        command: ForgeCommand,
    },
    /// GitLab: the decision's summary as the merge request's comment.
    Gitlab {
        #[command(subcommand)]
        command: ForgeCommand,
    },
    /// Report the gate to CodePipeline as a job result.
    Codepipeline {
        #[command(subcommand)]
        command: CodepipelineCommand,
    },
    /// Run a first-party plugin's program: a context on stdin, a result on
    /// stdout (what `plugins/<name>/plugin.json` starts).
    #[command(hide = true)]
    Builtin {
        /// The first-party plugin.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::builtin::names().collect::<Vec<_>>()))]
        name: String,
    },
    /// Maintain the history store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct StoreArg {
    /// History store: a directory, `s3://bucket/prefix`, `git:BRANCH` (a branch of
    /// this checkout's origin) or `git+URL#BRANCH`.
    #[arg(long, env = "QOD_STORE", default_value = ".qod/store")]
    pub store: String,
}

#[derive(Debug, clap::Args)]
pub struct DeployedArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// The deployed commit (default: the one the CI or git reports).
    #[arg(long)]
    pub revision: Option<String>,
    /// The gate run that let it through.
    #[arg(long)]
    pub run_id: Option<String>,
    /// The branch it was deployed from (default: the one the CI or git reports).
    #[arg(long)]
    pub branch: Option<String>,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub action: Option<HistoryAction>,
    #[command(flatten)]
    pub store: StoreArg,
    /// Only runs that measured this metric (`<instance>.<metric>`), and show its value.
    #[arg(long)]
    pub metric: Option<String>,
    /// Only runs of this branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    pub last: usize,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Subcommand)]
pub enum HistoryAction {
    /// Leave a run out of every baseline (one measured on a broken runner,
    /// say): a marker kept in the store with the reason; the run stays in
    /// `export`, flagged, and `trend` and `backtest` skip it.
    Exclude(ExcludeArgs),
    /// Take back the exclusion of a run: it is a baseline again.
    Include(ExcludeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExcludeArgs {
    /// The run's id (`qod history` lists them).
    pub run_id: String,
    /// Why, for whoever reads the history later.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Policy file (default: qod.yaml, qod.yml or qod.json here).
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    /// How many runs to replay, newest first.
    #[arg(long, default_value_t = 1000)]
    pub last: usize,
    /// Only runs of this branch (default: every run that is no pull or merge
    /// request, as a gate's history is).
    #[arg(long)]
    pub branch: Option<String>,
    /// The policy before a change (`git show main:qod.yaml > old.yaml`):
    /// both are replayed over the same runs, and the runs where their
    /// verdicts differ are listed.
    #[arg(long, value_name = "OLD_POLICY")]
    pub against: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("start").required(true).args(["good", "from_decision", "from_trend"])))]
pub struct BisectArgs {
    /// A revision known to be good (with `--bad`).
    #[arg(long, requires = "bad")]
    pub good: Option<String>,
    /// A revision known to be bad: worse than `--good` beyond the tolerance.
    #[arg(long, requires = "good")]
    pub bad: Option<String>,
    /// Start from a failed gate's decision (`qod run --out FILE`): the
    /// objective that failed, from the merge-base (or the last passing run)
    /// to the revision gated.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["good", "from_trend"])]
    pub from_decision: Option<PathBuf>,
    /// Start from the newest change point `qod trend` finds in `--metric`.
    #[arg(long, requires = "metric", conflicts_with = "good")]
    pub from_trend: bool,
    /// The metric of `--from-trend` (`<instance>.<metric>`).
    #[arg(long)]
    pub metric: Option<String>,
    /// The objective whose metric and tolerance decide each step (default:
    /// the failed one, or the policy's first side-by-side objective).
    #[arg(long)]
    pub objective: Option<String>,
    /// Policy file (default: qod.yaml, qod.yml or qod.json here).
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
    /// Write the culprit and the steps as Markdown (a job summary; `qod
    /// github comment --bisect` posts them from the JSON).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Keep each step's comparison in the store (`--store`), as a run
    /// excluded from baselines: the report shows the steps apart.
    #[arg(long)]
    pub record: bool,
    /// Compare only probe K of N: one of N commits spread evenly over the
    /// range (a job of a matrix, one runner each); `--after` narrows from them.
    #[arg(long, value_name = "K/N", value_parser = crate::parts::parse_shard)]
    pub probe: Option<(u32, u32)>,
    /// The probes' outputs (`--probe K/N --format json`): their answers
    /// narrow the range before the search goes on here.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "probe")]
    pub after: Vec<PathBuf>,
    /// Print each step on stderr (the default on a terminal).
    #[arg(long)]
    pub progress: bool,
    /// Time between SIGTERM and SIGKILL for a plugin past its timeout.
    #[arg(long, value_name = "DURATION", default_value_t = Span(crate::runner::DEFAULT_GRACE))]
    pub kill_grace: Span,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Policy file (default: qod.yaml, qod.yml or qod.json here).
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    /// A/A pairs to measure (default: three times `compare.pairs.max`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(3..=1000))]
    pub pairs: Option<u32>,
    /// Runs in a row for objectives judged against history (default: the
    /// largest `baseline.last` plus `confirm`, and 40 runs to judge).
    #[arg(long, value_parser = clap::value_parser!(u32).range(3..=5000))]
    pub runs: Option<u32>,
    /// The most wall time the pairs and runs may take (`15m`): the
    /// calibration then rests on what was measured, and says so.
    #[arg(long, value_name = "DURATION")]
    pub budget: Option<Span>,
    /// The change the gate should detect, in percent, for the
    /// recommendation (default: one point beyond each objective's tolerance).
    #[arg(long, value_name = "PCT")]
    pub target_mde: Option<f64>,
    /// Print each pair on stderr (the default on a terminal).
    #[arg(long)]
    pub progress: bool,
    #[command(flatten)]
    pub store: StoreArg,
    /// Keep nothing in the store (by default the calibration is kept
    /// there, and gates on this runner cite it).
    #[arg(long)]
    pub no_record: bool,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The CI to write a pipeline for (default: the one the project's
    /// files name).
    #[arg(long, value_enum)]
    pub ci: Option<crate::commands::init::Ci>,
    /// The benchmark harness (default: the one found).
    #[arg(long, value_enum)]
    pub harness: Option<crate::commands::init::Harness>,
    /// The side-by-side tolerance.
    #[arg(long, default_value = "<= +5%", value_name = "CRITERION")]
    pub tolerance: String,
    /// Write without asking (in scripts).
    #[arg(long, short)]
    pub yes: bool,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
    /// Write nothing: print the files.
    #[arg(long)]
    pub print: bool,
    /// The project's folder.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Only these metrics (`<instance>.<metric>`, or a glob); repeatable.
    #[arg(long)]
    pub metric: Vec<String>,
    /// How many runs to analyse, newest first.
    #[arg(long, default_value_t = 1000)]
    pub last: usize,
    /// Only runs of this branch (default: every run that is no pull or merge
    /// request).
    #[arg(long)]
    pub branch: Option<String>,
    /// Runs per sliding window of the split step.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..))]
    pub window: u32,
    /// Largest p-value of a change point (two-sided Student's t-test).
    #[arg(long, default_value_t = 0.001)]
    pub max_pvalue: f64,
    /// Smallest relative change of a change point (0.05 = 5%).
    #[arg(long, default_value_t = 0.05)]
    pub min_magnitude: f64,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// The HTML file to write (self-contained: open it anywhere, offline).
    #[arg(long, default_value = "qod-report.html")]
    pub out: PathBuf,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 500)]
    pub last: usize,
    /// Only these metrics (`<instance>.<metric>`, or a glob such as `latency.p*`); repeatable.
    #[arg(long)]
    pub metric: Vec<String>,
    /// Only runs of this branch (default: every branch; the one most runs
    /// are on is each chart's line, the others are marked points).
    #[arg(long)]
    pub branch: Option<String>,
    /// Also write each chart as a standalone SVG file into this folder.
    #[arg(long, value_name = "DIR")]
    pub svg_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// One row per run and metric.
    Csv,
    /// The full run records, one per line.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArg,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Only runs of this day (`YYYY-MM-DD`, UTC) and later.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ForgeCommand {
    /// Create the request's comment for this policy, or update it (one per
    /// policy, found again by a hidden marker); with a token that may not
    /// write (a fork's), the summary goes to the job summary or log instead.
    Comment {
        /// The decision (`qod run --out FILE`).
        #[arg(long, value_name = "FILE", default_value = "qod-decision.json")]
        decision: PathBuf,
        /// The summary (`qod run --markdown FILE`, with sparklines); made
        /// from the decision when not given.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Comment a bisection instead (`qod bisect --format json > FILE`):
        /// its culprit and steps, in a comment of its own.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["decision", "markdown"])]
        bisect: Option<PathBuf>,
    },
}

/// Where a decision goes besides stdout: `qod run`'s and `qod combine`'s.
#[derive(Debug, clap::Args)]
pub struct OutputsArg {
    /// Also write the decision to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Samples per metric in the printed decision (stdout and `--out`);
    /// the run record keeps up to 1000 whatever this says.
    #[arg(long, value_name = "N|all", default_value_t = Samples::At(crate::commands::run::PRINTED_SAMPLES))]
    pub samples: Samples,
    /// Also write a JUnit XML report (CodeBuild report groups, GitLab, Jenkins).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a Markdown summary (on GitHub Actions it goes to the job
    /// summary anyway).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write `QOD_DECISION=…`, `QOD_SCORE=…`, `QOD_RUN_ID=…` lines, to
    /// source before CodeBuild exports variables.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CombineArgs {
    #[command(flatten)]
    pub gate: GateArgs,
    /// The group the parts were recorded in (default: the CI's workflow run
    /// or pipeline, as for the parts).
    #[arg(long, env = "QOD_GROUP")]
    pub group: Option<String>,
    /// Wait this long for parts not recorded yet (`10m`); the ones still
    /// missing then make their objectives `no_data`.
    #[arg(long, value_name = "DURATION", default_value_t = Span(Duration::ZERO))]
    pub wait: Span,
}

/// What every gate command (`run`, `combine`, the CodePipeline commands)
/// takes: one `gate::Request` and the outputs.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// Policy file (default: qod.yaml, qod.yml or qod.json here).
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
    /// Exit 1 on warn, not only on fail.
    #[arg(long)]
    pub strict: bool,
    /// Print progress to stderr even when it is not a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Do not record this run in the store.
    #[arg(long)]
    pub no_record: bool,
    /// Keep the record here when the store cannot take it; the next run
    /// with the same spool uploads it.
    #[arg(long, value_name = "DIR", env = "QOD_SPOOL")]
    pub spool: Option<PathBuf>,
    #[command(flatten)]
    pub outputs: OutputsArg,
}

#[derive(Debug, Subcommand)]
pub enum CodepipelineCommand {
    /// Run the job in a Lambda invoke event (`{"CodePipeline.job": …}`, on
    /// stdin or `--event`) and report it with PutJobSuccessResult or
    /// PutJobFailureResult. `UserParameters` names the policy: a path, or
    /// JSON with `policy`, `store`, `strict`.
    LambdaEvent {
        /// The event file (default: stdin).
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Be a Lambda function's custom runtime (its `bootstrap`): take each
    /// invocation event from the Lambda runtime API, run and report its
    /// CodePipeline job as `lambda-event` does, answer the invocation, and
    /// wait for the next.
    LambdaRuntime {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Poll for jobs of a custom action, claim each, run the gate, report.
    /// SIGTERM finishes the current job, then exits.
    Worker {
        /// The custom action's category.
        #[arg(long, default_value = "Test")]
        category: String,
        /// The custom action's provider name.
        #[arg(long, default_value = "QoD")]
        provider: String,
        /// The custom action's version.
        #[arg(long, default_value = "1")]
        version: String,
        /// Handle at most one job; exit when there is none.
        #[arg(long)]
        once: bool,
        /// Time between polls when there is no job.
        #[arg(long, value_name = "DURATION", default_value_t = Span(Duration::from_secs(10)))]
        poll_interval: Span,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Remove old runs: their records and their index entries.
    Prune {
        #[command(flatten)]
        store: StoreArg,
        /// Keep the runs of the last N days.
        #[arg(
            long,
            value_name = "N",
            conflicts_with = "keep",
            required_unless_present = "keep",
            value_parser = clap::value_parser!(u32).range(0..=36_600)
        )]
        keep_days: Option<u32>,
        /// Keep the newest N runs.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
    },
    /// Rebuild the index from the run records (after damage, or a writer
    /// that died between recording a run and indexing it).
    Reindex {
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the plugins discovery finds, first match per name.
    List {
        /// Find plugins as this policy's run would: in the `plugins/`
        /// folder beside it too (default: here).
        #[arg(long, short)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Show one plugin's manifest: config schema and metrics (JSON;
    /// `--format table` for people).
    Describe {
        /// The plugin's name.
        name: String,
        /// Find the plugin as this policy's run would (default: here).
        #[arg(long, short)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("selection").args(["part", "shard", "only", "pairs"]).multiple(true)))]
pub struct RunArgs {
    #[command(flatten)]
    pub gate: GateArgs,
    /// Plugins run at once (default: the number of CPUs; at most 1024).
    #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// A JSON document (`{"pipeline": …, "source": …}`) to merge over what
    /// was detected from the CI environment: a file, or `-` for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub context: Option<String>,
    /// Compare this run with a base branch, as a pull request build is
    /// (a branch or `origin/<branch>`; the merge-base comes from git).
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// The group the part (`--part`, `--shard` or `--only`) belongs to, for
    /// `qod combine` (default: `QOD_GROUP`, or the CI's workflow run or
    /// pipeline). A part exits 0 once recorded; `qod combine` decides.
    #[arg(long, requires = "selection", conflicts_with = "no_record")]
    pub group: Option<String>,
    /// Run the part of this name from the policy's `parts:` (with `--only`:
    /// the name of the part those instances make).
    #[arg(long, value_name = "NAME")]
    pub part: Option<String>,
    /// Run shard K of N: every Nth plugin instance, in the order of their
    /// names (each job of a matrix gives its own K).
    #[arg(long, value_name = "K/N", value_parser = crate::parts::parse_shard, conflicts_with_all = ["part", "only"])]
    pub shard: Option<(u32, u32)>,
    /// Measure share K of N of the pairs of every side-by-side comparison
    /// (pairs K, K + N, …), recorded as a part: `qod combine` pools the
    /// pairs of all N jobs (on as many runners) and decides on them.
    #[arg(long, value_name = "K/N", value_parser = crate::parts::parse_shard, conflicts_with_all = ["part", "only", "shard"])]
    pub pairs: Option<(u32, u32)>,
    /// Run these plugin instances only, as one part (comma-separated or repeated).
    #[arg(long, value_name = "INSTANCE", value_delimiter = ',', num_args = 1..)]
    pub only: Vec<String>,
    /// Time between SIGTERM and SIGKILL for a plugin past its timeout.
    #[arg(long, value_name = "DURATION", default_value_t = Span(crate::runner::DEFAULT_GRACE))]
    pub kill_grace: Span,
    /// Time between progress lines for a plugin that is still running.
    #[arg(long, value_name = "DURATION", default_value_t = Span(crate::runner::HEARTBEAT))]
    pub heartbeat: Span,
}
