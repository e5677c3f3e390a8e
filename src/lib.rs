//! qod: a Quality-of-Deployment gate for CI/CD pipelines.
//!
//! The data flow, one module each (docs/architecture.md has the layers):
//! [`policy`] → [`plan`] (checked before anything runs, with [`plugin`]
//! discovery and manifests, [`validate`]d against the schemas) → [`runner`]
//! (plugins as subprocesses over the [`protocol`]) → [`evaluate`] (pure) →
//! [`decision`] → [`store`] and [`outputs`]. [`gate`] sequences the steps;
//! [`commands`] and [`cli`] are on top.

pub(crate) mod aws;
pub(crate) mod backtest;
pub mod bisect;
pub(crate) mod builtin;
pub(crate) mod calibrate;
pub(crate) mod changepoint;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod decision;
pub(crate) mod diag;
pub(crate) mod duration;
pub(crate) mod evaluate;
pub mod events;
pub(crate) mod exit;
pub mod gate;
pub(crate) mod git;
pub(crate) mod ids;
pub(crate) mod locate;
pub mod machine;
pub(crate) mod outputs;
pub mod parts;
pub mod plan;
pub(crate) mod plugin;
pub mod policy;
pub mod protocol;
pub mod record;
pub(crate) mod report;
pub(crate) mod runner;
pub(crate) mod secrets;
pub mod stats;
pub mod store;
pub(crate) mod supervise;
pub mod threshold;
pub mod time;
pub(crate) mod units;
pub mod validate;

#[cfg(test)]
mod fuzz;
