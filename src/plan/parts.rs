//! The policy's `parts:`: what the plan checks of them. Every instance is
//! in exactly one part, so that the parts together run the whole policy.

use crate::policy::Policy;
use std::collections::BTreeMap;

/// The problems of `parts:`, each as the JSON pointer, the problem and the fix.
pub(super) fn check(p: &Policy) -> Vec<(String, String, String)> {
    let mut problems = Vec::new();
    if p.parts.is_empty() {
        return problems;
    }
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, instances) in &p.parts {
        if !crate::ids::is_key_name(name) {
            problems.push((
                format!("/parts/{name}"),
                format!("part name `{name}` has characters other than letters, digits, `.`, `_` and `-`"),
                "rename the part: its name becomes part of a store key".into(),
            ));
        }
        for (j, id) in instances.iter().enumerate() {
            let at = format!("/parts/{name}/{j}");
            if !p.plugins.contains_key(id) {
                problems.push((
                    at,
                    format!("part `{name}` names instance `{id}`, which is not under `plugins:`"),
                    format!(
                        "the instances are: {}",
                        p.plugins
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            } else if let Some(first) = owner.insert(id.as_str(), name.as_str()) {
                problems.push((
                    at,
                    format!("instance `{id}` is in part `{first}` and in part `{name}`"),
                    "each instance runs in one part: remove it from one of them".into(),
                ));
            }
        }
    }
    for id in p.plugins.keys() {
        if !owner.contains_key(id.as_str()) {
            problems.push((
                "/parts".into(),
                format!("instance `{id}` is in no part, so no part would run it and `qod combine` would never have its metrics"),
                format!("add `{id}` to one of the parts, or to a part of its own"),
            ));
        }
    }
    problems
}
