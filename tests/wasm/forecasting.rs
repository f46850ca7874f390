//! The Forecasting Query run in the wasm build over real fetch, against the sandbox: every
//! parameter, pages compared record for record with the sandbox's truth, validation before any
//! call, the path override, errors and abort. Nothing here changes the shared sandbox's state.

use exportkit::wasm::BackstoryCore;
use js_sys::{Function, Object, Reflect};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

const SANDBOX: &str = match option_env!("EXPORTKIT_SANDBOX_URL") {
    Some(u) => u,
    None => "http://127.0.0.1:47990",
};

#[wasm_bindgen(inline_js = r#"
export async function fetchText(url, method, body) {
  const r = await fetch(url, { method, body, headers: body ? { "Content-Type": "application/json" } : {} });
  return await r.text();
}
export function abortedSignal() { const c = new AbortController(); c.abort(); return c.signal; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fetchText)]
    async fn fetch_text(url: &str, method: &str, body: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = abortedSignal)]
    fn aborted_signal() -> JsValue;
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &JsValue::from_str(k), v).unwrap();
}

async fn sandbox_json(path: &str, body: Option<&Value>) -> Value {
    let b = body
        .map(|v| JsValue::from_str(&v.to_string()))
        .unwrap_or(JsValue::UNDEFINED);
    let method = if body.is_some() { "POST" } else { "GET" };
    let text = fetch_text(&format!("{SANDBOX}{path}"), method, b).await;
    serde_json::from_str(&text.as_string().unwrap()).unwrap()
}

fn client() -> BackstoryCore {
    BackstoryCore::new(SANDBOX, "sandbox-client-id", "sandbox-client-secret")
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

struct Run {
    pages: Vec<(u32, u32, f64, u32)>,
    records: Vec<Value>,
    summary: JsValue,
    max_in_flight: f64,
}

/// Runs a query, collecting each page's records and headers as the JavaScript callback sees them.
async fn run(core: &BackstoryCore, params: &Value, opts: Object) -> Result<Run, JsValue> {
    let pages = Rc::new(RefCell::new(Vec::new()));
    let records = Rc::new(RefCell::new(Vec::new()));
    let in_flight = Rc::new(RefCell::new(0f64));
    let (p2, r2) = (pages.clone(), records.clone());
    let on_page = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        let n = |k: &str| get(&p, k).as_f64().unwrap();
        p2.borrow_mut().push((
            n("page") as u32,
            n("pageLast") as u32,
            n("totalCount"),
            n("limit") as u32,
        ));
        let body: Vec<Value> = serde_json::from_str(&get(&p, "body").as_string().unwrap()).unwrap();
        assert_eq!(body.len() as f64, n("count"));
        r2.borrow_mut().extend(body);
    });
    let f2 = in_flight.clone();
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        let n = get(&p, "inFlight").as_f64().unwrap_or(0.0);
        let mut m = f2.borrow_mut();
        *m = m.max(n);
    });
    set(
        &opts,
        "onPage",
        on_page.as_ref().unchecked_ref::<Function>(),
    );
    set(
        &opts,
        "onProgress",
        on_progress.as_ref().unchecked_ref::<Function>(),
    );
    let summary = core.forecast_query(params.to_string(), opts.into()).await?;
    drop((on_page, on_progress));
    let pages = pages.borrow().clone();
    let records = records.borrow().clone();
    let max_in_flight = *in_flight.borrow();
    Ok(Run {
        pages,
        records,
        summary,
        max_in_flight,
    })
}

fn opts(concurrency: u32) -> Object {
    let o = Object::new();
    set(&o, "concurrency", &JsValue::from(concurrency));
    o
}

async fn truth(params: &Value) -> Value {
    sandbox_json("/__sandbox/truth/forecasting", Some(params)).await
}

#[wasm_bindgen_test]
async fn every_parameter_gives_exactly_the_sandbox_records_over_many_pages() {
    let reference = sandbox_json("/__sandbox/truth/forecasting", None).await;
    let nodes = reference["hierarchy"].as_array().unwrap();
    let vp = nodes.iter().find(|n| n["level"] == 2).unwrap();
    let manager = nodes.iter().find(|n| n["level"] == 3).unwrap();
    let periods = reference["fiscal_periods"].as_array().unwrap();
    let past = periods.iter().find(|p| p["name"] == "FY2024 Q2").unwrap();
    let times = past["snapshot_times"].as_array().unwrap();
    let cases = [
        json!({"forecast_type_id": 10089, "per_page": 7}),
        json!({"forecast_type_id": 10090, "per_page": 9, "sort": "hierarchy_level", "fiscal_period_id": past["id"]}),
        json!({"forecast_type_id": 10091, "per_page": 25, "sort": "default", "fiscal_period_external_id": past["external_id"],
               "timeframe": {"snapshots": "all", "since": times[2], "until": times[6]}}),
        json!({"forecastTypeId": 10089, "perPage": 11, "hierarchyNodeId": vp["id"], "includeDescendants": true,
               "fiscalPeriodId": past["id"], "timeframe": {"snapshots": "all"}}),
        json!({"forecast_type_id": 10089, "per_page": 1000, "hierarchy_node_ownership_external_id": manager["external_id"],
               "include_descendants": false, "timeframe": {"snapshots": "all", "until": times[3]}, "fiscal_period_id": past["id"]}),
        json!({"forecast_type_id": 10090, "per_page": 5, "hierarchy_node_ownership_external_id": vp["external_id"],
               "include_descendants": true, "timeframe": {"snapshots": "latest", "since": times[0]}, "fiscal_period_id": past["id"]}),
        json!({"forecast_type_id": 10091, "per_page": 8, "page": 3, "fiscal_period_id": past["id"], "sort": "hierarchy_level"}),
    ];
    let core = client();
    for (i, params) in cases.iter().enumerate() {
        // The truth endpoint reads the wire form (snake_case), which is what the client sends.
        let wire: Value = serde_json::from_str(
            &BackstoryCore::validate_forecast_params(&params.to_string()).unwrap(),
        )
        .unwrap();
        let t = truth(&wire).await;
        let all = t["records"].as_array().unwrap().clone();
        let per_page = wire["per_page"].as_u64().unwrap() as usize;
        let first = wire.get("page").and_then(Value::as_u64).unwrap_or(1) as usize;
        let expected: Vec<Value> = all.iter().skip((first - 1) * per_page).cloned().collect();
        assert!(!expected.is_empty(), "case {i} selects records");
        let got = run(&core, params, opts(3))
            .await
            .map_err(|e| format!("case {i}: {e:?}"))
            .unwrap();
        assert_eq!(got.records, expected, "case {i}: {params}");
        let total = all.len() as f64;
        let last = (all.len().div_ceil(per_page)).max(1) as u32;
        let numbers: Vec<u32> = got.pages.iter().map(|p| p.0).collect();
        assert_eq!(
            numbers,
            (first as u32..=last).collect::<Vec<_>>(),
            "case {i}: pages in order"
        );
        assert!(
            got.pages
                .iter()
                .all(|p| p.1 == last && p.2 == total && p.3 == per_page as u32),
            "case {i}: headers"
        );
        assert_eq!(
            get(&got.summary, "records").as_f64(),
            Some(expected.len() as f64)
        );
        assert_eq!(get(&got.summary, "totalCount").as_f64(), Some(total));
        assert_eq!(get(&got.summary, "complete").as_bool(), Some(true));
        assert_eq!(
            js_sys::Array::from(&get(&got.summary, "totalChanges")).length(),
            0
        );
    }
    // Selection parameters did select: one node, or a subtree, as the hierarchy says.
    let one = truth(&cases[4]).await;
    assert!(one["records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["hierarchy_node_id"] == manager["id"]));
    let sub = truth(&json!({"forecast_type_id": 10089, "hierarchy_node_id": vp["id"], "include_descendants": true,
        "fiscal_period_id": past["id"], "timeframe": {"snapshots": "all"}})).await;
    assert!(sub["records"].as_array().unwrap().len() > times.len());
}

#[wasm_bindgen_test]
async fn pages_overlap_and_still_arrive_in_order() {
    let params =
        json!({"forecast_type_id": 10089, "per_page": 3, "timeframe": {"snapshots": "all"}});
    let t = truth(&params).await;
    let core = client();
    let got = run(&core, &params, opts(4))
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(&got.records, t["records"].as_array().unwrap());
    assert!(got.pages.len() > 20, "many pages: {}", got.pages.len());
    assert!(
        got.max_in_flight > 1.0,
        "pages were in flight together: {}",
        got.max_in_flight
    );
    assert!(got.max_in_flight <= 4.0);
    let one = run(&core, &params, opts(1))
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(one.records, got.records);
    assert!(one.max_in_flight <= 1.0);
    // maxPages stops early and says so.
    let o = opts(2);
    set(&o, "maxPages", &JsValue::from(2));
    let two = run(&core, &params, o)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(two.records, got.records[..6].to_vec());
    assert_eq!(get(&two.summary, "complete").as_bool(), Some(false));
}

fn code_and_field(e: &JsValue) -> (String, String) {
    (
        get(e, "code").as_string().unwrap_or_default(),
        get(e, "field").as_string().unwrap_or_default(),
    )
}

#[wasm_bindgen_test]
async fn every_validation_error_names_its_field_before_any_call() {
    // Nothing listens here: a request would be E_NETWORK, not E_INVALID_ARGUMENT.
    let offline = BackstoryCore::new("http://127.0.0.1:9", "id", "secret").unwrap();
    let cases = [
        (json!({"per_page": 10}), "forecast_type_id"),
        (
            json!({"forecast_type_id": "10089", "per_page": 10}),
            "forecast_type_id",
        ),
        (json!({"forecast_type_id": 10089}), "per_page"),
        (
            json!({"forecast_type_id": 10089, "per_page": 0}),
            "per_page",
        ),
        (
            json!({"forecast_type_id": 10089, "perPage": 1001}),
            "perPage",
        ),
        (
            json!({"forecast_type_id": 10089, "per_page": 10, "page": 0}),
            "page",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "fiscal_period_id": "a", "fiscal_period_external_id": "b"}),
            "fiscal_period_external_id",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "hierarchyNodeId": 1, "hierarchyNodeOwnershipExternalId": "b"}),
            "hierarchyNodeOwnershipExternalId",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "sort": "name"}),
            "sort",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "include_descendants": 1}),
            "include_descendants",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "timeframe": {"since": 1}}),
            "timeframe.snapshots",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "timeframe": {"snapshots": "some"}}),
            "timeframe.snapshots",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "timeframe": {"snapshots": "all", "since": 9, "until": 1}}),
            "timeframe.since",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "timeframe": {"snapshots": "all", "until": -1}}),
            "timeframe.until",
        ),
        (
            json!({"forecast_type_id": 1, "per_page": 10, "fiscal_period": "x"}),
            "fiscal_period",
        ),
    ];
    for (params, field) in cases {
        let e = BackstoryCore::validate_forecast_params(&params.to_string()).unwrap_err();
        assert_eq!(
            code_and_field(&e),
            ("E_INVALID_ARGUMENT".into(), field.into()),
            "{params}"
        );
        let e = offline
            .forecast_query(params.to_string(), Object::new().into())
            .await
            .unwrap_err();
        assert_eq!(
            code_and_field(&e),
            ("E_INVALID_ARGUMENT".into(), field.into()),
            "{params}"
        );
        assert_eq!(get(&e, "name").as_string().as_deref(), Some("ExportError"));
    }
    let ok = json!({"forecast_type_id": 10089, "per_page": 10});
    for (key, value, field) in [
        ("path", JsValue::from_str("no-slash"), "path"),
        ("path", JsValue::from_str("/x?y=1"), "path"),
        ("concurrency", JsValue::from(0), "concurrency"),
        ("concurrency", JsValue::from(7), "concurrency"),
        ("maxPages", JsValue::from(0.5), "maxPages"),
        ("onPage", JsValue::from(5), "onPage"),
    ] {
        let o = Object::new();
        set(&o, key, &value);
        let e = offline
            .forecast_query(ok.to_string(), o.into())
            .await
            .unwrap_err();
        assert_eq!(
            code_and_field(&e),
            ("E_INVALID_ARGUMENT".into(), field.into()),
            "{key}"
        );
    }
    let canonical = BackstoryCore::validate_forecast_params(
        r#"{"perPage":5,"forecastTypeId":1,"timeframe":{"snapshots":"all"}}"#,
    )
    .unwrap();
    assert_eq!(
        canonical,
        r#"{"forecast_type_id":1,"per_page":5,"timeframe":{"snapshots":"all"}}"#
    );
}

#[wasm_bindgen_test]
async fn the_path_can_be_overridden_and_vendor_errors_keep_their_status() {
    let core = client();
    let params = json!({"forecast_type_id": 10089, "per_page": 50});
    let o = opts(2);
    set(&o, "path", &JsValue::from_str("/v3/beta/forecasting/query"));
    let got = run(&core, &params, o)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert!(!got.records.is_empty());
    let o = opts(2);
    set(
        &o,
        "path",
        &JsValue::from_str("/v3/beta/forecasting/elsewhere"),
    );
    let e = run(&core, &params, o).await.err().unwrap();
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("E_HTTP"));
    assert_eq!(get(&e, "status").as_f64(), Some(404.0));
    let e = run(
        &core,
        &json!({"forecast_type_id": 99, "per_page": 5}),
        opts(2),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(get(&e, "status").as_f64(), Some(404.0));
    assert!(get(&e, "message")
        .as_string()
        .unwrap()
        .contains("forecast_type_id"));
    let wrong = BackstoryCore::new(SANDBOX, "sandbox-client-id", "not-the-secret-QQQ").unwrap();
    let e = run(&wrong, &params, opts(2)).await.err().unwrap();
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("E_AUTH"));
    assert!(!get(&e, "message").as_string().unwrap().contains("QQQ"));
    let o = opts(2);
    set(&o, "signal", &aborted_signal());
    let e = run(&core, &params, o).await.err().unwrap();
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("E_ABORTED"));
}
