//! Cachegrind: the argv that runs a command under it, and its output files
//! read and summed over a run's processes.

use crate::builtin::Failure;
use std::path::{Path, PathBuf};

/// The events of one cachegrind run, summed over its processes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Event names in the files' order (`Ir`, then the cache events with
    /// `--cache-sim=yes`).
    pub events: Vec<String>,
    pub totals: Vec<u64>,
    /// How many processes (output files) were summed.
    pub processes: usize,
}

impl Counts {
    pub fn get(&self, event: &str) -> Option<u64> {
        self.events
            .iter()
            .position(|e| e == event)
            .map(|i| self.totals[i])
    }

    /// Adds one file's events; the files of one run must agree on them.
    fn add(&mut self, file: Counts) -> Result<(), String> {
        if self.processes == 0 {
            *self = file;
            return Ok(());
        }
        if self.events != file.events {
            return Err(format!(
                "its events ({}) differ from the other files' ({})",
                file.events.join(" "),
                self.events.join(" ")
            ));
        }
        for (t, v) in self.totals.iter_mut().zip(file.totals) {
            *t += v;
        }
        self.processes += file.processes;
        Ok(())
    }

    /// L1 misses, last-level misses and estimated cycles, from a run with
    /// the cache simulation. Cycles are estimated as iai-callgrind and
    /// gungraun do: an L1 hit costs 1, a last-level hit 5, a miss of both
    /// (a RAM access) 35.
    pub fn cache(&self) -> Option<(u64, u64, u64)> {
        let e = |n| self.get(n);
        let reads = e("Ir")? + e("Dr")? + e("Dw")?;
        let l1 = e("I1mr")? + e("D1mr")? + e("D1mw")?;
        let ll = e("ILmr")? + e("DLmr")? + e("DLmw")?;
        let cycles = (reads - l1) + 5 * (l1 - ll) + 35 * ll;
        Some((l1, ll, cycles))
    }
}

/// Parses one cachegrind (or callgrind) output file: its `events:` line and
/// its `summary:` (or `totals:`) line.
pub fn parse_out(text: &str) -> Result<Counts, String> {
    let mut events = None;
    let mut summary = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("events:") {
            events = Some(
                rest.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            );
        } else if let Some(rest) = line
            .strip_prefix("summary:")
            .or_else(|| line.strip_prefix("totals:"))
        {
            summary = Some(rest.to_owned());
        }
    }
    let events = events.ok_or("it has no `events:` line; is it a cachegrind output file?")?;
    let summary = summary.ok_or("it has no `summary:` line; was it cut short?")?;
    let totals = summary
        .split_whitespace()
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("`summary:` holds `{v}`, not a count"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if totals.len() != events.len() {
        return Err(format!(
            "`summary:` has {} counts for {} events",
            totals.len(),
            events.len()
        ));
    }
    Ok(Counts {
        events,
        totals,
        processes: 1,
    })
}

/// Where a program is on `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Valgrind, or the error that says how to install it.
pub fn valgrind() -> Result<PathBuf, Failure> {
    on_path("valgrind").ok_or_else(|| {
        Failure::new(
            "missing-tool",
            "`measure: instructions` counts instructions under Valgrind, and `valgrind` is not on PATH; \
             install it (Debian and Ubuntu: `apt-get install valgrind`; Fedora: `dnf install valgrind`; \
             Alpine: `apk add valgrind`; Homebrew on Linux: `brew install valgrind`), \
             or set `instrument: perf` on a machine with a hardware instruction counter",
        )
    })
}

/// The argv that runs `argv` under cachegrind, writing one file per process
/// into `dir`.
pub fn valgrind_argv(valgrind: &Path, dir: &Path, cache_sim: bool, argv: &[String]) -> Vec<String> {
    let mut v = vec![
        valgrind.display().to_string(),
        "--tool=cachegrind".into(),
        format!("--cache-sim={}", if cache_sim { "yes" } else { "no" }),
        // Children (a shell's commands, a build's compilers) are counted too.
        "--trace-children=yes".into(),
        format!("--cachegrind-out-file={}/cachegrind.out.%p", dir.display()),
        // Valgrind's own banner would bury the command's stderr.
        "-q".into(),
    ];
    v.extend(argv.iter().cloned());
    v
}

/// Sums the cachegrind files a run left in `dir`, then empties it.
pub fn collect(dir: &Path) -> Result<Counts, Failure> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Failure::new("io", format!("cannot list `{}`: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut counts = Counts::default();
    for f in &files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Failure::new("io", format!("cannot read `{}`: {e}", f.display())))?;
        let _ = std::fs::remove_file(f);
        let one = parse_out(&text).and_then(|c| counts.add(c)).map_err(|e| {
            Failure::new(
                "measurement-failed",
                format!("cachegrind's output `{}`: {e}", f.display()),
            )
        });
        one?;
    }
    if counts.processes == 0 {
        return Err(Failure::new(
            "measurement-failed",
            "Valgrind wrote no cachegrind output; the command may not have started under it (a setuid program, or a program Valgrind cannot run)",
        ));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_sums_cachegrind_files() {
        let a = "desc: I1 cache: 32768 B, 64 B, 8-way associative\ncmd: sh -c x\nevents: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\nfl=???\nfn=0x1\n0 3 1 1\nsummary: 1000 10 5 400 20 8 300 6 2\n";
        let b = "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\nsummary: 500 5 1 100 4 2 50 1 1\n";
        let mut c = parse_out(a).expect("a parses");
        c.add(parse_out(b).expect("b parses")).expect("same events");
        assert_eq!(c.get("Ir"), Some(1500));
        assert_eq!(c.processes, 2);
        // L1 misses 15+24+7 = 46; LL misses 6+10+3 = 19; accesses 1500+500+350.
        let (l1, ll, cycles) = c.cache().expect("cache events");
        assert_eq!((l1, ll), (46, 19));
        assert_eq!(cycles, (2350 - 46) + 5 * (46 - 19) + 35 * 19);
        assert_eq!(parse_out("events: Ir\nsummary: 7\n").unwrap().cache(), None);
        // gungraun's own estimate for `bench_sort thousand` (fixtures/bench-import/gungraun/):
        // from its raw events it reported 177840 estimated cycles.
        let g = parse_out("events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\nsummary: 131185 88 88 18969 3 0 16012 270 253\n")
            .unwrap();
        assert_eq!(g.cache(), Some((361, 341, 177840)));
    }

    #[test]
    fn refuses_what_is_not_cachegrind_output() {
        for (text, says) in [
            ("summary: 1\n", "no `events:` line"),
            ("events: Ir\n", "no `summary:` line"),
            ("events: Ir Dr\nsummary: 1\n", "1 counts for 2 events"),
            ("events: Ir\nsummary: x\n", "not a count"),
        ] {
            let e = parse_out(text).expect_err(text);
            assert!(e.contains(says), "{e}");
        }
        let mut c = parse_out("events: Ir\nsummary: 1\n").unwrap();
        let e = c
            .add(parse_out("events: Ir Dr\nsummary: 1 2\n").unwrap())
            .expect_err("events differ");
        assert!(e.contains("differ"), "{e}");
    }
}
