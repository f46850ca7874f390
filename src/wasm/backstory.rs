//! `BackstoryCore`: the wasm half of the JavaScript `BackstoryClient` (js/index.js adds the
//! idioms Rust cannot express: async iterators, the result cache, default stores).

use super::batch::{batch_rows_option, batch_to_js};
use super::errors::{callback_error, to_js};
use super::fetch::FetchTransport;
use super::options::{read, QueryRunOptions};
use crate::core::auth::ClientCredentials;
use crate::core::http::validate_base_url;
use crate::driver::{self, Progress, QueryOptions, QuerySink, QuotaStore, Session};
use crate::error::Result;
use crate::parse::csv::RowBatch;
use crate::providers::backstory::query::{Column, Query};
use js_sys::{Array, Function, Object};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

// Shared with the parse module's classes (src/wasm/props.rs); re-exported so callers keep their paths.
pub(crate) use super::props::{get, get_fn, raw_cells, set};

/// Calls a progress-like callback; a throwing one must not break the run.
pub(crate) fn notify(f: &Option<Function>, v: &JsValue) {
    if let Some(f) = f {
        let _ = f.call1(&JsValue::NULL, v);
    }
}

pub(crate) fn columns_to_js(cols: &[Column]) -> JsValue {
    let v: Vec<super::results::MissingColumn> = cols.iter().map(Into::into).collect();
    super::results::to_js(&v)
}

/// A quota store backed by two JavaScript functions, `load()` and `save(value)`.
struct JsQuotaStore {
    load: Option<Function>,
    save: Option<Function>,
    memory: Option<String>,
}

impl QuotaStore for JsQuotaStore {
    fn load(&self) -> Option<String> {
        match &self.load {
            Some(f) => f.call0(&JsValue::NULL).ok().and_then(|v| v.as_string()),
            None => self.memory.clone(),
        }
    }
    fn save(&mut self, value: String) {
        match &self.save {
            Some(f) => {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&value));
            }
            None => self.memory = Some(value),
        }
    }
}

struct JsSink {
    on_header: Option<Function>,
    on_batch: Option<Function>,
    on_raw: Option<Function>,
    on_progress: Option<Function>,
}

/// Calls the caller's callback `name`; a callback that returns a promise gets backpressure: we
/// read no more until it settles. A throw or a rejection ends the run with the caller's own
/// exception as the error's `cause`.
pub(crate) async fn call_maybe_async(name: &str, f: &Function, args: &[JsValue]) -> Result<()> {
    let arr: Array = args.iter().collect();
    let ret = f
        .apply(&JsValue::NULL, &arr)
        .map_err(|e| callback_error(name, e))?;
    if let Ok(p) = ret.dyn_into::<js_sys::Promise>() {
        JsFuture::from(p)
            .await
            .map_err(|e| callback_error(name, e))?;
    }
    Ok(())
}

impl QuerySink for JsSink {
    async fn header(&mut self, header: &[String], missing: &[Column]) -> Result<()> {
        if let Some(f) = &self.on_header {
            let h: Array = header.iter().map(|s| JsValue::from_str(s)).collect();
            call_maybe_async("onHeader", f, &[h.into(), columns_to_js(missing)]).await?;
        }
        Ok(())
    }

    async fn batch(&mut self, batch: RowBatch) -> Result<()> {
        if let Some(f) = &self.on_batch {
            call_maybe_async("onBatch", f, &[batch_to_js(&batch)]).await?;
        }
        Ok(())
    }

    fn raw(&mut self, chunk: &[u8]) {
        if let Some(f) = &self.on_raw {
            let _ = f.call1(&JsValue::NULL, &js_sys::Uint8Array::from(chunk));
        }
    }

    fn progress(&mut self, p: Progress) {
        if let Some(f) = &self.on_progress {
            let o = Object::new();
            set(&o, "phase", p.phase.as_str());
            set(&o, "bytes", p.bytes as f64);
            set(&o, "rows", p.rows as f64);
            // A throwing progress callback must not break the export.
            let _ = f.call1(&JsValue::NULL, &o);
        }
    }
}

#[wasm_bindgen]
pub struct BackstoryCore {
    pub(crate) session: Rc<Session>,
}

#[wasm_bindgen]
impl BackstoryCore {
    /// `baseUrl`, `clientId`, `clientSecret`. The secret stays inside wasm memory and only leaves
    /// in the body of the token exchange.
    #[wasm_bindgen(constructor)]
    pub fn new(
        base_url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> std::result::Result<BackstoryCore, JsValue> {
        let base = validate_base_url("baseUrl", base_url).map_err(to_js)?;
        let creds = ClientCredentials::new(client_id, client_secret).map_err(to_js)?;
        Ok(BackstoryCore {
            session: Rc::new(Session::oauth(base, creds)),
        })
    }

    /// A client behind a proxy that holds the credentials (the edge worker): the page sends no
    /// secret and the proxy authorises each call.
    #[wasm_bindgen(js_name = viaProxy)]
    pub fn via_proxy(proxy_url: &str) -> std::result::Result<BackstoryCore, JsValue> {
        let base = validate_base_url("proxyUrl", proxy_url).map_err(to_js)?;
        Ok(BackstoryCore {
            session: Rc::new(Session::proxied(base)),
        })
    }

    /// Validates a query (JSON text) and returns its canonical JSON, which is also the body sent.
    #[wasm_bindgen(js_name = validateQuery)]
    pub fn validate_query(query_json: &str) -> std::result::Result<String, JsValue> {
        Query::from_json(query_json)
            .map(|q| q.to_json())
            .map_err(to_js)
    }

    /// Calls left today according to a stored count (the string a quota store holds).
    #[wasm_bindgen(js_name = callsLeft)]
    pub fn calls_left(stored: Option<String>) -> u32 {
        let store = crate::driver::MemoryQuotaStore(stored);
        driver::calls_left(&store, super::js::ek_now())
    }

    /// Runs a query. `opts`: `{ force, strict, batchRows, skipEmptyLines, signal, quotaLoad, quotaSave,
    /// onHeader(header, missing), onBatch(batch), onRaw(bytes), onProgress(p) }`.
    pub async fn query(
        &self,
        query_json: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        run(&session, &query_json, &opts).await.map_err(to_js)
    }
}

async fn run(session: &Session, query_json: &str, opts: &JsValue) -> Result<JsValue> {
    let query = Query::from_json(query_json)?;
    let batch_rows = batch_rows_option(opts)?;
    let o: QueryRunOptions = read(opts)?;
    let options = QueryOptions {
        force: o.force.unwrap_or(false),
        strict: o.strict.unwrap_or(false),
        batch_rows,
        skip_empty_lines: super::batch::skip_empty_lines_option(opts)?,
    };
    let mut store = JsQuotaStore {
        load: get_fn(opts, "quotaLoad")?,
        save: get_fn(opts, "quotaSave")?,
        memory: None,
    };
    let mut sink = JsSink {
        on_header: get_fn(opts, "onHeader")?,
        on_batch: get_fn(opts, "onBatch")?,
        on_raw: get_fn(opts, "onRaw")?,
        on_progress: get_fn(opts, "onProgress")?,
    };
    let t = FetchTransport::with_deadline(get(opts, "signal"), o.timeout_ms);
    let out = driver::run_query(&t, session, &mut store, &query, &options, &mut sink).await?;
    let o = Object::new();
    set(
        &o,
        "header",
        out.header
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect::<Array>(),
    );
    set(&o, "missingColumns", columns_to_js(&out.missing));
    set(
        &o,
        "unexpectedColumns",
        out.unexpected
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect::<Array>(),
    );
    set(&o, "rowCount", out.rows as f64);
    set(&o, "bytes", out.bytes as f64);
    set(&o, "callsLeft", out.calls_left);
    set(&o, "errors", super::batch::row_errors_to_js(&out.errors));
    Ok(o.into())
}
