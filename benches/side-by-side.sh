#!/usr/bin/env bash
# Side by side end to end on a real pytest-benchmark suite
# (fixtures/projects/pybench): a fresh repository, a "pull request" that
# makes one benchmark 2x and another about 18% slower, and `qod run`
# measuring both sides in pairs (the base in a git worktree) until every
# benchmark is decided. Reports the gate's wall time against the bare cost
# of its plugin invocations (from the progress lines: each invocation's own
# time) plus the checkout: what qod adds on top of measuring.
# Needs pytest-benchmark in .venv (scripts/test installs it).
# Usage: benches/side-by-side.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release --quiet
qod=$PWD/target/release/qod
export QOD_PYTEST=$PWD/.venv/bin/pytest
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r fixtures/projects/pybench "$work/repo"
cd "$work/repo"
echo 'bench.json' > .gitignore
echo '.qod/' >> .gitignore
git init -q -b main
git add .
git -c user.name=b -c user.email=b@example.com commit -qm base
git checkout -qb feature
sed -i 's/^SLUG_PASSES = 1/SLUG_PASSES = 2/; s/^COUNT_PASSES = 100/COUNT_PASSES = 118/' slugs.py
git -c user.name=b -c user.email=b@example.com commit -qam regress
echo "== side by side, pytest-benchmark suite of 3, $(nproc) cores, $rounds rounds"
printf '%-6s %6s %6s %12s %14s %8s\n' round exit pairs "wall ms" "invocations ms" ratio
for r in $(seq "$rounds"); do
  start=$(date +%s%N)
  set +e
  "$qod" run --progress --base main --store "$work/store" > "$work/d.json" 2> "$work/err.txt"
  code=$?
  set -e
  wall=$(( ($(date +%s%N) - start) / 1000000 ))
  python3 - "$work/d.json" "$work/err.txt" "$r" "$code" "$wall" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
# "qod: `bench` (base, pair 3) ok in 845 ms …": each invocation's own time.
inv = sum(int(m) for m in re.findall(r"\(\w+, pair \d+\) ok in (\d+) ms", err))
pairs = max(o["comparison"]["pairs"] for o in d["objectives"] if "comparison" in o)
wall = int(sys.argv[5])
print(f"{sys.argv[3]:<6} {sys.argv[4]:>6} {pairs:>6} {wall:>12} {inv:>14} {wall / inv:>8.3f}")
for o in d["objectives"]:
    print(f"       {o['status']:<12} {o['id']}")
PY
done
