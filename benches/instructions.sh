#!/usr/bin/env bash
# Run-to-run variation of instruction counts against wall time, and what
# counting costs, on this machine. Three commands of different kinds:
#   cpu     sort -n over 20,000 shuffled lines (CPU-bound)
#   alloc   awk filling a 200,000-entry table of strings (allocation-heavy)
#   startup python3 -c pass (interpreter start-up), and the same with
#           PYTHONHASHSEED=0 (Python randomises its string hashes per process)
# Each is gated ROUNDS times by the real `qod run` with command-bench
# `measure: both` (5 timed runs and 1 run under Valgrind a gate), half of
# the gates with a competing CPU load (`yes > /dev/null`) on one core, the
# way a shared CI runner sees its neighbours. The table gives, across the
# gates, the coefficient of variation (CV) and the max/min spread of each
# gate's median wall time and of its instruction count, and the slow-down
# of one run under Valgrind against one native run.
#
#   benches/instructions.sh [ROUNDS]     (default 20; needs valgrind, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
cargo build -q
qod="$PWD/target/debug/qod"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
seq 20000 | shuf --random-source=<(yes) > "$work/nums.txt"
# The interpreter itself, not a version manager's shim script.
python="$(python3 -c 'import sys; print(sys.executable)')"

declare -A commands=(
  [cpu]="[\"sort\", \"-n\", \"$work/nums.txt\"]"
  [alloc]="[\"awk\", \"BEGIN { for (i = 0; i < 200000; i++) t[i] = i \\\"-\\\" i; print length(t) }\"]"
  [startup]="[\"$python\", \"-c\", \"pass\"]"
  [seeded]="[\"env\", \"PYTHONHASHSEED=0\", \"$python\", \"-c\", \"pass\"]"
)

for kind in cpu alloc startup seeded; do
  dir="$work/$kind"
  mkdir -p "$dir"
  cat > "$dir/qod.yaml" <<EOF
version: 1
plugins:
  c: { uses: command-bench, with: { command: ${commands[$kind]}, measure: both, warmup: 1, min_runs: 5, max_runs: 5, min_time: 0s } }
objectives:
  - { id: ir, metric: c.instructions, pass: "> 0" }
EOF
  : > "$dir/results.jsonl"
  for i in $(seq "$rounds"); do
    hog=""
    if [ $((i % 2)) = 0 ]; then
      yes > /dev/null &
      hog=$!
    fi
    (cd "$dir" && "$qod" run -q --store "$dir/store" > "$dir/decision.json") || true
    [ -n "$hog" ] && kill "$hog" && wait "$hog" 2>/dev/null || true
    python3 - "$dir/decision.json" "$([ -n "$hog" ] && echo loaded || echo quiet)" >> "$dir/results.jsonl" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
m = {x["name"]: x["value"] for x in d["plugins"][0]["metrics"]}
print(json.dumps({"load": sys.argv[2], "median": m["median"], "instructions": m["instructions"]}))
EOF
  done
  # One native run against one run under Valgrind, 3 of each, medians.
  python3 - "$kind" "$dir" "${commands[$kind]}" <<'EOF'
import json, statistics as st, subprocess, sys, time
kind, dir, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def timed(cmd):
    t = []
    for _ in range(3):
        s = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        t.append(time.perf_counter() - s)
    return st.median(t)
native = timed(argv)
under = timed(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
               f"--cachegrind-out-file={dir}/cg.%p", "-q"] + argv)
json.dump({"native": native, "valgrind": under}, open(f"{dir}/cost.json", "w"))
EOF
done

python3 - "$work" <<'EOF'
import json, statistics as st, sys
work = sys.argv[1]
def cv(xs): return st.stdev(xs) / st.mean(xs) if len(xs) > 1 and st.mean(xs) else 0.0
print("| command | gates | wall CV | wall max/min | instructions CV | instructions max/min | native run | under Valgrind | slow-down |")
print("|---|---|---|---|---|---|---|---|---|")
names = {"cpu": "`sort -n` 20,000 lines (CPU-bound)",
         "alloc": "`awk` 200,000-entry table (allocation-heavy)",
         "startup": "`python3 -c pass` (interpreter start-up)",
         "seeded": "`python3 -c pass`, `PYTHONHASHSEED=0`"}
for kind in ["cpu", "alloc", "startup", "seeded"]:
    rows = [json.loads(l) for l in open(f"{work}/{kind}/results.jsonl")]
    cost = json.load(open(f"{work}/{kind}/cost.json"))
    wall = [r["median"] for r in rows]
    ir = [r["instructions"] for r in rows]
    quiet = [r["median"] for r in rows if r["load"] == "quiet"]
    loaded = [r["median"] for r in rows if r["load"] == "loaded"]
    print(f"| {names[kind]} | {len(rows)} ({len(quiet)} quiet, {len(loaded)} loaded) "
          f"| {cv(wall):.3f} | {max(wall)/min(wall):.2f} "
          f"| {cv(ir):.6f} | {max(ir)/min(ir):.6f} "
          f"| {cost['native']*1000:.1f} ms | {cost['valgrind']*1000:.0f} ms "
          f"| {cost['valgrind']/cost['native']:.0f}x |")
    print(f"|   quiet only / loaded only | | {cv(quiet):.3f} / {cv(loaded):.3f} | | distinct counts: {len(set(ir))} | | | | |")
EOF
