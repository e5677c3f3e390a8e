//! The messages of the mistakes users make, whole (exit code and stderr):
//! each names the file, the place and the fix.

use crate::common::Scratch;

fn validate(s: &Scratch, policy: &str) -> (i32, String) {
    s.write("qod.yaml", policy);
    let r = s.qod(&["validate"]);
    (r.code, r.stderr)
}

/// What `qod validate` says of `policy`, which it must refuse (exit 2).
fn refused(s: &Scratch, policy: &str) -> String {
    let (code, stderr) = validate(s, policy);
    assert_eq!(code, 2, "{stderr}");
    stderr
}

#[test]
fn a_misspelt_field_gets_did_you_mean() {
    let s = Scratch::new();
    let stderr = refused(
        &s,
        "version: 1\nplugins:\n  b: { uses: build-time }\nobjective:\n  - { id: t, metric: b.duration, pass: \"< 1s\" }\n",
    );
    insta::assert_snapshot!(stderr, @r"
    error: invalid policy `qod.yaml`
      at /
      caused by: unknown field `objective`
      hint: did you mean `objectives`?
    ");
}

#[test]
fn a_duration_without_a_unit_gets_one() {
    let s = Scratch::new();
    let stderr = refused(
        &s,
        "version: 1\nplugins:\n  b: { uses: build-time, timeout: 120 }\nobjectives:\n  - { id: t, metric: b.duration, pass: \"< 1s\" }\n",
    );
    insta::assert_snapshot!(stderr, @r"
    error: invalid policy `qod.yaml`
      at /plugins/b/timeout (line 3 column 35)
      caused by: `timeout` is a duration, and 120 has no unit
      hint: write it with its unit: `timeout: 120s` (or `120ms`, `120m`)
    ");
}

#[test]
fn a_tab_is_called_a_tab() {
    let s = Scratch::new();
    let stderr = refused(&s, "version: 1\nplugins:\n\tb: { uses: build-time }\n");
    insta::assert_snapshot!(stderr, @r"
    error: invalid policy `qod.yaml`
      at line 3 column 1
      caused by: a tab: YAML indents with spaces only; replace the tab with spaces
      hint: `qod schema policy` shows the format; examples/quickstart/qod.yaml is a small example
    ");
}

#[test]
fn a_percentage_without_a_sign_suggests_a_change() {
    let s = Scratch::new();
    let stderr = refused(
        &s,
        "version: 1\nplugins:\n  b: { uses: build-time }\nobjectives:\n  - { id: t, metric: b.duration, pass: \"<= 10%\" }\n",
    );
    assert!(
        stderr.contains("a change against the baseline is written with a sign: `<= +10%`"),
        "{stderr}"
    );
}

fn plugin_x(s: &Scratch, command: &str) {
    std::fs::create_dir_all(s.path().join("plugins/x")).unwrap();
    s.write(
        "plugins/x/plugin.json",
        &format!(r#"{{"manifest_version":1,"name":"x","version":"1","protocol_versions":[1],"command":{command},"metrics":[{{"name":"value","unit":"ms","better":"lower"}}]}}"#),
    );
}

#[test]
fn a_path_in_uses_is_a_path_and_its_command_files_must_exist() {
    let s = Scratch::new();
    plugin_x(&s, r#"["node", "./main.js"]"#);
    let policy = "version: 1\nplugins:\n  b: { uses: ./plugins/x }\nobjectives:\n  - { id: v, metric: b.value, pass: \"< 1s\" }\n";
    let stderr = refused(&s, policy);
    insta::assert_snapshot!(stderr, @r"
    error: invalid plugin manifest `plugins/x/plugin.json`
      at /command/1 (line 1 column 91)
      caused by: `command` names `./main.js`, which is not in `plugins/x`
      hint: paths in `command` are relative to the manifest's folder; build or add the file, or fix the path
    ");
    s.write("plugins/x/main.js", "");
    let (code, stderr) = validate(&s, policy);
    assert_eq!(
        (code, stderr.trim()),
        (
            0,
            "qod: `qod.yaml` is valid: 1 plugin instance, 1 objective"
        )
    );
    let stderr = refused(&s, &policy.replace("./plugins/x", "./plugins/y"));
    insta::assert_snapshot!(stderr, @r"
    error: invalid policy `qod.yaml`
      at /plugins/b/uses (line 3 column 14)
      caused by: plugin `./plugins/y` not found (looked in `plugins/y`)
      hint: a path names the plugin's folder (with its `plugin.json`) or the manifest itself, relative to the policy
    ");
}

#[test]
fn a_result_in_a_unit_that_does_not_convert_is_a_plugin_error() {
    let s = Scratch::new();
    plugin_x(&s, r#"["./run.sh"]"#);
    s.write(
        "plugins/x/run.sh",
        "#!/bin/sh\ncat >/dev/null\necho '{\"protocol\":1,\"status\":\"ok\",\"metrics\":[{\"name\":\"value\",\"value\":3,\"unit\":\"B\"}]}'\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        s.path().join("plugins/x/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    s.write("qod.yaml", "version: 1\nplugins:\n  b: { uses: x }\nobjectives:\n  - { id: v, metric: b.value, pass: \"< 1s\" }\n");
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 1);
    let p = &r.json()["plugins"][0];
    assert_eq!(p["status"], "invalid_result");
    insta::assert_snapshot!(p["error"]["message"].as_str().unwrap(), @"metric `value` is reported in `B`, which does not convert to `ms`, the unit its manifest declares; report it in `ms` (or a unit of the same kind), or fix the manifest");
}

#[test]
fn a_metric_an_importer_did_not_report_lists_what_it_did() {
    let s = Scratch::new();
    let file = crate::common::fixture("bench-import/pytest-benchmark.json");
    s.write(
        "qod.yaml",
        &format!("version: 1\nplugins:\n  bench: {{ uses: bench-import, with: {{ path: \"{}\" }} }}\nobjectives:\n  - {{ id: fib, metric: bench.test_fib, pass: \"< 1s\" }}\n", file.display()),
    );
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 1);
    let reason = r.json()["objectives"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("no value: plugin `bench` did not report metric `test_fib`; it reported `test_bench.py::test_fib`"),
        "{reason}"
    );
}

#[test]
fn deployed_outside_git_needs_a_revision() {
    let s = Scratch::new();
    let r = s.qod(&["deployed"]);
    assert_eq!(r.code, 64);
    insta::assert_snapshot!(r.stderr.trim(), @"error: cannot tell which revision was deployed: this is no git checkout and no CI variable names the commit; give it with `--revision SHA`");
    assert!(!s.path().join(".qod").exists(), "nothing recorded");
    assert_eq!(s.qod(&["deployed", "--revision", "abc1234"]).code, 0);
}

#[test]
fn merged_changes_outside_git_says_so_first() {
    let s = Scratch::new();
    s.write("qod.yaml", "version: 1\nplugins:\n  c: { uses: merged-changes }\nobjectives:\n  - { id: m, metric: c.merged, pass: \"< 100\" }\n");
    let r = s.qod(&["run", "--no-record"]);
    let p = &r.json()["plugins"][0];
    assert_eq!(p["error"]["kind"], "not-a-repository", "{p:#}");
}

#[test]
fn the_summary_keeps_enough_stderr_to_hold_the_cause() {
    let s = Scratch::new();
    plugin_x(&s, r#"["./run.sh"]"#);
    let mut script =
        String::from("#!/bin/sh\ncat >/dev/null\necho 'Error: Cannot find module ./lib' >&2\n");
    for i in 0..30 {
        script.push_str(&format!("echo '    at frame {i}' >&2\n"));
    }
    script.push_str("exit 1\n");
    s.write("plugins/x/run.sh", &script);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        s.path().join("plugins/x/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    s.write("qod.yaml", "version: 1\nplugins:\n  b: { uses: x }\nobjectives:\n  - { id: v, metric: b.value, pass: \"< 1s\" }\n");
    let r = s.qod(&["run", "--no-record"]);
    assert!(
        r.stderr.contains("    | Error: Cannot find module ./lib\n    | … 10 other lines in the decision's `stderr_tail`\n    |     at frame 10\n"),
        "{}",
        r.stderr
    );
    assert!(r.json()["plugins"][0]["stderr_tail"]
        .as_str()
        .unwrap()
        .starts_with("Error: Cannot find module ./lib"));
}

#[test]
fn a_number_without_a_unit_on_a_timed_metric_asks_which_was_meant() {
    let s = Scratch::new();
    let policy = |pass: &str| {
        format!("version: 1\nplugins:\n  b: {{ uses: build-time }}\nobjectives:\n  - {{ id: t, metric: b.duration, pass: \"{pass}\" }}\n")
    };
    insta::assert_snapshot!(refused(&s, &policy("< 8")), @r"
    error: invalid policy `qod.yaml`
      at /objectives/0/pass (line 5 column 40)
      caused by: criterion `< 8` has no unit, and the metric is measured in `s`: it would read as 8 s; write the unit (`< 8s`, or `< 8ms` if ms were meant)
      hint: write `<op> <value>`: `< 300ms`, `>= 3`, `<= +10%`, `<= baseline * 1.5`, or `<= upper` with a threshold model
    ");
    insta::assert_snapshot!(refused(&s, &policy("<= +10")), @r"
    error: invalid policy `qod.yaml`
      at /objectives/0/pass (line 5 column 40)
      caused by: criterion `<= +10` has no unit, and the metric is measured in `s`: it would read as +10 s on the baseline; write the unit (`<= +10%` for a share of the baseline, or `<= +10s`)
      hint: write `<op> <value>`: `< 300ms`, `>= 3`, `<= +10%`, `<= baseline * 1.5`, or `<= upper` with a threshold model
    ");
}

#[test]
fn a_misspelt_unit_is_a_policy_error_even_where_the_metric_is_unknown() {
    let s = Scratch::new();
    // `bench-import`'s metrics are only known once it ran: the units are
    // checked by their spelling before.
    for (pass, unit, meant) in [
        ("< 8msec", "msec", "ms"),
        ("< 8mS", "mS", "ms"),
        ("<= 10%+", "%+", "%"),
    ] {
        let stderr = refused(
            &s,
            &format!("version: 1\nplugins:\n  b: {{ uses: bench-import, with: {{ path: b.json }} }}\nobjectives:\n  - {{ id: t, metric: \"b.*\", pass: \"{pass}\" }}\n"),
        );
        assert!(
            stderr.contains(&format!(
                "criterion `{pass}`: unknown unit `{unit}`; did you mean `{meant}`?"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_criterion_that_does_not_fit_what_a_plugin_reported_exits_2_not_1() {
    let s = Scratch::new();
    s.write("b.json", r#"[{"name": "parse", "unit": "ms", "value": 3}]"#);
    s.write(
        "qod.yaml",
        "version: 1\nplugins:\n  b: { uses: bench-import, with: { path: b.json, format: custom } }\nobjectives:\n  - { id: all, metric: \"b.*\", pass: \"< 8\" }\n",
    );
    assert_eq!(
        s.qod(&["validate"]).code,
        0,
        "the unit is not known before the run"
    );
    let r = s.qod(&["run", "--no-record"]);
    assert_eq!(r.code, 2, "a broken policy, not a regression: {}", r.stderr);
    let d = r.json();
    let o = &d["objectives"][0];
    assert_eq!(o["status"], "inconclusive", "{o:#}");
    assert!(
        o["policy_error"].as_str().unwrap().contains("has no unit"),
        "{o:#}"
    );
    assert!(
        d["summary"].as_str().unwrap().starts_with(
            "policy error: objective `all[parse]` cannot judge `b.parse`: criterion `< 8` has no unit"
        ),
        "{}",
        d["summary"]
    );
}

#[test]
fn a_store_made_of_a_bare_word_asks_whether_a_branch_was_meant() {
    let s = Scratch::new();
    s.write(
        "qod.yaml",
        &crate::common::emit_policy(
            &[("b", "duration", 1.0)],
            "  - { id: t, metric: b.duration, pass: \"< 5s\" }\n",
        ),
    );
    let r = s.qod(&["run", "--store", "qod-history"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("created a new history store"));
    insta::assert_snapshot!(line.unwrap_or(&r.stderr), @"qod: created a new history store at `qod-history` (`qod-history` is a folder in this checkout: did you mean `git:qod-history`, a branch of this repository that every clone shares?)");
    // In CI, where every run would start a new history, it is a warning
    // the CI shows as an annotation.
    let r = crate::common::finish(
        s.command(&["run", "--store", "other-history"])
            .env("GITHUB_ACTIONS", "true")
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("::warning") || r.stderr.contains("::warning"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("did you mean `git:other-history`"),
        "{}",
        r.stderr
    );
}
