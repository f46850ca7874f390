//! The head file's decoder: gunzip (unless the runtime inflates), format sniffing, JSON array
//! to lines, the JSON Lines or CSV parser, dedupe by `internal_event_id`, and the skip of what
//! an earlier fetch delivered. Adapters between the ordered download's deliveries and the sink.

use crate::core::dedupe::{event_id, SeenIds};
use crate::error::{Error, Result};
use crate::parse::csv::{CsvOptions, CsvParser, RowBatch, RowError};
use crate::parse::flatten::{FlattenOptions, Flattener};
#[cfg(any(not(target_arch = "wasm32"), feature = "parse-api"))]
use crate::parse::gzip::GzipDecoder;

/// The client module (a wasm build without the parse API) has no inflater: its bodies are always
/// inflated by the runtime (`DecompressionStream`, else the parse module's `GunzipStream`:
/// src/wasm/userpilot.rs), which keeps zlib-rs out of it (24 KB gzipped, issue 19). Native builds
/// and the default wasm build (the wasm tests) keep the Rust inflater.
#[cfg(all(target_arch = "wasm32", not(feature = "parse-api")))]
pub(super) enum GzipDecoder {}

#[cfg(all(target_arch = "wasm32", not(feature = "parse-api")))]
fn inflater() -> Option<GzipDecoder> {
    None
}

#[cfg(any(not(target_arch = "wasm32"), feature = "parse-api"))]
fn inflater() -> Option<GzipDecoder> {
    Some(GzipDecoder::new())
}

#[cfg(all(target_arch = "wasm32", not(feature = "parse-api")))]
impl GzipDecoder {
    fn decode(&mut self, _: &[u8], _: &mut [u8]) -> Result<(usize, usize)> {
        match *self {}
    }
    fn finish(&mut self) -> Result<()> {
        match *self {}
    }
    fn is_truncated(&self) -> bool {
        match *self {}
    }
}
use crate::parse::jsonl::{JsonlOptions, JsonlParser, RecordBatch};
use crate::providers::userpilot::exports::{sniff, ArrayToLines, Format, Job, Sniffed};

use super::*;

/// Decompressed bytes handed to a parser at a time: bounds what one compressed chunk can become.
pub(super) const INFLATE_BUF: usize = 64 * 1024;

pub(super) enum Parser {
    /// Format not known yet (an unusual file name): decided by the first byte.
    Unknown,
    Json(Box<JsonlParser>),
    Csv {
        parser: Box<CsvParser>,
        id_column: Option<Option<usize>>,
    },
}

/// The head file's decoding state; rebuilt from scratch when the file is fetched again.
pub(super) struct Decode {
    pub(super) gz: Option<GzipDecoder>,
    /// The body arrives compressed (the runtime does not inflate it).
    pub(super) gzipped: bool,
    pub(super) parser: Parser,
    pub(super) out: Vec<u8>,
    /// Compressed bytes received: none at all, under a `Content-Length: 0`, is an empty file.
    pub(super) raw_in: u64,
    pub(super) zero_length: bool,
    /// The first data byte has been seen (it tells a JSON array from JSON Lines).
    pub(super) sniffed: bool,
    /// A JSON file that is one JSON array, read as JSON Lines.
    pub(super) array: Option<ArrayToLines>,
}

impl Decode {
    /// The format the file turned out to have, once its first bytes told.
    pub(super) fn format(&self) -> Option<Format> {
        match self.parser {
            Parser::Json(_) => Some(Format::Json),
            Parser::Csv { .. } => Some(Format::Csv),
            Parser::Unknown => None,
        }
    }
}

/// What has been delivered from a file: a fetch from the start skips it.
#[derive(Default)]
pub(super) struct Delivered {
    /// JSON Lines: every line up to this one is delivered or reported.
    pub(super) line: u64,
    /// CSV: data rows before this index are delivered.
    pub(super) rows: u64,
    pub(super) records: u64,
    pub(super) duplicates: u64,
}

/// Names the file on the error, as a field and (for the messages people read) in its text.
pub(super) fn in_file(e: impl Into<Error>, filename: &str) -> Error {
    let e: Error = e.into();
    if e.file().is_some() {
        return e;
    }
    e.prefixed(filename).in_file(filename)
}

/// Rows `keep` selects, repacked (the CSV parser's batches are packed; a filtered one must be
/// rebuilt). `first_row` becomes the index of the first kept row.
pub(super) fn retain_rows(
    b: &RowBatch,
    mut keep: impl FnMut(usize, &RowBatch) -> bool,
) -> RowBatch {
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

pub(super) struct Run<'s, S: RowsSink> {
    pub(super) opts: RowsOptions,
    pub(super) sink: &'s mut S,
    pub(super) seen: Option<SeenIds>,
    pub(super) flattener: Option<Flattener>,
    pub(super) progress: RowsProgress,
    pub(super) errors: Vec<RowsError>,
    /// With `flatten`: fields first seen after the header was written (column, first line).
    pub(super) late_fields: Vec<(String, u64)>,
}

impl<'s, S: RowsSink> Run<'s, S> {
    pub(super) fn new(opts: &RowsOptions, sink: &'s mut S, files: usize) -> Self {
        Run {
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
                files_total: files,
                ..RowsProgress::default()
            },
            errors: Vec::new(),
            late_fields: Vec::new(),
        }
    }

    /// After the last file: a flattened CSV's tail (its header, when no record came) goes out
    /// as part of `last`, and the fields first seen after the header are noted.
    pub(super) async fn finish(&mut self, last: FileRef<'_>) -> Result<()> {
        let Some(f) = &mut self.flattener else {
            return Ok(());
        };
        let mut tail = String::new();
        f.finish(&mut tail);
        self.late_fields = f
            .late_fields()
            .iter()
            .map(|l| (l.column.clone(), l.first_line))
            .collect();
        if tail.is_empty() {
            return Ok(());
        }
        self.sink.flat(last, tail, 0).await
    }

    pub(super) fn outcome(self, job: Job, files: Vec<FileSummary>) -> RowsOutcome {
        let p = self.progress;
        RowsOutcome {
            records: p.records,
            duplicates: p.duplicates,
            bytes: p.bytes,
            renewals: p.renewals,
            restarts: p.restarts,
            errors: self.errors,
            files,
            late_fields: self.late_fields,
            job,
        }
    }

    /// The head file's decoder for a fresh fetch: what was delivered before is skipped.
    pub(super) fn fresh_decode(&self, f: &FileRun, done: &Delivered) -> Decode {
        let mut d = self.new_decode(f.format, f.native, f.zero_length);
        self.skip_delivered(&mut d, done);
        d
    }

    pub(super) fn new_decode(
        &self,
        format: Option<Format>,
        native: bool,
        zero_length: bool,
    ) -> Decode {
        Decode {
            raw_in: 0,
            zero_length,
            sniffed: false,
            array: None,
            gz: if native { None } else { inflater() },
            gzipped: !native,
            parser: self.new_parser(format),
            out: Vec::new(),
        }
    }

    pub(super) fn new_parser(&self, format: Option<Format>) -> Parser {
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
    pub(super) async fn feed(
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

    pub(super) fn skip_delivered(&self, d: &mut Decode, done: &Delivered) {
        if let Parser::Json(p) = &mut d.parser {
            p.skip_through_line(done.line);
        }
    }

    pub(super) async fn deliver(
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

    pub(super) async fn json_batch(
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
    pub(super) async fn chunk(
        &mut self,
        file: FileRef<'_>,
        d: &mut Decode,
        done: &mut Delivered,
        chunk: &[u8],
    ) -> Result<()> {
        d.raw_in += chunk.len() as u64;
        let Some(mut gz) = d.gz.take() else {
            if d.gzipped {
                // Only a build without an inflater (the wasm client) gets here, and only if the
                // runtime gave a body it could not inflate: never parse gzip as text.
                return Err(in_file(
                    Error::decode(0, 0, "gzip: this build cannot inflate the body"),
                    file.filename,
                ));
            }
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
        r.map_err(|e: Error| in_file(e, file.filename))
    }

    /// The file's body ended: a gzip stream must end between members; then the parser finishes.
    /// A stream cut short is the connection's fault, so it is a (retryable) network error.
    pub(super) async fn end(
        &mut self,
        file: FileRef<'_>,
        d: &mut Decode,
        done: &mut Delivered,
    ) -> Result<()> {
        // A zero-byte object is how some stores keep an empty partition (issue 15 §3): no records.
        // Only when the answer said so: a body that ends before any byte without saying it is a
        // cut, fetched again.
        if d.raw_in == 0 && d.zero_length {
            return self.deliver(file, d, done, Take::Last).await;
        }
        if d.raw_in == 0 && d.gzipped {
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
pub(super) enum Take {
    /// Full batches only (more input is coming).
    Full,
    /// Everything parsed so far (the input failed).
    Pending,
    /// The parser is finished first, then everything.
    Last,
}

impl Take {
    pub(super) fn take_json(self, p: &mut JsonlParser) -> Option<RecordBatch> {
        match self {
            Take::Pending => p.take_pending(),
            Take::Full | Take::Last => p.take_batch(),
        }
    }

    pub(super) fn take_csv(self, p: &mut CsvParser) -> Option<RowBatch> {
        match self {
            Take::Pending => p.take_pending(),
            Take::Full | Take::Last => p.take_batch(),
        }
    }
}
