#!/usr/bin/env bash
# `qod store reindex` on a git-branch store holding N damaged run records
# (and one good run), timed for each qod binary given, alternating rounds.
# Usage: benches/git-reindex.sh [N] QOD [QOD...]
set -euo pipefail
n=${1:-3000}
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME=$work GIT_AUTHOR_NAME=qod GIT_AUTHOR_EMAIL=qod@example.com \
  GIT_COMMITTER_NAME=qod GIT_COMMITTER_EMAIL=qod@example.com
git init -q --bare "$work/remote.git"
git clone -q "$work/remote.git" "$work/app" 2>/dev/null
cd "$work/app"
cat > qod.yaml <<'YAML'
version: 1
plugins:
  build: { uses: build-time, with: { start: "2026-01-01T00:00:00Z" } }
objectives:
  - { id: build, metric: build.duration, pass: "> 0s" }
YAML
git add qod.yaml && git commit -q -m app && git push -q origin HEAD:main 2>/dev/null
"$1" run --store git:qod-history -q > /dev/null
git clone -q -b qod-history "$work/remote.git" "$work/junk"
mkdir -p "$work/junk/runs/date=2026-01-01"
for i in $(seq "$n"); do
  printf '{ junk' > "$work/junk/runs/date=2026-01-01/01900000-0000-7000-8000-$(printf %012d "$i").json"
done
(cd "$work/junk" && git add . && git commit -q -m junk && git push -q origin qod-history)
base=$(git -C "$work/remote.git" rev-parse qod-history)
echo "== reindex of $n damaged records on a git branch"
for round in 1 2; do
  for qod in "$@"; do
    git -C "$work/remote.git" update-ref refs/heads/qod-history "$base"
    start=$(date +%s.%N)
    "$qod" store reindex --store git:qod-history > /dev/null 2>&1
    end=$(date +%s.%N)
    printf 'round %s  %-40s %6.2f s\n' "$round" "$qod" "$(echo "$end - $start" | bc)"
  done
done
