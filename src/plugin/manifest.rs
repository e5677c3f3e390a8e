//! Reading and checking `plugin.json`.

use crate::diag::{pointer, Diagnostic, FileKind};
use crate::protocol::{Manifest, PROTOCOL_VERSION};
use crate::validate::SchemaKind;
use std::collections::HashSet;
use std::path::Path;

/// Reads `file` and checks it; every problem is returned, not only the first.
pub fn load_manifest(file: &Path) -> Result<Manifest, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![Diagnostic::new(
            FileKind::Manifest,
            file,
            format!("cannot read the file: {e}"),
        )]
    })?;
    parse_manifest(file, &text)
}

/// Checks manifest text; `file` is only used to say where problems are.
pub fn parse_manifest(file: &Path, text: &str) -> Result<Manifest, Vec<Diagnostic>> {
    let diag = |msg: String| Diagnostic::new(FileKind::Manifest, file, msg);
    let raw: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| vec![diag(format!("not valid JSON: {e}")).at_line(e.line(), e.column())])?;
    let diags = SchemaKind::Manifest.diagnose(FileKind::Manifest, file, text, &raw);
    if !diags.is_empty() {
        return Err(diags);
    }
    let manifest: Manifest = serde_json::from_value(raw).map_err(|e| vec![diag(e.to_string())])?;
    let mut out = Vec::new();
    if manifest.manifest_version != 1 {
        out.push(
            diag(format!(
                "unsupported `manifest_version` {}",
                manifest.manifest_version
            ))
            .at("/manifest_version")
            .hint("this qod reads manifest version 1"),
        );
    }
    if !manifest.protocol_versions.contains(&PROTOCOL_VERSION) {
        out.push(
            diag(format!(
                "the plugin speaks protocol versions {:?}; this qod speaks version {PROTOCOL_VERSION}",
                manifest.protocol_versions
            ))
            .at("/protocol_versions")
            .hint("use a version of the plugin that supports protocol 1, or a newer qod"),
        );
    }
    if let Some(schema) = &manifest.config_schema {
        if let Err(e) = jsonschema::validator_for(schema) {
            out.push(
                diag(format!("`config_schema` is not a valid JSON Schema: {e}"))
                    .at(format!("/config_schema{}", e.instance_path())),
            );
        }
    }
    let mut seen = HashSet::new();
    for (i, m) in manifest.metrics.iter().enumerate() {
        if !seen.insert(m.name.as_str()) {
            out.push(
                diag(format!("metric `{}` is declared twice", m.name)).at(pointer([
                    "metrics",
                    &i.to_string(),
                    "name",
                ])),
            );
        }
        if m.is_pattern() {
            if let Err(e) = glob::Pattern::new(&m.name) {
                out.push(
                    diag(format!(
                        "metric pattern `{}` is not a valid pattern: {e}",
                        m.name
                    ))
                    .at(pointer(["metrics", &i.to_string(), "name"]))
                    .hint("use `*` for any name, or a prefix such as `sort/*`"),
                );
            }
        }
    }
    if out.is_empty() {
        Ok(manifest)
    } else {
        crate::diag::locate_all(&mut out, file, text);
        Err(out)
    }
}
