//! The Raw Activity Data run: create jobs, poll them, and download completed jobs' fragments in
//! parallel, parsing each as JSON Lines while it arrives.
//!
//! The ordered-download machine (core/download.rs) makes every download decision below; this
//! file moves its requests, bodies and timers and parses the head fragment.
//!
//! Order and exactly-once: fragments are fetched up to `concurrency` at a time, but only the
//! next one in order (the head) is parsed and delivered; the others read ahead into a buffer of
//! at most `read_ahead_bytes` each and then wait (their connection is simply not read), so memory
//! stays bounded by concurrency times that cap whatever the export's size. Rows therefore arrive
//! in order of window, fragment, then line. A fragment whose body fails part way is fetched again
//! from its start with backoff: for records and CSV the lines already delivered are skipped (a
//! fresh parser told to skip them), for raw JSON Lines the bytes already delivered are skipped, so
//! no row is delivered twice and none is lost.
//!
//! Truncation: a body shorter than its `Content-Length`, or (without one) not ending in a newline,
//! is fetched again; after the last fragment the bytes received are checked against the job's
//! `results_size`, so a short body is an error, never a short success.

use super::inflight::InFlight;
use super::{body_length, read_answer, send, send_small, within, Response, Session};
use crate::core::download::{
    Action, Config, Failed, OrderedDownload, PartPhase, State as DownloadState,
};
use crate::core::http::{error_instead_of_data, HttpRequest, Method};
use crate::core::policy::{classify, Stage, Verdict};
use crate::core::retry::{Backoff, RetryPolicy};
use crate::core::Step;
use crate::error::{Error, ErrorKind, Result};
use crate::parse::flatten::{FlattenOptions, Flattener, LateField};
use crate::parse::jsonl::LineError;
use crate::parse::jsonl::{JsonlOptions, JsonlParser, RecordBatch};
use crate::providers::backstory::activities::create::CreateJob;
use crate::providers::backstory::activities::schema::activity_columns;
use crate::providers::backstory::activities::{
    fragment_request, get_request, list_request, parse_job_list, plan_windows, Action as Next,
    ExportRequest, FragmentPath, FragmentPlan, Job, JobParams, JobState, JobWatch, PollBackoff,
    Refusal, Scheduler, SizeCheck, DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MAX_QUEUED,
};
use crate::transport::{Body, ResponseHead, Transport};

/// Data errors kept in full; past this only their count grows.
const MAX_KEPT_ERRORS: usize = 1000;
/// Bytes of a plain-JSON data answer read to tell an error body from data.
const ERROR_BODY_PEEK: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum OutputKind {
    /// Batches of records (one JSON array text each).
    Records,
    /// CSV text: the activity columns first, nested objects dotted, `explode` one row per element.
    Csv { explode: Option<String> },
    /// The JSON Lines bytes as they came.
    Raw,
}

#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Fragments fetched at once (1..=6).
    pub concurrency: usize,
    /// Bytes a fragment may buffer ahead of the one being delivered.
    pub read_ahead_bytes: usize,
    pub batch_records: usize,
    pub strict: bool,
    pub max_line_bytes: usize,
    pub output: OutputKind,
    /// A fragment whose answer or next chunk takes longer than this is fetched again (the vendor
    /// allows 60 s per 20 MB, so a minute without a byte means the connection is stuck).
    pub stall_timeout_ms: Option<f64>,
    /// CSV output: cells as they are, without the CSV-injection guard.
    pub raw_cells: bool,
    /// Only these of the job's planned data requests, `[from, to)` as [`data_parts`] counts them:
    /// one piece of a job spread over many invocations (an edge Workflow's steps). The piece
    /// that reaches the end also asks past the declared fragments; the job's `results_size` is
    /// checked only when the whole job is read (the caller adds up the pieces).
    pub parts: Option<(usize, usize)>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            concurrency: DEFAULT_CONCURRENCY,
            read_ahead_bytes: 4 << 20,
            batch_records: JsonlOptions::default().batch_records,
            strict: false,
            max_line_bytes: JsonlOptions::default().max_line_bytes,
            output: OutputKind::Records,
            stall_timeout_ms: None,
            raw_cells: false,
            parts: None,
        }
    }
}

impl DownloadOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(Error::invalid(
                "concurrency",
                format!("must be an integer from 1 to {MAX_CONCURRENCY}"),
            ));
        }
        if self
            .stall_timeout_ms
            .is_some_and(|ms| ms.is_nan() || ms < 1.0)
        {
            return Err(Error::invalid("stallTimeoutMs", "must be at least 1"));
        }
        if self.parts.is_some_and(|(from, to)| from > to) {
            return Err(Error::invalid(
                "parts",
                "must be [from, to] with from <= to",
            ));
        }
        if self.read_ahead_bytes < 1024 {
            return Err(Error::invalid("readAheadBytes", "must be at least 1024"));
        }
        if let OutputKind::Csv { explode: Some(e) } = &self.output {
            if e.is_empty() || e.len() > 200 {
                return Err(Error::invalid(
                    "explode",
                    "must name an array field such as participants",
                ));
            }
        }
        Ok(())
    }
}

/// How jobs are polled.
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    pub poll_initial_ms: f64,
    pub poll_max_ms: f64,
    /// Give up waiting (`E_TIMEOUT`) this long after starting.
    pub timeout_ms: Option<f64>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_initial_ms: PollBackoff::DEFAULT_INITIAL_MS,
            poll_max_ms: PollBackoff::DEFAULT_MAX_MS,
            timeout_ms: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub download: DownloadOptions,
    pub wait: WaitOptions,
    /// Our jobs queued or running at once (at most the vendor's 10).
    pub max_active: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            download: DownloadOptions::default(),
            wait: WaitOptions::default(),
            max_active: MAX_QUEUED,
        }
    }
}

/// Where delivered data came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place<'a> {
    pub window: usize,
    pub job_id: &'a str,
    /// `None` when the job's data came in one response.
    pub fragment: Option<u32>,
}

#[derive(Debug)]
pub enum Delivery {
    Records(RecordBatch),
    /// CSV text (the header comes first in the first delivery) and the rows it holds.
    Csv {
        text: String,
        rows: u64,
    },
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Creating,
    Waiting,
    Downloading,
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Creating => "creating",
            Phase::Waiting => "waiting",
            Phase::Downloading => "downloading",
            Phase::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentState {
    Requested,
    Reading,
    /// Read ahead up to its cap, waiting for its turn.
    Buffered,
    Retrying,
    Done,
}

impl FragmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            FragmentState::Requested => "requested",
            FragmentState::Reading => "reading",
            FragmentState::Buffered => "buffered",
            FragmentState::Retrying => "retrying",
            FragmentState::Done => "done",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FragmentProgress {
    pub index: Option<u32>,
    pub state: FragmentState,
    /// Bytes received in the current attempt.
    pub bytes: u64,
    pub retries: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub windows: usize,
    pub windows_done: usize,
    pub jobs_active: usize,
    pub jobs_running: usize,
    /// The window and job being downloaded (or waited for).
    pub window: usize,
    pub job_id: Option<String>,
    pub results_size: Option<u64>,
    pub fragments_total: usize,
    /// Fragments of the current job fully delivered (they are delivered in order: 0..done).
    pub fragments_done: usize,
    /// Fragments in flight, head first.
    pub fragments: Vec<FragmentProgress>,
    /// Things worth telling that did not stop the export (so far).
    pub warnings: Vec<Warning>,
    pub records: u64,
    pub rows: u64,
    /// Bytes delivered (all jobs).
    pub bytes: u64,
    /// A change worth showing at once (a state change); the rest may be throttled.
    pub significant: bool,
}

/// Something the user should know that did not stop the export.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// `W_RESULTS_SIZE`: more bytes arrived than the job's `results_size` announced.
    pub code: &'static str,
    pub job_id: String,
    pub message: String,
    pub results_size: Option<u64>,
    pub received: Option<u64>,
}

/// A bad line in the data, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// The bad-record type ("Json", "Limit", "Encoding") and code (`LineErrorKind`).
    pub kind: &'static str,
    pub code: &'static str,
    pub window: usize,
    pub job_id: String,
    pub fragment: Option<u32>,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExportOutcome {
    pub jobs: Vec<Job>,
    pub records: u64,
    pub rows: u64,
    pub bytes: u64,
    pub errors: Vec<DataError>,
    pub errors_total: u64,
    /// Fragment downloads started again after a failure.
    pub retries: u32,
    /// CSV: the header written.
    pub header: Vec<String>,
    /// CSV: fields first seen after the header was written (counted, not written).
    pub late_fields: Vec<LateField>,
    pub warnings: Vec<Warning>,
}

/// Receives an export as it arrives.
#[allow(async_fn_in_trait)]
pub trait ActivitySink {
    /// Data in order. A returned promise-like wait is backpressure: nothing more is delivered
    /// until it resolves.
    async fn deliver(&mut self, at: Place<'_>, data: Delivery) -> Result<()>;
    /// A job was created or changed state.
    fn job(&mut self, window: usize, job: &Job);
    fn progress(&mut self, p: &Progress);
    /// Where the download stands after each delivery: saved, it lets [`download_from`] continue
    /// it later without repeating or losing a line.
    fn checkpoint(&mut self, _at: &DownloadCheckpoint) {}
}

/// Where one job's download stands (issue 18's `--resume`): ids, counts and offsets, never
/// data. Fragments before `download.head` are delivered in full; of the head, lines through
/// `lines` (records, CSV) or its first `bytes` (raw output). `bytes_before`: the bytes of the
/// fragments done, for the check against the job's `results_size`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DownloadCheckpoint {
    pub version: u32,
    pub job_id: String,
    pub download: DownloadState,
    pub lines: u64,
    pub bytes: u64,
    pub bytes_before: u64,
}

// ------------------------------------------------------------------------- jobs

/// Reads a job answer (an error body or a cut-short answer is read again if the read may be).
async fn read_job<T: Transport>(t: &T, session: &Session, req: HttpRequest) -> Result<Job> {
    read_answer(
        t,
        session,
        req.idempotent,
        || send_small(t, session, req.clone()),
        Job::from_json,
    )
    .await
}

/// `POST /jobs`, never sent blindly a second time (that could make a second job): the
/// [`CreateJob`] machine decides when to read the job list and adopt, when to ask again.
/// A refusal (429: the vendor's queue is full; any other 4xx) comes back as it came.
pub async fn create_job<T: Transport>(t: &T, session: &Session, params: &JobParams) -> Result<Job> {
    let backoff = Backoff::new(session.retry, (t.now_ms() as u64) ^ 0x6A09_E667_F3BC_C909);
    let mut create = CreateJob::new(&session.base_url, *params, backoff);
    loop {
        match create.poll(t.now_ms())? {
            Step::Done(job) => return Ok(job),
            Step::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
            Step::Send(req) if req.method == Method::Post => {
                create.handle_created(read_job(t, session, req).await)
            }
            Step::Send(req) => {
                let listed = send_small(t, session, req)
                    .await
                    .and_then(|r| parse_job_list(&r.body));
                create.handle_listed(listed, t.now_ms())
            }
        }
    }
}

pub async fn get_job<T: Transport>(t: &T, session: &Session, job_id: &str) -> Result<Job> {
    read_job(t, session, get_request(&session.base_url, job_id)?).await
}

/// The jobs created in the past 10 days.
pub async fn list_jobs<T: Transport>(t: &T, session: &Session) -> Result<Vec<Job>> {
    let resp = send_small(t, session, list_request(&session.base_url)).await?;
    parse_job_list(&resp.body)
}

/// Polls `job` with backoff until it ends: the Completed job, or `E_JOB_FAILED` naming it.
pub async fn wait_job<T: Transport>(
    t: &T,
    session: &Session,
    job: Job,
    opts: &WaitOptions,
    on_change: &mut dyn FnMut(&Job),
) -> Result<Job> {
    let start = t.now_ms();
    let deadline = opts.timeout_ms.map(|ms| start + ms);
    let mut watch = JobWatch::new(
        &session.base_url,
        job,
        PollBackoff::new(opts.poll_initial_ms, opts.poll_max_ms, start),
        deadline,
    );
    loop {
        t.check_aborted()?;
        match watch.poll(t.now_ms())? {
            Step::Done(job) => return Ok(job),
            Step::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
            Step::Send(req) => {
                let job = within(t, left(t, deadline), read_job(t, session, req)).await?;
                if watch.handle_job(job, t.now_ms())? {
                    on_change(watch.job());
                }
            }
        }
    }
}

/// The time left before `deadline`, for [`within`].
fn left<T: Transport>(t: &T, deadline: Option<f64>) -> Option<f64> {
    deadline.map(|d| (d - t.now_ms()).max(0.0))
}

// ------------------------------------------------------------------------- output

/// The output side, shared by every job of an export so a CSV has one header and counts run on.
struct Emitter {
    kind: OutputKind,
    flattener: Option<Flattener>,
    strict: bool,
    /// Records the flattener's JSON check refused in the batch being written.
    rejected: Vec<LineError>,
    records: u64,
    rows: u64,
    bytes: u64,
    errors: Vec<DataError>,
    errors_total: u64,
    retries: u32,
    warnings: Vec<Warning>,
}

impl Emitter {
    fn new(opts: &DownloadOptions) -> Self {
        let flattener = match &opts.output {
            OutputKind::Csv { explode } => Some(Flattener::new(FlattenOptions {
                columns: activity_columns(explode.as_deref()),
                explode: explode.clone(),
                discover: true,
                raw_cells: opts.raw_cells,
            })),
            _ => None,
        };
        Emitter {
            kind: opts.output.clone(),
            flattener,
            strict: opts.strict,
            rejected: Vec::new(),
            records: 0,
            rows: 0,
            bytes: 0,
            errors: Vec::new(),
            errors_total: 0,
            retries: 0,
            warnings: Vec::new(),
        }
    }

    async fn batch<S: ActivitySink>(
        &mut self,
        at: Place<'_>,
        batch: RecordBatch,
        sink: &mut S,
    ) -> Result<()> {
        self.records += batch.count as u64;
        match (&self.kind, &mut self.flattener) {
            (OutputKind::Csv { .. }, Some(f)) => {
                // CSV output reads each record once: the parser leaves the JSON check to this
                // walk (see `parser_options`). In strict mode the rows before a bad record are
                // still delivered, so the error's line says exactly where delivery stopped.
                let mut text = String::with_capacity(batch.text.len() + 256);
                let rejected = (!self.strict).then_some(&mut self.rejected);
                let before = f.rows();
                let written = f.write_checked(&batch, &mut text, rejected);
                let rows = f.rows() - before;
                self.rows += rows;
                let bad = std::mem::take(&mut self.rejected);
                self.records -= bad.len() as u64;
                self.data_errors(at, bad);
                if rows > 0 || written.is_ok() {
                    sink.deliver(at, Delivery::Csv { text, rows }).await?;
                }
                written.map(|_| ()).map_err(|e| {
                    // Records from the bad one on were not delivered.
                    let bad_line = LineError::from_error(&e).map_or(0, |l| l.line);
                    let lost = batch.iter_text().filter(|(l, _)| *l >= bad_line).count();
                    self.records -= lost as u64;
                    with_place(e, at)
                })
            }
            (OutputKind::Raw, _) => {
                self.rows += batch.count as u64;
                Ok(())
            }
            _ => {
                self.rows += batch.count as u64;
                sink.deliver(at, Delivery::Records(batch)).await
            }
        }
    }

    fn line_errors(&mut self, at: Place<'_>, parser: &mut JsonlParser) {
        let errors = parser.take_errors();
        self.data_errors(at, errors);
    }

    fn data_errors(&mut self, at: Place<'_>, errors: Vec<LineError>) {
        for e in errors {
            self.errors_total += 1;
            if self.errors.len() < MAX_KEPT_ERRORS {
                self.errors.push(DataError {
                    kind: e.kind.bad_type(),
                    code: e.kind.as_str(),
                    window: at.window,
                    job_id: at.job_id.to_string(),
                    fragment: at.fragment,
                    line: e.line,
                    column: e.column,
                    message: e.message,
                });
            }
        }
    }

    /// After the last job: a CSV with no records still gets its header.
    async fn finish<S: ActivitySink>(&mut self, at: Place<'_>, sink: &mut S) -> Result<()> {
        if let Some(f) = &mut self.flattener {
            let mut text = String::new();
            f.finish(&mut text);
            if !text.is_empty() {
                sink.deliver(at, Delivery::Csv { text, rows: 0 }).await?;
            }
        }
        Ok(())
    }

    fn outcome(&self, jobs: Vec<Job>) -> ExportOutcome {
        ExportOutcome {
            jobs,
            records: self.records,
            rows: self.rows,
            bytes: self.bytes,
            errors: self.errors.clone(),
            errors_total: self.errors_total,
            retries: self.retries,
            header: self
                .flattener
                .as_ref()
                .map(|f| f.header().to_vec())
                .unwrap_or_default(),
            late_fields: self
                .flattener
                .as_ref()
                .map(|f| f.late_fields().to_vec())
                .unwrap_or_default(),
            warnings: self.warnings.clone(),
        }
    }
}

// ------------------------------------------------------------------------- fragments

/// What the driver knows of a fragment beyond the download machine's part.
struct Frag {
    index: Option<u32>,
    /// Lines delivered or reported, once the fragment is done.
    lines: u64,
    /// Asked for past the job's declared fragments (see `FragmentPlan::next_probe`).
    probe: bool,
    /// The URL form its last request used, and the one to use next if a refusal named it.
    path: FragmentPath,
    next_path: Option<FragmentPath>,
}

enum Ev<B> {
    Sent(Result<Response<B>>),
    Read(B, Result<Option<Vec<u8>>>),
    /// A restart deadline passed.
    Timer(Result<()>),
}

/// Parses and delivers the head fragment.
struct Head {
    parser: JsonlParser,
    /// Lines of this fragment delivered before its body was fetched again.
    skip_lines: u64,
    /// Raw output: bytes of this fragment taken from the current body, and bytes of it still to
    /// skip because an earlier body delivered them.
    consumed: u64,
    skip: u64,
    /// The last line of this fragment the sink took (for checkpoints).
    delivered: u64,
}

impl Head {
    /// Starts past what a saved run delivered of this fragment.
    fn resume(&mut self, lines: u64, bytes: u64) {
        self.skip_lines = lines;
        self.delivered = lines;
        self.parser.skip_through_line(lines);
        self.skip = bytes;
    }

    fn new(opts: &DownloadOptions) -> Self {
        Head {
            parser: JsonlParser::new(parser_options(opts)),
            skip_lines: 0,
            consumed: 0,
            skip: 0,
            delivered: 0,
        }
    }
}

fn parser_options(opts: &DownloadOptions) -> JsonlOptions {
    JsonlOptions {
        strict: opts.strict,
        // The flattener checks each record's JSON as it walks it (one pass, not two).
        validate: !matches!(opts.output, OutputKind::Csv { .. }),
        batch_records: opts.batch_records.max(1),
        max_line_bytes: opts.max_line_bytes.max(1),
        ..JsonlOptions::default()
    }
}

/// Names the job and fragment on the error, as fields and (for the messages people read) in
/// its text.
fn with_place(e: Error, at: Place<'_>) -> Error {
    if e.place().job.is_some() {
        return e;
    }
    let frag = at
        .fragment
        .map(|k| format!(" fragment {k}"))
        .unwrap_or_default();
    let kind = match e.kind() {
        ErrorKind::Decode {
            line,
            column,
            reason,
        } => Some(ErrorKind::Decode {
            line: *line,
            column: *column,
            reason: format!("job {}{frag}: {reason}", at.job_id),
        }),
        ErrorKind::Network { message } => Some(ErrorKind::Network {
            message: format!("job {}{frag}: {message}", at.job_id),
        }),
        _ => None,
    };
    let e = match kind {
        Some(k) => e.with_kind(k),
        None => e,
    };
    e.in_job(at.job_id).in_fragment(at.fragment)
}

struct JobRun<'j> {
    window: usize,
    job: &'j Job,
    resume: Option<&'j DownloadCheckpoint>,
}

/// Downloads one Completed job's data: fragments in parallel, delivered in order. The ordered
/// download machine decides; this loop moves its requests, bodies and timers.
async fn download_job<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    run: JobRun<'_>,
    opts: &DownloadOptions,
    out: &mut Emitter,
    progress: &mut Progress,
    sink: &mut S,
) -> Result<()> {
    let job = run.job;
    if job.state != JobState::Completed {
        job.check_not_failed()?;
        return Err(Error::invalid(
            "job",
            format!(
                "job {} is {}; its data can be read once it is Completed",
                job.job_id,
                job.state.as_str()
            ),
        ));
    }
    let mut urls = FragmentPlan::new(job);
    let planned = urls.initial(job);
    let (from, to) = opts.parts.map_or((0, planned.len()), |(a, b)| {
        (a.min(planned.len()), b.min(planned.len()))
    });
    // The piece that ends where the plan ends may probe past it; the size is the whole job's.
    let reaches_end = to == planned.len();
    let whole = from == 0 && reaches_end;
    if run.resume.is_some() && !whole {
        return Err(Error::invalid(
            "parts",
            "cannot be combined with a checkpoint",
        ));
    }
    let new_frag = |index, probe| Frag {
        index,
        lines: 0,
        probe,
        path: FragmentPath::Data,
        next_path: None,
    };
    let mut frags: Vec<Frag> = planned[from..to]
        .iter()
        .map(|&i| new_frag(i, false))
        .collect();
    let cfg = Config {
        concurrency: opts.concurrency.clamp(1, MAX_CONCURRENCY),
        read_ahead_bytes: opts.read_ahead_bytes.max(1024),
        line_ended: true,
        reopen: false,
        signed: false,
        retry: session.retry,
        seed: (t.now_ms() as u64) ^ 0xA076_1D64_78BD_642F,
    };
    let mut m = OrderedDownload::new(cfg, frags.len());
    let mut consumer = Head::new(opts);
    let mut bytes_before = 0;
    if let Some(cp) = run.resume {
        if cp.version != 1 || cp.job_id != job.job_id || cp.download.parts < frags.len() {
            return Err(Error::invalid(
                "resumeFrom",
                format!("is not a version 1 checkpoint of job {}", job.job_id),
            ));
        }
        // Probes past the declared fragments that the saved run had asked for.
        while frags.len() < cp.download.parts {
            let next = frags
                .iter()
                .filter_map(|f| f.index)
                .max()
                .map_or(0, |k| k + 1);
            frags.push(new_frag(Some(next), true));
        }
        m = OrderedDownload::resume(cfg, &cp.download)?;
        consumer.resume(cp.lines, cp.bytes);
        bytes_before = cp.bytes_before;
    }
    let mut bodies: Vec<Option<T::Body>> = frags.iter().map(|_| None).collect();
    let stall = opts.stall_timeout_ms;
    let mut inflight: InFlight<'_, (usize, u32), Ev<T::Body>> = InFlight::new();
    let mut timer: Option<f64> = None;
    let retries_before = out.retries;
    let checkpoint = |m: &OrderedDownload, h: &Head, before: u64| DownloadCheckpoint {
        version: 1,
        job_id: job.job_id.clone(),
        download: m.state(),
        lines: h.delivered,
        bytes: h.consumed + h.skip,
        bytes_before: before,
    };
    progress.phase = Phase::Downloading;
    progress.window = run.window;
    progress.job_id = Some(job.job_id.clone());
    progress.results_size = job.results_size;
    progress.fragments_total = frags.len();
    progress.fragments_done = 0;
    report(sink, progress, &m, &frags, true);
    let place = |frags: &[Frag], k: usize| Place {
        window: run.window,
        job_id: &job.job_id,
        fragment: frags.get(k).and_then(|f| f.index),
    };
    loop {
        t.check_aborted()?;
        match m.poll(t.now_ms()) {
            Action::Open { part, ticket } => {
                let Some(f) = frags.get_mut(part) else { break };
                f.path = f.next_path.take().unwrap_or(urls.path());
                let req = fragment_request(&session.base_url, &job.job_id, f.index, f.path)?;
                inflight.push((part, ticket), async move {
                    Ev::Sent(within(t, stall, send(t, session, req, &mut || {})).await)
                });
            }
            Action::Read { part, ticket } => {
                let Some(mut body) = bodies.get_mut(part).and_then(Option::take) else {
                    return Err(Error::network("internal: a fragment to read has no body"));
                };
                inflight.push((part, ticket), async move {
                    let r = within(t, stall, body.chunk()).await;
                    Ev::Read(body, r)
                });
            }
            Action::Reset { .. } => restart_head(&mut consumer, opts),
            Action::Deliver { part, chunk } => {
                // Requests just pushed go out now, while the consumer takes this chunk.
                inflight.kick().await;
                let r = consume(&mut consumer, chunk, place(&frags, part), opts, out, sink).await;
                sink.checkpoint(&checkpoint(&m, &consumer, bytes_before));
                r?;
                sync_counts(progress, out);
                report(sink, progress, &m, &frags, false);
            }
            Action::Finish { part } => {
                finish_fragment(&mut consumer, place(&frags, part), out, sink).await?;
                if let Some(f) = frags.get_mut(part) {
                    f.lines = consumer.parser.lines();
                }
                bytes_before += m.part(part).map_or(0, |p| p.received);
                m.handle_finished(part);
                consumer = Head::new(opts);
                sink.checkpoint(&checkpoint(&m, &consumer, bytes_before));
                progress.fragments_done = m.head();
                sync_counts(progress, out);
                report(sink, progress, &m, &frags, true);
            }
            Action::Done => {
                if !reaches_end || frags.is_empty() {
                    break;
                }
                // Every fragment asked for is delivered: under the highest-index reading of
                // `fragment` there is one more; the plan decides from the bytes whether to ask.
                let last_empty = frags.last().is_some_and(|f| f.probe)
                    && m.parts().last().is_some_and(|p| p.received == 0);
                let next = frags
                    .iter()
                    .filter_map(|f| f.index)
                    .max()
                    .map_or(0, |k| k + 1);
                match urls.next_probe(next, bytes_before, last_empty) {
                    Some(k) => {
                        frags.push(new_frag(Some(k), true));
                        bodies.push(None);
                        m.push_part();
                        progress.fragments_total = frags.len();
                    }
                    None => break,
                }
            }
            Action::Renew => {
                return Err(Error::network(
                    "internal: fragment URLs are not signed, yet a renewal was asked for",
                ))
            }
            Action::Idle => {
                if let Some(until) = m.poll_timeout() {
                    if timer.is_none_or(|armed| until < armed) {
                        timer = Some(until);
                        let ms = (until - t.now_ms()).max(0.0);
                        inflight.push((usize::MAX, 0), async move { Ev::Timer(t.sleep(ms).await) });
                    }
                }
                let Some(((k, ticket), ev)) = inflight.next().await else {
                    return Err(Error::network(format!(
                        "internal: fragment {} of job {} is waiting on nothing",
                        m.head(),
                        job.job_id
                    )));
                };
                let at = place(&frags, k);
                let now = t.now_ms();
                let restarts = m.restarts();
                match ev {
                    Ev::Timer(r) => {
                        r?;
                        timer = None;
                    }
                    Ev::Sent(Ok(Response::Streaming(h, mut body))) => {
                        if !m.handle_opened(k, ticket, body_length(&h)) {
                            continue;
                        }
                        if let Some(f) = frags.get(k) {
                            urls.answered(f.path);
                        }
                        match peek_error_body(&h, &mut body).await {
                            Ok(Peek::Data(first)) => {
                                m.handle_chunk(k, ticket, first);
                                bodies[k] = Some(body);
                            }
                            Ok(Peek::Error(e)) | Err(e) => m
                                .handle_failure(k, ticket, Failed::Body, e, now)
                                .map_err(|e| with_place(e, at))?,
                        }
                    }
                    Ev::Sent(Ok(Response::Buffered(resp))) => {
                        let Some(f) = frags.get_mut(k) else { continue };
                        match urls.refused(resp.status, f.path, f.probe) {
                            Refusal::Retry(form) => {
                                f.next_path = Some(form);
                                m.handle_moved(k, ticket);
                            }
                            Refusal::End => {
                                m.handle_opened(k, ticket, None);
                                m.handle_end(k, ticket, now)?;
                            }
                            // `send` has already retried what may be retried.
                            Refusal::Fail => {
                                let ra = super::retry_after(&resp.headers, now);
                                let e = Error::from_status(resp.status, &resp.body, ra);
                                return Err(with_place(e, at));
                            }
                        }
                    }
                    Ev::Sent(Err(e)) => m
                        .handle_failure(k, ticket, Failed::Open, e, now)
                        .map_err(|e| with_place(e, at))?,
                    Ev::Read(body, Ok(Some(chunk))) => {
                        if m.handle_chunk(k, ticket, chunk) {
                            bodies[k] = Some(body);
                        }
                    }
                    Ev::Read(_, Ok(None)) => m
                        .handle_end(k, ticket, now)
                        .map_err(|e| with_place(e, at))?,
                    Ev::Read(_, Err(e)) => m
                        .handle_failure(k, ticket, Failed::Body, e, now)
                        .map_err(|e| with_place(e, at))?,
                }
                if m.restarts() != restarts {
                    out.retries = retries_before + m.restarts();
                    report(sink, progress, &m, &frags, true);
                }
            }
        }
    }
    // Every fragment is done: their bytes, the saved run's included.
    let received = bytes_before;
    if !whole {
        return Ok(());
    }
    match urls.check_size(received) {
        SizeCheck::Ok => {}
        SizeCheck::More {
            announced,
            received,
        } => {
            out.warnings.push(Warning {
                code: "W_RESULTS_SIZE",
                job_id: job.job_id.clone(),
                message: format!(
                    "job {}: received {received} bytes of data, more than its results_size {announced} (the vendor may count compressed bytes or leave out line ends); every line arrived whole",
                    job.job_id
                ),
                results_size: Some(announced),
                received: Some(received),
            });
            progress.warnings = out.warnings.clone();
            report(sink, progress, &m, &frags, true);
        }
        SizeCheck::Fewer { announced, .. } => {
            return Err(Error::network(format!(
                "job {}: received {received} bytes of data but the job reported results_size {announced}; {} records were delivered{}",
                job.job_id,
                out.records,
                unsized_fragments(&m, &frags)
            )));
        }
    }
    Ok(())
}

/// The fragments that came without a `Content-Length`: when the total falls short, one of them
/// was cut at a line end (any other cut is caught and fetched again), so the error names them
/// and where each stopped.
fn unsized_fragments(m: &OrderedDownload, frags: &[Frag]) -> String {
    let list: Vec<String> = frags
        .iter()
        .zip(m.parts())
        // A probe past the end that found nothing holds no data to doubt.
        .filter(|(f, p)| p.expected.is_none() && !(f.probe && p.received == 0))
        .map(|(f, _)| match f.index {
            Some(k) => format!("fragment {k} (ended after line {})", f.lines),
            None => format!("the data (ended after line {})", f.lines),
        })
        .collect();
    if list.is_empty() {
        return String::new();
    }
    format!(
        "; came without a Content-Length, so may have been cut short: {}",
        list.join(", ")
    )
}

enum Peek {
    /// The body's first bytes (empty when not peeked): data, to be consumed as usual.
    Data(Vec<u8>),
    /// A 200 whose body is one JSON error object, not data.
    Error(Error),
}

/// A data answer labelled plain JSON (the vendor's lines come as `x-ndjson`) may be an error
/// reported with status 200: its first bytes are read, and if the whole body is one JSON object
/// with an `error` key it is an error (fetched again), never a record.
async fn peek_error_body<B: Body>(head: &ResponseHead, body: &mut B) -> Result<Peek> {
    let ct = head
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ct.contains("json") || ct.contains("nd") || ct.contains("lines") || ct.contains("jsonl") {
        return Ok(Peek::Data(Vec::new()));
    }
    let mut first = Vec::new();
    let mut ended = false;
    while first.len() < ERROR_BODY_PEEK {
        match body.chunk().await? {
            Some(c) => first.extend_from_slice(&c),
            None => {
                ended = true;
                break;
            }
        }
    }
    if ended {
        if let Some(e) = error_instead_of_data(head.status, &first) {
            return Ok(Peek::Error(e));
        }
    }
    Ok(Peek::Data(first))
}

/// The head fragment was fetched again: a fresh parser that skips the lines already delivered
/// (records, CSV), or for raw output the same parser after skipping the bytes already delivered.
/// A body may be fetched again before the previous retry delivered anything, so what was
/// delivered is carried over, never reset to what the last body reached.
fn restart_head(h: &mut Head, opts: &DownloadOptions) {
    if opts.output == OutputKind::Raw {
        h.skip += h.consumed;
        h.consumed = 0;
        return;
    }
    h.skip_lines = h.skip_lines.max(h.parser.lines());
    let mut p = JsonlParser::new(parser_options(opts));
    p.skip_through_line(h.skip_lines);
    h.parser = p;
}

/// Feeds one chunk of the head fragment and delivers what it completes.
async fn consume<S: ActivitySink>(
    h: &mut Head,
    mut chunk: Vec<u8>,
    at: Place<'_>,
    opts: &DownloadOptions,
    out: &mut Emitter,
    sink: &mut S,
) -> Result<()> {
    if h.skip > 0 {
        let drop = (h.skip as usize).min(chunk.len());
        chunk.drain(..drop);
        h.skip -= drop as u64;
        h.consumed += drop as u64;
    }
    if chunk.is_empty() {
        return Ok(());
    }
    let n = chunk.len() as u64;
    let pushed = h.parser.push(&chunk);
    out.line_errors(at, &mut h.parser);
    if opts.output == OutputKind::Raw && pushed.is_ok() {
        sink.deliver(at, Delivery::Raw(chunk)).await?;
        // Counted once taken: a checkpoint never claims bytes the sink refused.
        h.consumed += n;
    }
    // In strict mode the records before the bad line are still delivered, so the error's line
    // says exactly where delivery stopped.
    while let Some(b) = h.parser.take_pending() {
        let last = b.last_line();
        out.batch(at, b, sink).await?;
        h.delivered = h.delivered.max(last);
    }
    pushed.map_err(|e| with_place(e, at))?;
    out.bytes += n;
    Ok(())
}

async fn finish_fragment<S: ActivitySink>(
    h: &mut Head,
    at: Place<'_>,
    out: &mut Emitter,
    sink: &mut S,
) -> Result<()> {
    h.parser.finish().map_err(|e| with_place(e, at))?;
    out.line_errors(at, &mut h.parser);
    while let Some(b) = h.parser.take_batch() {
        out.batch(at, b, sink).await?;
    }
    Ok(())
}

fn sync_counts(p: &mut Progress, out: &Emitter) {
    p.bytes = out.bytes;
    p.records = out.records;
    p.rows = out.rows;
}

fn report<S: ActivitySink>(
    sink: &mut S,
    p: &mut Progress,
    m: &OrderedDownload,
    frags: &[Frag],
    significant: bool,
) {
    p.fragments.clear();
    let head = m.head();
    for (i, (f, part)) in frags.iter().zip(m.parts()).enumerate() {
        if i < head || !m.window().contains(&i) || !part.opened_once() {
            continue;
        }
        let state = match part.phase {
            PartPhase::Waiting | PartPhase::Opening if part.restarts > 0 => FragmentState::Retrying,
            PartPhase::Waiting | PartPhase::Opening => FragmentState::Requested,
            PartPhase::Reading if i != head && part.queued() >= m.config().read_ahead_bytes => {
                FragmentState::Buffered
            }
            PartPhase::Reading | PartPhase::Ended => FragmentState::Reading,
            PartPhase::Backoff | PartPhase::NeedsLink => FragmentState::Retrying,
            PartPhase::Done => FragmentState::Done,
        };
        p.fragments.push(FragmentProgress {
            index: f.index,
            state,
            bytes: part.received,
            retries: part.restarts,
        });
    }
    p.significant = significant;
    sink.progress(p);
}

fn empty_progress(windows: usize) -> Progress {
    Progress {
        phase: Phase::Creating,
        windows,
        windows_done: 0,
        jobs_active: 0,
        jobs_running: 0,
        window: 0,
        job_id: None,
        results_size: None,
        fragments_total: 0,
        fragments_done: 0,
        fragments: Vec::new(),
        warnings: Vec::new(),
        records: 0,
        rows: 0,
        bytes: 0,
        significant: true,
    }
}

// ------------------------------------------------------------------------- runs

/// Downloads one job: waits for it first if it has not ended, then delivers its data.
pub async fn download<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    job: Job,
    wait: &WaitOptions,
    opts: &DownloadOptions,
    sink: &mut S,
) -> Result<ExportOutcome> {
    download_from(t, session, job, wait, opts, None, sink).await
}

/// How many data requests a Completed job's download plans at first (fragments as declared; one
/// for the whole data when the job gives none; none when it says it has no data): the units
/// [`DownloadOptions::parts`] counts.
pub fn data_parts(job: &Job) -> usize {
    FragmentPlan::new(job).initial(job).len()
}

/// [`download`], continuing from a checkpoint a sink saved: the fragments and lines it covers
/// are skipped. The outcome counts what this run delivered.
pub async fn download_from<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    job: Job,
    wait: &WaitOptions,
    opts: &DownloadOptions,
    resume_from: Option<&DownloadCheckpoint>,
    sink: &mut S,
) -> Result<ExportOutcome> {
    opts.validate()?;
    let mut progress = empty_progress(1);
    let job = if job.state.is_terminal() {
        job.check_not_failed()?;
        job
    } else {
        progress.phase = Phase::Waiting;
        progress.job_id = Some(job.job_id.clone());
        sink.progress(&progress);
        wait_job(t, session, job, wait, &mut |j| sink.job(0, j)).await?
    };
    let mut out = Emitter::new(opts);
    download_job(
        t,
        session,
        JobRun {
            window: 0,
            job: &job,
            resume: resume_from,
        },
        opts,
        &mut out,
        &mut progress,
        sink,
    )
    .await?;
    let at = Place {
        window: 0,
        job_id: &job.job_id,
        fragment: None,
    };
    out.finish(at, sink).await?;
    progress.phase = Phase::Done;
    progress.windows_done = 1;
    progress.fragments.clear();
    sync_counts(&mut progress, &out);
    progress.significant = true;
    sink.progress(&progress);
    Ok(out.outcome(vec![job]))
}

/// The whole export: plans windows, creates their jobs within the vendor's limits, polls them,
/// and downloads each in window order as it completes.
pub async fn run_export<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    request: &ExportRequest,
    opts: &ExportOptions,
    sink: &mut S,
) -> Result<ExportOutcome> {
    opts.download.validate()?;
    if !(1..=MAX_QUEUED).contains(&opts.max_active) {
        return Err(Error::invalid(
            "maxActiveJobs",
            format!("must be an integer from 1 to {MAX_QUEUED}"),
        ));
    }
    let windows = plan_windows(request);
    let n = windows.len();
    let mut sched = Scheduler::new(
        windows,
        opts.max_active,
        opts.wait.poll_initial_ms,
        opts.wait.poll_max_ms,
    );
    let mut out = Emitter::new(&opts.download);
    let mut progress = empty_progress(n);
    let deadline = opts.wait.timeout_ms.map(|ms| t.now_ms() + ms);
    let mut jobs: Vec<Job> = Vec::new();
    sink.progress(&progress);
    loop {
        t.check_aborted()?;
        let now = t.now_ms();
        progress.jobs_active = sched.active();
        progress.jobs_running = sched.running();
        progress.windows_done = sched.done();
        match sched.poll(now) {
            Next::Done => break,
            Next::Create(w) => {
                let Some(params) = sched.window(w).copied() else {
                    break;
                };
                progress.phase = Phase::Creating;
                match within(t, left(t, deadline), create_job(t, session, &params)).await {
                    Ok(job) => {
                        sink.job(w, &job);
                        sched.handle_created(w, job, t.now_ms())?;
                    }
                    Err(e) => {
                        let stage = Stage::QueueFull {
                            refusals: sched.refusals(),
                            active: sched.active(),
                        };
                        let mut no_budget = Backoff::new(RetryPolicy::none(), 0);
                        match classify(&e, stage, &mut no_budget) {
                            Verdict::Retry { .. } => {
                                sched.handle_refused(t.now_ms(), e.retry_after_ms())
                            }
                            _ => return Err(e),
                        }
                    }
                }
            }
            Next::Poll(w) => {
                let Some(id) = sched.job(w).map(|j| j.job_id.clone()) else {
                    continue;
                };
                progress.phase = Phase::Waiting;
                let job = within(t, left(t, deadline), get_job(t, session, &id)).await?;
                let changed = sched.job(w).map(|j| j.state) != Some(job.state);
                if changed {
                    // Reported before a Failed state ends the run, so the caller sees it.
                    sink.job(w, &job);
                }
                if sched.handle_polled(w, job, t.now_ms())? {
                    progress.jobs_active = sched.active();
                    progress.jobs_running = sched.running();
                    progress.significant = true;
                    sink.progress(&progress);
                }
            }
            Next::Download(w) => {
                let Some(job) = sched.job(w).cloned() else {
                    break;
                };
                download_job(
                    t,
                    session,
                    JobRun {
                        window: w,
                        job: &job,
                        resume: None,
                    },
                    &opts.download,
                    &mut out,
                    &mut progress,
                    sink,
                )
                .await?;
                sched.handle_downloaded(w);
                jobs.push(job);
            }
            Next::Wait { until_ms } => {
                if deadline.is_some_and(|d| now >= d) {
                    return Err(Error::new(ErrorKind::Timeout));
                }
                progress.phase = Phase::Waiting;
                progress.job_id = sched.job(sched.done()).map(|j| j.job_id.clone());
                progress.significant = false;
                sink.progress(&progress);
                let until = deadline
                    .map_or(until_ms, |d| until_ms.min(d))
                    .min(now + opts.wait.poll_max_ms);
                t.sleep((until - now).max(1.0)).await?;
            }
        }
    }
    let last = jobs.last().map(|j| j.job_id.clone()).unwrap_or_default();
    out.finish(
        Place {
            window: n.saturating_sub(1),
            job_id: &last,
            fragment: None,
        },
        sink,
    )
    .await?;
    progress.phase = Phase::Done;
    progress.windows_done = n;
    progress.jobs_active = 0;
    progress.jobs_running = 0;
    progress.fragments.clear();
    sync_counts(&mut progress, &out);
    progress.significant = true;
    sink.progress(&progress);
    Ok(out.outcome(jobs))
}
