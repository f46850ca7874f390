//! Sans-IO building blocks: no clock, no fetch, no JavaScript. Time comes in as `now_ms`.

pub mod auth;
pub mod dedupe;
pub mod download;
pub mod http;
pub mod policy;
pub mod poll;
pub mod quota;
pub mod retry;
pub mod step;
pub mod time;

pub use step::Step;
