//! Secrets: which values of qod's environment must never be printed or
//! stored (every variable passed to a plugin by name, and every variable
//! whose name marks it as a credential), and the [`Redactor`] that hides
//! them. Which variables reach a plugin at all is the runner's business
//! (`runner::env`); both read the same pass-through rules from here.

use std::collections::BTreeMap;

/// Always passed when set: what programs need to run at all.
pub(crate) const BASE: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "CI",
];

/// Whether `name` matches an entry of a pass-through list (`NAME` or `PREFIX*`).
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Names that hold credentials whatever a policy says.
fn looks_secret(name: &str) -> bool {
    const MARKERS: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
        "AUTH",
    ];
    let upper = name.to_ascii_uppercase();
    MARKERS.iter().any(|m| upper.contains(m))
}

/// Values to redact from everything qod prints: every variable passed to a
/// plugin by name, and every variable of qod's own whose name marks it as a
/// credential. Short values are left alone; redacting `1` everywhere would
/// destroy the output without protecting anything.
pub fn secret_values(parent: &BTreeMap<String, String>, passed: &[String]) -> Vec<String> {
    let mut out: Vec<String> = parent
        .iter()
        .filter(|(k, _)| {
            looks_secret(k)
                || (passed.iter().any(|p| matches(p, k))
                    && !BASE.contains(&k.as_str())
                    && !k.starts_with("LC_")
                    && !k.starts_with("QOD_"))
        })
        .map(|(_, v)| v.clone())
        .filter(|v| v.len() >= 6)
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    out.dedup();
    out
}

/// Replaces secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

pub const REDACTED: &str = "[redacted]";

impl Redactor {
    pub fn new(secrets: Vec<String>) -> Self {
        Redactor { secrets }
    }

    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// Every string in `v` (keys too), redacted: for whole documents at
    /// the boundary where they leave qod.
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        use serde_json::Value;
        if self.secrets.is_empty() {
            return;
        }
        match v {
            Value::String(s) if self.secrets.iter().any(|x| s.contains(x.as_str())) => {
                *s = self.redact(s);
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            Value::Object(o) => {
                let taken = std::mem::take(o);
                for (k, mut x) in taken {
                    self.redact_json(&mut x);
                    o.insert(self.redact(&k), x);
                }
            }
            _ => {}
        }
    }

    /// `doc` with every string in it redacted; `doc` itself when it does
    /// not round-trip through JSON (it always does for qod's documents).
    pub fn redact_doc<T: serde::Serialize + serde::de::DeserializeOwned>(&self, doc: T) -> T {
        if self.secrets.is_empty() {
            return doc;
        }
        let Ok(mut v) = serde_json::to_value(&doc) else {
            return doc;
        };
        self.redact_json(&mut v);
        serde_json::from_value(v).unwrap_or(doc)
    }
}

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

/// Keeps qod's own environment (which holds the credentials plugins are
/// not given) from plugins running as the same user: on Linux, marks qod
/// not dumpable, so that `/proc/<qod>/environ` and `/proc/<qod>/mem` are
/// no longer readable by them. A plugin running as root can still read
/// them; nothing else is changed (plugins are dumpable again once they
/// exec).
pub fn protect_environment() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_DUMPABLE takes one integer argument and
    // changes only this process's attributes.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
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
    fn secrets_are_redacted() {
        let parent = env(&[
            ("GITHUB_TOKEN", "ghp_abcdef"),
            ("API_URL", "https://x.example"),
            ("PATH", "/usr/bin"),
        ]);
        let r = Redactor::new(secret_values(&parent, &["API_URL".into()]));
        assert_eq!(
            r.redact("token ghp_abcdef at https://x.example/"),
            "token [redacted] at [redacted]/"
        );
        assert_eq!(r.redact("/usr/bin"), "/usr/bin");
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
