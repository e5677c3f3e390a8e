//! `qod schema`: the contracts' JSON Schemas, generated from the Rust types
//! with schemars. `qod schema --write schema` is how `schema/` is made; a
//! test fails when the checked-in files differ from what this generates.

use super::CommandError;
use crate::decision::Decision;
use crate::policy::Policy;
use crate::protocol::{Context, Manifest, PluginResult};
use crate::record::RunRecord;
use crate::validate::SchemaKind;
use schemars::JsonSchema;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The schema of `kind` as generated from the types.
pub fn generate(kind: SchemaKind) -> Value {
    fn gen<T: JsonSchema>() -> Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialize")
    }
    match kind {
        SchemaKind::Policy => gen::<Policy>(),
        SchemaKind::Manifest => gen::<Manifest>(),
        SchemaKind::Context => gen::<Context>(),
        SchemaKind::Result => gen::<PluginResult>(),
        SchemaKind::Decision => gen::<Decision>(),
        SchemaKind::Record => gen::<RunRecord>(),
        SchemaKind::Bisect => gen::<crate::bisect::Bisection>(),
        SchemaKind::Calibration => gen::<crate::calibrate::Calibration>(),
    }
}

/// The schema of `kind` rendered as it is checked in: pretty JSON with a
/// final newline.
pub fn render(kind: SchemaKind) -> String {
    let mut s = serde_json::to_string_pretty(&generate(kind)).expect("schemas serialize");
    s.push('\n');
    s
}

/// Writes every schema into `dir`; returns the files written.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    std::fs::create_dir_all(dir).map_err(|e| CommandError::Write(dir.to_owned(), e))?;
    let mut written = Vec::new();
    for kind in SchemaKind::ALL {
        let path = dir.join(kind.file_name());
        std::fs::write(&path, render(kind)).map_err(|e| CommandError::Write(path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}
