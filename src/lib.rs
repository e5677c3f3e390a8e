//! qod: a Quality-of-Deployment gate for CI/CD pipelines.
//!
//! The data flow, one module each: [`policy`] → [`plan`] (checked before
//! anything runs, with [`plugin`] discovery and manifests) → [`runner`]
//! (plugins as subprocesses over the [`protocol`]) → [`evaluate`] (pure) →
//! [`decision`] → [`store`]. [`gate`] ties them together; [`cli`] is thin.

pub mod aws;
pub mod backtest;
pub mod builtin;
pub mod changepoint;
pub mod ci;
pub mod cli;
pub mod decision;
pub mod diag;
pub mod duration;
pub mod evaluate;
pub mod gate;
pub mod history;
pub mod ids;
pub mod locate;
pub mod plan;
pub mod plugin;
pub mod policy;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod schema;
pub mod stats;
pub mod store;
pub mod threshold;
pub mod time;
pub mod units;
