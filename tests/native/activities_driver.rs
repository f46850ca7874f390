//! The Raw Activity Data run over a simulated vendor: jobs that queue and run two at a time and
//! refuse an eleventh, fragments whose reads take different numbers of polls so they finish out
//! of order, and switchable faults (a reset part way, a short body, a failed job, a bad line).
//! Time is the vendor's fake clock: sleeping advances it.

use super::script::{block_on, Delay};
use exportkit::core::auth::ClientCredentials;
use exportkit::core::http::HttpRequest;
use exportkit::driver::activities::{
    data_parts, download, download_from, run_export, wait_job, ActivitySink, Delivery,
    DownloadCheckpoint, DownloadOptions, ExportOptions, ExportOutcome, OutputKind, Place, Progress,
    WaitOptions,
};
use exportkit::driver::Session;
use exportkit::providers::backstory::activities::{ExportRequest, Job, JobState};
use exportkit::transport::{Body, ResponseHead, Transport};
use exportkit::{Error, Result};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

const DAY0: i64 = 19_723; // 2024-01-01
const WORK_MS: f64 = 3000.0;

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The connection drops after this many body bytes.
    Reset(usize),
    /// The body ends cleanly after this many bytes; `bool`: Content-Length still sent.
    Short(usize, bool),
    /// 503 before the body.
    Unavailable,
    /// The body stops sending after this many bytes and never ends.
    Stall(usize),
    /// 200 with a JSON error object instead of data.
    ErrorBody,
    /// The answer never comes.
    NoAnswer,
}

#[derive(Clone, Copy, Debug)]
enum CreateFault {
    /// The job is made, but the answer is a 502.
    MadeThen502,
    /// The job is made, but the connection drops before the answer.
    MadeThenReset,
    /// Refused with a 503 before anything is made.
    Unavailable,
}

/// How this vendor read the document where it is ambiguous (issue 15 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Numbering {
    /// `fragment` is the number of fragments: 0..fragment-1.
    #[default]
    Count,
    /// `fragment` is the highest index: 0..fragment.
    Index,
    /// No `fragment` field: everything from `/data`.
    Absent,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Form {
    /// Both `/data?fragment=N` and `/fragment?fragment=N`.
    #[default]
    Both,
    DataOnly,
    FragmentOnly,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Size {
    #[default]
    Exact,
    /// Announced without the last newline.
    NoFinalNewline,
    /// Announced as if compressed (a third).
    Compressed,
    Null,
    /// Fewer bytes than announced: a short export, still an error.
    Over,
}

#[derive(Clone, Copy)]
enum Stop {
    Reset,
    Clean,
    Hang,
}

struct VJob {
    id: String,
    start_day: i64,
    end_day: i64,
    created: f64,
    started: Option<f64>,
    fail: bool,
}

#[derive(Default)]
struct Vendor {
    now: Cell<f64>,
    jobs: RefCell<Vec<VJob>>,
    per_day: usize,
    per_fragment: usize,
    chunk: usize,
    /// (fragment, nth request for it from 1) -> fault.
    faults: RefCell<HashMap<(u32, u32), Fault>>,
    data_requests: RefCell<HashMap<(String, u32), u32>>,
    /// Line (1-based, in the job's whole data) made malformed.
    bad_line: Cell<Option<usize>>,
    fail_window: Cell<Option<usize>>,
    peak_active: Cell<usize>,
    peak_running: Cell<usize>,
    refused: Cell<usize>,
    handed: Rc<Cell<u64>>,
    /// Every body read answers at once (no fragment finishes before another).
    no_delay: bool,
    /// (nth create request from 1) -> what goes wrong with it.
    create_faults: RefCell<HashMap<u32, CreateFault>>,
    creates: Cell<u32>,
    /// Job status reads still to answer 200 with an error object.
    status_error_bodies: Cell<u32>,
    /// Job status reads never answer.
    status_hangs: Cell<bool>,
    log: RefCell<Vec<String>>,
    numbering: Numbering,
    form: Form,
    size: Size,
    /// Answers `Content-Encoding: gzip` with the compressed length; the body arrives decoded,
    /// as a runtime's fetch hands it over.
    encoded: bool,
}

fn record(day: i64, i: usize) -> String {
    let parts: Vec<String> = (0..(i % 4))
        .map(|k| {
            let team = if k % 2 == 0 {
                json!({"name": format!("T{k}")})
            } else {
                json!(null)
            };
            json!({"peopleai_id": format!("p{k}"), "name": format!("Ann \"{k}\", Ü"), "team": team})
                .to_string()
        })
        .collect();
    format!(
        r#"{{"uid":"d{day}-{i}","type":"email","timestamp":{},"subject":"re: {i}\nnext","stats":{{"words":{i}}},"crm_status":{{"status":"matched","synced":true}},"campaigns":[],"participants":[{}]}}"#,
        day * 86_400_000 + i as i64,
        parts.join(",")
    )
}

impl Vendor {
    fn new(per_day: usize, per_fragment: usize, chunk: usize) -> Vendor {
        let v = Vendor {
            per_day,
            per_fragment,
            chunk,
            ..Vendor::default()
        };
        v.now.set(1_700_000_000_000.0);
        v
    }

    /// All records of a day range, one line each.
    fn lines(&self, start: i64, end: i64) -> Vec<String> {
        (start..=end)
            .flat_map(|d| (0..self.per_day).map(move |i| record(d, i)))
            .collect()
    }

    fn pump(&self) {
        let now = self.now.get();
        let mut jobs = self.jobs.borrow_mut();
        let running = |j: &VJob| j.started.is_some_and(|s| now < s + WORK_MS) && !j.fail;
        loop {
            let n = jobs.iter().filter(|j| running(j)).count();
            match jobs.iter_mut().find(|j| j.started.is_none()) {
                Some(j) if n < 2 && now >= j.created + 500.0 => j.started = Some(now),
                _ => break,
            }
        }
        let active = jobs
            .iter()
            .filter(|j| j.started.is_none() || running(j))
            .count();
        self.peak_active.set(self.peak_active.get().max(active));
        self.peak_running.set(
            self.peak_running
                .get()
                .max(jobs.iter().filter(|j| running(j)).count()),
        );
    }

    fn state(&self, j: &VJob) -> &'static str {
        let now = self.now.get();
        match j.started {
            None => "Queued",
            Some(_) if j.fail => "Failed",
            Some(s) if now < s + WORK_MS => "Running",
            Some(_) => "Completed",
        }
    }

    fn fragments(&self, j: &VJob) -> Vec<String> {
        let mut lines = self.lines(j.start_day, j.end_day);
        if let Some(b) = self.bad_line.get() {
            if let Some(l) = lines.get_mut(b - 1) {
                l.pop(); // loses its closing brace
                l.push(' ');
            }
        }
        lines
            .chunks(self.per_fragment.max(1))
            .map(|c| c.iter().map(|l| format!("{l}\n")).collect())
            .collect()
    }

    fn view(&self, j: &VJob) -> String {
        let st = self.state(j);
        let frags = self.fragments(j);
        let done = st == "Completed";
        let size: usize = frags.iter().map(String::len).sum();
        let results_size = match self.size {
            _ if !done => json!(null),
            Size::Exact => json!(size),
            Size::NoFinalNewline => json!(size.saturating_sub(1)),
            Size::Compressed => json!(size / 3),
            Size::Null => json!(null),
            Size::Over => json!(size + 10),
        };
        let fragment = match self.numbering {
            _ if !done => json!(null),
            Numbering::Count => json!(frags.len()),
            Numbering::Index => json!(frags.len().saturating_sub(1)),
            Numbering::Absent => json!(null),
        };
        json!({
            "job_id": j.id, "state": st, "export_type": "delta", "output_format": "JSONLines",
            "activity_type": "all",
            "start_date": exportkit::core::time::format_date(j.start_day),
            "end_date": exportkit::core::time::format_date(j.end_day),
            "job_created_time": utc_seconds(j.created), "job_start_time": null, "job_end_time": null,
            "results_size": results_size,
            "fragment": fragment,
        })
        .to_string()
    }
}

/// `yyyy-MM-ddTHH:mm:ssZ`, as the vendor writes job times.
fn utc_seconds(ms: f64) -> String {
    let day = (ms / 86_400_000.0).floor() as i64;
    let secs = ((ms - day as f64 * 86_400_000.0) / 1000.0) as i64;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        exportkit::core::time::format_date(day),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

struct VBody {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
    delay: u32,
    stop: Option<(usize, Stop)>,
    handed: Option<Rc<Cell<u64>>>,
}

impl Body for VBody {
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>> {
        Delay(self.delay).await;
        let end_at = self
            .stop
            .map_or(self.data.len(), |(n, _)| n.min(self.data.len()));
        if self.at >= end_at {
            return match self.stop {
                Some((_, Stop::Reset)) => Err(Error::network("connection reset")),
                Some((_, Stop::Hang)) => {
                    std::future::pending::<()>().await;
                    Ok(None)
                }
                _ => Ok(None),
            };
        }
        let to = (self.at + self.chunk).min(end_at);
        let c = self.data[self.at..to].to_vec();
        self.at = to;
        if let Some(h) = &self.handed {
            h.set(h.get() + c.len() as u64);
        }
        Ok(Some(c))
    }
}

fn reply(status: u16, body: String) -> (ResponseHead, VBody) {
    (
        ResponseHead {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
        },
        VBody {
            data: body.into_bytes(),
            at: 0,
            chunk: usize::MAX,
            delay: 0,
            stop: None,
            handed: None,
        },
    )
}

impl Transport for Vendor {
    type Body = VBody;

    async fn send(&self, req: &HttpRequest) -> Result<(ResponseHead, VBody)> {
        self.pump();
        let path = req.url.trim_start_matches("https://api.test").to_string();
        self.log
            .borrow_mut()
            .push(format!("{} {path}", req.method.as_str()));
        if path == "/v3/auth/tokens" {
            return Ok(reply(
                200,
                r#"{"access_token":"tok","token_type":"bearer","expires_in":3600}"#.into(),
            ));
        }
        assert_eq!(req.header("Authorization"), Some("Bearer tok"), "{path}");
        let jobs_path = "/pull/v1/export/activities/jobs";
        let rest = path
            .strip_prefix(jobs_path)
            .unwrap_or_else(|| panic!("unknown path {path}"));
        if rest.is_empty() && req.method.as_str() == "GET" {
            let jobs = self.jobs.borrow();
            let list: Vec<serde_json::Value> = jobs
                .iter()
                .rev()
                .map(|j| serde_json::from_str(&self.view(j)).unwrap())
                .collect();
            return Ok(reply(200, serde_json::Value::Array(list).to_string()));
        }
        if rest.is_empty() && req.method.as_str() == "POST" {
            let body: serde_json::Value =
                serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
            self.creates.set(self.creates.get() + 1);
            let create_fault = self
                .create_faults
                .borrow()
                .get(&self.creates.get())
                .copied();
            if let Some(CreateFault::Unavailable) = create_fault {
                return Ok(reply(503, r#"{"error":"unavailable"}"#.into()));
            }
            let active = self
                .jobs
                .borrow()
                .iter()
                .filter(|j| matches!(self.state(j), "Queued" | "Running"))
                .count();
            if active >= 10 {
                self.refused.set(self.refused.get() + 1);
                return Ok(reply(429, r#"{"error":"too_many_jobs"}"#.into()));
            }
            let day =
                |k: &str| exportkit::core::time::parse_date(body[k].as_str().unwrap()).unwrap();
            let (start_day, end_day) = (day("start_date"), day("end_date"));
            assert!(end_day - start_day < 14, "a delta job over 14 days");
            let n = self.jobs.borrow().len();
            let job = VJob {
                id: format!("job-{n}"),
                start_day,
                end_day,
                created: self.now.get(),
                started: None,
                fail: self.fail_window.get() == Some(n),
            };
            let view = self.view(&job);
            self.jobs.borrow_mut().push(job);
            self.pump();
            return match create_fault {
                Some(CreateFault::MadeThen502) => Ok(reply(502, "bad gateway".into())),
                Some(CreateFault::MadeThenReset) => Err(Error::network("connection reset")),
                _ => Ok(reply(200, view)),
            };
        }
        let rest = rest.trim_start_matches('/');
        let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        // The job's fragments, or its status answer; no borrow is held past this block.
        let found = {
            let jobs = self.jobs.borrow();
            match jobs.iter().find(|j| j.id == id) {
                None => None,
                Some(j) if tail.is_empty() => Some(Err(self.view(j))),
                Some(j) => {
                    assert_eq!(self.state(j), "Completed");
                    Some(Ok(self.fragments(j)))
                }
            }
        };
        let frags = match found {
            None => return Ok(reply(404, "{}".into())),
            Some(Err(_)) if self.status_hangs.get() => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            Some(Err(_)) if self.status_error_bodies.get() > 0 => {
                self.status_error_bodies
                    .set(self.status_error_bodies.get() - 1);
                return Ok(reply(
                    200,
                    r#"{"error":"server_error","message":"later"}"#.into(),
                ));
            }
            Some(Err(view)) => return Ok(reply(200, view)),
            Some(Ok(frags)) => frags,
        };
        if tail == "data" {
            let data: String = frags.concat();
            let mut head = reply(200, data);
            head.0.headers = vec![("content-length".into(), head.1.data.len().to_string())];
            return Ok(head);
        }
        let (form, k) = tail.split_once("?fragment=").unwrap();
        let k: u32 = k.parse().unwrap();
        let refused = match (form, self.form) {
            ("data", Form::FragmentOnly) | ("fragment", Form::DataOnly) => true,
            ("data" | "fragment", _) => k as usize >= frags.len(),
            _ => panic!("unknown data path {tail}"),
        };
        if refused {
            return Ok(reply(404, r#"{"error":"not_found"}"#.into()));
        }
        let nth = {
            let mut m = self.data_requests.borrow_mut();
            let c = m.entry((id.to_string(), k)).or_insert(0);
            *c += 1;
            *c
        };
        let data = frags[k as usize].clone().into_bytes();
        let n_frags = frags.len() as u32;
        let fault = self.faults.borrow().get(&(k, nth)).copied();
        if let Some(Fault::Unavailable) = fault {
            return Ok(reply(503, "{}".into()));
        }
        if let Some(Fault::NoAnswer) = fault {
            std::future::pending::<()>().await;
        }
        if let Some(Fault::ErrorBody) = fault {
            return Ok(reply(
                200,
                r#"{"error":"internal","message":"try again"}"#.into(),
            ));
        }
        let mut headers = vec![(
            "content-type".to_string(),
            "application/x-ndjson".to_string(),
        )];
        let stop = match fault {
            Some(Fault::Reset(n)) => Some((n, Stop::Reset)),
            Some(Fault::Short(n, _)) => Some((n, Stop::Clean)),
            Some(Fault::Stall(n)) => Some((n, Stop::Hang)),
            _ => None,
        };
        if self.encoded {
            headers.push(("content-encoding".into(), "gzip".into()));
            headers.push(("content-length".into(), (data.len() / 4).to_string()));
        } else if !matches!(fault, Some(Fault::Short(_, false))) {
            headers.push(("content-length".into(), data.len().to_string()));
        }
        Ok((
            ResponseHead {
                status: 200,
                headers,
            },
            VBody {
                data,
                at: 0,
                chunk: self.chunk,
                // Later fragments answer faster, so completion order is not request order.
                delay: if self.no_delay {
                    0
                } else {
                    n_frags.saturating_sub(k) % 5
                },
                stop,
                handed: Some(self.handed.clone()),
            },
        ))
    }

    async fn sleep(&self, ms: f64) -> Result<()> {
        self.now.set(self.now.get() + ms.max(0.0));
        Ok(())
    }

    fn now_ms(&self) -> f64 {
        self.now.get()
    }

    fn check_aborted(&self) -> Result<()> {
        Ok(())
    }
}

#[derive(Default)]
struct Collect {
    records: Vec<String>,
    places: Vec<(usize, Option<u32>)>,
    csv: String,
    raw: Vec<u8>,
    jobs: Vec<(usize, String, JobState)>,
    progress: Vec<Progress>,
    /// Bytes handed out by the vendor but not yet consumed, at each progress report.
    peak_outstanding: u64,
    handed: Option<Rc<Cell<u64>>>,
}

impl ActivitySink for Collect {
    async fn deliver(&mut self, at: Place<'_>, data: Delivery) -> Result<()> {
        if self.places.last() != Some(&(at.window, at.fragment)) {
            self.places.push((at.window, at.fragment));
        }
        match data {
            Delivery::Records(b) => {
                let parsed: serde_json::Value = serde_json::from_str(&b.text).unwrap();
                assert_eq!(parsed.as_array().unwrap().len(), b.count);
                self.records
                    .extend(b.iter_text().map(|(_, t)| t.to_string()));
            }
            Delivery::Csv { text, .. } => self.csv.push_str(&text),
            Delivery::Raw(bytes) => self.raw.extend_from_slice(&bytes),
        }
        Ok(())
    }
    fn job(&mut self, window: usize, job: &Job) {
        self.jobs.push((window, job.job_id.clone(), job.state));
    }
    fn progress(&mut self, p: &Progress) {
        if let Some(h) = &self.handed {
            self.peak_outstanding = self.peak_outstanding.max(h.get().saturating_sub(p.bytes));
        }
        self.progress.push(p.clone());
    }
}

fn session() -> Session {
    Session::oauth(
        "https://api.test".into(),
        ClientCredentials::new("cid", "secret").unwrap(),
    )
}

fn request(days: i64) -> ExportRequest {
    ExportRequest::from_value(&json!({
        "startDate": exportkit::core::time::format_date(DAY0),
        "endDate": exportkit::core::time::format_date(DAY0 + days - 1),
    }))
    .unwrap()
}

fn opts(concurrency: usize, output: OutputKind) -> ExportOptions {
    ExportOptions {
        download: DownloadOptions {
            concurrency,
            read_ahead_bytes: 4096,
            batch_records: 7,
            output,
            ..DownloadOptions::default()
        },
        wait: WaitOptions {
            poll_initial_ms: 200.0,
            poll_max_ms: 2000.0,
            timeout_ms: None,
        },
        max_active: 10,
    }
}

fn export(v: &Vendor, days: i64, o: ExportOptions) -> (Result<ExportOutcome>, Collect) {
    let mut sink = Collect {
        handed: Some(v.handed.clone()),
        ..Collect::default()
    };
    let s = session();
    let out = block_on(run_export(v, &s, &request(days), &o, &mut sink));
    (out, sink)
}

#[test]
fn a_job_is_created_polled_and_its_fragments_delivered_in_order_exactly_once() {
    for concurrency in [1, 2, 4, 6] {
        for chunk in [7, 100, 5000] {
            let v = Vendor::new(9, 10, chunk);
            let (out, sink) = export(&v, 5, opts(concurrency, OutputKind::Records));
            let out = out.unwrap();
            assert_eq!(
                sink.records,
                v.lines(DAY0, DAY0 + 4),
                "c={concurrency} chunk={chunk}"
            );
            assert_eq!(out.records, 45);
            assert_eq!(out.jobs.len(), 1);
            assert_eq!(out.jobs[0].fragment, Some(5));
            let frags: Vec<Option<u32>> = sink.places.iter().map(|p| p.1).collect();
            assert_eq!(frags, (0..5).map(Some).collect::<Vec<_>>());
            let states: Vec<JobState> = sink.jobs.iter().map(|j| j.2).collect();
            assert_eq!(
                states,
                [JobState::Queued, JobState::Running, JobState::Completed]
            );
            assert!(out.errors.is_empty());
            let last = sink.progress.last().unwrap();
            assert_eq!(
                (last.phase.as_str(), last.records, last.fragments_done),
                ("done", 45, 5)
            );
            // Memory: what was read but not yet delivered stays within the read-ahead caps.
            let bound = (concurrency as u64) * (4096 + chunk as u64);
            assert!(
                sink.peak_outstanding <= bound,
                "{} > {bound}",
                sink.peak_outstanding
            );
        }
    }
}

#[test]
fn a_quarter_becomes_windows_and_thirty_windows_stay_within_the_limits() {
    let v = Vendor::new(1, 4, 64);
    let (out, sink) = export(&v, 30 * 14, opts(4, OutputKind::Records));
    let out = out.unwrap();
    assert_eq!(out.jobs.len(), 30);
    assert_eq!(
        sink.records,
        v.lines(DAY0, DAY0 + 30 * 14 - 1),
        "every window, in date order"
    );
    assert_eq!(v.refused.get(), 0, "never asked for an 11th queued job");
    assert_eq!(v.peak_active.get(), 10);
    assert!(v.peak_running.get() <= 2);
    let windows: Vec<usize> = sink.places.iter().map(|p| p.0).collect();
    assert!(windows.windows(2).all(|w| w[0] <= w[1]));
    let creates = v
        .log
        .borrow()
        .iter()
        .filter(|l| l.starts_with("POST /pull"))
        .count();
    assert_eq!(creates, 30);
}

#[test]
fn a_failed_job_is_reported_with_its_id() {
    let v = Vendor::new(1, 4, 64);
    v.fail_window.set(Some(1));
    let (out, sink) = export(&v, 40, opts(2, OutputKind::Records));
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_JOB_FAILED");
    assert!(e.to_string().contains("job-1"), "{e}");
    // The first window was delivered whole before the failure was seen, or not at all.
    assert!(sink.records.is_empty() || sink.records == v.lines(DAY0, DAY0 + 13));
}

#[test]
fn a_reset_part_way_is_retried_without_duplicating_or_losing_rows() {
    for (frag, after) in [(0u32, 1usize), (0, 700), (2, 333), (4, 10_000)] {
        for output in [
            OutputKind::Records,
            OutputKind::Raw,
            OutputKind::Csv {
                explode: Some("participants".into()),
            },
        ] {
            let v = Vendor::new(9, 10, 50);
            v.faults.borrow_mut().insert((frag, 1), Fault::Reset(after));
            // A retry that fails before any byte must not forget what the first one delivered.
            v.faults.borrow_mut().insert((frag, 2), Fault::Reset(0));
            v.faults
                .borrow_mut()
                .insert((frag, 3), Fault::Reset(after + 900));
            v.faults.borrow_mut().insert((1, 1), Fault::Unavailable);
            let (out, sink) = export(&v, 5, opts(3, output.clone()));
            let out = out.unwrap_or_else(|e| panic!("fragment {frag} after {after}: {e}"));
            let lines = v.lines(DAY0, DAY0 + 4);
            match output {
                OutputKind::Records => assert_eq!(sink.records, lines),
                OutputKind::Raw => {
                    let expect: String = lines.iter().map(|l| format!("{l}\n")).collect();
                    assert_eq!(String::from_utf8(sink.raw.clone()).unwrap(), expect);
                }
                OutputKind::Csv { .. } => {
                    let rows: usize = lines
                        .iter()
                        .map(|l| l.matches("peopleai_id").count().max(1))
                        .sum();
                    assert_eq!(sink.csv.matches("\r\n").count(), rows + 1);
                    assert_eq!(out.rows as usize, rows);
                    assert!(sink.csv.starts_with("uid,source_id,type,"));
                }
            }
            assert_eq!(out.records, 45);
            assert!(out.retries >= 1);
        }
    }
}

#[test]
fn a_200_with_an_error_body_is_not_taken_for_data() {
    let v = Vendor::new(9, 10, 50);
    v.faults.borrow_mut().insert((1, 1), Fault::ErrorBody);
    let (out, sink) = export(&v, 5, opts(2, OutputKind::Records));
    let out = out.unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
    assert_eq!(out.retries, 1);
    for nth in 1..=10 {
        v.faults.borrow_mut().insert((0, nth), Fault::ErrorBody);
    }
    v.jobs.borrow_mut().clear();
    v.data_requests.borrow_mut().clear();
    let (out, sink) = export(&v, 5, opts(2, OutputKind::Records));
    let e = out.unwrap_err();
    assert!(e.to_string().contains("error body instead of data"), "{e}");
    assert!(sink.records.is_empty());
}

#[test]
fn a_short_body_is_fetched_again_and_never_a_short_success() {
    // Content-Length present: cut short is detected and retried.
    let v = Vendor::new(9, 10, 50);
    v.faults
        .borrow_mut()
        .insert((1, 1), Fault::Short(400, true));
    // No Content-Length and cut inside a line: retried.
    v.faults
        .borrow_mut()
        .insert((3, 1), Fault::Short(123, false));
    let (out, sink) = export(&v, 5, opts(2, OutputKind::Records));
    out.unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
    // No Content-Length and cut exactly at a line end: only the job's size can tell.
    let v = Vendor::new(9, 10, 50);
    let first_line = record(DAY0, 0).len() + 1;
    for nth in 1..=10 {
        v.faults
            .borrow_mut()
            .insert((2, nth), Fault::Short(first_line, false));
    }
    let (out, _) = export(&v, 5, opts(2, OutputKind::Records));
    let e = out.unwrap_err();
    assert!(e.to_string().contains("results_size"), "{e}");
    assert!(
        e.to_string()
            .ends_with("may have been cut short: fragment 2 (ended after line 1)"),
        "names the fragment that may be short: {e}"
    );
}

/// Every reading of `fragment`, its URL and `results_size` (issue 15 §3): the same records, in
/// order, exactly once; more bytes than announced is a warning, fewer an error.
#[test]
fn every_reading_of_fragments_and_results_size_gives_the_whole_export() {
    use Form::*;
    use Numbering::*;
    use Size::*;
    for numbering in [Count, Index, Absent] {
        for form in [Both, DataOnly, FragmentOnly] {
            for size in [Exact, NoFinalNewline, Compressed, Null, Over] {
                for concurrency in [1, 3] {
                    let case = format!("{numbering:?} {form:?} {size:?} c={concurrency}");
                    let v = Vendor {
                        numbering,
                        form,
                        size,
                        ..Vendor::new(9, 10, 100)
                    };
                    let (out, sink) = export(&v, 5, opts(concurrency, OutputKind::Records));
                    if size == Over {
                        let e = out.unwrap_err();
                        assert!(e.to_string().contains("results_size"), "{case}: {e}");
                        continue;
                    }
                    let out = out.unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4), "{case}");
                    let warned: Vec<&str> = out.warnings.iter().map(|w| w.code).collect();
                    let expect: &[&str] = match size {
                        NoFinalNewline | Compressed => &["W_RESULTS_SIZE"],
                        _ => &[],
                    };
                    assert_eq!(warned, expect, "{case}");
                    assert_eq!(
                        sink.progress.last().unwrap().warnings,
                        out.warnings,
                        "{case}: the last progress carries the warnings too"
                    );
                    let data_reqs: Vec<String> = v
                        .log
                        .borrow()
                        .iter()
                        .filter(|l| l.contains("/data") || l.contains("/fragment"))
                        .cloned()
                        .collect();
                    // Exact sizes under the count reading cost no extra request.
                    if (numbering, form, size) == (Count, Both, Exact) {
                        assert_eq!(data_reqs.len(), 5, "{case}: {data_reqs:?}");
                    }
                    if numbering == Absent {
                        assert!(
                            data_reqs.iter().all(|l| l.ends_with("/data")),
                            "{case}: {data_reqs:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_content_encoded_fragment_is_not_taken_for_a_cut_one() {
    let v = Vendor {
        encoded: true,
        ..Vendor::new(9, 10, 100)
    };
    let (out, sink) = export(&v, 5, opts(3, OutputKind::Records));
    let out = out.unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
    assert_eq!(out.retries, 0, "nothing fetched again");
    // Cut inside a line, it is still fetched again.
    let v = Vendor {
        encoded: true,
        ..Vendor::new(9, 10, 100)
    };
    v.faults
        .borrow_mut()
        .insert((2, 1), Fault::Short(123, true));
    let (out, sink) = export(&v, 5, opts(3, OutputKind::Records));
    assert_eq!(out.unwrap().retries, 1);
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
}

#[test]
fn fragment_zero_is_the_whole_data_or_nothing() {
    for numbering in [Numbering::Count, Numbering::Index] {
        for size in [Size::Exact, Size::Null] {
            // 9 records in one fragment (index reading: fragment 0), and a job with none.
            for per_day in [0, 9] {
                let v = Vendor {
                    numbering,
                    size,
                    ..Vendor::new(per_day, 100, 100)
                };
                let (out, sink) = export(&v, 1, opts(2, OutputKind::Records));
                let case = format!("{numbering:?} {size:?} {per_day}");
                out.unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(sink.records, v.lines(DAY0, DAY0), "{case}");
            }
        }
    }
}

fn creates_sent(v: &Vendor) -> usize {
    v.log
        .borrow()
        .iter()
        .filter(|l| l.starts_with("POST /pull"))
        .count()
}

#[test]
fn a_create_whose_answer_is_lost_adopts_the_job_it_made_and_never_makes_two() {
    for fault in [CreateFault::MadeThen502, CreateFault::MadeThenReset] {
        let v = Vendor::new(3, 5, 64);
        v.create_faults.borrow_mut().insert(2, fault);
        let (out, sink) = export(&v, 20, opts(2, OutputKind::Records));
        let out = out.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(sink.records, v.lines(DAY0, DAY0 + 19), "{fault:?}");
        assert_eq!(out.jobs.len(), 2);
        assert_eq!(
            creates_sent(&v),
            2,
            "{fault:?}: the lost answer's job was found in the list"
        );
        assert_eq!(v.jobs.borrow().len(), 2);
        assert!(v
            .log
            .borrow()
            .iter()
            .any(|l| l == "GET /pull/v1/export/activities/jobs"));
    }
    // Nothing was made: sent again after the list shows no such job.
    let v = Vendor::new(3, 5, 64);
    v.create_faults
        .borrow_mut()
        .insert(1, CreateFault::Unavailable);
    v.create_faults
        .borrow_mut()
        .insert(2, CreateFault::Unavailable);
    let (out, sink) = export(&v, 5, opts(2, OutputKind::Records));
    out.unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
    assert_eq!(creates_sent(&v), 3);
    assert_eq!(v.jobs.borrow().len(), 1);
    // Never made, every time: the budget ends it with the vendor's status.
    let v = Vendor::new(3, 5, 64);
    for n in 1..=10 {
        v.create_faults
            .borrow_mut()
            .insert(n, CreateFault::Unavailable);
    }
    let (out, _) = export(&v, 5, opts(2, OutputKind::Records));
    assert_eq!(out.unwrap_err().status(), Some(503));
    assert_eq!(creates_sent(&v), 5, "the first try and four retries");
}

#[test]
fn a_status_read_answering_an_error_body_is_read_again() {
    let v = Vendor::new(3, 5, 64);
    v.status_error_bodies.set(2);
    let (out, sink) = export(&v, 5, opts(2, OutputKind::Records));
    out.unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
    assert_eq!(v.status_error_bodies.get(), 0);
}

#[test]
fn a_status_read_that_never_answers_meets_the_deadline() {
    let v = Vendor::new(3, 5, 64);
    v.status_hangs.set(true);
    let mut o = opts(2, OutputKind::Records);
    o.wait.timeout_ms = Some(30_000.0);
    let start = v.now.get();
    let (out, _) = export(&v, 5, o);
    assert_eq!(out.unwrap_err().code(), "E_TIMEOUT");
    assert!(v.now.get() - start <= 30_000.0 + 1.0);
    // Waiting on one job: the same deadline.
    let job = Job::from_value(&json!({"job_id": "job-0", "state": "Queued"})).unwrap();
    let o = opts(2, OutputKind::Records);
    let wait = WaitOptions {
        timeout_ms: Some(5_000.0),
        ..o.wait
    };
    let e = block_on(download(
        &v,
        &session(),
        job,
        &wait,
        &o.download,
        &mut Collect::default(),
    ))
    .unwrap_err();
    assert_eq!(e.code(), "E_TIMEOUT");
}

#[test]
fn a_stalled_fragment_is_fetched_again_once_a_stall_timeout_is_set() {
    let mut v = Vendor::new(9, 10, 50);
    v.no_delay = true;
    v.faults.borrow_mut().insert((2, 1), Fault::Stall(120));
    v.faults.borrow_mut().insert((0, 1), Fault::Stall(0));
    v.faults.borrow_mut().insert((3, 1), Fault::NoAnswer);
    let mut o = opts(3, OutputKind::Records);
    o.download.stall_timeout_ms = Some(60_000.0);
    let start = v.now.get();
    let (out, sink) = export(&v, 5, o);
    let out = out.unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 4));
    assert_eq!(out.retries, 3);
    assert!(
        v.now.get() - start >= 180_000.0,
        "each stall waited out its timeout"
    );
}

/// An export whose 23rd line (fragment 2, its third line) has lost its closing brace.
fn export_with_a_bad_line(output: OutputKind, strict: bool) -> (Result<ExportOutcome>, Collect) {
    let v = Vendor::new(9, 10, 64);
    v.bad_line.set(Some(23));
    let mut o = opts(4, output);
    o.download.strict = strict;
    export(&v, 5, o)
}

#[test]
fn a_malformed_line_is_reported_with_its_fragment_and_line_or_fails_in_strict_mode() {
    let (out, sink) = export_with_a_bad_line(OutputKind::Records, false);
    let out = out.unwrap();
    assert_eq!(out.records, 44);
    assert_eq!(sink.records.len(), 44);
    assert_eq!(out.errors.len(), 1);
    let e = &out.errors[0];
    assert_eq!(
        (e.fragment, e.line, e.job_id.as_str()),
        (Some(2), 3, "job-0")
    );
    let (out, sink) = export_with_a_bad_line(OutputKind::Records, true);
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_DECODE");
    // Where it stopped, as fields a caller can branch on.
    let at = e.place();
    assert_eq!(
        (at.job.as_deref(), at.fragment, at.line),
        (Some("job-0"), Some(2), Some(3))
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("line 3, column ")
            && msg.contains(": job job-0 fragment 2: malformed JSON"),
        "{msg}"
    );
    assert_eq!(
        sink.records.len(),
        22,
        "every record before the bad line was delivered"
    );
}

/// CSV output checks the JSON in the flattener's walk (the parser does not): the same bad line
/// is reported, or ends a strict export, exactly as it is for records.
#[test]
fn a_malformed_line_in_a_csv_export_is_reported_the_same_way() {
    let csv = || OutputKind::Csv { explode: None };
    let (out, sink) = export_with_a_bad_line(csv(), false);
    let out = out.unwrap();
    assert_eq!((out.records, out.rows), (44, 44));
    assert_eq!(sink.csv.matches("\r\n").count(), 45, "header and 44 rows");
    assert_eq!(out.errors.len(), 1);
    let e = &out.errors[0];
    assert_eq!((e.fragment, e.line), (Some(2), 3));
    assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
    let (out, sink) = export_with_a_bad_line(csv(), true);
    let e = out.unwrap_err();
    assert_eq!(e.code(), "E_DECODE");
    assert!(
        e.to_string()
            .contains(": job job-0 fragment 2: malformed JSON"),
        "{e}"
    );
    assert_eq!(
        sink.csv.matches("\r\n").count(),
        23,
        "the header and every record before the bad line"
    );
}

#[test]
fn an_existing_job_is_waited_for_then_downloaded() {
    let v = Vendor::new(3, 5, 64);
    v.jobs.borrow_mut().push(VJob {
        id: "old".into(),
        start_day: DAY0,
        end_day: DAY0 + 2,
        created: v.now.get(),
        started: None,
        fail: false,
    });
    let job = Job::from_value(&json!({"job_id": "old", "state": "Queued"})).unwrap();
    let mut sink = Collect::default();
    let o = opts(2, OutputKind::Records);
    let out = block_on(download(
        &v,
        &session(),
        job,
        &o.wait,
        &o.download,
        &mut sink,
    ))
    .unwrap();
    assert_eq!(sink.records, v.lines(DAY0, DAY0 + 2));
    assert_eq!(out.jobs[0].state, JobState::Completed);
    let bad = DownloadOptions {
        concurrency: 7,
        ..DownloadOptions::default()
    };
    let job =
        Job::from_value(&json!({"job_id": "old", "state": "Completed", "fragment": 1})).unwrap();
    let e = block_on(download(&v, &session(), job, &o.wait, &bad, &mut sink)).unwrap_err();
    assert_eq!(e.field(), Some("concurrency"));
}

/// Stops the download (an error from the sink) once `limit` records or bytes are in, keeping
/// the last checkpoint it handed over.
struct StopAfter {
    inner: Collect,
    limit: usize,
    saved: Option<DownloadCheckpoint>,
}

impl ActivitySink for StopAfter {
    async fn deliver(&mut self, at: Place<'_>, data: Delivery) -> Result<()> {
        if self.inner.records.len() + self.inner.raw.len() >= self.limit {
            return Err(Error::new(exportkit::ErrorKind::Aborted));
        }
        self.inner.deliver(at, data).await
    }
    fn job(&mut self, window: usize, job: &Job) {
        self.inner.job(window, job)
    }
    fn progress(&mut self, p: &Progress) {
        self.inner.progress(p)
    }
    fn checkpoint(&mut self, at: &DownloadCheckpoint) {
        self.saved = Some(at.clone());
    }
}

#[test]
fn a_download_resumed_from_its_checkpoint_delivers_the_rest_once() {
    let cases = [
        (OutputKind::Records, [(1, 64), (7, 64), (23, 300), (29, 97)]),
        (
            OutputKind::Raw,
            [(1, 64), (300, 64), (2500, 300), (4000, 97)],
        ),
    ];
    for (output, limits) in cases {
        for (limit, chunk) in limits {
            let v = Vendor::new(10, 4, chunk);
            v.jobs.borrow_mut().push(VJob {
                id: "old".into(),
                start_day: DAY0,
                end_day: DAY0 + 2,
                created: v.now.get() - 60_000.0,
                started: Some(v.now.get() - 60_000.0),
                fail: false,
            });
            let job = Job::from_value(&json!({"job_id": "old", "state": "Queued"})).unwrap();
            let mut o = opts(2, output.clone());
            o.download.batch_records = 3;
            let mut first = StopAfter {
                inner: Collect::default(),
                limit,
                saved: None,
            };
            let out = block_on(download(
                &v,
                &session(),
                job.clone(),
                &o.wait,
                &o.download,
                &mut first,
            ));
            let label = format!("{output:?} limit {limit} chunk {chunk}");
            assert_eq!(out.unwrap_err().code(), "E_ABORTED", "{label}");
            let saved = first.saved.clone().expect("a checkpoint");
            let text = serde_json::to_string(&saved).unwrap();
            let saved: DownloadCheckpoint = serde_json::from_str(&text).unwrap();
            assert_eq!(
                (saved.version, saved.job_id.as_str()),
                (1, "old"),
                "{label}"
            );

            let mut rest = Collect::default();
            let out = block_on(download_from(
                &v,
                &session(),
                job,
                &o.wait,
                &o.download,
                Some(&saved),
                &mut rest,
            ))
            .unwrap();
            let all = v.lines(DAY0, DAY0 + 2);
            if output == OutputKind::Raw {
                let mut got = first.inner.raw.clone();
                got.extend_from_slice(&rest.raw);
                let want: String = all.iter().map(|l| format!("{l}\n")).collect();
                assert_eq!(String::from_utf8(got).unwrap(), want, "{label}");
            } else {
                let mut got = first.inner.records.clone();
                got.extend(rest.records);
                assert_eq!(got, all, "{label}");
                assert_eq!(
                    out.records as usize + first.inner.records.len(),
                    30,
                    "{label}"
                );
            }
        }
    }
}

/// A resumed CSV export (issue 18) is written under the header the first run wrote: with
/// `csv_columns`, those columns exactly, none found afresh in the data (a field they lack is a
/// late field, as it was in the first run once its header was fixed).
#[test]
fn csv_columns_fix_the_header_of_a_resumed_csv() {
    let v = Vendor::new(10, 4, 300);
    v.jobs.borrow_mut().push(VJob {
        id: "old".into(),
        start_day: DAY0,
        end_day: DAY0 + 2,
        created: v.now.get() - 60_000.0,
        started: Some(v.now.get() - 60_000.0),
        fail: false,
    });
    let job = Job::from_value(&json!({"job_id": "old", "state": "Queued"})).unwrap();
    let mut o = opts(2, OutputKind::Csv { explode: None });
    let columns = vec!["uid".to_string(), "not_in_the_data".to_string()];
    o.download.csv_columns = Some(columns.clone());
    let mut sink = Collect::default();
    let out = block_on(download(
        &v,
        &session(),
        job,
        &o.wait,
        &o.download,
        &mut sink,
    ))
    .unwrap();
    assert_eq!(out.header, columns);
    assert_eq!(sink.csv.lines().next(), Some("uid,not_in_the_data"));
    assert_eq!((out.records, out.rows), (30, 30), "a row per record");
    assert!(
        !out.late_fields.is_empty(),
        "the data's other fields are late fields"
    );
}

#[test]
fn a_job_read_in_pieces_of_its_planned_requests_is_the_whole_data_in_order() {
    use Numbering::*;
    for numbering in [Count, Index, Absent] {
        for per in [1usize, 2, 4] {
            let case = format!("{numbering:?} per={per}");
            let v = Vendor {
                numbering,
                ..Vendor::new(9, 10, 100)
            };
            v.jobs.borrow_mut().push(VJob {
                id: "old".into(),
                start_day: DAY0,
                end_day: DAY0 + 4,
                created: v.now.get(),
                started: None,
                fail: false,
            });
            let o = opts(2, OutputKind::Records);
            let queued = Job::from_value(&json!({"job_id": "old", "state": "Queued"})).unwrap();
            let job = block_on(wait_job(&v, &session(), queued, &o.wait, &mut |_| {})).unwrap();
            let n = data_parts(&job);
            match numbering {
                Count => assert_eq!(n, 5, "{case}"),
                // The highest index: the last fragment is found by the probe of the last piece.
                Index => assert_eq!(n, 4, "{case}"),
                Absent => assert_eq!(n, 1, "{case}"),
            }
            let mut all = Vec::new();
            let mut from = 0;
            while from < n {
                let to = (from + per).min(n);
                let mut sink = Collect::default();
                let piece = DownloadOptions {
                    parts: Some((from, to)),
                    ..o.download.clone()
                };
                block_on(download(
                    &v,
                    &session(),
                    job.clone(),
                    &o.wait,
                    &piece,
                    &mut sink,
                ))
                .unwrap_or_else(|e| panic!("{case} [{from}, {to}): {e}"));
                all.extend(sink.records);
                from = to;
            }
            assert_eq!(
                all,
                v.lines(DAY0, DAY0 + 4),
                "{case}: the pieces together, once, in order"
            );
        }
    }
    let bad = DownloadOptions {
        parts: Some((3, 1)),
        ..DownloadOptions::default()
    };
    assert_eq!(bad.validate().unwrap_err().field(), Some("parts"));
}
