//! The environment a plugin gets: a minimal base, the `QOD_*` variables, and
//! only what its manifest or the policy names. Credentials such as `AWS_*`
//! or `GITHUB_TOKEN` never reach a plugin unless named.

use crate::secrets::{matches, BASE};
use std::collections::BTreeMap;

/// The variables a plugin gets from `parent`: the base set, `LC_*`, `QOD_*`,
/// and those named in `pass`.
pub fn plugin_env(parent: &BTreeMap<String, String>, pass: &[String]) -> BTreeMap<String, String> {
    parent
        .iter()
        .filter(|(k, _)| {
            BASE.contains(&k.as_str())
                || k.starts_with("LC_")
                || k.starts_with("QOD_")
                || pass.iter().any(|p| matches(p, k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credentials_pass_only_when_named() {
        let parent = env(&[
            ("PATH", "/bin"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
            ("AWS_REGION", "eu-west-1"),
            ("GITHUB_TOKEN", "ghp_abcdef"),
            ("QOD_X", "1"),
            ("LC_ALL", "C"),
        ]);
        let e = plugin_env(&parent, &[]);
        assert_eq!(e.keys().collect::<Vec<_>>(), ["LC_ALL", "PATH", "QOD_X"]);
        let e = plugin_env(&parent, &["AWS_*".into()]);
        assert!(e.contains_key("AWS_SECRET_ACCESS_KEY") && e.contains_key("AWS_REGION"));
        assert!(!e.contains_key("GITHUB_TOKEN"));
    }
}
