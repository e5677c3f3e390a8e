//! The first-party plugins' programs. Each is an ordinary protocol v1
//! plugin: its folder under `plugins/` holds a `plugin.json` whose command is
//! `["qod", "builtin", "<name>"]`, the engine starts it as a subprocess with
//! the context on stdin, and it prints one result on stdout. They live in the
//! `qod` binary so that one install brings them; their manifests are also
//! built in, so `uses: http-load` works wherever `qod` runs.

pub(crate) mod bench_import;
mod build_time;
mod command_bench;
mod http_load;
mod instructions;
mod merged_changes;

use crate::protocol::{Context, ErrorInfo, Metric, PluginResult, ResultStatus};
use serde::de::DeserializeOwned;
use std::io::{Read, Write};

/// The first-party plugins' manifests, as shipped in `plugins/<name>/plugin.json`.
pub const MANIFESTS: &[(&str, &str)] = &[
    (
        "bench-import",
        include_str!("../../plugins/bench-import/plugin.json"),
    ),
    (
        "build-time",
        include_str!("../../plugins/build-time/plugin.json"),
    ),
    (
        "command-bench",
        include_str!("../../plugins/command-bench/plugin.json"),
    ),
    (
        "http-load",
        include_str!("../../plugins/http-load/plugin.json"),
    ),
    (
        "merged-changes",
        include_str!("../../plugins/merged-changes/plugin.json"),
    ),
];

/// The names `qod builtin` accepts.
pub fn names() -> impl Iterator<Item = &'static str> {
    MANIFESTS.iter().map(|(n, _)| *n)
}

/// Why a plugin could not measure: the result's `error.kind` and `message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// A config the plugin cannot use.
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new("bad-config", message)
    }
}

/// What a plugin measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub metrics: Vec<Metric>,
    pub summary: String,
}

impl Measured {
    pub fn push(&mut self, name: impl Into<String>, value: f64, unit: Option<&str>) -> &mut Metric {
        self.metrics.push(Metric {
            name: name.into(),
            value,
            unit: unit.map(str::to_owned),
            better: None,
            samples: None,
            instrument: None,
        });
        self.metrics.last_mut().expect("just pushed")
    }
}

/// Reads the instance's config into the plugin's own type. The engine has
/// already checked it against the manifest's schema; this catches a plugin
/// run by hand with a config the schema would have refused.
pub fn config<T: DeserializeOwned>(ctx: &Context) -> Result<T, Failure> {
    let config = if ctx.config.is_null() {
        serde_json::json!({})
    } else {
        ctx.config.clone()
    };
    serde_path_to_error::deserialize(config).map_err(
        |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            Failure::config(format!(
                "`with{}`: {}; see `qod plugins describe {}` for the accepted config",
                if path == "." {
                    String::new()
                } else {
                    format!(".{path}")
                },
                e.inner(),
                ctx.plugin.name
            ))
        },
    )
}

/// Runs first-party plugin `name` as a protocol v1 plugin: context on
/// stdin, result on stdout. Returns the process's exit code.
pub fn exec(name: &str) -> u8 {
    let mut input = String::new();
    let result = match std::io::stdin().read_to_string(&mut input) {
        Err(e) => Err(Failure::new(
            "bad-context",
            format!("cannot read the context from stdin: {e}"),
        )),
        Ok(_) => match serde_json::from_str::<Context>(&input) {
            Err(e) => Err(Failure::new(
                "bad-context",
                format!("stdin is not a qod context document: {e}; qod writes one when it runs the plugin"),
            )),
            Ok(ctx) => run(name, &ctx),
        },
    };
    let doc = match result {
        Ok(m) => PluginResult {
            protocol: 1,
            status: ResultStatus::Ok,
            metrics: m.metrics,
            summary: (!m.summary.is_empty()).then_some(m.summary),
            error: None,
            state: None,
            retry_after: None,
        },
        Err(f) => PluginResult {
            protocol: 1,
            status: ResultStatus::Error,
            metrics: Vec::new(),
            summary: None,
            error: Some(ErrorInfo {
                kind: f.kind.to_owned(),
                message: f.message,
            }),
            state: None,
            retry_after: None,
        },
    };
    let text = serde_json::to_string(&doc).expect("a result serializes");
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn run(name: &str, ctx: &Context) -> Result<Measured, Failure> {
    match name {
        "bench-import" => bench_import::run(ctx),
        "build-time" => build_time::run(ctx, &|k| std::env::var(k).ok()),
        "command-bench" => command_bench::run(ctx),
        "http-load" => http_load::run(ctx),
        "merged-changes" => merged_changes::run(ctx),
        other => Err(Failure::new(
            "unknown-plugin",
            format!(
                "qod has no built-in plugin `{other}` (it has {})",
                names().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// The workspace folder of the context (where relative config paths point).
pub fn workspace(ctx: &Context) -> std::path::PathBuf {
    std::path::PathBuf::from(&ctx.paths.workspace)
}
