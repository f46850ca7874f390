//! The Raw Activity Data API in the wasm build over real fetch, against the shared sandbox: a job's
//! whole lifecycle, a long range run as windows, a failed job, CSV flattening, and validation
//! before any call. Contents are compared with the sandbox's ground truth.

use exportkit::wasm::BackstoryCore;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use serde_json::Value;
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
export async function sbText(url, method, body) {
  const r = await fetch(url, { method, body, headers: body ? { "Content-Type": "application/json" } : {} });
  return await r.text();
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = sbText)]
    async fn sb_text(url: &str, method: &str, body: JsValue) -> JsValue;
}

async fn sandbox(path: &str, body: Option<&str>) -> String {
    let method = if body.is_some() { "POST" } else { "GET" };
    let b = body.map(JsValue::from_str).unwrap_or(JsValue::UNDEFINED);
    sb_text(&format!("{SANDBOX}{path}"), method, b)
        .await
        .as_string()
        .unwrap_or_default()
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn text(o: &JsValue, k: &str) -> String {
    get(o, k).as_string().unwrap_or_default()
}

fn client() -> BackstoryCore {
    BackstoryCore::new(SANDBOX, "sandbox-client-id", "sandbox-client-secret")
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

fn lines(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[derive(Default)]
struct Got {
    records: Vec<Value>,
    csv: String,
    bytes: Vec<u8>,
    states: Vec<String>,
    batches: u32,
}

/// Options with callbacks that gather what arrives. The closures are leaked: a test is short.
fn options(got: &Rc<RefCell<Got>>, extra: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    let g = got.clone();
    let on_batch = Closure::<dyn FnMut(JsValue)>::new(move |b: JsValue| {
        let mut g = g.borrow_mut();
        g.batches += 1;
        match text(&b, "kind").as_str() {
            "records" => {
                let v: Vec<Value> = serde_json::from_str(&text(&b, "text")).unwrap();
                assert_eq!(v.len() as f64, get(&b, "count").as_f64().unwrap());
                g.records.extend(v);
            }
            "csv" => g.csv.push_str(&text(&b, "text")),
            _ => g
                .bytes
                .extend(get(&b, "bytes").dyn_into::<Uint8Array>().unwrap().to_vec()),
        }
    });
    let g = got.clone();
    let on_job = Closure::<dyn FnMut(JsValue)>::new(move |j: JsValue| {
        g.borrow_mut().states.push(text(&j, "state"));
    });
    Reflect::set(
        &o,
        &"onBatch".into(),
        on_batch.as_ref().unchecked_ref::<Function>(),
    )
    .unwrap();
    Reflect::set(
        &o,
        &"onJob".into(),
        on_job.as_ref().unchecked_ref::<Function>(),
    )
    .unwrap();
    on_batch.forget();
    on_job.forget();
    Reflect::set(&o, &"pollIntervalMs".into(), &JsValue::from(100)).unwrap();
    for (k, v) in extra {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o
}

#[wasm_bindgen_test]
async fn a_job_runs_queued_running_completed_and_its_rows_are_the_truth() {
    sandbox("/__sandbox/reset", Some("{}")).await;
    let c = client();
    let job = c
        .activities_start(
            r#"{"startDate":"2024-03-01","endDate":"2024-03-10","activityType":"meeting"}"#.into(),
            Object::new().into(),
        )
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(text(&job, "state"), "Queued");
    let id = text(&job, "jobId");
    let got = Rc::new(RefCell::new(Got::default()));
    let done = c
        .activities_wait(id.clone(), options(&got, &[]).into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    assert_eq!(text(&done, "state"), "Completed");
    let states = got.borrow().states.clone();
    assert_eq!(states.first().map(String::as_str), Some("Queued"));
    assert!(states.contains(&"Running".to_string()), "{states:?}");
    assert_eq!(states.last().map(String::as_str), Some("Completed"));
    let listed: Array = c.activities_list(Object::new().into()).await.unwrap();
    assert!(listed.iter().any(|j| text(&j, "jobId") == id));

    let got = Rc::new(RefCell::new(Got::default()));
    let opts = options(
        &got,
        &[
            ("concurrency", JsValue::from(3)),
            ("batchRecords", JsValue::from(50)),
        ],
    );
    let out = c
        .activities_rows(id.clone(), opts.into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let truth = sandbox(&format!("/__sandbox/truth/activities?job_id={id}"), None).await;
    let expected = lines(&truth);
    assert!(expected.len() > 50);
    assert_eq!(
        got.borrow().records,
        expected,
        "every record, in order, exactly once"
    );
    assert!(expected.iter().all(|r| r["type"] == "meeting"));
    assert_eq!(get(&out, "records").as_f64(), Some(expected.len() as f64));
    assert_eq!(get(&out, "bytes").as_f64(), Some(truth.len() as f64));
}

#[wasm_bindgen_test]
async fn a_long_range_runs_as_windows_delivered_in_date_order() {
    sandbox("/__sandbox/reset", Some("{}")).await;
    sandbox("/__sandbox/config", Some(r#"{"jobSpeed":20}"#)).await;
    let got = Rc::new(RefCell::new(Got::default()));
    let opts = options(
        &got,
        &[
            ("format", "jsonl".into()),
            ("concurrency", JsValue::from(2)),
        ],
    );
    let params = r#"{"startDate":"2024-01-01","endDate":"2024-02-20"}"#;
    let windows = BackstoryCore::plan_activity_export(params).unwrap();
    assert_eq!(windows.length(), 4);
    let out = client().activities_export(params.into(), opts.into()).await;
    sandbox("/__sandbox/config", Some(r#"{"jobSpeed":1}"#)).await;
    let out = out.map_err(|e| format!("{e:?}")).unwrap();
    let truth = sandbox(
        "/__sandbox/truth/activities?start_date=2024-01-01&end_date=2024-02-20",
        None,
    )
    .await;
    assert_eq!(
        String::from_utf8(got.borrow().bytes.clone()).unwrap(),
        truth,
        "the JSON Lines byte for byte"
    );
    let jobs: Array = get(&out, "jobs").dyn_into().unwrap();
    assert_eq!(jobs.length(), 4);
}

#[wasm_bindgen_test]
async fn csv_has_one_header_and_one_row_per_participant_when_exploded() {
    sandbox("/__sandbox/reset", Some("{}")).await;
    let c = client();
    let job = c
        .activities_start(
            r#"{"startDate":"2024-05-01","endDate":"2024-05-03"}"#.into(),
            Object::new().into(),
        )
        .await
        .unwrap();
    let id = text(&job, "jobId");
    sandbox(&format!("/__sandbox/jobs/{id}/complete"), Some("{}")).await;
    let got = Rc::new(RefCell::new(Got::default()));
    let opts = options(
        &got,
        &[("format", "csv".into()), ("explode", "participants".into())],
    );
    let out = c
        .activities_rows(id.clone(), opts.into())
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    let truth = lines(&sandbox(&format!("/__sandbox/truth/activities?job_id={id}"), None).await);
    let rows: usize = truth
        .iter()
        .map(|r| r["participants"].as_array().map_or(1, |a| a.len().max(1)))
        .sum();
    assert_eq!(get(&out, "rows").as_f64(), Some(rows as f64));
    let csv = got.borrow().csv.clone();
    assert!(csv.starts_with("uid,source_id,type,created,"));
    assert_eq!(csv.matches("uid,source_id").count(), 1, "one header");
    let first_uid = truth[0]["uid"].as_str().unwrap();
    let second_line = csv.split("\r\n").nth(1).unwrap();
    assert!(second_line.starts_with(first_uid), "{second_line}");
}

#[wasm_bindgen_test]
async fn a_failed_job_is_reported_with_its_id_and_bad_parameters_cost_no_call() {
    sandbox("/__sandbox/reset", Some("{}")).await;
    let c = client();
    let job = c
        .activities_start(
            r#"{"startDate":"2024-05-01","endDate":"2024-05-02"}"#.into(),
            Object::new().into(),
        )
        .await
        .unwrap();
    let id = text(&job, "jobId");
    sandbox(&format!("/__sandbox/jobs/{id}/fail"), Some("{}")).await;
    let got = Rc::new(RefCell::new(Got::default()));
    let e = c
        .activities_wait(id.clone(), options(&got, &[]).into())
        .await
        .unwrap_err();
    assert_eq!(text(&e, "code"), "E_JOB_FAILED");
    assert_eq!(text(&e, "jobId"), id);
    assert_eq!(text(&e, "state"), "Failed");
    let e = c
        .activities_rows(id.clone(), Object::new().into())
        .await
        .unwrap_err();
    assert_eq!(text(&e, "code"), "E_JOB_FAILED");

    let before = sandbox("/__sandbox/state", None).await;
    for (params, field) in [
        (
            r#"{"startDate":"2024-01-01","endDate":"2024-01-15"}"#,
            "endDate",
        ),
        (
            r#"{"startDate":"2024-02-30","endDate":"2024-03-01"}"#,
            "startDate",
        ),
        (
            r#"{"start_date":"2024-01-01","end_date":"2024-01-02","activity_type":"sms"}"#,
            "activity_type",
        ),
        (
            r#"{"startDate":"2024-01-01","endDate":"2024-01-02","outputFormat":"CSV"}"#,
            "outputFormat",
        ),
    ] {
        let e = c
            .activities_start(params.into(), Object::new().into())
            .await
            .unwrap_err();
        assert_eq!(
            (text(&e, "code"), text(&e, "field")),
            ("E_INVALID_ARGUMENT".into(), field.into()),
            "{params}"
        );
    }
    let o = Object::new();
    Reflect::set(&o, &"concurrency".into(), &JsValue::from(7)).unwrap();
    let e = c.activities_rows(id, o.into()).await.unwrap_err();
    assert_eq!(text(&e, "field"), "concurrency");
    let after = sandbox("/__sandbox/state", None).await;
    let jobs = |s: &str| serde_json::from_str::<Value>(s).unwrap()["activityJobs"].clone();
    assert_eq!(jobs(&before), jobs(&after), "no job was created");
}
