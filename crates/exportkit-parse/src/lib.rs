//! exportkit's parsers and its error type: CSV, JSON Lines, gzip, the JSON Lines to CSV
//! flattener and the CSV writer. Pure push parsers (no I/O, no clock), so they are tested
//! natively and compiled for speed while the rest of exportkit is compiled for size (the release
//! profile in the workspace's Cargo.toml). The `exportkit` crate re-exports both modules.

pub mod error;
pub mod parse;

pub use error::{Error, ErrorKind, Result};
