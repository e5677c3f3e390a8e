//! Running the real `qod` binary in a scratch folder, and making its
//! decisions comparable across runs.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// A scratch folder with a policy, a store and the fixture plugins on
/// `QOD_PLUGIN_PATH`, and a clean environment.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// What one `qod` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), dir.path().to_string_lossy().into_owned()),
            (
                "QOD_PLUGIN_PATH".into(),
                fixture("plugins").to_string_lossy().into_owned(),
            ),
        ];
        Scratch { dir, env }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    pub fn policy(&self, yaml: &str) -> &Self {
        self.write("qod.yaml", yaml);
        self
    }

    pub fn qod(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("qod runs");
        finish(out)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qod"));
        cmd.args(args)
            .current_dir(self.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }
}

/// Writes a Python plugin `name` into the scratch's `plugins/`, where
/// discovery finds it: its manifest, declaring `metrics` (a JSON list), and
/// its script.
pub fn python_plugin(s: &Scratch, name: &str, metrics: &str, script: &str) {
    let dir = s.path().join("plugins").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.py"));
    std::fs::write(
        dir.join("plugin.json"),
        format!(
            r#"{{"manifest_version": 1, "name": "{name}", "version": "1", "protocol_versions": [1],
  "command": ["python3", "{}"], "metrics": {metrics}}}"#,
            file.display()
        ),
    )
    .unwrap();
    std::fs::write(file, script).unwrap();
}

/// Runs git in `dir` with a fixed identity and fixed dates, so commit ids
/// are the same in every run of a test; panics with git's stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=qod", "-c", "user.email=qod@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        // Fixed dates make the commit ids the same in every run of the test.
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A policy with one `emit` instance per `(instance, metric, value)` and the
/// given objectives (YAML list items).
pub fn emit_policy(metrics: &[(&str, &str, f64)], objectives: &str) -> String {
    let mut by_instance: Vec<(&str, Vec<String>)> = Vec::new();
    for (inst, name, value) in metrics {
        let m = format!("{{ name: \"{name}\", value: {value} }}");
        match by_instance.iter_mut().find(|(i, _)| i == inst) {
            Some((_, v)) => v.push(m),
            None => by_instance.push((inst, vec![m])),
        }
    }
    let mut s = String::from("version: 1\nplugins:\n");
    for (inst, ms) in by_instance {
        s.push_str(&format!(
            "  {inst}: {{ uses: emit, with: {{ result: {{ protocol: 1, status: ok, metrics: [{}] }} }} }}\n",
            ms.join(", ")
        ));
    }
    s.push_str("objectives:\n");
    s.push_str(objectives);
    s
}

/// Creates the empty bare repository `bare`, its default branch `main`.
pub fn bare_repo(bare: &Path) {
    let parent = bare.parent().expect("a bare repository's folder");
    git(
        parent,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            &bare.to_string_lossy(),
        ],
    );
}

/// Makes `dir` a repository on `main` with all it holds committed, and
/// pushes it to a new bare repository `bare`, its `origin`.
pub fn publish(dir: &Path, bare: &Path) {
    bare_repo(bare);
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "the project"]);
    git(dir, &["remote", "add", "origin", &bare.to_string_lossy()]);
    git(dir, &["push", "-q", "origin", "main"]);
}

/// Replaces what changes from run to run (ids, times, durations, temp paths).
pub fn redact(mut v: Value) -> Value {
    fn set(v: &mut Value, ptr: &str, to: &str) {
        if let Some(x) = v.pointer_mut(ptr) {
            *x = Value::String(to.into());
        }
    }
    set(&mut v, "/run/id", "[run-id]");
    set(&mut v, "/run/started_at", "[time]");
    set(&mut v, "/run/finished_at", "[time]");
    set(&mut v, "/store/location", "[store]");
    set(&mut v, "/store/last_deployment/at", "[time]");
    set(&mut v, "/store/last_deployment/run_id", "[run-id]");
    set(&mut v, "/pipeline/name", "[name]");
    // The machine differs from one test machine to the next.
    set(&mut v, "/run/runner", "[runner]");
    if let Some(ps) = v.pointer_mut("/plugins").and_then(Value::as_array_mut) {
        for p in ps {
            p["duration_ms"] = Value::String("[ms]".into());
        }
    }
    if let Some(os) = v.pointer_mut("/objectives").and_then(Value::as_array_mut) {
        for o in os {
            if let Some(runs) = o
                .pointer_mut("/baseline/runs")
                .and_then(Value::as_array_mut)
            {
                for r in runs {
                    *r = Value::String("[run-id]".into());
                }
            }
        }
    }
    v
}

/// Checks a document against one of the checked-in schemas.
pub fn assert_valid(schema_file: &str, doc: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schema").join(schema_file)).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "document violates {schema_file}: {errors:#?}\n{doc:#}"
    );
}

/// How many runs the first objective's baseline used.
pub fn baseline_runs(d: &Value) -> usize {
    d["objectives"][0]["baseline"]["runs"]
        .as_array()
        .map_or(0, Vec::len)
}

/// The `run` script of the step of action.yml whose `id` or `name` is `which`.
pub fn action_step(which: &str) -> String {
    let action: Value =
        serde_norway::from_str(&std::fs::read_to_string(repo().join("action.yml")).unwrap())
            .unwrap();
    action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == which || s["name"] == which)
        .unwrap_or_else(|| panic!("action.yml has no step `{which}`"))["run"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs `commands` at once (every one started before any is waited for, so
/// that they race) and returns what each did, in order.
pub fn at_once(commands: impl IntoIterator<Item = Command>) -> Vec<Run> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("qod starts")
        })
        .collect();
    children
        .into_iter()
        .map(|c| finish(c.wait_with_output().unwrap()))
        .collect()
}

/// One HTTP/1.1 request, as the tests' local servers read it.
pub struct Request {
    pub method: String,
    /// The target without its query.
    pub path: String,
    /// Header names in lower case.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// Reads one request from `conn` (its head, then `Content-Length` bytes).
pub fn read_http(conn: &std::net::TcpStream) -> std::io::Result<Request> {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts
        .next()
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    let mut headers = std::collections::BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? <= 2 {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
}

/// Writes one response with `body` and closes the exchange.
pub fn respond(mut conn: &std::net::TcpStream, status: u16, head: &str, body: &[u8]) {
    use std::io::Write;
    let mut out = format!(
        "HTTP/1.1 {status} X\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    let _ = conn.write_all(&out);
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// The first file in `dir` (a part, a suspended gate a test tampers with).
pub fn first_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap_or_else(|| panic!("nothing in `{}`", dir.display()))
        .path()
}

/// Sends SIGTERM to `child` and waits for it to end, at most `within`
/// (past it the test fails, naming `what`); its exit status.
pub fn terminate(
    child: &mut std::process::Child,
    within: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < within,
            "{what} did not stop after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
