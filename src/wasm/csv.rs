//! A streaming CSV parser for JavaScript: `push(bytes)` any chunk, `finish()`, batches out; and
//! the CSV writer with its injection guard, so a page writing its own CSV uses the same rule as
//! every export.

use super::backstory::set;
use super::batch::row_errors_to_js;
use super::errors::to_js;
use super::options::{read, whole, CsvParseOptions, CsvWriteOptions};
use super::staging::{span, staged_batches, wide, Staging};
use crate::error::Error;
use crate::parse::csv::{CsvParser, RowBatch};
use crate::parse::csv_write::{guard_cell, is_formula, write_row};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

/// The wasm half of js/csv.js's `CsvStreamParser` (one call per chunk: see `staging`).
#[wasm_bindgen]
pub struct CsvStreamParser {
    inner: CsvParser,
    staging: Staging,
    /// The batch the descriptor describes, kept until the next call.
    current: Option<RowBatch>,
}

staged_batches!(CsvStreamParser);

impl CsvStreamParser {
    /// A batch's descriptor: text, UTF-16 field ends, row ends (address and length each), first
    /// row (low, high), rows, more batches waiting (0/1), numeric columns, then the address and
    /// length of each column's values.
    fn batch_words(b: &RowBatch, more: bool) -> impl Iterator<Item = u32> + '_ {
        [
            span(b.text.as_bytes()),
            span(&b.utf16_ends),
            span(&b.row_ends),
            wide(b.first_row),
            [b.len() as u32, u32::from(more)],
        ]
        .into_iter()
        .flatten()
        .chain([b.numbers.len() as u32])
        .chain(b.numbers.iter().flat_map(|c| span(c)))
    }
}

#[wasm_bindgen]
impl CsvStreamParser {
    /// `opts`: `{ delimiter: ",", header: true, strict: false, batchRows: 4096,
    /// numericColumns: [], text: true, skipEmptyLines: false }`.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> Result<CsvStreamParser, JsValue> {
        let o = read::<CsvParseOptions>(&opts)
            .and_then(CsvParseOptions::into_csv)
            .map_err(to_js)?;
        Ok(CsvStreamParser {
            inner: CsvParser::new(o),
            staging: Staging::default(),
            current: None,
        })
    }

    pub fn header(&self) -> JsValue {
        match self.inner.header() {
            Some(h) => h
                .iter()
                .map(|s| JsValue::from_str(s))
                .collect::<Array>()
                .into(),
            None => JsValue::NULL,
        }
    }

    /// `{ rows, bytes, errors }`; errors are handed over once.
    #[wasm_bindgen(js_name = takeMeta)]
    pub fn take_meta(&mut self) -> JsValue {
        let o = Object::new();
        set(&o, "rows", self.inner.rows() as f64);
        set(&o, "bytes", self.inner.bytes() as f64);
        set(&o, "errors", row_errors_to_js(&self.inner.take_errors()));
        o.into()
    }
}

/// Whether a spreadsheet could run `cell` as a formula: it starts with `=`, `+`, `-`, `@`, tab
/// or CR and is not a plain number (OWASP's CSV-injection rule, as every exportkit CSV applies it).
#[wasm_bindgen(js_name = csvCellIsFormula)]
pub fn csv_cell_is_formula(cell: &str) -> bool {
    is_formula(cell)
}

/// The cell with a leading apostrophe if it is a formula, else unchanged.
#[wasm_bindgen(js_name = guardCsvCell)]
pub fn guard_csv_cell(cell: &str) -> String {
    guard_cell(cell).into_owned()
}

/// A cell as `String(v)` would give it, `null` and `undefined` as empty.
fn cell_text(v: &JsValue) -> String {
    if let Some(s) = v.as_string() {
        s
    } else if v.is_undefined() || v.is_null() {
        String::new()
    } else {
        String::from(Object::from(v.clone()).to_string())
    }
}

/// Rows (arrays of cells) as RFC 4180 CSV, CRLF after each, fields quoted only when they must be.
/// `opts`: `{ csvGuard: true, width }`; `width` pads short rows with empty cells and cuts long ones.
#[wasm_bindgen(js_name = writeCsvRows)]
pub fn write_csv_rows(rows: &Array, opts: JsValue) -> Result<String, JsValue> {
    let w: CsvWriteOptions = read(&opts).map_err(to_js)?;
    let guard = w.csv_guard.unwrap_or(true);
    let width = whole("width", w.width, 0.0, 999_999.0)
        .map_err(to_js)?
        .map(|n| n as u32);
    let mut out = String::new();
    let mut cells: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if !Array::is_array(&row) {
            return Err(to_js(Error::invalid(
                format!("rows[{i}]"),
                "must be an array of cells",
            )));
        }
        let row = Array::from(&row);
        cells.clear();
        cells.extend((0..width.unwrap_or(row.length())).map(|c| cell_text(&row.get(c))));
        write_row(&mut out, &cells, guard);
    }
    Ok(out)
}
