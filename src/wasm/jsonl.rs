//! JSON Lines for JavaScript without a vendor call: `JsonlStreamParser` (records out as one JSON
//! array text per batch) and `JsonlCsvWriter` (CSV text out), each fed chunks split anywhere. One
//! call per chunk crosses the boundary, never one per record.

use super::backstory::set;
use super::errors::to_js;
use super::options::{read, whole, JsonlCsvOptions, JsonlParseOptions};
use super::staging::{span, staged_batches, wide, Staging};
use crate::error::Result;
use crate::parse::flatten::{FlattenOptions, Flattener};
use crate::parse::jsonl::{JsonlOptions, JsonlParser, LineError, RecordBatch};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

/// `first_batch_bytes`: the class's default for how soon the first batch goes out.
fn parser_options(opts: &JsValue, first_batch_bytes: usize) -> Result<JsonlOptions> {
    let p: JsonlParseOptions = read(opts)?;
    let mut o = JsonlOptions {
        strict: p.strict.unwrap_or(false),
        first_batch_bytes,
        ..JsonlOptions::default()
    };
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    for (key, v, slot, lo, hi) in [
        (
            "batchRecords",
            p.batch_records,
            &mut o.batch_records,
            1.0,
            1_000_000.0,
        ),
        // Above about 4,000 levels JSON.stringify overflows V8's stack on the record.
        ("maxDepth", p.max_depth, &mut o.max_depth, 1.0, 1000.0),
        (
            "maxLineBytes",
            p.max_line_bytes,
            &mut o.max_line_bytes,
            1024.0,
            GIB,
        ),
        (
            "firstBatchBytes",
            p.first_batch_bytes,
            &mut o.first_batch_bytes,
            1.0,
            4.0 * 1024.0 * 1024.0,
        ),
    ] {
        if let Some(n) = whole(key, v, lo, hi)? {
            *slot = n as usize;
        }
    }
    Ok(o)
}

/// The stream parser's first batch goes out once it holds 64 KiB: about one chunk, so the first
/// records are in hand a millisecond or two after the first bytes, not after 2048 records.
const STREAM_FIRST_BATCH: usize = 64 << 10;

/// The CSV writer fixes its header from the first batch, so that batch is a sample worth having
/// (2048 records, or 1 MiB of them, whichever comes first) but still out in a few tens of ms.
const WRITER_FIRST_BATCH: usize = 1 << 20;

fn errors_to_js(errors: &[LineError]) -> JsValue {
    super::results::bad_records_to_js(errors)
}

/// `rejected`: records a later check refused (with `errors`, their reports), so not records.
fn meta(p: &mut JsonlParser, mut rejected: Vec<LineError>, rejected_total: u64) -> Object {
    let mut errors = p.take_errors();
    if !rejected.is_empty() {
        errors.append(&mut rejected);
        errors.sort_by_key(|e| e.line);
    }
    let o = Object::new();
    set(
        &o,
        "records",
        p.record_count().saturating_sub(rejected_total) as f64,
    );
    set(&o, "lines", p.lines() as f64);
    set(&o, "bytes", p.bytes() as f64);
    set(&o, "errors", errors_to_js(&errors));
    o
}

/// The wasm half of js/jsonl.js's `JsonlStreamParser` (one call per chunk: see `staging`).
#[wasm_bindgen]
pub struct JsonlStreamParser {
    inner: JsonlParser,
    staging: Staging,
    /// The batch the descriptor describes, kept until the next call.
    current: Option<RecordBatch>,
}

staged_batches!(JsonlStreamParser);

impl JsonlStreamParser {
    /// A batch's descriptor: the JSON array text (address, length), records, first line (low,
    /// high), more batches waiting (0/1).
    fn batch_words(b: &RecordBatch, more: bool) -> [u32; 6] {
        let [ptr, len] = span(b.text.as_bytes());
        let [lo, hi] = wide(b.first_line);
        [ptr, len, b.count as u32, lo, hi, u32::from(more)]
    }
}

#[wasm_bindgen]
impl JsonlStreamParser {
    /// `opts`: `{ strict: false, batchRecords: 2048, maxLineBytes: 16 MiB, maxDepth: 128, firstBatchBytes:
    /// 64 KiB }`.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> std::result::Result<JsonlStreamParser, JsValue> {
        Ok(JsonlStreamParser {
            inner: JsonlParser::new(parser_options(&opts, STREAM_FIRST_BATCH).map_err(to_js)?),
            staging: Staging::default(),
            current: None,
        })
    }

    /// `{ records, lines, bytes, errors }`; errors are handed over once.
    #[wasm_bindgen(js_name = takeMeta)]
    pub fn take_meta(&mut self) -> JsValue {
        meta(&mut self.inner, Vec::new(), 0).into()
    }
}

#[wasm_bindgen]
pub struct JsonlCsvWriter {
    parser: JsonlParser,
    flattener: Flattener,
    strict: bool,
    /// Records the flattener's own JSON check refused, not yet handed over, and their count.
    rejected: Vec<LineError>,
    rejected_total: u64,
    staging: Staging,
    /// The CSV text of the last call, which the descriptor points at.
    out: String,
}

#[wasm_bindgen]
impl JsonlCsvWriter {
    /// `opts`: parser options (`firstBatchBytes`: 1 MiB, the header's sample) plus `{ columns:
    /// string[] (written first), explode: "participants", discover: true, csvGuard: true }`.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> std::result::Result<JsonlCsvWriter, JsValue> {
        // The flattener's walk checks each record's JSON itself: one pass instead of two.
        let popts = JsonlOptions {
            validate: false,
            ..parser_options(&opts, WRITER_FIRST_BATCH).map_err(to_js)?
        };
        let strict = popts.strict;
        let parser = JsonlParser::new(popts);
        let w: JsonlCsvOptions = read(&opts).map_err(to_js)?;
        Ok(JsonlCsvWriter {
            parser,
            strict,
            rejected: Vec::new(),
            rejected_total: 0,
            staging: Staging::default(),
            out: String::new(),
            flattener: Flattener::new(FlattenOptions {
                columns: w.columns.unwrap_or_default(),
                explode: w.explode,
                discover: w.discover.unwrap_or(true),
                raw_cells: !w.csv_guard.unwrap_or(true),
            }),
        })
    }

    /// Feeds bytes; returns the CSV text of the full batches completed (the header, with the
    /// fields found in the first batch, comes with the first rows).
    /// Room for `len` bytes of input in wasm memory: JavaScript copies a chunk there.
    #[wasm_bindgen(js_name = inputBuffer)]
    pub fn input_buffer(&mut self, len: usize) -> *mut u8 {
        self.staging.buffer(len)
    }

    /// Flattens the `len` bytes just written to the input buffer; returns the address of a
    /// descriptor (address, length) of the CSV text of the batches completed (the header, with
    /// the fields found in the first batch, comes with the first rows).
    #[wasm_bindgen(js_name = pushInput)]
    pub fn push_input(&mut self, len: usize) -> std::result::Result<u32, JsValue> {
        let parsed = self.parser.push(self.staging.input(len));
        self.drain(parsed.map_err(crate::Error::from))
            .map_err(to_js)?;
        Ok(self.staging.describe(span(self.out.as_bytes())))
    }

    #[wasm_bindgen(js_name = finishInput)]
    pub fn finish_input(&mut self) -> std::result::Result<u32, JsValue> {
        let parsed = self.parser.finish();
        self.drain(parsed.map_err(crate::Error::from))
            .map_err(to_js)?;
        self.flattener.finish(&mut self.out);
        Ok(self.staging.describe(span(self.out.as_bytes())))
    }

    /// `{ records, lines, bytes, rows, header, lateFields, errors }`; errors are handed over once.
    #[wasm_bindgen(js_name = takeMeta)]
    pub fn take_meta(&mut self) -> JsValue {
        let rejected = std::mem::take(&mut self.rejected);
        let o = meta(&mut self.parser, rejected, self.rejected_total);
        set(&o, "rows", self.flattener.rows() as f64);
        set(
            &o,
            "header",
            self.flattener
                .header()
                .iter()
                .map(|s| JsValue::from_str(s))
                .collect::<Array>(),
        );
        let late: Array = self
            .flattener
            .late_fields()
            .iter()
            .map(|l| {
                let x = Object::new();
                set(&x, "column", l.column.as_str());
                set(&x, "firstLine", l.first_line as f64);
                set(&x, "count", l.count as f64);
                JsValue::from(x)
            })
            .collect();
        set(&o, "lateFields", late);
        o.into()
    }

    /// Flattens what the parser completed. Until the header is fixed that is whole batches (the
    /// first is the header's sample); after it, every record the chunk completed, so each push
    /// gives about a chunk of CSV: no multi-megabyte batch held in wasm memory, and strings small
    /// enough for the JavaScript engine's young generation. When the parser failed (strict
    /// mode), the records before its bad line are flattened first, since one of them may be bad
    /// too and the earliest bad line is the one to report.
    fn drain(&mut self, parsed: Result<()>) -> Result<()> {
        let out = &mut self.out;
        out.clear();
        let failed = parsed.is_err();
        while let Some(b) = if failed || self.flattener.header_fixed() {
            self.parser.take_pending()
        } else {
            self.parser.take_batch()
        } {
            // CSV is about as long as the JSON it comes from: one allocation, not a dozen.
            out.reserve(b.text.len());
            let before = self.rejected.len();
            let rejected = (!self.strict).then_some(&mut self.rejected);
            self.flattener.write_checked(&b, out, rejected)?;
            self.rejected_total += (self.rejected.len() - before) as u64;
        }
        parsed
    }
}
