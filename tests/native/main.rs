//! Native integration tests: the real driver and core over a scripted transport.

mod activities_driver;
mod forecasting_driver;
mod query_driver;
// proptest is a native-only dev-dependency; wasm-pack test builds this target for wasm32 too.
#[cfg(not(target_arch = "wasm32"))]
mod fuzz;
mod script;
mod userpilot_driver;
