//! Errors as JavaScript sees them: a real `Error` named `ExportError` with a stable `code`.

use crate::error::{Error, ErrorKind};
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

fn set(obj: &JsValue, key: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), &value);
}

pub fn to_js(err: Error) -> JsValue {
    let e = js_sys::Error::new(&err.to_string());
    e.set_name("ExportError");
    let v: JsValue = e.into();
    set(&v, "code", JsValue::from_str(err.code()));
    if let Some(s) = err.status() {
        set(&v, "status", JsValue::from(s));
    }
    if let Some(f) = err.field() {
        set(&v, "field", JsValue::from_str(f));
    }
    if let Some(ms) = err.retry_after_ms() {
        set(&v, "retryAfterMs", JsValue::from(ms as f64));
    }
    match err.kind() {
        ErrorKind::Decode { line, column, .. } => {
            set(&v, "line", JsValue::from(*line as f64));
            set(&v, "column", JsValue::from(*column as f64));
        }
        ErrorKind::QuotaExhausted {
            resets_at_ms,
            limit,
        } => {
            set(&v, "resetsAtMs", JsValue::from(*resets_at_ms));
            set(&v, "limit", JsValue::from(*limit));
        }
        ErrorKind::JobFailed { job_id, state } => {
            set(&v, "jobId", JsValue::from_str(job_id));
            set(&v, "state", JsValue::from_str(state));
        }
        ErrorKind::Conflict {
            running_job_id: Some(id),
        } => set(&v, "jobId", JsValue::from_str(id)),
        ErrorKind::Redirect { host: Some(h), .. } => set(&v, "host", JsValue::from_str(h)),
        _ => {}
    }
    // Where it happened, as fields (the message says it too, for people).
    let place = err.place();
    if let Some(job) = err.job() {
        set(&v, "jobId", JsValue::from_str(job));
    }
    if let Some(k) = place.fragment {
        set(&v, "fragment", JsValue::from(k));
    }
    if let Some(f) = &place.file {
        set(&v, "file", JsValue::from_str(f));
    }
    if let Some(l) = place.line {
        set(&v, "line", JsValue::from(l as f64));
    }
    if let Some(c) = place.column {
        set(&v, "column", JsValue::from(c as f64));
    }
    if let Some(cause) = err.cause() {
        set(&v, "cause", to_js(cause.clone()));
    }
    v
}
