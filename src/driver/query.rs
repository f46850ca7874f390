//! The Query API run: quota, one call, the CSV streamed through the push parser.

use super::{read_all, retry_after, send, Response, Session, SMALL_BODY_LIMIT};
use crate::core::quota::DailyQuota;
use crate::error::{Error, Result};
use crate::parse::csv::{CsvOptions, CsvParser, RowBatch, RowError, SkipEmptyLines};
use crate::providers::backstory::catalog::label_of;
use crate::providers::backstory::query::{match_header, Column, Query, DAILY_LIMIT};
use crate::transport::{Body, Transport};

/// Where the daily count lives (memory, localStorage, a file): a string in, a string out.
pub trait QuotaStore {
    fn load(&self) -> Option<String>;
    fn save(&mut self, value: String);
}

#[derive(Debug, Default)]
pub struct MemoryQuotaStore(pub Option<String>);

impl QuotaStore for MemoryQuotaStore {
    fn load(&self) -> Option<String> {
        self.0.clone()
    }
    fn save(&mut self, value: String) {
        self.0 = Some(value);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Token,
    Request,
    Download,
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Token => "token",
            Phase::Request => "request",
            Phase::Download => "download",
            Phase::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub bytes: u64,
    pub rows: u64,
}

/// Receives a query's output as it arrives.
#[allow(async_fn_in_trait)]
pub trait QuerySink {
    async fn header(&mut self, header: &[String], missing: &[Column]) -> Result<()>;
    async fn batch(&mut self, batch: RowBatch) -> Result<()>;
    /// The raw body bytes, for a caller who keeps the CSV file exactly as sent.
    fn raw(&mut self, chunk: &[u8]);
    fn progress(&mut self, p: Progress);
}

#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Call even when our daily count says the allowance is spent.
    pub force: bool,
    pub strict: bool,
    pub batch_rows: Option<usize>,
    /// Off by default: a blank line is a row (a blank value in a one-column export).
    pub skip_empty_lines: SkipEmptyLines,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutcome {
    pub header: Vec<String>,
    pub missing: Vec<Column>,
    pub unexpected: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    pub errors: Vec<RowError>,
    pub calls_left: u32,
}

pub fn calls_left(store: &dyn QuotaStore, now_ms: f64) -> u32 {
    DailyQuota::new(DAILY_LIMIT).remaining(DailyQuota::load(store.load().as_deref()), now_ms)
}

/// Runs one Query API export: spends at most one of the day's calls (never retried without the
/// caller's leave), streams and parses the CSV as it arrives, and reports dropped columns.
pub async fn run_query<T: Transport, S: QuerySink>(
    t: &T,
    session: &Session,
    store: &mut dyn QuotaStore,
    query: &Query,
    opts: &QueryOptions,
    sink: &mut S,
) -> Result<QueryOutcome> {
    let quota = DailyQuota::new(DAILY_LIMIT);
    quota.check(
        DailyQuota::load(store.load().as_deref()),
        t.now_ms(),
        opts.force,
    )?;
    let mut progress = Progress {
        phase: Phase::Token,
        bytes: 0,
        rows: 0,
    };
    if session.needs_token(t.now_ms()) {
        sink.progress(progress);
    }
    let req = query.export_request(&session.base_url);
    let mut record = || {
        let now = t.now_ms();
        let next = quota.record(DailyQuota::load(store.load().as_deref()), now);
        store.save(DailyQuota::store(next));
        sink.progress(Progress {
            phase: Phase::Request,
            bytes: 0,
            rows: 0,
        });
    };
    let response = send(t, session, req, &mut record).await?;
    let (head, mut body) = match response {
        Response::Streaming(head, body) => (head, body),
        Response::Buffered(resp) => {
            let now = t.now_ms();
            if resp.status == 429 {
                store.save(DailyQuota::store(quota.exhausted(now)));
            }
            return Err(Error::from_status(
                resp.status,
                &resp.body,
                retry_after(&resp.headers, now),
            ));
        }
    };
    // A 200 whose body is a JSON error is an error, not an empty export.
    if head
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().contains("json"))
    {
        let text = read_all(&mut body, SMALL_BODY_LIMIT).await?;
        return Err(Error::new(crate::ErrorKind::Http {
            status: head.status,
            body_excerpt: crate::error::excerpt(&text),
        }));
    }
    let mut parser = CsvParser::new(CsvOptions {
        strict: opts.strict,
        batch_rows: opts
            .batch_rows
            .unwrap_or(CsvOptions::default().batch_rows)
            .max(1),
        skip_empty_lines: opts.skip_empty_lines,
        ..CsvOptions::default()
    });
    let mut header_done = false;
    let mut last_byte = b'\n';
    let mut matched = None;
    progress.phase = Phase::Download;
    loop {
        t.check_aborted()?;
        let chunk = body.chunk().await?;
        match &chunk {
            Some(c) => {
                sink.raw(c);
                parser.push(c)?;
                if let Some(&b) = c.last() {
                    last_byte = b;
                }
            }
            None => parser.finish()?,
        }
        if !header_done {
            if let Some(h) = parser.header() {
                let m = match_header(&query.columns, h, &label_of);
                sink.header(h, &m.missing).await?;
                matched = Some(m);
                header_done = true;
            }
        }
        while let Some(b) = parser.take_batch() {
            sink.batch(b).await?;
        }
        progress.bytes = parser.bytes();
        progress.rows = parser.rows();
        sink.progress(progress);
        if chunk.is_none() {
            break;
        }
    }
    // The vendor ends every record, the last included, with CRLF. A body that stops mid-record
    // was cut short (a proxy or connection closed early with a clean end): never a short success.
    if parser.bytes() > 0 && last_byte != b'\n' {
        return Err(Error::decode(
            parser.line(),
            0,
            "the CSV ends in the middle of a record: the response was cut short",
        ));
    }
    let Some(m) = matched else {
        return Err(Error::decode(
            1,
            0,
            "the export answered with an empty body: no CSV header",
        ));
    };
    progress.phase = Phase::Done;
    sink.progress(progress);
    Ok(QueryOutcome {
        header: parser.header().map(<[String]>::to_vec).unwrap_or_default(),
        missing: m.missing,
        unexpected: m.unexpected,
        rows: parser.rows(),
        bytes: parser.bytes(),
        errors: parser.take_errors(),
        calls_left: calls_left(store, t.now_ms()),
    })
}
