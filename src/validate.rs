//! Validation against the contracts' JSON Schemas: the files checked in
//! under `schema/`, built into the binary and compiled once per process.
//! Validation needs no Rust type: the schemas are generated from the types
//! by `qod schema` ([`crate::commands::schema`]), and a test keeps the
//! checked-in files identical to what the types generate.

use serde_json::Value;
use std::sync::OnceLock;

/// The documents qod has a schema for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    Policy,
    Manifest,
    Context,
    Result,
    Decision,
    Record,
    /// `qod bisect`'s output.
    Bisect,
    /// `qod calibrate`'s output.
    Calibration,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 8] = [
        SchemaKind::Policy,
        SchemaKind::Manifest,
        SchemaKind::Context,
        SchemaKind::Result,
        SchemaKind::Decision,
        SchemaKind::Record,
        SchemaKind::Bisect,
        SchemaKind::Calibration,
    ];

    /// The file name under `schema/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Policy => "policy.schema.json",
            SchemaKind::Manifest => "plugin-manifest.schema.json",
            SchemaKind::Context => "context.schema.json",
            SchemaKind::Result => "plugin-result.schema.json",
            SchemaKind::Decision => "decision.schema.json",
            SchemaKind::Record => "run-record.schema.json",
            SchemaKind::Bisect => "bisect.schema.json",
            SchemaKind::Calibration => "calibration.schema.json",
        }
    }

    /// The schema as checked in under `schema/`, built into the binary. A
    /// test keeps it identical to what the types generate; validating with
    /// it saves generating schemas on every run.
    pub fn checked_in(self) -> &'static str {
        match self {
            SchemaKind::Policy => include_str!("../schema/policy.schema.json"),
            SchemaKind::Manifest => include_str!("../schema/plugin-manifest.schema.json"),
            SchemaKind::Context => include_str!("../schema/context.schema.json"),
            SchemaKind::Result => include_str!("../schema/plugin-result.schema.json"),
            SchemaKind::Decision => include_str!("../schema/decision.schema.json"),
            SchemaKind::Record => include_str!("../schema/run-record.schema.json"),
            SchemaKind::Bisect => include_str!("../schema/bisect.schema.json"),
            SchemaKind::Calibration => include_str!("../schema/calibration.schema.json"),
        }
    }

    fn index(self) -> usize {
        SchemaKind::ALL
            .iter()
            .position(|k| *k == self)
            .expect("listed")
    }

    /// The checked-in schema, parsed once per process.
    fn schema(self) -> &'static Value {
        static CELLS: [OnceLock<Value>; 8] = [const { OnceLock::new() }; 8];
        CELLS[self.index()].get_or_init(|| {
            serde_json::from_str(self.checked_in()).expect("checked-in schemas are JSON")
        })
    }

    /// A compiled validator, built once per process.
    pub fn validator(self) -> &'static jsonschema::Validator {
        static CELLS: [OnceLock<jsonschema::Validator>; 8] = [const { OnceLock::new() }; 8];
        CELLS[self.index()].get_or_init(|| {
            jsonschema::validator_for(self.schema()).expect("checked-in schemas are valid")
        })
    }
}

impl SchemaKind {
    /// The argument of `qod schema` that prints this schema.
    pub fn command_name(self) -> &'static str {
        match self {
            SchemaKind::Policy => "policy",
            SchemaKind::Manifest => "manifest",
            SchemaKind::Context => "context",
            SchemaKind::Result => "result",
            SchemaKind::Decision => "decision",
            SchemaKind::Record => "record",
            SchemaKind::Bisect => "bisect",
            SchemaKind::Calibration => "calibration",
        }
    }

    /// Every violation of this schema by `doc` (parsed from `text` in
    /// `file`) as a diagnostic with its pointer, line and column.
    pub fn diagnose(
        self,
        kind: crate::diag::FileKind,
        file: &std::path::Path,
        text: &str,
        doc: &Value,
    ) -> Vec<crate::diag::Diagnostic> {
        let words = Words::of(self.schema());
        let found = violations(self.validator(), doc);
        // A misspelt field is also a missing one: say it once, with the fix
        // (the missing field first, then any field the schema knows).
        let mut required: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for v in &found {
            if let Some(name) = v
                .message
                .strip_prefix('"')
                .and_then(|m| m.strip_suffix("\" is a required property"))
            {
                required
                    .entry(v.pointer.clone())
                    .or_default()
                    .push(name.to_owned());
            }
        }
        let none = Vec::new();
        let missing = |pointer: &str| required.get(pointer).unwrap_or(&none);
        let suggested: Vec<(String, String)> = found
            .iter()
            .flat_map(|v| {
                let missing = missing(&v.pointer);
                unexpected(&v.message)
                    .into_iter()
                    .filter_map(|u| words.suggest(&u, missing))
                    .map(|s| (v.pointer.clone(), s))
            })
            .collect();
        let mut diags: Vec<crate::diag::Diagnostic> = found
            .into_iter()
            .filter(|v| {
                !suggested.iter().any(|(p, s)| {
                    *p == v.pointer && v.message == format!("\"{s}\" is a required property")
                })
            })
            .map(|v| {
                let generic = format!(
                    "run `qod schema {}` to see the accepted fields",
                    self.command_name()
                );
                let (message, hint) = words.explain(&v, doc, missing(&v.pointer));
                crate::diag::Diagnostic::new(kind, file, message)
                    .at(v.pointer)
                    .hint(hint.unwrap_or(generic))
            })
            .collect();
        crate::diag::locate_all(&mut diags, file, text);
        diags
    }
}

/// The field names `'…' was unexpected` names.
fn unexpected(message: &str) -> Vec<String> {
    let Some(rest) = message.strip_prefix("Additional properties are not allowed (") else {
        return Vec::new();
    };
    rest.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// What a schema knows that makes messages better: every field name it
/// has, and which fields are durations.
struct Words {
    fields: std::collections::BTreeSet<String>,
    durations: std::collections::BTreeSet<String>,
}

impl Words {
    fn of(schema: &Value) -> Words {
        let mut w = Words {
            fields: Default::default(),
            durations: Default::default(),
        };
        fn is_duration(v: &Value) -> bool {
            v.get("$ref")
                .and_then(Value::as_str)
                .is_some_and(|r| r.ends_with("/Duration") || r.ends_with("/HumanDuration"))
                || v.get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("A duration such as"))
                || ["anyOf", "oneOf", "allOf"].iter().any(|k| {
                    v.get(k)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(is_duration))
                })
        }
        fn walk(v: &Value, w: &mut Words) {
            match v {
                Value::Object(o) => {
                    if let Some(props) = o.get("properties").and_then(Value::as_object) {
                        for (name, sub) in props {
                            w.fields.insert(name.clone());
                            if is_duration(sub) {
                                w.durations.insert(name.clone());
                            }
                        }
                    }
                    o.values().for_each(|x| walk(x, w));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, w)),
                _ => {}
            }
        }
        walk(schema, &mut w);
        w
    }

    /// The field meant by `wrong`: one of `missing` (required there and
    /// absent) first, else any field the schema knows.
    fn suggest(&self, wrong: &str, missing: &[String]) -> Option<String> {
        crate::diag::suggest(wrong, missing.iter().map(String::as_str))
            .or_else(|| crate::diag::suggest(wrong, self.fields.iter().map(String::as_str)))
            .map(str::to_owned)
    }

    /// The message and, when there is a better one than the generic, the hint.
    fn explain(&self, v: &Violation, doc: &Value, missing: &[String]) -> (String, Option<String>) {
        let names = unexpected(&v.message);
        if !names.is_empty() {
            let list = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let fixes: Vec<(String, String)> = names
                .iter()
                .filter_map(|n| self.suggest(n, missing).map(|s| (n.clone(), s)))
                .collect();
            let hint = match fixes.as_slice() {
                [] => None,
                [(_, s)] if names.len() == 1 => Some(format!("did you mean `{s}`?")),
                many => Some(format!(
                    "did you mean: {}?",
                    many.iter()
                        .map(|(n, s)| format!("`{s}` for `{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            return (format!("unknown field {list}"), hint);
        }
        let field = v.pointer.rsplit('/').next().unwrap_or_default();
        let value = doc.pointer(&v.pointer);
        if self.durations.contains(field) && value.is_some_and(Value::is_number) {
            let n = value.expect("checked").to_string();
            return (
                format!("`{field}` is a duration, and {n} has no unit"),
                Some(format!(
                    "write it with its unit: `{field}: {n}s` (or `{n}ms`, `{n}m`)"
                )),
            );
        }
        (v.message.clone(), None)
    }
}

/// One schema violation: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
}

/// Every violation of `schema` by `doc`, in document order.
pub fn violations(validator: &jsonschema::Validator, doc: &Value) -> Vec<Violation> {
    let mut out: Vec<Violation> = validator
        .iter_errors(doc)
        .flat_map(|e| describe(&e))
        .collect();
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    out.dedup();
    out
}

/// Says what is wrong in words a user can act on. `anyOf`/`oneOf` failures
/// ("not valid under any of the schemas") are replaced by the allowed values
/// when the alternatives are constants, or by the errors of the alternative
/// that got furthest, ignoring the `null` of optional fields.
fn describe(e: &jsonschema::ValidationError) -> Vec<Violation> {
    use jsonschema::error::ValidationErrorKind as K;
    let pointer = e.instance_path().to_string();
    let context = match e.kind() {
        K::AnyOf { context } | K::OneOfNotValid { context } => context,
        _ => {
            return vec![Violation {
                pointer,
                message: shorten(&e.to_string()),
            }]
        }
    };
    let constants: Option<Vec<String>> = context
        .iter()
        .map(|branch| match branch.as_slice() {
            [one] => match one.kind() {
                K::Constant { expected_value } => Some(vec![expected_value.to_string()]),
                K::Enum { options } => options
                    .as_array()
                    .map(|a| a.iter().map(Value::to_string).collect()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<Vec<Vec<String>>>>()
        .map(|v| v.concat());
    if let Some(allowed) = constants.filter(|c| !c.is_empty()) {
        return vec![Violation {
            pointer,
            message: format!(
                "{} is not one of {}",
                shorten(&e.instance().to_string()),
                allowed.join(", ")
            ),
        }];
    }
    let is_null_branch = |branch: &Vec<jsonschema::ValidationError>| {
        branch
            .iter()
            .all(|x| x.to_string().ends_with("is not of type \"null\""))
    };
    let depth = |branch: &Vec<jsonschema::ValidationError>| {
        branch
            .iter()
            .map(|x| x.instance_path().as_str().len())
            .max()
            .unwrap_or(0)
    };
    let best = context
        .iter()
        .filter(|b| !b.is_empty() && !is_null_branch(b))
        .max_by_key(|b| (depth(b), usize::MAX - b.len()));
    match best {
        Some(branch) => branch.iter().flat_map(describe).collect(),
        None => vec![Violation {
            pointer,
            message: shorten(&e.to_string()),
        }],
    }
}

/// Schema messages quote the offending value; a whole object quoted back is noise.
fn shorten(msg: &str) -> String {
    const MAX: usize = 300;
    if msg.len() <= MAX {
        return msg.to_owned();
    }
    let mut end = MAX;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &msg[..end])
}
