//! Reading and writing properties of JavaScript option and result objects: used by the parse
//! classes and the vendor clients alike, so it is built into both wasm modules.

use crate::error::{Error, Result};
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

pub(crate) fn get_fn(obj: &JsValue, key: &str) -> Result<Option<Function>> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| Error::invalid(key, "must be a function"))
}

/// `csvGuard` (default true: formula cells neutralised, see `parse::csv_write`) as "keep raw
/// cells", the way the writers take it.
pub(crate) fn raw_cells(opts: &JsValue) -> Result<bool> {
    let v = get(opts, "csvGuard");
    if v.is_undefined() || v.is_null() {
        return Ok(false);
    }
    v.as_bool()
        .map(|guard| !guard)
        .ok_or_else(|| Error::invalid("csvGuard", "must be true or false"))
}

pub(crate) fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}
