#!/usr/bin/env bash
# The `http-load` plugin against wrk on the same local nginx at the same
# connection count, alternating rounds in one run (ratios, since shared
# machines are noisy). Target: qod >= 0.9x wrk's requests/s, with latency
# percentiles in the same range. Needs wrk and nginx:
#   apt-get install wrk nginx-light
# Usage: benches/http-load.sh [CONNECTIONS] [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-50}
secs=${2:-5}
rounds=${3:-3}
cargo build --release --quiet
qod=$PWD/target/release/qod
work=$(mktemp -d)
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# nginx serving a small static body from memory, one worker per core.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "hello from nginx\n"; }
  }
}
EOF
mkdir -p "$work/tmp"
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.1
done
url="http://127.0.0.1:$port/"

cat > "$work/qod.yaml" <<EOF
version: 1
plugins:
  load: { uses: http-load, with: { url: "$url", concurrency: $conns, duration: ${secs}s, warmup: 1s } }
objectives:
  - { id: p99, metric: load.p99, pass: "< 1s" }
EOF

echo "== http-load vs wrk: $conns connections, ${secs}s per round, $rounds rounds, $(nproc) cores"
printf '%-6s %-5s %12s %9s %9s %9s\n' round tool "req/s" "p50 ms" "p90 ms" "p99 ms"
for r in $(seq "$rounds"); do
  # wrk: one thread per core, like qod's load generator; 1 s warm-up run first.
  wrk -t"$(nproc)" -c"$conns" -d1s "$url" >/dev/null
  wrk -t"$(nproc)" -c"$conns" -d"${secs}s" --latency "$url" > "$work/wrk.txt"
  python3 - "$work/wrk.txt" "$r" >> "$work/rows.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, u):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
lat = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)$", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(f"{sys.argv[2]} wrk {rps:.0f} {lat['50']:.3f} {lat['90']:.3f} {lat['99']:.3f}")
PY
  (cd "$work" && QOD_STORE="$work/store" "$qod" run --policy qod.yaml > decision.json 2>/dev/null) || true
  python3 - "$work/decision.json" "$r" >> "$work/rows.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["plugins"][0]
if p["status"] != "ok":
    sys.exit(f"http-load failed: {p.get('error')}")
m = {x["name"]: x["value"] for x in p["metrics"]}
print(f"{sys.argv[2]} qod {m['throughput']:.0f} {m['p50']:.3f} {m['p90']:.3f} {m['p99']:.3f}")
PY
  tail -2 "$work/rows.txt" | while read -r round tool rps p50 p90 p99; do
    printf '%-6s %-5s %12s %9s %9s %9s\n' "$round" "$tool" "$rps" "$p50" "$p90" "$p99"
  done
done
python3 - "$work/rows.txt" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
def med(tool, col):
    return statistics.median(float(r[col]) for r in rows if r[1] == tool)
print()
print(f"median req/s: qod {med('qod', 2):.0f}, wrk {med('wrk', 2):.0f}, ratio {med('qod', 2) / med('wrk', 2):.2f} (target >= 0.90)")
for col, name in [(3, "p50"), (4, "p90"), (5, "p99")]:
    print(f"median {name}: qod {med('qod', col):.3f} ms, wrk {med('wrk', col):.3f} ms")
PY
