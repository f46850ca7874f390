//! The Userpilot runs: export jobs (start, with the 409 handled; get; list; wait) and lookups,
//! plus the rows of a finished job: every presigned gzip file fetched with a bounded number in
//! flight, inflated and parsed while it arrives, and delivered once, in file order.
//!
//! Downloads run the ordered-download machine ([`OrderedDownload`], core/download.rs) through the
//! shared loop in driver/ordered.rs; this file's hooks say what a file's request is and how its
//! body is inflated, decode.rs decodes the head file, jobs.rs runs the job and lookup machines. The machine decides what to open and read (no file further ahead
//! than its queue allows, so memory stays bounded by chunk size times concurrency), what to
//! deliver, and what a failure means (core/policy.rs): a file that fails part way (a dropped
//! connection, a truncated gzip stream) is fetched again from its start and the lines or rows
//! already delivered are skipped, so nothing is lost or repeated; a 403 on a presigned URL means
//! the link expired: the job is read again for fresh URLs, once per file, and a second 403 after
//! that is `LinkExpired`. Only the head file is decoded: gunzip, format sniffing and dedupe are
//! small adapters between the machine's deliveries and the sink.

use super::ordered::{self, Parts, Refused};
use super::{retry_after, within, Session};
use crate::core::download::{Config, OrderedDownload};
use crate::core::http::{body_length, says_empty, HttpRequest, HttpResponse};
use crate::core::policy::presigned_error;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::userpilot::exports::{check_job_id, file_request, Format, Job, JobStatus};
use crate::transport::{Body, ResponseHead, Transport};

mod decode;
mod jobs;
mod types;

use decode::*;
pub use jobs::*;
pub use types::*;

/// An edge worker may hold 6 connections at once.
pub const MAX_CONCURRENCY: usize = 6;
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Compressed bytes a file waiting for its turn may hold before its reads pause.
const QUEUE_LIMIT: usize = 1 << 20;
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

/// A body the runtime may decompress itself: with its `DecompressionStream`, or (the wasm client,
/// which carries no inflater of its own) with the parse module's `GunzipStream`.
pub trait GunzipBody: Body {
    /// Switches the body to yield decompressed bytes, through the runtime's own decoder when
    /// `native` asks for it and there is one; `false` if the body stays compressed (the driver
    /// inflates it then).
    fn gunzip(&mut self, _native: bool) -> bool {
        false
    }
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

impl FileRun {
    fn file_ref(&self, index: usize) -> FileRef<'_> {
        FileRef {
            index,
            filename: &self.filename,
        }
    }
}

/// A job's presigned files as the parts of an ordered download ([`ordered::run`]): their
/// requests, how each body is inflated, and the head file's decoder.
struct Files<'a, T, S: RowsSink> {
    t: &'a T,
    session: &'a Session,
    job_id: &'a str,
    /// Read again when the links expire.
    job: Job,
    files: Vec<FileRun>,
    run: Run<'a, S>,
    /// The head file's decoder, made at its first delivery.
    decode: Option<Decode>,
    /// What the head file delivered so far.
    done: Delivered,
    summaries: Vec<FileSummary>,
}

impl<'a, T, S: RowsSink> Files<'a, T, S> {
    fn checkpoint(&mut self, m: &OrderedDownload) {
        self.run.sink.checkpoint(&RowsCheckpoint {
            version: 1,
            job_id: self.job_id.to_string(),
            download: m.state(),
            line: self.done.line,
            rows: self.done.rows,
        });
    }

    /// The head file, its decoder (made at its first delivery, skipping what an earlier fetch
    /// delivered), the run and what the file delivered so far.
    fn head(
        &mut self,
        part: usize,
    ) -> Result<(&FileRun, &mut Decode, &mut Run<'a, S>, &mut Delivered)> {
        let Files {
            files,
            run,
            decode,
            done,
            ..
        } = self;
        let f = files
            .get(part)
            .ok_or_else(|| Error::network("internal: no such file"))?;
        let d = decode.get_or_insert_with(|| run.fresh_decode(f, done));
        Ok((f, d, run, done))
    }

    fn file(&self, part: usize) -> Result<&FileRun> {
        self.files
            .get(part)
            .ok_or_else(|| Error::network("internal: no such file"))
    }
}

impl<T, S> Parts<T::Body> for Files<'_, T, S>
where
    T: Transport,
    T::Body: GunzipBody,
    S: RowsSink,
{
    fn request(&mut self, part: usize) -> Result<HttpRequest> {
        let f = self.file(part)?;
        let url = self.job.file(&f.filename).ok_or_else(|| {
            Error::decode(
                0,
                0,
                format!("the job no longer lists file {:?}", f.filename),
            )
        })?;
        file_request(url)
    }

    async fn opened(
        &mut self,
        part: usize,
        head: &ResponseHead,
        body: &mut T::Body,
    ) -> Result<(Option<u64>, Vec<u8>)> {
        let empty = says_empty(&head.headers);
        let native = !empty && body.gunzip(self.run.opts.native_gunzip);
        if let Some(f) = self.files.get_mut(part) {
            f.zero_length = empty;
            f.native = native;
        }
        // A natively inflated body is longer than its length says.
        Ok((
            if native {
                None
            } else {
                body_length(&head.headers)
            },
            Vec::new(),
        ))
    }

    fn refused(&mut self, _part: usize, resp: HttpResponse, now_ms: f64) -> Refused {
        let retry = retry_after(&resp.headers, now_ms);
        Refused::Failed(presigned_error(resp.status, &resp.body, retry))
    }

    fn reset(&mut self, _part: usize) {
        // Everything already delivered is skipped on the new fetch.
        self.decode = None;
    }

    async fn deliver(&mut self, m: &OrderedDownload, part: usize, chunk: Vec<u8>) -> Result<()> {
        let (f, d, run, done) = self.head(part)?;
        run.progress.bytes += chunk.len() as u64;
        let r = run.chunk(f.file_ref(part), d, done, &chunk).await;
        run.sink.progress(&run.progress);
        self.checkpoint(m);
        r
    }

    async fn finish(&mut self, m: &OrderedDownload, part: usize) -> Result<()> {
        let (f, d, run, done) = self.head(part)?;
        run.end(f.file_ref(part), d, done).await?;
        let summary = FileSummary {
            filename: f.filename.clone(),
            format: f.format.or(d.format()),
            records: done.records,
            duplicates: done.duplicates,
            restarts: m.part(part).map_or(0, |p| p.restarts),
        };
        self.summaries.push(summary);
        Ok(())
    }

    fn finished(&mut self, m: &OrderedDownload, _part: usize) {
        self.decode = None;
        self.done = Delivered::default();
        self.run.progress.files_done = m.head();
        self.run.sink.progress(&self.run.progress);
        self.checkpoint(m);
    }

    fn more(&mut self, _m: &mut OrderedDownload) -> bool {
        false
    }

    async fn renew(&mut self) -> Result<()> {
        // One read of the job renews every link at once.
        self.job = get_job(self.t, self.session, self.job_id).await?;
        Ok(())
    }

    fn place(&self, part: usize, e: Error) -> Error {
        let name = self.files.get(part).map_or("", |f| f.filename.as_str());
        in_file(e, name)
    }

    fn restarted(&mut self, m: &OrderedDownload) {
        self.run.progress.restarts = m.restarts();
        self.run.progress.renewals = m.renewals();
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
    opts.validate()?;
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
    let mut run = Run::new(opts, sink, files.len());
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
    run.progress.restarts = m.restarts();
    run.progress.renewals = m.renewals();
    run.sink.progress(&run.progress);
    let mut parts = Files {
        t,
        session,
        job_id,
        job,
        files,
        run,
        decode: None,
        done,
        summaries: Vec::new(),
    };
    ordered::run(t, session, &mut m, opts.stall_timeout_ms, &mut parts).await?;
    let Files {
        job,
        files,
        mut run,
        summaries,
        ..
    } = parts;
    run.progress.restarts = m.restarts();
    run.progress.renewals = m.renewals();
    let last = files.len().saturating_sub(1);
    let name = files.last().map_or("", |f| f.filename.as_str());
    run.finish(FileRef {
        index: last,
        filename: name,
    })
    .await?;
    Ok(run.outcome(job, summaries))
}
