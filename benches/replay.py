#!/usr/bin/env python3
"""Replays a real timing series through the real binary, side by side.

The series is TigerBeetle's throughput over 365 commits
(`../shared/corpus/otava-tigerbeetle.json`, from Apache Otava's tests),
turned into times (1 / throughput); consecutive values are one pair (base,
candidate): the run-to-run noise and drift as they were. Each trial takes
`--window` pairs from a random place, multiplies the candidates by 1 + r,
and runs `qod run` (release build) with a plugin that answers each
invocation with its side's value for its pair; the base is a folder
(`compare.base.workspace`). Reports, for each r, the share of trials that
failed and the median pairs to a decision, with the policy's `pairs` and a
`<= +3%` tolerance at α 0.01.

Usage: benches/replay.py [--trials 60] [--min 6] [--max 30] [--batch 2]
"""
import argparse, json, os, random, statistics, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--trials", type=int, default=60)
ap.add_argument("--min", type=int, default=6)
ap.add_argument("--max", type=int, default=30)
ap.add_argument("--batch", type=int, default=2)
ap.add_argument("--test", default="wilcoxon")
args = ap.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "..", "shared", "corpus", "otava-tigerbeetle.json")
if not os.path.exists(corpus):
    sys.exit(f"replay: no corpus at {corpus}")
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
qod = os.path.join(root, "target", "release", "qod")
times = [1.0 / x for x in json.load(open(corpus))["series"]]

work = tempfile.mkdtemp(prefix="qod-replay-")
os.makedirs(os.path.join(work, "base"))
plugin = os.path.join(work, "plugins", "replay")
os.makedirs(plugin)
values = os.path.join(work, "values.txt")
# POSIX sh: the pair and the side from the context, the value from line N.
with open(os.path.join(plugin, "replay.sh"), "w") as f:
    f.write(f"""ctx=$(cat)
pair=$(printf '%s' "$ctx" | grep -o '"pair":[0-9]*' | cut -d: -f2)
case "$ctx" in *'"variant":"base"'*) col=1 ;; *) col=2 ;; esac
v=$(sed -n "${{pair}}p" {values} | cut -d' ' -f$col)
printf '{{"protocol": 1, "status": "ok", "metrics": [{{"name": "t", "value": %s}}]}}\\n' "$v"
""")
with open(os.path.join(plugin, "plugin.json"), "w") as f:
    json.dump({"manifest_version": 1, "name": "replay", "version": "1", "protocol_versions": [1],
               "command": ["sh", os.path.join(plugin, "replay.sh")],
               "metrics": [{"name": "t", "unit": "s", "better": "lower"}]}, f)
with open(os.path.join(work, "qod.yaml"), "w") as f:
    f.write(f"""version: 1
plugins:
  r: {{ uses: replay }}
compare:
  base: {{ workspace: base }}
  pairs: {{ min: {args.min}, max: {args.max}, batch: {args.batch} }}
  test: {args.test}
  alpha: 0.01
objectives:
  - {{ id: t, metric: r.t, pass: "<= +3%", against: base }}
""")

print(f"replay through {qod}: TigerBeetle's series, {len(times)} values, {args.trials} trials a size, "
      f"pairs {{min: {args.min}, max: {args.max}, batch: {args.batch}}}, {args.test}, `<= +3%`, α 0.01\n")
print("| change | fails | inconclusive | passes | median pairs |\n|--:|--:|--:|--:|--:|")
env = dict(os.environ, QOD_PLUGIN_PATH=os.path.join(work, "plugins"))
for r in [0.0, 0.05, 0.10, 0.20, 0.50]:
    rng = random.Random(7)
    counts = {"fail": 0, "inconclusive": 0, "pass": 0}
    pairs = []
    for _ in range(args.trials):
        start = rng.randrange(len(times) - 2 * args.max)
        with open(values, "w") as f:
            for i in range(args.max):
                b, c = times[start + 2 * i], times[start + 2 * i + 1]
                f.write(f"{b!r} {c * (1 + r)!r}\n")
        out = subprocess.run([qod, "run", "--no-record", "--store", f"{work}/store"],
                             cwd=work, env=env, capture_output=True, text=True)
        d = json.loads(out.stdout)
        o = d["objectives"][0]
        counts[o["status"]] = counts.get(o["status"], 0) + 1
        pairs.append(o["comparison"]["pairs"])
    n = args.trials
    print(f"| +{r * 100:.0f}% | {counts['fail'] / n:.1%} | {counts['inconclusive'] / n:.1%} | "
          f"{counts['pass'] / n:.1%} | {statistics.median(pairs):g} |")
