//! `gunzip(bytes)` in one call: the whole file in, the whole output back (see
//! `exportkit_parse::parse::gzip::gunzip`). wasm-bindgen's glue for a `&[u8]` argument and a
//! `Vec<u8>` result is already the fewest copies possible: one into wasm memory, one out.

use super::errors::parse_to_js;
use crate::parse::gzip;
use wasm_bindgen::prelude::*;

/// The raw half of js/gzip.js's `gunzip`: `max_output` is checked there.
#[wasm_bindgen(js_name = gunzipBytes)]
pub fn gunzip_bytes(input: &[u8], max_output: u32) -> Result<Vec<u8>, JsValue> {
    gzip::gunzip(input, max_output as usize).map_err(parse_to_js)
}
