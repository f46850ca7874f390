//! Userpilot (appex.userpilot.io).

pub mod exports;
pub mod lookups;
