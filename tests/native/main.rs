//! Native integration tests: the real driver and core over a scripted transport.

mod query_driver;
mod script;
