//! `qod github comment` and `qod gitlab comment`: the Markdown summary of a
//! decision (`qod run --out`) as the request's one comment for its policy,
//! or a bisection's (`--bisect`) in a comment of its own.

use super::CommandError;
use crate::decision::Decision;
use crate::outputs::comment::{self, Commented, Forge};
use std::path::Path;

/// Posts or updates the comment for the decision in `decision_file`, with
/// the summary in `markdown_file` (from `qod run --markdown`, which has the
/// sparklines) or else one made from the decision.
pub async fn comment(
    forge: Forge,
    decision_file: &Path,
    markdown_file: Option<&Path>,
    env: &super::Env,
) -> Result<Commented, CommandError> {
    let text = std::fs::read_to_string(decision_file)
        .map_err(|e| CommandError::Read(decision_file.to_owned(), e))?;
    let d: Decision = serde_json::from_str(&text).map_err(|e| {
        CommandError::Usage(format!(
            "`{}` is not a qod decision ({e}); give the file `qod run --out` wrote",
            decision_file.display()
        ))
    })?;
    let body = match markdown_file {
        Some(f) => std::fs::read_to_string(f).map_err(|e| CommandError::Read(f.to_owned(), e))?,
        None => {
            crate::outputs::markdown::render(&d, &[], env.get("QOD_REPORT_URL").map(String::as_str))
        }
    };
    comment::comment(forge, &d.run.policy, &body, env)
        .await
        .map_err(|e| CommandError::Usage(e.to_string()))
}

/// Posts or updates the comment of the bisection in `file` (`qod bisect
/// --format json`): one per objective bisected, apart from the gate's.
pub async fn bisection(
    forge: Forge,
    file: &Path,
    env: &super::Env,
) -> Result<Commented, CommandError> {
    let text = std::fs::read_to_string(file).map_err(|e| CommandError::Read(file.to_owned(), e))?;
    let b: crate::bisect::Bisection = serde_json::from_str(&text).map_err(|e| {
        CommandError::Usage(format!(
            "`{}` is not a bisection ({e}); give the JSON `qod bisect --format json` printed",
            file.display()
        ))
    })?;
    let body = super::bisect::markdown(&b);
    comment::comment(forge, &format!("bisect:{}", b.objective), &body, env)
        .await
        .map_err(|e| CommandError::Usage(e.to_string()))
}
