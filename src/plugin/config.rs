//! An instance's `with:` config against its manifest's `config_schema`.

use crate::diag::{pointer, Diagnostic, FileKind};
use crate::validate::violations;
use serde_json::{Map, Value};
use std::path::Path;

/// Checks `config` against `schema` and fills in the schema's defaults.
/// Problems point into the policy (`/plugins/<instance>/with/...`).
pub fn check_config(
    policy_file: &Path,
    instance: &str,
    plugin: &str,
    schema: Option<&Value>,
    config: Option<&Value>,
) -> Result<Value, Vec<Diagnostic>> {
    let mut config = config.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let Some(schema) = schema else {
        return Ok(config);
    };
    // The manifest was checked already, so its schema compiles.
    let Ok(validator) = jsonschema::validator_for(schema) else {
        return Ok(config);
    };
    fill_defaults(schema, &mut config);
    let problems = violations(&validator, &config);
    if problems.is_empty() {
        return Ok(config);
    }
    Err(problems
        .into_iter()
        .map(|v| {
            Diagnostic::new(
                FileKind::Policy,
                policy_file,
                format!("config for plugin `{plugin}`: {}", v.message),
            )
            .at(format!(
                "{}{}",
                pointer(["plugins", instance, "with"]),
                v.pointer
            ))
            .hint(format!(
                "run `qod plugins describe {plugin}` to see its config schema"
            ))
        })
        .collect())
}

/// Inserts the `default` of every property the config leaves out, in nested
/// objects too.
pub fn fill_defaults(schema: &Value, value: &mut Value) {
    let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object_mut(),
    ) else {
        return;
    };
    for (name, prop) in props {
        match obj.get_mut(name) {
            Some(v) => fill_defaults(prop, v),
            None => {
                if let Some(d) = prop.get("default") {
                    obj.insert(name.clone(), d.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_filled_in_nested_objects() {
        let schema = json!({"type": "object", "properties": {
            "requests": {"type": "integer", "default": 100},
            "url": {"type": "string"},
            "tls": {"type": "object", "properties": {"verify": {"type": "boolean", "default": true}}}
        }});
        let mut v = json!({"url": "http://x", "tls": {}});
        fill_defaults(&schema, &mut v);
        assert_eq!(
            v,
            json!({"url": "http://x", "tls": {"verify": true}, "requests": 100})
        );
    }
}
