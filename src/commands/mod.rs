//! The subcommands that read the store or print schemas: each takes its
//! arguments and returns a result; the CLI prints errors once.

pub mod history;
pub mod schema;

pub use history::CommandError;
