//! A streaming CSV parser for JavaScript: `push(bytes)` any chunk, `finish()`, batches out; and
//! the CSV writer with its injection guard, so a page writing its own CSV uses the same rule as
//! every export.

use super::backstory::{get, raw_cells, set};
use super::batch::{batch_rows_option, row_errors_to_js, skip_empty_lines_option};
use super::errors::to_js;
use super::staging::{span, staged_batches, wide, Staging};
use crate::error::Error;
use crate::parse::csv::{ColumnRef, CsvOptions, CsvParser, RowBatch};
use crate::parse::csv_write::{guard_cell, is_formula, write_row};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

/// `numericColumns`: header names or 0-based positions.
fn numeric_columns(v: &JsValue) -> Result<Vec<ColumnRef>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    let bad = |i: u32| {
        to_js(Error::invalid(
            format!("numericColumns[{i}]"),
            "must be a column name or a 0-based position",
        ))
    };
    if !Array::is_array(v) {
        return Err(to_js(Error::invalid(
            "numericColumns",
            "must be an array of column names or positions",
        )));
    }
    let arr = Array::from(v);
    (0..arr.length())
        .map(|i| {
            let item = arr.get(i);
            if let Some(name) = item.as_string() {
                Ok(ColumnRef::Name(name))
            } else {
                match item.as_f64() {
                    Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e6 => {
                        Ok(ColumnRef::Index(n as usize))
                    }
                    _ => Err(bad(i)),
                }
            }
        })
        .collect()
}

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
        let mut o = CsvOptions::default();
        let d = get(&opts, "delimiter");
        if let Some(s) = d.as_string() {
            if s.len() != 1 || !s.is_ascii() {
                return Err(to_js(Error::invalid(
                    "delimiter",
                    "must be one ASCII character",
                )));
            }
            o.delimiter = s.as_bytes()[0];
        } else if !d.is_undefined() {
            return Err(to_js(Error::invalid("delimiter", "must be a string")));
        }
        let h = get(&opts, "header");
        if !h.is_undefined() {
            o.has_header = h.is_truthy();
        }
        o.strict = get(&opts, "strict").is_truthy();
        if let Some(n) = batch_rows_option(&opts).map_err(to_js)? {
            o.batch_rows = n;
        }
        o.numeric_columns = numeric_columns(&get(&opts, "numericColumns"))?;
        o.skip_empty_lines = skip_empty_lines_option(&opts).map_err(to_js)?;
        let t = get(&opts, "text");
        if !t.is_undefined() {
            o.text = t
                .as_bool()
                .ok_or_else(|| to_js(Error::invalid("text", "must be true or false")))?;
        }
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
    let guard = !raw_cells(&opts).map_err(to_js)?;
    let width = get(&opts, "width");
    let width = if width.is_undefined() || width.is_null() {
        None
    } else {
        match width.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e6 => Some(n as u32),
            _ => {
                return Err(to_js(Error::invalid(
                    "width",
                    "must be a whole number of columns",
                )))
            }
        }
    };
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
