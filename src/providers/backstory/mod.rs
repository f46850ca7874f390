//! Backstory (formerly People.ai) APIs.

pub mod activities;
pub mod catalog;
pub mod forecasting;
pub mod query;
