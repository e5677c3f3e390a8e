//! The environment a plugin gets: a minimal base, the `QOD_*` variables, and
//! only what its manifest or the policy names. Credentials such as `AWS_*`
//! or `GITHUB_TOKEN` never reach a plugin unless named.

pub use crate::secrets::plugin_env;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
