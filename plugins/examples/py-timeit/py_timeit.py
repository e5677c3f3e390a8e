"""Example qod plugin in Python: times a command over several runs.

Protocol v1: read the context (one JSON document) from stdin, print exactly
one result object on stdout, log to stderr. Only the standard library.
"""

import json
import subprocess
import sys
import time


def result(**fields):
    print(json.dumps({"protocol": 1, **fields}))
    sys.exit(0)


def main():
    context = json.load(sys.stdin)
    config = context["config"]
    argv = config["command"]
    workspace = context["paths"]["workspace"]
    samples = []
    for i in range(config["warmup"] + config["runs"]):
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=workspace, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:
            result(status="error", error={"kind": "command-failed", "message": f"cannot run {argv[0]!r}: {e}"})
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
            result(
                status="error",
                error={"kind": "command-failed", "message": f"{' '.join(argv)} exited with {proc.returncode}"},
            )
        if i >= config["warmup"]:
            samples.append(elapsed)
    mean = sum(samples) / len(samples)
    print(f"py-timeit: {len(samples)} runs of {' '.join(argv)}", file=sys.stderr)
    result(
        status="ok",
        metrics=[
            {"name": "mean", "value": mean, "unit": "s", "samples": samples},
            {"name": "min", "value": min(samples), "unit": "s"},
            {"name": "max", "value": max(samples), "unit": "s"},
        ],
        summary=f"mean {mean * 1000:.1f} ms over {len(samples)} runs",
    )


if __name__ == "__main__":
    main()
