#!/usr/bin/env bash
# The `command-bench` plugin against hyperfine on the same commands, both
# without a shell (hyperfine -N, command-bench with an argv), alternating
# rounds in one run. They should agree on mean and spread.
# Needs hyperfine: apt-get install hyperfine
# Usage: benches/command-bench.sh [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
rounds=${2:-3}
cargo build --release --quiet
qod=$PWD/target/release/qod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name|argv as JSON|the same for hyperfine
commands=(
  'true|["true"]|true'
  'sh-loop|["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"]|sh -c "i=0; while [ \$i -lt 20000 ]; do i=\$((i+1)); done"'
  'sleep-20ms|["sleep", "0.02"]|sleep 0.02'
)

echo "== command-bench vs hyperfine: $runs runs each, $rounds rounds, $(nproc) cores"
printf '%-11s %-6s %-10s %12s %12s %12s %12s\n' command round tool "mean ms" "stddev ms" "median ms" "user ms"
for r in $(seq "$rounds"); do
  for c in "${commands[@]}"; do
    IFS='|' read -r name argv hcmd <<< "$c"
    hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" "$hcmd" >/dev/null 2>&1
    python3 - "$work/h.json" "$name" "$r" >> "$work/rows.txt" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))["results"][0]
print(sys.argv[2], sys.argv[3], "hyperfine", x["mean"] * 1e3, x["stddev"] * 1e3, x["median"] * 1e3, x["user"] * 1e3)
PY
    cat > "$work/qod.yaml" <<EOF
version: 1
plugins:
  cmd: { uses: command-bench, with: { command: $argv, warmup: 3, min_runs: $runs, max_runs: $runs, min_time: 0s } }
objectives:
  - { id: mean, metric: cmd.mean, pass: "< 10s" }
EOF
    (cd "$work" && QOD_STORE="$work/store" "$qod" run --policy qod.yaml > decision.json 2>/dev/null) || true
    python3 - "$work/decision.json" "$name" "$r" >> "$work/rows.txt" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["plugins"][0]
if p["status"] != "ok":
    sys.exit(f"command-bench failed: {p.get('error')}")
m = {x["name"]: x["value"] for x in p["metrics"]}
print(sys.argv[2], sys.argv[3], "qod", m["mean"] * 1e3, m["stddev"] * 1e3, m["median"] * 1e3, m["user"] * 1e3)
PY
    tail -2 "$work/rows.txt" | while read -r n rr tool mean sd med user; do
      printf '%-11s %-6s %-10s %12.3f %12.3f %12.3f %12.3f\n' "$n" "$rr" "$tool" "$mean" "$sd" "$med" "$user"
    done
  done
done
python3 - "$work/rows.txt" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
print()
for name in dict.fromkeys(r[0] for r in rows):
    def med(tool, col):
        return statistics.median(float(r[col]) for r in rows if r[0] == name and r[2] == tool)
    print(f"{name:11} mean: qod {med('qod', 3):.3f} ms, hyperfine {med('hyperfine', 3):.3f} ms, ratio {med('qod', 3) / med('hyperfine', 3):.2f}; "
          f"stddev: qod {med('qod', 4):.3f} ms, hyperfine {med('hyperfine', 4):.3f} ms")
PY
