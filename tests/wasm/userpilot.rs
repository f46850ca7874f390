//! Userpilot in the wasm build over real fetch, against the shared sandbox: the job lifecycle,
//! 409 both ways, both formats, link expiry mid-download, the twelve lookups with cursor walks
//! and the no-plan key, with contents compared to the sandbox's truth. In Chromium the files go
//! through the browser's DecompressionStream, and once through the Rust inflater.
//! The sandbox settings changed here (job speed, link lifetime, clock) are put back at the end.

use exportkit::wasm::UserpilotCore;
use js_sys::{Function, Object, Promise, Reflect};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;
use wasm_bindgen_test::*;

const SANDBOX: &str = match option_env!("EXPORTKIT_SANDBOX_URL") {
    Some(u) => u,
    None => "http://127.0.0.1:47990",
};
const KEY: &str = "sandbox-userpilot-key";

#[wasm_bindgen(inline_js = r#"
export async function upFetchText(url, method, body) {
  const r = await fetch(url, { method, body, headers: body ? { "Content-Type": "application/json" } : {} });
  return await r.text();
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = upFetchText)]
    async fn fetch_text(url: &str, method: &str, body: JsValue) -> JsValue;
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &JsValue::from_str(k), v).unwrap();
}

fn s(o: &JsValue, k: &str) -> String {
    get(o, k).as_string().unwrap_or_default()
}

async fn text(path: &str, body: Option<Value>) -> String {
    let method = if body.is_some() || path.ends_with("reset") {
        "POST"
    } else {
        "GET"
    };
    let b = body
        .map(|v| JsValue::from_str(&v.to_string()))
        .unwrap_or(JsValue::UNDEFINED);
    fetch_text(&format!("{SANDBOX}{path}"), method, b)
        .await
        .as_string()
        .unwrap()
}

async fn sandbox(path: &str, body: Option<Value>) -> Value {
    serde_json::from_str(&text(path, body).await).unwrap_or(Value::Null)
}

async fn truth_lines(query: &str) -> Vec<Value> {
    text(&format!("/__sandbox/truth/userpilot/events?{query}"), None)
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Fresh jobs, fast jobs, long-lived links; returns the clock offset to restore.
async fn setup() -> Value {
    let state = sandbox("/__sandbox/state", None).await;
    text("/__sandbox/reset", None).await;
    sandbox(
        "/__sandbox/config",
        Some(json!({"jobSpeed": 40, "linkTtlSeconds": 172800, "eventsPerDay": 120})),
    )
    .await;
    state["config"].clone()
}

async fn teardown(config: Value) {
    text("/__sandbox/reset", None).await;
    sandbox(
        "/__sandbox/config",
        Some(json!({
            "jobSpeed": config["jobSpeed"], "linkTtlSeconds": config["linkTtlSeconds"],
            "eventsPerDay": config["eventsPerDay"], "noplanStatus": config["noplanStatus"],
        })),
    )
    .await;
    sandbox(
        "/__sandbox/clock",
        Some(json!({"offsetMs": config["clockOffsetMs"].as_f64().unwrap_or(0.0)})),
    )
    .await;
}

fn core(key: &str) -> UserpilotCore {
    UserpilotCore::new(SANDBOX, key)
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

fn opts(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        set(&o, k, v);
    }
    o.into()
}

async fn start_and_wait(c: &UserpilotCore, params: Value) -> String {
    let job = c
        .start(params.to_string(), Object::new().into())
        .await
        .map_err(|e| s(&e, "message"))
        .unwrap();
    let id = s(&job, "jobId");
    let done = c
        .wait(id.clone(), opts(&[("pollMs", 20.into())]))
        .await
        .map_err(|e| s(&e, "message"))
        .unwrap();
    assert_eq!(s(&done, "status"), "completed");
    id
}

#[derive(Default)]
struct Got {
    records: Vec<Value>,
    rows: Vec<Vec<String>>,
    header: Vec<String>,
}

/// Runs `rows`; `on_first_batch` runs (awaited) when the first batch of file 0 arrives.
async fn rows(
    c: &UserpilotCore,
    id: &str,
    extra: &[(&str, JsValue)],
    on_first_batch: Option<Value>,
) -> (Got, JsValue) {
    let got = Rc::new(RefCell::new(Got::default()));
    let hook = Rc::new(RefCell::new(on_first_batch));
    let (g1, h1) = (got.clone(), hook.clone());
    let on_records = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |b: JsValue| {
        let v: Vec<Value> = serde_json::from_str(&s(&b, "text")).unwrap();
        assert_eq!(v.len() as f64, get(&b, "count").as_f64().unwrap());
        g1.borrow_mut().records.extend(v);
        let advance = h1.borrow_mut().take();
        future_to_promise(async move {
            if let Some(body) = advance {
                sandbox("/__sandbox/clock", Some(body)).await;
            }
            Ok(JsValue::UNDEFINED)
        })
    });
    let g2 = got.clone();
    let on_rows = Closure::<dyn FnMut(JsValue)>::new(move |b: JsValue| {
        let header: js_sys::Array = get(&b, "header").dyn_into().unwrap();
        let batch = get(&b, "batch");
        let text = s(&batch, "text");
        let ends: js_sys::Uint32Array = get(&batch, "fieldEnds").dyn_into().unwrap();
        let row_ends: js_sys::Uint32Array = get(&batch, "rowEnds").dyn_into().unwrap();
        let units: Vec<u16> = text.encode_utf16().collect();
        let (mut f, mut start) = (0u32, 0usize);
        let mut g = g2.borrow_mut();
        g.header = header.iter().map(|h| h.as_string().unwrap()).collect();
        for r in 0..row_ends.length() {
            let mut row = Vec::new();
            while f < row_ends.get_index(r) {
                let e = ends.get_index(f) as usize;
                row.push(String::from_utf16(&units[start..e]).unwrap());
                start = e;
                f += 1;
            }
            g.rows.push(row);
        }
    });
    let mut pairs: Vec<(&str, JsValue)> = vec![
        (
            "onRecords",
            on_records
                .as_ref()
                .unchecked_ref::<Function>()
                .clone()
                .into(),
        ),
        (
            "onRows",
            on_rows.as_ref().unchecked_ref::<Function>().clone().into(),
        ),
    ];
    pairs.extend(extra.iter().cloned());
    let summary = c
        .rows(id.to_string(), opts(&pairs))
        .await
        .unwrap_or_else(|e| e);
    drop(on_records);
    drop(on_rows);
    let g = std::mem::take(&mut *got.borrow_mut());
    (g, summary)
}

#[wasm_bindgen_test]
async fn userpilot_lifecycle_rows_both_decoders_and_both_formats() {
    let config = setup().await;
    let c = core(KEY);
    let id = start_and_wait(
        &c,
        json!({"from": "2024-01-08", "to": "2024-02-11", "eventType": ["track", "page_view"]}),
    )
    .await;
    let truth = truth_lines(&format!("job_id={id}")).await;
    for native in [true, false] {
        let (got, summary) = rows(
            &c,
            &id,
            &[
                ("nativeGunzip", native.into()),
                ("batchRecords", 150.into()),
                ("concurrency", 3.into()),
            ],
            None,
        )
        .await;
        assert_eq!(got.records, truth, "nativeGunzip {native}");
        assert_eq!(get(&summary, "records").as_f64(), Some(truth.len() as f64));
    }
    let (dd, summary) = rows(&c, &id, &[("dedupe", true.into())], None).await;
    assert_eq!(
        dd.records,
        truth_lines(&format!("job_id={id}&dedupe=1")).await
    );
    assert!(get(&summary, "duplicates").as_f64().unwrap() > 0.0);

    let csv_id = start_and_wait(
        &c,
        json!({"from": "2024-03-04", "to": "2024-03-10", "format": "csv"}),
    )
    .await;
    let (got, _) = rows(&c, &csv_id, &[("batchRecords", 64.into())], None).await;
    let raw = text(
        &format!("/__sandbox/truth/userpilot/events?job_id={csv_id}&file=2024-03-04.csv.gz&raw=1"),
        None,
    )
    .await;
    let mut lines = raw.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(got.header, header);
    let want = truth_lines(&format!("job_id={csv_id}")).await;
    assert_eq!(got.rows.len(), want.len());
    for (row, rec) in got.rows.iter().zip(&want) {
        assert_eq!(row[7], rec["internal_event_id"].as_str().unwrap());
        assert_eq!(
            serde_json::from_str::<Value>(&row[8]).unwrap(),
            rec["metadata"]
        );
    }
    teardown(config).await;
}

#[wasm_bindgen_test]
async fn userpilot_409_names_the_running_job_and_can_wait_for_it() {
    let config = setup().await;
    let c = core(KEY);
    // 300 monthly partitions: minutes at this job speed, so it is surely still running below.
    let first = c
        .start(
            json!({"from": "2000-01-01", "to": "2024-12-31"}).to_string(),
            Object::new().into(),
        )
        .await
        .unwrap();
    let first_id = s(&first, "jobId");
    let e = c
        .start(
            json!({"from": "2024-02-01", "to": "2024-02-01"}).to_string(),
            Object::new().into(),
        )
        .await
        .unwrap_err();
    assert_eq!(s(&e, "code"), "E_CONFLICT");
    assert_eq!(s(&e, "jobId"), first_id);
    assert_eq!(get(&e, "status").as_f64(), Some(409.0));
    // Once it waits, the running job is made to finish.
    let on_waiting = Closure::<dyn FnMut(JsValue)>::new(move |id: JsValue| {
        let id = id.as_string().unwrap_or_default();
        wasm_bindgen_futures::spawn_local(async move {
            sandbox(&format!("/__sandbox/jobs/{id}/complete"), Some(json!({}))).await;
        });
    });
    let second = c
        .start(
            json!({"from": "2024-02-01", "to": "2024-02-01"}).to_string(),
            opts(&[
                ("waitForRunning", true.into()),
                ("pollMs", 20.into()),
                (
                    "onWaiting",
                    on_waiting
                        .as_ref()
                        .unchecked_ref::<Function>()
                        .clone()
                        .into(),
                ),
            ]),
        )
        .await
        .map_err(|e| s(&e, "message"))
        .unwrap();
    assert_ne!(s(&second, "jobId"), first_id);
    let job = c.get(first_id, Object::new().into()).await.unwrap();
    assert_eq!(s(&job, "status"), "completed");
    assert_eq!(get(&get(&job, "progress"), "total").as_f64(), Some(300.0));
    drop(on_waiting);
    teardown(config).await;
}

#[wasm_bindgen_test]
async fn userpilot_an_expired_link_mid_download_is_renewed_with_exact_contents() {
    let config = setup().await;
    sandbox("/__sandbox/config", Some(json!({"linkTtlSeconds": 60}))).await;
    let c = core(KEY);
    let id = start_and_wait(&c, json!({"from": "2024-04-01", "to": "2024-04-28"})).await;
    let truth = truth_lines(&format!("job_id={id}")).await;
    let (got, summary) = rows(
        &c,
        &id,
        &[("concurrency", 1.into()), ("batchRecords", 100.into())],
        Some(json!({"advanceMs": 120000})),
    )
    .await;
    assert_eq!(got.records, truth);
    assert_eq!(
        get(&summary, "renewals").as_f64(),
        Some(1.0),
        "{:?}",
        s(&summary, "message")
    );
    // A gzip body cut short (a clean end, no error from the server) must be noticed by either
    // decoder, the runtime's or ours, and fetched again: never a short success.
    for native in [true, false] {
        sandbox(
            "/__sandbox/faults",
            Some(json!({"scope": "userpilot.file", "fault": "truncate", "afterBytes": 4000, "nth": 1})),
        )
        .await;
        let (got, summary) = rows(&c, &id, &[("nativeGunzip", native.into())], None).await;
        assert_eq!(
            got.records,
            truth,
            "nativeGunzip {native}: {:?}",
            s(&summary, "message")
        );
        assert_eq!(get(&summary, "restarts").as_f64(), Some(1.0));
        sandbox("/__sandbox/faults/clear", Some(json!({}))).await;
    }
    teardown(config).await;
}

#[wasm_bindgen_test]
async fn userpilot_twelve_lookups_walk_their_cursors_and_the_no_plan_key_is_refused() {
    let config = setup().await;
    let c = core(KEY);
    let names: Vec<String> = UserpilotCore::lookup_names()
        .iter()
        .map(|n| n.as_string().unwrap())
        .collect();
    assert_eq!(names.len(), 12);
    for name in &names {
        let truth = sandbox(&format!("/__sandbox/truth/userpilot/lookups/{name}"), None).await;
        let pages = Rc::new(RefCell::new(Vec::<Value>::new()));
        let p2 = pages.clone();
        let on_page = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
            let data = js_sys::JSON::stringify(&get(&p, "data"))
                .unwrap()
                .as_string()
                .unwrap();
            p2.borrow_mut().push(serde_json::from_str(&data).unwrap());
        });
        let paginated = name == "events_properties" || name == "segments";
        let mut pairs = vec![(
            "onPage",
            on_page.as_ref().unchecked_ref::<Function>().clone().into(),
        )];
        if paginated {
            pairs.push(("limit", 23.into()));
        }
        let out = c.lookup_pages(name.clone(), opts(&pairs)).await.unwrap();
        let pages = pages.borrow();
        let all: Vec<Value> = pages
            .iter()
            .flat_map(|p| p.as_array().unwrap().clone())
            .collect();
        assert_eq!(Value::Array(all), truth, "{name}");
        let n = truth.as_array().unwrap().len();
        let expect_pages = if paginated { n.div_ceil(23) } else { 1 };
        assert_eq!(
            get(&out, "pages").as_f64(),
            Some(expect_pages as f64),
            "{name}"
        );
    }
    let e = c
        .lookup("embed".into(), Object::new().into())
        .await
        .unwrap_err();
    assert_eq!(s(&e, "field"), "name");
    let noplan = core("sandbox-userpilot-noplan");
    let e = noplan
        .start(
            json!({"from": "2024-01-01", "to": "2024-01-02"}).to_string(),
            Object::new().into(),
        )
        .await
        .unwrap_err();
    assert_eq!(s(&e, "code"), "E_AUTH");
    assert_eq!(get(&e, "status").as_f64(), Some(403.0));
    assert!(s(&e, "message").contains("does not support the feature"));
    let e = c
        .start(
            json!({"from": "2024-01-01", "to": "2023-01-02"}).to_string(),
            Object::new().into(),
        )
        .await
        .unwrap_err();
    assert_eq!(s(&e, "field"), "to");
    teardown(config).await;
}
