//! A push parser for JSON Lines (one JSON object per line): feed it chunks split anywhere (inside
//! a line, a UTF-8 sequence or a CRLF), take records out in batches.
//!
//! A batch keeps its records as one JSON array text (`[{..},{..}]`) so it crosses into JavaScript
//! as one string and one `JSON.parse`, never one call per record; Rust consumers read the same
//! text record by record through [`RecordBatch::record_text`] or [`RecordBatch::records`].
//!
//! Each line is checked to be valid UTF-8 holding exactly one JSON object. A line that is not is
//! data, as in Papa Parse: it is reported in `errors` with its 1-based line number and skipped, or
//! fails the parse in strict mode. Blank lines (only whitespace) are skipped without a report; a
//! last line without a newline is a record. Line numbers count every physical line, blank or not,
//! so they match what an editor shows.

use crate::error::{Error, ErrorKind, Result};
use std::collections::VecDeque;

/// A batch is sealed at this many bytes of text even if it holds fewer than `batch_records`
/// records, so memory stays bounded when records are large.
const BATCH_TEXT_CAP: usize = 4 << 20;

/// serde_json's own recursion limit, and the flattener's.
pub const DEFAULT_MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
pub struct JsonlOptions {
    /// Fail on the first bad line instead of reporting it in `errors`.
    pub strict: bool,
    /// Records per batch before `take_batch` hands one out.
    pub batch_records: usize,
    /// A longer line is an error (its bytes are dropped as they arrive, so memory stays bounded).
    pub max_line_bytes: usize,
    /// A record with arrays and objects nested deeper than this is an error. Whoever reads the
    /// record next may recurse (`JSON.stringify` overflows V8's stack near 4,000 levels), so a
    /// deep record ends here as one bad line instead of ending the export downstream.
    pub max_depth: usize,
    /// Check each record's JSON here. Off only for a consumer that checks it in its own walk
    /// ([`crate::parse::flatten::Flattener::write_checked`]): lines are then checked for UTF-8
    /// and for starting with `{`, and the rest is that consumer's to report.
    pub validate: bool,
    /// The first batch is sealed at this many bytes of text even if it holds fewer records, so
    /// the first records of a stream of large ones come out early (later batches: 4 MiB).
    pub first_batch_bytes: usize,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            strict: false,
            batch_records: 2048,
            max_line_bytes: 16 << 20,
            max_depth: DEFAULT_MAX_DEPTH,
            validate: true,
            first_batch_bytes: BATCH_TEXT_CAP,
        }
    }
}

/// Why a line was refused: its `code`, and the bad-record `type` it falls under (the one shape
/// every `errors[]` entry has, CSV's included: see [`crate::parse::csv::RowErrorKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineErrorKind {
    InvalidJson,
    NotAnObject,
    LineTooLong,
    TooDeep,
    InvalidUtf8,
}

impl LineErrorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            LineErrorKind::InvalidJson => "InvalidJson",
            LineErrorKind::NotAnObject => "NotAnObject",
            LineErrorKind::LineTooLong => "LineTooLong",
            LineErrorKind::TooDeep => "TooDeep",
            LineErrorKind::InvalidUtf8 => "InvalidUtf8",
        }
    }

    /// The bad-record type: "Json", "Limit" (a cap the caller can raise) or "Encoding".
    pub fn bad_type(&self) -> &'static str {
        match self {
            LineErrorKind::InvalidJson | LineErrorKind::NotAnObject => "Json",
            LineErrorKind::LineTooLong | LineErrorKind::TooDeep => "Limit",
            LineErrorKind::InvalidUtf8 => "Encoding",
        }
    }

    /// A decode error carries only its reason, so the kind is read back from the words this
    /// crate writes for each (the rejections a later check makes come through here).
    fn of_reason(reason: &str) -> Self {
        if reason.contains("(maxLineBytes)") {
            LineErrorKind::LineTooLong
        } else if reason.contains("(maxDepth)") {
            LineErrorKind::TooDeep
        } else if reason.contains("UTF-8") {
            LineErrorKind::InvalidUtf8
        } else if reason.starts_with("not a JSON object") {
            LineErrorKind::NotAnObject
        } else {
            LineErrorKind::InvalidJson
        }
    }
}

/// A line that did not hold a JSON object. `column` is 1-based in bytes, 0 when not known.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub kind: LineErrorKind,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl LineError {
    pub fn to_error(&self) -> Error {
        Error::decode(self.line, self.column, self.message.clone())
    }

    /// The line error a decode error describes (`None` for any other kind of error).
    pub fn from_error(e: &Error) -> Option<LineError> {
        match e.kind() {
            ErrorKind::Decode {
                line,
                column,
                reason,
            } => Some(LineError {
                kind: LineErrorKind::of_reason(reason),
                line: *line,
                column: *column,
                message: reason.clone(),
            }),
            _ => None,
        }
    }
}

/// Records of consecutive lines, as one JSON array text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordBatch {
    /// `[rec,rec,...]`: each record exactly as its line held it, minus surrounding whitespace.
    pub text: String,
    /// 1-based line number of the first record.
    pub first_line: u64,
    pub count: usize,
    /// Byte range of each record in `text`.
    spans: Vec<(usize, usize)>,
    /// Line number of each record (lines are not consecutive when blank or bad lines sit between).
    lines: Vec<u64>,
}

impl RecordBatch {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The JSON text of record `i`.
    pub fn record_text(&self, i: usize) -> Option<&str> {
        let &(a, b) = self.spans.get(i)?;
        self.text.get(a..b)
    }

    /// The line record `i` came from.
    pub fn line_of(&self, i: usize) -> Option<u64> {
        self.lines.get(i).copied()
    }

    /// 1-based line number of the last record (0 for an empty batch).
    pub fn last_line(&self) -> u64 {
        self.lines.last().copied().unwrap_or(0)
    }

    /// `(line, record text)` for each record, in order.
    pub fn iter_text(&self) -> impl Iterator<Item = (u64, &str)> + '_ {
        self.spans
            .iter()
            .zip(&self.lines)
            .filter_map(|(&(a, b), &line)| Some((line, self.text.get(a..b)?)))
    }

    /// Each record parsed into a `serde_json::Value`. The parser has already checked every record,
    /// so an error here would be a bug, but it is reported rather than hidden.
    pub fn records(&self) -> impl Iterator<Item = Result<serde_json::Value>> + '_ {
        self.iter_text().map(|(line, text)| {
            serde_json::from_str(text)
                .map_err(|e| Error::decode(line, e.column() as u64, e.to_string()))
        })
    }

    /// Drops the records on lines `<= line` (a retried download skipping what was delivered).
    pub fn drop_through_line(&mut self, line: u64) {
        let keep = self
            .lines
            .iter()
            .position(|&l| l > line)
            .unwrap_or(self.count);
        if keep == 0 {
            return;
        }
        let mut text = String::with_capacity(self.text.len());
        let mut spans = Vec::with_capacity(self.count - keep);
        text.push('[');
        for &(a, b) in &self.spans[keep..] {
            if text.len() > 1 {
                text.push(',');
            }
            let start = text.len();
            text.push_str(self.text.get(a..b).unwrap_or("null"));
            spans.push((start, text.len()));
        }
        text.push(']');
        self.lines.drain(..keep);
        self.text = text;
        self.spans = spans;
        self.count = self.lines.len();
        self.first_line = self.lines.first().copied().unwrap_or(0);
    }
}

pub struct JsonlParser {
    opts: JsonlOptions,
    /// Bytes of a line that spans pushes.
    partial: Vec<u8>,
    /// The current line outgrew `max_line_bytes`: its bytes are being dropped up to the newline.
    oversize: bool,
    line: u64,
    bytes: u64,
    records: u64,
    skip_through: u64,
    batch: RecordBatch,
    ready: VecDeque<RecordBatch>,
    errors: Vec<LineError>,
    last_text_len: usize,
    /// A batch has been sealed (the first batch's byte cap no longer applies).
    sealed: bool,
    finished: bool,
}

impl JsonlParser {
    pub fn new(opts: JsonlOptions) -> Self {
        let opts = JsonlOptions {
            batch_records: opts.batch_records.max(1),
            max_line_bytes: opts.max_line_bytes.max(1),
            max_depth: opts.max_depth.max(1),
            ..opts
        };
        JsonlParser {
            opts,
            partial: Vec::new(),
            oversize: false,
            line: 0,
            bytes: 0,
            records: 0,
            skip_through: 0,
            batch: RecordBatch::default(),
            ready: VecDeque::new(),
            errors: Vec::new(),
            last_text_len: 0,
            sealed: false,
            finished: false,
        }
    }

    /// Physical lines completed so far (blank and bad ones included).
    pub fn lines(&self) -> u64 {
        self.line
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records accepted so far.
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// Lines `1..=line` are counted but neither delivered nor reported: a download retried from
    /// its start uses this to skip what the caller already has.
    pub fn skip_through_line(&mut self, line: u64) {
        self.skip_through = line;
    }

    pub fn take_errors(&mut self) -> Vec<LineError> {
        std::mem::take(&mut self.errors)
    }

    /// A full batch is waiting.
    pub fn batch_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next full batch, or after `finish` whatever is left.
    pub fn take_batch(&mut self) -> Option<RecordBatch> {
        self.ready.pop_front()
    }

    /// The next full batch, or else the records gathered so far even if the batch is not full:
    /// for a caller that wants rows as soon as a chunk has been read.
    pub fn take_pending(&mut self) -> Option<RecordBatch> {
        if self.ready.is_empty() && self.batch.count > 0 {
            self.seal();
        }
        self.ready.pop_front()
    }

    pub fn push(&mut self, input: &[u8]) -> Result<()> {
        if self.finished {
            return Err(Error::invalid("input", "push after finish"));
        }
        self.bytes += input.len() as u64;
        let mut rest = input;
        while let Some(nl) = find_newline(rest) {
            let (seg, after) = rest.split_at(nl);
            rest = after.get(1..).unwrap_or(&[]);
            if self.partial.is_empty() && !self.oversize {
                self.end_line(seg)?;
            } else {
                self.keep(seg);
                let line = std::mem::take(&mut self.partial);
                let r = self.end_line(&line);
                // Hand the allocation back: the next long line reuses it.
                self.partial = line;
                self.partial.clear();
                r?;
            }
        }
        self.keep(rest);
        Ok(())
    }

    /// Ends the input: a last line without a newline is a record.
    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if !self.partial.is_empty() || self.oversize {
            let line = std::mem::take(&mut self.partial);
            self.end_line(&line)?;
        }
        if self.batch.count > 0 {
            self.seal();
        }
        Ok(())
    }

    fn keep(&mut self, seg: &[u8]) {
        if self.oversize {
            return;
        }
        if self.partial.len() + seg.len() > self.opts.max_line_bytes {
            self.oversize = true;
            self.partial = Vec::new();
            return;
        }
        self.partial.extend_from_slice(seg);
    }

    fn end_line(&mut self, seg: &[u8]) -> Result<()> {
        self.line += 1;
        let n = self.line;
        if std::mem::take(&mut self.oversize) {
            if n <= self.skip_through {
                return Ok(());
            }
            let max = self.opts.max_line_bytes;
            return self.bad(
                LineErrorKind::LineTooLong,
                n,
                0,
                format!("line is longer than {max} bytes (maxLineBytes)"),
            );
        }
        if n <= self.skip_through {
            return Ok(());
        }
        if seg.len() > self.opts.max_line_bytes {
            let max = self.opts.max_line_bytes;
            return self.bad(
                LineErrorKind::LineTooLong,
                n,
                0,
                format!("line is longer than {max} bytes (maxLineBytes)"),
            );
        }
        let seg = trim_json_ws(seg);
        if seg.is_empty() {
            return Ok(());
        }
        let text = match std::str::from_utf8(seg) {
            Ok(t) => t,
            Err(e) => {
                let at = e.valid_up_to() + 1;
                return self.bad(
                    LineErrorKind::InvalidUtf8,
                    n,
                    at as u64,
                    format!("invalid UTF-8 at byte {at} of the line"),
                );
            }
        };
        if !text.starts_with('{') {
            return self.bad(
                LineErrorKind::NotAnObject,
                n,
                1,
                "not a JSON object".to_string(),
            );
        }
        if let Some(at) = too_deep(seg, self.opts.max_depth) {
            let max = self.opts.max_depth;
            return self.bad(
                LineErrorKind::TooDeep,
                n,
                at as u64 + 1,
                format!("nested deeper than {max} levels (maxDepth)"),
            );
        }
        if !self.opts.validate {
            self.accept(n, text);
            return Ok(());
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return self.bad(
                LineErrorKind::InvalidJson,
                n,
                e.column() as u64,
                format!("malformed JSON: {}", serde_message(&e)),
            );
        }
        self.accept(n, text);
        Ok(())
    }

    fn accept(&mut self, line: u64, text: &str) {
        let b = &mut self.batch;
        if b.count == 0 {
            b.text = String::with_capacity(self.last_text_len.max(text.len() + 2));
            b.text.push('[');
            b.first_line = line;
        } else {
            b.text.push(',');
        }
        let start = b.text.len();
        b.text.push_str(text);
        b.spans.push((start, b.text.len()));
        b.lines.push(line);
        b.count += 1;
        self.records += 1;
        let cap = if self.sealed {
            BATCH_TEXT_CAP
        } else {
            self.opts.first_batch_bytes.min(BATCH_TEXT_CAP)
        };
        if b.count >= self.opts.batch_records || b.text.len() >= cap {
            self.seal();
        }
    }

    fn seal(&mut self) {
        self.sealed = true;
        let mut b = std::mem::take(&mut self.batch);
        b.text.push(']');
        self.last_text_len = b.text.len() + b.text.len() / 8;
        self.ready.push_back(b);
    }

    fn bad(&mut self, kind: LineErrorKind, line: u64, column: u64, message: String) -> Result<()> {
        if self.opts.strict {
            return Err(Error::decode(line, column, message));
        }
        self.errors.push(LineError {
            kind,
            line,
            column,
            message,
        });
        Ok(())
    }
}

/// Where `line` opens its `max`+1'th nested array or object, if it does, without recursion.
/// Most lines hold fewer brackets than `max` in all, which a counting pass settles;
/// only the rest are walked with strings skipped. Malformed JSON is left to the JSON check.
fn too_deep(line: &[u8], max: usize) -> Option<usize> {
    // memchr (SIMD in the wasm build) jumps between the few brackets a line holds; it stops
    // counting once past the limit.
    let opens = memchr::memchr2_iter(b'{', b'[', line).take(max + 1).count();
    if opens <= max {
        return None;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                i += 1;
                while let Some(&c) = line.get(i) {
                    match c {
                        b'\\' => i += 1,
                        b'"' => break,
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// serde_json's message without its " at line 1 column N" suffix (we report our own line).
fn serde_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn trim_json_ws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if matches!(first, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if matches!(last, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Index of the first `\n`.
pub(crate) fn find_newline(s: &[u8]) -> Option<usize> {
    crate::parse::scan::find_byte(s, b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (Vec<(u64, String)>, Vec<(u64, String)>);

    fn parse_chunks(input: &[u8], cuts: &[usize], opts: JsonlOptions) -> Parsed {
        let mut p = JsonlParser::new(opts);
        let mut recs = Vec::new();
        let mut at = 0;
        let drain = |p: &mut JsonlParser, recs: &mut Vec<(u64, String)>| {
            while let Some(b) = p.take_batch() {
                let v: serde_json::Value = serde_json::from_str(&b.text).unwrap();
                assert_eq!(v.as_array().unwrap().len(), b.count);
                assert_eq!(b.line_of(0), Some(b.first_line));
                for (line, t) in b.iter_text() {
                    recs.push((line, t.to_string()));
                }
            }
        };
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            p.push(&input[at..c]).unwrap();
            at = c;
            drain(&mut p, &mut recs);
        }
        p.finish().unwrap();
        drain(&mut p, &mut recs);
        let errs = p
            .take_errors()
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect();
        (recs, errs)
    }

    const FIXTURE: &[u8] = b"{\"a\":1,\"s\":\"M\xc3\xbcller \\\"q\\\"\"}\r\n\r\n{\"b\":{\"c\":[1,2]},\"e\":\"\xf0\x9f\x8e\x89\"}\n  \n{bad json}\n{\"x\":\"\xff\"}\n[1,2]\n{\"last\":true}";

    fn expected() -> Parsed {
        (
            vec![
                (1, "{\"a\":1,\"s\":\"Müller \\\"q\\\"\"}".to_string()),
                (3, "{\"b\":{\"c\":[1,2]},\"e\":\"🎉\"}".to_string()),
                (8, "{\"last\":true}".to_string()),
            ],
            vec![
                (5, "malformed JSON: key must be a string".to_string()),
                (6, "invalid UTF-8 at byte 7 of the line".to_string()),
                (7, "not a JSON object".to_string()),
            ],
        )
    }

    #[test]
    fn each_bad_line_carries_its_kind_and_a_decode_error_gives_it_back() {
        let mut p = JsonlParser::new(JsonlOptions {
            max_line_bytes: 64,
            max_depth: 3,
            ..Default::default()
        });
        p.push(FIXTURE).unwrap();
        p.push(b"\n{\"a\":[[[[1]]]]}\n{\"s\":\"0123456789012345678901234567890123456789012345678901234567890123\"}\n")
            .unwrap();
        p.finish().unwrap();
        let errs = p.take_errors();
        let kinds: Vec<_> = errs.iter().map(|e| (e.line, e.kind)).collect();
        use LineErrorKind::*;
        assert_eq!(
            kinds,
            vec![
                (5, InvalidJson),
                (6, InvalidUtf8),
                (7, NotAnObject),
                (9, TooDeep),
                (10, LineTooLong)
            ]
        );
        let types: Vec<_> = errs.iter().map(|e| e.kind.bad_type()).collect();
        assert_eq!(types, vec!["Json", "Encoding", "Json", "Limit", "Limit"]);
        for e in &errs {
            assert_eq!(LineError::from_error(&e.to_error()).as_ref(), Some(e));
        }
    }

    #[test]
    fn every_split_point_gives_the_same_records_and_errors() {
        for cut in 0..=FIXTURE.len() {
            let opts = JsonlOptions {
                batch_records: 2,
                ..Default::default()
            };
            assert_eq!(parse_chunks(FIXTURE, &[cut], opts), expected(), "cut {cut}");
        }
    }

    #[test]
    fn byte_at_a_time_and_every_pair_of_splits() {
        let all: Vec<usize> = (1..FIXTURE.len()).collect();
        assert_eq!(
            parse_chunks(FIXTURE, &all, JsonlOptions::default()),
            expected()
        );
        for a in 0..FIXTURE.len() {
            for b in a..FIXTURE.len() {
                assert_eq!(
                    parse_chunks(FIXTURE, &[a, b], JsonlOptions::default()),
                    expected(),
                    "cuts {a},{b}"
                );
            }
        }
    }

    #[test]
    fn strict_mode_fails_on_the_first_bad_line_with_its_number() {
        for cut in 0..=FIXTURE.len() {
            let mut p = JsonlParser::new(JsonlOptions {
                strict: true,
                ..Default::default()
            });
            let r = p
                .push(&FIXTURE[..cut])
                .and_then(|_| p.push(&FIXTURE[cut..]))
                .and_then(|_| p.finish());
            let e = r.expect_err("strict mode must fail");
            assert_eq!(e.code(), "E_DECODE");
            assert!(e.to_string().starts_with("line 5"), "cut {cut}: {e}");
        }
    }

    #[test]
    fn records_parse_to_values_and_batches_are_bounded() {
        let mut input = String::new();
        for i in 0..10 {
            input.push_str(&format!("{{\"i\":{i}}}\n"));
        }
        let mut p = JsonlParser::new(JsonlOptions {
            batch_records: 4,
            ..Default::default()
        });
        p.push(input.as_bytes()).unwrap();
        let b1 = p.take_batch().unwrap();
        let b2 = p.take_batch().unwrap();
        assert!(p.take_batch().is_none(), "a partial batch waits");
        let b3 = p.take_pending().unwrap();
        assert_eq!((b1.count, b2.count, b3.count), (4, 4, 2));
        assert_eq!((b1.first_line, b2.first_line, b3.first_line), (1, 5, 9));
        let vals: Vec<_> = b2
            .records()
            .map(|r| r.unwrap()["i"].as_i64().unwrap())
            .collect();
        assert_eq!(vals, vec![4, 5, 6, 7]);
        assert_eq!(b1.text, "[{\"i\":0},{\"i\":1},{\"i\":2},{\"i\":3}]");
        p.finish().unwrap();
        assert!(p.take_batch().is_none());
        assert_eq!(
            (p.lines(), p.record_count(), p.bytes()),
            (10, 10, input.len() as u64)
        );
        assert!(p.push(b"{}").is_err());
    }

    #[test]
    fn skipped_lines_are_neither_delivered_nor_reported() {
        for cut in 0..=FIXTURE.len() {
            let mut p = JsonlParser::new(JsonlOptions::default());
            p.skip_through_line(5);
            p.push(&FIXTURE[..cut]).unwrap();
            p.push(&FIXTURE[cut..]).unwrap();
            p.finish().unwrap();
            let b = p.take_batch().unwrap();
            assert_eq!((b.first_line, b.count), (8, 1));
            let errs: Vec<u64> = p.take_errors().iter().map(|e| e.line).collect();
            assert_eq!(errs, vec![6, 7]);
        }
        let mut b = {
            let mut p = JsonlParser::new(JsonlOptions::default());
            p.push(b"{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n").unwrap();
            p.finish().unwrap();
            p.take_batch().unwrap()
        };
        b.drop_through_line(2);
        assert_eq!(
            (b.first_line, b.count, b.text.as_str()),
            (3, 2, "[{\"a\":2},{\"a\":3}]")
        );
        assert_eq!(b.record_text(1), Some("{\"a\":3}"));
    }

    #[test]
    fn long_lines_are_errors_and_memory_stays_bounded() {
        let mut p = JsonlParser::new(JsonlOptions {
            max_line_bytes: 16,
            ..Default::default()
        });
        p.push(b"{\"a\":\"0123").unwrap();
        for _ in 0..1000 {
            p.push(b"0123456789").unwrap();
            assert!(p.partial.capacity() <= 64);
        }
        p.push(b"\"}\n{\"ok\":1}\n{\"b\":\"0123456789abcdef\"}")
            .unwrap();
        p.finish().unwrap();
        assert_eq!(p.take_batch().unwrap().text, "[{\"ok\":1}]");
        let errs = p.take_errors();
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 3]);
        assert!(errs[0].message.contains("maxLineBytes"));
    }

    fn nested(depth: usize) -> String {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }

    /// A record 5,000 levels deep is one bad line; the records around it all arrive, in both
    /// validation modes, at every split point of the deep line's neighbourhood.
    #[test]
    fn a_record_nested_too_deep_is_a_bad_line_not_the_end() {
        let deep = nested(5000);
        let input = format!(
            "{{\"x\":1}}\n{deep}\n{{\"x\":[[[\"]]]]]]\"]]]}}\n{}\n",
            nested(120)
        );
        for validate in [true, false] {
            let opts = JsonlOptions {
                validate,
                ..JsonlOptions::default()
            };
            for cut in [0, 3, 9, 5000, input.len() - 4] {
                let (recs, errs) = parse_chunks(input.as_bytes(), &[cut], opts.clone());
                assert_eq!(
                    recs.iter().map(|r| r.0).collect::<Vec<_>>(),
                    vec![1, 3, 4],
                    "validate {validate}, cut {cut}"
                );
                assert_eq!(errs.len(), 1);
                assert_eq!(errs[0].0, 2);
                assert!(
                    errs[0].1.contains("deeper than 128 levels (maxDepth)"),
                    "{errs:?}"
                );
            }
        }
        // The limit is the caller's to move; strict mode fails on the line.
        let mut p = JsonlParser::new(JsonlOptions {
            max_depth: 6000,
            ..JsonlOptions::default()
        });
        p.push(input.as_bytes()).unwrap();
        p.finish().unwrap();
        assert_eq!((p.record_count(), p.take_errors().len()), (4, 0));
        let (recs, errs) = parse_chunks(
            nested(4).as_bytes(),
            &[],
            JsonlOptions {
                max_depth: 3,
                ..JsonlOptions::default()
            },
        );
        assert_eq!((recs.len(), errs[0].0), (0, 1));
        let mut p = JsonlParser::new(JsonlOptions {
            strict: true,
            ..JsonlOptions::default()
        });
        let e = p.push(input.as_bytes()).unwrap_err();
        assert_eq!(e.code(), "E_DECODE");
        assert!(e.to_string().starts_with("line 2"), "{e}");
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_depth() {
        assert_eq!(too_deep(br#"{"a":"[[[[[[[[[\"[[[[[[[[[[["}"#, 2), None);
        assert_eq!(too_deep(br#"{"a":[[["x"]]]}"#, 3), Some(7));
        assert_eq!(too_deep(br#"{"a":[[["x"]]],"b":[[1]]}"#, 4), None);
    }

    #[test]
    fn empty_and_blank_inputs() {
        assert_eq!(
            parse_chunks(b"", &[], JsonlOptions::default()),
            (vec![], vec![])
        );
        assert_eq!(
            parse_chunks(b"\n\r\n \n", &[], JsonlOptions::default()),
            (vec![], vec![])
        );
        assert_eq!(
            parse_chunks(b"{}\r", &[2], JsonlOptions::default()).0,
            vec![(1, "{}".to_string())]
        );
    }

    #[test]
    fn the_first_batch_goes_out_at_its_byte_cap_later_ones_at_their_record_count() {
        let line = format!("{{\"k\":\"{}\"}}\n", "x".repeat(90)); // 99 bytes of text each
        let mut p = JsonlParser::new(JsonlOptions {
            batch_records: 100,
            first_batch_bytes: 1000,
            ..JsonlOptions::default()
        });
        p.push(line.repeat(250).as_bytes()).unwrap();
        p.finish().unwrap();
        let counts: Vec<usize> = std::iter::from_fn(|| p.take_batch())
            .map(|b| b.count)
            .collect();
        assert_eq!(counts, [11, 100, 100, 39]);
    }

    #[test]
    fn newline_search_agrees_with_a_plain_scan() {
        let mut s = vec![b'x'; 40];
        assert_eq!(find_newline(&s), None);
        for i in 0..40 {
            s[i] = b'\n';
            assert_eq!(find_newline(&s), Some(i));
            assert_eq!(find_newline(&s[..i]), None);
            s[i] = 0x8a; // high bit set with the newline's low bits: must not match
            assert_eq!(find_newline(&s), None);
            s[i] = b'x';
        }
    }
}
