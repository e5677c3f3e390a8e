#!/usr/bin/env bash
# How well `qod bisect` finds a culprit on this machine: a 40-commit
# repository whose commit K makes a shell workload 25% slower (20 ms of
# sleep become 25 ms), for 20 random K; per bisection, whether the named
# commit is K, the steps it took and its wall time. Targets: 19 of 20
# right, a median of at most ⌈log₂ 40⌉ + 2 = 8 steps.
# Usage: benches/bisect.sh [TRIALS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-20}
seed=${2:-7}
cargo build --release --quiet
sleep "${QOD_SETTLE:-10}"
qod=$PWD/target/release/qod
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$qod" "$trials" "$seed" <<'PY'
import json, os, random, statistics, subprocess, sys, time
work, qod, trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
           GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
policy = """version: 1
plugins:
  work: { uses: command-bench, with: { command: ["sh", "work.sh"], warmup: 0, min_runs: 3, max_runs: 3, min_time: 0s } }
compare:
  base: { revision: merge-base }
objectives:
  - { id: speed, metric: work.mean, pass: "<= +10%", against: base }
"""
right, steps, walls = 0, [], []
for t in range(trials):
    culprit = rng.randint(1, 40)
    repo = os.path.join(work, f"r{t}")
    os.makedirs(repo)
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()
    git("init", "-q", "-b", "main")
    open(os.path.join(repo, "qod.yaml"), "w").write(policy)
    open(os.path.join(repo, ".gitignore"), "w").write(".qod/\n")
    commits = []
    for i in range(41):
        open(os.path.join(repo, "work.sh"), "w").write(f"sleep 0.0{25 if i >= culprit else 20}\n")
        open(os.path.join(repo, "n.txt"), "w").write(str(i))
        git("add", ".")
        git("commit", "-q", "-m", f"change {i}")
        commits.append(git("rev-parse", "HEAD"))
    start = time.monotonic()
    out = subprocess.run([qod, "bisect", "--good", commits[0], "--bad", "HEAD", "--format", "json", "-q"],
                         cwd=repo, capture_output=True, text=True)
    wall = time.monotonic() - start
    b = json.loads(out.stdout)
    found = (b.get("culprit") or {}).get("revision")
    ok = found == commits[culprit]
    right += ok
    steps.append(len(b["steps"]))
    walls.append(wall)
    print(f"culprit {culprit:2}: {'right' if ok else 'WRONG (' + b['verdict'] + ')'}, {len(b['steps'])} steps, {wall:.1f} s")
print(f"{right} of {trials} right; steps median {statistics.median(steps)} (max {max(steps)}), "
      f"wall time median {statistics.median(walls):.1f} s (max {max(walls):.1f} s); "
      f"targets: >= 19 of 20, median <= 8 steps")
PY
