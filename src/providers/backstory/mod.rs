//! Backstory (formerly People.ai) APIs.

pub mod catalog;
pub mod query;
