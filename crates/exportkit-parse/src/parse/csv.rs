//! A push parser for CSV over csv-core: feed it chunks split anywhere (inside a quoted field, a
//! UTF-8 sequence or a CRLF), take rows out in batches.
//!
//! Rows are packed: one string holding every field of the batch back to back, plus end offsets,
//! so a batch crosses into JavaScript as one string and two typed arrays instead of one call per
//! field. Offsets are kept in bytes (for Rust) and in UTF-16 units (for JavaScript's
//! `String.prototype.slice`).
//!
//! Bad records are data, as in Papa Parse: a row with the wrong number of fields or invalid UTF-8
//! is still delivered (lossily decoded) and also reported in `errors` with its row and line,
//! unless the caller asked for strict mode, where it fails the parse.

use crate::error::{Error, Result};
use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use memchr::{memchr, memchr2, memchr_iter};

#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    pub delimiter: u8,
    /// The first record is a header, not data.
    pub has_header: bool,
    /// Fail on the first bad record instead of reporting it in `errors`.
    pub strict: bool,
    /// Rows per batch before `batch_ready` says so.
    pub batch_rows: usize,
    /// Columns also read as numbers into `RowBatch::numbers`, in this order.
    pub numeric_columns: Vec<ColumnRef>,
    /// Keep each row's text. Off when a caller wants only the numeric columns: then a batch's
    /// text and field ends stay empty and only `numbers` and `row_count` are filled.
    pub text: bool,
    /// Which empty records to leave out. Off by default: a blank line is a record of one empty
    /// field (in a one-column export, a blank value), so no row vanishes unless asked.
    pub skip_empty_lines: SkipEmptyLines,
}

/// Papa Parse's `skipEmptyLines`, with its meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkipEmptyLines {
    /// Every record is delivered, blank lines included (as one empty field).
    #[default]
    Off,
    /// `true`: a record that is one empty field (a blank line, or a line holding `""`) is left out.
    Empty,
    /// `"greedy"`: a record whose fields are all empty or whitespace is left out too.
    Greedy,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            strict: false,
            batch_rows: 4096,
            numeric_columns: Vec::new(),
            text: true,
            skip_empty_lines: SkipEmptyLines::Off,
        }
    }
}

/// A column by 0-based position, or by header name (resolved when the header is read).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnRef {
    Index(usize),
    Name(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowErrorKind {
    TooFewFields,
    TooManyFields,
    InvalidUtf8,
}

impl RowErrorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RowErrorKind::TooFewFields => "TooFewFields",
            RowErrorKind::TooManyFields => "TooManyFields",
            RowErrorKind::InvalidUtf8 => "InvalidUtf8",
        }
    }

    /// The bad-record type, Papa Parse's word where it has one.
    pub fn bad_type(&self) -> &'static str {
        match self {
            RowErrorKind::TooFewFields | RowErrorKind::TooManyFields => "FieldMismatch",
            RowErrorKind::InvalidUtf8 => "Encoding",
        }
    }
}

/// A problem with one record. `row` is the 0-based data row index (header excluded), `line` the
/// 1-based physical line the record starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub kind: RowErrorKind,
    pub row: u64,
    pub line: u64,
    pub message: String,
}

/// Rows packed into one string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowBatch {
    pub text: String,
    /// End of each field in `text`, in bytes.
    pub byte_ends: Vec<u32>,
    /// End of each field in `text`, in UTF-16 code units.
    pub utf16_ends: Vec<u32>,
    /// For each row, the index in `byte_ends` one past its last field.
    pub row_ends: Vec<u32>,
    /// Data-row index of the first row in this batch.
    pub first_row: u64,
    /// One column per `CsvOptions::numeric_columns` entry, one value per row: the field read as
    /// a number, NaN when it is empty, missing or not a number.
    pub numbers: Vec<Vec<f64>>,
    /// Rows in the batch (also counted when the text is not kept).
    pub row_count: usize,
}

impl RowBatch {
    pub fn len(&self) -> usize {
        self.row_count
    }

    pub fn is_empty(&self) -> bool {
        self.row_count == 0
    }

    /// Fields of row `i`.
    pub fn row(&self, i: usize) -> impl Iterator<Item = &str> + '_ {
        let first = if i == 0 {
            0
        } else {
            self.row_ends[i - 1] as usize
        };
        let last = self.row_ends[i] as usize;
        (first..last).map(move |f| {
            let start = if f == 0 {
                0
            } else {
                self.byte_ends[f - 1] as usize
            };
            &self.text[start..self.byte_ends[f] as usize]
        })
    }

    pub fn rows(&self) -> Vec<Vec<String>> {
        (0..self.len())
            .map(|i| self.row(i).map(str::to_string).collect())
            .collect()
    }

    fn push_field(&mut self, field: &str) {
        let utf16_before = self.utf16_ends.last().copied().unwrap_or(0);
        let units = utf16_len(field.as_bytes());
        self.text.push_str(field);
        self.byte_ends.push(self.text.len() as u32);
        self.utf16_ends.push(utf16_before + units as u32);
    }

    /// Appends a whole record at once: csv-core writes a record's fields back to back, so the
    /// record's bytes are exactly the batch text to add and `ends` only need shifting.
    fn push_record(&mut self, record: &str, ends: &[usize]) {
        let base_bytes = self.text.len() as u32;
        let base_units = self.utf16_ends.last().copied().unwrap_or(0);
        self.text.push_str(record);
        // Two sized extends, not a push per field into each: one capacity check each, and a
        // loop the compiler can vectorise (a wide export has hundreds of fields per record).
        self.byte_ends
            .extend(ends.iter().map(|&e| base_bytes + e as u32));
        if record.is_ascii() {
            self.utf16_ends
                .extend(ends.iter().map(|&e| base_units + e as u32));
        } else {
            let mut start = 0;
            let mut units = base_units;
            self.utf16_ends.extend(ends.iter().map(|&e| {
                units += record.as_bytes().get(start..e).map_or(0, utf16_len) as u32;
                start = e;
                units
            }));
        }
        self.end_row();
    }

    /// An empty batch with room for as much as this one holds.
    fn empty_like(&self) -> RowBatch {
        RowBatch {
            text: String::with_capacity(self.text.len()),
            byte_ends: Vec::with_capacity(self.byte_ends.len()),
            utf16_ends: Vec::with_capacity(self.utf16_ends.len()),
            row_ends: Vec::with_capacity(self.row_ends.len()),
            numbers: self
                .numbers
                .iter()
                .map(|c| Vec::with_capacity(c.len()))
                .collect(),
            ..RowBatch::default()
        }
    }

    fn end_row(&mut self) {
        self.row_ends.push(self.byte_ends.len() as u32);
        self.row_count += 1;
    }

    /// Reads the numeric columns of a record (`record`'s fields end at `ends`) and counts the row.
    fn push_numbers(&mut self, record: &[u8], ends: &[usize], columns: &[usize]) {
        if self.numbers.len() != columns.len() {
            self.numbers = vec![Vec::new(); columns.len()];
        }
        for (k, &c) in columns.iter().enumerate() {
            let value = match ends.get(c) {
                Some(&end) => {
                    let start = if c == 0 { 0 } else { ends[c - 1] };
                    parse_number(&record[start..end])
                }
                None => f64::NAN,
            };
            self.numbers[k].push(value);
        }
    }
}

fn resolve_columns(refs: &[ColumnRef], header: &[String]) -> Result<Vec<usize>> {
    refs.iter()
        .map(|r| match r {
            ColumnRef::Index(i) => Ok(*i),
            ColumnRef::Name(n) => header.iter().position(|h| h == n).ok_or_else(|| {
                Error::invalid(
                    "numericColumns",
                    format!("no column named {n:?} in the header"),
                )
            }),
        })
        .collect()
}

/// A field as a number: decimal or exponent notation with surrounding blanks allowed; anything
/// else (empty, "n/a", "1,5", "0x10", "inf") is NaN rather than an error, as in a spreadsheet
/// column of numbers with gaps. Plain decimals of up to 15 digits, the common case, skip the
/// float parser.
fn parse_number(field: &[u8]) -> f64 {
    let t = field.trim_ascii();
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if let Some(v) = short_decimal(digits) {
        return if neg { -v } else { v };
    }
    // std's parser accepts "inf", "NaN" and "infinity": not numbers a CSV means.
    if !digits
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
    {
        return f64::NAN;
    }
    std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// `123` or `123.45` with at most 15 digits in all, or `None`. Exact: the digits as an integer
/// are below 2^53 and 10^k for k <= 15 is exact too, so the one division rounds correctly
/// (Clinger's fast path), giving what `str::parse` gives.
fn short_decimal(s: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    let mut i = 0;
    let mut digits = |i: &mut usize| {
        while let Some(d) = s.get(*i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10) {
            v = v * 10 + u64::from(d);
            *i += 1;
        }
    };
    digits(&mut i);
    if i == s.len() {
        return (i <= 15).then_some(v as f64);
    }
    // "5." and ".5" are numbers to str::parse too; such rare spellings are left to it.
    if s.get(i) != Some(&b'.') || i == 0 || i + 1 == s.len() {
        return None;
    }
    let dot = i;
    i += 1;
    digits(&mut i);
    if i != s.len() {
        return None;
    }
    Some(v as f64 / *POW10.get(s.len() - dot - 1)?)
}

/// UTF-16 length of valid UTF-8: one unit per character (every byte that is not a continuation
/// byte) plus one more for each 4-byte sequence (a surrogate pair). Branch-free, so it vectorises.
fn utf16_len(utf8: &[u8]) -> usize {
    utf8.iter()
        .map(|&b| usize::from((b & 0xC0) != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

/// Copies `line`'s fields, delimiters left out, to the front of `out` (as long as `line`), their
/// ends to `ends` (grown as needed); returns the bytes copied and the field count. Byte by byte.
fn split_bytewise(line: &[u8], delim: u8, out: &mut [u8], ends: &mut Vec<usize>) -> (usize, usize) {
    let mut o = 0;
    let mut nf = 0;
    let mut end_field = |o: usize, nf: &mut usize| {
        if *nf == ends.len() {
            ends.resize(*nf * 2 + 1, 0);
        }
        ends[*nf] = o;
        *nf += 1;
    };
    for &b in line {
        if b == delim {
            end_field(o, &mut nf);
        } else if let Some(d) = out.get_mut(o) {
            *d = b;
            o += 1;
        }
    }
    end_field(o, &mut nf);
    (o, nf)
}

/// As [`split_bytewise`], a delimiter search and one copy per field.
fn split_searching(
    line: &[u8],
    delim: u8,
    out: &mut [u8],
    ends: &mut Vec<usize>,
) -> (usize, usize) {
    let mut o = 0;
    let mut nf = 0;
    let mut start = 0;
    for end in memchr_iter(delim, line).chain(std::iter::once(line.len())) {
        let field = &line[start..end];
        if let Some(d) = out.get_mut(o..o + field.len()) {
            d.copy_from_slice(field);
            o += field.len();
        }
        if nf == ends.len() {
            ends.resize(nf * 2 + 1, 0);
        }
        ends[nf] = o;
        nf += 1;
        start = end + 1;
    }
    (o, nf)
}

pub struct CsvParser {
    opts: CsvOptions,
    /// Built on the first record the fast path cannot take (a quote, a bare CR, a record cut by
    /// a chunk's end): building it compiles csv-core's DFA, about 20 µs in the wasm build, most
    /// of what a small parse cost, and a quoteless file never needs it. (csv-core 0.1's
    /// `Clone for Dfa` copies only the transition table, so a prepared reader cannot be cloned.)
    core: Option<Reader>,
    /// The physical line reached while `core` is not built (after, csv-core counts).
    line: u64,
    /// Bytes of the record being read; kept across pushes when a record spans chunks.
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    header: Option<Vec<String>>,
    expected_fields: Option<usize>,
    batch: RowBatch,
    ready: Vec<RowBatch>,
    errors: Vec<RowError>,
    rows: u64,
    bytes: u64,
    record_start_line: u64,
    at_start: bool,
    awaiting_start: bool,
    head: Vec<u8>,
    finished: bool,
    /// Off only in the differential test that compares the fast path with csv-core alone.
    fast_allowed: bool,
    /// `opts.numeric_columns` as positions, once the header (if any) has named them.
    numeric: Vec<usize>,
    /// A batch has been handed out (see `push`).
    released: bool,
    /// The last fast-path record's fields averaged under 8 bytes (see `fast_record`).
    short_fields: bool,
    /// The last byte taken between records was a CR that ended a line: an LF right after it
    /// completes that CRLF and is not a blank line of its own.
    after_cr: bool,
}

impl CsvParser {
    pub fn new(opts: CsvOptions) -> Self {
        let mut p = CsvParser {
            opts,
            core: None,
            line: 1,
            out: vec![0; 1024],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            header: None,
            expected_fields: None,
            batch: RowBatch::default(),
            ready: Vec::new(),
            errors: Vec::new(),
            rows: 0,
            bytes: 0,
            record_start_line: 1,
            at_start: true,
            awaiting_start: true,
            head: Vec::new(),
            finished: false,
            fast_allowed: true,
            numeric: Vec::new(),
            released: false,
            short_fields: false,
            after_cr: false,
        };
        if !p.opts.has_header {
            // Without a header a name cannot match anything: resolve now, reporting it on push.
            p.numeric = resolve_columns(&p.opts.numeric_columns, &[]).unwrap_or_default();
        }
        p
    }

    pub fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    /// Data rows parsed so far (header excluded).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The physical line (1-based) the parser has reached.
    pub fn line(&self) -> u64 {
        self.core.as_ref().map_or(self.line, Reader::line)
    }

    fn set_line(&mut self, line: u64) {
        match &mut self.core {
            Some(core) => core.set_line(line),
            None => self.line = line,
        }
    }

    /// The fast path may take the next record (see `fast_record`): always between records, as
    /// csv-core is then in a state that begins a record on any byte but a line terminator.
    fn fast(&self) -> bool {
        self.fast_allowed && !matches!(self.opts.delimiter, b'"' | b'\r' | b'\n')
    }

    pub fn take_errors(&mut self) -> Vec<RowError> {
        std::mem::take(&mut self.errors)
    }

    /// A full batch is waiting.
    pub fn batch_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next full batch, or after `finish` whatever is left.
    pub fn take_batch(&mut self) -> Option<RowBatch> {
        if !self.ready.is_empty() {
            self.released = true;
            return Some(self.ready.remove(0));
        }
        if self.finished && !self.batch.is_empty() {
            return Some(std::mem::take(&mut self.batch));
        }
        None
    }

    /// The next full batch, or else the rows gathered so far: for a caller that must hand over
    /// everything read before a strict-mode error, so the error marks where delivery stopped.
    pub fn take_pending(&mut self) -> Option<RowBatch> {
        if let Some(b) = self.take_batch() {
            return Some(b);
        }
        if self.batch.is_empty() {
            return None;
        }
        self.released = true;
        Some(std::mem::take(&mut self.batch))
    }

    pub fn push(&mut self, input: &[u8]) -> Result<()> {
        if self.finished {
            return Err(Error::invalid("input", "push after finish"));
        }
        if !self.opts.has_header {
            resolve_columns(&self.opts.numeric_columns, &[])?;
        }
        if input.is_empty() {
            // csv-core reads an empty slice as the end of input.
            return Ok(());
        }
        self.bytes += input.len() as u64;
        if self.at_start {
            // A UTF-8 byte order mark is not part of the first header name, and it may arrive
            // split across pushes: hold the first bytes until there are three (see feed_head).
            self.head.extend_from_slice(input);
            if self.head.len() < 3 {
                return Ok(());
            }
            self.feed_head()?;
        } else {
            self.feed(input)?;
        }
        // The first rows go out at the end of the chunk they completed in, however few: a
        // preview should not wait for a full batch from a slow connection. Later batches fill.
        if !self.released && self.ready.is_empty() && !self.batch.is_empty() {
            let b = std::mem::take(&mut self.batch);
            self.ready.push(b);
        }
        Ok(())
    }

    /// A UTF-8 byte order mark is dropped here, once its three bytes are in (the head is held
    /// until there are three, or the input ends), not by csv-core: it would then also skip a
    /// blank line after it, which `feed` must see.
    fn feed_head(&mut self) -> Result<()> {
        self.at_start = false;
        let head = std::mem::take(&mut self.head);
        let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        self.feed(body)
    }

    pub fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        if self.at_start {
            self.feed_head()?;
        }
        self.feed(&[])?;
        self.finished = true;
        if !self.batch.is_empty() {
            let b = std::mem::take(&mut self.batch);
            self.ready.push(b);
        }
        Ok(())
    }

    fn feed(&mut self, mut input: &[u8]) -> Result<()> {
        let eof = input.is_empty();
        loop {
            // Only between records: csv-core may be inside one whose bytes so far it discarded
            // (an opening quote), leaving `out` empty.
            if self.awaiting_start {
                loop {
                    let n = self.blank_lines(input)?;
                    input = &input[n..];
                    if !self.fast() {
                        break;
                    }
                    let Some(n) = self.fast_record(input) else {
                        break;
                    };
                    input = &input[n..];
                    if self.ends_len > 0 {
                        self.complete_record()?;
                    }
                }
            }
            if input.is_empty() && self.core.is_none() {
                // Every record so far was the fast path's, none is open and the input is used
                // up (or ended): nothing for csv-core to read.
                return Ok(());
            }
            let lines_before = self.line();
            let core = match &mut self.core {
                Some(core) => core,
                None => {
                    let mut core = ReaderBuilder::new().delimiter(self.opts.delimiter).build();
                    // csv-core drops a byte order mark at the start of its first read, wherever
                    // that read begins; `feed_head` drops the file's own instead, so csv-core is
                    // told it has read (a call with no room for output consumes nothing and
                    // changes no state).
                    let _ = core.read_record(b" ", &mut [], &mut [0]);
                    core.set_line(self.line);
                    self.core.insert(core)
                }
            };
            let (res, nin, nout, nend) = core.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            if self.awaiting_start && nin > 0 {
                // The record starts at its first byte that is not a line terminator: count the
                // newlines (blank lines, the rest of a CRLF) consumed before it.
                let consumed = &input[..nin];
                if let Some(p) = consumed.iter().position(|b| *b != b'\r' && *b != b'\n') {
                    let skipped = consumed[..p].iter().filter(|b| **b == b'\n').count() as u64;
                    self.record_start_line = lines_before + skipped;
                    self.awaiting_start = false;
                }
            }
            let ended_on_cr = nin > 0 && input[nin - 1] == b'\r';
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if !eof {
                        return Ok(());
                    }
                }
                ReadRecordResult::OutputFull => {
                    let n = self.out.len() * 2;
                    self.out.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::Record => {
                    // csv-core ends a record on its terminator's first byte: after a CR, an LF
                    // may follow that belongs to the same terminator.
                    self.after_cr = ended_on_cr;
                    self.complete_record()?;
                }
                ReadRecordResult::End => return Ok(()),
            }
        }
    }

    /// The fast path: a record with no quote and no bare CR, whose terminator is in `input`, is
    /// split with memchr (SIMD in the wasm build) instead of csv-core's byte-at-a-time DFA; that
    /// is most records of most exports, and several times faster. Anything else (a quote, a record
    /// cut by the chunk's end, a bare CR) returns None and csv-core reads it from the same byte,
    /// so both paths give identical output. Returns the bytes consumed; `ends_len > 0` when a
    /// record is waiting in `out`/`ends` exactly as csv-core would have left it.
    ///
    /// It is safe to bypass csv-core here because it is between records (every record so far was
    /// completed), where its state is StartRecord, EndRecord or CRLF: all three discard line
    /// terminators and begin the next record on any other byte, as this function does.
    fn fast_record(&mut self, input: &[u8]) -> Option<usize> {
        let term = memchr2(b'\n', b'\r', input)?;
        let line = &input[..term];
        let term_len = if input[term] == b'\n' {
            1
        } else if input.get(term + 1) == Some(&b'\n') {
            2
        } else {
            // A bare CR, or a CR at the chunk's end whose LF may follow: csv-core decides.
            return None;
        };
        if memchr(b'"', line).is_some() {
            return None;
        }
        let line_no = self.line();
        self.set_line(line_no + 1);
        self.after_cr = false;
        self.record_start_line = line_no;
        if self.out.len() < line.len() {
            self.out.resize(line.len().next_power_of_two(), 0);
        }
        let delim = self.opts.delimiter;
        // Short fields (a wide numeric export: a few bytes each) go faster byte by byte than
        // with a search and a copy per field; longer ones the other way. The last record decides.
        let (o, nf) = if self.short_fields {
            split_bytewise(line, delim, &mut self.out, &mut self.ends)
        } else {
            split_searching(line, delim, &mut self.out, &mut self.ends)
        };
        self.short_fields = o < nf * 8;
        self.out_len = o;
        self.ends_len = nf;
        Some(term + term_len)
    }

    /// Takes the line terminators at the start of `input`, between records: each that does not
    /// finish the previous record's terminator ends a blank line, which is a record of one empty
    /// field (csv-core would skip it). Returns the bytes taken.
    fn blank_lines(&mut self, input: &[u8]) -> Result<usize> {
        let mut n = 0;
        while let Some(&b) = input.get(n) {
            let line = self.line();
            match b {
                b'\n' => {
                    self.set_line(line + 1);
                    n += 1;
                    if std::mem::take(&mut self.after_cr) {
                        continue;
                    }
                }
                b'\r' => {
                    n += 1;
                    self.after_cr = true;
                }
                _ => {
                    self.after_cr = false;
                    break;
                }
            }
            self.record_start_line = line;
            self.out_len = 0;
            self.ends[0] = 0;
            self.ends_len = 1;
            self.complete_record()?;
        }
        Ok(n)
    }

    fn skipped(&self, raw: &[u8], nfields: usize) -> bool {
        match self.opts.skip_empty_lines {
            SkipEmptyLines::Off => false,
            SkipEmptyLines::Empty => nfields == 1 && raw.is_empty(),
            SkipEmptyLines::Greedy => match std::str::from_utf8(raw) {
                Ok(s) => s.trim().is_empty(),
                Err(_) => false,
            },
        }
    }

    fn complete_record(&mut self) -> Result<()> {
        let line = self.record_start_line;
        self.awaiting_start = true;
        let nfields = self.ends_len;
        let out_len = self.out_len;
        self.out_len = 0;
        self.ends_len = 0;
        let raw = &self.out[..out_len];
        if self.skipped(raw, nfields) {
            return Ok(());
        }
        let decoded = std::str::from_utf8(raw);
        let bad_utf8 = decoded.as_ref().err().map(|e| e.valid_up_to());
        if self.header.is_none() && self.opts.has_header {
            if bad_utf8.is_some() && self.opts.strict {
                return Err(Error::decode(line, 0, "header is not valid UTF-8"));
            }
            let mut names = Vec::with_capacity(nfields);
            let mut start = 0;
            for &end in &self.ends[..nfields] {
                names.push(String::from_utf8_lossy(&raw[start..end]).into_owned());
                start = end;
            }
            self.numeric = resolve_columns(&self.opts.numeric_columns, &names)?;
            self.expected_fields = Some(names.len());
            self.header = Some(names);
            return Ok(());
        }
        let row = self.rows;
        if let Some(at) = bad_utf8 {
            let msg = format!("invalid UTF-8 at byte {} of the record", at + 1);
            if self.opts.strict {
                return Err(Error::decode(line, 0, msg));
            }
            self.errors.push(RowError {
                kind: RowErrorKind::InvalidUtf8,
                row,
                line,
                message: msg,
            });
        }
        let expected = *self.expected_fields.get_or_insert(nfields);
        if nfields != expected {
            let kind = if nfields < expected {
                RowErrorKind::TooFewFields
            } else {
                RowErrorKind::TooManyFields
            };
            let msg = format!("expected {expected} fields, found {nfields}");
            if self.opts.strict {
                return Err(Error::decode(line, 0, msg));
            }
            self.errors.push(RowError {
                kind,
                row,
                line,
                message: msg,
            });
        }
        if self.batch.is_empty() {
            self.batch.first_row = row;
        }
        if !self.numeric.is_empty() {
            self.batch
                .push_numbers(raw, &self.ends[..nfields], &self.numeric);
        }
        match decoded {
            _ if !self.opts.text => self.batch.row_count += 1,
            Ok(record) => self.batch.push_record(record, &self.ends[..nfields]),
            Err(_) => {
                // Decoded per field so a replacement character cannot shift other fields.
                let mut start = 0;
                for &end in &self.ends[..nfields] {
                    self.batch
                        .push_field(&String::from_utf8_lossy(&raw[start..end]));
                    start = end;
                }
                self.batch.end_row();
            }
        }
        self.rows += 1;
        if self.batch.len() >= self.opts.batch_rows {
            // The next batch will most likely be as big: allocate it whole once instead of
            // growing it by doubling (a 200-column batch's field ends are megabytes).
            let next = self.batch.empty_like();
            let b = std::mem::replace(&mut self.batch, next);
            self.ready.push(b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(
        input: &[u8],
        cuts: &[usize],
        opts: CsvOptions,
    ) -> (Option<Vec<String>>, Vec<Vec<String>>, Vec<RowError>) {
        let mut p = CsvParser::new(opts);
        let rows = feed_chunks(&mut p, input, cuts)
            .iter()
            .flat_map(RowBatch::rows)
            .collect();
        (p.header().map(|h| h.to_vec()), rows, p.take_errors())
    }

    /// Pushes `input` cut at `cuts`, taking batches as they come, then finishes.
    fn feed_chunks(p: &mut CsvParser, input: &[u8], cuts: &[usize]) -> Vec<RowBatch> {
        let mut batches = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            p.push(&input[at..c]).unwrap();
            at = c;
            batches.extend(std::iter::from_fn(|| p.take_batch()));
        }
        p.finish().unwrap();
        batches.extend(std::iter::from_fn(|| p.take_batch()));
        batches
    }

    #[test]
    fn short_decimals_read_exactly_as_the_float_parser_reads_them() {
        let mut state = 99u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for _ in 0..100_000 {
            let len = 1 + next(16) as usize;
            let mut t: String = (0..len)
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            if next(2) == 0 {
                let at = next(len as u64 + 1) as usize;
                t.insert(at, '.');
            }
            let want = t.parse::<f64>().unwrap_or(f64::NAN);
            let got = parse_number(t.as_bytes());
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{t}: {got} vs {want}"
            );
            let neg = format!("-{t}");
            assert_eq!(
                parse_number(neg.as_bytes()).to_bits(),
                neg.parse::<f64>().unwrap_or(f64::NAN).to_bits(),
                "{neg}"
            );
        }
        for (t, want) in [
            ("1.2.3", f64::NAN),
            ("1e3", 1000.0),
            (" 7.5 ", 7.5),
            ("12a", f64::NAN),
            (".", f64::NAN),
            ("", f64::NAN),
        ] {
            let got = parse_number(t.as_bytes());
            assert!(got == want || (got.is_nan() && want.is_nan()), "{t}");
        }
    }

    #[test]
    fn both_ways_of_splitting_a_quoteless_line_agree() {
        let mut state = 7u32;
        for _ in 0..2000 {
            let len = {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) as usize % 40
            };
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"ab,;,x"[(state >> 16) as usize % 6]
                })
                .collect();
            let (mut o1, mut o2) = (vec![0; len], vec![0; len]);
            let (mut e1, mut e2) = (Vec::new(), vec![0; 1]);
            let a = split_bytewise(&line, b',', &mut o1, &mut e1);
            let b = split_searching(&line, b',', &mut o2, &mut e2);
            assert_eq!(a, b, "{line:?}");
            assert_eq!(o1[..a.0], o2[..b.0]);
            assert_eq!(e1[..a.1], e2[..b.1]);
            assert_eq!(a.1, 1 + line.iter().filter(|&&c| c == b',').count());
        }
    }

    #[test]
    fn numeric_columns_by_name_or_position_at_every_split() {
        let input = b"id,name,amount,score\r\n1,a,12.5,-3\r\n2,\"b,c\",,1e3\r\n3,d, 7 ,n/a\r\n4,e,-0.25,inf\r\n5,f,+8\r\n";
        for cut in 0..input.len() {
            for text in [true, false] {
                let mut p = CsvParser::new(CsvOptions {
                    numeric_columns: vec![ColumnRef::Name("amount".into()), ColumnRef::Index(3)],
                    text,
                    ..CsvOptions::default()
                });
                p.push(&input[..cut]).unwrap();
                p.push(&input[cut..]).unwrap();
                p.finish().unwrap();
                let mut b = RowBatch::default();
                while let Some(part) = p.take_batch() {
                    b.numbers.resize(part.numbers.len(), Vec::new());
                    for (all, col) in b.numbers.iter_mut().zip(&part.numbers) {
                        all.extend_from_slice(col);
                    }
                    b.row_count += part.row_count;
                    b.text.push_str(&part.text);
                    b.row_ends.extend_from_slice(&part.row_ends);
                }
                assert_eq!(b.len(), 5);
                let show = |v: &[f64]| v.iter().map(|x| format!("{x}")).collect::<Vec<_>>();
                assert_eq!(
                    show(&b.numbers[0]),
                    ["12.5", "NaN", "7", "-0.25", "8"],
                    "cut {cut}"
                );
                // "inf" is not a number a CSV means; a missing field (row 5 is short) is NaN.
                assert_eq!(
                    show(&b.numbers[1]),
                    ["-3", "1000", "NaN", "NaN", "NaN"],
                    "cut {cut}"
                );
                assert_eq!(b.text.is_empty(), !text);
                assert_eq!(b.row_ends.len(), if text { 5 } else { 0 });
            }
        }
    }

    #[test]
    fn an_unknown_numeric_column_name_is_an_error_naming_the_option() {
        let mut p = CsvParser::new(CsvOptions {
            numeric_columns: vec![ColumnRef::Name("amount".into())],
            ..CsvOptions::default()
        });
        let e = p.push(b"id,total\n1,2\n").unwrap_err();
        assert!(e.to_string().contains("numericColumns"), "{e}");
        assert!(e.to_string().contains("amount"), "{e}");
    }

    #[test]
    fn numbers_parse_like_a_spreadsheet_column() {
        for (s, want) in [
            ("0", 0.0),
            ("-12", -12.0),
            ("123456789012345", 123456789012345.0),
            ("1234567890123456789", 1234567890123456789.0),
            (".5", 0.5),
            ("6.02e23", 6.02e23),
            ("\t42 ", 42.0),
        ] {
            assert_eq!(parse_number(s.as_bytes()), want, "{s}");
        }
        for s in [
            "", " ", "-", "abc", "1,5", "0x10", "inf", "NaN", "infinity", "1.2.3",
        ] {
            assert!(parse_number(s.as_bytes()).is_nan(), "{s}");
        }
    }

    /// The fast path against csv-core alone on random bytes made of CSV's special characters,
    /// cut at random points: rows, header, errors and their lines must be identical.
    #[test]
    fn the_fast_path_gives_exactly_what_csv_core_gives() {
        const ALPHABET: &[&[u8]] = &[
            b"a",
            b"bc",
            b",",
            b",",
            b"\"",
            b"\r",
            b"\n",
            b"\r\n",
            b"\xc3\xa9",
            b"\xff",
            b";",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..3000 {
            let len = next(60);
            let mut input = Vec::new();
            for _ in 0..len {
                input.extend_from_slice(ALPHABET[next(ALPHABET.len())]);
            }
            let cuts: Vec<usize> = {
                let mut c: Vec<usize> = (0..next(4)).map(|_| next(input.len() + 1)).collect();
                c.sort_unstable();
                c
            };
            let run = |fast: bool| {
                let mut p = CsvParser::new(CsvOptions {
                    batch_rows: 3,
                    ..CsvOptions::default()
                });
                p.fast_allowed = fast;
                let rows: Vec<_> = feed_chunks(&mut p, &input, &cuts)
                    .into_iter()
                    .map(|b| (b.first_row, b.rows(), b.utf16_ends))
                    .collect();
                (
                    p.header().map(|h| h.to_vec()),
                    rows,
                    p.take_errors(),
                    p.line(),
                )
            };
            assert_eq!(
                run(true),
                run(false),
                "case {case}: {input:?} cut at {cuts:?}"
            );
        }
    }

    const FIXTURE: &str = "\u{feff}id,name,note\r\n1,\"Müller, Søn & Co\",\"said \"\"hi\"\"\"\r\n2,東京,\"line1\r\nline2\"\r\n3,🎉,\r\n4,plain,last";

    fn expected() -> Vec<Vec<String>> {
        [
            ["1", "Müller, Søn & Co", "said \"hi\""],
            ["2", "東京", "line1\r\nline2"],
            ["3", "🎉", ""],
            ["4", "plain", "last"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
    }

    #[test]
    fn every_single_split_point_gives_the_same_rows() {
        let input = FIXTURE.as_bytes();
        for cut in 0..=input.len() {
            let (h, rows, errs) = parse_chunks(
                input,
                &[cut],
                CsvOptions {
                    batch_rows: 2,
                    ..Default::default()
                },
            );
            assert_eq!(h.unwrap(), vec!["id", "name", "note"], "cut {cut}");
            assert_eq!(rows, expected(), "cut {cut}");
            assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        }
    }

    #[test]
    fn byte_at_a_time_and_every_pair_of_splits() {
        let input = FIXTURE.as_bytes();
        let all: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            parse_chunks(input, &all, CsvOptions::default()).1,
            expected()
        );
        for a in 0..input.len() {
            for b in a..input.len() {
                assert_eq!(
                    parse_chunks(input, &[a, b], CsvOptions::default()).1,
                    expected(),
                    "cuts {a},{b}"
                );
            }
        }
    }

    #[test]
    fn utf16_offsets_match_javascript_string_slicing() {
        let (_, _, _) = parse_chunks(FIXTURE.as_bytes(), &[], CsvOptions::default());
        let mut p = CsvParser::new(CsvOptions::default());
        p.push(FIXTURE.as_bytes()).unwrap();
        p.finish().unwrap();
        // The first rows go out with the push that completed them (rows 1-3), the last at finish.
        let b = p.take_batch().unwrap();
        assert_eq!((b.len(), b.first_row), (3, 0));
        let rest = p.take_batch().unwrap();
        assert_eq!((rest.len(), rest.first_row), (1, 3));
        assert!(p.take_batch().is_none());
        let b = RowBatch {
            text: b.text + &rest.text,
            utf16_ends: b
                .utf16_ends
                .iter()
                .copied()
                .chain(
                    rest.utf16_ends
                        .iter()
                        .map(|e| e + b.utf16_ends.last().copied().unwrap_or(0)),
                )
                .collect(),
            row_ends: b
                .row_ends
                .iter()
                .copied()
                .chain(
                    rest.row_ends
                        .iter()
                        .map(|e| e + b.row_ends.last().copied().unwrap_or(0)),
                )
                .collect(),
            first_row: b.first_row,
            ..RowBatch::default()
        };
        let units: Vec<u16> = b.text.encode_utf16().collect();
        let mut start = 0usize;
        let mut fields = Vec::new();
        for &e in &b.utf16_ends {
            fields.push(String::from_utf16(&units[start..e as usize]).unwrap());
            start = e as usize;
        }
        let flat: Vec<String> = expected().into_iter().flatten().collect();
        assert_eq!(fields, flat);
        assert_eq!(b.row_ends, vec![3, 6, 9, 12]);
        assert_eq!(b.first_row, 0);
    }

    #[test]
    fn ragged_rows_are_delivered_and_reported_with_line_numbers() {
        let input = b"a,b\n1,2\n3\n\"x\ny\",5,6\n7,8\n";
        let crlf = b"a,b\r\n1,2\r\n3\r\n\"x\r\ny\",5,6\r\n7,8\r\n";
        let quoted = b"a,b\r\n1,\"x,y\"\r\n2\r\n\r\n3,\"m\nl\"\r\n4\n";
        for cut in 0..quoted.len() {
            // The blank line 4 is a record too: one empty field, so one too few.
            let (_, _, errs) = parse_chunks(quoted, &[cut], CsvOptions::default());
            assert_eq!(
                errs.iter().map(|e| e.line).collect::<Vec<_>>(),
                vec![3, 4, 7],
                "quoted, cut {cut}"
            );
            let skip = CsvOptions {
                skip_empty_lines: SkipEmptyLines::Empty,
                ..CsvOptions::default()
            };
            let (_, _, errs) = parse_chunks(quoted, &[cut], skip);
            assert_eq!(
                errs.iter().map(|e| e.line).collect::<Vec<_>>(),
                vec![3, 7],
                "quoted, skipping empty lines, cut {cut}"
            );
        }
        for cut in 0..crlf.len() {
            let (_, _, errs) = parse_chunks(crlf, &[cut], CsvOptions::default());
            assert_eq!(
                errs.iter().map(|e| e.line).collect::<Vec<_>>(),
                vec![3, 4],
                "CRLF, cut {cut}"
            );
        }
        let (_, rows, errs) = parse_chunks(input, &[], CsvOptions::default());
        assert_eq!(rows.len(), 4);
        assert_eq!(errs.len(), 2);
        assert_eq!(
            (errs[0].kind.clone(), errs[0].row, errs[0].line),
            (RowErrorKind::TooFewFields, 1, 3)
        );
        assert_eq!(
            (errs[1].kind.clone(), errs[1].row, errs[1].line),
            (RowErrorKind::TooManyFields, 2, 4)
        );
        let mut p = CsvParser::new(CsvOptions {
            strict: true,
            ..Default::default()
        });
        p.push(input).unwrap_or(());
        let err = p.finish().err();
        // Strict mode fails on the third line whether the failure surfaces in push or finish.
        let mut p2 = CsvParser::new(CsvOptions {
            strict: true,
            ..Default::default()
        });
        let e = p2.push(input).err().or(err).expect("strict mode must fail");
        assert_eq!(e.code(), "E_DECODE");
        assert!(e.to_string().starts_with("line 3"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_reported_and_replaced_not_panicked() {
        let input = b"a,b\n1,\xff\xfe\n2,ok\n";
        let (_, rows, errs) = parse_chunks(input, &[6], CsvOptions::default());
        assert_eq!(rows[0], vec!["1", "\u{fffd}\u{fffd}"]);
        assert_eq!(rows[1], vec!["2", "ok"]);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (errs[0].kind.clone(), errs[0].row, errs[0].line),
            (RowErrorKind::InvalidUtf8, 0, 2)
        );
    }

    #[test]
    fn empty_input_header_only_and_blank_lines() {
        assert_eq!(
            parse_chunks(b"", &[], CsvOptions::default()),
            (None, vec![], vec![])
        );
        let (h, rows, _) = parse_chunks(b"x,y\r\n", &[], CsvOptions::default());
        assert_eq!((h.unwrap().len(), rows.len()), (2, 0));
        let (_, rows, errs) = parse_chunks(b"x\n\n1\n\n2", &[], CsvOptions::default());
        assert_eq!(rows, vec![vec![""], vec!["1"], vec![""], vec!["2"]]);
        assert!(errs.is_empty());
        // Two bytes that look like the start of a BOM but are the whole input.
        let (h, _, _) = parse_chunks(
            b"\xEF\xBB",
            &[1],
            CsvOptions {
                has_header: true,
                ..Default::default()
            },
        );
        assert_eq!(h.unwrap(), vec!["\u{fffd}"]);
    }

    fn rows_of(input: &[u8], skip: SkipEmptyLines) -> Vec<Vec<String>> {
        let opts = CsvOptions {
            skip_empty_lines: skip,
            batch_rows: 2,
            ..CsvOptions::default()
        };
        let whole = parse_chunks(input, &[], opts.clone());
        for cut in 0..=input.len() {
            assert_eq!(
                parse_chunks(input, &[cut], opts.clone()),
                whole,
                "{input:?} cut at {cut}"
            );
        }
        assert!(whole.2.is_empty(), "{:?}", whole.2);
        whole.1
    }

    /// The one-column export where some names are blank: every blank is a row, as the API sent
    /// it, and only a caller that asks for it drops them.
    #[test]
    fn a_blank_line_in_a_one_column_file_is_a_record() {
        let e = |n: usize| vec![String::new(); n];
        let row = |s: &str| vec![s.to_string()];
        for (input, want) in [
            (&b"name\nA\n\nB\n"[..], vec![row("A"), e(1), row("B")]),
            (b"name\r\nA\r\n\r\nB\r\n", vec![row("A"), e(1), row("B")]),
            (b"name\rA\r\rB\r", vec![row("A"), e(1), row("B")]),
            (b"name\n\n\nA", vec![e(1), e(1), row("A")]),
            (b"\xEF\xBB\xBFname\n\nA\n", vec![e(1), row("A")]),
            (b"name\n\"\"\nA\n", vec![e(1), row("A")]),
            // A line break at the very end closes the last record and opens none (RFC 4180's
            // optional final CRLF): "x\n\n" is a header and one empty record.
            (b"name\n\n", vec![e(1)]),
            (b"name\nA\n", vec![row("A")]),
            (b"name\r\nA\r\n\r\n", vec![row("A"), e(1)]),
        ] {
            assert_eq!(rows_of(input, SkipEmptyLines::Off), want, "{input:?}");
            let kept: Vec<_> = want.into_iter().filter(|r| r != &e(1)).collect();
            assert_eq!(rows_of(input, SkipEmptyLines::Empty), kept, "{input:?}");
        }
        // One byte order mark is the file's; a second is data, however the input is cut.
        let twice = b"\xEF\xBB\xBF\xEF\xBB\xBFname\nA\n";
        for cut in 0..=twice.len() {
            let (h, rows, _) = parse_chunks(twice, &[cut], CsvOptions::default());
            assert_eq!(h.unwrap(), vec!["\u{feff}name"], "cut {cut}");
            assert_eq!(rows, vec![row("A")]);
        }
        // Without a header, a leading blank line is a data row too.
        let (h, rows, _) = parse_chunks(
            b"\nA\n",
            &[],
            CsvOptions {
                has_header: false,
                ..CsvOptions::default()
            },
        );
        assert_eq!((h, rows), (None, vec![e(1), row("A")]));
    }

    #[test]
    fn blank_lines_keep_their_line_numbers_and_count_as_rows() {
        let mut p = CsvParser::new(CsvOptions::default());
        p.push(b"a,b\n1,2\n\n3,4\n").unwrap();
        p.finish().unwrap();
        assert_eq!(p.rows(), 3);
        let errs = p.take_errors();
        assert_eq!(
            errs.iter()
                .map(|e| (e.kind.clone(), e.row, e.line))
                .collect::<Vec<_>>(),
            vec![(RowErrorKind::TooFewFields, 1, 3)]
        );
    }

    #[test]
    fn greedy_also_skips_records_of_blank_fields() {
        let input = b"a,b\n1,2\n\n , \n,\n\"\",\"\t\"\n3,4\n";
        assert_eq!(
            rows_of(input, SkipEmptyLines::Greedy),
            vec![vec!["1", "2"], vec!["3", "4"]]
        );
        // `true` leaves out only the record of one empty field.
        let (_, rows, errs) = parse_chunks(
            input,
            &[],
            CsvOptions {
                skip_empty_lines: SkipEmptyLines::Empty,
                ..CsvOptions::default()
            },
        );
        assert_eq!(rows.len(), 5);
        assert!(errs.is_empty());
    }

    #[test]
    fn batches_are_bounded_and_numbered() {
        let mut input = String::from("n\n");
        for i in 0..10 {
            input.push_str(&format!("{i}\n"));
        }
        let mut p = CsvParser::new(CsvOptions {
            batch_rows: 4,
            ..Default::default()
        });
        p.push(input.as_bytes()).unwrap();
        let b1 = p.take_batch().unwrap();
        let b2 = p.take_batch().unwrap();
        assert!(
            p.take_batch().is_none(),
            "partial batch waits for more input or finish"
        );
        p.finish().unwrap();
        let b3 = p.take_batch().unwrap();
        assert_eq!((b1.len(), b2.len(), b3.len()), (4, 4, 2));
        assert_eq!((b1.first_row, b2.first_row, b3.first_row), (0, 4, 8));
        assert_eq!(p.rows(), 10);
        assert!(p.push(b"x").is_err());
    }

    #[test]
    fn csv_core_is_built_only_for_a_record_the_fast_path_cannot_take() {
        // Building csv-core's DFA was most of a small parse's fixed cost (issue 19).
        let mut p = CsvParser::new(CsvOptions::default());
        assert!(p.core.is_none());
        p.push(b"\xEF\xBB\xBFa,b\r\n\r\n1,2\n3,4\n").unwrap();
        p.finish().unwrap();
        assert!(
            p.core.is_none(),
            "a quoteless file with line ends never needs csv-core"
        );
        assert_eq!(p.header().unwrap(), ["a", "b"]);
        assert_eq!(p.line(), 5);
        let rows: Vec<_> = std::iter::from_fn(|| p.take_batch())
            .flat_map(|b| b.rows())
            .collect();
        assert_eq!(rows, [vec![""], vec!["1", "2"], vec!["3", "4"]]);

        // A quote hands the record to csv-core, built then, counting lines on from there.
        let mut p = CsvParser::new(CsvOptions::default());
        p.push(b"a,b\n1,2\n\"x\ny\",3\n4,5\n").unwrap();
        assert!(p.core.is_some());
        p.finish().unwrap();
        assert_eq!(p.line(), 6);
        let rows: Vec<_> = std::iter::from_fn(|| p.take_batch())
            .flat_map(|b| b.rows())
            .collect();
        assert_eq!(rows, [vec!["1", "2"], vec!["x\ny", "3"], vec!["4", "5"]]);
    }

    #[test]
    fn a_field_larger_than_the_initial_buffers() {
        let big = "z".repeat(100_000);
        let cols: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        let input = format!("h\n\"{big}\"\n{}\n", cols.join(","));
        let (_, rows, errs) = parse_chunks(
            input.as_bytes(),
            &[7, 5000, 50_000],
            CsvOptions {
                has_header: true,
                ..Default::default()
            },
        );
        assert_eq!(rows[0][0], big);
        assert_eq!(rows[1].len(), 300);
        assert_eq!(errs.len(), 1, "300 fields against a 1-field header");
    }
}
