#!/usr/bin/env bash
# What `qod calibrate` finds and costs on this machine: a `command-bench`
# objective (a shell workload of 10 ms of sleep, `<= +5%`, the default
# pairs) calibrated with 90 A/A pairs, then the same workload judged
# against history (the docs' recommended rule: `<= +5%` of the last 10
# runs, `test: welch-t`, `confirm: 2`) calibrated with RUNS runs in a row;
# the wall time and the results of each.
# Usage: benches/calibrate.sh [PAIRS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-90}
runs=${2:-100}
cargo build --release --quiet
sleep "${QOD_SETTLE:-10}"
qod=$PWD/target/release/qod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > qod.yaml <<'YAML'
version: 1
plugins:
  work: { uses: command-bench, with: { command: ["sh", "-c", "sleep 0.01"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
compare:
  base: { revision: merge-base }
objectives:
  - { id: speed, metric: work.mean, pass: "<= +5%", against: base }
YAML
start=$(date +%s.%N)
"$qod" calibrate --pairs "$pairs" --format table --no-record
end=$(date +%s.%N)
python3 -c "print(f'wall time: {$end - $start:.1f} s for $pairs A/A pairs')"

cat > qod.yaml <<'YAML'
version: 1
plugins:
  work: { uses: command-bench, with: { command: ["sh", "-c", "sleep 0.01"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
objectives:
  - { id: speed, metric: work.mean, pass: "<= +5%", test: { method: welch-t }, confirm: 2, baseline: { last: 10 } }
YAML
start=$(date +%s.%N)
"$qod" calibrate --runs "$runs" --format table --no-record
end=$(date +%s.%N)
python3 -c "print(f'wall time: {$end - $start:.1f} s for $runs runs in a row')"
