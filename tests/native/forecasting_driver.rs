//! The Forecasting Query run over a simulated vendor: answers computed from the request's `page`
//! and `per_page` like the real API, each answer delayed by a few polls so pages finish out of
//! order, with switches for the data changing under the run and for broken answers.

use super::script::{block_on, Delay};
use exportkit::core::auth::ClientCredentials;
use exportkit::core::http::HttpRequest;
use exportkit::driver::forecasting::{
    run_forecasts, ForecastOptions, ForecastOutcome, ForecastPage, ForecastProgress, ForecastSink,
};
use exportkit::driver::Session;
use exportkit::providers::backstory::forecasting::{ForecastQuery, TotalChange};
use exportkit::transport::{Body, ResponseHead, Transport};
use exportkit::{Error, ErrorKind, Result};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};

struct FakeBody {
    chunks: Vec<Vec<u8>>,
    cut_short: bool,
}

impl Body for FakeBody {
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.chunks.is_empty() {
            return if self.cut_short {
                Err(Error::network("connection reset"))
            } else {
                Ok(None)
            };
        }
        Ok(Some(self.chunks.remove(0)))
    }
}

/// What a test may do to the answer for a page: `(page, attempt, status, headers, body, cut)`.
type Tweak = dyn Fn(u32, u32, &mut u16, &mut Vec<(String, String)>, &mut Vec<u8>, &mut bool);
/// Called after each page is answered, to change the data under the run.
type AfterPage = dyn Fn(u32, &mut Vec<Value>);

struct Vendor {
    data: RefCell<Vec<Value>>,
    after_page: RefCell<Option<Box<AfterPage>>>,
    tweak: RefCell<Option<Box<Tweak>>>,
    sent: RefCell<Vec<HttpRequest>>,
    attempts: RefCell<std::collections::HashMap<u32, u32>>,
    in_flight: Cell<u32>,
    max_in_flight: Cell<u32>,
    now: Cell<f64>,
    abort_after_pages: Cell<Option<usize>>,
    /// Takes the query as a GET with a query string; a POST gets 405.
    get_only: Cell<bool>,
}

fn record(i: usize) -> Value {
    // Managers (every fifth) carry forecast_call; others do not, so records differ in fields.
    let mut fields = json!({"quota": {"value": 1000 * i}, "commit": {"value": i as f64 + 0.5}});
    if i % 5 == 0 {
        fields["forecast_call"] = json!({"value": i});
    }
    json!({
        "hierarchy_node_id": 10000 + i, "hierarchy_node_ownership_external_id": format!("0MI{i:012}"),
        "hierarchy_node_name": format!("Node, \"{i}\""), "cadence_period_id": "c1",
        "submitted_by": if i % 3 == 0 { Value::Null } else { json!(400000 + i) },
        "submitted_at": Value::Null, "notes": Value::Null, "fields": fields,
    })
}

impl Vendor {
    fn new(n: usize) -> Vendor {
        Vendor {
            data: RefCell::new((0..n).map(record).collect()),
            after_page: RefCell::new(None),
            tweak: RefCell::new(None),
            sent: RefCell::new(Vec::new()),
            attempts: RefCell::new(Default::default()),
            in_flight: Cell::new(0),
            max_in_flight: Cell::new(0),
            now: Cell::new(1_700_000_000_000.0),
            abort_after_pages: Cell::new(None),
            get_only: Cell::new(false),
        }
    }

    fn pages_sent(&self) -> Vec<u32> {
        self.sent
            .borrow()
            .iter()
            .filter(|r| r.url.ends_with("/query") || r.url.contains("/custom/"))
            .map(|r| {
                let v: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
                v["page"].as_u64().unwrap() as u32
            })
            .collect()
    }

    fn answer(&self, req: &HttpRequest) -> (u16, Vec<(String, String)>, Vec<u8>, bool) {
        if req.url.ends_with("/v3/auth/tokens") {
            let body = r#"{"access_token":"tok","token_type":"bearer","expires_in":7200}"#;
            return (200, vec![], body.as_bytes().to_vec(), false);
        }
        assert_eq!(req.header("authorization"), Some("Bearer tok"));
        let is_get = req.method.as_str() == "GET";
        if self.get_only.get() != is_get {
            return (
                405,
                vec![],
                br#"{"error":"method_not_allowed"}"#.to_vec(),
                false,
            );
        }
        let p: Value = if is_get {
            let q = req.url.split_once('?').map_or("", |x| x.1);
            let mut m = serde_json::Map::new();
            for pair in q.split('&') {
                let (k, v) = pair.split_once('=').unwrap();
                m.insert(k.to_string(), serde_json::from_str(v).unwrap_or(json!(v)));
            }
            Value::Object(m)
        } else {
            serde_json::from_slice(req.body.as_deref().unwrap()).unwrap()
        };
        let (page, per_page) = (
            p["page"].as_u64().unwrap() as usize,
            p["per_page"].as_u64().unwrap() as usize,
        );
        let attempt = {
            let mut a = self.attempts.borrow_mut();
            let n = a.entry(page as u32).or_insert(0);
            *n += 1;
            *n
        };
        let data = self.data.borrow().clone();
        let total = data.len();
        let slice: Vec<Value> = data
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        let mut headers = vec![
            ("X-Total-Count".to_string(), total.to_string()),
            (
                "X-Page-Last".to_string(),
                total.div_ceil(per_page).max(1).to_string(),
            ),
            ("X-Limit".to_string(), per_page.to_string()),
            ("X-Page".to_string(), page.to_string()),
        ];
        let mut status = 200;
        let mut body = serde_json::to_vec(&slice).unwrap();
        let mut cut = false;
        if let Some(t) = self.tweak.borrow().as_ref() {
            t(
                page as u32,
                attempt,
                &mut status,
                &mut headers,
                &mut body,
                &mut cut,
            );
        }
        if let Some(f) = self.after_page.borrow().as_ref() {
            f(page as u32, &mut self.data.borrow_mut());
        }
        (status, headers, body, cut)
    }
}

impl Transport for Vendor {
    type Body = FakeBody;
    async fn send(&self, req: &HttpRequest) -> Result<(ResponseHead, FakeBody)> {
        self.sent.borrow_mut().push(req.clone());
        let (status, headers, body, cut_short) = self.answer(req);
        let page = serde_json::from_slice::<Value>(req.body.as_deref().unwrap_or(b"{}"))
            .ok()
            .and_then(|v| v["page"].as_u64())
            .or_else(|| {
                let q = req.url.split_once('?')?.1;
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("page=")?.parse().ok())
            })
            .unwrap_or(0) as u32;
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight
            .set(self.max_in_flight.get().max(self.in_flight.get()));
        // Odd pages answer slowly, so later pages often finish first.
        Delay(if page % 2 == 1 { 40 } else { 3 + page % 7 }).await;
        self.in_flight.set(self.in_flight.get() - 1);
        let chunks = body.chunks(97).map(<[u8]>::to_vec).collect();
        Ok((
            ResponseHead { status, headers },
            FakeBody { chunks, cut_short },
        ))
    }
    async fn sleep(&self, ms: f64) -> Result<()> {
        self.now.set(self.now.get() + ms);
        Ok(())
    }
    fn now_ms(&self) -> f64 {
        self.now.get()
    }
    fn check_aborted(&self) -> Result<()> {
        match self.abort_after_pages.get() {
            Some(n) if self.pages_sent().len() >= n => Err(Error::new(ErrorKind::Aborted)),
            _ => Ok(()),
        }
    }
}

#[derive(Default)]
struct Collect {
    pages: Vec<ForecastPage>,
    changes: Vec<TotalChange>,
    progress: Vec<ForecastProgress>,
    fail_on_page: Option<u32>,
}

impl ForecastSink for Collect {
    async fn page(&mut self, page: ForecastPage) -> Result<()> {
        if self.fail_on_page == Some(page.number) {
            return Err(Error::invalid("callback", "threw: consumer gave up"));
        }
        // A consumer that takes its time: in-flight pages keep going meanwhile.
        Delay(5).await;
        self.pages.push(page);
        Ok(())
    }
    fn total_changed(&mut self, change: TotalChange) {
        self.changes.push(change);
    }
    fn progress(&mut self, p: ForecastProgress) {
        self.progress.push(p);
    }
}

impl Collect {
    fn records(&self) -> Vec<Value> {
        self.pages
            .iter()
            .flat_map(|p| serde_json::from_slice::<Vec<Value>>(&p.body).unwrap())
            .collect()
    }
}

fn session() -> Session {
    Session::oauth(
        "https://api.test".into(),
        ClientCredentials::new("cid", "csecret").unwrap(),
    )
}

fn query(v: Value) -> ForecastQuery {
    ForecastQuery::from_value(&v).unwrap()
}

fn run(
    vendor: &Vendor,
    q: &ForecastQuery,
    opts: &ForecastOptions,
    sink: &mut Collect,
) -> Result<ForecastOutcome> {
    let s = session();
    block_on(run_forecasts(vendor, &s, q, opts, sink))
}

/// The run of type 1 at ten records a page, as most cases ask for it.
fn run_ten(vendor: &Vendor, opts: &ForecastOptions, sink: &mut Collect) -> Result<ForecastOutcome> {
    run(
        vendor,
        &query(json!({"forecast_type_id": 1, "per_page": 10})),
        opts,
        sink,
    )
}

#[test]
fn every_page_in_order_with_bounded_overlap() {
    for concurrency in [1, 2, 4, 6] {
        let vendor = Vendor::new(103);
        let mut sink = Collect::default();
        let opts = ForecastOptions {
            concurrency,
            ..Default::default()
        };
        let out = run(
            &vendor,
            &query(json!({"forecast_type_id": 10089, "per_page": 10})),
            &opts,
            &mut sink,
        )
        .unwrap();
        assert_eq!(
            sink.records(),
            *vendor.data.borrow(),
            "every record once, in order"
        );
        assert_eq!(
            sink.pages.iter().map(|p| p.number).collect::<Vec<_>>(),
            (1..=11).collect::<Vec<_>>()
        );
        assert_eq!(
            sink.pages.iter().map(|p| p.records.len()).sum::<usize>(),
            103
        );
        assert_eq!(
            out,
            ForecastOutcome {
                pages: 11,
                records: 103,
                total_count: 103,
                page_last: 11,
                total_changes: vec![],
                complete: true
            }
        );
        let sent = vendor.pages_sent();
        assert_eq!(sent[0], 1, "the first page goes out alone");
        let mut sorted = sent.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (1..=11).collect::<Vec<_>>(),
            "each page requested once"
        );
        assert!(
            vendor.max_in_flight.get() <= concurrency,
            "at most {concurrency} in flight"
        );
        if concurrency > 1 {
            assert!(
                vendor.max_in_flight.get() > 1,
                "pages overlapped at concurrency {concurrency}"
            );
        }
        assert_eq!(
            vendor
                .sent
                .borrow()
                .iter()
                .filter(|r| r.url.ends_with("/tokens"))
                .count(),
            1,
            "one token for the run"
        );
        let last = sink.progress.last().unwrap();
        assert_eq!(
            (last.pages, last.records, last.page_last, last.total_count),
            (11, 103, Some(11), Some(103))
        );
    }
}

#[test]
fn the_body_is_the_wire_form_and_the_path_can_be_overridden() {
    let vendor = Vendor::new(3);
    let mut sink = Collect::default();
    let q = query(
        json!({"forecastTypeId": 10091, "perPage": 1000, "fiscalPeriodExternalId": "0261X", "hierarchyNodeId": 10002,
        "includeDescendants": true, "sort": "hierarchy_level", "timeframe": {"snapshots": "all", "since": 1, "until": 2}}),
    );
    let opts = ForecastOptions {
        path: "/custom/forecasts/query".into(),
        ..Default::default()
    };
    run(&vendor, &q, &opts, &mut sink).unwrap();
    let sent = vendor.sent.borrow();
    let req = sent.last().unwrap();
    assert_eq!(req.url, "https://api.test/custom/forecasts/query");
    assert_eq!(req.method.as_str(), "POST");
    let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"forecast_type_id": 10091, "per_page": 1000, "page": 1, "fiscal_period_external_id": "0261X", "hierarchy_node_id": 10002,
            "include_descendants": true, "sort": "hierarchy_level", "timeframe": {"snapshots": "all", "since": 1, "until": 2}})
    );
    assert_eq!(sink.records().len(), 3);
}

#[test]
fn a_total_that_changes_is_reported_and_followed() {
    // After page 2 is answered, 25 more records appear (a new snapshot was taken).
    let vendor = Vendor::new(40);
    *vendor.after_page.borrow_mut() = Some(Box::new(|page, data| {
        if page == 2 && data.len() == 40 {
            data.extend((1000..1025).map(record));
        }
    }));
    let mut sink = Collect::default();
    let opts = ForecastOptions {
        concurrency: 1,
        ..Default::default()
    };
    let out = run_ten(&vendor, &opts, &mut sink).unwrap();
    assert_eq!(
        sink.changes,
        vec![TotalChange {
            page: 3,
            previous: 40,
            current: 65
        }]
    );
    assert_eq!(out.total_changes, sink.changes);
    assert_eq!(
        (out.total_count, out.page_last, out.pages),
        (65, 7, 7),
        "the run followed the new last page"
    );
    assert_eq!(sink.records(), *vendor.data.borrow());
    let totals: Vec<u64> = sink.pages.iter().map(|p| p.headers.total_count).collect();
    assert_eq!(
        totals,
        [40, 40, 65, 65, 65, 65, 65],
        "each page carries its own total"
    );

    // The data shrinks while pages are in flight: pages past the new end come back empty and
    // are not handed over; the change is reported.
    let vendor = Vendor::new(60);
    *vendor.after_page.borrow_mut() = Some(Box::new(|page, data| {
        if page == 1 {
            data.truncate(15);
        }
    }));
    let mut sink = Collect::default();
    let out = run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap();
    assert_eq!(
        sink.pages.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        sink.changes.first().map(|c| (c.previous, c.current)),
        Some((60, 15))
    );
    assert_eq!(out.records, 15);
    assert_eq!(out.total_count, 15);
}

#[test]
fn a_start_page_and_a_page_cap() {
    let vendor = Vendor::new(95);
    let mut sink = Collect::default();
    let opts = ForecastOptions {
        max_pages: Some(3),
        ..Default::default()
    };
    let out = run(
        &vendor,
        &query(json!({"forecast_type_id": 1, "per_page": 10, "page": 4})),
        &opts,
        &mut sink,
    )
    .unwrap();
    assert_eq!(
        sink.pages.iter().map(|p| p.number).collect::<Vec<_>>(),
        [4, 5, 6]
    );
    assert_eq!(sink.records(), vendor.data.borrow()[30..60].to_vec());
    assert!(!out.complete);
    assert_eq!((out.pages, out.page_last, out.total_count), (3, 10, 95));
    // An empty result is one page and done.
    let vendor = Vendor::new(0);
    let mut sink = Collect::default();
    let out = run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap();
    assert_eq!(
        (out.pages, out.records, out.page_last, out.complete),
        (1, 0, 1, true)
    );
}

#[test]
fn a_body_cut_short_or_a_503_is_fetched_again() {
    let vendor = Vendor::new(50);
    *vendor.tweak.borrow_mut() = Some(Box::new(|page, attempt, status, _h, body, cut| {
        if page == 3 && attempt == 1 {
            body.truncate(body.len() / 2);
            *cut = true;
        }
        if page == 4 && attempt <= 2 {
            *status = 503;
            *body = br#"{"error":"unavailable"}"#.to_vec();
        }
        // A clean end in the middle of the array: a short "success".
        if page == 5 && attempt == 1 {
            body.truncate(body.len() - 20);
        }
    }));
    let mut sink = Collect::default();
    run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap();
    assert_eq!(sink.records(), *vendor.data.borrow());
    assert_eq!(vendor.attempts.borrow()[&3], 2);
    assert_eq!(vendor.attempts.borrow()[&4], 3);
    assert_eq!(vendor.attempts.borrow()[&5], 2);

    // Cut short every time: the retry budget runs out and the error says where the body stopped.
    let (e, _) = failing(Box::new(|page, _, _, _, body, _| {
        if page == 2 {
            body.truncate(body.len() / 2);
        }
    }));
    assert_eq!(e.code(), "E_DECODE");
    assert!(e.to_string().contains("page 2: EOF"), "{e}");
}

/// Every reading of the page headers (issue 15 §3): all four, `X-Total-Count` only, `X-Page-Last`
/// only, or none (then a short or empty page is the last): the same records, in order, once.
#[test]
fn every_reading_of_the_page_headers_gives_every_record_once() {
    let keeps: [&[&str]; 4] = [
        &["X-Total-Count", "X-Page-Last", "X-Limit", "X-Page"],
        &["X-Total-Count"],
        &["X-Page-Last"],
        &[],
    ];
    for total in [0usize, 35, 50] {
        for keep in keeps {
            let vendor = Vendor::new(total);
            let kept: Vec<String> = keep.iter().map(|k| k.to_string()).collect();
            *vendor.tweak.borrow_mut() = Some(Box::new(move |_, _, _, h, _, _| {
                h.retain(|(k, _)| {
                    !k.to_ascii_lowercase().starts_with("x-")
                        || kept.iter().any(|w| w.eq_ignore_ascii_case(k))
                });
            }));
            let mut sink = Collect::default();
            run_ten(&vendor, &ForecastOptions::default(), &mut sink)
                .unwrap_or_else(|e| panic!("{total} {keep:?}: {e}"));
            assert_eq!(sink.records(), *vendor.data.borrow(), "{total} {keep:?}");
        }
    }
}

/// The path and method are not in the public page (issue 15 §3): a vendor that answers the POST
/// with 405 is asked by GET, every page, and gives the same records.
#[test]
fn a_get_only_endpoint_is_found_by_its_405() {
    let vendor = Vendor::new(35);
    vendor.get_only.set(true);
    let mut sink = Collect::default();
    run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap();
    assert_eq!(sink.records(), *vendor.data.borrow());
    let methods: Vec<String> = vendor
        .sent
        .borrow()
        .iter()
        .filter(|r| !r.url.ends_with("/tokens"))
        .map(|r| r.method.as_str().to_string())
        .collect();
    assert_eq!(
        methods,
        ["POST", "GET", "GET", "GET", "GET"],
        "one refused POST, then GETs"
    );
}

fn failing(tweak: Box<Tweak>) -> (Error, Collect) {
    let vendor = Vendor::new(50);
    *vendor.tweak.borrow_mut() = Some(tweak);
    let mut sink = Collect::default();
    let e = run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap_err();
    (e, sink)
}

fn set_header(h: &mut [(String, String)], name: &str, v: &str) {
    for (k, val) in h.iter_mut() {
        if k == name {
            *val = v.to_string();
        }
    }
}

#[test]
fn broken_answers_are_errors_that_say_what_broke() {
    let (e, sink) = failing(Box::new(|page, _, _, h, _, _| {
        if page == 2 {
            set_header(h, "X-Page-Last", "five");
        }
    }));
    assert_eq!(e.code(), "E_HTTP");
    assert!(
        e.to_string()
            .contains("X-Page-Last header is not a whole number"),
        "{e}"
    );
    assert_eq!(
        sink.pages.len(),
        1,
        "pages before the broken one were handed over"
    );

    // Headers are not all a vendor sends (issue 15 §3): a page may lack `X-Total-Count` only if
    // its records still agree with what the other headers say.
    let (e, _) = failing(Box::new(|page, _, _, h, body, _| {
        if page == 1 {
            h.retain(|(k, _)| k != "X-Total-Count");
            *body = b"[]".to_vec();
        }
    }));
    assert!(e.to_string().contains("page 1 holds 0 records"), "{e}");

    let (e, _) = failing(Box::new(|page, _, _, h, _, _| {
        if page == 3 {
            set_header(h, "X-Page", "2");
        }
    }));
    assert!(
        e.to_string()
            .contains("asked for page 3, the answer says X-Page 2"),
        "{e}"
    );

    let (e, _) = failing(Box::new(|page, _, _, _, body, _| {
        if page == 2 {
            let mut v: Vec<Value> = serde_json::from_slice(body).unwrap();
            v.pop();
            *body = serde_json::to_vec(&v).unwrap();
        }
    }));
    assert!(e.to_string().contains("page 2 holds 9 records"), "{e}");

    let (e, _) = failing(Box::new(|page, _, _, _, body, _| {
        if page == 2 {
            *body = b"[{\"fields\": {\"quota\": 5}}]".to_vec();
        }
    }));
    assert_eq!(e.code(), "E_DECODE");
    assert!(e.to_string().contains("page 2"), "{e}");
    assert!(
        matches!(e.kind(), ErrorKind::Decode { line: 1, column, .. } if *column > 0),
        "{e:?}"
    );

    // A 200 holding an error object and no pagination headers: the vendor's words are the error.
    let (e, _) = failing(Box::new(|page, _, _, h, body, _| {
        if page == 2 {
            h.clear();
            *body = br#"{"error":"internal","message":"forecast service unavailable"}"#.to_vec();
        }
    }));
    assert_eq!((e.code(), e.status()), ("E_HTTP", Some(200)));
    assert!(
        e.to_string().contains("forecast service unavailable"),
        "{e}"
    );

    let (e, _) = failing(Box::new(|page, _, status, _, body, _| {
        if page == 1 {
            *status = 404;
            *body = br#"{"error":"not_found","message":"forecast type 1 not found","field":"forecast_type_id"}"#.to_vec();
        }
    }));
    assert_eq!((e.code(), e.status()), ("E_HTTP", Some(404)));
    assert!(e.to_string().contains("forecast_type_id"), "{e}");
}

#[test]
fn a_consumer_error_or_an_abort_stops_the_run() {
    let vendor = Vendor::new(100);
    let mut sink = Collect {
        fail_on_page: Some(3),
        ..Default::default()
    };
    let e = run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap_err();
    assert_eq!(e.field(), Some("callback"));
    assert_eq!(sink.pages.len(), 2);
    // Page 3 was taken for handing over, so the window of 4 reaches page 7 at most.
    let sent = vendor.pages_sent().len();
    assert!(
        sent <= 3 + 4,
        "no more than the window past the consumer: {sent}"
    );

    let vendor = Vendor::new(100);
    vendor.abort_after_pages.set(Some(3));
    let mut sink = Collect::default();
    let e = run_ten(&vendor, &ForecastOptions::default(), &mut sink).unwrap_err();
    assert_eq!(e.code(), "E_ABORTED");
    assert!(vendor.pages_sent().len() < 10);
}
