//! The Userpilot driver over a routed fake transport: replies are queued per URL, so files
//! fetched concurrently get their own answers whatever the order of requests, and the fake
//! clock records every sleep.

use super::script::block_on;
use exportkit::core::auth::Secret;
use exportkit::core::http::HttpRequest;
use exportkit::driver::userpilot::{
    self as up, FileRef, GunzipBody, JsonBatch, PageSink, RowsCheckpoint, RowsOptions, RowsOutcome,
    RowsProgress, RowsSink, StartEvent, StartOptions, WaitOptions,
};
use exportkit::driver::Session;
use exportkit::parse::csv::RowBatch;
use exportkit::providers::userpilot::exports::{ExportParams, Format};
use exportkit::providers::userpilot::lookups::{Page, PageRequest};
use exportkit::transport::{Body, ResponseHead, Transport};
use exportkit::{Error, ErrorKind, Result};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

const BASE: &str = "https://appex.test";
const KEY: &str = "up-key-SECRET";

#[derive(Clone, Copy, PartialEq)]
enum End {
    Clean,
    /// A connection reset.
    Cut,
    /// Nothing more, ever.
    Hang,
}

#[derive(Clone)]
enum Reply {
    Ok {
        status: u16,
        chunks: Vec<Vec<u8>>,
        end: End,
    },
    /// 200 with `Content-Length: 0`: a zero-byte object (an empty partition, issue 15 §3).
    ZeroBytes,
}

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Ok {
        status,
        chunks: vec![body.into()],
        end: End::Clean,
    }
}

fn chunked(body: &[u8], n: usize) -> Reply {
    Reply::Ok {
        status: 200,
        chunks: body.chunks(n.max(1)).map(<[u8]>::to_vec).collect(),
        end: End::Clean,
    }
}

/// The first `keep` chunks, then a connection reset.
fn cut_after(body: &[u8], n: usize, keep: usize) -> Reply {
    Reply::Ok {
        status: 200,
        chunks: body.chunks(n).take(keep).map(<[u8]>::to_vec).collect(),
        end: End::Cut,
    }
}

/// The first `keep` chunks, then the connection stays open and silent.
fn hang_after(body: &[u8], n: usize, keep: usize) -> Reply {
    Reply::Ok {
        status: 200,
        chunks: body.chunks(n).take(keep).map(<[u8]>::to_vec).collect(),
        end: End::Hang,
    }
}

#[derive(Default)]
struct Routes {
    replies: RefCell<HashMap<String, VecDeque<Reply>>>,
    sent: RefCell<Vec<HttpRequest>>,
    now: Cell<f64>,
    slept: RefCell<Vec<f64>>,
}

impl Routes {
    fn new() -> Routes {
        let r = Routes::default();
        r.now.set(1_700_000_000_000.0);
        r
    }
    fn on(&self, url: &str, reply: Reply) -> &Self {
        self.replies
            .borrow_mut()
            .entry(url.to_string())
            .or_default()
            .push_back(reply);
        self
    }
    fn urls(&self) -> Vec<String> {
        self.sent.borrow().iter().map(|r| r.url.clone()).collect()
    }
    fn count(&self, url: &str) -> usize {
        self.sent.borrow().iter().filter(|r| r.url == url).count()
    }
}

struct RBody {
    chunks: VecDeque<Vec<u8>>,
    end: End,
}

impl Body for RBody {
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>> {
        match (self.chunks.pop_front(), self.end) {
            (Some(c), _) => Ok(Some(c)),
            (None, End::Cut) => Err(Error::network("connection reset")),
            (None, End::Hang) => std::future::pending().await,
            (None, End::Clean) => Ok(None),
        }
    }
}

impl GunzipBody for RBody {}

impl Transport for Routes {
    type Body = RBody;
    async fn send(&self, req: &HttpRequest) -> Result<(ResponseHead, RBody)> {
        self.sent.borrow_mut().push(req.clone());
        let r = self
            .replies
            .borrow_mut()
            .get_mut(&req.url)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("no reply for {}", req.url));
        let (status, chunks, end, headers) = match r {
            Reply::Ok {
                status,
                chunks,
                end,
            } => (status, chunks, end, vec![]),
            Reply::ZeroBytes => (
                200,
                vec![],
                End::Clean,
                vec![("content-length".to_string(), "0".to_string())],
            ),
        };
        Ok((
            ResponseHead { status, headers },
            RBody {
                chunks: chunks.into(),
                end,
            },
        ))
    }
    async fn sleep(&self, ms: f64) -> Result<()> {
        self.slept.borrow_mut().push(ms);
        self.now.set(self.now.get() + ms);
        Ok(())
    }
    fn now_ms(&self) -> f64 {
        self.now.get()
    }
    fn check_aborted(&self) -> Result<()> {
        Ok(())
    }
}

fn session() -> Session {
    Session::with_header(
        BASE.into(),
        "Authorization",
        Secret::new(format!("Token {KEY}")),
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn event(file: usize, i: usize) -> Value {
    json!({
        "app_token": "NX-1", "event_type": "track", "event_name": "signed_up",
        "user_id": format!("u{i}"), "company_id": null, "source": "web-client",
        "inserted_at": 1_700_000_000_000_000u64 + (file * 1000 + i) as u64,
        "internal_event_id": format!("{:032x}", file * 1000 + i),
        "metadata": { "note": "Über, \"quoted\"", "n": i }
    })
}

/// JSON Lines of `n` events; the first `overlap` repeat the previous file's last events.
fn jsonl(file: usize, n: usize, overlap: usize) -> Vec<u8> {
    let mut s = String::new();
    if file > 0 {
        for i in 0..overlap {
            s.push_str(&event(file - 1, 100 - overlap + i).to_string());
            s.push('\n');
        }
    }
    for i in 0..n {
        s.push_str(&event(file, i).to_string());
        s.push('\n');
    }
    s.into_bytes()
}

fn job_url(id: &str) -> String {
    format!("{BASE}/api/v1/analytics/exports/jobs/{id}")
}

fn file_url(name: &str, sig: u32) -> String {
    format!("https://files.test/{name}?X-Amz-Signature={sig}")
}

fn job_body(id: &str, status: &str, files: &[&str], sig: u32) -> String {
    let urls: Vec<Value> = files
        .iter()
        .map(|f| json!({"filename": f, "url": file_url(f, sig)}))
        .collect();
    json!({"job_id": id, "status": status, "progress": "3 out of 3 partitions",
        "presigned_urls": if status == "completed" { urls } else { vec![] },
        "all_chunks": ["2024-01-01", "2024-02-01", "2024-03-01"]})
    .to_string()
}

#[derive(Default)]
struct Collect {
    records: Vec<(usize, Value)>,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
    flat: String,
    batches: usize,
    last: RowsProgress,
}

impl RowsSink for Collect {
    async fn records(&mut self, file: FileRef<'_>, batch: JsonBatch) -> Result<()> {
        let v: Vec<Value> = serde_json::from_str(&batch.text).unwrap();
        assert_eq!(v.len(), batch.count);
        self.records.extend(v.into_iter().map(|r| (file.index, r)));
        self.batches += 1;
        Ok(())
    }
    async fn rows(&mut self, file: FileRef<'_>, header: &[String], batch: RowBatch) -> Result<()> {
        self.header = header.to_vec();
        self.rows
            .extend(batch.rows().into_iter().map(|r| (file.index, r)));
        self.batches += 1;
        Ok(())
    }
    async fn flat(&mut self, _: FileRef<'_>, csv: String, _: u64) -> Result<()> {
        self.flat.push_str(&csv);
        Ok(())
    }
    fn progress(&mut self, p: &RowsProgress) {
        self.last = *p;
    }
}

fn run_rows(r: &Routes, opts: RowsOptions) -> (Result<RowsOutcome>, Collect) {
    let mut sink = Collect::default();
    let s = session();
    let out = block_on(up::rows(r, &s, "job-1", &opts, &mut sink));
    (out, sink)
}

fn expected(files: &[(usize, usize, usize)]) -> Vec<Value> {
    let mut all = Vec::new();
    for &(f, n, overlap) in files {
        let text = String::from_utf8(jsonl(f, n, overlap)).unwrap();
        all.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    all
}

fn no_key_on_files(r: &Routes) {
    for req in r.sent.borrow().iter() {
        let auth = req.header("authorization");
        if req.url.starts_with("https://files.test/") {
            assert_eq!(auth, None, "presigned URL got the key: {}", req.url);
        } else {
            assert_eq!(auth, Some(&*format!("Token {KEY}")), "{}", req.url);
        }
    }
}

const FILES: [&str; 3] = [
    "2024-01-01.json.gz",
    "2024-01-08.json.gz",
    "2024-01-15.json.gz",
];

/// Queues one read of the completed `job-1`, listing `files` with links signed `sig`, and for
/// each file the replies its link gives, in the order they are asked for.
fn serve_completed(r: &Routes, sig: u32, files: &[(&str, Vec<Reply>)]) {
    let names: Vec<&str> = files.iter().map(|(f, _)| *f).collect();
    r.on(
        &job_url("job-1"),
        reply(200, job_body("job-1", "completed", &names, sig)),
    );
    for (f, replies) in files {
        for answer in replies {
            r.on(&file_url(f, sig), answer.clone());
        }
    }
}

fn three_files(r: &Routes, chunk: usize) {
    let files: Vec<(&str, Vec<Reply>)> = FILES
        .iter()
        .enumerate()
        .map(|(k, f)| (*f, vec![chunked(&gzip(&jsonl(k, 100, 10)), chunk)]))
        .collect();
    serve_completed(r, 1, &files);
}

#[test]
fn rows_arrive_once_each_in_file_order_at_every_concurrency() {
    for concurrency in [1, 2, 3, 6] {
        for chunk in [1, 7, 300, 1 << 20] {
            let r = Routes::new();
            three_files(&r, chunk);
            let (out, sink) = run_rows(
                &r,
                RowsOptions {
                    concurrency,
                    batch_records: 33,
                    ..RowsOptions::default()
                },
            );
            let out = out.unwrap();
            let got: Vec<Value> = sink.records.iter().map(|(_, v)| v.clone()).collect();
            assert_eq!(got, expected(&[(0, 100, 0), (1, 100, 10), (2, 100, 10)]));
            assert!(
                sink.records.windows(2).all(|w| w[0].0 <= w[1].0),
                "file order"
            );
            assert_eq!(out.records, 320);
            assert_eq!(out.files.len(), 3);
            assert_eq!(out.files[1].records, 110);
            assert_eq!(out.files[0].format, Some(Format::Json));
            assert_eq!(sink.last.files_done, 3);
            no_key_on_files(&r);
            if concurrency >= 3 && chunk == 1 {
                // All three files were asked for before the first was delivered.
                let urls = r.urls();
                assert!(
                    urls[1..4]
                        .iter()
                        .all(|u| u.starts_with("https://files.test/")),
                    "{urls:?}"
                );
            }
        }
    }
}

#[test]
fn dedupe_drops_the_overlap_by_internal_event_id() {
    let r = Routes::new();
    three_files(&r, 500);
    let (out, sink) = run_rows(
        &r,
        RowsOptions {
            dedupe: true,
            concurrency: 2,
            ..RowsOptions::default()
        },
    );
    let out = out.unwrap();
    assert_eq!(out.records, 300);
    assert_eq!(out.duplicates, 20);
    let got: Vec<Value> = sink.records.into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, expected(&[(0, 100, 0), (1, 100, 0), (2, 100, 0)]));
}

#[test]
fn an_expired_link_is_renewed_once_and_nothing_is_lost_or_repeated() {
    for concurrency in [1, 3] {
        let r = Routes::new();
        let expired =
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        serve_completed(
            &r,
            1,
            &[
                (FILES[0], vec![chunked(&gzip(&jsonl(0, 100, 10)), 64)]),
                (FILES[1], vec![reply(403, expired)]),
                (FILES[2], vec![reply(403, expired)]),
            ],
        );
        // The renewal: a second job read, with new links for the files still to fetch.
        serve_completed(
            &r,
            2,
            &[
                (FILES[0], vec![]),
                (FILES[1], vec![chunked(&gzip(&jsonl(1, 100, 10)), 64)]),
                (FILES[2], vec![chunked(&gzip(&jsonl(2, 100, 10)), 64)]),
            ],
        );
        let (out, sink) = run_rows(
            &r,
            RowsOptions {
                concurrency,
                batch_records: 16,
                ..RowsOptions::default()
            },
        );
        let out = out.unwrap();
        let got: Vec<Value> = sink.records.into_iter().map(|(_, v)| v).collect();
        assert_eq!(got, expected(&[(0, 100, 0), (1, 100, 10), (2, 100, 10)]));
        assert_eq!(
            r.count(&job_url("job-1")),
            2,
            "one job read renews every link"
        );
        assert_eq!(out.renewals, 1);
        no_key_on_files(&r);
    }
}

#[test]
fn a_link_refused_again_after_renewal_is_link_expired() {
    let r = Routes::new();
    let expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
    serve_completed(&r, 1, &[(FILES[0], vec![reply(403, expired)])]);
    serve_completed(&r, 2, &[(FILES[0], vec![reply(403, expired)])]);
    let (out, _) = run_rows(&r, RowsOptions::default());
    assert_eq!(out.unwrap_err().code(), "E_LINK_EXPIRED");
    assert_eq!(r.count(&job_url("job-1")), 2);
}

/// Two files, each `encode`d and gzipped, the second cut part way (at several chunk sizes) then
/// served whole: the rows arrive once each, in order, after one restart and one backoff.
fn cut_mid_file_restarts_and_skips(encode: fn(&[u8]) -> Vec<u8>) {
    for (chunk, keep) in [(50, 3), (97, 10), (1000, 1)] {
        let r = Routes::new();
        let gz1 = gzip(&encode(&jsonl(1, 100, 10)));
        serve_completed(
            &r,
            1,
            &[
                (
                    FILES[0],
                    vec![chunked(&gzip(&encode(&jsonl(0, 100, 10))), chunk)],
                ),
                (
                    FILES[1],
                    vec![cut_after(&gz1, chunk, keep), chunked(&gz1, chunk)],
                ),
            ],
        );
        let (out, sink) = run_rows(
            &r,
            RowsOptions {
                batch_records: 5,
                concurrency: 1,
                ..RowsOptions::default()
            },
        );
        let out = out.unwrap_or_else(|e| panic!("chunk {chunk}: {e}"));
        let got: Vec<Value> = sink.records.into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            got,
            expected(&[(0, 100, 0), (1, 100, 10)]),
            "chunk {chunk} keep {keep}"
        );
        assert_eq!(out.restarts, 1);
        assert_eq!(out.files[1].restarts, 1);
        assert_eq!(r.slept.borrow().len(), 1, "one backoff before the refetch");
    }
}

#[test]
fn a_download_cut_mid_file_restarts_and_skips_what_was_delivered() {
    cut_mid_file_restarts_and_skips(|lines| lines.to_vec());
}

#[test]
fn a_gzip_stream_that_ends_early_is_fetched_again_never_a_short_success() {
    let r = Routes::new();
    let gz = gzip(&jsonl(0, 100, 0));
    serve_completed(
        &r,
        1,
        &[(
            FILES[0],
            vec![chunked(&gz[..gz.len() - 5], 64), chunked(&gz, 64)],
        )],
    );
    let (out, sink) = run_rows(&r, RowsOptions::default());
    assert_eq!(out.unwrap().records, 100);
    assert_eq!(sink.records.len(), 100);
    // Truncated on every try: an error after the retry budget, never a short success.
    let r = Routes::new();
    serve_completed(
        &r,
        1,
        &[(FILES[0], vec![chunked(&gz[..gz.len() / 2], 64); 5])],
    );
    let (out, _) = run_rows(&r, RowsOptions::default());
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_NETWORK");
    assert!(e.to_string().contains("2024-01-01.json.gz"), "{e}");
    assert_eq!(e.file(), Some("2024-01-01.json.gz"));
    assert_eq!(
        e.to_string().matches("2024-01-01.json.gz").count(),
        1,
        "named once: {e}"
    );
}

#[test]
fn a_zero_byte_file_is_empty_but_a_body_ending_before_its_first_byte_is_a_cut() {
    // Declared empty: no records, no retry, for JSON and CSV names alike.
    let r = Routes::new();
    serve_completed(
        &r,
        1,
        &[
            (FILES[0], vec![Reply::ZeroBytes]),
            (FILES[1], vec![chunked(&gzip(&jsonl(1, 100, 0)), 64)]),
        ],
    );
    let (out, sink) = run_rows(&r, RowsOptions::default());
    let out = out.unwrap();
    assert_eq!((out.records, sink.records.len()), (100, 100));
    assert_eq!(r.count(&file_url(FILES[0], 1)), 1, "not fetched again");
    // No bytes and no Content-Length: cut short, fetched again.
    let r = Routes::new();
    let gz = gzip(&jsonl(0, 100, 0));
    serve_completed(
        &r,
        1,
        &[(
            FILES[0],
            vec![reply(200, Vec::<u8>::new()), chunked(&gz, 64)],
        )],
    );
    let (out, sink) = run_rows(&r, RowsOptions::default());
    assert_eq!(out.unwrap().records, 100);
    assert_eq!(sink.records.len(), 100);
}

/// A "JSON" file that is one pretty-printed array instead of JSON Lines (issue 15 §3).
fn json_array(lines: &[u8]) -> Vec<u8> {
    let items: Vec<String> = String::from_utf8(lines.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::to_string_pretty(&serde_json::from_str::<Value>(l).unwrap()).unwrap())
        .collect();
    format!("[\n{}\n]\n", items.join(",\n")).into_bytes()
}

#[test]
fn a_json_array_file_is_read_like_json_lines_even_across_a_restart() {
    cut_mid_file_restarts_and_skips(json_array);
    // An array that never closes in a whole gzip stream is bad data, not a cut.
    let r = Routes::new();
    let mut open = json_array(&jsonl(0, 3, 0));
    open.truncate(open.len() - 3);
    serve_completed(&r, 1, &[(FILES[0], vec![chunked(&gzip(&open), 64)])]);
    let (out, _) = run_rows(&r, RowsOptions::default());
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_DECODE");
    assert!(e.to_string().contains("not closed"), "{e}");
}

#[test]
fn corrupt_data_fails_without_retrying() {
    let r = Routes::new();
    let mut gz = gzip(&jsonl(0, 10, 0));
    let n = gz.len();
    gz[n - 6] ^= 0xff;
    serve_completed(&r, 1, &[(FILES[0], vec![chunked(&gz, 64)])]);
    let (out, _) = run_rows(&r, RowsOptions::default());
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_DECODE");
    assert!(e.to_string().contains("CRC"), "{e}");
}

#[test]
fn csv_files_with_dedupe_and_a_restart() {
    let header = "app_token,event_type,event_name,user_id,company_id,source,inserted_at,internal_event_id,metadata\n";
    let csv = |file: usize, n: usize, overlap: usize| {
        let mut s = header.to_string();
        let mut row = |f: usize, i: usize| {
            s.push_str(&format!(
                "NX-1,track,signed_up,u{i},,web-client,{},{:032x},\"{{\"\"n\"\":{i},\"\"note\"\":\"\"a,b\nc\"\"}}\"\n",
                1_700_000_000_000_000u64 + i as u64,
                f * 1000 + i
            ));
        };
        if file > 0 {
            for i in 0..overlap {
                row(file - 1, 50 - overlap + i);
            }
        }
        for i in 0..n {
            row(file, i);
        }
        s.into_bytes()
    };
    let r = Routes::new();
    let gz1 = gzip(&csv(1, 50, 5));
    serve_completed(
        &r,
        1,
        &[
            (
                "2024-01-01.csv.gz",
                vec![chunked(&gzip(&csv(0, 50, 0)), 40)],
            ),
            (
                "2024-01-08.csv.gz",
                vec![cut_after(&gz1, 40, 4), chunked(&gz1, 40)],
            ),
        ],
    );
    let (out, sink) = run_rows(
        &r,
        RowsOptions {
            dedupe: true,
            batch_records: 7,
            ..RowsOptions::default()
        },
    );
    let out = out.unwrap();
    assert_eq!((out.records, out.duplicates), (100, 5));
    assert_eq!(sink.header[7], "internal_event_id");
    let ids: Vec<String> = sink.rows.iter().map(|(_, r)| r[7].clone()).collect();
    let want: Vec<String> = (0..50)
        .map(|i| format!("{i:032x}"))
        .chain((0..50).map(|i| format!("{:032x}", 1000 + i)))
        .collect();
    assert_eq!(ids, want);
    assert_eq!(sink.rows[3].1[8], "{\"n\":3,\"note\":\"a,b\nc\"}");
    assert_eq!(out.files[1].format, Some(Format::Csv));
}

#[test]
fn flattened_json_is_csv_with_event_columns_first() {
    let r = Routes::new();
    serve_completed(
        &r,
        1,
        &[
            (FILES[0], vec![chunked(&gzip(&jsonl(0, 100, 0)), 64)]),
            (FILES[1], vec![chunked(&gzip(&jsonl(1, 2, 1)), 64)]),
        ],
    );
    let (out, sink) = run_rows(
        &r,
        RowsOptions {
            flatten: true,
            dedupe: true,
            ..RowsOptions::default()
        },
    );
    assert_eq!(out.unwrap().records, 102, "the repeated event is dropped");
    let lines: Vec<&str> = sink.flat.split("\r\n").collect();
    assert_eq!(lines[0], "app_token,event_type,event_name,user_id,company_id,source,inserted_at,internal_event_id,metadata.n,metadata.note");
    assert_eq!(
        lines.len(),
        104,
        "header, 102 rows, the empty rest after the last CRLF"
    );
    assert_eq!(
        lines[1],
        "NX-1,track,signed_up,u0,,web-client,1700000000000000,00000000000000000000000000000000,0,\"Über, \"\"quoted\"\"\""
    );
}

#[test]
fn malformed_lines_are_reported_with_file_and_line_or_fail_in_strict_mode() {
    let body =
        b"{\"internal_event_id\":\"a\"}\n{\"broken\":\n{\"internal_event_id\":\"b\"}\n".to_vec();
    for strict in [false, true] {
        let r = Routes::new();
        serve_completed(&r, 1, &[(FILES[0], vec![chunked(&gzip(&body), 5)])]);
        let (out, sink) = run_rows(
            &r,
            RowsOptions {
                strict,
                ..RowsOptions::default()
            },
        );
        if strict {
            let e = out.unwrap_err();
            assert_eq!(e.code(), "E_DECODE");
            assert!(e.to_string().contains("2024-01-01.json.gz"), "{e}");
            assert!(matches!(e.kind(), ErrorKind::Decode { line: 2, .. }), "{e}");
            assert_eq!(
                (e.file(), e.place().line),
                (Some("2024-01-01.json.gz"), Some(2))
            );
            assert_eq!(
                sink.records.len(),
                1,
                "the record before the bad line went out before the error"
            );
        } else {
            let out = out.unwrap();
            assert_eq!(sink.records.len(), 2);
            assert_eq!(out.errors.len(), 1);
            assert_eq!((out.errors[0].line, out.errors[0].file), (2, 0));
            assert_eq!(out.errors[0].filename, "2024-01-01.json.gz");
        }
    }
}

#[test]
fn rows_of_a_running_job_wait_and_of_a_failed_job_fail() {
    let r = Routes::new();
    let files = &FILES[..1];
    r.on(
        &job_url("job-1"),
        reply(200, job_body("job-1", "in_progress", files, 1)),
    );
    r.on(
        &job_url("job-1"),
        reply(200, job_body("job-1", "in_progress", files, 1)),
    );
    serve_completed(
        &r,
        1,
        &[(files[0], vec![chunked(&gzip(&jsonl(0, 4, 0)), 64)])],
    );
    let (out, _) = run_rows(&r, RowsOptions::default());
    assert_eq!(out.unwrap().records, 4);
    assert_eq!(*r.slept.borrow(), [500.0]);
    let r = Routes::new();
    r.on(
        &job_url("job-1"),
        reply(200, job_body("job-1", "failed", files, 1)),
    );
    let (out, _) = run_rows(&r, RowsOptions::default());
    assert!(
        matches!(out.unwrap_err().kind(), ErrorKind::JobFailed { job_id, .. } if job_id == "job-1")
    );
    let (out, _) = run_rows(
        &Routes::new(),
        RowsOptions {
            concurrency: 7,
            ..RowsOptions::default()
        },
    );
    assert_eq!(out.unwrap_err().field(), Some("concurrency"));
}

fn params() -> ExportParams {
    ExportParams::from_json(
        r#"{"from":"2024-01-01","to":"2024-03-31","eventType":["track"],"format":"json"}"#,
    )
    .unwrap()
}

const CREATE: &str = "https://appex.test/api/v1/analytics/exports/";
const LIST: &str = "https://appex.test/api/v1/analytics/exports/jobs/";
const CONFLICT: &str = r#"{ "errors": [ { "details": "There is already an export job in progress, you can only have one export job in progress at a time.", "error": "Conflict", "error_code": "409", "message": "The request could not be completed due to a conflict with the current state of the target resource." } ] }"#;

#[test]
fn start_sends_the_wire_body_with_the_token_header() {
    let r = Routes::new();
    r.on(CREATE, reply(201, r#"{"environment_app_token":"NX-1","environment_name":"production","job_id":"job-9","links":"/x","start_time":"2024-10-06T10:44:50.999504"}"#));
    let s = session();
    let c = block_on(up::start(
        &r,
        &s,
        &params(),
        &StartOptions::default(),
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(c.job_id, "job-9");
    let sent = r.sent.borrow();
    assert_eq!(sent[0].header("authorization"), Some("Token up-key-SECRET"));
    let body: Value = serde_json::from_slice(sent[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"from":"2024-01-01","to":"2024-03-31","event_type":["track"],"format":"json"})
    );
    assert!(!format!("{:?}", sent[0]).contains("SECRET"));
}

#[test]
fn a_409_names_the_running_job_or_waits_for_it() {
    let r = Routes::new();
    r.on(CREATE, reply(409, CONFLICT));
    r.on(LIST, reply(200, r#"[{"job_id":"old-1","status":"in_progress","progress":"1 out of 3 partitions"},{"job_id":"older","status":"completed"}]"#));
    let s = session();
    let e = block_on(up::start(
        &r,
        &s,
        &params(),
        &StartOptions::default(),
        &mut |_| {},
    ))
    .unwrap_err();
    assert_eq!(e.code(), "E_CONFLICT");
    assert!(matches!(e.kind(), ErrorKind::Conflict { running_job_id: Some(id) } if id == "old-1"));
    assert!(e.to_string().contains("old-1"), "{e}");
    assert_eq!(e.status(), Some(409));

    // The list cannot tell (it fails): still a Conflict, without a name.
    let r = Routes::new();
    r.on(CREATE, reply(409, CONFLICT));
    r.on(LIST, reply(500, "oops"));
    for _ in 0..4 {
        r.on(LIST, reply(500, "oops"));
    }
    let e = block_on(up::start(
        &r,
        &s,
        &params(),
        &StartOptions::default(),
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Conflict {
                running_job_id: None
            }
        ),
        "{e}"
    );

    // Waiting: the running job is read until it ends, then the export starts.
    let r = Routes::new();
    r.on(CREATE, reply(409, CONFLICT));
    r.on(
        LIST,
        reply(200, r#"[{"job_id":"old-1","status":"in_progress"}]"#),
    );
    r.on(
        &job_url("old-1"),
        reply(
            200,
            r#"{"job_id":"old-1","status":"in_progress","progress":"1 out of 3 partitions"}"#,
        ),
    );
    r.on(
        &job_url("old-1"),
        reply(
            200,
            r#"{"job_id":"old-1","status":"in_progress","progress":"2 out of 3 partitions"}"#,
        ),
    );
    r.on(
        &job_url("old-1"),
        reply(
            200,
            r#"{"job_id":"old-1","status":"completed","progress":"3 out of 3 partitions"}"#,
        ),
    );
    r.on(CREATE, reply(201, r#"{"job_id":"new-1"}"#));
    let mut seen = Vec::new();
    let c = block_on(up::start(
        &r,
        &s,
        &params(),
        &StartOptions {
            wait_for_running: true,
            ..StartOptions::default()
        },
        &mut |ev| match ev {
            StartEvent::WaitingFor(id) => seen.push(format!("waiting {}", id.unwrap_or("?"))),
            StartEvent::Progress(j) => {
                seen.push(format!("{:?}", j.progress.map(|p| (p.done, p.total))))
            }
        },
    ))
    .unwrap();
    assert_eq!(c.job_id, "new-1");
    assert_eq!(
        seen,
        [
            "waiting old-1",
            "Some((1, 3))",
            "Some((2, 3))",
            "Some((3, 3))"
        ]
    );
    assert_eq!(*r.slept.borrow(), [500.0, 750.0]);
}

#[test]
fn the_no_plan_key_and_bad_keys_are_auth_errors_without_the_key() {
    let r = Routes::new();
    r.on(CREATE, reply(403, r#"{ "errors": [ { "details": "Your current plan for application NX-d7ce194a does not support the feature you are trying to access.", "error": "Unauthorized", "error_code": "401", "message": "You are not authorized to perform the requested action." } ] }"#));
    let s = session();
    let e = block_on(up::start(
        &r,
        &s,
        &params(),
        &StartOptions::default(),
        &mut |_| {},
    ))
    .unwrap_err();
    assert_eq!((e.code(), e.status()), ("E_AUTH", Some(403)));
    assert!(
        e.to_string().contains("does not support the feature"),
        "{e}"
    );
    assert!(!e.to_string().contains(KEY));
}

#[test]
fn wait_polls_with_backoff_parses_progress_and_honours_the_deadline() {
    let r = Routes::new();
    for p in [
        "0 out of 4 partitions",
        "1 out of 4 partitions",
        "3 out of 4 partitions",
    ] {
        r.on(
            &job_url("j"),
            reply(
                200,
                json!({"job_id":"j","status":"in_progress","progress":p}).to_string(),
            ),
        );
    }
    r.on(
        &job_url("j"),
        reply(200, job_body("j", "completed", &FILES, 1)),
    );
    let s = session();
    let mut progress = Vec::new();
    let job = block_on(up::wait(&r, &s, "j", &WaitOptions::default(), &mut |j| {
        progress.push(j.progress.map(|p| p.done))
    }))
    .unwrap();
    assert_eq!(job.presigned_urls.len(), 3);
    assert_eq!(progress, [Some(0), Some(1), Some(3), Some(3)]);
    assert_eq!(*r.slept.borrow(), [500.0, 750.0, 1125.0]);

    let r = Routes::new();
    for _ in 0..10 {
        r.on(
            &job_url("j"),
            reply(200, r#"{"job_id":"j","status":"in_progress"}"#),
        );
    }
    let e = block_on(up::wait(
        &r,
        &s,
        "j",
        &WaitOptions {
            timeout_ms: Some(2_000.0),
            ..WaitOptions::default()
        },
        &mut |_| {},
    ))
    .unwrap_err();
    assert_eq!(e.code(), "E_TIMEOUT");
    assert_eq!(r.slept.borrow().iter().sum::<f64>(), 2_000.0);

    let r = Routes::new();
    r.on(&job_url("nope"), reply(404, r#"{ "errors": [ { "details": null, "error": "Resource not found", "error_code": "404", "message": "Failed to retrieve job with id nope for application NX-1: job not found" } ] }"#));
    let e = block_on(up::get_job(&r, &s, "nope")).unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("job not found"));
    let e = block_on(up::get_job(&r, &s, "../admin")).unwrap_err();
    assert_eq!(e.field(), Some("jobId"));
}

struct Pages(Vec<Page>);
impl PageSink for Pages {
    async fn page(&mut self, page: Page) -> Result<()> {
        self.0.push(page);
        Ok(())
    }
}

#[test]
fn lookups_walk_cursor_pages_with_encoded_cursors() {
    let lk = |q: &str| format!("{BASE}/api/v1/analytics/exports/lookups/segments{q}");
    let r = Routes::new();
    r.on(&lk("?limit=2"), reply(200, r#"{"data":[{"id":1},{"id":2}],"metadata":{"cursor":{"after":"g3+/=","before":null},"limit":2,"total_count":3}}"#));
    r.on(&lk("?after_cursor=g3%2B%2F%3D&limit=2"), reply(200, r#"{"data":[{"id":3}],"metadata":{"cursor":{"after":null,"before":"x"},"limit":2,"total_count":3}}"#));
    let s = session();
    let mut pages = Pages(Vec::new());
    let (n, items) = block_on(up::lookup_pages(&r, &s, "segments", Some(2), &mut pages)).unwrap();
    assert_eq!((n, items), (2, 3));
    assert_eq!(pages.0[0].total_count, Some(3));
    no_key_on_files(&r);
    r.on(
        &format!("{BASE}/api/v1/analytics/exports/lookups/embeds"),
        reply(200, r#"[{"id":"e1"}]"#),
    );
    let p = block_on(up::lookup(&r, &s, "embeds", &PageRequest::default())).unwrap();
    assert_eq!(p.data, vec![json!({"id":"e1"})]);
    let e = block_on(up::lookup(&r, &s, "embed", &PageRequest::default())).unwrap_err();
    assert_eq!(e.field(), Some("name"));
}

#[test]
fn strict_csv_delivers_the_rows_before_a_bad_record() {
    let r = Routes::new();
    let mut body = b"a,b\n1,x\n2,y\n3,".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\n4,z\n");
    serve_completed(
        &r,
        1,
        &[("2024-01-01.csv.gz", vec![chunked(&gzip(&body), 4096)])],
    );
    let (out, sink) = run_rows(
        &r,
        RowsOptions {
            strict: true,
            ..RowsOptions::default()
        },
    );
    let e = out.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Decode { line: 4, .. }), "{e}");
    let rows: Vec<Vec<String>> = sink.rows.into_iter().map(|(_, r)| r).collect();
    assert_eq!(rows, [["1", "x"], ["2", "y"]]);
}

#[test]
fn a_stalled_file_is_fetched_again_once_a_stall_timeout_is_set() {
    let r = Routes::new();
    let gz: Vec<Vec<u8>> = (0..3).map(|k| gzip(&jsonl(k, 100, 10))).collect();
    serve_completed(
        &r,
        1,
        &[
            (FILES[0], vec![chunked(&gz[0], 300)]),
            // Stops after two chunks, then never sends the rest; the retry is whole.
            (
                FILES[1],
                vec![hang_after(&gz[1], 300, 2), chunked(&gz[1], 300)],
            ),
            (FILES[2], vec![chunked(&gz[2], 300)]),
        ],
    );
    let start = r.now.get();
    let (out, sink) = run_rows(
        &r,
        RowsOptions {
            concurrency: 2,
            stall_timeout_ms: Some(30_000.0),
            ..RowsOptions::default()
        },
    );
    let out = out.unwrap();
    let got: Vec<Value> = sink.records.into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, expected(&[(0, 100, 10), (1, 100, 10), (2, 100, 10)]));
    assert_eq!(out.restarts, 1);
    assert!(
        r.now.get() - start >= 30_000.0,
        "waited out the stall timeout"
    );
    let (out, _) = run_rows(
        &Routes::new(),
        RowsOptions {
            stall_timeout_ms: Some(0.0),
            ..RowsOptions::default()
        },
    );
    assert_eq!(out.unwrap_err().field(), Some("stallTimeoutMs"));
}

#[test]
fn an_error_body_or_a_cut_short_answer_to_a_read_is_read_again() {
    let r = Routes::new();
    r.on(
        &job_url("job-1"),
        reply(
            200,
            r#"{"errors":[{"error":"internal","message":"later"}]}"#,
        ),
    );
    serve_completed(
        &r,
        1,
        &[(FILES[0], vec![chunked(&gzip(&jsonl(0, 4, 0)), 64)])],
    );
    let (out, _) = run_rows(&r, RowsOptions::default());
    assert_eq!(out.unwrap().records, 4);
    assert_eq!(r.count(&job_url("job-1")), 2);
    let embeds = format!("{BASE}/api/v1/analytics/exports/lookups/embeds");
    r.on(&embeds, reply(200, r#"[{"id":"e1"},{"id""#));
    r.on(&embeds, reply(200, r#"[{"id":"e1"},{"id":"e2"}]"#));
    let p = block_on(up::lookup(
        &r,
        &session(),
        "embeds",
        &PageRequest::default(),
    ))
    .unwrap();
    assert_eq!(p.data, vec![json!({"id":"e1"}), json!({"id":"e2"})]);
    // A wrong answer (not cut short) is an error at once.
    r.on(&embeds, reply(200, r#"{"id":"e1"}"#));
    let e = block_on(up::lookup(
        &r,
        &session(),
        "embeds",
        &PageRequest::default(),
    ))
    .unwrap_err();
    assert_eq!(e.code(), "E_DECODE");
    assert_eq!(r.count(&embeds), 3);
}

#[test]
fn a_job_read_that_never_answers_meets_the_wait_deadline() {
    let r = Routes::new();
    r.on(&job_url("job-1"), hang_after(b"{}", 1, 0));
    let (out, _) = run_rows(
        &r,
        RowsOptions {
            wait: WaitOptions {
                timeout_ms: Some(5_000.0),
                ..WaitOptions::default()
            },
            ..RowsOptions::default()
        },
    );
    assert_eq!(out.unwrap_err().code(), "E_TIMEOUT");
}

/// Stops the run (an error from the sink) once `limit` records are in, keeping the last
/// checkpoint the run handed over.
struct StopAfter {
    inner: Collect,
    limit: usize,
    saved: Option<RowsCheckpoint>,
}

impl RowsSink for StopAfter {
    async fn records(&mut self, file: FileRef<'_>, batch: JsonBatch) -> Result<()> {
        if self.inner.records.len() >= self.limit {
            return Err(Error::new(ErrorKind::Aborted));
        }
        self.inner.records(file, batch).await
    }
    async fn rows(&mut self, file: FileRef<'_>, header: &[String], batch: RowBatch) -> Result<()> {
        self.inner.rows(file, header, batch).await
    }
    async fn flat(&mut self, file: FileRef<'_>, csv: String, rows: u64) -> Result<()> {
        self.inner.flat(file, csv, rows).await
    }
    fn progress(&mut self, p: &RowsProgress) {
        self.inner.progress(p)
    }
    fn checkpoint(&mut self, at: &RowsCheckpoint) {
        self.saved = Some(at.clone());
    }
}

#[test]
fn a_run_resumed_from_its_checkpoint_delivers_the_rest_once() {
    let files = |r: &Routes| {
        serve_completed(
            r,
            1,
            &[
                (FILES[0], vec![chunked(&gzip(&jsonl(0, 100, 0)), 64)]),
                (FILES[1], vec![chunked(&gzip(&jsonl(1, 100, 10)), 64)]),
                (FILES[2], vec![chunked(&gzip(&jsonl(2, 50, 0)), 64)]),
            ],
        )
    };
    let opts = RowsOptions {
        batch_records: 7,
        concurrency: 2,
        ..RowsOptions::default()
    };
    for limit in [1, 99, 130, 210] {
        let r = Routes::new();
        files(&r);
        let mut first = StopAfter {
            inner: Collect::default(),
            limit,
            saved: None,
        };
        let out = block_on(up::rows(&r, &session(), "job-1", &opts, &mut first));
        assert_eq!(out.unwrap_err().code(), "E_ABORTED");
        let saved = first.saved.expect("a checkpoint");
        // What a resume stores: plain data, versioned.
        let text = serde_json::to_string(&saved).unwrap();
        assert!(
            text.starts_with(r#"{"version":1,"job_id":"job-1","download":{"version":1,"#),
            "{text}"
        );
        let saved: RowsCheckpoint = serde_json::from_str(&text).unwrap();

        let r = Routes::new();
        files(&r);
        let mut rest = Collect::default();
        let out = block_on(up::rows_from(
            &r,
            &session(),
            "job-1",
            &opts,
            Some(&saved),
            &mut rest,
        ))
        .unwrap();
        let before = first.inner.records.len();
        let mut got: Vec<Value> = first.inner.records.into_iter().map(|(_, v)| v).collect();
        got.extend(rest.records.into_iter().map(|(_, v)| v));
        assert_eq!(
            got,
            expected(&[(0, 100, 0), (1, 100, 10), (2, 50, 0)]),
            "limit {limit}"
        );
        assert_eq!(
            out.records as usize + before,
            260,
            "limit {limit}: the outcome counts this run"
        );
        let fetched_first = r.sent.borrow().iter().any(|q| q.url.contains(FILES[0]));
        assert_eq!(
            fetched_first,
            saved.download.head == 0,
            "limit {limit}: done files are not fetched"
        );
    }
    // A checkpoint of another job is refused, naming the option.
    let r = Routes::new();
    files(&r);
    let other = RowsCheckpoint {
        version: 1,
        job_id: "job-2".into(),
        download: exportkit::core::download::State {
            version: 1,
            parts: 3,
            head: 1,
            restarts: 0,
            renewals: 0,
        },
        line: 0,
        rows: 0,
    };
    let e = block_on(up::rows_from(
        &r,
        &session(),
        "job-1",
        &opts,
        Some(&other),
        &mut Collect::default(),
    ))
    .unwrap_err();
    assert_eq!(e.field(), Some("resumeFrom"));
}
