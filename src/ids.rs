//! Newtypes for the identifiers that appear in contracts, so an instance id
//! can never be passed where a metric name is expected.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

id_type!(
    /// The name of a plugin instance in the policy (the key under `plugins:`).
    InstanceId
);
id_type!(
    /// The name of a metric as its plugin reports it (`p95`, `duration`).
    MetricName
);
id_type!(
    /// The id of one gate run; time-ordered (UUIDv7), so ids sort by start time.
    RunId
);

impl RunId {
    /// A fresh, time-ordered run id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

/// Whether `s` may name a part of a gate (and so a store key's segment):
/// letters, digits, `.`, `_` and `-`.
pub fn is_key_name(s: &str) -> bool {
    // `.` and `..` are made of allowed characters but name no folder of
    // their own: as a path component they climb out of the store.
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
