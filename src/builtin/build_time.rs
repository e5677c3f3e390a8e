//! `build-time`: seconds from the build's start to now. The prototype's
//! first gate (fail when a build takes more than 1.5 × the mean of the last
//! three) is this metric with a relative criterion.

use super::{Failure, Measured};
use crate::protocol::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    start: Option<serde_json::Value>,
}

/// A start more than this far in the future is a mistake, not clock skew.
const MAX_SKEW_S: f64 = 60.0;

pub fn run(ctx: &Context, env: &dyn Fn(&str) -> Option<String>) -> Result<Measured, Failure> {
    let config: Config = super::config(ctx)?;
    let now = Utc::now();
    let (start, from) = start(&config, ctx, env)?;
    let seconds = (now - start).num_milliseconds() as f64 / 1000.0;
    if seconds < -MAX_SKEW_S {
        return Err(Failure::new(
            "bad-start",
            format!(
                "the start time {} (from {from}) is {:.0} s in the future; give `with.start` as RFC 3339 or Unix epoch seconds or milliseconds",
                crate::time::rfc3339(start),
                -seconds
            ),
        ));
    }
    let seconds = seconds.max(0.0);
    let mut m = Measured::default();
    m.push("duration", seconds, Some("s"));
    m.summary = format!(
        "build running for {} since {} (from {from})",
        crate::units::format_with_unit(seconds, "s"),
        crate::time::rfc3339(start)
    );
    Ok(m)
}

/// The build's start and where it came from.
fn start(
    config: &Config,
    ctx: &Context,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(DateTime<Utc>, &'static str), Failure> {
    if let Some(v) = &config.start {
        return parse_start(v)
            .map(|t| (t, "`with.start`"))
            .ok_or_else(|| {
                Failure::config(format!(
                    "`with.start`: {v} is neither an RFC 3339 time (`2026-11-23T10:00:00Z`) nor Unix epoch seconds or milliseconds"
                ))
            });
    }
    let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if let Some(v) = nonempty("CODEBUILD_START_TIME") {
        return parse_start(&serde_json::Value::String(v.clone()))
            .map(|t| (t, "CODEBUILD_START_TIME"))
            .ok_or_else(|| {
                Failure::new(
                    "bad-start",
                    format!("CODEBUILD_START_TIME is `{v}`, not Unix epoch milliseconds; give `with.start` instead"),
                )
            });
    }
    for var in ["CI_JOB_STARTED_AT", "CI_PIPELINE_CREATED_AT"] {
        if let Some(t) = nonempty(var).and_then(|v| parse_start(&serde_json::Value::String(v))) {
            return Ok((
                t,
                if var == "CI_JOB_STARTED_AT" {
                    "CI_JOB_STARTED_AT"
                } else {
                    "CI_PIPELINE_CREATED_AT"
                },
            ));
        }
    }
    if let Some(t) = ctx
        .pipeline
        .started_at
        .as_deref()
        .and_then(|s| parse_start(&serde_json::Value::String(s.to_owned())))
    {
        return Ok((t, "the pipeline context"));
    }
    Err(Failure::new(
        "no-start-time",
        format!(
            "the CI provider `{}` does not say when the build started; give `with.start` (RFC 3339 or Unix epoch), for example from a step that records `date +%s` at the build's start",
            ctx.pipeline.provider
        ),
    ))
}

/// RFC 3339, or a Unix epoch in seconds or milliseconds (as a number or a
/// string of digits). Epochs above 10^11 are milliseconds: 10^11 seconds is
/// the year 5138.
fn parse_start(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    let epoch = |x: f64| -> Option<DateTime<Utc>> {
        if !x.is_finite() || x <= 0.0 {
            return None;
        }
        let ms = if x > 1e11 { x } else { x * 1000.0 };
        DateTime::from_timestamp_millis(ms.round() as i64)
    };
    match v {
        serde_json::Value::Number(n) => n.as_f64().and_then(epoch),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(x) = s.parse::<f64>() {
                return epoch(x);
            }
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn epochs_and_rfc3339() {
        let t = |v| parse_start(&v).map(|t| t.timestamp_millis());
        assert_eq!(t(json!(1_700_000_000)), Some(1_700_000_000_000));
        assert_eq!(t(json!("1700000000123")), Some(1_700_000_000_123));
        assert_eq!(t(json!(1_700_000_000.5)), Some(1_700_000_000_500));
        assert_eq!(
            t(json!("2023-11-14T22:13:20+00:00")),
            Some(1_700_000_000_000)
        );
        assert_eq!(t(json!("")), None);
        assert_eq!(t(json!("yesterday")), None);
        assert_eq!(t(json!(-5)), None);
        assert_eq!(t(json!(true)), None);
    }
}
