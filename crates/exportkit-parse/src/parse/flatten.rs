//! Records (JSON objects, one per JSON Lines record) flattened to CSV rows.
//!
//! - Nested objects become dotted columns: `{"crm_status":{"status":"x"}}` -> `crm_status.status`.
//! - Strings are written unescaped, numbers exactly as the JSON text spells them, booleans as
//!   `true`/`false`, null as an empty cell.
//! - An array of scalars is joined with `;` into one cell (`[1,"a",null]` -> `1;a;`); an empty
//!   array is an empty cell.
//! - An array holding objects or arrays (participants, campaigns) is written as its JSON text
//!   exactly as the record held it, so nothing is lost and a spreadsheet user can still read it;
//!   or, for the one array named in `explode`, the record becomes one row per element, the
//!   element's fields as `participants.name` etc. and the record's other cells repeated. A record
//!   whose exploded array is empty, null or missing still gives one row (with those cells empty):
//!   no record disappears.
//!
//! Column order is stable: the known columns the caller passes (e.g. the activity schema) first,
//! then fields found in the first batch in the order they appear. The header is written then and
//! never changes, so a field first seen after it cannot get a column: it is counted in
//! [`Flattener::late_fields`] with the line it first appeared on, never dropped silently. A null
//! or an empty object carries nothing, so it never creates or reports a column.
//!
//! The walk reads the record text directly (no `serde_json::Value` tree): cells are ranges into
//! one reused scratch string, so a record costs no allocation once the first few have been seen.
//! The walk is also a complete JSON check (it accepts exactly what `serde_json` accepts, which a
//! differential test holds it to), so records the JSON Lines parser has not validated can come
//! straight here ([`Flattener::write_checked`]): one pass over each record instead of two.

use crate::error::{Error, Result};
use crate::parse::csv_write::{is_formula, write_field, write_row};
use crate::parse::json_lex::{at, read_string, scalar, skip_value, skip_ws, Bad};
use crate::parse::jsonl::{LineError, RecordBatch};
use crate::parse::scan::{any_control, find_json_string_stop, same_bytes};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Joins the elements of an array of scalars.
pub const ARRAY_SEPARATOR: char = ';';

/// Objects nested deeper than this are refused rather than risking the stack (the walk recurses
/// once per object level): the JSON Lines parser's default `maxDepth`, so a record it lets
/// through by default flattens too.
const MAX_DEPTH: usize = crate::parse::jsonl::DEFAULT_MAX_DEPTH;

/// Distinct late fields remembered; past this only their total is kept, so memory stays bounded.
const MAX_LATE_FIELDS: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct FlattenOptions {
    /// Columns written first, in this order, whether or not the data holds them.
    pub columns: Vec<String>,
    /// Dotted path of an array of objects to explode into one row per element.
    pub explode: Option<String>,
    /// Add the fields found in the first batch after `columns` (otherwise they are late fields).
    pub discover: bool,
    /// Write cells as they are: no CSV-injection guard (see [`crate::parse::csv_write`]).
    pub raw_cells: bool,
}

impl Default for FlattenOptions {
    fn default() -> Self {
        FlattenOptions {
            columns: Vec::new(),
            explode: None,
            discover: true,
            raw_cells: false,
        }
    }
}

/// A field that first appeared after the header was written, so it has no column.
#[derive(Debug, Clone, PartialEq)]
pub struct LateField {
    pub column: String,
    /// The line (as the caller numbered it) where it first appeared.
    pub first_line: u64,
    /// How many values were left out of the CSV.
    pub count: u64,
}

#[derive(Clone, Copy, Default)]
struct Cell {
    start: u32,
    end: u32,
    gen: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Discover,
    Emit,
}

/// rustc's FxHash: column paths are short and trusted-size, so a fast non-keyed hash is right.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(c.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w)));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.add(b as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxMap<V> = HashMap<String, V, BuildHasherDefault<FxHasher>>;

pub struct Flattener {
    explode: Option<String>,
    discover: bool,
    columns: Vec<String>,
    index: FxMap<usize>,
    /// Every proper dotted prefix of a column (`participants.team` for `participants.team.name`).
    prefixes: HashSet<String>,
    header_fixed: bool,
    header_written: bool,
    cells: Vec<Cell>,
    gen: u32,
    base_gen: u32,
    elem_gen: u32,
    scratch: String,
    path: String,
    line: u64,
    late: Vec<LateField>,
    late_index: FxMap<usize>,
    late_other: u64,
    /// Late-field entries counted for the record being written, so a bad record can be undone.
    late_touched: Vec<usize>,
    late_mark: (usize, u64),
    /// The record holds bytes below 0x20, so its strings must be checked for raw control bytes.
    ctrl: bool,
    rows: u64,
    /// Byte range of the array to explode in the record being walked.
    exploded: Option<(usize, usize)>,
    /// Neutralise formula cells, header included (field names come from the data too).
    guard: bool,
    /// The record's own cells as CSV while its exploded rows are written, and where each ends.
    rendered: String,
    rendered_ends: Vec<u32>,
    /// [`Flattener::flat_row`] may run: nothing to explode (and not switched off by a test).
    flat: bool,
    /// Every column can be matched byte for byte against a record's raw keys: none holds a
    /// quote, a backslash or a control byte.
    flat_keys: bool,
    /// Where the fast path unescapes a string.
    flat_scratch: String,
    /// Rows the fast path wrote (the tests check it is taken).
    flat_rows: u64,
    /// Records in a row the fast path gave up on, and how many to send straight to the general
    /// path before trying it again (see [`Flattener::try_flat_row`]).
    flat_misses: u32,
    flat_skip: u32,
}

/// After this many records in a row that the fast path gave up on, it is not tried for the
/// next [`FLAT_SKIP`] records. An export's records share one shape: nested ones (a flat prefix,
/// then an object) made the fast path scan and write the prefix of every record for nothing,
/// 5% of the nested JSON Lines → CSV speed (`node bench/ab.mjs`).
const FLAT_MISSES: u32 = 16;
const FLAT_SKIP: u32 = 255;

impl Flattener {
    pub fn new(opts: FlattenOptions) -> Self {
        let mut f = Flattener {
            explode: opts.explode.filter(|e| !e.is_empty()),
            discover: opts.discover,
            guard: !opts.raw_cells,
            columns: Vec::new(),
            index: FxMap::default(),
            prefixes: HashSet::new(),
            header_fixed: false,
            header_written: false,
            cells: Vec::new(),
            gen: 0,
            base_gen: 0,
            elem_gen: 0,
            scratch: String::new(),
            path: String::new(),
            line: 0,
            late: Vec::new(),
            late_index: FxMap::default(),
            late_other: 0,
            late_touched: Vec::new(),
            late_mark: (0, 0),
            ctrl: false,
            rows: 0,
            exploded: None,
            rendered: String::new(),
            rendered_ends: Vec::new(),
            flat: true,
            flat_keys: true,
            flat_scratch: String::new(),
            flat_rows: 0,
            flat_misses: 0,
            flat_skip: 0,
        };
        for c in opts.columns {
            if !f.index.contains_key(&c) {
                f.add_column(c);
            }
        }
        f.flat = f.explode.is_none();
        f
    }

    /// The columns so far (fixed once the first batch has been written).
    pub fn header(&self) -> &[String] {
        &self.columns
    }

    /// The header is fixed (the first batch has been written, or `finish` called).
    pub fn header_fixed(&self) -> bool {
        self.header_fixed
    }

    /// CSV rows written (header excluded).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn late_fields(&self) -> &[LateField] {
        &self.late
    }

    /// Values of late fields beyond the first [`MAX_LATE_FIELDS`] distinct names.
    pub fn late_values_unlisted(&self) -> u64 {
        self.late_other
    }

    /// Flattens a batch into `out`, writing the header first if it has not been written (and,
    /// on the first batch, discovering its fields first). Returns the rows written. A record
    /// that is not valid JSON ends the batch with its error, the rows before it in `out`.
    pub fn write_batch(&mut self, batch: &RecordBatch, out: &mut String) -> Result<u64> {
        self.write_checked(batch, out, None)
    }

    /// [`Flattener::write_batch`] for records nobody has validated (`JsonlOptions::validate`
    /// off): with `rejected`, a record that is not valid JSON writes nothing, not even a row of
    /// an exploded array it had begun, and goes to `rejected` with its line instead of failing.
    pub fn write_checked(
        &mut self,
        batch: &RecordBatch,
        out: &mut String,
        mut rejected: Option<&mut Vec<LineError>>,
    ) -> Result<u64> {
        // Rows the fast path wrote while discovering (first batch only), and for each record
        // where its row ends in `early` and how many columns there were then.
        let mut early = String::new();
        let mut scratch = std::mem::take(&mut self.flat_scratch);
        let mut early_rows: Vec<Option<(usize, usize)>> = Vec::new();
        if !self.header_fixed {
            if self.discover {
                // A record the fast path takes names only known columns, so there is nothing to
                // discover in it, and its row is already written: columns found later only
                // append empty cells to it (new columns go last; a bad record's are dropped).
                for (line, text) in batch.iter_text() {
                    let start = early.len();
                    if self.try_flat_row(text, &mut early, &mut scratch) {
                        early_rows.push(Some((early.len(), self.columns.len())));
                        continue;
                    }
                    early.truncate(start);
                    early_rows.push(None);
                    let known = self.columns.len();
                    if self.walk_record(text, line, Mode::Discover).is_err() {
                        // A bad record names no columns; the writing pass reports it.
                        self.drop_columns_from(known);
                    }
                }
            }
            self.header_fixed = true;
        }
        self.write_header(out);
        let before = self.rows;
        let mut early_from = 0;
        for (i, (line, text)) in batch.iter_text().enumerate() {
            if let Some(&Some((end, ncols))) = early_rows.get(i) {
                out.push_str(early.get(early_from..end - 2).unwrap_or(""));
                for c in ncols..self.columns.len() {
                    if c > 0 {
                        out.push(',');
                    }
                }
                out.push_str("\r\n");
                early_from = end;
                self.rows += 1;
                self.flat_rows += 1;
                continue;
            }
            let (len, rows) = (out.len(), self.rows);
            self.late_touched.clear();
            self.late_mark = (self.late.len(), self.late_other);
            if self.try_flat_row(text, out, &mut scratch) {
                self.rows += 1;
                self.flat_rows += 1;
                continue;
            }
            out.truncate(len);
            if let Err(e) = self.record(text, line, out) {
                out.truncate(len);
                self.rows = rows;
                self.undo_late();
                match (rejected.as_deref_mut(), LineError::from_error(&e)) {
                    (Some(r), Some(le)) => r.push(le),
                    _ => {
                        self.flat_scratch = scratch;
                        return Err(e);
                    }
                }
            }
        }
        self.flat_scratch = scratch;
        Ok(self.rows - before)
    }

    /// [`Flattener::flat_row`] unless it has given up on [`FLAT_MISSES`] records in a row, in
    /// which case the next [`FLAT_SKIP`] records go straight to the general path, and then one
    /// is tried again (which writes the same cells, so this changes speed, never output).
    fn try_flat_row(&mut self, text: &str, out: &mut String, scratch: &mut String) -> bool {
        if self.flat_skip > 0 {
            self.flat_skip -= 1;
            return false;
        }
        if self.flat_row(text, out, scratch) {
            self.flat_misses = 0;
            return true;
        }
        self.flat_misses += 1;
        if self.flat_misses >= FLAT_MISSES {
            // One more miss after the skip starts the next skip.
            self.flat_misses = FLAT_MISSES - 1;
            self.flat_skip = FLAT_SKIP;
        }
        false
    }

    /// The fast path for the common record: an object of scalars whose keys are all columns, in
    /// the header's order (some may be missing), as real exports and most JSON Lines files are.
    /// It writes the row straight from the record's text: no key path built, no hash lookup,
    /// no cell copied to scratch first, one scan per string. Anything else (a nested value, an
    /// array, a key out of order or unknown, a duplicate, an escape, malformed JSON) returns
    /// false with `out` possibly holding part of a row; the caller truncates it and takes the
    /// general path, which writes the same cells for every record this one accepts (tests hold
    /// the two to it). What it accepts is valid JSON: its grammar is a subset of the walk's.
    fn flat_row(&self, text: &str, out: &mut String, scratch: &mut String) -> bool {
        if !self.flat || !self.flat_keys {
            return false;
        }
        let b = text.as_bytes();
        let mut pos = 0;
        skip_ws(b, &mut pos);
        if at(b, pos) != b'{' {
            return false;
        }
        pos += 1;
        skip_ws(b, &mut pos);
        let n = self.columns.len();
        // The next column to write: the cells before it are written (or left empty).
        let mut next = 0;
        if at(b, pos) == b'}' {
            pos += 1;
        } else {
            loop {
                if at(b, pos) != b'"' {
                    return false;
                }
                // No column holds a quote, a backslash or a control byte (`flat_keys`), so a
                // key that equals one byte for byte is that column, unescaped.
                let key = b.get(pos + 1..).unwrap_or(&[]);
                let Some(col) = (next..n).find(|&c| {
                    let name = self.columns[c].as_bytes();
                    key.get(name.len()) == Some(&b'"')
                        && key.get(..name.len()).is_some_and(|k| same_bytes(k, name))
                }) else {
                    return false;
                };
                pos += self.columns[col].len() + 2;
                skip_ws(b, &mut pos);
                if at(b, pos) != b':' {
                    return false;
                }
                pos += 1;
                skip_ws(b, &mut pos);
                // The separators before the skipped (empty) cells and before this one.
                for c in next..=col {
                    if c > 0 {
                        out.push(',');
                    }
                }
                next = col + 1;
                match at(b, pos) {
                    b'"' => {
                        let start = pos + 1;
                        let mut i = start;
                        let mut comma = false;
                        loop {
                            let Some(k) = find_json_string_stop(b.get(i..).unwrap_or(&[])) else {
                                return false;
                            };
                            i += k;
                            match at(b, i) {
                                b',' => {
                                    comma = true;
                                    i += 1;
                                }
                                b'"' | b'\\' => break,
                                // A raw control byte: the general path reports it.
                                _ => return false,
                            }
                        }
                        if at(b, i) == b'\\' {
                            // Escapes: unescaped by the general walk's own reader, then
                            // written as the general path writes any cell.
                            scratch.clear();
                            if read_string(text, &mut pos, scratch, true).is_err() {
                                return false;
                            }
                            write_field(out, scratch, self.guard);
                        } else {
                            let Some(cell) = text.get(start..i) else {
                                return false;
                            };
                            // With no escape and no control byte, a comma is the only thing that
                            // can call for quotes, so the plain case skips write_field's scan.
                            if comma {
                                write_field(out, cell, self.guard);
                            } else {
                                if self.guard && is_formula(cell) {
                                    out.push('\'');
                                }
                                out.push_str(cell);
                            }
                            pos = i + 1;
                        }
                    }
                    // A JSON number is a plain number (never guarded) and never needs quotes;
                    // `true` and `false` neither: written as they are.
                    b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => match scalar(text, &mut pos) {
                        Ok("null") => {}
                        Ok(tok) => out.push_str(tok),
                        Err(_) => return false,
                    },
                    _ => return false,
                }
                skip_ws(b, &mut pos);
                match at(b, pos) {
                    b',' => {
                        pos += 1;
                        skip_ws(b, &mut pos);
                    }
                    b'}' => {
                        pos += 1;
                        break;
                    }
                    _ => return false,
                }
            }
        }
        skip_ws(b, &mut pos);
        if pos < b.len() {
            return false;
        }
        for c in next..n {
            if c > 0 {
                out.push(',');
            }
        }
        out.push_str("\r\n");
        true
    }

    /// Flattens one record (the header must already be fixed by a batch, or is fixed now as it is).
    pub fn write_record(&mut self, text: &str, line: u64, out: &mut String) -> Result<u64> {
        self.header_fixed = true;
        self.write_header(out);
        let before = self.rows;
        self.record(text, line, out)?;
        Ok(self.rows - before)
    }

    /// Writes the header if nothing has been written yet: an export with no records is a header.
    pub fn finish(&mut self, out: &mut String) {
        self.header_fixed = true;
        self.write_header(out);
    }

    fn write_header(&mut self, out: &mut String) {
        if !self.header_written {
            write_row(out, &self.columns, self.guard);
            self.header_written = true;
        }
    }

    fn add_column(&mut self, name: String) {
        self.flat_keys &= flat_key(&name);
        add_prefixes(&mut self.prefixes, &name);
        self.index.insert(name.clone(), self.columns.len());
        self.columns.push(name);
        self.cells.push(Cell::default());
    }

    /// Forgets the columns from `n` on (found in a record that turned out to be bad).
    fn drop_columns_from(&mut self, n: usize) {
        if self.columns.len() <= n {
            return;
        }
        for c in self.columns.drain(n..) {
            self.index.remove(&c);
        }
        self.cells.truncate(n);
        self.flat_keys = self.columns.iter().all(|c| flat_key(c));
        self.prefixes.clear();
        for c in &self.columns {
            add_prefixes(&mut self.prefixes, c);
        }
    }

    /// Takes back the late-field counts of a record that turned out to be bad.
    fn undo_late(&mut self) {
        for &i in &self.late_touched {
            if let Some(l) = self.late.get_mut(i) {
                l.count -= 1;
            }
        }
        let (len, other) = self.late_mark;
        for l in self.late.drain(len.min(self.late.len())..) {
            self.late_index.remove(&l.column);
        }
        self.late_other = other;
    }

    fn next_gen(&mut self) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            // Wrapped: old cells could look current.
            self.cells.iter_mut().for_each(|c| c.gen = 0);
            self.gen = 1;
        }
        self.gen
    }

    fn record(&mut self, text: &str, line: u64, out: &mut String) -> Result<()> {
        let exploded = self.walk_record(text, line, Mode::Emit)?;
        match exploded {
            Some((a, b)) => {
                let base_len = self.scratch.len();
                let arr = text.get(a..b).unwrap_or("[]");
                self.set_explode_path();
                self.render_record_cells();
                let mut pos = 1;
                let mut elements = 0;
                loop {
                    skip_ws(arr.as_bytes(), &mut pos);
                    if at(arr.as_bytes(), pos) == b']' {
                        break;
                    }
                    self.elem_gen = self.next_gen();
                    self.value(arr, &mut pos, 1, Mode::Emit, true)?;
                    self.emit_element_row(out);
                    elements += 1;
                    self.scratch.truncate(base_len);
                    skip_ws(arr.as_bytes(), &mut pos);
                    match at(arr.as_bytes(), pos) {
                        b',' => pos += 1,
                        b']' => break,
                        _ => return Err(self.malformed((a + pos, "expected `,` or `]`"))),
                    }
                }
                self.elem_gen = 0;
                if elements == 0 {
                    self.emit_element_row(out);
                }
            }
            None => self.emit_row(out),
        }
        Ok(())
    }

    /// The record's own cells as CSV, once per record: each of its exploded rows repeats them,
    /// so they are quoted and guarded once rather than once per element.
    fn render_record_cells(&mut self) {
        self.rendered.clear();
        self.rendered_ends.clear();
        for c in &self.cells {
            if c.gen == self.base_gen {
                let cell = self.scratch.get(c.start as usize..c.end as usize);
                write_field(&mut self.rendered, cell.unwrap_or(""), self.guard);
            }
            self.rendered_ends.push(self.rendered.len() as u32);
        }
    }

    /// A row of an exploded record: the element's cells written, the record's copied as rendered.
    fn emit_element_row(&mut self, out: &mut String) {
        let elem = self.elem_gen;
        let mut from = 0;
        for (i, (c, &to)) in self.cells.iter().zip(&self.rendered_ends).enumerate() {
            if i > 0 {
                out.push(',');
            }
            if elem != 0 && c.gen == elem {
                let cell = self.scratch.get(c.start as usize..c.end as usize);
                write_field(out, cell.unwrap_or(""), self.guard);
            } else {
                out.push_str(self.rendered.get(from as usize..to as usize).unwrap_or(""));
            }
            from = to;
        }
        out.push_str("\r\n");
        self.rows += 1;
    }

    fn emit_row(&mut self, out: &mut String) {
        let (base, elem) = (self.base_gen, self.elem_gen);
        let scratch = &self.scratch;
        write_row(
            out,
            self.cells.iter().map(|c| {
                if c.gen == base || (elem != 0 && c.gen == elem) {
                    scratch.get(c.start as usize..c.end as usize).unwrap_or("")
                } else {
                    ""
                }
            }),
            self.guard,
        );
        self.rows += 1;
    }

    /// Walks one record, filling cells (or discovering columns). Returns the byte range of the
    /// array to explode, if the record has one.
    fn walk_record(&mut self, text: &str, line: u64, mode: Mode) -> Result<Option<(usize, usize)>> {
        self.line = line;
        self.scratch.clear();
        self.path.clear();
        self.base_gen = self.next_gen();
        self.elem_gen = 0;
        self.exploded = None;
        self.ctrl = any_control(text.as_bytes());
        let b = text.as_bytes();
        let mut pos = 0;
        skip_ws(b, &mut pos);
        if at(b, pos) != b'{' {
            return Err(Error::decode(
                line,
                pos as u64 + 1,
                "record is not a JSON object",
            ));
        }
        self.value(text, &mut pos, 0, mode, false)?;
        skip_ws(b, &mut pos);
        if pos < b.len() {
            return Err(self.malformed((pos, "trailing characters after the record")));
        }
        let span = self.exploded.take();
        if mode == Mode::Discover {
            if let Some((a, b)) = span {
                // Element fields are columns too.
                let arr = text.get(a..b).unwrap_or("[]");
                self.set_explode_path();
                let mut pos = 1;
                loop {
                    skip_ws(arr.as_bytes(), &mut pos);
                    if matches!(at(arr.as_bytes(), pos), b']' | 0) {
                        break;
                    }
                    self.value(arr, &mut pos, 1, mode, true)?;
                    skip_ws(arr.as_bytes(), &mut pos);
                    if at(arr.as_bytes(), pos) == b',' {
                        pos += 1;
                    }
                }
            }
        }
        Ok(span)
    }

    fn set_explode_path(&mut self) {
        self.path.clear();
        if let Some(e) = &self.explode {
            self.path.push_str(e);
        }
    }

    fn malformed(&self, (pos, why): Bad) -> Error {
        Error::decode(self.line, pos as u64 + 1, format!("malformed JSON: {why}"))
    }

    /// One value at `self.path`. `in_elem`: inside an exploded element (no nested explode; the
    /// element's own path is the explode path).
    fn value(
        &mut self,
        s: &str,
        pos: &mut usize,
        depth: usize,
        mode: Mode,
        in_elem: bool,
    ) -> Result<()> {
        let b = s.as_bytes();
        match at(b, *pos) {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(Error::decode(
                        self.line,
                        *pos as u64 + 1,
                        "objects nested deeper than the CSV flattener's 128 levels",
                    ));
                }
                *pos += 1;
                skip_ws(b, pos);
                if at(b, *pos) == b'}' {
                    *pos += 1;
                    return Ok(());
                }
                loop {
                    skip_ws(b, pos);
                    if at(b, *pos) != b'"' {
                        return Err(self.malformed((*pos, "expected a key (a string)")));
                    }
                    let saved = self.path.len();
                    if saved > 0 {
                        self.path.push('.');
                    }
                    read_string(s, pos, &mut self.path, self.ctrl)
                        .map_err(|p| self.malformed(p))?;
                    skip_ws(b, pos);
                    if at(b, *pos) != b':' {
                        return Err(self.malformed((*pos, "expected `:`")));
                    }
                    *pos += 1;
                    skip_ws(b, pos);
                    self.value(s, pos, depth + 1, mode, in_elem)?;
                    self.path.truncate(saved);
                    skip_ws(b, pos);
                    match at(b, *pos) {
                        b',' => *pos += 1,
                        b'}' => {
                            *pos += 1;
                            return Ok(());
                        }
                        _ => return Err(self.malformed((*pos, "expected `,` or `}`"))),
                    }
                }
            }
            b'[' => {
                if !in_elem && self.explode.as_deref() == Some(self.path.as_str()) {
                    let start = *pos;
                    skip_value(b, pos, self.ctrl).map_err(|p| self.malformed(p))?;
                    self.exploded = Some((start, *pos));
                    return Ok(());
                }
                self.array(s, pos, mode)
            }
            b'"' => {
                let start = self.scratch.len();
                read_string(s, pos, &mut self.scratch, self.ctrl).map_err(|p| self.malformed(p))?;
                self.set_cell(start, mode);
                Ok(())
            }
            _ => {
                let tok = scalar(s, pos).map_err(|p| self.malformed(p))?;
                if tok == "null" {
                    self.null(mode);
                } else {
                    let start = self.scratch.len();
                    self.scratch.push_str(tok);
                    self.set_cell(start, mode);
                }
                Ok(())
            }
        }
    }

    fn array(&mut self, s: &str, pos: &mut usize, mode: Mode) -> Result<()> {
        let b = s.as_bytes();
        let arr_start = *pos;
        let start = self.scratch.len();
        *pos += 1;
        let mut first = true;
        loop {
            skip_ws(b, pos);
            match at(b, *pos) {
                b']' if first => {
                    *pos += 1;
                    break;
                }
                b'{' | b'[' => {
                    // Not all scalars: keep the array's JSON text as it came.
                    self.scratch.truncate(start);
                    *pos = arr_start;
                    skip_value(b, pos, self.ctrl).map_err(|p| self.malformed(p))?;
                    self.scratch.push_str(s.get(arr_start..*pos).unwrap_or(""));
                    break;
                }
                b'"' => {
                    if !first {
                        self.scratch.push(ARRAY_SEPARATOR);
                    }
                    read_string(s, pos, &mut self.scratch, self.ctrl)
                        .map_err(|p| self.malformed(p))?;
                }
                _ => {
                    if !first {
                        self.scratch.push(ARRAY_SEPARATOR);
                    }
                    let tok = scalar(s, pos).map_err(|p| self.malformed(p))?;
                    if tok != "null" {
                        self.scratch.push_str(tok);
                    }
                }
            }
            first = false;
            skip_ws(b, pos);
            match at(b, *pos) {
                b',' => *pos += 1,
                b']' => {
                    *pos += 1;
                    break;
                }
                _ => return Err(self.malformed((*pos, "expected `,` or `]`"))),
            }
        }
        self.set_cell(start, mode);
        Ok(())
    }

    /// The value at `self.path` is `scratch[start..]`.
    fn set_cell(&mut self, start: usize, mode: Mode) {
        let gen = if self.elem_gen != 0 {
            self.elem_gen
        } else {
            self.base_gen
        };
        let end = self.scratch.len();
        let col = match self.index.get(self.path.as_str()) {
            Some(&c) => c,
            None if mode == Mode::Discover => {
                let c = self.columns.len();
                self.add_column(self.path.clone());
                c
            }
            None => {
                self.scratch.truncate(start);
                self.late_field();
                return;
            }
        };
        if let Some(cell) = self.cells.get_mut(col) {
            *cell = Cell {
                start: start as u32,
                end: end as u32,
                gen,
            };
        }
    }

    fn null(&mut self, mode: Mode) {
        if mode == Mode::Discover
            && !self.index.contains_key(self.path.as_str())
            && !self.prefixes.contains(self.path.as_str())
        {
            // A field that is null in the first batch still names a column.
            self.add_column(self.path.clone());
        }
    }

    fn late_field(&mut self) {
        if let Some(&i) = self.late_index.get(self.path.as_str()) {
            if let Some(l) = self.late.get_mut(i) {
                l.count += 1;
                self.late_touched.push(i);
            }
        } else if self.late.len() < MAX_LATE_FIELDS {
            self.late_index.insert(self.path.clone(), self.late.len());
            self.late.push(LateField {
                column: self.path.clone(),
                first_line: self.line,
                count: 1,
            });
        } else {
            self.late_other += 1;
        }
    }
}

/// A column name a raw JSON key can be compared with byte for byte (see `flat_row`).
fn flat_key(name: &str) -> bool {
    !name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Every proper dotted prefix of `name` (`a` and `a.b` for `a.b.c`).
fn add_prefixes(prefixes: &mut HashSet<String>, name: &str) {
    let mut at = 0;
    while let Some(i) = name.get(at..).and_then(|r| r.find('.')) {
        if let Some(p) = name.get(..at + i) {
            prefixes.insert(p.to_string());
        }
        at += i + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::jsonl::{JsonlOptions, JsonlParser};

    fn batch(text: &str) -> RecordBatch {
        let mut p = JsonlParser::new(JsonlOptions::default());
        p.push(text.as_bytes()).unwrap();
        p.finish().unwrap();
        assert!(p.take_errors().is_empty());
        p.take_batch().unwrap_or_default()
    }

    #[test]
    fn formula_cells_and_field_names_are_guarded_unless_raw() {
        let text = "{\"subject\":\"=cmd|' /C calc'!A0\",\"amount\":-5,\"@x\":\"+1 Telecom\"}\n";
        let (guarded, _) = csv(FlattenOptions::default(), &[text]);
        assert_eq!(
            guarded,
            "subject,amount,'@x\r\n'=cmd|' /C calc'!A0,-5,'+1 Telecom\r\n"
        );
        let raw = FlattenOptions {
            raw_cells: true,
            ..FlattenOptions::default()
        };
        assert_eq!(
            csv(raw, &[text]).0,
            "subject,amount,@x\r\n=cmd|' /C calc'!A0,-5,+1 Telecom\r\n"
        );
    }

    fn csv(opts: FlattenOptions, batches: &[&str]) -> (String, Flattener) {
        let mut f = Flattener::new(opts);
        let mut out = String::new();
        for b in batches {
            f.write_batch(&batch(b), &mut out).unwrap();
        }
        f.finish(&mut out);
        (out, f)
    }

    const REC: &str = r#"{"uid":"u1","n":1.50,"ok":true,"none":null,"s":"a,\"b\"\n\u00e9\ud83c\udf89","crm_status":{"status":"matched","synced_at":null},"tags":["x","y;z",3,null],"participants":[{"name":"Ann","team":{"name":"East"}},{"name":"Bob","team":null}],"empty":[],"o":{}}"#;

    #[test]
    fn dotted_columns_joined_scalars_and_json_for_object_arrays() {
        let (out, f) = csv(FlattenOptions::default(), &[REC]);
        assert_eq!(
            f.header(),
            [
                "uid",
                "n",
                "ok",
                "none",
                "s",
                "crm_status.status",
                "crm_status.synced_at",
                "tags",
                "participants",
                "empty"
            ]
        );
        let row = out.split_once("\r\n").unwrap().1;
        assert_eq!(
            row,
            "u1,1.50,true,,\"a,\"\"b\"\"\n\u{e9}🎉\",matched,,x;y;z;3;,\"[{\"\"name\"\":\"\"Ann\"\",\"\"team\"\":{\"\"name\"\":\"\"East\"\"}},{\"\"name\"\":\"\"Bob\"\",\"\"team\"\":null}]\",\r\n"
        );
    }

    #[test]
    fn explode_gives_one_row_per_element_and_keeps_records_without_any() {
        let opts = FlattenOptions {
            columns: vec![
                "uid".into(),
                "participants.name".into(),
                "participants.team.name".into(),
            ],
            explode: Some("participants".into()),
            discover: false,
            raw_cells: false,
        };
        let text = format!("{REC}\n{{\"uid\":\"u2\",\"participants\":[]}}\n{{\"uid\":\"u3\"}}\n");
        let (out, f) = csv(opts, &[&text]);
        assert_eq!(
            out,
            "uid,participants.name,participants.team.name\r\nu1,Ann,East\r\nu1,Bob,\r\nu2,,\r\nu3,,\r\n"
        );
        assert_eq!(f.rows(), 4);
        let late: Vec<&str> = f.late_fields().iter().map(|l| l.column.as_str()).collect();
        assert_eq!(late, ["n", "ok", "s", "crm_status.status", "tags", "empty"]);
    }

    #[test]
    fn known_columns_first_then_discovered_then_late_fields_reported() {
        let opts = FlattenOptions {
            columns: vec!["b".into(), "a".into()],
            ..Default::default()
        };
        let (out, f) = csv(
            opts,
            &[
                "{\"a\":1,\"c\":{\"d\":2}}\n{\"b\":3}\n",
                "\n\n{\"a\":4,\"e\":5,\"f\":null}\n{\"e\":6}\n",
            ],
        );
        assert_eq!(out, "b,a,c.d\r\n,1,2\r\n3,,\r\n,4,\r\n,,\r\n");
        assert_eq!(
            f.late_fields(),
            [LateField {
                column: "e".into(),
                first_line: 3,
                count: 2
            }]
        );
    }

    #[test]
    fn an_empty_export_is_a_header() {
        let (out, _) = csv(
            FlattenOptions {
                columns: vec!["x".into(), "y.z".into()],
                ..Default::default()
            },
            &[],
        );
        assert_eq!(out, "x,y.z\r\n");
    }

    #[test]
    fn exploding_matches_a_serde_walk_on_activity_like_records() {
        // Cross-check the hand-written walk against serde_json on varied records.
        let mut text = String::new();
        for i in 0..50 {
            let parts: Vec<String> = (0..(i % 4))
                .map(|k| {
                    format!(
                        "{{\"name\":\"p{k}\\u00fc\",\"team\":{}}}",
                        if k % 2 == 0 {
                            "null"
                        } else {
                            "{\"name\":\"T\"}"
                        }
                    )
                })
                .collect();
            text.push_str(&format!(
                "{{\"uid\":\"{i}\",\"x\":{},\"participants\":[{}]}}\n",
                i as f64 / 4.0,
                parts.join(",")
            ));
        }
        let opts = FlattenOptions {
            columns: vec![
                "uid".into(),
                "x".into(),
                "participants.name".into(),
                "participants.team.name".into(),
            ],
            explode: Some("participants".into()),
            discover: true,
            raw_cells: false,
        };
        let (out, f) = csv(opts, &[&text]);
        assert_eq!(f.header().len(), 4);
        let mut expect = String::from("uid,x,participants.name,participants.team.name\r\n");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let base = format!("{},{}", v["uid"].as_str().unwrap(), v["x"]);
            let ps = v["participants"].as_array().unwrap();
            if ps.is_empty() {
                expect.push_str(&format!("{base},,\r\n"));
            }
            for p in ps {
                let team = p["team"]["name"].as_str().unwrap_or("");
                expect.push_str(&format!(
                    "{base},{},{team}\r\n",
                    p["name"].as_str().unwrap()
                ));
            }
        }
        assert_eq!(out, expect);
    }

    /// The walk must accept exactly what serde_json accepts, since with `validate` off it is the
    /// only JSON check a record gets. Seeded mutations of valid records, with and without explode.
    #[test]
    fn the_walk_accepts_exactly_what_serde_json_accepts() {
        let seeds = [
            REC,
            r#"{"a":-0.5e+10,"b":[true,false,null,"x\"y",{"c":[1,[2,{}]]}],"d":{"e":{"f":"\ud800"}}}"#,
            r#"{"participants":[{"name":"A","n":1},{"name":"B","t":{"x":[]}}],"z":0}"#,
            r#"{ "k" :	[ 1 , 2E3 ] , "s" : "\t\/\b\f\r\n" }"#,
        ];
        let alphabet: &[u8] = b"{}[]\",:0123456789-+.eEtrufalsn \t\r\x01\\/ubx";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..20_000 {
            let seed = seeds[round % seeds.len()].as_bytes();
            let mut b = seed.to_vec();
            for _ in 0..1 + rand(3) {
                let i = rand(b.len() + 1);
                let c = alphabet[rand(alphabet.len())];
                match rand(3) {
                    0 if i < b.len() => b[i] = c,
                    1 if i < b.len() => {
                        b.remove(i);
                    }
                    _ => b.insert(i, c),
                }
            }
            let Ok(text) = std::str::from_utf8(&b) else {
                continue;
            };
            if !text.trim_start().starts_with('{') {
                continue;
            }
            let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            for explode in [None, Some("participants".to_string())] {
                let mut f = Flattener::new(FlattenOptions {
                    explode,
                    ..FlattenOptions::default()
                });
                let mut out = String::new();
                let ours = f.write_record(text, 1, &mut out);
                assert_eq!(ours.is_ok(), serde_ok, "{text:?}: {ours:?}");
            }
            if serde_ok {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        // The mutations must exercise both sides.
        assert!(accepted > 1000 && refused > 1000, "{accepted} / {refused}");
    }

    #[test]
    fn a_bad_record_is_rejected_whole_and_the_rest_written() {
        let text = concat!(
            "{\"a\":1,\"p\":[{\"n\":\"x\"}]}\n",
            "{\"a\":2,\"late\":1,\"p\":[{\"n\":\"y\"},{\"n\":tru}]}\n",
            "{\"a\":3,\"late\":2}\n",
        );
        let mut p = JsonlParser::new(JsonlOptions {
            validate: false,
            batch_records: 1,
            ..JsonlOptions::default()
        });
        p.push(text.as_bytes()).unwrap();
        p.finish().unwrap();
        let mut f = Flattener::new(FlattenOptions {
            explode: Some("p".into()),
            ..FlattenOptions::default()
        });
        let (mut out, mut rejected) = (String::new(), Vec::new());
        while let Some(b) = p.take_batch() {
            f.write_checked(&b, &mut out, Some(&mut rejected)).unwrap();
        }
        assert_eq!(out, "a,p.n\r\n1,x\r\n3,\r\n");
        assert_eq!(f.rows(), 2);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].line, 2);
        assert_eq!(rejected[0].message, "malformed JSON: expected a value");
        // The bad record's late field is not counted; the good one's is.
        assert_eq!(
            f.late_fields(),
            [LateField {
                column: "late".into(),
                first_line: 3,
                count: 1
            }]
        );
        // Without a place to put it, the error ends the batch.
        let mut f = Flattener::new(FlattenOptions::default());
        let mut p = JsonlParser::new(JsonlOptions {
            validate: false,
            ..JsonlOptions::default()
        });
        p.push(b"{\"a\":1}\n{\"a\":01}\n").unwrap();
        p.finish().unwrap();
        let mut out = String::new();
        let e = f
            .write_checked(&p.take_batch().unwrap(), &mut out, None)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 7: malformed JSON: expected `,` or `}`"
        );
        assert_eq!(out, "a\r\n1\r\n");
    }

    #[test]
    fn a_bad_record_in_the_first_batch_names_no_columns() {
        let mut p = JsonlParser::new(JsonlOptions {
            validate: false,
            ..JsonlOptions::default()
        });
        p.push(b"{\"a\":1}\n{\"b\":{\"c\":1},\"d\":}\n{\"e\":null}\n")
            .unwrap();
        p.finish().unwrap();
        let mut f = Flattener::new(FlattenOptions::default());
        let (mut out, mut rejected) = (String::new(), Vec::new());
        f.write_checked(&p.take_batch().unwrap(), &mut out, Some(&mut rejected))
            .unwrap();
        assert_eq!(f.header(), ["a", "e"]);
        assert_eq!(out, "a,e\r\n1,\r\n,\r\n");
        assert_eq!(rejected[0].line, 2);
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let mut f = Flattener::new(FlattenOptions::default());
        let mut out = String::new();
        for bad in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":[1,",
            "{\"a\":\"x",
            "[1]",
            "{\"a\":1,}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":{\"b\":[{\"c\":]}}",
        ] {
            assert!(f.write_record(bad, 7, &mut out).is_err(), "{bad}");
        }
        // Bounded recursion: 128 object levels flatten, one more is this record's error.
        let deep = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        assert!(f.write_record(&deep(128), 8, &mut out).is_ok());
        for n in [129, 5000] {
            let e = f.write_record(&deep(n), 9, &mut out).unwrap_err();
            assert!(e.to_string().starts_with("line 9"), "{e}");
            assert!(e.to_string().contains("128 levels"), "{e}");
        }
    }

    /// Output, rows, late fields and rejected lines of `text` (JSON Lines), with the flat fast
    /// path on or off, fed in batches of `batch_records`.
    fn both_paths(
        text: &str,
        opts: FlattenOptions,
        batch_records: usize,
    ) -> [(String, u64, Vec<LateField>, Vec<u64>); 2] {
        let mut flat_rows = [0; 2];
        let out = [true, false].map(|fast| {
            let mut p = JsonlParser::new(JsonlOptions {
                batch_records,
                validate: false,
                ..JsonlOptions::default()
            });
            p.push(text.as_bytes()).unwrap();
            p.finish().unwrap();
            let mut f = Flattener::new(opts.clone());
            if !fast {
                f.flat = false;
            }
            let (mut out, mut rejected) = (String::new(), Vec::new());
            while let Some(b) = p.take_batch() {
                f.write_checked(&b, &mut out, Some(&mut rejected)).unwrap();
            }
            f.finish(&mut out);
            flat_rows[usize::from(!fast)] = f.flat_rows;
            (
                out,
                f.rows(),
                f.late.clone(),
                rejected.iter().map(|r| r.line).collect(),
            )
        });
        // Records after the first batch take the fast path when they can, never when it is off.
        assert!(flat_rows[0] > 0 && flat_rows[1] == 0, "{flat_rows:?}");
        out
    }

    #[test]
    fn the_flat_fast_path_writes_what_the_general_path_writes() {
        // The first batch (two records) fixes the header: a, b, c, d.
        let text = [
            r#"{"a":"x","b":1,"c":true,"d":null}"#,
            r#"{"a":"y","b":-2.5e3,"c":false,"d":"=1+2"}"#,
            // Flat and in order; cells to quote, guard, leave alone.
            r#"{"a":"has,comma","b":"-5","c":"+1 Telecom","d":"say \"hi\""}"#,
            r#"{"a":"line\nbreak","b":0,"c":"@SUM(A1)","d":"é 🎉 multi-byte"}"#,
            r#" { "a" : "spaced" , "b" : 7 } "#,
            // Missing keys (in order), none at all, only the last.
            r#"{"b":1}"#,
            r#"{}"#,
            r#"{"d":"last"}"#,
            // Out of order, duplicated, unknown (a late field), nested, arrays, escaped key.
            r#"{"b":1,"a":"x"}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"zz":2}"#,
            r#"{"a":{"b":1},"b":2}"#,
            r#"{"a":[1,"x",null],"b":[{"k":1}]}"#,
            r#"{"\u0061":"escaped key"}"#,
            r#"{"a":"tab	raw"}"#,
            // Malformed: rejected the same way.
            r#"{"a":01}"#,
            r#"{"a":"x",}"#,
            r#"{"a":"x"} trailing"#,
            r#"{"a":tru}"#,
            r#"{"a":"unterminated}"#,
            // Escapes in values: unescaped, then quoted and guarded like any cell.
            r#"{"a":"\u00e9\ud83c\udf89 \"q\", \\ \/ \b\f\n\r\t","b":"=\u0031+1","c":"a\u002cb"}"#,
            r#"{"a":"lone \ud800 surrogate","d":"\"=quoted\""}"#,
            r#"{"a":"bad \x escape"}"#,
            r#"{"a":"\u12"}"#,
        ]
        .join("\n");
        // Batches of 2: the header is fixed by the first two records. One batch: columns are
        // still found (`zz`, `a.b` ...) after rows the fast path wrote while discovering.
        for (guard, batch) in [(true, 2), (false, 2), (true, 2048), (false, 2048)] {
            let opts = FlattenOptions {
                raw_cells: !guard,
                ..FlattenOptions::default()
            };
            let [fast, general] = both_paths(&text, opts, batch);
            assert_eq!(fast, general, "guard {guard}, batch {batch}");
            assert_eq!(
                fast.3,
                [15, 16, 17, 18, 19, 20, 23, 24],
                "the malformed lines are rejected"
            );
        }
        // Known columns first, then discovered ones; a record may skip any of them.
        let opts = FlattenOptions {
            columns: vec!["d".into(), "a".into(), "q".into()],
            ..FlattenOptions::default()
        };
        let [fast, general] = both_paths(&text, opts, 2);
        assert_eq!(fast, general, "with known columns");
    }

    #[test]
    fn nested_records_rest_the_fast_path_and_flat_ones_bring_it_back() {
        // 1,000 records with a nested value after a flat prefix, then 1,000 flat ones.
        let mut lines = Vec::new();
        for i in 0..1000 {
            lines.push(format!(r#"{{"a":"n{i}","b":{i},"c":{{"d":{i}}}}}"#));
        }
        for i in 0..1000 {
            lines.push(format!(r#"{{"a":"f{i}","b":{i}}}"#));
        }
        let [fast, general] = both_paths(&lines.join("\n"), FlattenOptions::default(), 50);
        assert_eq!(fast, general);
        assert_eq!(fast.1, 2000);
        // Counted again (both_paths keeps its counts to itself).
        let mut p = JsonlParser::new(JsonlOptions {
            batch_records: 50,
            ..JsonlOptions::default()
        });
        p.push(lines.join("\n").as_bytes()).unwrap();
        p.finish().unwrap();
        let mut f = Flattener::new(FlattenOptions::default());
        let mut out = String::new();
        let mut checked = false;
        while let Some(b) = p.take_batch() {
            f.write_batch(&b, &mut out).unwrap();
            if f.rows() == 1000 {
                // The nested records were not all tried: it gave up after 16 in a row.
                assert_eq!(f.flat_rows, 0);
                assert!(f.flat_skip > 0 || f.flat_misses > 0);
                checked = true;
            }
        }
        assert!(checked, "a batch ended with the nested records");
        // The flat records take it again after at most one skip (255) and its probe.
        assert!(f.flat_rows >= 1000 - 256, "{}", f.flat_rows);
    }

    /// Real records (vega-datasets, a devDependency: skipped when node_modules is absent) as
    /// JSON Lines, each array element's text exactly as the file has it.
    #[test]
    fn the_flat_fast_path_matches_the_general_path_on_real_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../node_modules/vega-datasets/data");
        if !dir.exists() {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        }
        for name in [
            "movies.json",
            "cars.json",
            "flights-20k.json",
            "penguins.json",
            "budgets.json",
        ] {
            let raw = std::fs::read_to_string(dir.join(name)).unwrap();
            let b = raw.as_bytes();
            let mut lines = String::new();
            let mut pos = 0;
            skip_ws(b, &mut pos);
            assert_eq!(at(b, pos), b'[', "{name}");
            pos += 1;
            loop {
                skip_ws(b, &mut pos);
                let start = pos;
                skip_value(b, &mut pos, true).unwrap();
                // One line per record: whitespace outside strings dropped (some files are
                // pretty-printed), everything else as written.
                let mut in_str = false;
                let mut esc = false;
                for c in raw[start..pos].chars() {
                    if in_str {
                        in_str = esc || c != '"';
                        esc = !esc && c == '\\';
                    } else if !c.is_ascii_whitespace() {
                        in_str = c == '"';
                    } else {
                        continue;
                    }
                    lines.push(c);
                }
                lines.push('\n');
                skip_ws(b, &mut pos);
                if at(b, pos) != b',' {
                    break;
                }
                pos += 1;
            }
            let [fast, general] = both_paths(&lines, FlattenOptions::default(), 2048);
            assert!(fast.1 > 100, "{name}: {} rows", fast.1);
            assert_eq!(fast, general, "{name}");
        }
    }
}
