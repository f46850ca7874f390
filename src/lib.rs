//! exportkit: a client for bulk data exports from go-to-market SaaS APIs, built to run as
//! WebAssembly in browsers, Node and edge workers.
//!
//! Layers, from the inside out: `core` (sans-IO state machines, time passed in), `providers` (one
//! module per vendor API: endpoints, models, validation), `parse` (push parsers), then `driver`
//! (the only loop, over a [`transport::Transport`]) and `wasm` (the JavaScript face).

pub mod core;
pub mod driver;
pub mod providers;

pub mod error;
/// The parsers live in the `exportkit-parse` crate (compiled for speed); their errors convert
/// into [`Error`].
pub use exportkit_parse::parse;
pub mod transport;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, ErrorKind, Result};
