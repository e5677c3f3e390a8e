#!/usr/bin/env bash
# How long installing qod in CI takes: install.sh fetching a release from a
# server on 127.0.0.1 (laid out as the release workflow publishes it, made
# from a built qod), against `cargo install` from source, cold, as
# action.yml and the examples did before. One run, side by side.
#
#   benches/install.sh [RUNS] [--cargo]
#
# Without --cargo only install.sh is timed (the cargo build takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
case "$(uname -m)" in aarch64 | arm64) arch=aarch64 ;; *) arch=x86_64 ;; esac
target="$arch-unknown-linux-musl"
bin="${QOD_BIN:-target/release/qod}"
[ -x "$bin" ] || cargo build --release --locked -q
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# The release, as GitHub serves it.
name="qod-$version-$target"
assets="$work/www/example/qod/releases/download/v$version"
mkdir -p "$assets" "$work/stage/$name"
cp "$bin" README.md "$work/stage/$name/"
tar -czf "$assets/$name.tar.gz" -C "$work/stage" "$name"
(cd "$assets" && sha256sum "$name.tar.gz" > "qod-$version-sha256sums.txt")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

times=()
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  QOD_VERSION="$version" QOD_INSTALL_DIR="$work/bin$i" \
    QOD_DOWNLOAD_URL="http://127.0.0.1:$port/example/qod/releases" sh install.sh 2>/dev/null
  end=$(date +%s.%N)
  "$work/bin$i/qod" --version >/dev/null
  times+=("$(echo "$end - $start" | bc)")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
max=$(echo "$sorted" | tail -1)
size=$(stat -c %s "$assets/$name.tar.gz")
printf 'install.sh: %s runs, median %.3f s, max %.3f s (archive %d KiB)\n' "$runs" "$median" "$max" $((size / 1024))

if [ "${2:-}" = --cargo ]; then
  start=$(date +%s.%N)
  CARGO_TARGET_DIR="$work/cargo-target" cargo install --locked --quiet --path . --root "$work/cargo-root" 2>/dev/null
  end=$(date +%s.%N)
  cargo_s=$(echo "$end - $start" | bc)
  printf 'cargo install (cold): %.1f s; install.sh is %.0f× faster\n' "$cargo_s" "$(echo "$cargo_s / $median" | bc -l)"
fi
