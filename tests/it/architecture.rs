//! The layering of `src/` (docs/architecture.md), kept by a test: every
//! `crate::` path in a module's code is read, and a module may only use
//! modules of its own layer or below, with no cycle among them. A module
//! longer than `MAX_LINES` (tests apart) says why in its `//!`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first; a module uses only its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &[
        "ids",
        "units",
        "duration",
        "time",
        "locate",
        "diag",
        "exit",
        "secrets",
        "aws",
        "supervise",
        "git",
        "machine",
    ],
    &["protocol", "validate"],
    &["policy"],
    &[
        "decision",
        "record",
        "bisect",
        "stats",
        "threshold",
        "changepoint",
        "events",
    ],
    &["builtin", "plugin", "ci", "store"],
    &["plan"],
    &[
        "runner",
        "evaluate",
        "backtest",
        "compare",
        "parts",
        "calibrate",
    ],
    &["outputs", "report"],
    &["gate"],
    &["commands"],
    &["cli", "fuzz"],
];

/// Lines of code (tests apart) a file may have without giving a reason.
const MAX_LINES: usize = 400;

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/store/s3.rs` → `store`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The code of a file without its comments.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // `//` inside a string (a URL) is rare in paths' lines; cut
            // only comments that start the line or follow code.
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segments after `crate::`, including in `use crate::{a, b::c}`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of the group.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(ident(item.trim()));
        } else {
            found.insert(ident(rest));
        }
    }
    found.remove("");
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module_of(&src, &f);
        if m == "lib" || m == "main" {
            continue;
        }
        let uses = crate_modules(&code(&std::fs::read_to_string(&f).unwrap()));
        g.entry(m.clone())
            .or_default()
            .extend(uses.into_iter().filter(|u| *u != m));
    }
    g
}

fn layer_of(m: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&m))
        .unwrap_or_else(|| {
            panic!("module `{m}` is in no layer: add it to LAYERS and docs/architecture.md")
        })
}

#[test]
fn the_parser_reads_every_form_of_crate_path() {
    let uses = crate_modules(
        "use crate::a::B;\nuse crate::{c, d::{E, F}, g::H};\nlet x = crate::i::j();\n",
    );
    let want: BTreeSet<String> = ["a", "c", "d", "g", "i"].map(String::from).into();
    assert_eq!(uses, want);
    assert_eq!(code("let a = 1; // crate::z\n// crate::y"), "let a = 1; \n");
}

#[test]
fn modules_only_use_their_layer_and_below() {
    let g = graph();
    assert!(g.len() > 20, "the source was read: {g:?}");
    let mut wrong = Vec::new();
    for (m, uses) in &g {
        for u in uses {
            if layer_of(u) > layer_of(m) {
                wrong.push(format!("`{m}` uses `{u}`, a layer above it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    // Depth-first search; a module met again on the current path is a cycle.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if !done.insert(m.to_owned()) {
            return None;
        }
        path.push(m.to_owned());
        for u in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(u, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(cycle) = visit(m, &g, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn long_modules_say_why() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .count();
        let why = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .any(|l| l.starts_with("//! Size:"));
        if lines > MAX_LINES && !why {
            long.push(format!("{}: {lines} lines", f.display()));
        }
    }
    assert!(
        long.is_empty(),
        "modules over {MAX_LINES} lines without a `//! Size:` reason:\n{}",
        long.join("\n")
    );
}

/// The files under `src/` and their code without comments, `src/`-relative.
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap().display().to_string();
            (rel, code(&std::fs::read_to_string(&f).unwrap()))
        })
        .collect()
}

#[test]
fn child_processes_start_only_in_the_supervisor() {
    let mut found = Vec::new();
    let mut seen = 0;
    for (file, code) in sources() {
        for needle in [
            "process::Command",
            "Command::new",
            "CommandExt",
            "Command::from",
        ] {
            if code.contains(needle) {
                seen += 1;
                if !file.starts_with("supervise/") {
                    found.push(format!("{file}: `{needle}`"));
                }
            }
        }
    }
    assert!(seen > 0, "the supervisor itself was read");
    assert!(
        found.is_empty(),
        "start child processes through `crate::supervise::Cmd`:\n{}",
        found.join("\n")
    );
}

#[test]
fn provider_names_appear_as_strings_only_under_ci() {
    let names = ["codebuild", "github", "gitlab", "jenkins", "local"];
    let mut found = Vec::new();
    let mut seen = 0;
    for (file, code) in sources() {
        // Tests may spell out the documents they check.
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        for name in names {
            if code.contains(&format!("\"{name}\"")) {
                seen += 1;
                if !file.starts_with("ci/") {
                    found.push(format!("{file}: `\"{name}\"`"));
                }
            }
        }
    }
    assert!(seen >= names.len(), "the providers' own files were read");
    assert!(
        found.is_empty(),
        "ask `crate::ci::Provider` instead of comparing its name:\n{}",
        found.join("\n")
    );
}
