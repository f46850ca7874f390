//! Errors as JavaScript sees them: an instance of the package's own `ExportError` class (js/runtime.js
//! registers it at init), so `instanceof ExportError` holds for what Rust throws and its stack starts
//! where the failure surfaced, with no JavaScript wrapper rebuilding it. A caller's callback that
//! threw comes back with the caller's exception as `cause`.

use crate::error::{Error, ErrorKind};
use js_sys::{Array, Function, Object, Reflect};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
export type ExportErrorCode =
  | "E_INVALID_ARGUMENT" | "E_AUTH" | "E_HTTP" | "E_RATE_LIMITED" | "E_QUOTA_EXHAUSTED"
  | "E_CONFLICT" | "E_JOB_FAILED" | "E_TIMEOUT" | "E_ABORTED" | "E_NETWORK" | "E_DECODE"
  | "E_LINK_EXPIRED" | "E_REDIRECT";
export interface ExportErrorShape extends Error {
  name: "ExportError";
  code: ExportErrorCode;
  status?: number;
  field?: string;
  retryAfterMs?: number;
  line?: number;
  column?: number;
  resetsAtMs?: number;
  jobId?: string;
  /** E_REDIRECT: the host the redirect pointed at, when the runtime showed it. */
  host?: string;
  /** Activities: the fragment whose download failed. */
  fragment?: number;
  /** Userpilot: the file whose download failed. */
  file?: string;
  /** The failure this one was raised over. */
  cause?: ExportErrorShape;
}
"#;

thread_local! {
    /// The class errors are built with; until one is registered (the raw wasm used without
    /// js/runtime.js) a plain `Error` named `ExportError` stands in.
    static CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
    /// Exceptions thrown by caller callbacks, waiting for the `Error` that reports them to reach
    /// JavaScript. The error type is shared with the sans-IO core and cannot hold a `JsValue`, so the
    /// exception is parked here under the error's own (field, reason) and picked up by `to_js`.
    /// Bounded: an error the driver swallows must not pin its exception forever.
    static CAUSES: RefCell<Vec<(String, String, JsValue)>> = const { RefCell::new(Vec::new()) };
}

const MAX_PARKED_CAUSES: usize = 16;

/// `registerExportError(ExportError)`: js/runtime.js calls it once the module is loaded.
#[wasm_bindgen(js_name = registerExportError)]
pub fn register_export_error(class: Function) {
    CLASS.with(|c| *c.borrow_mut() = Some(class));
}

/// The error for a caller's callback (`onBatch`, `onRecords`, ...) that threw or rejected: code
/// `E_INVALID_ARGUMENT` as before, `field` naming the callback, and the caller's exception kept
/// as the JavaScript error's `cause`.
pub(crate) fn callback_error(field: &str, e: JsValue) -> Error {
    let reason = format!("threw: {}", super::js::ek_error_message(&e));
    CAUSES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_PARKED_CAUSES {
            c.remove(0);
        }
        c.push((field.to_string(), reason.clone(), e));
    });
    Error::invalid(field, reason)
}

fn take_cause(err: &Error) -> Option<JsValue> {
    let ErrorKind::InvalidArgument { field, reason } = err.kind() else {
        return None;
    };
    CAUSES.with(|c| {
        let mut c = c.borrow_mut();
        let i = c.iter().rposition(|(f, r, _)| f == field && r == reason)?;
        Some(c.remove(i).2)
    })
}

fn set(obj: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value);
}

/// A parser's error, as the client's (same code and message).
pub fn parse_to_js(err: exportkit_parse::Error) -> JsValue {
    to_js(err.into())
}

pub fn to_js(err: Error) -> JsValue {
    let props = Object::new();
    set(&props, "code", JsValue::from_str(err.code()));
    if let Some(s) = err.status() {
        set(&props, "status", JsValue::from(s));
    }
    if let Some(f) = err.field() {
        set(&props, "field", JsValue::from_str(f));
    }
    if let Some(ms) = err.retry_after_ms() {
        set(&props, "retryAfterMs", JsValue::from(ms as f64));
    }
    match err.kind() {
        ErrorKind::Decode { line, column, .. } => {
            set(&props, "line", JsValue::from(*line as f64));
            set(&props, "column", JsValue::from(*column as f64));
        }
        ErrorKind::QuotaExhausted {
            resets_at_ms,
            limit,
        } => {
            set(&props, "resetsAtMs", JsValue::from(*resets_at_ms));
            set(&props, "limit", JsValue::from(*limit));
        }
        ErrorKind::JobFailed { job_id, state } => {
            set(&props, "jobId", JsValue::from_str(job_id));
            set(&props, "state", JsValue::from_str(state));
        }
        ErrorKind::Conflict {
            running_job_id: Some(id),
        } => set(&props, "jobId", JsValue::from_str(id)),
        ErrorKind::Redirect { host: Some(h), .. } => set(&props, "host", JsValue::from_str(h)),
        _ => {}
    }
    // Where it happened, as fields (the message says it too, for people).
    let place = err.place();
    if let Some(job) = err.job() {
        set(&props, "jobId", JsValue::from_str(job));
    }
    if let Some(k) = place.fragment {
        set(&props, "fragment", JsValue::from(k));
    }
    if let Some(f) = &place.file {
        set(&props, "file", JsValue::from_str(f));
    }
    if let Some(l) = place.line {
        set(&props, "line", JsValue::from(l as f64));
    }
    if let Some(c) = place.column {
        set(&props, "column", JsValue::from(c as f64));
    }
    // The caller's own exception (a callback that threw) is the cause; else the core's.
    if let Some(cause) = take_cause(&err) {
        set(&props, "cause", cause);
    } else if let Some(cause) = err.cause() {
        set(&props, "cause", to_js(cause.clone()));
    }
    let message = JsValue::from_str(&err.to_string());
    let class = CLASS.with(|c| c.borrow().clone());
    if let Some(class) = class {
        let args = Array::of2(&message, &props);
        if let Ok(e) = Reflect::construct(&class, &args) {
            return e;
        }
    }
    // No class registered: the same shape on a plain Error.
    let e = js_sys::Error::new(&err.to_string());
    e.set_name("ExportError");
    let v: JsValue = e.into();
    let _ = Object::assign(&v.clone().unchecked_into(), &props);
    v
}
