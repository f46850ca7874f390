//! Rows cross into JavaScript packed: one string, field ends in UTF-16 units, row ends. The JS
//! wrapper slices them lazily or into `string[][]`.

use super::backstory::set;
use crate::parse::csv::{RowBatch, RowError};
use js_sys::{Array, Float64Array, Object, Uint32Array};
use wasm_bindgen::JsValue;

/// The `batchRows` option shared by every call that delivers packed batches.
pub fn batch_rows_option(opts: &JsValue) -> crate::error::Result<Option<usize>> {
    match super::backstory::get(opts, "batchRows").as_f64() {
        None => Ok(None),
        Some(n) if (1.0..=1_000_000.0).contains(&n) && n.fract() == 0.0 => Ok(Some(n as usize)),
        Some(_) => Err(crate::error::Error::invalid(
            "batchRows",
            "must be an integer from 1 to 1000000",
        )),
    }
}

/// The `skipEmptyLines` option, named and read as Papa Parse reads it: `true` leaves out records
/// that are one empty field (blank lines), `"greedy"` also those whose fields are all blank.
pub fn skip_empty_lines_option(
    opts: &JsValue,
) -> crate::error::Result<crate::parse::csv::SkipEmptyLines> {
    use crate::parse::csv::SkipEmptyLines;
    let v = super::backstory::get(opts, "skipEmptyLines");
    if v.is_undefined() || v.is_null() {
        return Ok(SkipEmptyLines::Off);
    }
    match (v.as_bool(), v.as_string().as_deref()) {
        (Some(false), _) => Ok(SkipEmptyLines::Off),
        (Some(true), _) => Ok(SkipEmptyLines::Empty),
        (_, Some("greedy")) => Ok(SkipEmptyLines::Greedy),
        _ => Err(crate::error::Error::invalid(
            "skipEmptyLines",
            "must be true, false or \"greedy\"",
        )),
    }
}

pub fn batch_to_js(b: &RowBatch) -> JsValue {
    let o = Object::new();
    set(&o, "text", b.text.as_str());
    set(&o, "fieldEnds", Uint32Array::from(&b.utf16_ends[..]));
    set(&o, "rowEnds", Uint32Array::from(&b.row_ends[..]));
    set(&o, "firstRow", b.first_row as f64);
    set(&o, "rows", b.len() as f64);
    if !b.numbers.is_empty() {
        let cols: Array = b
            .numbers
            .iter()
            .map(|c| JsValue::from(Float64Array::from(&c[..])))
            .collect();
        set(&o, "numbers", cols);
    }
    o.into()
}

pub fn row_errors_to_js(errors: &[RowError]) -> JsValue {
    super::results::bad_records_to_js(errors)
}
