//! `UserpilotCore`: the wasm half of the JavaScript `UserpilotClient` (js/userpilot.js adds the
//! async iterators). Records cross as one JSON array text per batch (one `JSON.parse` on the JS
//! side), CSV rows as packed batches, lookups as JSON text.

use super::backstory::{call_maybe_async, get, get_fn, notify, set};
use super::batch::batch_to_js;
use super::checkpoints::{read_checkpoint, send_checkpoint};
use super::errors::to_js;
use super::fetch::{FetchBody, FetchTransport};
use super::options::{
    read, whole, LookupOptions, PollOptions, UserpilotDownloadOptions, UserpilotStartRunOptions,
};
use super::results;
use crate::core::auth::Secret;
use crate::core::http::validate_base_url;
use crate::driver::userpilot::{
    self as up, FileRef, GunzipBody, JsonBatch, PageSink, RowsCheckpoint, RowsOptions,
    RowsProgress, RowsSink, StartEvent, StartOptions, WaitOptions, MAX_CONCURRENCY,
};
use crate::driver::Session;
use crate::error::{Error, Result};
use crate::parse::csv::RowBatch;
use crate::providers::userpilot::exports::{ExportParams, Job, EVENT_TYPES};
use crate::providers::userpilot::lookups::{Page, PageRequest, LOOKUPS, MAX_LIMIT, PAGINATED};
use js_sys::{Array, Function, Object};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
// A gzip decoder in front of a fetch reader: the runtime's own when `native` asks for it and it
// has one, else `fallback` (js/gzip.js `gunzipReader`: the parse module's inflater).
export function up_gunzip_reader(reader, native, fallback) {
  const other = () => (typeof fallback === "function" ? fallback(reader) : null);
  if (!native || typeof DecompressionStream !== "function") return other();
  let ds;
  try { ds = new DecompressionStream("gzip"); } catch (_) { return other(); }
  const src = new ReadableStream({
    async pull(c) {
      const { done, value } = await reader.read();
      if (done) c.close(); else c.enqueue(value);
    },
    cancel(reason) { return reader.cancel(reason); },
  });
  return src.pipeThrough(ds).getReader();
}
"#)]
extern "C" {
    fn up_gunzip_reader(reader: &JsValue, native: bool, fallback: &JsValue) -> JsValue;
}

impl GunzipBody for FetchBody {
    fn gunzip(&mut self, native: bool) -> bool {
        let fallback = self.gunzip.clone();
        self.wrap_reader(|r| up_gunzip_reader(r, native, &fallback))
    }
}

#[wasm_bindgen]
pub struct UserpilotCore {
    session: Rc<Session>,
}

fn strings(v: &[String]) -> Array {
    v.iter().map(|s| JsValue::from_str(s)).collect()
}

fn opt_str(v: Option<&str>) -> JsValue {
    v.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

pub(crate) fn job_to_js(j: &Job) -> JsValue {
    results::to_js(&results::UserpilotJob::from(j))
}

fn page_to_js(p: &Page) -> Result<JsValue> {
    let o = Object::new();
    let text = serde_json::to_string(&p.data)
        .map_err(|e| Error::decode(1, 0, format!("lookup data: {e}")))?;
    let data = js_sys::JSON::parse(&text)
        .map_err(|_| Error::decode(1, 0, "lookup data could not be handed to JavaScript"))?;
    set(&o, "data", data);
    set(&o, "after", opt_str(p.after.as_deref()));
    set(&o, "before", opt_str(p.before.as_deref()));
    set(
        &o,
        "limit",
        p.limit.map(JsValue::from).unwrap_or(JsValue::NULL),
    );
    set(
        &o,
        "totalCount",
        p.total_count
            .map(|n| JsValue::from_f64(n as f64))
            .unwrap_or(JsValue::NULL),
    );
    set(
        &o,
        "totalCountCapExceeded",
        p.total_count_cap_exceeded
            .map(JsValue::from_bool)
            .unwrap_or(JsValue::NULL),
    );
    Ok(o.into())
}

fn wait_options(opts: &JsValue) -> Result<WaitOptions> {
    let o: PollOptions = read(opts)?;
    let d = WaitOptions::default();
    Ok(WaitOptions {
        initial_ms: whole("pollIntervalMs", o.poll_interval_ms, 1.0, 3_600_000.0)?
            .unwrap_or(d.initial_ms),
        max_ms: whole("pollMaxMs", o.poll_max_ms, 1.0, 3_600_000.0)?.unwrap_or(d.max_ms),
        timeout_ms: whole("timeoutMs", o.timeout_ms, 1.0, 1e12)?,
    })
}

/// `fetchFile` (the CLI's link rule) only ever sees presigned links: the transport sends
/// anything that carries the API key through the global fetch, with redirects refused.
fn transport(opts: &JsValue) -> FetchTransport {
    FetchTransport::of_options(opts)
        .with_fetch_file(get(opts, "fetchFile"))
        .with_gunzip(get(opts, "gunzipReader"))
}

/// A lookup page's `limit`, within the vendor's bounds.
fn lookup_limit(o: &LookupOptions) -> Result<Option<u32>> {
    Ok(whole("limit", o.limit, 1.0, MAX_LIMIT as f64)?.map(|n| n as u32))
}

struct JsRowsSink {
    on_records: Option<Function>,
    on_rows: Option<Function>,
    on_csv: Option<Function>,
    on_progress: Option<Function>,
    on_checkpoint: Option<Function>,
}

fn file_obj(file: FileRef<'_>) -> Object {
    let o = Object::new();
    set(&o, "file", file.index as u32);
    set(&o, "filename", file.filename);
    o
}

impl RowsSink for JsRowsSink {
    async fn records(&mut self, file: FileRef<'_>, batch: JsonBatch) -> Result<()> {
        if let Some(f) = &self.on_records {
            let o = file_obj(file);
            set(&o, "text", batch.text.as_str());
            set(&o, "count", batch.count as u32);
            set(&o, "firstLine", batch.first_line as f64);
            set(&o, "lastLine", batch.last_line as f64);
            call_maybe_async("onRecords", f, &[o.into()]).await?;
        }
        Ok(())
    }

    async fn rows(&mut self, file: FileRef<'_>, header: &[String], batch: RowBatch) -> Result<()> {
        if let Some(f) = &self.on_rows {
            let o = file_obj(file);
            set(&o, "header", strings(header));
            set(&o, "batch", batch_to_js(&batch));
            call_maybe_async("onRows", f, &[o.into()]).await?;
        }
        Ok(())
    }

    async fn flat(&mut self, file: FileRef<'_>, csv: String, rows: u64) -> Result<()> {
        if let Some(f) = &self.on_csv {
            let o = file_obj(file);
            set(&o, "csv", csv.as_str());
            set(&o, "rows", rows as f64);
            call_maybe_async("onCsv", f, &[o.into()]).await?;
        }
        Ok(())
    }

    fn progress(&mut self, p: &RowsProgress) {
        if self.on_progress.is_some() {
            let o = Object::new();
            set(&o, "filesDone", p.files_done as u32);
            set(&o, "filesTotal", p.files_total as u32);
            set(&o, "records", p.records as f64);
            set(&o, "duplicates", p.duplicates as f64);
            set(&o, "bytes", p.bytes as f64);
            set(&o, "renewals", p.renewals);
            set(&o, "restarts", p.restarts);
            notify(&self.on_progress, &o.into());
        }
    }

    fn checkpoint(&mut self, at: &RowsCheckpoint) {
        send_checkpoint(&self.on_checkpoint, at);
    }
}

struct JsPageSink(Option<Function>);

impl PageSink for JsPageSink {
    async fn page(&mut self, page: Page) -> Result<()> {
        if let Some(f) = &self.0 {
            call_maybe_async("onPage", f, &[page_to_js(&page)?]).await?;
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl UserpilotCore {
    /// `baseUrl` and the API key. The key stays in wasm memory and only leaves in the
    /// `Authorization: Token ...` header of API calls, never to a presigned URL's host.
    #[wasm_bindgen(constructor)]
    pub fn new(base_url: &str, api_key: &str) -> std::result::Result<UserpilotCore, JsValue> {
        let base = validate_base_url("baseUrl", base_url).map_err(to_js)?;
        let key = api_key.trim();
        if key.is_empty() || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(to_js(Error::invalid(
                "apiKey",
                "must be a non-empty key without spaces",
            )));
        }
        Ok(UserpilotCore {
            session: Rc::new(Session::with_header(
                base,
                "Authorization",
                Secret::new(format!("Token {key}")),
            )),
        })
    }

    /// Behind a proxy that adds the key (the edge worker): the page holds no secret.
    #[wasm_bindgen(js_name = viaProxy)]
    pub fn via_proxy(proxy_url: &str) -> std::result::Result<UserpilotCore, JsValue> {
        let base = validate_base_url("proxyUrl", proxy_url).map_err(to_js)?;
        Ok(UserpilotCore {
            session: Rc::new(Session::proxied(base)),
        })
    }

    /// Validates export parameters (JSON text; camelCase keys accepted) and returns the body
    /// that would be sent, in the vendor's snake_case.
    #[wasm_bindgen(js_name = validateParams)]
    pub fn validate_params(params_json: &str) -> std::result::Result<String, JsValue> {
        ExportParams::from_json(params_json)
            .map(|p| p.to_json())
            .map_err(to_js)
    }

    #[wasm_bindgen(js_name = eventTypes)]
    pub fn event_types() -> Array {
        EVENT_TYPES.iter().map(|s| JsValue::from_str(s)).collect()
    }

    #[wasm_bindgen(js_name = lookupNames)]
    pub fn lookup_names() -> Array {
        LOOKUPS.iter().map(|s| JsValue::from_str(s)).collect()
    }

    #[wasm_bindgen(js_name = paginatedLookups)]
    pub fn paginated_lookups() -> Array {
        PAGINATED.iter().map(|s| JsValue::from_str(s)).collect()
    }

    /// Starts an export. `opts`: `{ waitForRunning, pollIntervalMs, pollMaxMs, timeoutMs, signal,
    /// onWaiting(jobId|null), onProgress(job) }`.
    pub async fn start(
        &self,
        params_json: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let params = ExportParams::from_json(&params_json)?;
            let s: UserpilotStartRunOptions = read(&opts)?;
            let options = StartOptions {
                wait_for_running: s.wait_for_running.unwrap_or(false),
                wait: wait_options(&opts)?,
            };
            let on_waiting = get_fn(&opts, "onWaiting")?;
            let on_progress = get_fn(&opts, "onProgress")?;
            let t = transport(&opts);
            let c = up::start(&t, &session, &params, &options, &mut |ev| match ev {
                StartEvent::WaitingFor(id) => notify(&on_waiting, &opt_str(id)),
                StartEvent::Progress(j) => notify(&on_progress, &job_to_js(j)),
            })
            .await?;
            let o = Object::new();
            set(&o, "jobId", c.job_id.as_str());
            set(
                &o,
                "environmentAppToken",
                opt_str(c.environment_app_token.as_deref()),
            );
            set(
                &o,
                "environmentName",
                opt_str(c.environment_name.as_deref()),
            );
            set(&o, "links", opt_str(c.links.as_deref()));
            set(&o, "startTime", opt_str(c.start_time.as_deref()));
            Ok(JsValue::from(o))
        }
        .await
        .map_err(to_js)
    }

    pub async fn get(
        &self,
        job_id: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        let t = transport(&opts);
        up::get_job(&t, &session, &job_id)
            .await
            .map(|j| job_to_js(&j))
            .map_err(to_js)
    }

    pub async fn list(&self, opts: JsValue) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        let t = transport(&opts);
        up::list_jobs(&t, &session)
            .await
            .map(|jobs| jobs.iter().map(job_to_js).collect::<Array>().into())
            .map_err(to_js)
    }

    /// Waits for a job to complete. `opts`: `{ pollIntervalMs, pollMaxMs, timeoutMs, signal,
    /// onProgress(job) }`.
    pub async fn wait(
        &self,
        job_id: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let w = wait_options(&opts)?;
            let on_progress = get_fn(&opts, "onProgress")?;
            let t = transport(&opts);
            let j = up::wait(&t, &session, &job_id, &w, &mut |j| {
                notify(&on_progress, &job_to_js(j))
            })
            .await?;
            Ok(job_to_js(&j))
        }
        .await
        .map_err(to_js)
    }

    /// Delivers a job's rows in file order. `opts`: `{ concurrency, dedupe, strict,
    /// batchRecords, flatten, csvGuard, nativeGunzip, stallTimeoutMs, pollIntervalMs, pollMaxMs, timeoutMs, signal,
    /// onRecords({file, filename, text, count, firstLine, lastLine}),
    /// onRows({file, filename, header, batch}), onCsv({file, filename, csv, rows}),
    /// onProgress(p), onCheckpoint(text), checkpoint }`: `checkpoint`, a text `onCheckpoint`
    /// received, continues that run past the files and lines it covers. Resolves to the summary.
    pub async fn rows(
        &self,
        job_id: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let d = RowsOptions::default();
            let o: UserpilotDownloadOptions = read(&opts)?;
            const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
            let options = RowsOptions {
                concurrency: whole("concurrency", o.concurrency, 1.0, MAX_CONCURRENCY as f64)?
                    .map_or(d.concurrency, |n| n as usize),
                dedupe: o.dedupe.unwrap_or(false),
                strict: o.strict.unwrap_or(false),
                batch_records: whole("batchRecords", o.batch_records, 1.0, 1_000_000.0)?
                    .map_or(d.batch_records, |n| n as usize),
                flatten: o.flatten.unwrap_or(false),
                native_gunzip: o.native_gunzip.unwrap_or(true),
                stall_timeout_ms: whole("stallTimeoutMs", o.stall_timeout_ms, 1.0, 3_600_000.0)?,
                raw_cells: !o.csv_guard.unwrap_or(true),
                max_line_bytes: whole("maxLineBytes", o.max_line_bytes, 1024.0, GIB)?
                    .map_or(d.max_line_bytes, |n| n as usize),
                max_depth: whole("maxDepth", o.max_depth, 1.0, 1000.0)?
                    .map_or(d.max_depth, |n| n as usize),
                wait: wait_options(&opts)?,
                flatten_columns: super::activities::header_columns(&opts, "flattenColumns")?,
            };
            let mut sink = JsRowsSink {
                on_records: get_fn(&opts, "onRecords")?,
                on_rows: get_fn(&opts, "onRows")?,
                on_csv: get_fn(&opts, "onCsv")?,
                on_progress: get_fn(&opts, "onProgress")?,
                on_checkpoint: get_fn(&opts, "onCheckpoint")?,
            };
            let resume = read_checkpoint(&opts, &job_id)?;
            let t = transport(&opts);
            let out = up::rows_from(&t, &session, &job_id, &options, resume.as_ref(), &mut sink)
                .await
                .map_err(super::activities::as_checkpoint_error)?;
            Ok(results::to_js(&results::UserpilotRowsSummary::from(&out)))
        }
        .await
        .map_err(to_js)
    }

    /// One page of a lookup. `opts`: `{ afterCursor, limit, signal }`.
    pub async fn lookup(
        &self,
        name: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let o: LookupOptions = read(&opts)?;
            let page = PageRequest {
                limit: lookup_limit(&o)?,
                after_cursor: o.after_cursor,
            };
            let t = transport(&opts);
            let p = up::lookup(&t, &session, &name, &page).await?;
            page_to_js(&p)
        }
        .await
        .map_err(to_js)
    }

    /// Walks a lookup's cursor pages to the end. `opts`: `{ limit, signal, onPage(page) }`;
    /// resolves to `{ pages, items }`.
    #[wasm_bindgen(js_name = lookupPages)]
    pub async fn lookup_pages(
        &self,
        name: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let limit = lookup_limit(&read(&opts)?)?;
            let mut sink = JsPageSink(get_fn(&opts, "onPage")?);
            let t = transport(&opts);
            let (pages, items) = up::lookup_pages(&t, &session, &name, limit, &mut sink).await?;
            let o = Object::new();
            set(&o, "pages", pages as f64);
            set(&o, "items", items as f64);
            Ok(JsValue::from(o))
        }
        .await
        .map_err(to_js)
    }
}
