//! The wasm build in Node against the sandbox (`wasm-pack test --node -- --test wasm_node`).
#![cfg(target_arch = "wasm32")]

#[path = "wasm/activities.rs"]
mod activities;
#[path = "wasm/common.rs"]
mod common;
#[path = "wasm/forecasting.rs"]
mod forecasting;
#[path = "wasm/userpilot.rs"]
mod userpilot;
