//! The JavaScript we call. Bound from a module-level snippet rather than `window` so the same
//! build runs in a page, a Web Worker, Node and workerd. No `credentials`, `mode` or
//! `referrerPolicy` is ever set on a request: workerd rejects them. `redirect: "manual"` is set
//! on every request that carries a credential (all four runtimes accept it).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
// `manual`: a redirect comes back as the answer (in a browser an opaque one) instead of being
// followed with the request's credentials. `via`: the caller's fetch for presigned links (the CLI
// supplies one that enforces where links may point), or undefined for the global fetch.
export function ek_fetch(url, method, headers, body, signal, manual, via) {
  const init = { method, headers };
  if (body !== undefined) init.body = body;
  if (signal) init.signal = signal;
  if (manual) init.redirect = "manual";
  if (typeof via === "function") {
    try {
      return Promise.resolve(via(url, init));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return fetch(url, init);
}
// For a redirect answer: the host `Location` names ("" when hidden: a browser's opaque redirect,
// or no Location), else undefined. Only the host: the URL may carry a signature.
export function ek_redirect_host(resp, url) {
  const opaque = resp.type === "opaqueredirect";
  if (!opaque && !(resp.status >= 300 && resp.status <= 399)) return undefined;
  const loc = opaque ? null : resp.headers.get("location");
  if (!loc) return "";
  try { return new URL(loc, url).host; } catch (_) { return ""; }
}
// A caller's fetchFile that threw an ExportError (a refused link) keeps it as it is.
export function ek_is_export_error(e) { return !!(e && e.name === "ExportError" && typeof e.code === "string"); }
export function ek_status(resp) { return resp.status; }
export function ek_headers(resp) {
  const out = [];
  resp.headers.forEach((v, k) => { out.push(k, v); });
  return out;
}
export function ek_reader(resp) { return resp.body ? resp.body.getReader() : null; }
export async function ek_read(reader) {
  const { done, value } = await reader.read();
  return done ? null : value;
}
export function ek_cancel(reader) { try { reader.cancel().catch(() => {}); } catch (_) {} }
// The promise carries `cancel()`: a sleep abandoned early (a deadline raced against a read that
// won) clears its timer, so no timer outlives its use and keeps a Node process alive.
export function ek_sleep(ms, signal) {
  let cancel = () => {};
  const p = new Promise((resolve, reject) => {
    if (signal && signal.aborted) { reject(new Error("aborted")); return; }
    const onAbort = () => { clearTimeout(timer); reject(new Error("aborted")); };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
    cancel = () => {
      clearTimeout(timer);
      if (signal) signal.removeEventListener("abort", onAbort);
    };
  });
  p.cancel = () => cancel();
  return p;
}
export function ek_sleep_cancel(p) { p.cancel(); }
export function ek_aborted(signal) { return !!(signal && signal.aborted); }
// The caller's signal combined with a deadline; a deadline's abort reason is a TimeoutError.
// Not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: `any` holds its sources weakly and
// Node's timeout signal is held only weakly by its own timer, so a garbage collection during the
// run took the timeout signal, cleared its timer, and the deadline never came (Node 20; CI saw
// a run wait out an 8 s stall under `timeoutMs: 600`). Here the timer's closure holds the
// controller; unref'd so a deadline never keeps a Node process alive.
export function ek_deadline(signal, ms) {
  if (!(ms > 0)) return signal;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(new DOMException("The operation timed out.", "TimeoutError")), ms);
  if (timer && typeof timer.unref === "function") timer.unref();
  return signal ? AbortSignal.any([signal, ctrl.signal]) : ctrl.signal;
}
export function ek_timed_out(signal) {
  return !!(signal && signal.aborted && signal.reason && signal.reason.name === "TimeoutError");
}
export function ek_now() { return Date.now(); }
export function ek_error_code(e) { return e !== null && typeof e === "object" && typeof e.code === "string" ? e.code : ""; }
export function ek_error_message(e) {
  if (e === null || e === undefined) return "unknown error";
  let msg = String(e.message !== undefined ? e.message : e);
  const cause = e.cause;
  if (cause && cause.message && !msg.includes(cause.message)) msg += ": " + cause.message;
  if (cause && cause.code) msg += " (" + cause.code + ")";
  return msg;
}
export function ek_is_abort(e) { return !!(e && (e.name === "AbortError" || e.name === "TimeoutError")); }
"#)]
extern "C" {
    pub fn ek_fetch(
        url: &str,
        method: &str,
        headers: &js_sys::Object,
        body: JsValue,
        signal: &JsValue,
        manual: bool,
        via: &JsValue,
    ) -> js_sys::Promise;
    pub fn ek_redirect_host(resp: &JsValue, url: &str) -> Option<String>;
    pub fn ek_is_export_error(e: &JsValue) -> bool;
    pub fn ek_status(resp: &JsValue) -> u16;
    pub fn ek_headers(resp: &JsValue) -> js_sys::Array;
    pub fn ek_reader(resp: &JsValue) -> JsValue;
    pub fn ek_read(reader: &JsValue) -> js_sys::Promise;
    pub fn ek_cancel(reader: &JsValue);
    pub fn ek_sleep(ms: f64, signal: &JsValue) -> js_sys::Promise;
    pub fn ek_sleep_cancel(sleep: &js_sys::Promise);
    pub fn ek_aborted(signal: &JsValue) -> bool;
    pub fn ek_deadline(signal: &JsValue, ms: f64) -> JsValue;
    pub fn ek_timed_out(signal: &JsValue) -> bool;
    pub fn ek_now() -> f64;
    pub fn ek_error_message(e: &JsValue) -> String;
    pub fn ek_error_code(e: &JsValue) -> String;
    pub fn ek_is_abort(e: &JsValue) -> bool;
}
