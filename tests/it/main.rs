//! Integration tests: the real `qod` binary, real subprocess plugins, real
//! files. One test binary, so it links once.

mod architecture;
mod base;
mod ci;
mod codepipeline;
mod comment;
mod common;
mod compare;
mod docs;
mod examples;
mod examples_ci;
mod examples_copied;
mod first_party;
mod gate;
mod git_store;
mod hardening;
mod harnesses;
mod history_runs;
mod hostile;
mod init;
mod install;
mod instructions;
mod interface;
mod messages;
mod parts;
mod patterns;
mod pending;
mod quality;
mod reports;
mod runners;
mod s3;
mod schemas;
mod store;
mod trend;
mod validate;
mod visual;
