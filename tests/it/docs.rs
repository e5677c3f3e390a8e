//! The Athena table in docs/store.md matches the run records: every column
//! and struct field exists in the run-record schema with a matching type.

use crate::common::repo;
use serde_json::Value;

#[derive(Debug)]
enum Hive {
    Prim(String),
    Struct(Vec<(String, Hive)>),
    Array(Box<Hive>),
}

/// Splits at commas that are not inside `<…>`.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.retain(|x| !x.is_empty());
    out
}

fn parse_type(t: &str) -> Hive {
    let t = t.trim();
    if let Some(inner) = t.strip_prefix("struct<").and_then(|r| r.strip_suffix('>')) {
        Hive::Struct(
            split_top(inner)
                .into_iter()
                .map(|f| {
                    let (name, ty) = f.split_once(':').expect("field:type");
                    (name.trim().to_owned(), parse_type(ty))
                })
                .collect(),
        )
    } else if let Some(inner) = t.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
        Hive::Array(Box::new(parse_type(inner)))
    } else {
        Hive::Prim(t.to_owned())
    }
}

/// Follows `$ref` and drops the `null` of optional fields.
fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            s = root
                .pointer(r.trim_start_matches('#'))
                .expect("ref resolves");
        } else if let Some(alts) = s.get("anyOf").and_then(Value::as_array) {
            s = alts
                .iter()
                .find(|a| a.get("type") != Some(&Value::from("null")))
                .expect("a non-null alternative");
        } else {
            return s;
        }
    }
}

fn types(s: &Value) -> Vec<String> {
    match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        // Enums without `type`, such as oneOf of constants, are strings here.
        _ => vec!["string".into()],
    }
}

fn check(root: &Value, path: &str, hive: &Hive, schema: &Value, errors: &mut Vec<String>) {
    let schema = resolve(root, schema);
    let ts = types(schema);
    let want = match hive {
        Hive::Prim(p) => match p.as_str() {
            "string" => "string",
            "int" | "bigint" => "integer",
            "double" => "number",
            other => {
                errors.push(format!("{path}: unexpected Hive type `{other}`"));
                return;
            }
        },
        Hive::Struct(_) => "object",
        Hive::Array(_) => "array",
    };
    if !ts
        .iter()
        .any(|t| t == want || (want == "number" && t == "integer"))
    {
        errors.push(format!("{path}: Athena type is {want}, schema says {ts:?}"));
        return;
    }
    match hive {
        Hive::Struct(fields) => {
            for (name, ty) in fields {
                match schema.pointer(&format!("/properties/{name}")) {
                    Some(p) => check(root, &format!("{path}.{name}"), ty, p, errors),
                    None => errors.push(format!("{path}.{name}: no such field in the run record")),
                }
            }
        }
        Hive::Array(item) => check(root, &format!("{path}[]"), item, &schema["items"], errors),
        Hive::Prim(_) => {}
    }
}

/// The text of docs/store.md's DDL, from its column list on.
fn ddl() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/store.md")).unwrap();
    doc.split("CREATE EXTERNAL TABLE qod_runs (")
        .nth(1)
        .expect("the DDL is in docs/store.md")
        .to_owned()
}

/// The columns of docs/store.md's DDL: (name, Hive type).
pub fn ddl_columns() -> Vec<(String, String)> {
    let ddl = ddl();
    let columns = &ddl[..ddl
        .find("\n)\nPARTITIONED BY")
        .expect("end of the column list")];
    split_top(columns)
        .into_iter()
        .map(|c| {
            let (name, ty) = c.split_once(' ').expect("name type");
            (name.to_owned(), ty.to_owned())
        })
        .collect()
}

/// What is wrong with `columns` (name, Hive type) against the run-record
/// schema: fields it does not have, types that do not match, and required
/// fields without a column.
pub fn check_columns(columns: &[(String, String)]) -> Vec<String> {
    let root: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schema/run-record.schema.json")).unwrap(),
    )
    .unwrap();
    let hive = Hive::Struct(
        columns
            .iter()
            .map(|(n, t)| (n.clone(), parse_type(t)))
            .collect(),
    );
    let mut errors = Vec::new();
    check(&root, "qod_runs", &hive, &root, &mut errors);
    for req in root["required"].as_array().unwrap() {
        let req = req.as_str().unwrap();
        if !columns.iter().any(|(n, _)| n == req) {
            errors.push(format!("column {req} is missing"));
        }
    }
    errors
}

#[test]
fn athena_table_matches_the_run_record_schema() {
    let errors = check_columns(&ddl_columns());
    assert!(errors.is_empty(), "{errors:#?}");
    // The partition column is where the store writes records.
    assert!(ddl().contains("'storage.location.template' = 's3://BUCKET/PREFIX/runs/date=${date}'"));
}
