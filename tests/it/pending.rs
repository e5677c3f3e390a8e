//! Long-running plugins: a result with `"status": "pending"` is answered by
//! invoking the plugin again after `retry_after`, with its `state` as the
//! context's `resume`, until it ends or its timeout (over the whole span)
//! runs out.

use crate::common::{python_plugin, Scratch};

/// A plugin that starts a "job" and reports it done on its third resume;
/// with `forever` it never finishes.
fn poller(s: &Scratch) {
    python_plugin(
        s,
        "poller",
        r#"[{"name": "steps", "better": "lower"}]"#,
        r#"import json, sys
ctx = json.load(sys.stdin)
forever = ctx["config"].get("forever", False)
r = ctx.get("resume")
step = 0 if r is None else r["step"]
job = "j-42" if r is None else r["job"]
if forever or step < 3:
    print(json.dumps({"protocol": 1, "status": "pending", "state": {"step": step + 1, "job": job},
                      "retry_after": ctx["config"].get("retry", "50ms"),
                      "summary": f"load test {step + 1} of 3 running"}))
else:
    print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "steps", "value": step}],
                      "summary": f"job {job} done"}))
"#,
    );
}

#[test]
fn a_pending_plugin_is_resumed_with_its_state_until_it_ends() {
    let s = Scratch::new();
    poller(&s);
    s.policy(
        r#"version: 1
plugins:
  load: { uses: poller }
objectives:
  - { id: steps, metric: load.steps, pass: "== 3" }
"#,
    );
    let r = s.qod(&["run", "--no-record", "--progress"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = &d["plugins"][0];
    assert_eq!(p["status"], "ok", "{p:#}");
    // The state went out and came back: the job id and the step.
    assert_eq!(p["summary"], "job j-42 done", "{p:#}");
    assert_eq!(d["objectives"][0]["value"], 3.0);
    assert!(
        p["notes"].to_string().contains("was resumed 3 times"),
        "{p:#}"
    );
    for step in 1..=3 {
        let line = format!("qod: `load` pending (load test {step} of 3 running); resuming in 50ms");
        assert!(r.stderr.contains(&line), "{line}\n{}", r.stderr);
    }
}

#[test]
fn a_plugin_pending_past_its_timeout_times_out() {
    let s = Scratch::new();
    poller(&s);
    s.policy(
        r#"version: 1
plugins:
  load: { uses: poller, with: { forever: true, retry: "1s" }, timeout: 1500ms }
objectives:
  - { id: steps, metric: load.steps, pass: "== 3" }
"#,
    );
    let started = std::time::Instant::now();
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = &d["plugins"][0];
    assert_eq!(p["status"], "timeout", "{p:#}");
    let message = p["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("still pending after its timeout of 1s 500ms")
            && message.contains("load test 2 of 3 running"),
        "{message}"
    );
    // The timeout counted the whole span, waits included, and no more.
    let took = started.elapsed().as_secs_f64();
    assert!((1.4..10.0).contains(&took), "{took}");
    assert_eq!(d["objectives"][0]["status"], "no_data");
}

/// A job service on 127.0.0.1: `POST /jobs` starts a job; `GET /jobs/1`
/// says `running` twice, then `done` with its metrics. Serves at most
/// `max` requests; returns its port and the requests it saw.
fn job_service(max: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut polls = 0;
        for stream in listener.incoming().take(max) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request = format!("{} {}", line.trim(), String::from_utf8_lossy(&body));
            let answer = if request.starts_with("POST /jobs ") {
                format!(r#"{{"status_url": "http://127.0.0.1:{port}/jobs/1"}}"#)
            } else {
                polls += 1;
                if polls < 3 {
                    format!(r#"{{"state": "running", "progress": "{polls} of 3"}}"#)
                } else {
                    r#"{"state": "done", "metrics": [{"name": "p95", "value": 182.4, "unit": "ms"}]}"#.to_owned()
                }
            };
            seen.push(request);
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
            if seen.last().is_some_and(|r| r.starts_with("GET")) && polls >= 3 {
                break;
            }
        }
        seen
    });
    (port, handle)
}

#[test]
fn the_http_job_example_starts_a_job_and_polls_it_to_the_end() {
    let (port, service) = job_service(10);
    let s = Scratch::new();
    s.policy(&format!(
        r#"version: 1
plugins:
  job: {{ uses: http-job, path: "{}", with: {{ url: "http://127.0.0.1:{port}/jobs", body: {{ users: 10 }}, poll: 100ms }} }}
objectives:
  - {{ id: latency, metric: job.p95, pass: "< 300ms" }}
"#,
        crate::common::repo().join("plugins/examples/http-job").display()
    ));
    let r = s.qod(&["run", "--no-record", "--progress"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let p = &d["plugins"][0];
    assert_eq!(p["status"], "ok", "{p:#}");
    assert_eq!(d["objectives"][0]["value"], 182.4);
    assert!(
        p["notes"].to_string().contains("was resumed 3 times"),
        "{p:#}"
    );
    assert!(
        r.stderr
            .contains("pending (job running: 2 of 3); resuming in 100ms"),
        "{}",
        r.stderr
    );
    let seen = service.join().unwrap();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert_eq!(seen[0], r#"POST /jobs HTTP/1.1 {"users": 10}"#);
    assert!(
        seen[1..].iter().all(|r| r.starts_with("GET /jobs/1 ")),
        "{seen:#?}"
    );
}
