//! The JavaScript face. Only this module (and the fetch transport in it) touches JavaScript.

mod activities;
mod backstory;
mod batch;
mod csv;
mod edge;
mod errors;
mod fetch;
mod forecasting;
mod gunzip;
mod js;
mod jsonl;
mod options;
mod results;
mod staging;
mod userpilot;
mod vocabulary;

pub use backstory::BackstoryCore;
pub use csv::CsvStreamParser;
pub use jsonl::{JsonlCsvWriter, JsonlStreamParser};
pub use userpilot::{GunzipStream, UserpilotCore};

use crate::providers::backstory::{catalog, query};
use js_sys::Array;
use wasm_bindgen::prelude::*;

/// `variation("ootb_user_count_emails_sent", "last_30_days")`.
#[wasm_bindgen]
pub fn variation(slug: &str, period: &str) -> Result<String, JsValue> {
    query::variation(slug, period).map_err(errors::to_js)
}

#[wasm_bindgen(js_name = queryPeriods)]
pub fn query_periods() -> Array {
    query::PERIODS
        .iter()
        .map(|p| JsValue::from_str(p))
        .collect()
}

#[wasm_bindgen(js_name = queryObjects)]
pub fn query_objects() -> Array {
    query::OBJECTS
        .iter()
        .map(|p| JsValue::from_str(p))
        .collect()
}

#[wasm_bindgen(js_name = knownSlugs)]
pub fn known_slugs(object: &str) -> JsValue {
    let slugs: Vec<results::KnownSlug> = catalog::for_object(object)
        .map(|(_, slug, label, periods)| results::KnownSlug {
            slug,
            label,
            time_based: !periods.is_empty(),
            periods: periods.to_vec(),
        })
        .collect();
    results::to_js(&slugs)
}
