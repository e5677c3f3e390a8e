"""Example qod plugin in Python: starts a job on an HTTP service and polls
it until it ends, without blocking while it runs.

The first invocation POSTs `config.body` to `config.url`; the service answers
`{"status_url": "…"}`. The plugin answers `"status": "pending"` with the
status URL as its `state`, and qod invokes it again after `config.poll`
with that state as `resume`. Each later invocation GETs the status URL:
`{"state": "running", "progress": "…"}` keeps it pending; `{"state":
"done", "metrics": [{"name": …, "value": …, "unit": …}]}` ends it with the
job's metrics; `{"state": "failed", "error": "…"}` ends it with an error.
A bearer token may come from `HTTP_JOB_TOKEN` (named in the manifest's
`env`, so qod passes it and redacts it). Only the standard library.
"""

import json
import os
import sys
import urllib.error
import urllib.request


def result(**fields):
    print(json.dumps({"protocol": 1, **fields}))
    sys.exit(0)


def fail(kind, message):
    result(status="error", error={"kind": kind, "message": message})


def call(method, url, body=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = os.environ.get("HTTP_JOB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        fail("http-status", f"{method} {url} answered HTTP {e.code}")
    except (urllib.error.URLError, OSError) as e:
        fail("unreachable", f"{method} {url} failed: {e}")
    except ValueError as e:
        fail("bad-response", f"{method} {url} did not answer JSON: {e}")


def main():
    context = json.load(sys.stdin)
    config = context["config"]
    state = context.get("resume")
    if state is None:
        started = call("POST", config["url"], config["body"])
        status_url = started.get("status_url") if isinstance(started, dict) else None
        if not status_url:
            fail("bad-response", f"POST {config['url']} answered no `status_url`")
        print(f"http-job: started, polling {status_url}", file=sys.stderr)
        result(status="pending", state={"status_url": status_url}, retry_after=config["poll"],
               summary="job started")
    status = call("GET", state["status_url"])
    job = status.get("state") if isinstance(status, dict) else None
    if job == "running":
        result(status="pending", state=state, retry_after=config["poll"],
               summary=f"job running: {status.get('progress', 'no progress given')}")
    if job == "done":
        metrics = status.get("metrics", [])
        result(status="ok", metrics=metrics, summary=f"job done: {len(metrics)} metrics")
    if job == "failed":
        fail("job-failed", f"the job failed: {status.get('error', 'no reason given')}")
    fail("bad-response", f"GET {state['status_url']} answered state {job!r}, not running, done or failed")


if __name__ == "__main__":
    main()
