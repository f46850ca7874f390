//! wasm-bindgen tests shared by the Node and the Chromium runs: the real wasm build calling the
//! sandbox over real fetch. The sandbox URL is fixed at compile time (scripts/test.sh starts the
//! sandbox there), since a browser test cannot read the environment.

use exportkit::wasm::BackstoryCore;
use js_sys::{Array, Function, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

pub const SANDBOX: &str = match option_env!("EXPORTKIT_SANDBOX_URL") {
    Some(u) => u,
    None => "http://127.0.0.1:47990",
};

#[wasm_bindgen(inline_js = r#"
export async function http(url, method, body) {
  const r = await fetch(url, { method, body, headers: body ? { "Content-Type": "application/json" } : {} });
  return { status: r.status, text: await r.text() };
}
export function decode(chunks) {
  const d = new TextDecoder();
  return chunks.map((c) => d.decode(c, { stream: true })).join("") + d.decode();
}
// An independent RFC 4180 record counter (quote-aware), so the row count is not checked with the
// parser under test.
export function countCsvRecords(text) {
  let n = 0, inQuotes = false, fieldStart = true, any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"') { if (text[i + 1] === '"') i++; else inQuotes = false; }
    } else if (c === '"' && fieldStart) { inQuotes = true; any = true; fieldStart = false; }
    else if (c === "\n") { if (any) n++; any = false; fieldStart = true; }
    else if (c === "\r") { /* part of CRLF */ }
    else { any = true; fieldStart = c === ","; }
  }
  return any ? n + 1 : n;
}
export function abortedSignal() { const c = new AbortController(); c.abort(); return c.signal; }
"#)]
extern "C" {
    async fn http(url: &str, method: &str, body: JsValue) -> JsValue;
    fn decode(chunks: &Array) -> String;
    #[wasm_bindgen(js_name = countCsvRecords)]
    fn count_csv_records(text: &str) -> u32;
    #[wasm_bindgen(js_name = abortedSignal)]
    fn aborted_signal() -> JsValue;
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

async fn control(path: &str, body: Option<&str>) -> String {
    let r = http(
        &format!("{SANDBOX}{path}"),
        if body.is_some() || path.ends_with("reset") {
            "POST"
        } else {
            "GET"
        },
        body.map(JsValue::from_str).unwrap_or(JsValue::UNDEFINED),
    )
    .await;
    get(&r, "text").as_string().unwrap()
}

async fn calls_today() -> f64 {
    let state: serde_json::Value =
        serde_json::from_str(&control("/__sandbox/state", None).await).unwrap();
    state["queryCallsToday"].as_f64().unwrap_or(0.0)
}

fn client() -> BackstoryCore {
    BackstoryCore::new(SANDBOX, "sandbox-client-id", "sandbox-client-secret")
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

fn err_field(e: &JsValue, k: &str) -> Option<String> {
    get(e, k).as_string()
}

const QUERY: &str = r#"{"object":"account","columns":[{"slug":"ootb_account_crm_id"},{"slug":"ootb_account_name"},{"slug":"not_a_real_slug"},{"slug":"ootb_account_engagement_level"}],
  "filter":{"$and":[{"attribute":{"slug":"ootb_account_engagement_level"},"clause":{"$lte":50}},{"$or":[{"attribute":{"slug":"ootb_account_engagement_level"},"clause":{"$gte":10}},{"attribute":{"slug":"ootb_account_name"},"clause":{"$ne":"x"}}]}]},
  "sort":[{"attribute":{"slug":"ootb_account_engagement_level"},"direction":"desc"},{"attribute":{"slug":"ootb_account_name"},"direction":"asc"}]}"#;

#[wasm_bindgen_test]
async fn query_streams_exactly_the_sandbox_csv() {
    control("/__sandbox/reset", None).await;
    let truth = control("/__sandbox/truth/insights", Some(QUERY)).await;
    let raw = Array::new();
    let rows = Rc::new(RefCell::new(0u32));
    let batches = Rc::new(RefCell::new(0u32));
    let opts = Object::new();
    let raw2 = raw.clone();
    let on_raw = Closure::<dyn FnMut(JsValue)>::new(move |c: JsValue| {
        raw2.push(&c);
    });
    let (r2, b2) = (rows.clone(), batches.clone());
    let on_batch = Closure::<dyn FnMut(JsValue)>::new(move |b: JsValue| {
        *r2.borrow_mut() += get(&b, "rowEnds")
            .dyn_into::<js_sys::Uint32Array>()
            .unwrap()
            .length();
        *b2.borrow_mut() += 1;
    });
    Reflect::set(
        &opts,
        &"onRaw".into(),
        on_raw.as_ref().unchecked_ref::<Function>(),
    )
    .unwrap();
    Reflect::set(
        &opts,
        &"onBatch".into(),
        on_batch.as_ref().unchecked_ref::<Function>(),
    )
    .unwrap();
    Reflect::set(&opts, &"batchRows".into(), &JsValue::from(100)).unwrap();
    let out = client()
        .query(QUERY.to_string(), opts.into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(
        decode(&raw),
        truth,
        "the raw body is the sandbox's CSV byte for byte"
    );
    let expected_rows = count_csv_records(&truth) - 1;
    assert!(
        expected_rows > 100,
        "the fixture should span several batches"
    );
    assert_eq!(*rows.borrow(), expected_rows);
    assert_eq!(get(&out, "rowCount").as_f64(), Some(expected_rows as f64));
    assert!(*batches.borrow() >= expected_rows / 100);
    let missing: Array = get(&out, "missingColumns").dyn_into().unwrap();
    assert_eq!(missing.length(), 1);
    assert_eq!(
        get(&missing.get(0), "slug").as_string().as_deref(),
        Some("not_a_real_slug")
    );
    assert_eq!(get(&out, "callsLeft").as_f64(), Some(9.0));
    assert_eq!(calls_today().await, 1.0);
}

#[wasm_bindgen_test]
async fn invalid_queries_fail_before_any_call() {
    control("/__sandbox/reset", None).await;
    let bad = r#"{"object":"account","columns":[{"slug":"a","variation_id":"a_last_8_days"}]}"#;
    let e = client()
        .query(bad.into(), Object::new().into())
        .await
        .unwrap_err();
    assert_eq!(err_field(&e, "code").as_deref(), Some("E_INVALID_ARGUMENT"));
    assert_eq!(
        err_field(&e, "field").as_deref(),
        Some("columns[0].variation_id")
    );
    assert_eq!(err_field(&e, "name").as_deref(), Some("ExportError"));
    assert!(e.is_instance_of::<js_sys::Error>());
    let e = BackstoryCore::validate_query(r#"{"object":"account","columns":[{"slug":"a"}],"sort":[{"attribute":{"slug":"a"},"direction":"up"}]}"#).unwrap_err();
    assert_eq!(err_field(&e, "field").as_deref(), Some("sort[0].direction"));
    assert_eq!(calls_today().await, 0.0);
}

#[wasm_bindgen_test]
async fn wrong_credentials_are_e_auth_without_the_secret() {
    let c = BackstoryCore::new(SANDBOX, "sandbox-client-id", "wrong-secret-XYZ")
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let e = c
        .query(QUERY.into(), Object::new().into())
        .await
        .unwrap_err();
    assert_eq!(err_field(&e, "code").as_deref(), Some("E_AUTH"));
    assert_eq!(get(&e, "status").as_f64(), Some(401.0));
    assert!(!err_field(&e, "message")
        .unwrap()
        .contains("wrong-secret-XYZ"));
    let e = BackstoryCore::new("ftp://x", "a", "b").err().unwrap();
    assert_eq!(err_field(&e, "field").as_deref(), Some("baseUrl"));
}

#[wasm_bindgen_test]
async fn the_daily_allowance_is_counted_and_forcing_meets_the_vendors_429() {
    control("/__sandbox/reset", None).await;
    control("/__sandbox/config", Some(r#"{"dailyLimit":1}"#)).await;
    let store = Rc::new(RefCell::new(None::<String>));
    let opts = || {
        let o = Object::new();
        let s1 = store.clone();
        let load = Closure::<dyn FnMut() -> JsValue>::new(move || {
            s1.borrow()
                .clone()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL)
        });
        let s2 = store.clone();
        let save = Closure::<dyn FnMut(String)>::new(move |v: String| *s2.borrow_mut() = Some(v));
        Reflect::set(&o, &"quotaLoad".into(), load.as_ref()).unwrap();
        Reflect::set(&o, &"quotaSave".into(), save.as_ref()).unwrap();
        load.forget();
        save.forget();
        o
    };
    let small = r#"{"object":"user","columns":[{"slug":"ootb_user_email"}]}"#;
    let c = client();
    c.query(small.into(), opts().into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    // Pretend nine more calls were made elsewhere today: our count refuses the next one.
    let day = (js_sys::Date::now() / 86_400_000.0).floor();
    *store.borrow_mut() = Some(format!("{{\"day\":{day},\"used\":10}}"));
    let e = c.query(small.into(), opts().into()).await.unwrap_err();
    assert_eq!(err_field(&e, "code").as_deref(), Some("E_QUOTA_EXHAUSTED"));
    assert_eq!(calls_today().await, 1.0, "refused without a call");
    let o = opts();
    Reflect::set(&o, &"force".into(), &JsValue::TRUE).unwrap();
    let e = c.query(small.into(), o.into()).await.unwrap_err();
    assert_eq!(err_field(&e, "code").as_deref(), Some("E_RATE_LIMITED"));
    assert!(get(&e, "retryAfterMs").as_f64().unwrap() > 0.0);
    control("/__sandbox/reset", None).await;
    control("/__sandbox/config", Some(r#"{"dailyLimit":10}"#)).await;
}

#[wasm_bindgen_test]
async fn an_aborted_signal_stops_the_call() {
    let o = Object::new();
    Reflect::set(&o, &"signal".into(), &aborted_signal()).unwrap();
    let e = client().query(QUERY.into(), o.into()).await.unwrap_err();
    assert_eq!(err_field(&e, "code").as_deref(), Some("E_ABORTED"));
}

#[wasm_bindgen_test]
async fn an_expired_token_is_renewed_transparently() {
    control("/__sandbox/reset", None).await;
    let c = client();
    let small = r#"{"object":"user","columns":[{"slug":"ootb_user_email"}]}"#;
    c.query(small.into(), Object::new().into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    control("/__sandbox/tokens/expire", Some("{}")).await;
    let out = c
        .query(small.into(), Object::new().into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert!(get(&out, "rowCount").as_f64().unwrap() > 0.0);
    let _ = JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL)).await;
}
