//! Outputs of one decision in the formats CI systems read: JUnit XML
//! (CodeBuild report groups, GitLab, Jenkins), a Markdown summary (GitHub job
//! summary, pull request comments), GitHub Actions outputs and annotations,
//! and a `KEY=value` file for exported variables. The HTML report of the
//! whole history is apart, in [`crate::report`].

pub mod comment;
pub mod github;
pub mod junit;
pub mod markdown;

use crate::decision::Decision;

/// `QOD_DECISION`, `QOD_SCORE`, `QOD_RUN_ID` as `KEY=value` lines, for
/// CodeBuild's `exported-variables` (source the file) or any shell.
pub fn env_file(d: &Decision) -> String {
    format!(
        "QOD_DECISION={}\nQOD_SCORE={}\nQOD_RUN_ID={}\n",
        d.decision.as_str(),
        crate::units::format_value(d.score),
        d.run.id
    )
}

/// Where reports go, beside the decision on stdout.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub junit: Option<std::path::PathBuf>,
    pub markdown: Option<std::path::PathBuf>,
    pub env_file: Option<std::path::PathBuf>,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the {what} `{}`", path.display())]
pub struct ReportError {
    pub what: &'static str,
    pub path: std::path::PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn write(
    what: &'static str,
    path: &std::path::Path,
    text: &str,
    append: bool,
) -> Result<(), ReportError> {
    use std::io::Write;
    let err = |source| ReportError {
        what,
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}

/// Writes the requested reports; on GitHub Actions also the job summary
/// (`$GITHUB_STEP_SUMMARY`) and the step outputs (`$GITHUB_OUTPUT`).
/// Returns the lines to print on stderr (GitHub annotations).
pub fn publish(
    d: &Decision,
    trends: &[(String, Vec<f64>)],
    outputs: &Outputs,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<String>, ReportError> {
    if let Some(p) = &outputs.junit {
        write("JUnit report", p, &junit::render(d), false)?;
    }
    let report_url = env
        .get("QOD_REPORT_URL")
        .map(String::as_str)
        .filter(|u| !u.is_empty());
    let markdown = markdown::render(d, trends, report_url);
    if let Some(p) = &outputs.markdown {
        write("Markdown summary", p, &markdown, false)?;
    }
    if let Some(p) = &outputs.env_file {
        write("env file", p, &env_file(d), false)?;
    }
    let provider = crate::ci::Provider::detect(env);
    if !provider.annotates() {
        return Ok(Vec::new());
    }
    let (summary, step_outputs) = provider.job_files(env);
    if let Some(p) = summary {
        write("GitHub job summary", p, &format!("{markdown}\n"), true)?;
    }
    if let Some(p) = step_outputs {
        write("GitHub step outputs", p, &github::outputs(d), true)?;
    }
    Ok(github::annotations(d))
}
