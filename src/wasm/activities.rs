//! `client.activities` (issue 3): the Raw Activity Data API for js/activities.js.
//!
//! Data crosses into JavaScript once per chunk read (tens of KiB), never once per record: records
//! as one JSON array text (`JSON.parse` once), CSV as text, raw JSON Lines as bytes.

use super::backstory::{call_maybe_async, get, get_fn, notify, set, BackstoryCore};
use super::checkpoints::{read_checkpoint, send_checkpoint};
use super::errors::to_js;
use super::fetch::FetchTransport;
use super::js::ek_now;
use super::options::{read, whole, ActivityDownloadOptions, PollOptions};
use super::results;
use crate::driver::activities::{
    self as drv, ActivitySink, Delivery, DownloadCheckpoint, DownloadOptions, ExportOptions,
    ExportOutcome, OutputKind, Place, Progress, WaitOptions,
};
use crate::driver::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::backstory::activities::schema::activity_columns;
use crate::providers::backstory::activities::{
    check_job_id, plan_windows, ExportRequest, Job, JobParams, MAX_CONCURRENCY, MAX_QUEUED,
};
use js_sys::{Array, Function, Object, Uint8Array};
use wasm_bindgen::prelude::*;

/// Progress reports that are not state changes are sent at most this often.
const PROGRESS_EVERY_MS: f64 = 100.0;

pub(crate) fn job_to_js(j: &Job) -> JsValue {
    results::to_js(&results::ActivityJob::from(j))
}

fn wait_options(opts: &JsValue) -> Result<WaitOptions> {
    let o: PollOptions = read(opts)?;
    let mut w = WaitOptions::default();
    if let Some(n) = whole("pollIntervalMs", o.poll_interval_ms, 10.0, 600_000.0)? {
        w.poll_initial_ms = n;
        w.poll_max_ms = w.poll_max_ms.max(n);
    }
    if let Some(n) = whole("pollMaxMs", o.poll_max_ms, 10.0, 3_600_000.0)? {
        w.poll_max_ms = n.max(w.poll_initial_ms);
    }
    w.timeout_ms = whole("timeoutMs", o.timeout_ms, 1.0, 7.0 * 86_400_000.0)?;
    Ok(w)
}

fn download_options(o: &ActivityDownloadOptions) -> Result<DownloadOptions> {
    let mut d = DownloadOptions::default();
    if let Some(n) = whole("concurrency", o.concurrency, 1.0, MAX_CONCURRENCY as f64)? {
        d.concurrency = n as usize;
    }
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if let Some(n) = whole("readAheadBytes", o.read_ahead_bytes, 1024.0, GIB)? {
        d.read_ahead_bytes = n as usize;
    }
    if let Some(n) = whole("batchRecords", o.batch_records, 1.0, 1_000_000.0)? {
        d.batch_records = n as usize;
    }
    if let Some(n) = whole("maxLineBytes", o.max_line_bytes, 1024.0, GIB)? {
        d.max_line_bytes = n as usize;
    }
    d.stall_timeout_ms = whole("stallTimeoutMs", o.stall_timeout_ms, 1.0, 3_600_000.0)?;
    if let Some(p) = &o.parts {
        let bound = |v: Option<&f64>| whole("parts", v.copied(), 0.0, 1_000_000.0);
        match (p.len(), bound(p.first())?, bound(p.get(1))?) {
            (2, Some(from), Some(to)) if from <= to => d.parts = Some((from as usize, to as usize)),
            _ => {
                return Err(Error::invalid(
                    "parts",
                    "must be [from, to]: whole numbers, from <= to",
                ))
            }
        }
    }
    d.strict = o.strict.unwrap_or(false);
    d.raw_cells = !o.csv_guard.unwrap_or(true);
    let explode = o.explode.clone();
    d.output = match o.format.as_deref() {
        None | Some("records") => OutputKind::Records,
        Some("csv") => OutputKind::Csv {
            explode: explode.clone(),
        },
        Some("jsonl") => OutputKind::Raw,
        Some(_) => {
            return Err(Error::invalid(
                "format",
                "must be \"records\", \"csv\" or \"jsonl\"",
            ))
        }
    };
    if explode.is_some() && !matches!(d.output, OutputKind::Csv { .. }) {
        return Err(Error::invalid("explode", "applies to format \"csv\" only"));
    }
    d.validate()?;
    Ok(d)
}

struct JsActivitySink {
    on_batch: Option<Function>,
    on_progress: Option<Function>,
    on_job: Option<Function>,
    on_checkpoint: Option<Function>,
    last_progress_ms: f64,
}

impl JsActivitySink {
    fn new(opts: &JsValue) -> Result<Self> {
        Ok(JsActivitySink {
            on_batch: get_fn(opts, "onBatch")?,
            on_progress: get_fn(opts, "onProgress")?,
            on_job: get_fn(opts, "onJob")?,
            on_checkpoint: get_fn(opts, "onCheckpoint")?,
            last_progress_ms: f64::MIN,
        })
    }
}

fn place_into(o: &Object, at: &Place<'_>) {
    set(o, "window", at.window as u32);
    set(o, "jobId", at.job_id);
    set(
        o,
        "fragment",
        at.fragment.map(JsValue::from).unwrap_or(JsValue::NULL),
    );
}

impl ActivitySink for JsActivitySink {
    async fn deliver(&mut self, at: Place<'_>, data: Delivery) -> Result<()> {
        let Some(f) = &self.on_batch else {
            return Ok(());
        };
        let o = Object::new();
        place_into(&o, &at);
        match data {
            Delivery::Records(b) => {
                set(&o, "kind", "records");
                set(&o, "count", b.count as u32);
                set(&o, "firstLine", b.first_line as f64);
                set(&o, "text", b.text);
            }
            Delivery::Csv { text, rows } => {
                set(&o, "kind", "csv");
                set(&o, "rows", rows as f64);
                set(&o, "text", text);
            }
            Delivery::Raw(bytes) => {
                set(&o, "kind", "jsonl");
                set(&o, "bytes", Uint8Array::from(&bytes[..]));
            }
        }
        call_maybe_async("onBatch", f, &[o.into()]).await
    }

    fn job(&mut self, window: usize, job: &Job) {
        if let Some(f) = &self.on_job {
            // A throwing callback must not break the export.
            let _ = f.call2(
                &JsValue::NULL,
                &job_to_js(job),
                &JsValue::from(window as u32),
            );
        }
    }

    fn progress(&mut self, p: &Progress) {
        let Some(f) = &self.on_progress else {
            return;
        };
        let now = ek_now();
        if !p.significant && now - self.last_progress_ms < PROGRESS_EVERY_MS {
            return;
        }
        self.last_progress_ms = now;
        let _ = f.call1(&JsValue::NULL, &progress_to_js(p));
    }

    fn checkpoint(&mut self, at: &DownloadCheckpoint) {
        send_checkpoint(&self.on_checkpoint, at);
    }
}

/// The CSV columns of the run a checkpoint continues (`csvColumns`, `flattenColumns`: set by
/// js/ from the header the checkpoint holds), so the rest is written under the same header.
pub(crate) fn header_columns(opts: &JsValue, key: &str) -> Result<Option<Vec<String>>> {
    let v = get(opts, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let bad = || Error::invalid("checkpoint", "holds a CSV header this export cannot use");
    if !Array::is_array(&v) {
        return Err(bad());
    }
    let a = Array::from(&v);
    if a.length() == 0 || a.length() > 100_000 {
        return Err(bad());
    }
    a.iter()
        .map(|c| c.as_string().ok_or_else(bad))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The driver names a checkpoint it cannot continue `resumeFrom`; JavaScript calls it `checkpoint`.
pub(crate) fn as_checkpoint_error(e: Error) -> Error {
    match e.kind() {
        ErrorKind::InvalidArgument { field, reason } if field.starts_with("resumeFrom") => {
            Error::invalid("checkpoint", reason.clone())
        }
        _ => e,
    }
}

fn progress_to_js(p: &Progress) -> JsValue {
    results::to_js(&results::ActivityProgress::from(p))
}

fn outcome_to_js(out: &ExportOutcome) -> JsValue {
    results::to_js(&results::ActivitySummary::from(out))
}

fn windows_to_js(windows: &[JobParams]) -> Array {
    windows
        .iter()
        .map(|w| {
            let o = Object::new();
            set(&o, "startDate", w.start_date());
            set(&o, "endDate", w.end_date());
            set(&o, "activityType", w.activity_type.as_str());
            set(&o, "exportType", w.export_type.as_str());
            JsValue::from(o)
        })
        .collect()
}

async fn job_by_id(session: &Session, job_id: &str, opts: &JsValue) -> Result<Job> {
    check_job_id(job_id)?;
    let t = FetchTransport::of_options(opts);
    drv::get_job(&t, session, job_id).await
}

#[wasm_bindgen]
impl BackstoryCore {
    /// Validates export parameters (JSON text, camelCase or snake_case) and returns the planned
    /// windows: `[{ startDate, endDate, activityType, exportType }]`, one job each.
    #[wasm_bindgen(js_name = planActivityExport)]
    pub fn plan_activity_export(params_json: &str) -> std::result::Result<Array, JsValue> {
        let r = ExportRequest::from_json(params_json).map_err(to_js)?;
        Ok(windows_to_js(&plan_windows(&r)))
    }

    /// How many data requests a Completed job's download plans (the units of the `parts` option
    /// of `activitiesRows`), from the job's `fragment` (`fragmentCount`) and `results_size`.
    #[wasm_bindgen(js_name = activityDataParts)]
    pub fn activity_data_parts(fragment: Option<f64>, results_size: Option<f64>) -> u32 {
        // `Map::insert`, not `job["fragment"] = …`: `IndexMut` reaches a second copy of the
        // B-tree's insert (3 KB of the wasm client, issue 19).
        let mut job = serde_json::Map::new();
        job.insert("job_id".into(), "parts".into());
        job.insert("state".into(), "Completed".into());
        if let Some(n) = fragment.filter(|n| n.is_finite() && *n >= 0.0) {
            job.insert("fragment".into(), (n as u64).into());
        }
        if let Some(n) = results_size.filter(|n| n.is_finite() && *n >= 0.0) {
            job.insert("results_size".into(), (n as u64).into());
        }
        Job::from_value(&job.into()).map_or(1, |j| drv::data_parts(&j) as u32)
    }

    /// Validates parameters for one job (a delta range of at most 14 days).
    #[wasm_bindgen(js_name = validateActivityJob)]
    pub fn validate_activity_job(params_json: &str) -> std::result::Result<String, JsValue> {
        JobParams::from_json(params_json)
            .map(|p| p.to_value().to_string())
            .map_err(to_js)
    }

    /// The CSV columns an activity export starts with.
    #[wasm_bindgen(js_name = activityColumns)]
    pub fn activity_columns_js(explode: Option<String>) -> Array {
        activity_columns(explode.as_deref())
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect()
    }

    /// `POST /jobs` for one job. `opts`: `{ signal }`.
    #[wasm_bindgen(js_name = activitiesStart)]
    pub async fn activities_start(
        &self,
        params_json: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let p = JobParams::from_json(&params_json)?;
            let t = FetchTransport::of_options(&opts);
            drv::create_job(&t, &session, &p)
                .await
                .map(|j| job_to_js(&j))
        }
        .await
        .map_err(to_js)
    }

    #[wasm_bindgen(js_name = activitiesGet)]
    pub async fn activities_get(
        &self,
        job_id: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        job_by_id(&session, &job_id, &opts)
            .await
            .map(|j| job_to_js(&j))
            .map_err(to_js)
    }

    /// The jobs created in the past 10 days, newest first as the API lists them.
    #[wasm_bindgen(js_name = activitiesList)]
    pub async fn activities_list(&self, opts: JsValue) -> std::result::Result<Array, JsValue> {
        let session = self.session.clone();
        let t = FetchTransport::of_options(&opts);
        drv::list_jobs(&t, &session)
            .await
            .map(|jobs| jobs.iter().map(job_to_js).collect())
            .map_err(to_js)
    }

    /// Polls a job until it ends. `opts`: `{ signal, pollIntervalMs, pollMaxMs, timeoutMs,
    /// onJob(job) }`. Rejects with `E_JOB_FAILED` (and `jobId`) for Failed or Canceled.
    #[wasm_bindgen(js_name = activitiesWait)]
    pub async fn activities_wait(
        &self,
        job_id: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let wait = wait_options(&opts)?;
            let on_job = get_fn(&opts, "onJob")?;
            let job = job_by_id(&session, &job_id, &opts).await?;
            notify(&on_job, &job_to_js(&job));
            let t = FetchTransport::of_options(&opts);
            let done = drv::wait_job(&t, &session, job, &wait, &mut |j| {
                notify(&on_job, &job_to_js(j))
            })
            .await?;
            Ok(job_to_js(&done))
        }
        .await
        .map_err(to_js)
    }

    /// Downloads one job's data (waiting for it first if needed). `opts`: `{ signal, format:
    /// "records"|"csv"|"jsonl", explode, csvGuard, concurrency, readAheadBytes, batchRecords, strict,
    /// maxLineBytes, pollIntervalMs, pollMaxMs, timeoutMs, onBatch(b), onProgress(p), onJob(j, w),
    /// onCheckpoint(text), checkpoint }`: `checkpoint`, a text `onCheckpoint` received, continues
    /// that download past the fragments and lines it covers.
    #[wasm_bindgen(js_name = activitiesRows)]
    pub async fn activities_rows(
        &self,
        job_id: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let wait = wait_options(&opts)?;
            let mut dl = download_options(&read(&opts)?)?;
            let mut sink = JsActivitySink::new(&opts)?;
            let resume = read_checkpoint(&opts, &job_id)?;
            dl.csv_columns = header_columns(&opts, "csvColumns")?;
            let job = job_by_id(&session, &job_id, &opts).await?;
            sink.job(0, &job);
            let t = FetchTransport::of_options(&opts);
            let out = drv::download_from(&t, &session, job, &wait, &dl, resume.as_ref(), &mut sink)
                .await
                .map_err(as_checkpoint_error)?;
            Ok(outcome_to_js(&out))
        }
        .await
        .map_err(to_js)
    }

    /// The whole export: windows planned, jobs created within the vendor's limits, each downloaded
    /// in order. Options as `activitiesRows`, plus `maxActiveJobs` (1..10).
    #[wasm_bindgen(js_name = activitiesExport)]
    pub async fn activities_export(
        &self,
        params_json: String,
        opts: JsValue,
    ) -> std::result::Result<JsValue, JsValue> {
        let session = self.session.clone();
        async move {
            let request = ExportRequest::from_json(&params_json)?;
            let dl: ActivityDownloadOptions = read(&opts)?;
            let mut o = ExportOptions {
                download: download_options(&dl)?,
                wait: wait_options(&opts)?,
                ..ExportOptions::default()
            };
            o.download.csv_columns = header_columns(&opts, "csvColumns")?;
            if let Some(n) = whole("maxActiveJobs", dl.max_active_jobs, 1.0, MAX_QUEUED as f64)? {
                o.max_active = n as usize;
            }
            let mut sink = JsActivitySink::new(&opts)?;
            let t = FetchTransport::of_options(&opts);
            let out = drv::run_export(&t, &session, &request, &o, &mut sink).await?;
            Ok(outcome_to_js(&out))
        }
        .await
        .map_err(to_js)
    }
}
