//! Bounded fuzzing on stable Rust, run with the unit tests: mutations of
//! the real fixtures (policies, manifests, plugin results, every
//! bench-import format) from a fixed seed, a few thousand cases. None may
//! panic, and none may take long (a guard against superlinear parsing).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mutations of each fixture.
const CASES_PER_FIXTURE: usize = 120;
/// Any one case taking longer than this is a failure (debug build).
const CASE_LIMIT: Duration = Duration::from_secs(2);

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that parsers trip on.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "-",
    "1e999",
    "NaN",
    "-0",
    "\n",
    "\t",
    "'",
    "#",
    "&a",
    "*a",
    "!!binary",
    "\u{feff}",
    "\u{10ffff}",
    "99999999999999999999",
    "\\u0000",
    "true",
    "<<: *a",
    "- ",
    "? ",
    "|",
    ">",
    "%YAML 1.2\n",
    "---\n",
    "...",
    "\r\n",
    "ms",
    "µs",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut b = text.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            1 if !b.is_empty() => {
                let end = (at + rng.below(32)).min(b.len());
                b.drain(at.min(end)..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                b.splice(at..at, t.bytes());
            }
            3 if !b.is_empty() => {
                let from = rng.below(b.len());
                let end = (from + rng.below(64)).min(b.len());
                let piece = b[from..end].to_vec();
                b.splice(at..at, piece);
            }
            4 => b.truncate(at),
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())].repeat(1 + rng.below(200));
                b.splice(at..at, t.bytes());
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| ext.contains(&x))
        {
            out.push(p);
        }
    }
}

/// Runs `check` on `CASES_PER_FIXTURE` mutations of each fixture; returns
/// how many cases ran.
fn fuzz(fixtures: &[PathBuf], seed: u64, check: impl Fn(&str)) -> usize {
    let mut rng = Rng(seed);
    let mut n = 0;
    for f in fixtures {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for _ in 0..CASES_PER_FIXTURE {
            let case = mutate(&text, &mut rng);
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&case)));
            assert!(
                outcome.is_ok(),
                "a mutation of `{}` panicked:\n{case}",
                f.display()
            );
            assert!(
                start.elapsed() < CASE_LIMIT,
                "a mutation of `{}` took {:?}:\n{case}",
                f.display(),
                start.elapsed()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn mutated_policies_never_panic() {
    let mut fixtures = Vec::new();
    files(
        &repo("fixtures/policies"),
        &["yaml", "yml", "json"],
        &mut fixtures,
    );
    files(&repo("examples"), &["yaml"], &mut fixtures);
    assert!(fixtures.len() >= 5, "{fixtures:?}");
    let n = fuzz(&fixtures, 0x5EED_0001, |text| {
        for name in ["qod.yaml", "qod.json"] {
            let _ = crate::policy::check_policy(Path::new(name), text.to_owned());
        }
    });
    assert!(n >= 500, "{n} cases");
}

#[test]
fn mutated_manifests_and_results_never_panic() {
    let mut manifests = Vec::new();
    files(&repo("plugins"), &["json"], &mut manifests);
    files(&repo("fixtures/plugins"), &["json"], &mut manifests);
    assert!(manifests.len() >= 10);
    let n = fuzz(&manifests, 0x5EED_0002, |text| {
        let _ = crate::plugin::manifest::parse_manifest(Path::new("plugin.json"), text);
    });
    assert!(n >= 1000, "{n} cases");
    let manifest = crate::plugin::manifest::parse_manifest(
        Path::new("plugin.json"),
        &std::fs::read_to_string(repo("plugins/http-load/plugin.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result.json");
    std::fs::write(
        &result,
        r#"{"protocol": 1, "status": "ok", "summary": "s", "metrics": [{"name": "p50", "value": 1.5, "unit": "ms", "samples": [1, 2, 3]}, {"name": "throughput", "value": 10}], "notes": ["n"]}"#,
    )
    .unwrap();
    let n = fuzz(&[result.clone(), result], 0x5EED_0003, |text| {
        let _ = crate::runner::interpret_stdout(&manifest, text.as_bytes());
    });
    assert!(n >= 200, "{n} cases");
}

#[test]
fn mutated_harness_outputs_never_panic() {
    let mut fixtures = Vec::new();
    files(
        &repo("fixtures/bench-import"),
        &["json", "txt"],
        &mut fixtures,
    );
    assert!(fixtures.len() >= 10, "{fixtures:?}");
    use crate::builtin::bench_import::{parse, Format};
    let n = fuzz(&fixtures, 0x5EED_0004, |text| {
        for f in [
            Format::Auto,
            Format::Libtest,
            Format::GoTest,
            Format::Criterion,
            Format::Hyperfine,
            Format::GoogleBenchmark,
            Format::PytestBenchmark,
            Format::Jmh,
            Format::K6,
            Format::Bmf,
            Format::Custom,
        ] {
            let _ = parse(text, f, None);
        }
    });
    assert!(n >= 1000, "{n} cases");
}

/// The store's own files, mutated and read back through the store: the
/// index head, a sealed segment, a part of a group and a suspended gate.
/// A damaged file may be refused or skipped, never panic or hang.
#[test]
fn mutated_store_files_never_panic() {
    use std::ops::ControlFlow;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let fixture = |name: &str| vec![repo(&format!("fixtures/store/{name}"))];
    let case = std::cell::Cell::new(0u32);
    // Each case in a store of its own.
    let with_store = |key: &str,
                      text: &str,
                      extra: Option<(&str, &str)>,
                      read: &dyn Fn(&crate::store::Store)| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (k, v) in std::iter::once((key, text)).chain(extra) {
            let path = dir.path().join(k);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("folders");
            std::fs::write(path, v).expect("written");
        }
        read(&crate::store::Store::dir(dir.path()));
    };
    let scan = |store: &crate::store::Store| {
        let _ = rt.block_on(store.scan(|_| ControlFlow::Continue(()), |_| {}));
    };
    let mut n = fuzz(&fixture("head.json"), 0x5EED_0005, |text| {
        with_store("index/head.json", text, None, &scan)
    });
    n += fuzz(&fixture("segment.json"), 0x5EED_0006, |text| {
        with_store(
            "index/segments/s.json",
            text,
            Some((
                "index/head.json",
                r#"{"index_version":1,"runs":[],"older":"index/segments/s.json","sealed_runs":2,"deployments":[]}"#,
            )),
            &scan,
        )
    });
    n += fuzz(&fixture("part.json"), 0x5EED_0007, |text| {
        with_store(
            "groups/g/build/01a242ab-a885-7168-8d4f-4db85b972de0.json",
            text,
            None,
            &|store| {
                let _ = rt.block_on(store.parts::<crate::parts::PartRecord>("g"));
            },
        )
    });
    n += fuzz(&fixture("suspended.json"), 0x5EED_0008, |text| {
        case.set(case.get() + 1);
        let id = format!("01a242ab-a885-7168-8d4f-{:012x}", case.get());
        with_store(&format!("suspended/{id}.json"), text, None, &|store| {
            let _ = rt.block_on(store.take_suspended::<crate::gate::suspend::Suspension>(&id));
        })
    });
    assert!(n >= 480, "{n} cases");
}
