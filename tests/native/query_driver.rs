use super::script::{block_on, token, Reply, Script};
use exportkit::core::auth::ClientCredentials;
use exportkit::driver::{
    run_query, MemoryQuotaStore, Progress, QueryOptions, QueryOutcome, QuerySink, QuotaStore,
    Session,
};
use exportkit::parse::csv::RowBatch;
use exportkit::providers::backstory::query::{Column, Query};
use exportkit::Result;

#[derive(Default)]
struct Collect {
    header: Vec<String>,
    missing: Vec<Column>,
    rows: Vec<Vec<String>>,
    raw: Vec<u8>,
    phases: Vec<&'static str>,
}

impl QuerySink for Collect {
    async fn header(&mut self, header: &[String], missing: &[Column]) -> Result<()> {
        self.header = header.to_vec();
        self.missing = missing.to_vec();
        Ok(())
    }
    async fn batch(&mut self, batch: RowBatch) -> Result<()> {
        self.rows.extend(batch.rows());
        Ok(())
    }
    fn raw(&mut self, chunk: &[u8]) {
        self.raw.extend_from_slice(chunk);
    }
    fn progress(&mut self, p: Progress) {
        if self.phases.last() != Some(&p.phase.as_str()) {
            self.phases.push(p.phase.as_str());
        }
    }
}

fn session() -> Session {
    Session::oauth(
        "https://api.test".into(),
        ClientCredentials::new("cid", "csecret").unwrap(),
    )
}

fn query() -> Query {
    Query::from_json(
        r#"{"object":"account","columns":[{"slug":"ootb_account_name"},{"slug":"nope"},{"slug":"ootb_account_engagement_level"}],
            "filter":{"attribute":{"slug":"ootb_account_engagement_level"},"clause":{"$lte":50}}}"#,
    )
    .unwrap()
}

const CSV: &str =
    "ootb_account_name,ootb_account_engagement_level\r\n\"Acme, Inc.\",12\r\nMüller,\"40\"\r\n";

fn run(
    script: &Script,
    store: &mut MemoryQuotaStore,
    opts: QueryOptions,
) -> (Result<QueryOutcome>, Collect) {
    let mut sink = Collect::default();
    let s = session();
    let out = block_on(run_query(script, &s, store, &query(), &opts, &mut sink));
    (out, sink)
}

#[test]
fn exchanges_a_token_then_streams_rows_split_anywhere() {
    for n in [1, 2, 3, 7, 64] {
        let script = Script::new(vec![token(3600), Reply::chunked(200, CSV.as_bytes(), n)]);
        let mut store = MemoryQuotaStore::default();
        let (out, sink) = run(&script, &mut store, QueryOptions::default());
        let out = out.unwrap();
        assert_eq!(
            script.urls(),
            vec![
                "https://api.test/v3/auth/tokens",
                "https://api.test/v3/beta/insights/export"
            ]
        );
        let sent = script.sent.borrow();
        assert_eq!(sent[1].header("authorization"), Some("Bearer tok-3600"));
        assert!(String::from_utf8_lossy(sent[1].body.as_ref().unwrap()).contains("\"$lte\":50"));
        assert_eq!(
            sink.rows,
            vec![vec!["Acme, Inc.", "12"], vec!["Müller", "40"]]
        );
        assert_eq!(sink.raw, CSV.as_bytes());
        assert_eq!(
            sink.missing,
            vec![Column {
                slug: "nope".into(),
                variation_id: None
            }]
        );
        assert_eq!(out.missing, sink.missing);
        assert_eq!((out.rows, out.calls_left), (2, 9));
        assert_eq!(sink.phases, vec!["token", "request", "download", "done"]);
    }
}

#[test]
fn a_spent_allowance_sends_nothing_unless_forced() {
    let script = Script::new(vec![]);
    let mut store = MemoryQuotaStore::default();
    let day = (script.now.get() / 86_400_000.0).floor() as i64;
    store.save(format!("{{\"day\":{day},\"used\":10}}"));
    let (out, _) = run(&script, &mut store, QueryOptions::default());
    assert_eq!(out.unwrap_err().code(), "E_QUOTA_EXHAUSTED");
    assert!(script.sent.borrow().is_empty());
    let script = Script::new(vec![token(60), Reply::new(200, CSV)]);
    let (out, _) = run(
        &script,
        &mut store,
        QueryOptions {
            force: true,
            ..Default::default()
        },
    );
    assert_eq!(out.unwrap().calls_left, 0);
}

#[test]
fn vendor_429_marks_the_day_spent_and_carries_retry_after() {
    let script = Script::new(vec![
        token(60),
        Reply::new(429, r#"{"error":"daily limit"}"#).header("Retry-After", "120"),
    ]);
    let mut store = MemoryQuotaStore::default();
    let (out, _) = run(&script, &mut store, QueryOptions::default());
    let e = out.unwrap_err();
    assert_eq!(
        (e.code(), e.retry_after_ms()),
        ("E_RATE_LIMITED", Some(120_000))
    );
    assert_eq!(exportkit::driver::calls_left(&store, script.now.get()), 0);
    assert_eq!(
        script.sent.borrow().len(),
        2,
        "a Query API call is never retried on its own"
    );
}

#[test]
fn server_errors_on_the_export_are_not_retried_but_token_errors_are() {
    let script = Script::new(vec![
        Reply::new(503, ""),
        Reply::NetworkError,
        token(60),
        Reply::new(502, "bad gateway"),
    ]);
    let mut store = MemoryQuotaStore::default();
    let (out, _) = run(&script, &mut store, QueryOptions::default());
    let e = out.unwrap_err();
    assert_eq!((e.code(), e.status()), ("E_HTTP", Some(502)));
    assert_eq!(
        script
            .urls()
            .iter()
            .filter(|u| u.ends_with("/export"))
            .count(),
        1
    );
    assert_eq!(
        script.slept.borrow().len(),
        2,
        "two backoffs before the token exchange succeeded"
    );
    assert_eq!(
        exportkit::driver::calls_left(&store, script.now.get()),
        9,
        "the failed call still counts"
    );
}

#[test]
fn a_revoked_token_is_replaced_once() {
    let script = Script::new(vec![
        token(3600),
        Reply::new(200, CSV),
        Reply::new(401, ""),
        token(3600),
        Reply::new(200, CSV),
    ]);
    let mut store = MemoryQuotaStore::default();
    let s = session();
    let mut sink = Collect::default();
    block_on(run_query(
        &script,
        &s,
        &mut store,
        &query(),
        &QueryOptions::default(),
        &mut sink,
    ))
    .unwrap();
    // The second run reuses the cached token, which the vendor now refuses.
    let mut sink = Collect::default();
    let out = block_on(run_query(
        &script,
        &s,
        &mut store,
        &query(),
        &QueryOptions::default(),
        &mut sink,
    ));
    assert_eq!(out.unwrap().rows, 2);
    let sent = script.sent.borrow();
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[2].header("authorization"), Some("Bearer tok-3600"));
    assert!(sent[3].url.ends_with("/v3/auth/tokens"));
}

#[test]
fn bad_credentials_are_an_auth_error_without_the_secret() {
    // Refused in the form, HTTP Basic and JSON encodings alike (one try each, issue 15 §3).
    let refused = || {
        Reply::new(
            401,
            r#"{"error":"invalid_client","client_secret":"csecret"}"#,
        )
    };
    let script = Script::new(vec![refused(), refused(), refused()]);
    let mut store = MemoryQuotaStore::default();
    let (out, _) = run(&script, &mut store, QueryOptions::default());
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_AUTH");
    assert!(!e.to_string().contains("csecret"), "{e}");
    assert!(!format!("{e:?}").contains("csecret"));
    assert_eq!(
        script.sent.borrow().len(),
        3,
        "three token requests, no more"
    );
    assert_eq!(
        exportkit::driver::calls_left(&store, script.now.get()),
        10,
        "no export call was made"
    );
}

#[test]
fn an_error_body_with_200_an_empty_body_and_a_cut_body_are_errors() {
    let mut store = MemoryQuotaStore::default();
    let script = Script::new(vec![
        token(60),
        Reply::new(200, r#"{"error":"boom"}"#).header("Content-Type", "application/json"),
    ]);
    assert_eq!(
        run(&script, &mut store, QueryOptions::default())
            .0
            .unwrap_err()
            .code(),
        "E_HTTP"
    );
    let script = Script::new(vec![token(60), Reply::new(200, "")]);
    assert_eq!(
        run(&script, &mut store, QueryOptions::default())
            .0
            .unwrap_err()
            .code(),
        "E_DECODE"
    );
    let script = Script::new(vec![
        token(60),
        Reply::chunked(200, CSV.as_bytes(), 10).cut_short(),
    ]);
    assert_eq!(
        run(&script, &mut store, QueryOptions::default())
            .0
            .unwrap_err()
            .code(),
        "E_NETWORK"
    );
}

#[test]
fn strict_mode_fails_on_a_ragged_row_and_lenient_mode_reports_it() {
    let body = "a,b\r\n1,2\r\n3\r\n";
    let mut store = MemoryQuotaStore::default();
    let script = Script::new(vec![token(60), Reply::new(200, body)]);
    let out = run(&script, &mut store, QueryOptions::default()).0.unwrap();
    assert_eq!((out.rows, out.errors.len(), out.errors[0].line), (2, 1, 3));
    let script = Script::new(vec![token(60), Reply::new(200, body)]);
    let e = run(
        &script,
        &mut store,
        QueryOptions {
            strict: true,
            ..Default::default()
        },
    )
    .0
    .unwrap_err();
    assert_eq!(e.code(), "E_DECODE");
}

#[test]
fn abort_stops_before_the_next_request() {
    let script = Script::new(vec![token(60), Reply::new(200, CSV)]);
    script.abort_after_sends.set(Some(1));
    let mut store = MemoryQuotaStore::default();
    assert_eq!(
        run(&script, &mut store, QueryOptions::default())
            .0
            .unwrap_err()
            .code(),
        "E_ABORTED"
    );
    assert_eq!(script.sent.borrow().len(), 1);
}
