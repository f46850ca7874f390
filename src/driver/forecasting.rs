//! The Forecasting Query run (issue 4): every page of a query, fetched by following the
//! pagination headers with a bounded number in flight, checked, and handed over in page order.
//! What to fetch and when is the [`PagePlanner`]'s decision; this loop only moves pages.

use super::inflight::InFlight;
use super::{retry_after, send, Response, Session};
use crate::core::http::find_header;
use crate::core::policy::{classify, Stage, Verdict};
use crate::core::retry::Backoff;
use crate::error::{Error, Result};
use crate::providers::backstory::forecasting::pages::bad_answer;
use crate::providers::backstory::forecasting::table::parse_page;
use crate::providers::backstory::forecasting::{
    method_after_refusal, ForecastQuery, PageHeaders, PagePlanner, QueryMethod, Record,
    TotalChange, DEFAULT_PATH,
};
use crate::transport::{Body, Transport};
use std::cell::Cell;

/// An edge worker may hold 6 connections at once; more than that would only queue.
pub const MAX_CONCURRENCY: u32 = 6;
pub const DEFAULT_CONCURRENCY: u32 = 4;
/// A page holds at most 1000 records; a body larger than this is not a page.
const PAGE_BODY_LIMIT: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastOptions {
    /// The request path (the vendor documents none; see [`DEFAULT_PATH`]).
    pub path: String,
    /// Pages in flight or waiting for their turn, at most (1..=[`MAX_CONCURRENCY`]).
    pub concurrency: u32,
    /// Stop after this many pages (a preview); the outcome then says it is not complete.
    pub max_pages: Option<u32>,
}

impl Default for ForecastOptions {
    fn default() -> Self {
        ForecastOptions {
            path: DEFAULT_PATH.to_string(),
            concurrency: DEFAULT_CONCURRENCY,
            max_pages: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForecastPage {
    pub number: u32,
    pub status: u16,
    pub headers: PageHeaders,
    pub records: Vec<Record>,
    /// The body as sent (a JSON array), for callers that parse it their own way.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForecastProgress {
    pub pages: u32,
    pub records: u64,
    pub page_last: Option<u32>,
    pub total_count: Option<u64>,
    pub in_flight: u32,
}

/// Receives the pages of a run in order.
#[allow(async_fn_in_trait)]
pub trait ForecastSink {
    async fn page(&mut self, page: ForecastPage) -> Result<()>;
    /// The total changed between two answers: records may repeat or be missing across pages.
    fn total_changed(&mut self, change: TotalChange);
    fn progress(&mut self, p: ForecastProgress);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastOutcome {
    pub pages: u32,
    pub records: u64,
    /// From the newest answer.
    pub total_count: u64,
    pub page_last: u32,
    pub total_changes: Vec<TotalChange>,
    /// Every page up to the last was handed over (false when `max_pages` stopped the run).
    pub complete: bool,
}

/// Reads a whole body, failing (not truncating) past `limit`.
async fn read_page_body<B: Body>(body: &mut B, limit: usize, status: u16) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = body.chunk().await? {
        if out.len() + c.len() > limit {
            return Err(bad_answer(
                status,
                format!("a page body is larger than {} MiB", limit >> 20),
            ));
        }
        out.extend_from_slice(&c);
    }
    Ok(out)
}

/// A success that is not a page: an error object where the array should be (the vendor's error
/// is the useful message), else what broke in the headers.
fn not_a_page(status: u16, body: &[u8], header_error: Error) -> Error {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return bad_answer(status, crate::error::excerpt(body));
    }
    header_error
}

/// Reads an answer's headers and records; `Err((error, cut_short))`.
fn read_page(
    page: u32,
    per_page: u32,
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> std::result::Result<ForecastPage, (Error, bool)> {
    // An object where the page's array belongs (a 200 carrying an error) is reported as the
    // body it is, before anything is read from it.
    let no_total = find_header(headers, "X-Total-Count").is_none();
    if no_total && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let e = bad_answer(status, "no X-Total-Count header".into());
        return Err((not_a_page(status, &body, e), false));
    }
    let records = parse_page(&body, &format!("page {page}"))?;
    let page_headers = PageHeaders::read(headers, status, page, per_page, records.len())
        .map_err(|e| (not_a_page(status, &body, e), false))?;
    Ok(ForecastPage {
        number: page,
        status,
        headers: page_headers,
        records,
        body,
    })
}

/// One page, checked: the request (retried by `send` on transient statuses and network
/// failures), fetched again from the start if its body breaks off or stops early (the query only
/// reads, so repeating it is safe).
async fn fetch_page<T: Transport>(
    t: &T,
    session: &Session,
    query: &ForecastQuery,
    path: &str,
    page: u32,
    method: &Cell<QueryMethod>,
) -> Result<ForecastPage> {
    let seed = (t.now_ms() as u64) ^ u64::from(page).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut backoff = Backoff::new(session.retry, seed);
    loop {
        let used = method.get();
        let req = query.page_request_with(&session.base_url, path, page, used);
        let (status, headers, read) = match send(t, session, req, &mut || {}).await? {
            Response::Buffered(r) if r.is_success() => (r.status, r.headers, Ok(r.body)),
            Response::Buffered(r) if method_after_refusal(used, r.status).is_some() => {
                // Shared by every page of the run: the first page finds out for all.
                if let Some(m) = method_after_refusal(used, r.status) {
                    method.set(m);
                }
                continue;
            }
            Response::Buffered(r) => {
                return Err(Error::from_status(
                    r.status,
                    &r.body,
                    retry_after(&r.headers, t.now_ms()),
                ))
            }
            Response::Streaming(head, mut body) => {
                let read = read_page_body(&mut body, PAGE_BODY_LIMIT, head.status).await;
                (head.status, head.headers, read)
            }
        };
        let (err, retry_as) =
            match read.map(|body| read_page(page, query.per_page, status, &headers, body)) {
                Ok(Ok(p)) => return Ok(p),
                Err(e) => (e.clone(), e),
                Ok(Err((e, true))) => (e, Error::network(format!("page {page} was cut short"))),
                Ok(Err((e, false))) => return Err(e),
            };
        // A page read is repeatable (it spends no allowance).
        match classify(&retry_as, Stage::Request { idempotent: true }, &mut backoff) {
            Verdict::Retry { delay_ms } => t.sleep(delay_ms as f64).await?,
            _ => return Err(err),
        }
    }
}

/// Runs a query to its last page (or `max_pages`), handing pages to `sink` in order.
pub async fn run_forecasts<T: Transport, S: ForecastSink>(
    t: &T,
    session: &Session,
    query: &ForecastQuery,
    opts: &ForecastOptions,
    sink: &mut S,
) -> Result<ForecastOutcome> {
    let window = opts.concurrency.clamp(1, MAX_CONCURRENCY);
    let mut planner = PagePlanner::new(query.per_page, query.first_page(), window, opts.max_pages);
    // Declared before the pages in flight, which borrow it.
    let method = Cell::new(QueryMethod::Post);
    let mut inflight = InFlight::new();
    // Answers in, waiting for their turn: at most the window, so a list (see PagePlanner's).
    let mut waiting: Vec<(u32, ForecastPage)> = Vec::new();
    let mut progress = ForecastProgress {
        pages: 0,
        records: 0,
        page_last: None,
        total_count: None,
        in_flight: 0,
    };
    loop {
        t.check_aborted()?;
        let ready = planner.next_ready();
        let mut started = false;
        while let Some(p) = planner.poll_fetch() {
            inflight.push(p, fetch_page(t, session, query, &opts.path, p, &method));
            started = true;
        }
        if started {
            inflight.kick().await;
        }
        progress.in_flight = inflight.len() as u32;
        if let Some((p, deliver)) = ready {
            let at = waiting
                .iter()
                .position(|w| w.0 == p)
                .ok_or_else(|| Error::network(format!("internal: page {p} went missing")))?;
            let (_, page) = waiting.swap_remove(at);
            if deliver {
                progress.pages += 1;
                progress.records += page.records.len() as u64;
                sink.page(page).await?;
                sink.progress(progress);
            }
            continue;
        }
        if planner.is_done() {
            break;
        }
        let Some((p, fetched)) = inflight.next().await else {
            return Err(Error::network(
                "internal: no page in flight and the run is not done",
            ));
        };
        let mut page = fetched?;
        let accepted = planner.handle_page(p, page.headers, page.records.len(), page.status)?;
        // As the plan read them (a page size the vendor capped without X-Limit is applied).
        page.headers = accepted.headers;
        if let Some(change) = accepted.change {
            sink.total_changed(change);
        }
        waiting.push((p, page));
        progress.page_last = planner.page_last();
        progress.total_count = planner.total();
        progress.in_flight = inflight.len() as u32;
        sink.progress(progress);
    }
    Ok(ForecastOutcome {
        pages: progress.pages,
        records: progress.records,
        // No X-Total-Count from the vendor: the records there were.
        total_count: planner.total().unwrap_or(progress.records),
        page_last: planner.page_last().unwrap_or(1),
        total_changes: planner.changes().to_vec(),
        complete: !planner.capped(),
    })
}
