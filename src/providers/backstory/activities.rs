//! Backstory Raw Activity Data API (issue 3): bulk export jobs under
//! `/pull/v1/export/activities/jobs`, their parameters and validation, the job model and its
//! polling ([`job`]), the planner that splits a long range into jobs and the fragment plan
//! ([`plan`]), the scheduler that keeps a caller within the vendor's job limits ([`schedule`]),
//! and the activity record schema for CSV ([`schema`]).
//!
//! Validation works on `serde_json::Value` like the Query API's, so an error names the key as the
//! caller wrote it (`startDate` or `start_date`) and unknown keys are refused, before any call.
//!
//! Range limits, as the vendor states them and the sandbox counts them: a delta job covers at
//! most 14 days, start and end inclusive; a snapshot job at most one year, i.e. its end date falls
//! before the same calendar day a year after its start.

use crate::core::http::{join_url, HttpRequest};
use crate::core::time::{civil_from_days, days_from_civil, format_date, parse_date};
use crate::error::{Error, Result};
use crate::providers::backstory::query::{expect_object, refuse_unknown_keys, type_name};
use serde_json::{Map, Value};

pub mod create;
pub mod job;
pub mod plan;
pub mod schedule;
pub mod schema;

pub use job::{Job, JobState, JobWatch, PollBackoff};
pub use plan::{fragment_plan, plan_windows, FragmentPath, FragmentPlan, Refusal, SizeCheck};
pub use schedule::{Action, Scheduler};

pub const JOBS_PATH: &str = "/pull/v1/export/activities/jobs";
/// Jobs the vendor runs at once; the rest wait queued.
pub const MAX_RUNNING: usize = 2;
/// Jobs queued, running ones included, before the vendor refuses another.
pub const MAX_QUEUED: usize = 10;
pub const MAX_DELTA_DAYS: i64 = 14;
pub const OUTPUT_FORMAT: &str = "JSONLines";
pub const DEFAULT_CONCURRENCY: usize = 4;
/// An edge worker may hold six connections at once.
pub const MAX_CONCURRENCY: usize = 6;
/// A long delta range is cut into at most this many jobs (about 38 years of 14-day windows).
pub const MAX_WINDOWS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityType {
    All,
    Email,
    Meeting,
    Call,
}

impl ActivityType {
    pub const ALL: [&'static str; 4] = ["all", "email", "meeting", "call"];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::All => "all",
            ActivityType::Email => "email",
            ActivityType::Meeting => "meeting",
            ActivityType::Call => "call",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(ActivityType::All),
            "email" => Some(ActivityType::Email),
            "meeting" => Some(ActivityType::Meeting),
            "call" => Some(ActivityType::Call),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportType {
    Delta,
    Snapshot,
}

impl ExportType {
    pub const ALL: [&'static str; 2] = ["delta", "snapshot"];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportType::Delta => "delta",
            ExportType::Snapshot => "snapshot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "delta" => Some(ExportType::Delta),
            "snapshot" => Some(ExportType::Snapshot),
            _ => None,
        }
    }
}

/// One job's parameters, valid for one job (range within its export type's limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobParams {
    /// UTC day numbers, inclusive.
    pub start_day: i64,
    pub end_day: i64,
    pub activity_type: ActivityType,
    pub export_type: ExportType,
}

/// What a caller asks for: like [`JobParams`], but a delta range may be longer than 14 days (the
/// planner splits it into windows, one job each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRequest {
    pub start_day: i64,
    pub end_day: i64,
    pub activity_type: ActivityType,
    pub export_type: ExportType,
    /// Days per window for a long delta range (1..=14).
    pub window_days: i64,
}

/// Keys accepted, each in the vendor's snake_case or JavaScript's camelCase.
const KEYS: [(&str, &str); 6] = [
    ("start_date", "startDate"),
    ("end_date", "endDate"),
    ("activity_type", "activityType"),
    ("export_type", "exportType"),
    ("output_format", "outputFormat"),
    ("window_days", "windowDays"),
];

/// The value under either spelling of a key, and the spelling used (for error messages).
fn pick(m: &Map<String, Value>, key: usize) -> Result<Option<(&Value, &'static str)>> {
    let Some(&(snake, camel)) = KEYS.get(key) else {
        return Ok(None);
    };
    match (m.get(snake), m.get(camel)) {
        (Some(_), Some(_)) => Err(Error::invalid(
            camel,
            format!("given twice (as {snake} and {camel})"),
        )),
        (Some(v), None) => Ok(Some((v, snake))),
        (None, Some(v)) => Ok(Some((v, camel))),
        (None, None) => Ok(None),
    }
}

fn string_at<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| Error::invalid(field, format!("must be a string, not {}", type_name(v))))
}

fn date_at(m: &Map<String, Value>, key: usize) -> Result<(i64, &'static str)> {
    let name = KEYS.get(key).map(|k| k.1).unwrap_or("date");
    let Some((v, field)) = pick(m, key)? else {
        return Err(Error::invalid(name, "is required (yyyy-MM-dd)"));
    };
    let s = string_at(v, field)?;
    parse_date(s).map(|d| (d, field)).ok_or_else(|| {
        Error::invalid(
            field,
            format!("must be a real calendar date as yyyy-MM-dd, got {s:?}"),
        )
    })
}

/// The first day past a snapshot range that starts on `start_day`: the same calendar day a year
/// later (a 29 February start rolls to 1 March, as the vendor's and JavaScript's calendars do).
pub fn snapshot_limit_day(start_day: i64) -> i64 {
    let (y, m, d) = civil_from_days(start_day);
    days_from_civil(y + 1, m, d)
}

/// Checks one job's range against its export type's limit.
fn check_range(start: i64, end: i64, export_type: ExportType, end_field: &str) -> Result<()> {
    if end < start {
        return Err(Error::invalid(
            end_field,
            "must not be before the start date",
        ));
    }
    match export_type {
        ExportType::Delta if end - start + 1 > MAX_DELTA_DAYS => Err(Error::invalid(
            end_field,
            format!(
                "a delta job covers at most {MAX_DELTA_DAYS} days (start and end inclusive); this range has {}",
                end - start + 1
            ),
        )),
        ExportType::Snapshot if end >= snapshot_limit_day(start) => Err(Error::invalid(
            end_field,
            format!(
                "a snapshot covers at most one year: the end date must be before {}",
                format_date(snapshot_limit_day(start))
            ),
        )),
        _ => Ok(()),
    }
}

impl ExportRequest {
    pub fn from_json(text: &str) -> Result<ExportRequest> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("params", format!("is not valid JSON: {e}")))?;
        ExportRequest::from_value(&v)
    }

    /// Validates what a caller asks for. A delta range of any length is accepted (it becomes
    /// windows); a snapshot must fit one job.
    pub fn from_value(v: &Value) -> Result<ExportRequest> {
        let m = expect_object(v, "params")?;
        let allowed: Vec<&str> = KEYS.iter().flat_map(|(a, b)| [*a, *b]).collect();
        refuse_unknown_keys(m, "", &allowed)?;
        let (start_day, _) = date_at(m, 0)?;
        let (end_day, end_field) = date_at(m, 1)?;
        let activity_type = match pick(m, 2)? {
            None => ActivityType::All,
            Some((v, f)) => {
                let s = string_at(v, f)?;
                ActivityType::parse(s).ok_or_else(|| {
                    Error::invalid(
                        f,
                        format!("must be one of {}, got {s:?}", ActivityType::ALL.join(", ")),
                    )
                })?
            }
        };
        let export_type = match pick(m, 3)? {
            None => ExportType::Delta,
            Some((v, f)) => {
                let s = string_at(v, f)?;
                ExportType::parse(s).ok_or_else(|| {
                    Error::invalid(
                        f,
                        format!("must be one of {}, got {s:?}", ExportType::ALL.join(", ")),
                    )
                })?
            }
        };
        if let Some((v, f)) = pick(m, 4)? {
            let s = string_at(v, f)?;
            // The vendor documents one format; its spelling in examples varies in case.
            if !s.eq_ignore_ascii_case(OUTPUT_FORMAT) {
                return Err(Error::invalid(
                    f,
                    format!(
                        "must be \"{OUTPUT_FORMAT}\" (the only format the API offers), got {s:?}"
                    ),
                ));
            }
        }
        let window_days = match pick(m, 5)? {
            None => MAX_DELTA_DAYS,
            Some((v, f)) => match v.as_i64() {
                Some(n) if (1..=MAX_DELTA_DAYS).contains(&n) => n,
                _ => {
                    return Err(Error::invalid(
                        f,
                        format!("must be an integer from 1 to {MAX_DELTA_DAYS}"),
                    ))
                }
            },
        };
        if end_day < start_day {
            return Err(Error::invalid(
                end_field,
                "must not be before the start date",
            ));
        }
        if export_type == ExportType::Snapshot {
            check_range(start_day, end_day, export_type, end_field)?;
        }
        let r = ExportRequest {
            start_day,
            end_day,
            activity_type,
            export_type,
            window_days,
        };
        let windows = plan::window_count(&r);
        if windows > MAX_WINDOWS as i64 {
            return Err(Error::invalid(
                end_field,
                format!(
                    "the range needs {windows} jobs; at most {MAX_WINDOWS} are planned at once"
                ),
            ));
        }
        Ok(r)
    }

    /// The request as a single job, if it fits one.
    pub fn single_job(&self) -> Result<JobParams> {
        check_range(self.start_day, self.end_day, self.export_type, "endDate")?;
        Ok(JobParams {
            start_day: self.start_day,
            end_day: self.end_day,
            activity_type: self.activity_type,
            export_type: self.export_type,
        })
    }
}

impl JobParams {
    /// Validates parameters for exactly one job (a delta range over 14 days is refused here).
    pub fn from_value(v: &Value) -> Result<JobParams> {
        let r = ExportRequest::from_value(v)?;
        let m = expect_object(v, "params")?;
        let end_field = pick(m, 1)?.map(|(_, f)| f).unwrap_or("endDate");
        if pick(m, 5)?.is_some() {
            return Err(Error::invalid(
                "windowDays",
                "applies to a planned export, not to one job",
            ));
        }
        check_range(r.start_day, r.end_day, r.export_type, end_field)?;
        r.single_job()
    }

    pub fn from_json(text: &str) -> Result<JobParams> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("params", format!("is not valid JSON: {e}")))?;
        JobParams::from_value(&v)
    }

    pub fn start_date(&self) -> String {
        format_date(self.start_day)
    }

    pub fn end_date(&self) -> String {
        format_date(self.end_day)
    }

    /// The body of `POST /jobs`, in the vendor's shape.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "start_date": self.start_date(),
            "end_date": self.end_date(),
            "activity_type": self.activity_type.as_str(),
            "output_format": OUTPUT_FORMAT,
            "export_type": self.export_type.as_str(),
        })
    }

    /// `POST /jobs`. Not idempotent: a second send could create a second job.
    pub fn create_request(&self, base_url: &str) -> HttpRequest {
        HttpRequest::post(
            join_url(base_url, JOBS_PATH),
            "application/json",
            self.to_value().to_string().into_bytes(),
        )
        .with_header("Accept", "application/json")
        .authed()
    }
}

/// Checks a job id before it goes into a URL path: the vendor's ids are UUID-like, and anything
/// with `/`, `?` or `%` would address a different resource (see
/// [`crate::providers::check_path_id`]).
pub fn check_job_id(id: &str) -> Result<&str> {
    crate::providers::check_path_id("jobId", id, 128).map(|()| id)
}

pub fn get_request(base_url: &str, job_id: &str) -> Result<HttpRequest> {
    let id = check_job_id(job_id)?;
    Ok(
        HttpRequest::get(join_url(base_url, &format!("{JOBS_PATH}/{id}")))
            .with_header("Accept", "application/json")
            .authed(),
    )
}

/// `GET /jobs`: the jobs created in the past 10 days.
pub fn list_request(base_url: &str) -> HttpRequest {
    HttpRequest::get(join_url(base_url, JOBS_PATH))
        .with_header("Accept", "application/json")
        .authed()
}

/// `GET /jobs/{id}/data[?fragment=N]`, streamed.
pub fn data_request(base_url: &str, job_id: &str, fragment: Option<u32>) -> Result<HttpRequest> {
    fragment_request(base_url, job_id, fragment, FragmentPath::Data)
}

/// A data request at either URL form the document shows (see [`FragmentPath`]); the whole data
/// (`fragment: None`) is always `/data`.
pub fn fragment_request(
    base_url: &str,
    job_id: &str,
    fragment: Option<u32>,
    form: FragmentPath,
) -> Result<HttpRequest> {
    let id = check_job_id(job_id)?;
    let path = match fragment {
        Some(k) => format!("{JOBS_PATH}/{id}/{}?fragment={k}", form.segment()),
        None => format!("{JOBS_PATH}/{id}/data"),
    };
    Ok(HttpRequest::get(join_url(base_url, &path))
        .authed()
        .streamed())
}

/// The job list answer: a JSON array of jobs, as "the same response" as a job read suggests; an
/// object holding the array under `jobs` or `data` is accepted too (wrapped lists).
pub fn parse_job_list(body: &[u8]) -> Result<Vec<Job>> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::decode(1, e.column() as u64, format!("job list is not JSON: {e}")))?;
    let items = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("jobs").or_else(|| o.get("data")) {
            Some(Value::Array(a)) => a,
            _ => return Err(Error::decode(1, 0, "job list is not an array")),
        },
        _ => return Err(Error::decode(1, 0, "job list is not an array")),
    };
    items.iter().map(Job::from_value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_job_list_is_read_bare_or_wrapped() {
        let job = r#"{"job_id":"j1","state":"Completed"}"#;
        for body in [
            format!("[{job}]"),
            format!(r#"{{"jobs":[{job}]}}"#),
            format!(r#"{{"data":[{job}],"total":1}}"#),
        ] {
            let list = parse_job_list(body.as_bytes()).unwrap();
            assert_eq!(list[0].job_id, "j1", "{body}");
        }
        assert!(parse_job_list(br#"{"items":1}"#).is_err());
    }

    fn req(v: Value) -> Result<ExportRequest> {
        ExportRequest::from_value(&v)
    }

    #[test]
    fn defaults_and_both_spellings() {
        let r = req(json!({"startDate":"2024-01-01","end_date":"2024-01-14"})).unwrap();
        assert_eq!(r.activity_type, ActivityType::All);
        assert_eq!(r.export_type, ExportType::Delta);
        assert_eq!(r.window_days, 14);
        let p = r.single_job().unwrap();
        assert_eq!(
            p.to_value(),
            json!({"start_date":"2024-01-01","end_date":"2024-01-14","activity_type":"all","output_format":"JSONLines","export_type":"delta"})
        );
        let p = JobParams::from_value(&json!({"start_date":"2024-01-01","end_date":"2024-01-01","activity_type":"call","output_format":"jsonlines","export_type":"snapshot"})).unwrap();
        assert_eq!(
            (p.activity_type, p.export_type),
            (ActivityType::Call, ExportType::Snapshot)
        );
    }

    #[test]
    fn every_bad_parameter_names_its_field() {
        let cases = [
            (json!({"endDate":"2024-01-02"}), "startDate"),
            (json!({"startDate":"2024-01-01"}), "endDate"),
            (
                json!({"startDate":"2024-1-01","endDate":"2024-01-02"}),
                "startDate",
            ),
            (
                json!({"startDate":"2023-02-29","endDate":"2024-01-02"}),
                "startDate",
            ),
            (
                json!({"startDate":20240101,"endDate":"2024-01-02"}),
                "startDate",
            ),
            (
                json!({"start_date":"2024-01-05","end_date":"2024-01-02"}),
                "end_date",
            ),
            (
                json!({"startDate":"2024-01-01","endDate":"2024-01-02","activityType":"sms"}),
                "activityType",
            ),
            (
                json!({"startDate":"2024-01-01","endDate":"2024-01-02","exportType":"full"}),
                "exportType",
            ),
            (
                json!({"startDate":"2024-01-01","endDate":"2024-01-02","outputFormat":"CSV"}),
                "outputFormat",
            ),
            (
                json!({"startDate":"2024-01-01","endDate":"2024-01-02","windowDays":15}),
                "windowDays",
            ),
            (
                json!({"startDate":"2024-01-01","endDate":"2024-01-02","startdate":"x"}),
                "startdate",
            ),
            (
                json!({"startDate":"2024-01-01","start_date":"2024-01-01","endDate":"2024-01-02"}),
                "startDate",
            ),
            (
                json!({"startDate":"2024-01-01","endDate":"2025-01-01","exportType":"snapshot"}),
                "endDate",
            ),
        ];
        for (v, field) in cases {
            let e = req(v.clone()).unwrap_err();
            assert_eq!(e.field(), Some(field), "{v}: {e}");
            assert_eq!(e.code(), "E_INVALID_ARGUMENT");
        }
        assert_eq!(req(json!([1])).unwrap_err().field(), Some("params"));
    }

    #[test]
    fn range_limits_as_the_vendor_counts_them() {
        let one = |s: &str, e: &str, t: &str| {
            JobParams::from_value(&json!({"startDate":s,"endDate":e,"exportType":t}))
        };
        assert!(one("2024-01-01", "2024-01-14", "delta").is_ok());
        let e = one("2024-01-01", "2024-01-15", "delta").unwrap_err();
        assert!(e.to_string().contains("15"), "{e}");
        assert!(one("2024-01-01", "2024-12-31", "snapshot").is_ok());
        assert!(one("2024-01-01", "2025-01-01", "snapshot").is_err());
        // A leap-day start: the year ends before 1 March of the next year.
        assert!(one("2024-02-29", "2025-02-28", "snapshot").is_ok());
        assert!(one("2024-02-29", "2025-03-01", "snapshot").is_err());
        // A long delta range is fine as an export request (it becomes windows).
        let r = req(json!({"startDate":"2024-01-01","endDate":"2024-12-31"})).unwrap();
        assert!(r.single_job().is_err());
        assert!(req(json!({"startDate":"1900-01-01","endDate":"2099-12-31"})).is_err());
    }

    #[test]
    fn requests_and_job_ids() {
        let r = data_request("https://h/", "a-1", Some(3)).unwrap();
        assert_eq!(
            r.url,
            "https://h/pull/v1/export/activities/jobs/a-1/data?fragment=3"
        );
        assert!(r.stream_body && r.needs_auth && r.idempotent);
        let c = JobParams::from_value(&json!({"startDate":"2024-01-01","endDate":"2024-01-01"}))
            .unwrap()
            .create_request("https://h");
        assert!(!c.idempotent, "creating a job twice would make two jobs");
        for bad in ["", "../x", "a/b", "a?b", "a%2F", ".."] {
            assert_eq!(
                get_request("https://h", bad).unwrap_err().field(),
                Some("jobId"),
                "{bad}"
            );
        }
        assert_eq!(
            list_request("https://h").url,
            "https://h/pull/v1/export/activities/jobs"
        );
    }
}
