//! The checked-in schemas match the types, and every manifest we ship
//! validates against the manifest schema.

use crate::common::{assert_valid, repo};
use qod::commands::schema::render;
use qod::validate::SchemaKind;

#[test]
fn checked_in_schemas_match_the_types() {
    let mut stale = Vec::new();
    for kind in SchemaKind::ALL {
        let path = repo().join("schema").join(kind.file_name());
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != render(kind) {
            if std::env::var_os("QOD_UPDATE_SCHEMAS").is_some() {
                std::fs::write(&path, render(kind)).unwrap();
            } else {
                stale.push(kind.file_name());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "schema/ is out of date for {stale:?}: run `cargo run -- schema --write schema` (or QOD_UPDATE_SCHEMAS=1 cargo test)"
    );
}

#[test]
fn shipped_manifests_are_valid() {
    let mut n = 0;
    for dir in ["plugins", "plugins/examples", "fixtures/plugins"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let manifest = entry.unwrap().path().join("plugin.json");
            if manifest.is_file() {
                let doc =
                    serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
                assert_valid("plugin-manifest.schema.json", &doc);
                n += 1;
            }
        }
    }
    assert!(n >= 17, "found only {n} manifests");
}

#[test]
fn schema_command_prints_the_checked_in_schema() {
    let s = crate::common::Scratch::new();
    for (arg, kind) in [
        ("policy", SchemaKind::Policy),
        ("decision", SchemaKind::Decision),
        ("result", SchemaKind::Result),
    ] {
        let r = s.qod(&["schema", arg]);
        assert_eq!(r.code, 0);
        assert_eq!(r.stdout, render(kind));
    }
}
