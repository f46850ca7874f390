//! The public shapes of an Activities run: options, progress, deliveries, outcome.

use crate::core::download::State as DownloadState;
use crate::driver::check_stall_timeout;
use crate::error::{Error, Result};
use crate::parse::flatten::LateField;
use crate::parse::jsonl::{JsonlOptions, RecordBatch};
use crate::providers::backstory::activities::{
    Job, PollBackoff, DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MAX_QUEUED,
};

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
    /// CSV output, resuming: the columns the run being resumed wrote its header with, so the
    /// rest is written under the same header (none found afresh).
    pub csv_columns: Option<Vec<String>>,
    /// Only these of the job's planned data requests, `[from, to)` as [`data_parts`] counts them:
    /// one piece of a job spread over many invocations (an edge Workflow's steps). The piece
    /// that reaches the end also asks past the declared fragments; the job's `results_size` is
    /// checked only when the whole job is read (the caller adds up the pieces).
    ///
    /// [`data_parts`]: super::data_parts
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
            csv_columns: None,
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
        check_stall_timeout(self.stall_timeout_ms)?;
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

/// A fragment as a progress report shows it (the download machine decides).
pub use crate::core::download::PartState as FragmentState;

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
