//! The Userpilot runs: export jobs (start, with the 409 handled; get; list; wait) and lookups,
//! plus the rows of a finished job: every presigned gzip file fetched with a bounded number in
//! flight, inflated and parsed while it arrives, and delivered once, in file order.
//!
//! Downloads run the ordered-download machine ([`OrderedDownload`], core/download.rs) over
//! [`InFlight`]: each in-flight future either opens a file or reads one chunk of it (owning the
//! body and handing it back). The machine decides what to open and read (no file further ahead
//! than its queue allows, so memory stays bounded by chunk size times concurrency), what to
//! deliver, and what a failure means (core/policy.rs): a file that fails part way (a dropped
//! connection, a truncated gzip stream) is fetched again from its start and the lines or rows
//! already delivered are skipped, so nothing is lost or repeated; a 403 on a presigned URL means
//! the link expired: the job is read again for fresh URLs, once per file, and a second 403 after
//! that is `LinkExpired`. Only the head file is decoded: gunzip, format sniffing and dedupe are
//! small adapters between the machine's deliveries and the sink.

use super::inflight::InFlight;
use super::{body_length, read_answer, retry_after, send, within, Response, Session};
use crate::core::dedupe::{event_id, SeenIds};
use crate::core::download::{Action, Config, Failed, OrderedDownload, State as DownloadState};
use crate::core::Step;
use crate::error::{Error, ErrorKind, Result};
use crate::parse::csv::{CsvOptions, CsvParser, RowBatch, RowError};
use crate::parse::flatten::{FlattenOptions, Flattener};
use crate::parse::gzip::GzipDecoder;
use crate::parse::jsonl::{JsonlOptions, JsonlParser, RecordBatch};
use crate::providers::userpilot::exports::{
    self, check_job_id, error_from_response, file_request, sniff, ArrayToLines, Created,
    ExportParams, Format, Job, JobStatus, PollSchedule, Sniffed, WaitJob,
};
use crate::providers::userpilot::lookups::{self, CursorWalk, Page, PageRequest};
use crate::providers::userpilot::start::{Start, StartJob};
use crate::transport::{Body, Transport};

/// An edge worker may hold 6 connections at once.
pub const MAX_CONCURRENCY: usize = 6;
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Compressed bytes a file waiting for its turn may hold before its reads pause.
const QUEUE_LIMIT: usize = 1 << 20;
/// Decompressed bytes handed to a parser at a time: bounds what one compressed chunk can become.
const INFLATE_BUF: usize = 64 * 1024;
/// The columns every event has, first in a flattened CSV (FACTS.md; the sandbox's CSV header).
pub const EVENT_COLUMNS: [&str; 8] = [
    "app_token",
    "event_type",
    "event_name",
    "user_id",
    "company_id",
    "source",
    "inserted_at",
    "internal_event_id",
];

/// A body the runtime may be able to decompress natively (the browser's `DecompressionStream`).
pub trait GunzipBody: Body {
    /// Switches the body to yield decompressed bytes; `false` if the runtime cannot.
    fn gunzip_natively(&mut self) -> bool {
        false
    }
}

/// Userpilot's answer to a small JSON request: the body on success, else the mapped error.
async fn call<T: Transport>(
    t: &T,
    session: &Session,
    req: crate::core::http::HttpRequest,
) -> Result<crate::core::http::HttpResponse> {
    let resp = match send(t, session, req, &mut || {}).await? {
        Response::Buffered(r) => r,
        Response::Streaming(head, mut body) => crate::core::http::HttpResponse {
            status: head.status,
            headers: head.headers,
            body: super::read_all(&mut body, super::SMALL_BODY_LIMIT).await?,
        },
    };
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(error_from_response(
            &resp,
            retry_after(&resp.headers, t.now_ms()),
        ))
    }
}

/// A JSON answer of a read: an error body or an answer cut short is read again.
async fn read<T: Transport, R>(
    t: &T,
    session: &Session,
    req: crate::core::http::HttpRequest,
    parse: impl FnMut(&[u8]) -> Result<R>,
) -> Result<R> {
    read_answer(
        t,
        session,
        req.idempotent,
        || call(t, session, req.clone()),
        parse,
    )
    .await
}

pub async fn get_job<T: Transport>(t: &T, session: &Session, job_id: &str) -> Result<Job> {
    read(
        t,
        session,
        exports::get_request(&session.base_url, job_id)?,
        Job::parse,
    )
    .await
}

pub async fn list_jobs<T: Transport>(t: &T, session: &Session) -> Result<Vec<Job>> {
    read(
        t,
        session,
        exports::list_request(&session.base_url),
        Job::parse_list,
    )
    .await
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitOptions {
    pub initial_ms: f64,
    pub max_ms: f64,
    /// Give up with `Timeout` after this long.
    pub timeout_ms: Option<f64>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            initial_ms: 500.0,
            max_ms: 10_000.0,
            timeout_ms: None,
        }
    }
}

/// Reads the job until it is `completed` (returned) or `failed` (`JobFailed`), sleeping longer
/// between reads as it runs on. `on_progress` sees every read.
pub async fn wait<T: Transport>(
    t: &T,
    session: &Session,
    job_id: &str,
    opts: &WaitOptions,
    on_progress: &mut dyn FnMut(&Job),
) -> Result<Job> {
    check_job_id("jobId", job_id)?;
    let deadline = opts.timeout_ms.map(|ms| t.now_ms() + ms);
    let schedule = PollSchedule::new(opts.initial_ms, opts.max_ms, deadline);
    let mut w = WaitJob::new(&session.base_url, job_id, schedule)?;
    loop {
        t.check_aborted()?;
        match w.poll(t.now_ms())? {
            Step::Done(job) => return Ok(job),
            Step::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
            Step::Send(req) => {
                let left = w.poll_timeout(t.now_ms());
                let job = within(t, left, read(t, session, req, Job::parse)).await?;
                on_progress(&job);
                w.handle_job(job, t.now_ms())?;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StartOptions {
    /// On a 409, wait for the running job to finish, then start this one.
    pub wait_for_running: bool,
    pub wait: WaitOptions,
}

/// What `start` went through before its job was created.
#[derive(Debug, Clone, PartialEq)]
pub enum StartEvent<'a> {
    /// A 409: this job (if the list tells) is running; waiting for it.
    WaitingFor(Option<&'a str>),
    /// A read of the job being waited for.
    Progress(&'a Job),
}

/// Starts an export. A 409 fails with `Conflict` naming the running job when the jobs list can
/// tell, or, with `wait_for_running`, waits for that job and tries again: the [`StartJob`]
/// machine decides, this loop runs its requests and waits.
pub async fn start<T: Transport>(
    t: &T,
    session: &Session,
    params: &ExportParams,
    opts: &StartOptions,
    on_event: &mut dyn FnMut(StartEvent<'_>),
) -> Result<Created> {
    let deadline = opts.wait.timeout_ms.map(|ms| t.now_ms() + ms);
    let mut s = StartJob::new(
        &session.base_url,
        params,
        opts.wait_for_running,
        opts.wait.initial_ms,
        opts.wait.max_ms,
        deadline,
    );
    loop {
        t.check_aborted()?;
        match s.poll(t.now_ms())? {
            Start::Done(created) => return Ok(created),
            Start::Create(req) => {
                let resp = match send(t, session, req, &mut || {}).await? {
                    Response::Buffered(r) => r,
                    Response::Streaming(head, mut body) => crate::core::http::HttpResponse {
                        status: head.status,
                        headers: head.headers,
                        body: super::read_all(&mut body, super::SMALL_BODY_LIMIT).await?,
                    },
                };
                s.handle_created(&resp, retry_after(&resp.headers, t.now_ms()));
            }
            Start::List(_) => s.handle_listed(list_jobs(t, session).await),
            Start::Conflicted { running } => on_event(StartEvent::WaitingFor(running.as_deref())),
            Start::WaitFor { job_id, timeout_ms } => {
                let wait_opts = WaitOptions {
                    timeout_ms,
                    ..opts.wait
                };
                let r = wait(t, session, &job_id, &wait_opts, &mut |j| {
                    on_event(StartEvent::Progress(j))
                })
                .await;
                s.handle_waited(r.map(|_| ()));
            }
            Start::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
        }
    }
}

/// One page of a lookup (the only page for the unpaginated ones).
pub async fn lookup<T: Transport>(
    t: &T,
    session: &Session,
    name: &str,
    page: &PageRequest,
) -> Result<Page> {
    let req = lookups::lookup_request(&session.base_url, name, page)?;
    read(t, session, req, |body| Page::parse(name, body)).await
}

/// Walks a lookup's cursor pages to the end, handing each to `on_page` in order (which may stop
/// the walk by returning an error). Returns (pages, items).
#[allow(async_fn_in_trait)]
pub trait PageSink {
    async fn page(&mut self, page: Page) -> Result<()>;
}

pub async fn lookup_pages<T: Transport, S: PageSink>(
    t: &T,
    session: &Session,
    name: &str,
    limit: Option<u32>,
    sink: &mut S,
) -> Result<(u64, u64)> {
    let mut walk = CursorWalk::new(name, limit)?;
    while let Some(req) = walk.poll_request(&session.base_url) {
        t.check_aborted()?;
        let page = read(t, session, req?, |body| walk.handle_page(body)).await?;
        sink.page(page).await?;
    }
    Ok((walk.pages, walk.items))
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowsOptions {
    /// Files in flight at once (1..=[`MAX_CONCURRENCY`]).
    pub concurrency: usize,
    /// Drop events whose `internal_event_id` was already delivered (files overlap at their
    /// edges). Costs a set of every id seen: 16 bytes per distinct event plus the hash
    /// table's slack (about 20 to 40 bytes each), growing with the export: opt-in.
    pub dedupe: bool,
    /// Fail on the first malformed line or record instead of reporting it in `errors`.
    pub strict: bool,
    pub batch_records: usize,
    /// Turn JSON Lines records into CSV text (nested `metadata` as dotted columns).
    pub flatten: bool,
    /// Let the runtime decompress (`DecompressionStream`) when it can; else the Rust inflater.
    pub native_gunzip: bool,
    /// A file whose answer or next chunk takes longer than this is fetched again.
    pub stall_timeout_ms: Option<f64>,
    /// With `flatten`: cells as they are, without the CSV-injection guard.
    pub raw_cells: bool,
    /// JSON files: a longer line, or an event nested deeper, is one bad record.
    pub max_line_bytes: usize,
    pub max_depth: usize,
    /// Used when the job is still running.
    pub wait: WaitOptions,
    /// With `flatten`, resuming: the columns the run being resumed wrote its header with, so the
    /// rest is written under the same header (none found afresh).
    pub flatten_columns: Option<Vec<String>>,
}

impl Default for RowsOptions {
    fn default() -> Self {
        RowsOptions {
            concurrency: DEFAULT_CONCURRENCY,
            dedupe: false,
            strict: false,
            batch_records: 2048,
            flatten: false,
            native_gunzip: true,
            stall_timeout_ms: None,
            raw_cells: false,
            max_line_bytes: JsonlOptions::default().max_line_bytes,
            max_depth: JsonlOptions::default().max_depth,
            wait: WaitOptions::default(),
            flatten_columns: None,
        }
    }
}

/// Records of one file, as one JSON array text.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonBatch {
    pub text: String,
    pub count: usize,
    pub first_line: u64,
    pub last_line: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileRef<'a> {
    pub index: usize,
    pub filename: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RowsProgress {
    pub files_done: usize,
    pub files_total: usize,
    /// Records (or CSV rows) delivered.
    pub records: u64,
    pub duplicates: u64,
    /// Compressed bytes received, restarts included.
    pub bytes: u64,
    pub renewals: u32,
    pub restarts: u32,
}

/// Receives a job's rows in file order.
#[allow(async_fn_in_trait)]
pub trait RowsSink {
    /// Records of a JSON Lines file.
    async fn records(&mut self, file: FileRef<'_>, batch: JsonBatch) -> Result<()>;
    /// Rows of a CSV file, with its header.
    async fn rows(&mut self, file: FileRef<'_>, header: &[String], batch: RowBatch) -> Result<()>;
    /// With `flatten`: CSV text of JSON records (the header in the first piece).
    async fn flat(&mut self, file: FileRef<'_>, csv: String, rows: u64) -> Result<()>;
    fn progress(&mut self, p: &RowsProgress);
    /// Where the run stands after each delivery: saved, it lets [`rows_from`] continue the run
    /// later without repeating or losing a row.
    fn checkpoint(&mut self, _at: &RowsCheckpoint) {}
}

/// Where a rows run stands (issue 18's `--resume`): ids, counts and offsets, never rows. The
/// files before `download.head` are delivered in full; of the head file, JSON Lines through
/// `line` and CSV data rows before `rows`. Events repeated across the resume point are not
/// recognised by `dedupe` (the set of ids seen is not kept).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RowsCheckpoint {
    pub version: u32,
    pub job_id: String,
    pub download: DownloadState,
    pub line: u64,
    pub rows: u64,
}

/// A malformed line (JSON Lines) or record (CSV) that was skipped or reported.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsError {
    /// The bad-record type and code (`LineErrorKind` or `RowErrorKind`).
    pub kind: &'static str,
    pub code: &'static str,
    pub file: usize,
    pub filename: String,
    /// 1-based physical line.
    pub line: u64,
    /// CSV only: the 0-based data row.
    pub row: Option<u64>,
    /// JSON Lines only: the 1-based byte column, 0 when not known.
    pub column: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    pub filename: String,
    pub format: Option<Format>,
    pub records: u64,
    pub duplicates: u64,
    /// Fetches after the first (expired links, dropped connections, truncated streams).
    pub restarts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowsOutcome {
    pub job: Job,
    pub files: Vec<FileSummary>,
    pub records: u64,
    pub duplicates: u64,
    pub errors: Vec<RowsError>,
    pub bytes: u64,
    pub renewals: u32,
    pub restarts: u32,
    /// With `flatten`: fields first seen after the header was written (column, first line).
    pub late_fields: Vec<(String, u64)>,
}

enum Parser {
    /// Format not known yet (an unusual file name): decided by the first byte.
    Unknown,
    Json(Box<JsonlParser>),
    Csv {
        parser: Box<CsvParser>,
        id_column: Option<Option<usize>>,
    },
}

/// The head file's decoding state; rebuilt from scratch when the file is fetched again.
struct Decode {
    gz: Option<GzipDecoder>,
    parser: Parser,
    out: Vec<u8>,
    /// Compressed bytes received: none at all, under a `Content-Length: 0`, is an empty file.
    raw_in: u64,
    zero_length: bool,
    /// The first data byte has been seen (it tells a JSON array from JSON Lines).
    sniffed: bool,
    /// A JSON file that is one JSON array, read as JSON Lines.
    array: Option<ArrayToLines>,
}

/// What has been delivered from a file: a fetch from the start skips it.
#[derive(Default)]
struct Delivered {
    /// JSON Lines: every line up to this one is delivered or reported.
    line: u64,
    /// CSV: data rows before this index are delivered.
    rows: u64,
    records: u64,
    duplicates: u64,
}

/// What the driver knows of a file beyond the download machine's part.
struct FileRun {
    filename: String,
    format: Option<Format>,
    /// The runtime decompresses its body.
    native: bool,
    /// The answer said `Content-Length: 0`.
    zero_length: bool,
}

enum Event<B> {
    Opened(Result<Response<B>>),
    Read(B, Result<Option<Vec<u8>>>),
    /// A restart deadline passed.
    Timer(Result<()>),
}

/// Names the file on the error, as a field and (for the messages people read) in its text.
fn in_file(e: Error, filename: &str) -> Error {
    if e.file().is_some() {
        return e;
    }
    let kind = match e.kind() {
        ErrorKind::Decode {
            line,
            column,
            reason,
        } => Some(ErrorKind::Decode {
            line: *line,
            column: *column,
            reason: format!("{filename}: {reason}"),
        }),
        ErrorKind::Network { message } => Some(ErrorKind::Network {
            message: format!("{filename}: {message}"),
        }),
        _ => None,
    };
    let e = match kind {
        Some(k) => e.with_kind(k),
        None => e,
    };
    e.in_file(filename)
}

/// Rows `keep` selects, repacked (the CSV parser's batches are packed; a filtered one must be
/// rebuilt). `first_row` becomes the index of the first kept row.
fn retain_rows(b: &RowBatch, mut keep: impl FnMut(usize, &RowBatch) -> bool) -> RowBatch {
    let mut out = RowBatch::default();
    let mut first: Option<u64> = None;
    for i in 0..b.len() {
        if !keep(i, b) {
            continue;
        }
        first.get_or_insert(b.first_row + i as u64);
        for field in b.row(i) {
            let before = out.utf16_ends.last().copied().unwrap_or(0);
            out.text.push_str(field);
            out.byte_ends.push(out.text.len() as u32);
            let units = if field.is_ascii() {
                field.len()
            } else {
                field.encode_utf16().count()
            };
            out.utf16_ends.push(before + units as u32);
        }
        out.row_ends.push(out.byte_ends.len() as u32);
        out.row_count += 1;
    }
    out.first_row = first.unwrap_or(b.first_row + b.len() as u64);
    out
}

struct Run<'s, S: RowsSink> {
    opts: RowsOptions,
    sink: &'s mut S,
    seen: Option<SeenIds>,
    flattener: Option<Flattener>,
    progress: RowsProgress,
    errors: Vec<RowsError>,
}

impl<S: RowsSink> Run<'_, S> {
    /// The head file's decoder for a fresh fetch: what was delivered before is skipped.
    fn fresh_decode(&self, f: &FileRun, done: &Delivered) -> Decode {
        let mut d = self.new_decode(f.format, f.native, f.zero_length);
        self.skip_delivered(&mut d, done);
        d
    }

    fn new_decode(&self, format: Option<Format>, native: bool, zero_length: bool) -> Decode {
        Decode {
            raw_in: 0,
            zero_length,
            sniffed: false,
            array: None,
            gz: (!native).then(GzipDecoder::new),
            parser: self.new_parser(format),
            out: Vec::new(),
        }
    }

    fn new_parser(&self, format: Option<Format>) -> Parser {
        match format {
            None => Parser::Unknown,
            Some(Format::Json) => Parser::Json(Box::new(JsonlParser::new(JsonlOptions {
                strict: self.opts.strict,
                batch_records: self.opts.batch_records,
                max_line_bytes: self.opts.max_line_bytes,
                max_depth: self.opts.max_depth,
                ..JsonlOptions::default()
            }))),
            Some(Format::Csv) => Parser::Csv {
                parser: Box::new(CsvParser::new(CsvOptions {
                    strict: self.opts.strict,
                    batch_rows: self.opts.batch_records,
                    ..CsvOptions::default()
                })),
                id_column: None,
            },
        }
    }

    /// Feeds decompressed bytes to the parser and delivers what became complete.
    async fn feed(
        &mut self,
        file: FileRef<'_>,
        d: &mut Decode,
        done: &mut Delivered,
        data: &[u8],
    ) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if let Parser::Unknown = d.parser {
            let Some(sniffed) = sniff(data) else {
                return Ok(());
            };
            d.parser = self.new_parser(Some(sniffed.format()));
            self.skip_delivered(d, done);
        }
        if !d.sniffed && matches!(d.parser, Parser::Json(_)) {
            if let Some(sniffed) = sniff(data) {
                d.sniffed = true;
                if sniffed == Sniffed::JsonArray {
                    d.array = Some(ArrayToLines::default());
                }
            }
        }
        let converted;
        let data = match &mut d.array {
            Some(a) => {
                let mut out = Vec::with_capacity(data.len());
                a.feed(data, &mut out)
                    .map_err(|e| in_file(e, file.filename))?;
                converted = out;
                &converted[..]
            }
            None => data,
        };
        let pushed = match &mut d.parser {
            Parser::Json(p) => p.push(data),
            Parser::Csv { parser, .. } => parser.push(data),
            Parser::Unknown => Ok(()),
        };
        if let Err(e) = pushed {
            // Strict mode: what came before the bad line still goes out, so the error's
            // position is exactly where delivery stopped.
            self.deliver(file, d, done, Take::Pending).await?;
            return Err(in_file(e, file.filename));
        }
        self.deliver(file, d, done, Take::Full).await
    }

    fn skip_delivered(&self, d: &mut Decode, done: &Delivered) {
        if let Parser::Json(p) = &mut d.parser {
            p.skip_through_line(done.line);
        }
    }

    async fn deliver(
        &mut self,
        file: FileRef<'_>,
        d: &mut Decode,
        done: &mut Delivered,
        take: Take,
    ) -> Result<()> {
        let last = take == Take::Last;
        match &mut d.parser {
            Parser::Unknown => {}
            Parser::Json(p) => {
                if last {
                    p.finish().map_err(|e| in_file(e, file.filename))?;
                }
                for e in p.take_errors() {
                    self.errors.push(RowsError {
                        kind: e.kind.bad_type(),
                        code: e.kind.as_str(),
                        file: file.index,
                        filename: file.filename.to_string(),
                        line: e.line,
                        row: None,
                        column: Some(e.column),
                        message: e.message,
                    });
                }
                while let Some(batch) = take.take_json(p) {
                    let last_line = batch.last_line();
                    self.json_batch(file, batch, done).await?;
                    done.line = done.line.max(last_line);
                }
            }
            Parser::Csv { parser, id_column } => {
                if last {
                    parser.finish().map_err(|e| in_file(e, file.filename))?;
                }
                let errs: Vec<RowError> = parser.take_errors();
                for e in errs {
                    if e.row >= done.rows {
                        self.errors.push(RowsError {
                            kind: e.kind.bad_type(),
                            code: e.kind.as_str(),
                            file: file.index,
                            filename: file.filename.to_string(),
                            line: e.line,
                            row: Some(e.row),
                            column: None,
                            message: e.message,
                        });
                    }
                }
                let header: Vec<String> = match parser.header() {
                    Some(h) => h.to_vec(),
                    None => return Ok(()),
                };
                let id_col = *id_column
                    .get_or_insert_with(|| header.iter().position(|h| h == "internal_event_id"));
                while let Some(batch) = take.take_csv(parser) {
                    let end = batch.first_row + batch.len() as u64;
                    let skip_before = done.rows;
                    let mut dups = 0u64;
                    let seen = &mut self.seen;
                    let needs_filter = batch.first_row < skip_before || seen.is_some();
                    let out = if needs_filter {
                        retain_rows(&batch, |i, b| {
                            if b.first_row + (i as u64) < skip_before {
                                return false;
                            }
                            match (seen.as_mut(), id_col) {
                                (Some(s), Some(c)) => match b.row(i).nth(c) {
                                    Some(id) if !id.is_empty() && !s.insert(id) => {
                                        dups += 1;
                                        false
                                    }
                                    _ => true,
                                },
                                _ => true,
                            }
                        })
                    } else {
                        batch
                    };
                    done.rows = done.rows.max(end);
                    done.duplicates += dups;
                    self.progress.duplicates += dups;
                    if !out.is_empty() {
                        done.records += out.len() as u64;
                        self.progress.records += out.len() as u64;
                        self.sink.rows(file, &header, out).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn json_batch(
        &mut self,
        file: FileRef<'_>,
        batch: RecordBatch,
        done: &mut Delivered,
    ) -> Result<()> {
        let first_line = batch.first_line;
        let last_line = batch.last_line();
        let mut kept: Option<Vec<(u64, &str)>> = None;
        if let Some(seen) = &mut self.seen {
            let mut list = Vec::with_capacity(batch.len());
            let mut dups = 0;
            for (line, text) in batch.iter_text() {
                match event_id(text) {
                    Some(id) if !seen.insert(&id) => dups += 1,
                    _ => list.push((line, text)),
                }
            }
            done.duplicates += dups;
            self.progress.duplicates += dups;
            if dups > 0 {
                kept = Some(list);
            }
        }
        let count = kept.as_ref().map_or(batch.len(), Vec::len);
        if count == 0 {
            return Ok(());
        }
        done.records += count as u64;
        self.progress.records += count as u64;
        if let Some(f) = &mut self.flattener {
            let mut csv = String::new();
            let rows = match &kept {
                None => f.write_batch(&batch, &mut csv)?,
                Some(list) => {
                    let mut n = 0;
                    for (line, text) in list {
                        n += f.write_record(text, *line, &mut csv)?;
                    }
                    n
                }
            };
            return self.sink.flat(file, csv, rows).await;
        }
        let jb = match kept {
            None => JsonBatch {
                count,
                first_line,
                last_line,
                text: batch.text,
            },
            Some(list) => {
                let mut text = String::with_capacity(batch.text.len());
                text.push('[');
                for (i, (_, t)) in list.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(t);
                }
                text.push(']');
                JsonBatch {
                    count,
                    first_line: list.first().map_or(first_line, |x| x.0),
                    last_line,
                    text,
                }
            }
        };
        self.sink.records(file, jb).await
    }

    /// Inflates (unless the runtime already did) and feeds one received chunk, in slices of at
    /// most [`INFLATE_BUF`] decompressed bytes.
    async fn chunk(
        &mut self,
        file: FileRef<'_>,
        d: &mut Decode,
        done: &mut Delivered,
        chunk: &[u8],
    ) -> Result<()> {
        d.raw_in += chunk.len() as u64;
        let Some(mut gz) = d.gz.take() else {
            return self.feed(file, d, done, chunk).await;
        };
        if d.out.len() < INFLATE_BUF {
            d.out.resize(INFLATE_BUF, 0);
        }
        let mut out = std::mem::take(&mut d.out);
        let mut rest = chunk;
        let r = async {
            loop {
                let (c, w) = gz.decode(rest, &mut out)?;
                rest = rest.get(c..).unwrap_or(&[]);
                self.feed(file, d, done, out.get(..w).unwrap_or(&[]))
                    .await?;
                if rest.is_empty() && w < out.len() {
                    return Ok(());
                }
            }
        }
        .await;
        d.out = out;
        d.gz = Some(gz);
        r.map_err(|e| in_file(e, file.filename))
    }

    /// The file's body ended: a gzip stream must end between members; then the parser finishes.
    /// A stream cut short is the connection's fault, so it is a (retryable) network error.
    async fn end(&mut self, file: FileRef<'_>, d: &mut Decode, done: &mut Delivered) -> Result<()> {
        // A zero-byte object is how some stores keep an empty partition (issue 15 §3): no records.
        // Only when the answer said so: a body that ends before any byte without saying it is a
        // cut, fetched again.
        if d.raw_in == 0 && d.zero_length {
            return self.deliver(file, d, done, Take::Last).await;
        }
        if d.raw_in == 0 && d.gz.is_some() {
            return Err(in_file(
                Error::network("body ended before its first byte"),
                file.filename,
            ));
        }
        if let Some(gz) = &mut d.gz {
            if let Err(e) = gz.finish() {
                return Err(if gz.is_truncated() {
                    in_file(
                        Error::network(format!("body cut short: {e}")),
                        file.filename,
                    )
                } else {
                    in_file(e, file.filename)
                });
            }
        }
        // After the gzip check: a cut stream is fetched again, an unclosed array in a whole one
        // is bad data.
        if let Some(a) = &d.array {
            a.finish().map_err(|e| in_file(e, file.filename))?;
        }
        self.deliver(file, d, done, Take::Last).await
    }
}

/// Which batches a delivery takes from the parser.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    /// Full batches only (more input is coming).
    Full,
    /// Everything parsed so far (the input failed).
    Pending,
    /// The parser is finished first, then everything.
    Last,
}

impl Take {
    fn take_json(self, p: &mut JsonlParser) -> Option<RecordBatch> {
        match self {
            Take::Pending => p.take_pending(),
            Take::Full | Take::Last => p.take_batch(),
        }
    }

    fn take_csv(self, p: &mut CsvParser) -> Option<RowBatch> {
        match self {
            Take::Pending => p.take_pending(),
            Take::Full | Take::Last => p.take_batch(),
        }
    }
}

/// Reads the job (waiting if it still runs), then delivers every file's rows in file order.
pub async fn rows<T, S>(
    t: &T,
    session: &Session,
    job_id: &str,
    opts: &RowsOptions,
    sink: &mut S,
) -> Result<RowsOutcome>
where
    T: Transport,
    T::Body: GunzipBody,
    S: RowsSink,
{
    rows_from(t, session, job_id, opts, None, sink).await
}

/// [`rows`], continuing from a checkpoint a sink saved: the files and lines it covers are
/// skipped. The outcome counts what this run delivered.
pub async fn rows_from<T, S>(
    t: &T,
    session: &Session,
    job_id: &str,
    opts: &RowsOptions,
    resume_from: Option<&RowsCheckpoint>,
    sink: &mut S,
) -> Result<RowsOutcome>
where
    T: Transport,
    T::Body: GunzipBody,
    S: RowsSink,
{
    check_job_id("jobId", job_id)?;
    if !(1..=MAX_CONCURRENCY).contains(&opts.concurrency) {
        return Err(Error::invalid(
            "concurrency",
            format!("must be an integer from 1 to {MAX_CONCURRENCY}"),
        ));
    }
    if opts.batch_records == 0 || opts.batch_records > 1_000_000 {
        return Err(Error::invalid(
            "batchRecords",
            "must be an integer from 1 to 1000000",
        ));
    }
    if opts
        .stall_timeout_ms
        .is_some_and(|ms| ms.is_nan() || ms < 1.0)
    {
        return Err(Error::invalid("stallTimeoutMs", "must be at least 1"));
    }
    // The job read is part of waiting for the job: the wait's deadline bounds it.
    let mut job = within(t, opts.wait.timeout_ms, get_job(t, session, job_id)).await?;
    match job.status {
        JobStatus::Completed => {}
        JobStatus::Failed => {
            return Err(Error::new(ErrorKind::JobFailed {
                job_id: job.job_id,
                state: "failed".into(),
            }))
        }
        _ => job = wait(t, session, job_id, &opts.wait, &mut |_| {}).await?,
    }
    let files: Vec<FileRun> = job
        .presigned_urls
        .iter()
        .map(|f| FileRun {
            filename: f.filename.clone(),
            format: Format::of_filename(&f.filename),
            native: false,
            zero_length: false,
        })
        .collect();
    let mut files = files;
    let mut run = Run {
        opts: opts.clone(),
        sink,
        seen: opts.dedupe.then(SeenIds::default),
        flattener: opts.flatten.then(|| {
            Flattener::new(FlattenOptions {
                columns: opts
                    .flatten_columns
                    .clone()
                    .unwrap_or_else(|| EVENT_COLUMNS.iter().map(|c| c.to_string()).collect()),
                discover: opts.flatten_columns.is_none(),
                raw_cells: opts.raw_cells,
                ..FlattenOptions::default()
            })
        }),
        progress: RowsProgress {
            files_total: files.len(),
            ..RowsProgress::default()
        },
        errors: Vec::new(),
    };
    let cfg = Config {
        concurrency: opts.concurrency,
        read_ahead_bytes: QUEUE_LIMIT,
        line_ended: false,
        reopen: true,
        signed: true,
        retry: session.retry,
        seed: (t.now_ms() as u64) ^ 0x5851_F42D_4C95_7F2D,
    };
    let mut m = OrderedDownload::new(cfg, files.len());
    let mut done = Delivered::default();
    if let Some(cp) = resume_from {
        if cp.version != 1 || cp.job_id != job_id || cp.download.parts != files.len() {
            return Err(Error::invalid(
                "resumeFrom",
                format!(
                    "is not a version 1 checkpoint of job {job_id} and its {} files",
                    files.len()
                ),
            ));
        }
        m = OrderedDownload::resume(cfg, &cp.download)?;
        done.line = cp.line;
        done.rows = cp.rows;
        run.progress.files_done = m.head();
    }
    let checkpoint = |m: &OrderedDownload, done: &Delivered| RowsCheckpoint {
        version: 1,
        job_id: job_id.to_string(),
        download: m.state(),
        line: done.line,
        rows: done.rows,
    };
    let mut bodies: Vec<Option<T::Body>> = files.iter().map(|_| None).collect();
    let mut summaries: Vec<FileSummary> = Vec::with_capacity(files.len());
    let mut inflight: InFlight<'_, (usize, u32), Event<T::Body>> = InFlight::new();
    let mut timer: Option<f64> = None;
    let stall = opts.stall_timeout_ms;
    let mut decode: Option<Decode> = None;
    run.sink.progress(&run.progress);

    loop {
        t.check_aborted()?;
        match m.poll(t.now_ms()) {
            Action::Open { part, ticket } => {
                let Some(f) = files.get(part) else { break };
                let url = job
                    .file(&f.filename)
                    .ok_or_else(|| {
                        Error::decode(
                            0,
                            0,
                            format!("the job no longer lists file {:?}", f.filename),
                        )
                    })?
                    .clone();
                let req = file_request(&url)?;
                bodies[part] = None;
                inflight.push((part, ticket), async move {
                    Event::Opened(within(t, stall, send(t, session, req, &mut || {})).await)
                });
            }
            Action::Read { part, ticket } => {
                let Some(mut body) = bodies.get_mut(part).and_then(Option::take) else {
                    return Err(Error::network("internal: a file to read has no body"));
                };
                inflight.push((part, ticket), async move {
                    let r = within(t, stall, body.chunk()).await;
                    Event::Read(body, r)
                });
            }
            // Everything already delivered is skipped on the new fetch.
            Action::Reset { .. } => decode = None,
            Action::Deliver { part, chunk } => {
                inflight.kick().await;
                let Some(f) = files.get(part) else { break };
                let file = FileRef {
                    index: part,
                    filename: &f.filename,
                };
                let d = decode.get_or_insert_with(|| run.fresh_decode(f, &done));
                run.progress.bytes += chunk.len() as u64;
                let r = run.chunk(file, d, &mut done, &chunk).await;
                run.sink.progress(&run.progress);
                run.sink.checkpoint(&checkpoint(&m, &done));
                if let Err(e) = r {
                    // A stream cut short is fetched again; anything else ends the run.
                    let ticket = m.part(part).map_or(0, |p| p.ticket());
                    m.handle_failure(part, ticket, Failed::Body, e, t.now_ms())?;
                }
            }
            Action::Finish { part } => {
                let Some(f) = files.get(part) else { break };
                let file = FileRef {
                    index: part,
                    filename: &f.filename,
                };
                let d = decode.get_or_insert_with(|| run.fresh_decode(f, &done));
                match run.end(file, d, &mut done).await {
                    Ok(()) => {
                        summaries.push(FileSummary {
                            filename: f.filename.clone(),
                            format: f.format.or(match d.parser {
                                Parser::Json(_) => Some(Format::Json),
                                Parser::Csv { .. } => Some(Format::Csv),
                                Parser::Unknown => None,
                            }),
                            records: done.records,
                            duplicates: done.duplicates,
                            restarts: m.part(part).map_or(0, |p| p.restarts),
                        });
                        decode = None;
                        done = Delivered::default();
                        m.handle_finished(part);
                        run.progress.files_done = m.head();
                        run.sink.progress(&run.progress);
                        run.sink.checkpoint(&checkpoint(&m, &done));
                    }
                    Err(e) => {
                        let ticket = m.part(part).map_or(0, |p| p.ticket());
                        m.handle_failure(part, ticket, Failed::Body, e, t.now_ms())?;
                    }
                }
            }
            Action::Renew => {
                // One read of the job renews every link at once.
                job = get_job(t, session, job_id).await?;
                m.handle_renewed();
            }
            Action::Done => break,
            Action::Idle => {
                if let Some(until) = m.poll_timeout() {
                    if timer.is_none_or(|armed| until < armed) {
                        timer = Some(until);
                        let ms = (until - t.now_ms()).max(0.0);
                        inflight.push(
                            (usize::MAX, 0),
                            async move { Event::Timer(t.sleep(ms).await) },
                        );
                    }
                }
                let Some(((k, ticket), event)) = inflight.next().await else {
                    return Err(Error::network(
                        "internal: no download in flight and the head file is not finished",
                    ));
                };
                let now = t.now_ms();
                let name = files.get(k).map_or("", |f| f.filename.as_str());
                let failed = |e: Error| in_file(e, name);
                match event {
                    Event::Timer(r) => {
                        r?;
                        timer = None;
                    }
                    Event::Opened(Ok(Response::Streaming(head, mut body))) => {
                        // A zero-byte file cannot go through a native gunzip (it would fail on
                        // the missing header): it is read as it is, and is empty.
                        let empty = head
                            .header("content-length")
                            .is_some_and(|v| v.trim() == "0");
                        if !m.handle_opened(k, ticket, None) {
                            continue;
                        }
                        let native = !empty && opts.native_gunzip && body.gunzip_natively();
                        // A natively inflated body is longer than its length says.
                        let expected = if native { None } else { body_length(&head) };
                        m.set_expected(k, expected);
                        if let Some(f) = files.get_mut(k) {
                            f.zero_length = empty;
                            f.native = native;
                        }
                        bodies[k] = Some(body);
                    }
                    Event::Opened(Ok(Response::Buffered(resp))) => {
                        let e = file_error(&resp, now);
                        m.handle_failure(k, ticket, Failed::Open, e, now)
                            .map_err(failed)?
                    }
                    Event::Opened(Err(e)) => m
                        .handle_failure(k, ticket, Failed::Open, e, now)
                        .map_err(failed)?,
                    Event::Read(body, Ok(Some(chunk))) => {
                        if m.handle_chunk(k, ticket, chunk) {
                            bodies[k] = Some(body);
                        }
                    }
                    Event::Read(_, Ok(None)) => m.handle_end(k, ticket, now).map_err(failed)?,
                    Event::Read(_, Err(e)) => m
                        .handle_failure(k, ticket, Failed::Body, e, now)
                        .map_err(failed)?,
                }
            }
        }
        run.progress.restarts = m.restarts();
        run.progress.renewals = m.renewals();
    }
    let mut late_fields = Vec::new();
    if let Some(f) = &mut run.flattener {
        let mut tail = String::new();
        f.finish(&mut tail);
        late_fields = f
            .late_fields()
            .iter()
            .map(|l| (l.column.clone(), l.first_line))
            .collect();
        if !tail.is_empty() {
            let name = files.last().map(|f| f.filename.as_str()).unwrap_or("");
            run.sink
                .flat(
                    FileRef {
                        index: files.len().saturating_sub(1),
                        filename: name,
                    },
                    tail,
                    0,
                )
                .await?;
        }
    }
    Ok(RowsOutcome {
        records: run.progress.records,
        duplicates: run.progress.duplicates,
        bytes: run.progress.bytes,
        renewals: run.progress.renewals,
        restarts: run.progress.restarts,
        errors: run.errors,
        files: summaries,
        late_fields,
        job,
    })
}

/// What a presigned file's error answer means. 403: the link expired (S3 says "Request has
/// expired") or was refused; both are fixed by a fresh URL, at most once.
fn file_error(resp: &crate::core::http::HttpResponse, now_ms: f64) -> Error {
    if resp.status == 403 {
        let text = String::from_utf8_lossy(&resp.body);
        if text.contains("expired") {
            return Error::new(ErrorKind::LinkExpired);
        }
    }
    Error::from_status(resp.status, &resp.body, retry_after(&resp.headers, now_ms))
}
