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
    /// The bytes of the last call are `out[..used]`, which the descriptor points at; the rest
    /// is room kept between calls (zeroed once, when it grows), so a push inflates straight
    /// into it: no 64 KiB piece copied over, no zeroing per push.
    out: Vec<u8>,
    used: usize,
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
            used: 0,
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
        self.used = 0;
        let mut rest = self.staging.input(len);
        loop {
            if self.used == self.out.len() {
                let grown = (self.out.len() * 2).max(64 * 1024);
                self.out.resize(grown, 0);
            }
            let room = self.out.get_mut(self.used..).unwrap_or_default();
            let (took, wrote) = self.inner.decode(rest, room).map_err(parse_to_js)?;
            rest = rest.get(took..).unwrap_or_default();
            self.used += wrote;
            if rest.is_empty() && self.used < self.out.len() {
                break;
            }
        }
        let out = self.out.get(..self.used).unwrap_or_default();
        Ok(self.staging.describe(span(out)))
    }

    /// Ends the input: a stream that stops anywhere but between members is an error.
    pub fn finish(&mut self) -> std::result::Result<(), JsValue> {
        self.inner.finish().map_err(parse_to_js)
    }
}
