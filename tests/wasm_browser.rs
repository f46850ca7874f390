//! The wasm build in headless Chromium against the sandbox
//! (`scripts/wasm-browser.sh`, which `npm test` runs; see scripts/wasm-browser-test.mjs for why not
//! `wasm-pack test --headless --chrome`).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "wasm/activities.rs"]
mod activities;
#[path = "wasm/common.rs"]
mod common;
#[path = "wasm/forecasting.rs"]
mod forecasting;
#[path = "wasm/userpilot.rs"]
mod userpilot;
