//! The output side of an Activities download: the head fragment's JSON Lines parser, CSV
//! flattening, data errors, and the progress report. Adapters between the ordered download's
//! deliveries and the sink.

use crate::core::download::OrderedDownload;
use crate::core::http::{error_instead_of_data, may_be_error_body};
use crate::error::{Error, Result};
use crate::parse::flatten::{FlattenOptions, Flattener};
use crate::parse::jsonl::LineError;
use crate::parse::jsonl::{JsonlOptions, JsonlParser, RecordBatch};
use crate::providers::backstory::activities::schema::activity_columns;
use crate::providers::backstory::activities::Job;
use crate::transport::{Body, ResponseHead};

use super::*;

/// Data errors kept in full; past this only their count grows.
pub(super) const MAX_KEPT_ERRORS: usize = 1000;
/// Bytes of a plain-JSON data answer read to tell an error body from data.
pub(super) const ERROR_BODY_PEEK: usize = 64 * 1024;

/// The output side, shared by every job of an export so a CSV has one header and counts run on.
pub(super) struct Emitter {
    pub(super) kind: OutputKind,
    pub(super) flattener: Option<Flattener>,
    pub(super) strict: bool,
    /// Records the flattener's JSON check refused in the batch being written.
    pub(super) rejected: Vec<LineError>,
    pub(super) records: u64,
    pub(super) rows: u64,
    pub(super) bytes: u64,
    pub(super) errors: Vec<DataError>,
    pub(super) errors_total: u64,
    pub(super) retries: u32,
    pub(super) warnings: Vec<Warning>,
}

impl Emitter {
    pub(super) fn new(opts: &DownloadOptions) -> Self {
        let flattener = match &opts.output {
            OutputKind::Csv { explode } => Some(Flattener::new(FlattenOptions {
                columns: opts
                    .csv_columns
                    .clone()
                    .unwrap_or_else(|| activity_columns(explode.as_deref())),
                explode: explode.clone(),
                discover: opts.csv_columns.is_none(),
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

    pub(super) async fn batch<S: ActivitySink>(
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

    pub(super) fn line_errors(&mut self, at: Place<'_>, parser: &mut JsonlParser) {
        let errors = parser.take_errors();
        self.data_errors(at, errors);
    }

    pub(super) fn data_errors(&mut self, at: Place<'_>, errors: Vec<LineError>) {
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
    pub(super) async fn finish<S: ActivitySink>(
        &mut self,
        at: Place<'_>,
        sink: &mut S,
    ) -> Result<()> {
        if let Some(f) = &mut self.flattener {
            let mut text = String::new();
            f.finish(&mut text);
            if !text.is_empty() {
                sink.deliver(at, Delivery::Csv { text, rows: 0 }).await?;
            }
        }
        Ok(())
    }

    pub(super) fn outcome(&self, jobs: Vec<Job>) -> ExportOutcome {
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

/// Parses and delivers the head fragment.
pub(super) struct Head {
    pub(super) parser: JsonlParser,
    /// Lines of this fragment delivered before its body was fetched again.
    pub(super) skip_lines: u64,
    /// Raw output: bytes of this fragment taken from the current body, and bytes of it still to
    /// skip because an earlier body delivered them.
    pub(super) consumed: u64,
    pub(super) skip: u64,
    /// The last line of this fragment the sink took (for checkpoints).
    pub(super) delivered: u64,
}

impl Head {
    /// Starts past what a saved run delivered of this fragment.
    pub(super) fn resume(&mut self, lines: u64, bytes: u64) {
        self.skip_lines = lines;
        self.delivered = lines;
        self.parser.skip_through_line(lines);
        self.skip = bytes;
    }

    pub(super) fn new(opts: &DownloadOptions) -> Self {
        Head {
            parser: JsonlParser::new(parser_options(opts)),
            skip_lines: 0,
            consumed: 0,
            skip: 0,
            delivered: 0,
        }
    }
}

pub(super) fn parser_options(opts: &DownloadOptions) -> JsonlOptions {
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
pub(super) fn with_place(e: impl Into<Error>, at: Place<'_>) -> Error {
    let e: Error = e.into();
    if e.place().job.is_some() {
        return e;
    }
    let frag = at
        .fragment
        .map(|k| format!(" fragment {k}"))
        .unwrap_or_default();
    e.prefixed(&format!("job {}{frag}", at.job_id))
        .in_job(at.job_id)
        .in_fragment(at.fragment)
}

pub(super) enum Peek {
    /// The body's first bytes (empty when not peeked): data, to be consumed as usual.
    Data(Vec<u8>),
    /// A 200 whose body is one JSON error object, not data.
    Error(Error),
}

/// A data answer labelled plain JSON (the vendor's lines come as `x-ndjson`) may be an error
/// reported with status 200: its first bytes are read, and if the whole body is one JSON object
/// with an `error` key it is an error (fetched again), never a record.
pub(super) async fn peek_error_body<B: Body>(head: &ResponseHead, body: &mut B) -> Result<Peek> {
    if !may_be_error_body(&head.headers) {
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
pub(super) fn restart_head(h: &mut Head, opts: &DownloadOptions) {
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
pub(super) async fn consume<S: ActivitySink>(
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

pub(super) async fn finish_fragment<S: ActivitySink>(
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

pub(super) fn sync_counts(p: &mut Progress, out: &Emitter) {
    p.bytes = out.bytes;
    p.records = out.records;
    p.rows = out.rows;
}

pub(super) fn report<S: ActivitySink>(
    sink: &mut S,
    p: &mut Progress,
    m: &OrderedDownload,
    frags: &[Frag],
    significant: bool,
) {
    p.fragments = m
        .shown()
        .into_iter()
        .map(|(i, state, part)| FragmentProgress {
            index: frags.get(i).and_then(|f| f.index),
            state,
            bytes: part.received,
            retries: part.restarts,
        })
        .collect();
    p.significant = significant;
    sink.progress(p);
}

pub(super) fn empty_progress(windows: usize) -> Progress {
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
