//! `qod bisect`: where it starts (`--good`/`--bad`, a failed gate's
//! decision, or a change point `qod trend` finds), then the search
//! (`gate::bisect`), and its Markdown summary.

use super::{CommandError, Env};
use crate::bisect::{BisectVerdict, Bisection};
use crate::gate::bisect::BisectRequest;
use crate::gate::{Request, RunOptions, Session};
use std::path::Path;

/// Where a bisection starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// `--good REV --bad REV`.
    Given { good: String, bad: String },
    /// `--from-decision FILE`: the objective that failed, from the
    /// change's merge-base (or the last passing run) to the revision gated.
    Decision(std::path::PathBuf),
    /// `--from-trend --metric M`: the newest change point of `M`, from the
    /// revision before it to the one after.
    Trend { metric: String },
}

/// The revisions and objective a start names.
async fn resolve(
    start: &Start,
    objective: Option<String>,
    env: &Env,
    store: &str,
    plan: &crate::plan::Plan,
) -> Result<BisectRequest, CommandError> {
    match start {
        Start::Given { good, bad } => Ok(BisectRequest {
            good: good.clone(),
            bad: bad.clone(),
            objective,
            record: false,
            probe: None,
            after: Vec::new(),
        }),
        Start::Decision(file) => {
            let text =
                std::fs::read_to_string(file).map_err(|e| CommandError::Read(file.clone(), e))?;
            let d: crate::decision::Decision = serde_json::from_str(&text).map_err(|e| {
                CommandError::Usage(format!(
                    "`{}` is not a qod decision ({e}); give the file `qod run --out` wrote",
                    file.display()
                ))
            })?;
            let failed = d
                .objectives
                .iter()
                .find(|o| o.effect == crate::decision::OutcomeEffect::Fail)
                .map(|o| {
                    o.family
                        .as_ref()
                        .map_or(o.id.clone(), |f| f.objective.clone())
                });
            let bad = d.pipeline.revision.clone().ok_or_else(|| {
                CommandError::Usage(format!("`{}` names no revision", file.display()))
            })?;
            let good = d
                .pipeline
                .merge_base
                .clone()
                .or_else(|| d.store.last_deployment.as_ref()?.revision.clone())
                .ok_or_else(|| {
                    CommandError::Usage(format!(
                        "`{}` names neither a merge-base nor a last passing run to start from; give `--good REV`",
                        file.display()
                    ))
                })?;
            Ok(BisectRequest {
                good,
                bad,
                objective: objective.or(failed),
                record: false,
                probe: None,
                after: Vec::new(),
            })
        }
        Start::Trend { metric } => {
            let query = super::trend::TrendQuery {
                metrics: std::slice::from_ref(metric),
                last: 1000,
                branch: None,
                params: crate::changepoint::Params::default(),
            };
            let t = super::trend::trend(env, store, query).await?;
            let point = t
                .metrics
                .iter()
                .flat_map(|m| m.change_points.iter().map(move |c| (m, c)))
                .max_by(|a, b| a.1.at.cmp(&b.1.at))
                .ok_or_else(|| {
                    CommandError::Usage(format!(
                        "`qod trend` finds no change point in `{metric}` in `{}`; give `--good` and `--bad`",
                        t.location
                    ))
                })?;
            let (m, c) = point;
            let (Some(good), Some(bad)) = (c.previous_revision.clone(), c.revision.clone()) else {
                return Err(CommandError::Usage(format!(
                    "the change point of `{}` at run {} has no revisions recorded on both sides; give `--good` and `--bad`",
                    m.metric, c.run_id
                )));
            };
            let named = plan
                .objectives
                .iter()
                .find(|o| {
                    o.spec.metric == m.metric
                        || crate::plan::pattern_matches(&o.spec.metric, &m.metric)
                })
                .map(|o| o.spec.id.clone());
            Ok(BisectRequest {
                good,
                bad,
                objective: objective.or(named),
                record: false,
                probe: None,
                after: Vec::new(),
            })
        }
    }
}

/// How a bisection runs besides where it starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub objective: Option<String>,
    /// `--record`.
    pub record: bool,
    /// `--probe K/N`.
    pub probe: Option<(u32, u32)>,
    /// `--after FILE…`: the probes' outputs.
    pub after: Vec<std::path::PathBuf>,
}

/// Bisects from `start` with the request's policy.
pub async fn bisect(
    req: Request,
    opts: &RunOptions,
    start: &Start,
    options: Options,
) -> Result<Bisection, CommandError> {
    let session = Session::open(req).await?;
    let env = session.request.env.clone();
    let store = session.request.store.clone();
    let mut request = resolve(start, options.objective, &env, &store, &session.plan).await?;
    request.record = options.record;
    request.probe = options.probe;
    for file in &options.after {
        let text =
            std::fs::read_to_string(file).map_err(|e| CommandError::Read(file.clone(), e))?;
        let probe: Bisection = serde_json::from_str(&text).map_err(|e| {
            CommandError::Usage(format!(
                "`{}` is not the output of `qod bisect --probe` ({e})",
                file.display()
            ))
        })?;
        request.after.extend(probe.steps);
    }
    Ok(crate::gate::bisect::bisect(&session, opts, &request).await?)
}

/// The bisection's exit code: 0 when the culprit is found (or a probe
/// measured its commit), 1 otherwise.
pub fn exit(b: &Bisection) -> crate::exit::Exit {
    match b.verdict {
        BisectVerdict::Found | BisectVerdict::Probed => crate::exit::Exit::Pass,
        _ => crate::exit::Exit::Fail,
    }
}

/// `--markdown`: the culprit, its change, and the steps.
pub fn markdown(b: &Bisection) -> String {
    let short = |r: &str| r[..r.len().min(12)].to_owned();
    let mut s = match (&b.verdict, &b.culprit) {
        (BisectVerdict::Found, Some(c)) => format!(
            "## qod bisect: `{}` made `{}` worse\n\n**{}** by {} — `{}` {:+.1}% [{:+.1}%, {:+.1}%] against `{}` (the tolerance is {:+}%).\n\n",
            short(&c.revision),
            b.objective,
            md(&c.subject),
            md(&c.author),
            b.metric,
            c.change_pct,
            c.ci_low_pct,
            c.ci_high_pct,
            short(&b.good),
            b.tolerance_pct
        ),
        (BisectVerdict::NoRegression, _) => format!(
            "## qod bisect: no regression\n\n`{}` is not worse than `{}` on `{}` (tolerance {:+}%).\n\n",
            short(&b.bad),
            short(&b.good),
            b.metric,
            b.tolerance_pct
        ),
        (BisectVerdict::Probed, _) => format!(
            "## qod bisect: a probe of `{}`\n\nOne commit compared with `{}`, for `qod bisect --after`.\n\n",
            b.objective,
            short(&b.good)
        ),
        _ => format!(
            "## qod bisect: inconclusive\n\nThe culprit is one of: {}.\n\n",
            b.candidates.iter().map(|r| format!("`{}`", short(r))).collect::<Vec<_>>().join(", ")
        ),
    };
    s.push_str("| step | commit | subject | answer | change |\n|--:|---|---|---|---|\n");
    for (i, st) in b.steps.iter().enumerate() {
        let answer = st.verdict.as_str();
        s.push_str(&format!(
            "| {} | `{}` | {} | {answer} | {} |\n",
            i + 1,
            short(&st.revision),
            md(&st.subject),
            md(&st.reason)
        ));
    }
    s
}

/// Markdown table text: one line, no pipes or markup that could break out.
fn md(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
}

/// Writes the Markdown summary to `file`.
pub fn write_markdown(b: &Bisection, file: &Path) -> Result<(), CommandError> {
    std::fs::write(file, markdown(b)).map_err(|e| CommandError::Write(file.to_owned(), e))
}
