//! Decision quality under real noise: how often each gating rule catches a
//! regression of a known size, and how often it cries wolf.
//!
//! 1. Noise: `qod builtin command-bench` times a fixed command on this
//!    machine (10 timed runs per gate run) `RUNS` times: real wall-time
//!    noise, with its outliers and drifts.
//! 2. Trials: a history of 30 gate runs and one current run are drawn from
//!    that pool (without replacement within a trial); the current run's
//!    samples are multiplied by 1 + r for a regression of r (0 for the
//!    false-alarm rate).
//! 3. Rules, each on the same trials:
//!    - the prototype's: fail when the value > 1.5 × the mean of the last 3;
//!    - github-action-benchmark's default: value > 200% of the previous one;
//!    - Bencher's t-test model, upper boundary 0.99, last 30 values;
//!    - qod before: `<= +5%` on the mean of the last 5, failing only when
//!      a Mann-Whitney test on the pooled samples is significant at 0.01
//!      (rounds taken for runs), and the same with `confirm: 1`;
//!    - qod now: `<= +5%` on the mean of the last 10 runs, failing only
//!      when the run is beyond that limit by more than runs vary (Student's
//!      t prediction over the runs, one-sided, α 0.01, baseline runs more
//!      than 5 scaled MADs from their median left out), with each run's
//!      level its mean (`welch-t`) or its median (`#median`, or
//!      `mann-whitney`'s reading of samples).
//!
//! 4. Side by side: the same command measured alternately as "base" and
//!    "candidate" (pairs of random order, `--invocation-runs` timed runs an
//!    invocation: 10 by default, as `command-bench`'s `min_runs`) for
//!    `PAIRS` pairs under a competing CPU load, a real series with its
//!    drift; each trial takes 30 consecutive pairs from a random place,
//!    multiplies the candidate's samples by 1 + r, and runs qod's paired
//!    sequential test (`<= +3%`, Wilcoxon, α 0.01, 6 to 30 pairs). The
//!    history rules run on the same data: the 30 base invocations before
//!    the trial's first pair are the history, its first candidate the run.
//!
//! 5. History on a real series from another machine: TigerBeetle's, the
//!    30 values before a random point the history, the next the run.
//!
//! Run: `cargo bench --bench noise` (`-- --only-history --series
//! fixtures/series/pybench-slugify.json` for the history rules on a
//! recorded series; `-- --runs N --trials N --pairs N
//! --compare-trials N --load N --work N --invocation-runs N` to change
//! sizes; `--work` is the
//! shell loop's turns, 3000 by default: about 4 ms).

use qod::policy::ThresholdModel;
use std::io::Write;
use std::process::{Command, Stdio};

const SIZES: [f64; 5] = [0.0, 0.05, 0.10, 0.20, 0.50];
const HISTORY: usize = 30;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One gate run of command-bench: its 10 wall times in seconds.
fn gate_run() -> Vec<f64> {
    invocation(10, 1)
}

/// One invocation of command-bench: `runs` wall times in seconds.
fn invocation(runs: u32, warmup: u32) -> Vec<f64> {
    let context = serde_json::json!({
        "protocol": 1,
        "plugin": {"name": "command-bench", "instance": "noise"},
        "config": {"command": ["sh", "-c", format!("i=0; while [ $i -lt {} ]; do i=$((i+1)); done", arg("--work", 3000))],
                   "warmup": warmup, "min_runs": runs, "max_runs": runs, "min_time": "0s"},
        "run": {"id": "noise", "started_at": "2026-01-01T00:00:00Z"},
        "pipeline": {"provider": "local"}, "source": {}, "history": {"last_deployment": null},
        "paths": {"workspace": ".", "artifacts": "."}
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_qod"))
        .args(["builtin", "command-bench"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("qod runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(context.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a result");
    result["metrics"][0]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// A deterministic generator for drawing trials.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// A standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = |r: &mut Rng| (r.below(1 << 30) as f64 + 0.5) / (1u64 << 30) as f64;
        let (a, b) = (u(self), u(self));
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

/// One trial: history runs (oldest first), the current run, and a fresh
/// run for confirmation, all as sample sets.
struct Trial<'a> {
    history: Vec<&'a [f64]>,
    current: Vec<f64>,
    fresh: Vec<f64>,
    /// A second fresh run, for `confirm: 2`.
    fresh2: Vec<f64>,
}

type Rule = fn(&Trial) -> bool;

fn prototype(t: &Trial) -> bool {
    let last3: Vec<f64> = t.history[HISTORY - 3..].iter().map(|r| mean(r)).collect();
    mean(&t.current) > 1.5 * mean(&last3)
}

fn previous_200(t: &Trial) -> bool {
    mean(&t.current) > 2.0 * mean(t.history[HISTORY - 1])
}

fn bencher_t_test(t: &Trial) -> bool {
    let values: Vec<f64> = t.history.iter().map(|r| mean(r)).collect();
    match qod::threshold::limits(ThresholdModel::TTest, &values, Some(0.99), None) {
        Ok(l) => mean(&t.current) > l.upper.unwrap(),
        Err(_) => false,
    }
}

/// `<= +5%` against the mean of the last 5, excused unless significant.
fn qod_test(history: &[&[f64]], current: &[f64]) -> bool {
    let last5 = &history[history.len() - 5..];
    let baseline = mean(&last5.iter().map(|r| mean(r)).collect::<Vec<_>>());
    if mean(current) <= baseline * 1.05 {
        return false;
    }
    let pooled: Vec<f64> = last5.iter().flat_map(|r| r.iter().copied()).collect();
    qod::stats::mann_whitney(&pooled, current, 0.01).is_some_and(|r| r.p_value <= 0.01)
}

/// `<= +5%` against the mean level of the last 10 runs, excused unless
/// beyond the limit by more than runs vary: the run-level test.
fn qod_runs(history: &[&[f64]], current: &[f64], level: fn(&[f64]) -> f64) -> bool {
    qod_runs_at(history, current, level, qod::stats::OUTLIER_MADS)
}

/// The same, leaving out baseline runs beyond `mads` scaled MADs.
fn qod_runs_at(history: &[&[f64]], current: &[f64], level: fn(&[f64]) -> f64, mads: f64) -> bool {
    let all: Vec<f64> = history[history.len() - 10..]
        .iter()
        .map(|r| level(r))
        .collect();
    let x = level(current);
    if x <= mean(&all) * 1.05 {
        return false;
    }
    // As qod: baseline runs far from the others are left out of the test.
    let (last, _) = qod::stats::without_outliers(&all, mads, 5);
    let b = mean(&last);
    qod::stats::prediction_t(&qod::stats::RunTest {
        baseline: &last,
        value: x,
        limit: b * 1.05,
        slope: 1.05,
        higher_is_worse: true,
        alpha: 0.01,
    })
    .is_some_and(|r| r.p_value <= 0.01)
}

fn qod_runs_mean(t: &Trial) -> bool {
    qod_runs(&t.history, &t.current, mean)
}

fn qod_runs_median(t: &Trial) -> bool {
    qod_runs(&t.history, &t.current, median)
}

/// The same, with `confirm: 1`: a failing run is measured once more and
/// judged again on both runs' samples pooled (as qod pools them).
fn qod_runs_confirm(t: &Trial) -> bool {
    if !qod_runs(&t.history, &t.current, median) {
        return false;
    }
    let pooled: Vec<f64> = t.current.iter().chain(&t.fresh).copied().collect();
    qod_runs(&t.history, &pooled, median)
}

/// `confirm: 2`: a failing run is measured twice more, and the median of
/// the three runs' levels judged (as qod aggregates confirmed runs).
fn qod_runs_confirm2(t: &Trial) -> bool {
    if !qod_runs(&t.history, &t.current, median) {
        return false;
    }
    let three = [median(&t.current), median(&t.fresh), median(&t.fresh2)];
    qod_runs(&t.history, &[median(&three)], median)
}

fn qod_runs_median_10(t: &Trial) -> bool {
    qod_runs_at(&t.history, &t.current, median, 10.0)
}

fn qod_runs_median_all(t: &Trial) -> bool {
    qod_runs_at(&t.history, &t.current, median, f64::INFINITY)
}

fn qod_default(t: &Trial) -> bool {
    qod_test(&t.history, &t.current)
}

fn qod_confirm(t: &Trial) -> bool {
    if !qod_test(&t.history, &t.current) {
        return false;
    }
    let pooled: Vec<f64> = t.current.iter().chain(&t.fresh).copied().collect();
    qod_test(&t.history, &pooled)
}

/// The history rules every table compares.
fn history_rules() -> [(&'static str, Rule); 11] {
    [
        ("prototype: > 1.5 × mean of last 3", prototype as Rule),
        ("github-action-benchmark: > 200% of previous", previous_200),
        (
            "Bencher t-test, upper boundary 0.99, last 30",
            bencher_t_test,
        ),
        (
            "qod before: <= +5% of last 5, Mann-Whitney on pooled rounds α 0.01",
            qod_default,
        ),
        ("qod before: the same with confirm: 1", qod_confirm),
        (
            "qod now: <= +5% of last 10 runs, t over runs α 0.01, run = mean",
            qod_runs_mean,
        ),
        (
            "qod now: the same, run = median (`#median`), outliers beyond 5 MADs left out",
            qod_runs_median,
        ),
        ("qod now: run = median, with confirm: 1", qod_runs_confirm),
        ("qod now: run = median, with confirm: 2", qod_runs_confirm2),
        (
            "qod now: run = median, outliers beyond 10 MADs left out",
            qod_runs_median_10,
        ),
        (
            "qod now: run = median, every baseline run kept",
            qod_runs_median_all,
        ),
    ]
}

fn main() {
    if std::env::args().any(|a| a == "--only-null") {
        null_simulation();
        corpus_series();
        return;
    }
    if std::env::args().any(|a| a == "--only-history") {
        corpus_history(&history_rules());
        return;
    }
    let runs = arg("--runs", 300);
    let trials = arg("--trials", 4000);
    eprintln!("noise: {runs} gate runs of command-bench (10 timed runs each)…");
    let pool: Vec<Vec<f64>> = (0..runs).map(|_| gate_run()).collect();
    let all: Vec<f64> = pool.iter().flatten().copied().collect();
    let m = mean(&all);
    let sd = (all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
    let means: Vec<f64> = pool.iter().map(|r| mean(r)).collect();
    let mm = mean(&means);
    let msd = (means.iter().map(|v| (v - mm).powi(2)).sum::<f64>() / means.len() as f64).sqrt();
    println!(
        "noise: {} samples, mean {:.3} ms, CV {:.1}% per sample, {:.1}% per gate run (mean of 10); max/min gate run {:.2}",
        all.len(),
        m * 1e3,
        sd / m * 100.0,
        msd / mm * 100.0,
        means.iter().cloned().fold(f64::MIN, f64::max) / means.iter().cloned().fold(f64::MAX, f64::min)
    );
    let rules = history_rules();
    println!("\n| rule | false alarms | 5% | 10% | 20% | 50% |\n|---|--:|--:|--:|--:|--:|");
    for (name, rule) in rules {
        let row = rates(trials, |rng, r| {
            let mut picked: Vec<usize> = Vec::with_capacity(HISTORY + 3);
            while picked.len() < HISTORY + 3 {
                let i = rng.below(pool.len());
                if !picked.contains(&i) {
                    picked.push(i);
                }
            }
            let history: Vec<&[f64]> = picked[..HISTORY]
                .iter()
                .map(|&i| pool[i].as_slice())
                .collect();
            let scale = |i: usize| pool[i].iter().map(|v| v * (1.0 + r)).collect::<Vec<f64>>();
            rule(&Trial {
                history,
                current: scale(picked[HISTORY]),
                fresh: scale(picked[HISTORY + 1]),
                fresh2: scale(picked[HISTORY + 2]),
            })
        });
        println!("| {name} |{row}");
    }
    println!("\n(first column: alarms on runs with no regression; others: detection rate of a regression of that size; {trials} trials each)");
    side_by_side(&rules);
    corpus_series();
    corpus_history(&rules);
}

/// One table row: for each regression size, the share of `trials` trials
/// (drawn with the same seed for every size) in which `hit` is true.
fn rates(trials: usize, mut hit: impl FnMut(&mut Rng, f64) -> bool) -> String {
    let mut row = String::new();
    for r in SIZES {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let hits = (0..trials).filter(|_| hit(&mut rng, r)).count();
        row.push_str(&format!(" {:.1}% |", hits as f64 / trials as f64 * 100.0));
    }
    row
}

fn median(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The side-by-side table: the paired sequential test against the history
/// rules, on one real interleaved series.
fn side_by_side(rules: &[(&str, Rule)]) {
    use qod::policy::PairedMethod;
    null_simulation();
    let pairs = arg("--pairs", 800);
    let trials = arg("--compare-trials", 400);
    let load = arg("--load", 1);
    let per = arg("--invocation-runs", 10) as u32;
    const WINDOW: usize = 30;
    eprintln!(
        "noise: {pairs} interleaved pairs of {per}-run invocations under {load} busy process(es)…"
    );
    let hogs: Vec<std::process::Child> = (0..load)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .expect("sh runs")
        })
        .collect();
    let mut order = Rng(0x2545_F491_4F6C_DD1D);
    let mut base: Vec<Vec<f64>> = Vec::with_capacity(pairs);
    let mut cand: Vec<Vec<f64>> = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        if order.below(2) == 0 {
            base.push(invocation(per, 0));
            cand.push(invocation(per, 0));
        } else {
            cand.push(invocation(per, 0));
            base.push(invocation(per, 0));
        }
    }
    for mut h in hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    let samples: Vec<f64> = base.iter().chain(&cand).flatten().copied().collect();
    let m = mean(&samples);
    let sd = (samples.iter().map(|v| (v - m).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    let meds: Vec<f64> = base.iter().map(|r| median(r)).collect();
    let lag1 = {
        let mm = mean(&meds);
        let num: f64 = meds.windows(2).map(|w| (w[0] - mm) * (w[1] - mm)).sum();
        let den: f64 = meds.iter().map(|v| (v - mm).powi(2)).sum();
        num / den
    };
    println!(
        "\nside by side: {pairs} pairs of {per}-run invocations, {} samples, mean {:.3} ms, CV {:.1}% per sample; base invocations' medians: lag-1 autocorrelation {lag1:.2}",
        samples.len(),
        m * 1e3,
        sd / m * 100.0
    );
    println!("\n| rule (same series, {trials} trials a cell) | false alarms | 5% | 10% | 20% | 50% | median pairs at 0 / 10% / 50% |\n|---|--:|--:|--:|--:|--:|--:|");
    // The defaults, and the looks and tests one may choose instead; each
    // beside the design before this one (power-2 spending split over the
    // looks by Bonferroni).
    let designs = [
        (PairedMethod::Wilcoxon, 10, 10),
        (PairedMethod::Wilcoxon, 6, 10),
        (PairedMethod::Wilcoxon, 6, 2),
        (PairedMethod::PairedT, 6, 2),
        (PairedMethod::Bootstrap, 10, 10),
    ];
    for (method, min, batch) in designs {
        let design = within_3pct(method, min, batch, WINDOW);
        let seq = design.sequence();
        for old in [false, true] {
            let looks = if old {
                format!("looks at {min}, then every {batch}")
            } else {
                format!("looks at {:?}", seq.looks)
            };
            let row = format!(
                "| {}: `<= +3%`, {}, α 0.01, min {min}, batch {batch} ({looks}) |",
                if old {
                    "before: Bonferroni over looks"
                } else {
                    "qod side by side"
                },
                method.as_str()
            );
            let cells = design_cells(trials, |rng, r| {
                let start = HISTORY + rng.below(pairs - HISTORY - WINDOW);
                let w: Vec<f64> = (start..start + WINDOW)
                    .map(|i| (median(&cand[i]) * (1.0 + r) / median(&base[i])).ln())
                    .collect();
                end_of(old, &design, &seq, &w)
            });
            println!("{row}{cells}");
        }
    }
    for (name, rule) in rules {
        let row = rates(trials, |rng, r| {
            let start = HISTORY + rng.below(pairs - HISTORY - WINDOW);
            rule(&history_trial(&base, &cand, start, r))
        });
        println!("| {name} |{row} 1 |");
    }
}

/// A history trial at `start`: the `HISTORY` runs of `history` before it,
/// and `current`'s run there (and the next, for confirmation) made slower
/// by `r`.
fn history_trial<'a>(
    history: &'a [Vec<f64>],
    current: &[Vec<f64>],
    start: usize,
    r: f64,
) -> Trial<'a> {
    let scale = |v: &[f64]| v.iter().map(|x| x * (1.0 + r)).collect::<Vec<f64>>();
    Trial {
        history: history[start - HISTORY..start]
            .iter()
            .map(Vec::as_slice)
            .collect(),
        current: scale(&current[start]),
        fresh: scale(&current[start + 1]),
        fresh2: scale(&current[start + 2]),
    }
}

/// Where `w` ends under the design before this one (`old`) or this one.
fn end_of(
    old: bool,
    d: &qod::compare::sequential::Design,
    seq: &qod::compare::sequential::Sequence,
    w: &[f64],
) -> (qod::compare::sequential::Ending, usize) {
    if old {
        old_design(d, w)
    } else {
        sequence_end(seq, w)
    }
}

/// Where the sequence on `w` ends, and after how many pairs.
fn sequence_end(
    seq: &qod::compare::sequential::Sequence,
    w: &[f64],
) -> (qod::compare::sequential::Ending, usize) {
    for n in 1..=w.len() {
        if seq.is_look(n) {
            if let Some(e) = seq.look(&w[..n], false).ending {
                return (e, n);
            }
        }
    }
    unreachable!("the look at max ends the sequence")
}

/// The design before this one, for comparison: by the look at `n`, at most
/// `alpha * (n / max)^2` spent, each look testing at what the function
/// allows beyond the earlier looks (Bonferroni), a look where the test
/// cannot reject spending nothing; at `max`, a pass when the estimate is
/// inside the tolerance.
fn old_design(
    d: &qod::compare::sequential::Design,
    w: &[f64],
) -> (qod::compare::sequential::Ending, usize) {
    use qod::compare::sequential::{p_greater, Ending};
    use qod::policy::PairedMethod;
    let mut spent = 0.0;
    for n in 1..=d.max {
        let look = n == d.max || (n >= d.min && (n - d.min).is_multiple_of(d.batch.max(1)));
        if !look {
            continue;
        }
        let worse: Vec<f64> = w[..n].iter().map(|x| x - d.floor).collect();
        let inside: Vec<f64> = worse.iter().map(|x| -x).collect();
        let seed = d.seed ^ n as u64;
        let pw = p_greater(d.method, &worse, seed);
        let pi = p_greater(d.method, &inside, seed.rotate_left(17));
        let available = (d.alpha * (n as f64 / d.max as f64).powi(2) - spent).max(0.0);
        let smallest = match d.method {
            PairedMethod::Wilcoxon => 0.5f64.powi(n as i32),
            PairedMethod::PairedT => 0.0,
            PairedMethod::Bootstrap => 1.0 / 4001.0,
        };
        let feasible = smallest <= available;
        if feasible {
            spent += available;
            if pw <= available {
                return (Ending::Fail, n);
            }
            if pi <= available {
                return (Ending::Pass, n);
            }
        }
        if n == d.max {
            let m = worse.iter().sum::<f64>() / n as f64;
            return (
                if m <= 0.0 {
                    Ending::Pass
                } else {
                    Ending::Inconclusive
                },
                n,
            );
        }
    }
    unreachable!()
}

/// The guarantee, simulated: log-ratios exactly at the tolerance (the
/// hardest null), Gaussian and heavy-tailed, 20,000 sequences each; the
/// share that fail must stay at or below alpha.
fn null_simulation() {
    use qod::compare::sequential::{Design, Ending};
    use qod::policy::PairedMethod;
    let trials = arg("--null-trials", 20000);
    println!("\nfalse alarms at the tolerance's edge, simulated ({trials} sequences a cell, α 0.01, 30 pairs at most):\n");
    println!("| design | Gaussian | Student t (3 df) | before (Bonferroni), Gaussian |\n|---|--:|--:|--:|");
    for (method, min, batch) in [
        (PairedMethod::Wilcoxon, 10, 10),
        (PairedMethod::Wilcoxon, 6, 2),
        (PairedMethod::PairedT, 6, 2),
        (PairedMethod::PairedT, 2, 1),
    ] {
        let d = Design {
            method,
            alpha: 0.01,
            min,
            max: 30,
            batch,
            floor: 0.0,
            higher_is_worse: true,
            seed: 3,
        };
        let seq = d.sequence();
        let mut cells = Vec::new();
        for (heavy, old) in [(false, false), (true, false), (false, true)] {
            let mut rng = Rng(0x51ED_270B_2716_8D2B);
            let mut alarms = 0usize;
            for _ in 0..trials {
                let w: Vec<f64> = (0..30)
                    .map(|_| {
                        let z = rng.normal();
                        if heavy {
                            // t with 3 df: z / sqrt(chi2_3 / 3).
                            let c: f64 = (0..3).map(|_| rng.normal().powi(2)).sum();
                            z / (c / 3.0).sqrt()
                        } else {
                            z
                        }
                    })
                    .collect();
                let (e, _) = end_of(old, &d, &seq, &w);
                alarms += usize::from(e == Ending::Fail);
            }
            cells.push(format!("{:.2}%", alarms as f64 / trials as f64 * 100.0));
        }
        println!(
            "| {}, min {min}, batch {batch} (looks {:?}) | {} |",
            method.as_str(),
            seq.looks,
            cells.join(" | ")
        );
    }
}

/// A real series from another machine: TigerBeetle's throughput over 365
/// commits (`../shared/corpus/otava-tigerbeetle.json`, from Apache Otava's
/// tests), turned into times (1 / throughput). Consecutive values are one
/// pair (base, candidate): run-to-run noise and drift as they were, change
/// points included. Each trial takes 30 pairs from a random place and
/// multiplies the candidates by 1 + r.
fn corpus_series() {
    use qod::policy::PairedMethod;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/otava-tigerbeetle.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "noise: no corpus at {}; skipping its series",
            path.display()
        );
        return;
    };
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the corpus is JSON");
    let times: Vec<f64> = doc["series"]
        .as_array()
        .expect("a series")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .map(|x| 1.0 / x)
        .collect();
    let trials = arg("--compare-trials", 400);
    const WINDOW: usize = 30;
    let ratios: Vec<f64> = times.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let sd = {
        let m = mean(&ratios);
        (ratios.iter().map(|x| (x - m).powi(2)).sum::<f64>() / ratios.len() as f64).sqrt()
    };
    println!(
        "\nTigerBeetle's series ({} values; consecutive values as pairs; sd of a pair's log-ratio {:.1}%), {trials} trials a cell:\n",
        times.len(),
        sd * 100.0
    );
    println!("| design | false alarms | 5% | 10% | 20% | 50% | median pairs at 0 / 10% / 50% |\n|---|--:|--:|--:|--:|--:|--:|");
    for (method, min, batch) in [
        (PairedMethod::Wilcoxon, 10, 10),
        (PairedMethod::Wilcoxon, 6, 2),
        (PairedMethod::PairedT, 6, 2),
    ] {
        let design = within_3pct(method, min, batch, WINDOW);
        let seq = design.sequence();
        for old in [false, true] {
            let row = format!(
                "| {} {}, min {min}, batch {batch} |",
                if old { "before (Bonferroni):" } else { "qod:" },
                method.as_str()
            );
            let cells = design_cells(trials, |rng, r| {
                let start = rng.below(times.len() - 2 * WINDOW);
                let w: Vec<f64> = (0..WINDOW)
                    .map(|i| {
                        let (b, c) = (times[start + 2 * i], times[start + 2 * i + 1]);
                        (c * (1.0 + r) / b).ln()
                    })
                    .collect();
                end_of(old, &design, &seq, &w)
            });
            println!("{row}{cells}");
        }
    }
}

/// A design's table cells: for each size in [`SIZES`], the share of
/// `trials` sequences (drawn by `trial` from the same seed) that failed;
/// then the median pairs at 0, +10% and +50%.
fn design_cells(
    trials: usize,
    mut trial: impl FnMut(&mut Rng, f64) -> (qod::compare::sequential::Ending, usize),
) -> String {
    let mut cells = String::new();
    let mut medians = Vec::new();
    for r in SIZES {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut fails, mut used) = (0, Vec::new());
        for _ in 0..trials {
            let (e, n) = trial(&mut rng, r);
            fails += usize::from(e == qod::compare::sequential::Ending::Fail);
            used.push(n as f64);
        }
        cells.push_str(&format!(" {:.1}% |", fails as f64 / trials as f64 * 100.0));
        if [0.0, 0.10, 0.50].contains(&r) {
            medians.push(format!("{}", median(&used)));
        }
    }
    format!("{cells} {} |", medians.join(" / "))
}

/// The side-by-side design the tables compare: `<= +3%`, α 0.01.
fn within_3pct(
    method: qod::policy::PairedMethod,
    min: usize,
    batch: usize,
    max: usize,
) -> qod::compare::sequential::Design {
    qod::compare::sequential::Design {
        method,
        alpha: 0.01,
        min,
        max,
        batch,
        floor: 1.03f64.ln(),
        higher_is_worse: true,
        seed: 7,
    }
}

/// History rules on TigerBeetle's series (1 / throughput, one value a
/// commit, change points and drift as they were), or on the series of the
/// JSON file `--series PATH` names (its `series`, values as they are:
/// lower is better; `fixtures/series/`): each trial takes the 30 values
/// before a random point as the history and the next one, times 1 + r, as
/// the run. A series without samples: the rules that pool rounds have one
/// value a run to pool.
fn corpus_history(rules: &[(&str, Rule)]) {
    let named = std::env::args()
        .skip_while(|a| a != "--series")
        .nth(1)
        .map(std::path::PathBuf::from);
    let path = named.clone().unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/corpus/otava-tigerbeetle.json")
    });
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "noise: no series at {}; skipping its history",
            path.display()
        );
        return;
    };
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the series is JSON");
    let runs: Vec<Vec<f64>> = doc["series"]
        .as_array()
        .expect("a series")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .map(|x| vec![if named.is_some() { x } else { 1.0 / x }])
        .collect();
    let name = match &named {
        Some(p) => format!("`{}`", p.display()),
        None => "TigerBeetle's series".to_owned(),
    };
    let trials = arg("--history-trials", 4000);
    println!(
        "\nhistory on {name} ({} values, one a run), {trials} trials a cell:\n",
        runs.len()
    );
    println!("| rule | false alarms | 5% | 10% | 20% | 50% |\n|---|--:|--:|--:|--:|--:|");
    for (name, rule) in rules {
        let row = rates(trials, |rng, r| {
            let start = HISTORY + rng.below(runs.len() - HISTORY - 3);
            rule(&history_trial(&runs, &runs, start, r))
        });
        println!("| {name} |{row}");
    }
}
