#!/usr/bin/env bash
# What qod adds around plugins, measured side by side in one run (ratios,
# since shared machines are noisy). Needs hyperfine, a C compiler and GNU time:
#   apt-get install hyperfine time gcc
# Usage: benches/overhead.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
cargo build --release --quiet
# A machine that just compiled for minutes measures slow for a while.
sleep "${QOD_SETTLE:-10}"
qod=$PWD/target/release/qod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/plugins/noop"
cc -O2 -o "$work/plugins/noop/noop" benches/noop-plugin.c
cat > "$work/plugins/noop/plugin.json" <<'JSON'
{"manifest_version": 1, "name": "noop", "version": "1", "protocol_versions": [1],
 "command": ["./noop"], "timeout": "10s",
 "metrics": [{"name": "value", "better": "lower"}]}
JSON
# A context like the one qod writes, for running the plugin directly.
printf '%s\n' '{"protocol":1,"plugin":{"name":"noop","instance":"p0"},"config":{},"run":{"id":"x","started_at":"2026-01-01T00:00:00Z"},"pipeline":{"provider":"local"},"source":{},"history":{"last_deployment":null},"paths":{"workspace":".","artifacts":"."}}' > "$work/context.json"

one() {
  printf 'version: 1\nplugins:\n  p0: { uses: noop }\nobjectives:\n  - { id: v, metric: p0.value, pass: "< 2" }\n'
}
many() {
  printf 'version: 1\nplugins:\n'
  for i in $(seq 0 199); do printf '  p%d: { uses: noop }\n' "$i"; done
  printf 'objectives:\n'
  for i in $(seq 0 199); do printf '  - { id: v%d, metric: p%d.value, pass: "< 2" }\n' "$i" "$i"; done
}
one > "$work/one.yaml"
many > "$work/many.yaml"
cd "$work"

echo "== 1: qod run with one no-op plugin vs the plugin alone (target: qod <= 1.3x + 5 ms)"
# Both without a shell (-N). hyperfine 1.15 cannot feed a file to stdin, so
# the plugin alone reads an empty stdin; its cost does not depend on its input.
hyperfine -N --warmup 5 --runs "$runs" --export-json one.json \
  "./plugins/noop/noop" \
  "$qod run --policy one.yaml --no-record" 2>/dev/null | grep -vE '^\s*$' || true
python3 - <<'PY'
import json
r = json.load(open("one.json"))["results"]
a, b = r[0]["mean"], r[1]["mean"]
print(f"plugin alone {a*1e3:.2f} ms, qod run {b*1e3:.2f} ms: ratio {b/a:.2f}x, overhead {1e3*(b-a):.2f} ms; "
      f"target {1e3*(1.3*a+0.005):.2f} ms -> {'met' if b <= 1.3*a + 0.005 else 'MISSED'}")
PY

echo "== 2: 200 no-op plugins, qod --jobs 2 vs xargs -P2 spawning the same 200 (target: <= 1.3x)"
seq 200 > list.txt
hyperfine -N --warmup 2 --runs "$((runs / 5 + 3))" --export-json many.json \
  "xargs -P2 -n1 -a list.txt ./plugins/noop/noop" \
  "$qod run --policy many.yaml --no-record --jobs 2" 2>/dev/null | grep -vE '^\s*$' || true
python3 - <<'PY'
import json
r = json.load(open("many.json"))["results"]
x, q = r[0]["mean"], r[1]["mean"]
print(f"xargs -P2 {x*1e3:.1f} ms, qod --jobs 2 {q*1e3:.1f} ms: ratio {q/x:.2f}x; target 1.3x -> {'met' if q <= 1.3*x else 'MISSED'}")
PY

echo "== 3: peak RSS of the 200-plugin run (target: <= 30 MB)"
for i in 1 2 3; do
  /usr/bin/time -f '%M' "$qod" run --policy many.yaml --no-record --jobs 2 > /dev/null 2> rss.txt || true
  tail -n1 rss.txt
done | sort -n | tail -n1 | awk '{printf "peak RSS %.1f MB (max of 3 runs)\n", $1/1024}'
