#!/usr/bin/env bash
# What one gate costs in AWS terms: qod's own wall time for a gate with one
# small plugin against an S3 store (moto on 127.0.0.1, from scripts/test's
# .venv) that holds 50 runs, and the S3 requests each gate makes, read from
# the decision (`store.requests`). Needs hyperfine.
# Usage: benches/aws-cost.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
[ -x .venv/bin/moto_server ] || { echo "run scripts/test once first: it installs moto into .venv" >&2; exit 1; }
cargo build --release --quiet
sleep "${QOD_SETTLE:-10}"
qod=$PWD/target/release/qod
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" QOD_PLUGIN_PATH=$PWD/fixtures/plugins
for _ in $(seq 50); do curl -fs "$AWS_ENDPOINT_URL" >/dev/null && break; sleep 0.2; done
curl -fs -X PUT "$AWS_ENDPOINT_URL/qod-bench" >/dev/null
cd "$work"
cat > qod.yaml <<'YAML'
version: 1
plugins:
  build: { uses: emit, with: { result: { protocol: 1, status: ok, metrics: [{ name: duration, value: 40 }] } } }
objectives:
  - { id: build-time, metric: build.duration, pass: ["<= +10%", "< 60s"], baseline: { last: 5 } }
YAML
for _ in $(seq 50); do "$qod" run -q --store s3://qod-bench/app >/dev/null; done
"$qod" run -q --store s3://qod-bench/app > decision.json
hyperfine -N --warmup 3 --runs "$runs" --export-json gate.json \
  "$qod run -q --store s3://qod-bench/app" 2>/dev/null | grep -vE '^\s*$' || true
python3 - <<'PY'
import json
d = json.load(open("decision.json"))
r = json.load(open("gate.json"))["results"][0]
print(f"per gate: {r['mean']*1e3:.1f} ms ± {r['stddev']*1e3:.1f} ms (median {r['median']*1e3:.1f} ms), "
      f"{d['store']['requests']} S3 requests, over {d['objectives'][0]['baseline']['last']}-run baselines of a 50-run history")
PY
