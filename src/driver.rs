//! The loops: run core machines over a [`Transport`]. Everything that decides lives in `core` and
//! `providers`; this module only moves bytes and time between them and the transport.

use crate::core::auth::{AuthedCall, ClientCredentials, TokenCache};
use crate::core::http::{join_url, HttpRequest, HttpResponse};
use crate::core::quota::DailyQuota;
use crate::core::retry::{parse_retry_after, Backoff, RetryPolicy};
use crate::core::Step;
use crate::error::{Error, Result};
use crate::parse::csv::{CsvOptions, CsvParser, RowBatch, RowError};
use crate::providers::backstory::catalog::label_of;
use crate::providers::backstory::query::{match_header, Column, Query, DAILY_LIMIT, TOKEN_PATH};
use crate::transport::{Body, ResponseHead, Transport};
use std::cell::RefCell;

/// Error bodies and small JSON answers are read whole, up to this size.
const SMALL_BODY_LIMIT: usize = 1 << 20;

/// A Backstory login: credentials, where to send them, and the cached token. One per client.
#[derive(Debug)]
pub struct Session {
    pub base_url: String,
    pub creds: ClientCredentials,
    pub tokens: RefCell<TokenCache>,
    pub retry: RetryPolicy,
}

impl Session {
    pub fn new(base_url: String, creds: ClientCredentials) -> Self {
        Session {
            base_url,
            creds,
            tokens: RefCell::new(TokenCache::new()),
            retry: RetryPolicy::default(),
        }
    }

    fn token_url(&self) -> String {
        join_url(&self.base_url, TOKEN_PATH)
    }
}

pub enum Response<B> {
    Buffered(HttpResponse),
    /// A success whose body the caller asked to stream.
    Streaming(ResponseHead, B),
}

pub async fn read_all<B: Body>(body: &mut B, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = body.chunk().await? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&c[..c.len().min(room)]);
    }
    Ok(out)
}

fn retry_after(headers: &[(String, String)], now_ms: f64) -> Option<u64> {
    crate::core::http::find_header(headers, "retry-after")
        .and_then(|v| parse_retry_after(v, now_ms))
}

/// Sends one request: adds the bearer token (exchanging credentials when needed, once more after
/// a 401 on a cached token), retries transient failures of idempotent requests with backoff, and
/// calls `on_main_send` each time the request itself (not a token exchange) goes out.
pub async fn send<T: Transport>(
    t: &T,
    session: &Session,
    req: HttpRequest,
    on_main_send: &mut dyn FnMut(),
) -> Result<Response<T::Body>> {
    let token_url = session.token_url();
    let mut call = AuthedCall::new(req);
    let seed = (t.now_ms() as u64) ^ 0x9E37_79B9_7F4A_7C15;
    let mut backoff = Backoff::new(session.retry, seed);
    loop {
        t.check_aborted()?;
        let step = call.poll(
            &session.creds,
            &token_url,
            &session.tokens.borrow(),
            t.now_ms(),
        );
        let Step::Send(r) = step else {
            return Err(Error::network(
                "internal: auth step did not produce a request",
            ));
        };
        let is_main = call.awaiting_main();
        if is_main {
            on_main_send();
        }
        let (head, mut body) = match t.send(&r).await {
            Ok(x) => x,
            Err(e) => match (r.idempotent, backoff.next_delay(&e)) {
                (true, Some(d)) => {
                    t.sleep(d as f64).await?;
                    continue;
                }
                _ => return Err(e),
            },
        };
        if is_main && r.stream_body && head.is_success() {
            return Ok(Response::Streaming(head, body));
        }
        let bytes = match read_all(&mut body, SMALL_BODY_LIMIT).await {
            Ok(b) => b,
            Err(e) => match (r.idempotent, backoff.next_delay(&e)) {
                (true, Some(d)) => {
                    t.sleep(d as f64).await?;
                    continue;
                }
                _ => return Err(e),
            },
        };
        let now = t.now_ms();
        let resp = HttpResponse {
            status: head.status,
            headers: head.headers,
            body: bytes,
        };
        if r.idempotent && !resp.is_success() && resp.status != 401 {
            let err = Error::from_status(resp.status, &resp.body, retry_after(&resp.headers, now));
            if let Some(d) = backoff.next_delay(&err) {
                t.sleep(d as f64).await?;
                continue;
            }
        }
        if let Some(done) = call.handle(&mut session.tokens.borrow_mut(), resp, now)? {
            return Ok(Response::Buffered(done));
        }
    }
}

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
    if session.tokens.borrow().valid(t.now_ms()).is_none() {
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
        ..CsvOptions::default()
    });
    let mut header_done = false;
    let mut matched = None;
    progress.phase = Phase::Download;
    loop {
        t.check_aborted()?;
        let chunk = body.chunk().await?;
        match &chunk {
            Some(c) => {
                sink.raw(c);
                parser.push(c)?;
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
