//! `GunzipStream`: exportkit's own gzip decoder as a JavaScript class (js/gzip.js). Part of the
//! parse module; the Userpilot client inflates through `DecompressionStream` where the runtime has
//! it.

use super::errors::parse_to_js;
use super::staging::{span, Staging};
use crate::parse::gzip::GzipDecoder;
use wasm_bindgen::prelude::*;

/// The Rust gzip decoder for JavaScript (runtimes without `DecompressionStream`, or to compare):
/// the wasm half of js/userpilot.js's `GunzipStream` (one call per chunk: see `staging`).
#[wasm_bindgen]
pub struct GunzipStream {
    inner: GzipDecoder,
    staging: Staging,
    /// The bytes of the last call, which the descriptor points at.
    out: Vec<u8>,
}

impl Default for GunzipStream {
    fn default() -> Self {
        GunzipStream::new()
    }
}

#[wasm_bindgen]
impl GunzipStream {
    #[wasm_bindgen(constructor)]
    pub fn new() -> GunzipStream {
        GunzipStream {
            inner: GzipDecoder::new(),
            staging: Staging::default(),
            out: Vec::new(),
        }
    }

    /// Room for `len` bytes of input in wasm memory: JavaScript copies a chunk there.
    #[wasm_bindgen(js_name = inputBuffer)]
    pub fn input_buffer(&mut self, len: usize) -> *mut u8 {
        self.staging.buffer(len)
    }

    /// Decompresses the `len` bytes just written to the input buffer; returns the address of a
    /// descriptor (address, length) of the bytes it produced.
    #[wasm_bindgen(js_name = pushInput)]
    pub fn push_input(&mut self, len: usize) -> std::result::Result<u32, JsValue> {
        self.out.clear();
        self.inner
            .push(self.staging.input(len), &mut self.out)
            .map_err(parse_to_js)?;
        Ok(self.staging.describe(span(&self.out)))
    }

    /// Ends the input: a stream that stops anywhere but between members is an error.
    pub fn finish(&mut self) -> std::result::Result<(), JsValue> {
        self.inner.finish().map_err(parse_to_js)
    }
}
