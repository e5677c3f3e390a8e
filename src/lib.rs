//! qod: a Quality-of-Deployment gate for CI/CD pipelines.
//!
//! The data flow, one module each (docs/architecture.md has the layers):
//! [`policy`] → [`plan`] (checked before anything runs, with [`plugin`]
//! discovery and manifests, [`validate`]d against the schemas) → [`runner`]
//! (plugins as subprocesses over the [`protocol`]) → [`evaluate`] (pure) →
//! [`decision`] → [`store`] and [`outputs`]. [`gate`] sequences the steps;
//! [`commands`] and [`cli`] are on top.

pub mod aws;
pub mod backtest;
pub mod builtin;
pub mod changepoint;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod decision;
pub mod diag;
pub mod duration;
pub mod evaluate;
pub mod exit;
pub mod gate;
pub mod ids;
pub mod locate;
pub mod outputs;
pub mod plan;
pub mod plugin;
pub mod policy;
pub mod protocol;
pub mod record;
pub mod report;
pub mod runner;
pub mod secrets;
pub mod stats;
pub mod store;
pub mod threshold;
pub mod time;
pub mod units;
pub mod validate;
