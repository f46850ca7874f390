//! `client.forecasts` (issue 4): the Forecasting Query run and the flat table, for js/forecasts.js.
//! Pages cross as their JSON text (one `JSON.parse` in JavaScript beats building objects key by
//! key from here); tables cross as one JSON text for the same reason.

use super::backstory::{call_maybe_async, get, get_fn, raw_cells, set, BackstoryCore};
use super::errors::to_js;
use super::fetch::FetchTransport;
use super::options::{read, whole, ForecastRunOptions};
use super::results;
use crate::driver::forecasting::{
    run_forecasts, ForecastOptions, ForecastPage, ForecastProgress, ForecastSink, MAX_CONCURRENCY,
};
use crate::driver::Session;
use crate::error::{Error, Result};
use crate::providers::backstory::forecasting::table::{self, parse_records};
use crate::providers::backstory::forecasting::{validate_path, ForecastQuery, TotalChange};
use js_sys::{Array, Function, Object};
use wasm_bindgen::prelude::*;

struct JsForecastSink {
    on_page: Option<Function>,
    on_total_change: Option<Function>,
    on_progress: Option<Function>,
}

fn change_to_js(c: &TotalChange) -> JsValue {
    results::to_js(&results::ForecastTotalChange::from(c))
}

impl ForecastSink for JsForecastSink {
    async fn page(&mut self, page: ForecastPage) -> Result<()> {
        if let Some(f) = &self.on_page {
            let o = Object::new();
            set(&o, "page", page.number);
            set(&o, "pageLast", page.headers.page_last);
            // Without X-Total-Count the vendor said no total: null, not a guess.
            let total = if page.headers.exact {
                JsValue::from(page.headers.total_count as f64)
            } else {
                JsValue::NULL
            };
            set(&o, "totalCount", total);
            set(&o, "limit", page.headers.limit);
            set(&o, "count", page.records.len() as u32);
            set(&o, "body", String::from_utf8_lossy(&page.body).as_ref());
            call_maybe_async("onPage", f, &[o.into()]).await?;
        }
        Ok(())
    }

    fn total_changed(&mut self, change: TotalChange) {
        if let Some(f) = &self.on_total_change {
            // Reported, not fatal: a throwing callback must not break the run.
            let _ = f.call1(&JsValue::NULL, &change_to_js(&change));
        }
    }

    fn progress(&mut self, p: ForecastProgress) {
        if let Some(f) = &self.on_progress {
            let o = results::to_js(&results::ForecastProgress::from(&p));
            let _ = f.call1(&JsValue::NULL, &o);
        }
    }
}

fn options(o: &ForecastRunOptions) -> Result<ForecastOptions> {
    let mut out = ForecastOptions::default();
    if let Some(p) = &o.path {
        out.path = validate_path("path", p)?;
    }
    if let Some(n) = whole(
        "concurrency",
        o.concurrency,
        1.0,
        f64::from(MAX_CONCURRENCY),
    )? {
        out.concurrency = n as u32;
    }
    out.max_pages = whole("maxPages", o.max_pages, 1.0, f64::from(u32::MAX))?.map(|n| n as u32);
    Ok(out)
}

async fn run(session: &Session, params_json: &str, opts: &JsValue) -> Result<JsValue> {
    let query = ForecastQuery::from_json(params_json)?;
    let run_opts: ForecastRunOptions = read(opts)?;
    let options = options(&run_opts)?;
    let mut sink = JsForecastSink {
        on_page: get_fn(opts, "onPage")?,
        on_total_change: get_fn(opts, "onTotalChange")?,
        on_progress: get_fn(opts, "onProgress")?,
    };
    let timeout_ms = match run_opts.timeout_ms {
        None => None,
        Some(ms) if ms > 0.0 && ms.is_finite() => Some(ms),
        Some(_) => {
            return Err(Error::invalid(
                "timeoutMs",
                "must be a number of milliseconds above 0",
            ))
        }
    };
    let t = FetchTransport::with_deadline(get(opts, "signal"), timeout_ms);
    let out = run_forecasts(&t, session, &query, &options, &mut sink).await?;
    Ok(results::to_js(&results::ForecastSummary::from(&out)))
}

#[wasm_bindgen]
impl BackstoryCore {
    /// Validates Forecasting Query parameters (JSON text, snake_case or camelCase) and returns
    /// their canonical wire JSON.
    #[wasm_bindgen(js_name = validateForecastParams)]
    pub fn validate_forecast_params(params_json: &str) -> std::result::Result<String, JsValue> {
        ForecastQuery::from_json(params_json)
            .map(|q| q.to_json())
            .map_err(to_js)
    }

    /// Fetches every page of a query. `opts`: `{ path, concurrency, maxPages, signal, timeoutMs,
    /// onPage({ page, pageLast, totalCount, limit, count, body }), onTotalChange({ page,
    /// previous, current }), onProgress({ pages, records, pageLast, totalCount, inFlight }) }`;
    /// `onPage` may return a promise to hold the run until it settles.
    #[wasm_bindgen(js_name = forecastQuery)]
    pub async fn forecast_query(
        &self,
        params_json: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        run(&session, &params_json, &opts).await.map_err(to_js)
    }
}

/// Forecast records flattened: one row per record, one column per forecast field. Records go
/// in as JSON text (an array); `keep: false` learns the columns only, so a caller streaming CSV
/// can make a first pass for the columns and a second one for the rows in bounded memory.
#[wasm_bindgen(js_name = ForecastTable)]
#[derive(Default)]
pub struct ForecastTableJs {
    inner: table::ForecastTable,
}

#[wasm_bindgen(js_class = ForecastTable)]
impl ForecastTableJs {
    /// `opts`: `{ csvGuard: true }` (false: CSV cells as they are).
    #[wasm_bindgen(constructor)]
    pub fn new(opts: JsValue) -> std::result::Result<ForecastTableJs, JsValue> {
        let mut t = ForecastTableJs::default();
        t.inner.set_raw_cells(raw_cells(&opts).map_err(to_js)?);
        Ok(t)
    }

    /// Adds the records of a JSON array; returns how many there were.
    pub fn push(&mut self, records_json: &str, keep: bool) -> std::result::Result<u32, JsValue> {
        let records = parse_records(records_json.as_bytes(), "records").map_err(to_js)?;
        let n = records.len() as u32;
        for r in records {
            if keep {
                self.inner.push(r);
            } else {
                self.inner.observe(&r);
            }
        }
        Ok(n)
    }

    pub fn columns(&self) -> Array {
        self.inner
            .columns()
            .iter()
            .map(|c| JsValue::from_str(c))
            .collect()
    }

    /// `{"columns": [...], "rows": [[...]]}` of the kept records.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> std::result::Result<String, JsValue> {
        self.inner.to_json().map_err(to_js)
    }

    /// The header and every kept record as CSV (RFC 4180, CRLF).
    #[wasm_bindgen(js_name = toCsv)]
    pub fn to_csv(&self) -> std::result::Result<String, JsValue> {
        self.inner.to_csv().map_err(to_js)
    }

    #[wasm_bindgen(js_name = csvHeader)]
    pub fn csv_header(&self) -> String {
        let mut out = String::new();
        self.inner.write_csv_header(&mut out);
        out
    }

    /// CSV rows for records (a JSON array) in the columns learnt so far; not kept.
    #[wasm_bindgen(js_name = csvRows)]
    pub fn csv_rows(&self, records_json: &str) -> std::result::Result<String, JsValue> {
        let records = parse_records(records_json.as_bytes(), "records").map_err(to_js)?;
        let mut out = String::new();
        for r in &records {
            self.inner.write_csv_row(r, &mut out).map_err(to_js)?;
        }
        Ok(out)
    }
}
