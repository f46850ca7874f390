//! The public shapes of a Userpilot rows run: options, progress, deliveries, outcome.

use crate::core::download::State as DownloadState;
use crate::driver::check_stall_timeout;
use crate::error::{Error, Result};
use crate::parse::csv::RowBatch;
use crate::parse::jsonl::JsonlOptions;
use crate::providers::userpilot::exports::{Format, Job};

use super::*;

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
    /// Let the runtime decompress (`DecompressionStream`) when it can; else exportkit's own
    /// inflater (in wasm, the parse module's `GunzipStream`: see `GunzipBody`).
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

impl RowsOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(Error::invalid(
                "concurrency",
                format!("must be an integer from 1 to {MAX_CONCURRENCY}"),
            ));
        }
        if self.batch_records == 0 || self.batch_records > 1_000_000 {
            return Err(Error::invalid(
                "batchRecords",
                "must be an integer from 1 to 1000000",
            ));
        }
        check_stall_timeout(self.stall_timeout_ms)
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
