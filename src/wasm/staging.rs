//! One call per chunk across the JS/wasm boundary. JavaScript copies each chunk into a buffer in
//! wasm memory (`inputBuffer`, called again only when a chunk is bigger than any before), calls
//! the stream's `pushInput(len)`, and reads what it produced out of wasm memory through a
//! descriptor: a few `u32` words whose address the call returns. No allocation call for the
//! input, no JavaScript object built from wasm, no handle to free afterwards (the glue
//! wasm-bindgen writes for a `&[u8]` argument and an object result costs three to eight calls).
//!
//! Whatever a descriptor points at stays put until the stream's next call: the JavaScript side
//! (js/staging.js) copies it out at once.

/// The input buffer and the descriptor of one stream.
#[derive(Default)]
pub struct Staging {
    input: Vec<u8>,
    desc: Vec<u32>,
}

impl Staging {
    /// Room for at least `len` input bytes; its address (stable until the next `buffer` call).
    pub fn buffer(&mut self, len: usize) -> *mut u8 {
        if self.input.len() < len {
            self.input.resize(len, 0);
        }
        self.input.as_mut_ptr()
    }

    /// The first `len` bytes JavaScript wrote (never more than the buffer holds).
    pub fn input(&self, len: usize) -> &[u8] {
        self.input.get(..len).unwrap_or(&self.input)
    }

    /// Writes a descriptor and returns its address for JavaScript.
    pub fn describe(&mut self, words: impl IntoIterator<Item = u32>) -> u32 {
        self.desc.clear();
        self.desc.extend(words);
        self.desc.as_ptr() as u32
    }
}

/// A slice's address and length as two descriptor words (wasm32 addresses fit in a `u32`).
pub fn span<T>(s: &[T]) -> [u32; 2] {
    [s.as_ptr() as u32, s.len() as u32]
}

/// A count above 2^32 as its low and high words.
pub fn wide(n: u64) -> [u32; 2] {
    [n as u32, (n >> 32) as u32]
}

/// `inputBuffer`, `pushInput`, `finishInput` and `nextBatch` for a stream class whose `inner`
/// parser has `push(&[u8])`, `finish()`, `take_batch()` and `batch_ready()` (fields `staging`,
/// and `current`, the batch described); the class's own `batch_words(batch, more)` gives a
/// batch's descriptor words.
#[allow(unused_macros)]
macro_rules! staged_batches {
    ($class:ident) => {
        #[wasm_bindgen::prelude::wasm_bindgen]
        impl $class {
            /// Room for `len` bytes of input in wasm memory: JavaScript copies a chunk there.
            #[wasm_bindgen(js_name = inputBuffer)]
            pub fn input_buffer(&mut self, len: usize) -> *mut u8 {
                self.staging.buffer(len)
            }

            /// Parses the `len` bytes just written to the input buffer; returns the address of
            /// the first completed batch's descriptor, or 0 when none completed.
            #[wasm_bindgen(js_name = pushInput)]
            pub fn push_input(&mut self, len: usize) -> Result<u32, wasm_bindgen::JsValue> {
                self.current = None;
                self.inner
                    .push(self.staging.input(len))
                    .map_err($crate::wasm::errors::parse_to_js)?;
                Ok(self.next_batch())
            }

            /// Ends the input; returns the last batches as `pushInput` does.
            #[wasm_bindgen(js_name = finishInput)]
            pub fn finish_input(&mut self) -> Result<u32, wasm_bindgen::JsValue> {
                self.current = None;
                self.inner
                    .finish()
                    .map_err($crate::wasm::errors::parse_to_js)?;
                Ok(self.next_batch())
            }

            /// The next completed batch's descriptor, or 0 when none is left.
            #[wasm_bindgen(js_name = nextBatch)]
            pub fn next_batch(&mut self) -> u32 {
                let Some(b) = self.inner.take_batch() else {
                    self.current = None;
                    return 0;
                };
                let more = self.inner.batch_ready();
                let at = self.staging.describe(Self::batch_words(&b, more));
                self.current = Some(b);
                at
            }
        }
    };
}
pub(crate) use staged_batches;
