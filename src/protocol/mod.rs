//! The plugin protocol, version 1: the manifest a plugin ships, the context
//! qod writes to its stdin, and the result it prints on stdout. These types
//! are contracts: their JSON Schemas live in `schema/`.

mod context;
mod manifest;
mod result;

pub use context::*;
pub use manifest::*;
pub use result::*;

/// The protocol version this build of qod speaks.
pub const PROTOCOL_VERSION: u32 = 1;
