#!/usr/bin/env bash
# Peak memory of `bench-import` on a large harness file, as a multiple of
# the file's size. The file repeats the real gungraun JSON line in
# fixtures/bench-import/gungraun.jsonl under new ids (12,000 summaries,
# about 65 MB); the peak is the largest RSS of qod and its plugin process
# (`/usr/bin/time -f %M`, which reports the largest of the process tree).
# Target: a small multiple of the file, not one per parsed JSON node.
# Usage: benches/import-memory.sh [SUMMARIES]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-12000}
cargo build --release --quiet
qod=$PWD/target/release/qod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$n" "$work/big.jsonl" <<'PY'
import json, sys
line = open("fixtures/bench-import/gungraun.jsonl").readline()
doc = json.loads(line)
with open(sys.argv[2], "w") as out:
    for i in range(int(sys.argv[1])):
        doc["id"] = f"b{i}"
        out.write(json.dumps(doc) + "\n")
PY
cat > "$work/qod.yaml" <<'YAML'
version: 1
plugins:
  gg: { uses: bench-import, with: { path: big.jsonl, format: gungraun } }
objectives:
  - { id: fib, metric: "gg.fib::math::bench_fibonacci b1", pass: "<= 400000" }
YAML
size_kb=$(( $(stat -c %s "$work/big.jsonl") / 1024 ))
cd "$work"
/usr/bin/time -f "%M %e" -o time.txt "$qod" run --policy qod.yaml --store "$work/store" > decision.json 2>/dev/null || true
read -r rss_kb secs < time.txt
echo "file: $((size_kb / 1024)) MiB, $n summaries"
echo "peak RSS: $((rss_kb / 1024)) MiB ($(python3 -c "print(f'{$rss_kb / $size_kb:.1f}')")x the file), ${secs}s"
