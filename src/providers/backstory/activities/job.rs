//! The job as the vendor describes it, read strictly, and its polling: a backoff between status
//! reads and a sans-IO watch that says when to ask next (time passed in).

use super::{get_request, ActivityType, ExportType, JobParams};
use crate::core::http::{HttpRequest, HttpResponse};
pub use crate::core::poll::PollBackoff;
use crate::core::time::{parse_date, parse_utc_seconds};
use crate::core::Step;
use crate::error::{Error, ErrorKind, Result};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Completed,
    Canceled,
    Failed,
}

impl JobState {
    /// The document writes states capitalised ("Completed") in its table; a vendor may send them
    /// in any case, and "Cancelled" is the other spelling of "Canceled". Anything else is refused.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "completed" => Some(JobState::Completed),
            "canceled" | "cancelled" => Some(JobState::Canceled),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "Queued",
            JobState::Running => "Running",
            JobState::Completed => "Completed",
            JobState::Canceled => "Canceled",
            JobState::Failed => "Failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Canceled | JobState::Failed
        )
    }

    /// Counts against the vendor's limit of queued jobs.
    pub fn is_active(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }
}

/// A job as `POST /jobs`, `GET /jobs/{id}` and `GET /jobs` answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub state: JobState,
    pub export_type: Option<ExportType>,
    pub output_format: Option<String>,
    pub activity_type: Option<ActivityType>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub job_created_time: Option<String>,
    pub job_start_time: Option<String>,
    pub job_end_time: Option<String>,
    /// Bytes of all the job's data; known once Completed.
    pub results_size: Option<u64>,
    /// How many fragments the data is split into (numbered from 0); known once Completed.
    pub fragment: Option<u32>,
}

fn bad(field: &str, why: &str) -> Error {
    Error::decode(1, 0, format!("job answer: `{field}` {why}"))
}

fn opt_str(m: &Map<String, Value>, k: &str) -> Result<Option<String>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(k, "is not a string")),
    }
}

fn opt_uint(m: &Map<String, Value>, k: &str) -> Result<Option<u64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(k, "is not a non-negative integer")),
    }
}

impl Job {
    pub fn from_json(body: &[u8]) -> Result<Job> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            Error::decode(1, e.column() as u64, format!("job answer is not JSON: {e}"))
        })?;
        Job::from_value(&v)
    }

    /// Reads a job strictly: an unknown state or a field of the wrong type is an error, never a
    /// guess (a job read as Completed by mistake would be downloaded as empty).
    pub fn from_value(v: &Value) -> Result<Job> {
        let m = v
            .as_object()
            .ok_or_else(|| Error::decode(1, 0, "job answer is not a JSON object"))?;
        let job_id = match m.get("job_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(bad("job_id", "is missing or not a non-empty string")),
        };
        let state = match m.get("state") {
            Some(Value::String(s)) => JobState::parse(s).ok_or_else(|| {
                bad(
                    "state",
                    &format!("is {s:?}, not one of Queued, Running, Completed, Canceled, Failed"),
                )
            })?,
            _ => return Err(bad("state", "is missing or not a string")),
        };
        // Echoes of the request: the document writes them lower case ("delta", "email"), the
        // states capitalised; either case is read.
        let export_type = match opt_str(m, "export_type")? {
            None => None,
            Some(s) => Some(
                ExportType::parse(&s.to_ascii_lowercase())
                    .ok_or_else(|| bad("export_type", "is unknown"))?,
            ),
        };
        let activity_type = match opt_str(m, "activity_type")? {
            None => None,
            Some(s) => Some(
                ActivityType::parse(&s.to_ascii_lowercase())
                    .ok_or_else(|| bad("activity_type", "is unknown"))?,
            ),
        };
        let date = |k: &str| -> Result<Option<String>> {
            match opt_str(m, k)? {
                Some(s) if parse_date(&s).is_none() => Err(bad(k, "is not a yyyy-MM-dd date")),
                other => Ok(other),
            }
        };
        let fragment = match opt_uint(m, "fragment")? {
            None => None,
            Some(n) => Some(u32::try_from(n).map_err(|_| bad("fragment", "is too large"))?),
        };
        Ok(Job {
            job_id,
            state,
            export_type,
            output_format: opt_str(m, "output_format")?,
            activity_type,
            start_date: date("start_date")?,
            end_date: date("end_date")?,
            job_created_time: opt_str(m, "job_created_time")?,
            job_start_time: opt_str(m, "job_start_time")?,
            job_end_time: opt_str(m, "job_end_time")?,
            results_size: opt_uint(m, "results_size")?,
            fragment,
        })
    }

    /// The job in the vendor's shape (what the API answered, normalised).
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "job_id": self.job_id,
            "state": self.state.as_str(),
            "export_type": self.export_type.map(ExportType::as_str),
            "output_format": self.output_format,
            "activity_type": self.activity_type.map(ActivityType::as_str),
            "start_date": self.start_date,
            "end_date": self.end_date,
            "job_created_time": self.job_created_time,
            "job_start_time": self.job_start_time,
            "job_end_time": self.job_end_time,
            "results_size": self.results_size,
            "fragment": self.fragment,
        })
    }

    /// Whether this job could be the one a `POST /jobs` with `params` sent at `since_ms` made:
    /// the same parameters, created then or later. Used after a create whose answer was lost;
    /// `since_ms` should allow for the vendor's clock running behind ours.
    pub fn matches_request(&self, params: &JobParams, since_ms: f64) -> bool {
        self.start_date.as_deref() == Some(params.start_date().as_str())
            && self.end_date.as_deref() == Some(params.end_date().as_str())
            && self.activity_type == Some(params.activity_type)
            && self.export_type == Some(params.export_type)
            && self
                .job_created_time
                .as_deref()
                .and_then(parse_utc_seconds)
                // Created times have whole seconds: the second `since_ms` falls in counts.
                .is_some_and(|t| t + 1000.0 > since_ms)
    }

    /// `Err(JobFailed)` for a job that ended Failed or Canceled.
    pub fn check_not_failed(&self) -> Result<()> {
        match self.state {
            JobState::Failed | JobState::Canceled => Err(Error::new(ErrorKind::JobFailed {
                job_id: self.job_id.clone(),
                state: self.state.as_str().to_string(),
            })),
            _ => Ok(()),
        }
    }
}

/// Waits for one job to end: `poll(now)` says read the status now or wait until when, or that the
/// job is done; `handle(resp, now)` takes the status answer.
#[derive(Debug, Clone)]
pub struct JobWatch {
    base_url: String,
    job: Job,
    backoff: PollBackoff,
    deadline_ms: Option<f64>,
    in_flight: bool,
}

impl JobWatch {
    /// Watches `job` (as last read). The first read is due at once if it is not yet terminal.
    pub fn new(base_url: &str, job: Job, backoff: PollBackoff, deadline_ms: Option<f64>) -> Self {
        let mut backoff = backoff;
        backoff.due_now();
        JobWatch {
            base_url: base_url.to_string(),
            job,
            backoff,
            deadline_ms,
            in_flight: false,
        }
    }

    pub fn job(&self) -> &Job {
        &self.job
    }

    /// `Done(job)` once Completed; an error once Failed/Canceled or past the deadline.
    pub fn poll(&mut self, now_ms: f64) -> Result<Step<Job>> {
        if self.job.state.is_terminal() {
            self.job.check_not_failed()?;
            return Ok(Step::Done(self.job.clone()));
        }
        if self.in_flight {
            return Err(Error::invalid("poll", "a status read is already in flight"));
        }
        if self.deadline_ms.is_some_and(|d| now_ms >= d) {
            return Err(Error::new(ErrorKind::Timeout));
        }
        if !self.backoff.is_due(now_ms) {
            let until = match self.deadline_ms {
                Some(d) => self.backoff.due_at().min(d),
                None => self.backoff.due_at(),
            };
            return Ok(Step::Wait { until_ms: until });
        }
        self.in_flight = true;
        let req: HttpRequest = get_request(&self.base_url, &self.job.job_id)?;
        Ok(Step::Send(req))
    }

    /// Takes a successful status answer. Returns whether the state changed.
    pub fn handle(&mut self, resp: &HttpResponse, now_ms: f64) -> Result<bool> {
        self.in_flight = false;
        if !resp.is_success() {
            return Err(Error::from_status(resp.status, &resp.body, None));
        }
        self.handle_job(Job::from_json(&resp.body)?, now_ms)
    }

    /// Takes the job as a status read returned it. Returns whether the state changed.
    pub fn handle_job(&mut self, job: Job, now_ms: f64) -> Result<bool> {
        self.in_flight = false;
        if job.job_id != self.job.job_id {
            return Err(Error::decode(
                1,
                0,
                format!(
                    "asked for job {} and got job {}",
                    self.job.job_id, job.job_id
                ),
            ));
        }
        let changed = job.state != self.job.state;
        if changed && job.state == JobState::Running {
            self.backoff.reset(now_ms);
        } else {
            self.backoff.read(now_ms);
        }
        self.job = job;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUED: &str = r#"{"job_id":"j1","state":"Queued","export_type":"delta","output_format":"JSONLines","activity_type":"all","start_date":"2024-01-01","end_date":"2024-01-14","job_created_time":"2024-01-20T10:00:00Z","job_start_time":null,"job_end_time":null,"results_size":null,"fragment":null}"#;

    fn with(state: &str, extra: &str) -> String {
        QUEUED
            .replace("\"Queued\"", &format!("\"{state}\""))
            .replace("\"fragment\":null", extra)
    }

    #[test]
    fn jobs_are_read_strictly() {
        let j = Job::from_json(QUEUED.as_bytes()).unwrap();
        assert_eq!(
            (j.state, j.fragment, j.results_size),
            (JobState::Queued, None, None)
        );
        assert_eq!(Job::from_value(&j.to_value()).unwrap(), j);
        let done = Job::from_json(with("Completed", "\"fragment\":3,\"x\":1").as_bytes()).unwrap();
        let echoed = QUEUED
            .replace("\"delta\"", "\"Delta\"")
            .replace("\"all\"", "\"ALL\"");
        let j = Job::from_json(echoed.as_bytes()).unwrap();
        assert_eq!(
            (j.export_type, j.activity_type),
            (Some(ExportType::Delta), Some(ActivityType::All))
        );
        for (text, state) in [
            ("completed", JobState::Completed),
            ("COMPLETED", JobState::Completed),
            ("queued", JobState::Queued),
            ("Cancelled", JobState::Canceled),
        ] {
            let j = Job::from_json(with(text, "\"fragment\":null").as_bytes()).unwrap();
            assert_eq!(j.state, state, "{text}");
        }
        assert_eq!(done.fragment, Some(3));
        for bad in [
            QUEUED.replace("Queued", "Done"),
            QUEUED.replace("Queued", "Complete"),
            QUEUED.replace("\"j1\"", "\"\""),
            QUEUED.replace("\"results_size\":null", "\"results_size\":-1"),
            QUEUED.replace("\"fragment\":null", "\"fragment\":\"2\""),
            QUEUED.replace("2024-01-14", "14/01/2024"),
            QUEUED.replace("\"delta\"", "\"weekly\""),
            "[]".to_string(),
            "not json".to_string(),
        ] {
            let e = Job::from_json(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code(), "E_DECODE", "{bad}");
        }
        let failed = Job::from_json(with("Failed", "\"fragment\":null").as_bytes()).unwrap();
        let e = failed.check_not_failed().unwrap_err();
        assert_eq!(e.code(), "E_JOB_FAILED");
        assert!(e.to_string().contains("j1") && e.to_string().contains("Failed"));
    }

    #[test]
    fn a_lost_create_answer_is_matched_by_parameters_and_time() {
        let j = Job::from_json(QUEUED.as_bytes()).unwrap();
        let p =
            JobParams::from_json(r#"{"startDate":"2024-01-01","endDate":"2024-01-14"}"#).unwrap();
        let created = parse_utc_seconds("2024-01-20T10:00:00Z").unwrap();
        assert!(j.matches_request(&p, created));
        assert!(j.matches_request(&p, created + 999.0), "same second");
        assert!(
            !j.matches_request(&p, created + 1000.0),
            "made before the attempt"
        );
        for other in [
            r#"{"startDate":"2024-01-02","endDate":"2024-01-14"}"#,
            r#"{"startDate":"2024-01-01","endDate":"2024-01-13"}"#,
            r#"{"startDate":"2024-01-01","endDate":"2024-01-14","activityType":"call"}"#,
            r#"{"startDate":"2024-01-01","endDate":"2024-01-14","exportType":"snapshot"}"#,
        ] {
            assert!(
                !j.matches_request(&JobParams::from_json(other).unwrap(), 0.0),
                "{other}"
            );
        }
        let untimed = Job::from_json(
            QUEUED
                .replace("\"2024-01-20T10:00:00Z\"", "null")
                .as_bytes(),
        )
        .unwrap();
        assert!(
            !untimed.matches_request(&p, 0.0),
            "no creation time: cannot tell"
        );
    }

    #[test]
    fn the_watch_polls_with_growing_intervals_until_an_end() {
        let job = Job::from_json(QUEUED.as_bytes()).unwrap();
        let mut w = JobWatch::new(
            "https://h",
            job,
            PollBackoff::new(100.0, 400.0, 0.0),
            Some(10_000.0),
        );
        let mut now = 0.0;
        let mut reads = Vec::new();
        let answers = [
            QUEUED.to_string(),
            QUEUED.to_string(),
            with("Running", "\"fragment\":null"),
            with("Running", "\"fragment\":null"),
            with("Running", "\"fragment\":null"),
            with("Completed", "\"fragment\":2"),
        ];
        let mut i = 0;
        let done = loop {
            match w.poll(now).unwrap() {
                Step::Send(r) => {
                    assert!(r.url.ends_with("/jobs/j1"));
                    assert!(w.poll(now).is_err(), "one read at a time");
                    reads.push(now);
                    w.handle(&HttpResponse::new(200, answers[i].clone()), now)
                        .unwrap();
                    i += 1;
                }
                Step::Wait { until_ms } => {
                    assert!(until_ms > now);
                    now = until_ms;
                }
                Step::Done(j) => break j,
            }
        };
        assert_eq!(done.fragment, Some(2));
        // Immediately, then +150, +225 (grows); Running resets to 100, then 150, 225.
        assert_eq!(reads, vec![0.0, 150.0, 375.0, 475.0, 625.0, 850.0]);
    }

    #[test]
    fn the_watch_reports_failure_with_the_id_and_times_out() {
        let job = Job::from_json(QUEUED.as_bytes()).unwrap();
        let mut w = JobWatch::new(
            "https://h",
            job.clone(),
            PollBackoff::new(100.0, 100.0, 0.0),
            None,
        );
        assert!(matches!(w.poll(0.0).unwrap(), Step::Send(_)));
        w.handle(
            &HttpResponse::new(200, with("Canceled", "\"fragment\":null")),
            0.0,
        )
        .unwrap();
        let e = w.poll(1.0).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string()),
            ("E_JOB_FAILED", "job j1 ended in state Canceled".to_string())
        );
        let mut w = JobWatch::new(
            "https://h",
            job.clone(),
            PollBackoff::new(100.0, 100.0, 0.0),
            Some(250.0),
        );
        let mut now = 0.0;
        let e = loop {
            match w.poll(now) {
                Ok(Step::Send(_)) => {
                    w.handle(&HttpResponse::new(200, QUEUED), now).unwrap();
                }
                Ok(Step::Wait { until_ms }) => now = until_ms,
                Ok(Step::Done(_)) => panic!("never completes"),
                Err(e) => break e,
            }
        };
        assert_eq!((e.code(), now), ("E_TIMEOUT", 250.0));
        let mut w = JobWatch::new("https://h", job, PollBackoff::new(100.0, 100.0, 0.0), None);
        let _ = w.poll(0.0);
        let other = QUEUED.replace("\"j1\"", "\"j2\"");
        assert!(w.handle(&HttpResponse::new(200, other), 0.0).is_err());
    }
}
