//! The JavaScript face. Only this module (and the fetch transport in it) touches JavaScript.

// Two wasm modules come from this crate (scripts/build.sh): the parse module (`--features
// parse-api`: CSV, JSON Lines, gzip, the CSV writer) that a page which only parses loads, and the
// client module (`--features client`: the four vendor clients) loaded when a client is made. The
// default build has both, for the Rust tests. What both need is built into each.
#![cfg_attr(
    not(all(feature = "client", feature = "parse-api")),
    allow(dead_code, unused_imports)
)]

mod batch;
mod errors;
mod js;
mod options;
mod props;
mod results;
mod staging;

#[cfg(feature = "parse-api")]
mod csv;
#[cfg(feature = "parse-api")]
mod gunzip;
#[cfg(feature = "parse-api")]
mod gzip;
#[cfg(feature = "parse-api")]
mod jsonl;

#[cfg(feature = "client")]
mod activities;
#[cfg(feature = "client")]
mod backstory;
#[cfg(feature = "client")]
mod checkpoints;
/// The parse classes reach the property helpers through `backstory` (their home before the split).
#[cfg(not(feature = "client"))]
mod backstory {
    pub(crate) use super::props::{get, raw_cells, set};
}
#[cfg(feature = "client")]
mod edge;
#[cfg(feature = "client")]
mod fetch;
#[cfg(feature = "client")]
mod forecasting;
#[cfg(feature = "client")]
mod userpilot;
#[cfg(feature = "client")]
mod vocabulary;

#[cfg(feature = "client")]
pub use backstory::BackstoryCore;
#[cfg(feature = "parse-api")]
pub use csv::CsvStreamParser;
#[cfg(feature = "parse-api")]
pub use gzip::GunzipStream;
#[cfg(feature = "parse-api")]
pub use jsonl::{JsonlCsvWriter, JsonlStreamParser};
#[cfg(feature = "client")]
pub use userpilot::UserpilotCore;

#[cfg(feature = "client")]
mod client_fns {
    use super::{errors, results};
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
}
