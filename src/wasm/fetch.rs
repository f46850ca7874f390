//! [`Transport`] over the global `fetch`, with bodies read as streams.

use super::js;
use crate::core::http::HttpRequest;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{Body, ResponseHead, Transport};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub struct FetchTransport {
    /// An `AbortSignal` or `undefined`.
    pub signal: JsValue,
    /// The caller's `fetchFile(url, init)` for requests that carry no credential (presigned
    /// links), or `undefined` for the global fetch.
    pub fetch_file: JsValue,
    /// `gunzipReader(reader)` from js/gzip.js (the parse module's inflater over a body reader),
    /// or `undefined`: handed to each body (src/wasm/userpilot.rs `GunzipBody`).
    pub gunzip: JsValue,
}

/// `Some(Timeout | Aborted)` when the signal explains a failure.
fn stopped(signal: &JsValue, e: &JsValue) -> Option<Error> {
    if js::ek_timed_out(signal) {
        Some(Error::new(ErrorKind::Timeout))
    } else if js::ek_aborted(signal) || js::ek_is_abort(e) {
        Some(Error::new(ErrorKind::Aborted))
    } else {
        None
    }
}

struct CancelSleep(js_sys::Promise);

impl Drop for CancelSleep {
    fn drop(&mut self) {
        js::ek_sleep_cancel(&self.0);
    }
}

impl FetchTransport {
    /// The transport of a call whose options may carry an `AbortSignal` as `signal`.
    pub fn of_options(opts: &JsValue) -> Self {
        FetchTransport::new(super::backstory::get(opts, "signal"))
    }

    pub fn new(signal: JsValue) -> Self {
        let signal = if signal.is_null() {
            JsValue::UNDEFINED
        } else {
            signal
        };
        FetchTransport {
            signal,
            fetch_file: JsValue::UNDEFINED,
            gunzip: JsValue::UNDEFINED,
        }
    }

    /// Presigned links go through `f` (when it is a function): the CLI's fetch that enforces
    /// where a link may point. Requests that carry a credential never do.
    pub fn with_fetch_file(mut self, f: JsValue) -> Self {
        if f.is_function() {
            self.fetch_file = f;
        }
        self
    }

    /// Bodies that arrive gzipped are inflated by `f` (when it is a function) where the runtime
    /// has no `DecompressionStream` or the caller declined it.
    pub fn with_gunzip(mut self, f: JsValue) -> Self {
        if f.is_function() {
            self.gunzip = f;
        }
        self
    }

    /// With a deadline for the whole operation (`timeoutMs`): every request, body read and
    /// backoff sleep ends with `E_TIMEOUT` once it passes.
    pub fn with_deadline(signal: JsValue, timeout_ms: Option<f64>) -> Self {
        let t = FetchTransport::new(signal);
        match timeout_ms {
            Some(ms) if ms > 0.0 => FetchTransport {
                signal: js::ek_deadline(&t.signal, ms),
                ..t
            },
            _ => t,
        }
    }

    fn failure(&self, e: &JsValue) -> Error {
        if let Some(stop) = stopped(&self.signal, e) {
            return stop;
        }
        // A link the caller's fetchFile refused: not a network failure to retry, and its message
        // (which names the rule and how to widen it) is kept.
        if js::ek_is_export_error(e) {
            let field = js_sys::Reflect::get(e, &JsValue::from_str("field"))
                .ok()
                .and_then(|f| f.as_string())
                .unwrap_or_else(|| "fileLink".into());
            return Error::invalid(field, js::ek_error_message(e));
        }
        Error::network(js::ek_error_message(e))
    }
}

pub struct FetchBody {
    reader: JsValue,
    signal: JsValue,
    /// The transport's `gunzip` (see there).
    pub(crate) gunzip: JsValue,
}

impl FetchBody {
    /// Replaces the reader with the one `wrap` builds over it (a decompressing stream), unless
    /// `wrap` answers null or undefined. Returns whether it was replaced.
    pub(crate) fn wrap_reader(&mut self, wrap: impl FnOnce(&JsValue) -> JsValue) -> bool {
        if self.reader.is_null() || self.reader.is_undefined() {
            return false;
        }
        let wrapped = wrap(&self.reader);
        if wrapped.is_null() || wrapped.is_undefined() {
            return false;
        }
        self.reader = wrapped;
        true
    }
}

impl Drop for FetchBody {
    fn drop(&mut self) {
        // A body we stop reading (an error, an abort) must be cancelled or the connection stays busy.
        if !self.reader.is_null() && !self.reader.is_undefined() {
            js::ek_cancel(&self.reader);
        }
    }
}

impl Body for FetchBody {
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.reader.is_null() || self.reader.is_undefined() {
            return Ok(None);
        }
        match JsFuture::from(js::ek_read(&self.reader)).await {
            Ok(v) if v.is_null() => {
                self.reader = JsValue::NULL;
                Ok(None)
            }
            Ok(v) => match v.dyn_into::<js_sys::Uint8Array>() {
                Ok(arr) => Ok(Some(arr.to_vec())),
                Err(_) => Err(Error::network(
                    "response body produced a chunk that is not bytes",
                )),
            },
            Err(e) => {
                self.reader = JsValue::NULL;
                Err(stopped(&self.signal, &e).unwrap_or_else(|| {
                    // Bad gzip data from the parse module's inflater (js/gzip.js `gunzipReader`)
                    // is the file's fault, not the connection's: not fetched again.
                    if js::ek_error_code(&e) == "E_DECODE" {
                        return Error::decode(0, 0, js::ek_error_message(&e));
                    }
                    Error::network(format!(
                        "response body cut short: {}",
                        js::ek_error_message(&e)
                    ))
                }))
            }
        }
    }
}

impl Transport for FetchTransport {
    type Body = FetchBody;

    async fn send(&self, req: &HttpRequest) -> Result<(ResponseHead, FetchBody)> {
        self.check_aborted()?;
        let headers = js_sys::Object::new();
        for (name, value) in &req.headers {
            js_sys::Reflect::set(
                &headers,
                &JsValue::from_str(name),
                &JsValue::from_str(value),
            )
            .map_err(|_| Error::invalid("headers", "could not be set"))?;
        }
        let body = match &req.body {
            Some(b) => js_sys::Uint8Array::from(&b[..]).into(),
            None => JsValue::UNDEFINED,
        };
        let follow = req.may_follow_redirects();
        let via = if follow {
            &self.fetch_file
        } else {
            &JsValue::UNDEFINED
        };
        let resp = JsFuture::from(js::ek_fetch(
            &req.url,
            req.method.as_str(),
            &headers,
            body,
            &self.signal,
            !follow,
            via,
        ))
        .await
        .map_err(|e| self.failure(&e))?;
        let status = js::ek_status(&resp);
        // A redirect that reached us was not followed: with credentials by design, and for a
        // presigned link it has no usable Location. Either way it is not the data.
        if let Some(host) = js::ek_redirect_host(&resp, &req.url) {
            let reader = js::ek_reader(&resp);
            if !reader.is_null() {
                js::ek_cancel(&reader);
            }
            return Err(Error::new(ErrorKind::Redirect {
                status,
                host: (!host.is_empty()).then_some(host),
            }));
        }
        let flat = js::ek_headers(&resp);
        let mut pairs = Vec::with_capacity(flat.length() as usize / 2);
        let mut i = 0;
        while i + 1 < flat.length() {
            pairs.push((
                flat.get(i).as_string().unwrap_or_default(),
                flat.get(i + 1).as_string().unwrap_or_default(),
            ));
            i += 2;
        }
        let reader = js::ek_reader(&resp);
        Ok((
            ResponseHead {
                status,
                headers: pairs,
            },
            FetchBody {
                reader,
                signal: self.signal.clone(),
                gunzip: self.gunzip.clone(),
            },
        ))
    }

    async fn sleep(&self, ms: f64) -> Result<()> {
        let p = js::ek_sleep(ms, &self.signal);
        // Dropped unfinished (it lost a race), the sleep clears its timer; finished, it is a no-op.
        let _cancel = CancelSleep(p.clone());
        JsFuture::from(p)
            .await
            .map(|_| ())
            .map_err(|e| stopped(&self.signal, &e).unwrap_or(Error::new(ErrorKind::Aborted)))
    }

    fn now_ms(&self) -> f64 {
        js::ek_now()
    }

    fn check_aborted(&self) -> Result<()> {
        match stopped(&self.signal, &JsValue::UNDEFINED) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
