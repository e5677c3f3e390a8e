#!/usr/bin/env bash
# The prototype's scenario, end to end, on the embedded store: three builds
# recorded, a deployment recorded, a slow build that fails the build gate,
# a release with fewer than three merged pull requests that fails the
# release gate, then one that passes both.
#
# Usage: examples/prototype/scenario.sh      (QOD=path/to/qod to skip cargo)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${QOD:-}" ]; then
  qod() { "$QOD" "$@"; }
else
  cargo build -q --manifest-path "$here/../../Cargo.toml"
  qod_bin="$(cd "$here/../.." && pwd)/target/debug/qod"
  qod() { "$qod_bin" "$@"; }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export QOD_STORE="$work/store"

# The application's repository, in CodeBuild's environment.
set -a
# shellcheck source=codebuild.env
. "$here/codebuild.env"
set +a
app="$work/app"
mkdir -p "$app" && cd "$app"
export GIT_AUTHOR_NAME=dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=dev GIT_COMMITTER_EMAIL=dev@example.com
git init -q -b main
git -c commit.gpgsign=false commit -q --allow-empty -m "initial"
pr=0
merge_pr() {
  pr=$((pr + 1))
  git checkout -q -b "feature-$pr"
  echo "$pr" > "feature-$pr.txt" && git add "feature-$pr.txt"
  git -c commit.gpgsign=false commit -q -m "feature $pr"
  git checkout -q main
  git -c commit.gpgsign=false merge -q --no-ff -m "Merge pull request #$pr from feature-$pr" "feature-$pr"
}

# Runs one gate as CodeBuild would, for a build that started SECONDS ago,
# and prints its decision with each objective's reason.
gate() {
  local what=$1 policy=$2 seconds=$3 code=0
  export CODEBUILD_START_TIME=$(( $(date +%s%3N) - seconds * 1000 ))
  export CODEBUILD_RESOLVED_SOURCE_VERSION
  CODEBUILD_RESOLVED_SOURCE_VERSION=$(git rev-parse HEAD)
  qod run --policy "$here/$policy" > "$work/decision.json" 2> "$work/stderr.txt" || code=$?
  python3 - "$work/decision.json" "$what" "$code" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}: {d['decision']} (exit {sys.argv[3]})")
for o in d["objectives"]:
    print(f"    {o['id']}: {o['status']}: {o['reason']}")
PY
}

merge_pr
gate "build 1, took 30 s" build-gate.yaml 30
merge_pr
gate "build 2, took 32 s" build-gate.yaml 32
gate "build 3, took 33 s" build-gate.yaml 33
qod deployed > /dev/null 2>&1
echo "deployed $(git rev-parse --short HEAD) to production"
merge_pr
merge_pr
gate "build 4, took 48 s" build-gate.yaml 48
gate "build 5, took 31 s" build-gate.yaml 31
gate "release after 2 merged pull requests" release-gate.yaml 31
merge_pr
gate "build 6, took 32 s" build-gate.yaml 32
gate "release after 3 merged pull requests" release-gate.yaml 32
