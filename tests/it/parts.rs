//! Gates spread over several jobs: parts recorded by separate `qod run`
//! processes at once, composed by `qod combine` into the decision the whole
//! policy run at once makes; on the directory store and on S3 (moto).

use crate::common::{emit_policy, redact, Scratch};
use crate::s3::{create_bucket, scratch_for, Moto};
use serde_json::Value;

const OBJECTIVES: &str = r#"  - { id: a-time, metric: a.duration, pass: "<= baseline * 1.5" }
  - { id: b-size, metric: b.size, pass: "< 100B" }
  - { id: c-p95, metric: c.p95, pass: "<= +10%", on_no_baseline: pass }
  - { id: d-merged, metric: d.merged, pass: "== 0", key: true }
"#;

fn policy() -> String {
    emit_policy(
        &[
            ("a", "duration", 10.0),
            ("b", "size", 42.0),
            ("c", "p95", 30.0),
            ("d", "merged", 0.0),
        ],
        OBJECTIVES,
    )
}

/// The decision without what differs between a whole run and a combined
/// one: where each plugin ran, which parts there were, and the store's
/// requests (the whole run was not recorded).
fn comparable(mut d: Value) -> Value {
    d = redact(d);
    d["run"].as_object_mut().unwrap().remove("parts");
    d.as_object_mut().unwrap().remove("store");
    for p in d["plugins"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("part");
    }
    d
}

/// Two whole runs of history, then the four shards at once, then the
/// combine; returns the whole run's decision (not recorded) and the
/// combined one.
fn four_shards(s: &Scratch, store: &str) -> (Value, Value) {
    for _ in 0..2 {
        assert_eq!(s.qod(&["run", "--store", store]).code, 0);
    }
    let whole = s.qod(&["run", "--store", store, "--no-record"]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let shards = (1..=4).map(|k| {
        s.command(&[
            "run",
            "--store",
            store,
            "--group",
            "build-7",
            "--shard",
            &format!("{k}/4"),
        ])
    });
    for r in crate::common::at_once(shards) {
        assert_eq!(r.code, 0, "{}", r.stderr);
        let part = r.json();
        assert_eq!(part["run"]["part"]["group"], "build-7");
        assert_eq!(part["plugins"].as_array().unwrap().len(), 1);
        crate::common::assert_valid("decision.schema.json", &part);
    }
    let combined = s.qod(&["combine", "--store", store, "--group", "build-7"]);
    assert_eq!(combined.code, 0, "{}", combined.stderr);
    (whole.json(), combined.json())
}

fn check_combined(s: &Scratch, store: &str, whole: &Value, combined: &Value) {
    crate::common::assert_valid("decision.schema.json", combined);
    assert_eq!(comparable(whole.clone()), comparable(combined.clone()));
    let parts = combined["run"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    // Every plugin names the shard that ran it; the stable assignment deals
    // the instances, in the order of their names, out in turn.
    let by: Vec<(&str, &str)> = combined["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["instance"].as_str().unwrap(), p["part"].as_str().unwrap()))
        .collect();
    assert_eq!(
        by,
        [
            ("a", "shard-1-of-4"),
            ("b", "shard-2-of-4"),
            ("c", "shard-3-of-4"),
            ("d", "shard-4-of-4")
        ]
    );
    // The combined run is in the history; the parts are not runs.
    let h = s.qod(&["history", "--store", store, "--format", "json"]);
    let runs: Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 3, "{}", h.stdout);
    assert_eq!(runs[0]["run_id"], combined["run"]["id"]);
}

#[test]
fn four_shards_recorded_at_once_combine_into_the_decision_of_the_whole_policy() {
    let s = Scratch::new();
    s.policy(&policy());
    let (whole, combined) = four_shards(&s, "store");
    check_combined(&s, "store", &whole, &combined);
    let mut snap = redact(combined);
    for p in snap["run"]["parts"].as_array_mut().unwrap() {
        for k in ["run_id", "started_at", "finished_at"] {
            p[k] = Value::String(format!("[{k}]"));
        }
    }
    insta::assert_json_snapshot!("combined_decision", snap);
    // Combining the same parts again decides again but records nothing.
    let again = s.qod(&["combine", "--store", "store", "--group", "build-7"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stderr.contains("were combined and recorded before"),
        "{}",
        again.stderr
    );
    assert_eq!(again.json()["store"]["recorded"], false);
    // Pruning keeps the parts of the runs it keeps, and takes the others.
    let r = s.qod(&["store", "prune", "--store", "store", "--keep", "1"]);
    assert!(r.stderr.contains("removed 2 runs, kept 1"), "{}", r.stderr);
    // Parts younger than a day are work in flight: kept whatever `--keep`
    // says; an older one goes.
    let part_dir = s.path().join("store/groups/build-7");
    let mut parts = Vec::new();
    for e in std::fs::read_dir(&part_dir).unwrap().flatten() {
        for f in std::fs::read_dir(e.path()).unwrap().flatten() {
            parts.push(f.path());
        }
    }
    assert_eq!(parts.len(), 5, "{parts:?}");
    // A part of 2020 (its id's time), beside the others.
    let old = parts[0].with_file_name("01700000-0000-7000-8000-000000000000.json");
    std::fs::copy(&parts[0], &old).unwrap();
    let r = s.qod(&["store", "prune", "--store", "store", "--keep-days", "0"]);
    assert!(
        r.stderr
            .contains("removed 1 run and 1 older gate file (parts and suspended gates)"),
        "{}",
        r.stderr
    );
    assert!(!old.exists());
    assert!(parts.iter().all(|p| p.exists()), "{parts:?}");
}

#[test]
fn four_shards_combine_through_s3() {
    let moto = Moto::start();
    create_bucket(&moto.endpoint(), "fan");
    let s = scratch_for(&moto.endpoint());
    s.policy(&policy());
    let (whole, combined) = four_shards(&s, "s3://fan/gate");
    check_combined(&s, "s3://fan/gate", &whole, &combined);
}

const NAMED: &str = "parts:\n  fast: [a, b]\n  slow: [c, d]\n";

#[test]
fn a_missing_part_is_no_data_naming_it_and_a_part_run_twice_takes_the_newest() {
    let s = Scratch::new();
    s.policy(&format!("{}{NAMED}", policy()));
    for _ in 0..2 {
        let r = s.qod(&["run", "--store", "st", "--group", "g", "--part", "fast"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("recorded as a part"), "{}", r.stderr);
    }
    let r = s.qod(&["combine", "--store", "st", "--group", "g"]);
    // `d-merged` is a key objective: no data fails it (on_no_data: fail).
    assert_eq!(r.code, 1, "{}", r.stderr);
    let d = r.json();
    let c = &d["plugins"][2];
    assert_eq!(c["status"], "missing");
    assert!(
        c["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("part `slow` of group `g` was not recorded"),
        "{c}"
    );
    let o = &d["objectives"][3];
    assert_eq!(o["status"], "no_data");
    assert!(o["reason"].as_str().unwrap().contains("part `slow`"), "{o}");
    let parts = d["run"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["superseded"].as_array().unwrap().len(), 1);
    assert!(
        r.stderr
            .contains("part `fast` was recorded 2 times; the newest"),
        "{}",
        r.stderr
    );
    assert!(r
        .stderr
        .contains("part `slow` of group `g` was not recorded"));

    // `--wait`: the slow part arrives while combine waits for it.
    let mut late = s.command(&["run", "--store", "st", "--group", "h", "--part", "slow"]);
    late.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let fast = s.qod(&["run", "--store", "st", "--group", "h", "--part", "fast"]);
    assert_eq!(fast.code, 0);
    let waiter = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        late.status().unwrap()
    });
    let r = s.qod(&[
        "combine",
        "--store",
        "st",
        "--group",
        "h",
        "--wait",
        "30s",
        "--progress",
    ]);
    assert!(waiter.join().unwrap().success());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("waiting for the parts of group `h`: 2 of 4 instances recorded"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["run"]["parts"].as_array().unwrap().len(), 2);
}

#[test]
fn parts_are_refused_with_the_fix() {
    let s = Scratch::new();
    s.policy(&format!("{}{NAMED}", policy()));
    let r = s.qod(&["run", "--group", "g", "--part", "fsat"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("part `fsat` is not in the policy's `parts:`; did you mean `fast`? the parts are: `fast`, `slow`"),
        "{}",
        r.stderr
    );
    let r = s.qod(&["run", "--group", "g", "--only", "a,x"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`--only` names instance `x`"),
        "{}",
        r.stderr
    );
    // No CI to group by, and no `--group`.
    let r = s.qod(&["run", "--shard", "1/2"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("give the same `--group ID`"),
        "{}",
        r.stderr
    );
    let r = s.qod(&["run", "--group", "g", "--shard", "3/2"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    let r = s.qod(&["run", "--group", "g"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    let r = s.qod(&["combine", "--group", "nothing-here"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no part of group `nothing-here` is recorded"),
        "{}",
        r.stderr
    );
    // A policy whose parts leave an instance out, or name one twice.
    s.policy(&format!(
        "{}parts:\n  one: [a, b, c]\n  two: [c]\n",
        policy()
    ));
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("instance `c` is in part `one` and in part `two`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("instance `d` is in no part"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_group_defaults_to_the_ci_run() {
    let s = Scratch::new()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "4242");
    s.policy(&policy());
    let r = s.qod(&["run", "--store", "st", "--only", "a,b", "--part", "first"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["run"]["part"]["group"], "github-4242");
    let r = s.qod(&["run", "--store", "st", "--only", "c,d"]);
    assert_eq!(r.json()["run"]["part"]["name"], "c.d");
    let r = s.qod(&["combine", "--store", "st"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = r.json();
    let names: Vec<&str> = d["run"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "c.d"]);
}

#[test]
fn four_shards_combine_through_a_git_branch() {
    let top = tempfile::tempdir().unwrap();
    let bare = top.path().join("history.git");
    crate::common::git(
        top.path(),
        &["init", "-q", "--bare", &bare.to_string_lossy()],
    );
    let store = format!("git+file://{}#qod-history", bare.display());
    let s = Scratch::new();
    s.policy(&policy());
    let (whole, combined) = four_shards(&s, &store);
    check_combined(&s, &store, &whole, &combined);
}

#[test]
fn dot_names_never_leave_the_store() {
    let s = Scratch::new();
    // A part named `..` would be a folder above the group's.
    s.policy(&format!(
        "{}parts:\n  \"..\": [a, b]\n  rest: [c, d]\n",
        policy()
    ));
    let r = s.qod(&["validate"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("part name `..`"), "{}", r.stderr);
    // A group named `..` is kept under `groups/`, as `___`.
    s.policy(&format!("{}{NAMED}", policy()));
    let store = s.path().join("store");
    let r = s.qod(&[
        "run",
        "--store",
        &store.display().to_string(),
        "--group",
        "..",
        "--part",
        "fast",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = crate::common::files_under(s.path());
    let parts: Vec<_> = files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "groups"))
        .collect();
    assert_eq!(parts.len(), 1, "{files:?}");
    assert!(
        parts[0].starts_with(store.join("groups").join("___")),
        "{parts:?}"
    );
    // And `combine` finds it by the same name.
    let r = s.qod(&[
        "combine",
        "--store",
        &store.display().to_string(),
        "--group",
        "..",
    ]);
    assert_ne!(r.code, 2, "{}", r.stderr);
}

#[test]
fn combine_judges_by_its_own_policy_not_the_parts() {
    let s = Scratch::new();
    // The parts run under a looser limit for `b-size` than combine's policy.
    let loose = format!("{}{NAMED}", policy()).replace("pass: \"< 100B\"", "pass: \"< 1000B\"");
    s.policy(&loose);
    for part in ["fast", "slow"] {
        let r = s.qod(&["run", "--store", "store", "--group", "g1", "--part", part]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    s.policy(&format!("{}{NAMED}", policy()).replace("pass: \"< 100B\"", "pass: \"< 10B\""));
    let r = s.qod(&["combine", "--store", "store", "--group", "g1"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let b = d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "b-size")
        .unwrap();
    assert_eq!(b["status"], "no_data", "{b:#}");
    assert!(
        b["reason"]
            .as_str()
            .unwrap()
            .contains("under another policy (`< 1000B` where this policy says `< 10B`)"),
        "{b:#}"
    );

    // A part whose record says pass for a value the criterion fails.
    s.policy(&format!("{}{NAMED}", policy()));
    for part in ["fast", "slow"] {
        let r = s.qod(&["run", "--store", "store", "--group", "g2", "--part", part]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let dir = s.path().join("store/groups/g2/fast");
    let file = crate::common::first_file(&dir);
    let mut rec: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for p in rec["plugins"].as_array_mut().unwrap() {
        if p["instance"] == "b" {
            p["metrics"][0]["value"] = 500.into();
        }
    }
    std::fs::write(&file, rec.to_string()).unwrap();
    let r = s.qod(&["combine", "--store", "store", "--group", "g2"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let d = r.json();
    let b = d["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "b-size")
        .unwrap();
    assert_eq!(
        (b["status"].as_str(), b["value"].as_f64()),
        (Some("fail"), Some(500.0)),
        "{b:#}"
    );
}

#[test]
fn a_damaged_part_counts_as_not_recorded_and_the_rest_combine() {
    let s = Scratch::new();
    s.policy(&format!("{}{NAMED}", policy()));
    for part in ["fast", "slow"] {
        let r = s.qod(&["run", "--store", "store", "--group", "g", "--part", part]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let dir = s.path().join("store/groups/g/slow");
    let file = crate::common::first_file(&dir);
    std::fs::write(&file, "{ damaged").unwrap();
    let r = s.qod(&["combine", "--store", "store", "--group", "g"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("the part counts as not recorded: run it again"),
        "{}",
        r.stderr
    );
    let d = r.json();
    let status = |id: &str| {
        d["objectives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        status("b-size"),
        "pass",
        "the fast part's objectives are judged"
    );
    assert_eq!(status("d-merged"), "no_data", "the slow part's are not");
}

/// A plugin whose value on each side of each pair is fixed by the pair's
/// number (a +12% candidate with ±1% of scatter), so that pairs measured
/// in any job, on any machine, are the same pairs.
const PAIRED_PLUGIN: &str = r#"import json, sys
ctx = json.load(sys.stdin)
pair, side = ctx["pair"], ctx["variant"]
scatter = ((pair * 7919 + (1 if side == "candidate" else 0) * 104729) % 13 - 6) / 600
level = 112.0 if side == "candidate" else 100.0
print(json.dumps({"protocol": 1, "status": "ok", "metrics": [{"name": "value", "value": level * (1 + scatter), "unit": "ms"}]}))
"#;

#[test]
fn pairs_shared_out_over_two_jobs_pool_into_the_decision_of_one_job() {
    let s = Scratch::new();
    std::fs::create_dir(s.path().join("base")).unwrap();
    crate::common::python_plugin(
        &s,
        "paired",
        r#"[{"name": "value", "unit": "ms", "better": "lower"}]"#,
        PAIRED_PLUGIN,
    );
    s.policy(
        "version: 1\nplugins:\n  p: { uses: paired }\ncompare:\n  base: { workspace: base }\n  pairs: { min: 4, max: 12, batch: 4 }\nobjectives:\n  - { id: speed, metric: p.value, pass: \"<= +5%\", against: base }\n",
    );
    let one = s.qod(&["run", "--no-record", "--store", "store"]);
    assert_eq!(one.code, 1, "{}", one.stderr);
    let one = one.json();
    // Two jobs on two runners, each with half of the pairs, at once.
    let jobs = (1..=2).map(|k| {
        let mut c = s.command(&[
            "run",
            "--store",
            "store",
            "--group",
            "pr-9",
            "--pairs",
            &format!("{k}/2"),
        ]);
        c.env("QOD_RUNNER", format!("runner-{k}"));
        c
    });
    for r in crate::common::at_once(jobs) {
        assert_eq!(r.code, 0, "a share exits 0 once recorded: {}", r.stderr);
        let share = &r.json()["objectives"][0]["comparison"]["share"];
        assert_eq!(share["pairs"].as_array().unwrap().len(), 6, "{share}");
    }
    let r = s.qod(&["combine", "--store", "store", "--group", "pr-9"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let combined = r.json();
    let (a, b) = (&one["objectives"][0], &combined["objectives"][0]);
    assert_eq!(a["status"], "fail");
    assert_eq!(b["status"], a["status"], "{b:#}");
    for field in [
        "pairs",
        "change_pct",
        "ci_low_pct",
        "ci_high_pct",
        "p_worse",
        "stopped_early",
        "boundary_p",
    ] {
        assert_eq!(
            b["comparison"][field], a["comparison"][field],
            "{field}: {b:#}\n{a:#}"
        );
    }
    assert_eq!(b["comparison"]["pooled"]["jobs"], 2);
    assert_eq!(b["comparison"]["pooled"]["runners"], 2);
    assert!(b["comparison"]["share"].is_null());
    assert!(
        r.stderr
            .contains("the pairs of `speed` were pooled from 2 jobs on 2 runners"),
        "{}",
        r.stderr
    );
    crate::common::assert_valid("decision.schema.json", &combined);
    // A share that never comes: combine waits for it, then pools what came
    // and says what is missing.
    let r = s.qod(&[
        "run", "--store", "store", "--group", "pr-10", "--pairs", "1/2",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.qod(&[
        "combine",
        "--store",
        "store",
        "--group",
        "pr-10",
        "--wait",
        "1s",
        "--progress",
    ]);
    assert!(
        r.stderr
            .contains("waiting for the parts of group `pr-10`: 1 of 2 pair shares recorded"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("group `pr-10` is missing pair share 2 of 2"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["objectives"][0]["comparison"]["pooled"]["jobs"], 1);
    // A policy without a comparison has no pairs to share out.
    s.policy(&policy());
    let r = s.qod(&["run", "--store", "store", "--group", "g", "--pairs", "1/2"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`--pairs K/N` shares out the pairs"),
        "{}",
        r.stderr
    );
}
