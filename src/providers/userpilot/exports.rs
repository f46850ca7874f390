//! Userpilot Bulk Data Export API: the export parameters and their validation, the job model
//! (progress "N out of M partitions" read into numbers, presigned files), the documented error
//! envelope (409 while a job runs, the no-plan answer), and the polling schedule.
//!
//! Validation works on `serde_json::Value`, like the Query API's, so every error names the key
//! the caller wrote (`eventType[2]` or `event_type[2]`) and unknown keys are refused: a typo such
//! as `"user_ids"` would otherwise export every user's events.

use crate::core::http::{join_url, HttpRequest, HttpResponse};
use crate::core::poll::PollBackoff;
use crate::core::time::parse_date;
use crate::core::Step;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::backstory::query::{expect_object, type_name};
use serde_json::{Map, Value};
use std::fmt;

pub const DEFAULT_BASE_URL: &str = "https://appex.userpilot.io";
pub const EXPORTS_PATH: &str = "/api/v1/analytics/exports/";
pub const JOBS_PATH: &str = "/api/v1/analytics/exports/jobs/";

/// The six documented event types, also the default when none is given.
pub const EVENT_TYPES: [&str; 6] = [
    "identify_user",
    "identify_company",
    "page_view",
    "track",
    "track_feature",
    "interaction",
];

/// Wire keys and the camelCase spelling JavaScript callers may use instead.
const KEYS: [(&str, Option<&str>); 9] = [
    ("from", None),
    ("to", None),
    ("emails", None),
    ("event_type", Some("eventType")),
    ("user_id", Some("userId")),
    ("company_id", Some("companyId")),
    ("segment_id", Some("segmentId")),
    ("format", None),
    ("exclusions", None),
];

/// Lists longer than this are a mistake (or a request body the vendor would refuse), not a filter.
const MAX_LIST: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Gzip-compressed JSON Lines.
    #[default]
    Json,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    /// The format of a presigned file, from its name (`2024-07-29.json.gz`).
    pub fn of_filename(name: &str) -> Option<Format> {
        let stem = name.strip_suffix(".gz").unwrap_or(name);
        if stem.ends_with(".csv") {
            Some(Format::Csv)
        } else if stem.ends_with(".json") || stem.ends_with(".jsonl") || stem.ends_with(".ndjson") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// A validated export request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExportParams {
    pub from: String,
    pub to: String,
    pub emails: Vec<String>,
    /// Empty: the vendor's default (all six types).
    pub event_type: Vec<String>,
    pub user_id: Vec<String>,
    pub company_id: Vec<String>,
    pub segment_id: Option<String>,
    pub format: Format,
    pub exclusions: bool,
}

impl ExportParams {
    pub fn from_json(text: &str) -> Result<ExportParams> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                "params",
                format!(
                    "is not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        ExportParams::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<ExportParams> {
        let m = expect_object(v, "params")?;
        for k in m.keys() {
            if !KEYS
                .iter()
                .any(|(wire, alias)| k == wire || Some(k.as_str()) == *alias)
            {
                let mut names: Vec<&str> = KEYS.iter().map(|(w, _)| *w).collect();
                names.extend(KEYS.iter().filter_map(|(_, a)| *a));
                return Err(Error::invalid(
                    k.as_str(),
                    format!("unknown key; expected one of {}", names.join(", ")),
                ));
            }
        }
        let from = date_at(m, "from")?;
        let to = date_at(m, "to")?;
        if parse_date(&to) < parse_date(&from) {
            return Err(Error::invalid(
                "to",
                format!("must not be before `from` ({from}), got {to}"),
            ));
        }
        let emails = list_at(m, "emails", None, |s, field| {
            if is_email(s) {
                Ok(())
            } else {
                Err(Error::invalid(
                    field,
                    format!("{s:?} is not a well-formed email address"),
                ))
            }
        })?;
        let event_type = list_at(m, "event_type", Some("eventType"), |s, field| {
            if EVENT_TYPES.contains(&s) {
                Ok(())
            } else {
                Err(Error::invalid(
                    field,
                    format!(
                        "unknown event type {s:?}; expected one of {}",
                        EVENT_TYPES.join(", ")
                    ),
                ))
            }
        })?;
        let user_id = list_at(m, "user_id", Some("userId"), |_, _| Ok(()))?;
        let company_id = list_at(m, "company_id", Some("companyId"), |_, _| Ok(()))?;
        let segment_id = match pick(m, "segment_id", Some("segmentId"))? {
            None | Some((_, Value::Null)) => None,
            Some((_, Value::String(s))) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some((k, Value::String(_))) => return Err(Error::invalid(k, "must not be empty")),
            Some((k, other)) => {
                return Err(Error::invalid(
                    k,
                    format!("must be a string, not {}", type_name(other)),
                ))
            }
        };
        let format = match m.get("format") {
            None | Some(Value::Null) => Format::Json,
            Some(Value::String(s)) if s == "json" => Format::Json,
            Some(Value::String(s)) if s == "csv" => Format::Csv,
            Some(Value::String(s)) => {
                return Err(Error::invalid(
                    "format",
                    format!("must be \"json\" or \"csv\", got {s:?}"),
                ))
            }
            Some(other) => {
                return Err(Error::invalid(
                    "format",
                    format!("must be \"json\" or \"csv\", not {}", type_name(other)),
                ))
            }
        };
        let exclusions = match m.get("exclusions") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(Error::invalid(
                    "exclusions",
                    format!("must be a boolean, not {}", type_name(other)),
                ))
            }
        };
        Ok(ExportParams {
            from,
            to,
            emails,
            event_type,
            user_id,
            company_id,
            segment_id,
            format,
            exclusions,
        })
    }

    /// The request body in the vendor's shape; empty lists and defaults are left out.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("from".into(), Value::String(self.from.clone()));
        m.insert("to".into(), Value::String(self.to.clone()));
        let mut list = |k: &str, v: &[String]| {
            if !v.is_empty() {
                m.insert(
                    k.into(),
                    Value::Array(v.iter().cloned().map(Value::String).collect()),
                );
            }
        };
        list("emails", &self.emails);
        list("event_type", &self.event_type);
        list("user_id", &self.user_id);
        list("company_id", &self.company_id);
        if let Some(s) = &self.segment_id {
            m.insert("segment_id".into(), Value::String(s.clone()));
        }
        m.insert("format".into(), Value::String(self.format.as_str().into()));
        if self.exclusions {
            m.insert("exclusions".into(), Value::Bool(true));
        }
        Value::Object(m)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// `POST /api/v1/analytics/exports/`. Not marked idempotent: a retried POST could start a
    /// second job, and the vendor allows one at a time.
    pub fn create_request(&self, base_url: &str) -> HttpRequest {
        HttpRequest::post(
            join_url(base_url, EXPORTS_PATH),
            "application/json",
            self.to_json().into_bytes(),
        )
        .with_header("Accept", "application/json")
        .authed()
    }
}

/// The value under the wire key or its camelCase alias, with the key the caller used.
fn pick<'a>(
    m: &'a Map<String, Value>,
    wire: &'a str,
    alias: Option<&'a str>,
) -> Result<Option<(&'a str, &'a Value)>> {
    let a = alias.and_then(|k| m.get(k).map(|v| (k, v)));
    match (m.get(wire), a) {
        (Some(_), Some((k, _))) => Err(Error::invalid(
            k,
            format!("is given twice (as `{wire}` and `{k}`); keep one"),
        )),
        (Some(v), None) => Ok(Some((wire, v))),
        (None, a) => Ok(a),
    }
}

fn date_at(m: &Map<String, Value>, key: &str) -> Result<String> {
    match m.get(key) {
        None | Some(Value::Null) => Err(Error::invalid(key, "is required (YYYY-MM-DD)")),
        Some(Value::String(s)) if parse_date(s).is_some() => Ok(s.clone()),
        Some(Value::String(s)) => Err(Error::invalid(
            key,
            format!("must be a real date in YYYY-MM-DD format, got {s:?}"),
        )),
        Some(other) => Err(Error::invalid(
            key,
            format!("must be a YYYY-MM-DD string, not {}", type_name(other)),
        )),
    }
}

fn list_at(
    m: &Map<String, Value>,
    wire: &str,
    alias: Option<&str>,
    check: impl Fn(&str, String) -> Result<()>,
) -> Result<Vec<String>> {
    let (key, v) = match pick(m, wire, alias)? {
        None | Some((_, Value::Null)) => return Ok(Vec::new()),
        Some(x) => x,
    };
    let Value::Array(items) = v else {
        return Err(Error::invalid(
            key,
            format!("must be an array of strings, not {}", type_name(v)),
        ));
    };
    if items.len() > MAX_LIST {
        return Err(Error::invalid(
            key,
            format!("lists at most {MAX_LIST} values"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("{key}[{i}]");
            match item {
                Value::String(s) if s.trim().is_empty() => {
                    Err(Error::invalid(field, "must not be empty"))
                }
                Value::String(s) => {
                    let s = s.trim();
                    check(s, field)?;
                    Ok(s.to_string())
                }
                other => Err(Error::invalid(
                    field,
                    format!("must be a string, not {}", type_name(other)),
                )),
            }
        })
        .collect()
}

/// A practical well-formedness check (RFC 5321 lengths, one `@`, a dotted domain of letters,
/// digits and hyphens), not a full RFC 5322 parser: the point is to catch typos before the job.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"\"(),:;<>@[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(char::is_alphabetic) && tld.len() >= 2);
    s.len() <= 254 && local_ok && domain_ok
}

/// Userpilot's job ids are path segments of up to 200 bytes (see [`crate::providers::check_path_id`]).
pub fn check_job_id(field: &str, id: &str) -> Result<()> {
    crate::providers::check_path_id(field, id, 200)
}

pub fn list_request(base_url: &str) -> HttpRequest {
    HttpRequest::get(join_url(base_url, JOBS_PATH))
        .with_header("Accept", "application/json")
        .authed()
}

pub fn get_request(base_url: &str, job_id: &str) -> Result<HttpRequest> {
    check_job_id("jobId", job_id)?;
    Ok(
        HttpRequest::get(format!("{}{job_id}", join_url(base_url, JOBS_PATH)))
            .with_header("Accept", "application/json")
            .authed(),
    )
}

/// A presigned file. Never authorised: the signature in the URL is the credential, and the API
/// key must not travel to the storage host.
pub fn file_request(file: &PresignedFile) -> Result<HttpRequest> {
    let u = file.url.as_str();
    if !(u.starts_with("https://") || u.starts_with("http://")) {
        return Err(Error::decode(
            0,
            0,
            format!(
                "the job lists file {:?} with a URL that is not http(s)",
                file.filename
            ),
        ));
    }
    Ok(HttpRequest::get(u).streamed())
}

/// `"2 out of 6 partitions"` as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u32,
    pub total: u32,
}

impl Progress {
    /// Reads the vendor's progress text; `None` when it has another shape (it is free text).
    pub fn parse(text: &str) -> Option<Progress> {
        let mut words = text.split_whitespace();
        let done = words.next()?.parse().ok()?;
        if words.next()? != "out" || words.next()? != "of" {
            return None;
        }
        let total = words.next()?.parse().ok()?;
        match words.next() {
            None | Some("partitions" | "partition") if words.next().is_none() => {
                Some(Progress { done, total })
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    InProgress,
    Completed,
    Failed,
    /// A status the document does not list, kept as sent.
    Other(String),
}

impl JobStatus {
    /// The document writes `completed`, `in_progress`, `failed`; the same words in another case
    /// or with a space or hyphen (`In Progress`, `in-progress`) are read as them.
    pub fn parse(s: &str) -> JobStatus {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        match norm.as_str() {
            "in_progress" | "inprogress" | "running" => JobStatus::InProgress,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            other => JobStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::InProgress => "in_progress",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Other(s) => s,
        }
    }

    /// No further change is expected. An unknown status counts as running: waiting on it ends at
    /// the caller's deadline rather than by guessing that it succeeded.
    pub fn is_final(&self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// One file of a finished job. `Debug` leaves out the URL's query string: it holds the signature.
#[derive(Clone, PartialEq)]
pub struct PresignedFile {
    pub filename: String,
    pub url: String,
}

impl fmt::Debug for PresignedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bare = self.url.split('?').next().unwrap_or("");
        f.debug_struct("PresignedFile")
            .field("filename", &self.filename)
            .field("url", &format!("{bare}?[signature redacted]"))
            .finish()
    }
}

/// The 201 answer to a new export.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub job_id: String,
    pub environment_app_token: Option<String>,
    pub environment_name: Option<String>,
    pub links: Option<String>,
    pub start_time: Option<String>,
}

impl Created {
    pub fn parse(body: &[u8]) -> Result<Created> {
        let v = json_object(body, "the new export job")?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let job_id = s("job_id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::decode(1, 0, "the new export job has no job_id"))?;
        Ok(Created {
            job_id,
            environment_app_token: s("environment_app_token"),
            environment_name: s("environment_name"),
            links: s("links"),
            start_time: s("start_time"),
        })
    }
}

/// A job as the list or the detail endpoint describes it (the list has fewer fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub status: JobStatus,
    pub progress: Option<Progress>,
    pub progress_text: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub elapsed_time_seconds: Option<f64>,
    pub app_token: Option<String>,
    pub current_chunk: Option<String>,
    pub completed_chunks: Vec<String>,
    pub all_chunks: Vec<String>,
    pub presigned_urls: Vec<PresignedFile>,
    pub kind: Option<String>,
}

impl Job {
    pub fn parse(body: &[u8]) -> Result<Job> {
        let v = json_object(body, "the export job")?;
        Job::from_value(&v, "job")
    }

    fn from_value(v: &Map<String, Value>, what: &str) -> Result<Job> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let strings = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let job_id = s("job_id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::decode(1, 0, format!("{what} has no job_id")))?;
        let status = s("status")
            .map(|x| JobStatus::parse(&x))
            .ok_or_else(|| Error::decode(1, 0, format!("{what} {job_id} has no status")))?;
        let progress_text = s("progress");
        let mut presigned_urls = Vec::new();
        if let Some(list) = v.get("presigned_urls").and_then(Value::as_array) {
            for (i, f) in list.iter().enumerate() {
                // Objects `{filename, url}` as documented, or bare URL strings (the field's name
                // says "urls"): then the name is the URL's last path segment.
                let (name, url) = match f {
                    Value::String(u) => (filename_of_url(u), Some(u.as_str())),
                    _ => (
                        f.get("filename").and_then(Value::as_str),
                        f.get("url").and_then(Value::as_str),
                    ),
                };
                match (name, url) {
                    (Some(n), Some(u)) if !n.is_empty() && !u.is_empty() => {
                        presigned_urls.push(PresignedFile {
                            filename: n.to_string(),
                            url: u.to_string(),
                        })
                    }
                    _ => {
                        return Err(Error::decode(
                            1,
                            0,
                            format!("{what} {job_id}: presigned_urls[{i}] lacks a filename or url"),
                        ))
                    }
                }
            }
        }
        Ok(Job {
            progress: progress_text.as_deref().and_then(Progress::parse),
            progress_text,
            start_time: s("start_time"),
            end_time: s("end_time"),
            elapsed_time_seconds: v.get("elapsed_time_seconds").and_then(Value::as_f64),
            app_token: s("app_token"),
            current_chunk: s("current_chunk"),
            completed_chunks: strings("completed_chunks"),
            all_chunks: strings("all_chunks"),
            presigned_urls,
            kind: s("type"),
            job_id,
            status,
        })
    }

    /// The answer of `GET .../exports/jobs/`: an array of jobs.
    pub fn parse_list(body: &[u8]) -> Result<Vec<Job>> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            Error::decode(
                e.line() as u64,
                e.column() as u64,
                "the jobs list is not JSON",
            )
        })?;
        let Value::Array(items) = v else {
            return Err(Error::decode(1, 0, "the jobs list is not a JSON array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(m) => Job::from_value(m, &format!("jobs[{i}]")),
                _ => Err(Error::decode(1, 0, format!("jobs[{i}] is not an object"))),
            })
            .collect()
    }

    /// The file of this job with that name (URLs change on every read; names do not).
    pub fn file(&self, filename: &str) -> Option<&PresignedFile> {
        self.presigned_urls.iter().find(|f| f.filename == filename)
    }
}

/// `https://h/a/2024-07-29.json.gz?X-Amz-...` -> `2024-07-29.json.gz`.
fn filename_of_url(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

/// Turns a JSON array, as it streams in, into JSON Lines: one element a line (the document says
/// "JSON"; FACTS says one object a line; a vendor may send `[{..}, {..}]`, pretty-printed or
/// not). Outside strings, the array's brackets go, the commas between elements become newlines
/// and line breaks inside an element become spaces; everything else passes unchanged, so the
/// JSON Lines parser reads element N as line N.
#[derive(Debug, Clone, Default)]
pub struct ArrayToLines {
    depth: u32,
    in_str: bool,
    esc: bool,
    opened: bool,
    closed: bool,
    at: u64,
}

impl ArrayToLines {
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.reserve(input.len());
        for &b in input {
            self.at += 1;
            if self.in_str {
                out.push(b);
                if self.esc {
                    self.esc = false;
                } else if b == b'\\' {
                    self.esc = true;
                } else if b == b'"' {
                    self.in_str = false;
                }
                continue;
            }
            if self.depth == 0 {
                match b {
                    b'[' if !self.opened => {
                        self.opened = true;
                        self.depth = 1;
                    }
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    _ => {
                        return Err(Error::decode(
                            1,
                            self.at,
                            format!("unexpected {:?} outside the JSON array", b as char),
                        ))
                    }
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_str = true;
                    out.push(b);
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    out.push(b);
                }
                b']' if self.depth == 1 => {
                    self.depth = 0;
                    self.closed = true;
                    out.push(b'\n');
                }
                b']' | b'}' => {
                    self.depth -= 1;
                    out.push(b);
                }
                b',' if self.depth == 1 => out.push(b'\n'),
                b' ' | b'\t' | b'\r' | b'\n' if self.depth == 1 => {}
                b'\r' | b'\n' => out.push(b' '),
                _ => out.push(b),
            }
        }
        Ok(())
    }

    /// The input ended: the array must have been closed.
    pub fn finish(&self) -> Result<()> {
        if self.closed && self.depth == 0 && !self.in_str {
            Ok(())
        } else {
            Err(Error::decode(1, self.at, "the JSON array is not closed"))
        }
    }
}

/// The job a 409 refers to: the one the list shows in progress (the newest, if several).
pub fn running_job(jobs: &[Job]) -> Option<&Job> {
    jobs.iter().find(|j| j.status == JobStatus::InProgress)
}

fn json_object(body: &[u8], what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::decode(1, 0, format!("{what} is not a JSON object"))),
        Err(e) => Err(Error::decode(
            e.line() as u64,
            e.column() as u64,
            format!("{what} is not JSON"),
        )),
    }
}

/// One entry of Userpilot's error envelope `{errors: [{details, error, error_code, message}]}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiError {
    pub details: Option<String>,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub message: Option<String>,
    /// Not documented; the sandbox names the offending parameter here on a 400.
    pub field: Option<String>,
}

impl ApiError {
    /// The first error of the envelope, or `None` if the body has another shape.
    pub fn parse(body: &[u8]) -> Option<ApiError> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let e = v.get("errors")?.as_array()?.first()?.as_object()?;
        let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        Some(ApiError {
            details: s("details"),
            error: s("error"),
            error_code: s("error_code").or_else(|| {
                e.get("error_code")
                    .and_then(Value::as_u64)
                    .map(|n| n.to_string())
            }),
            message: s("message"),
            field: s("field"),
        })
    }

    /// The most specific text: `details` when present, else `message`.
    pub fn text(&self) -> Option<&str> {
        self.details
            .as_deref()
            .filter(|d| !d.is_empty())
            .or(self.message.as_deref())
    }
}

/// The error for a failed Userpilot call. 409 becomes `Conflict` (the caller fills in the running
/// job when it can tell); other statuses keep their kind, with the envelope's text as the excerpt
/// rather than the raw JSON.
pub fn error_from_response(resp: &HttpResponse, retry_after_ms: Option<u64>) -> Error {
    if resp.status == 409 {
        return Error::new(ErrorKind::Conflict {
            running_job_id: None,
        });
    }
    let parsed = ApiError::parse(&resp.body);
    if let (400 | 422, Some(field)) = (resp.status, parsed.as_ref().and_then(|e| e.field.clone())) {
        let reason = parsed
            .as_ref()
            .and_then(|e| e.text().map(str::to_string))
            .unwrap_or_else(|| "refused by the API".into());
        return Error::invalid(field, format!("refused by the API: {reason}"));
    }
    match parsed.as_ref().and_then(ApiError::text) {
        Some(text) => Error::from_status(resp.status, text.as_bytes(), retry_after_ms),
        None => Error::from_status(resp.status, &resp.body, retry_after_ms),
    }
}

/// When to read a running job's status again: [`PollBackoff`]'s growing waits, and an optional
/// deadline after which waiting ends in `Timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSchedule {
    backoff: PollBackoff,
    /// Give up (`Timeout`) at this instant, if set.
    pub deadline_ms: Option<f64>,
}

impl PollSchedule {
    pub fn new(initial_ms: f64, max_ms: f64, deadline_ms: Option<f64>) -> PollSchedule {
        PollSchedule {
            backoff: PollBackoff::new(initial_ms, max_ms, 0.0),
            deadline_ms,
        }
    }

    /// How long to wait before the next read, or `Timeout` if the deadline has passed. The last
    /// wait is cut short so that the final read happens at the deadline.
    pub fn next_delay(&mut self, now_ms: f64) -> Result<f64> {
        let mut d = self.backoff.interval();
        self.backoff.read(now_ms);
        if let Some(deadline) = self.deadline_ms {
            if now_ms >= deadline {
                return Err(Error::new(ErrorKind::Timeout));
            }
            d = d.min(deadline - now_ms);
        }
        Ok(d)
    }
}

impl Default for PollSchedule {
    fn default() -> Self {
        PollSchedule::new(500.0, 10_000.0, None)
    }
}

/// Waiting for a job to end: read it, and again after a growing pause, until it is
/// `completed` (the result) or `failed` (`JobFailed`), or the deadline passes (`Timeout`).
/// Sans-IO: [`WaitJob::poll`] says when to read, [`WaitJob::handle_job`] takes each read.
#[derive(Debug, Clone)]
pub struct WaitJob {
    request: HttpRequest,
    schedule: PollSchedule,
    /// The next read is due at this time; `None` while one is in flight.
    due_ms: Option<f64>,
    done: Option<Job>,
}

impl WaitJob {
    /// The first read is due at once.
    pub fn new(base_url: &str, job_id: &str, schedule: PollSchedule) -> Result<Self> {
        Ok(WaitJob {
            request: get_request(base_url, job_id)?,
            schedule,
            due_ms: Some(f64::NEG_INFINITY),
            done: None,
        })
    }

    pub fn poll(&mut self, now_ms: f64) -> Result<Step<Job>> {
        if let Some(job) = &self.done {
            return Ok(Step::Done(job.clone()));
        }
        match self.due_ms {
            Some(at) if at > now_ms => Ok(Step::Wait { until_ms: at }),
            Some(_) => {
                self.due_ms = None;
                Ok(Step::Send(self.request.clone()))
            }
            None => Err(Error::invalid("poll", "a status read is already in flight")),
        }
    }

    /// Time left before the deadline, to bound a read.
    pub fn poll_timeout(&self, now_ms: f64) -> Option<f64> {
        self.schedule.deadline_ms.map(|d| (d - now_ms).max(0.0))
    }

    /// One read of the job.
    pub fn handle_job(&mut self, job: Job, now_ms: f64) -> Result<()> {
        match job.status {
            JobStatus::Completed => self.done = Some(job),
            JobStatus::Failed => {
                return Err(Error::new(ErrorKind::JobFailed {
                    job_id: job.job_id,
                    state: "failed".into(),
                }))
            }
            _ => self.due_ms = Some(now_ms + self.schedule.next_delay(now_ms)?),
        }
        Ok(())
    }
}

/// What a file holds, told by its first byte that is not white space: files whose name does not
/// say, and JSON files that turn out to be one JSON array rather than JSON Lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    JsonLines,
    JsonArray,
    Csv,
}

impl Sniffed {
    pub fn format(self) -> Format {
        match self {
            Sniffed::JsonLines | Sniffed::JsonArray => Format::Json,
            Sniffed::Csv => Format::Csv,
        }
    }
}

/// `None` while only white space has arrived.
pub fn sniff(data: &[u8]) -> Option<Sniffed> {
    match data.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => Some(Sniffed::JsonArray),
        b'{' => Some(Sniffed::JsonLines),
        _ => Some(Sniffed::Csv),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(v: Value) -> String {
        ExportParams::from_value(&v)
            .unwrap_err()
            .field()
            .unwrap_or("")
            .to_string()
    }

    #[test]
    fn the_documents_example_round_trips() {
        let doc = json!({ "from": "2024-05-02", "to": "2024-09-30", "emails": [ "example@work.com" ],
            "event_type": [ "identify_user", "identify_company", "page_view", "track" ],
            "user_id": ["user_1"], "company_id": ["comp_2"], "segment_id": "9", "format": "csv", "exclusions": true });
        let p = ExportParams::from_value(&doc).unwrap();
        assert_eq!(p.format, Format::Csv);
        assert_eq!(p.to_value(), doc);
        let r = p.create_request("https://appex.userpilot.io");
        assert_eq!(
            r.url,
            "https://appex.userpilot.io/api/v1/analytics/exports/"
        );
        assert!(r.needs_auth && !r.idempotent);
        let minimal =
            ExportParams::from_json(r#"{"from":"2024-01-01","to":"2024-01-01"}"#).unwrap();
        assert_eq!(
            minimal.to_json(),
            r#"{"format":"json","from":"2024-01-01","to":"2024-01-01"}"#
        );
    }

    #[test]
    fn camel_case_aliases_are_accepted_and_errors_use_the_callers_key() {
        let p = ExportParams::from_value(&json!({"from":"2024-01-01","to":"2024-01-31",
            "eventType":["track"],"userId":["u"],"companyId":["c"],"segmentId":"7"}))
        .unwrap();
        assert_eq!(p.event_type, ["track"]);
        assert_eq!(p.segment_id.as_deref(), Some("7"));
        assert_eq!(
            field_of(json!({"from":"2024-01-01","to":"2024-01-31","eventType":["track","click"]})),
            "eventType[1]"
        );
        assert_eq!(
            field_of(json!({"from":"2024-01-01","to":"2024-01-31","eventType":[],"event_type":[]})),
            "eventType"
        );
    }

    #[test]
    fn every_bad_parameter_names_its_field() {
        let base = || json!({"from":"2024-01-01","to":"2024-01-31"});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        assert_eq!(field_of(json!({"to":"2024-01-01"})), "from");
        assert_eq!(field_of(json!({"from":"2024-01-01"})), "to");
        assert_eq!(field_of(with("from", json!("2024-1-01"))), "from");
        assert_eq!(field_of(with("from", json!("2023-02-29"))), "from");
        assert_eq!(field_of(with("to", json!(20240101))), "to");
        assert_eq!(field_of(with("to", json!("2023-12-31"))), "to");
        assert_eq!(
            field_of(with("emails", json!(["a@b.co", "nope"]))),
            "emails[1]"
        );
        assert_eq!(field_of(with("emails", json!("a@b.co"))), "emails");
        assert_eq!(
            field_of(with("event_type", json!(["page_views"]))),
            "event_type[0]"
        );
        assert_eq!(field_of(with("user_id", json!([1]))), "user_id[0]");
        assert_eq!(field_of(with("user_id", json!([""]))), "user_id[0]");
        assert_eq!(field_of(with("company_id", json!({}))), "company_id");
        assert_eq!(field_of(with("segment_id", json!(9))), "segment_id");
        assert_eq!(field_of(with("format", json!("xml"))), "format");
        assert_eq!(field_of(with("format", json!(true))), "format");
        assert_eq!(field_of(with("exclusions", json!("yes"))), "exclusions");
        assert_eq!(field_of(with("user_ids", json!(["u"]))), "user_ids");
        assert_eq!(field_of(json!([])), "params");
        let e = ExportParams::from_value(&with("to", json!("2023-12-31"))).unwrap_err();
        assert!(e.to_string().contains("before"), "{e}");
    }

    #[test]
    fn emails() {
        for ok in ["example@work.com", "a.b+c@sub.example.co.uk", "ü@bücher.de"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a@b.",
            "a@.b.co",
            "a b@c.co",
            "a@b@c.co",
            "a..b@c.co",
            ".a@b.co",
            "a@-b.co",
            "a@b.c0",
            "a@b.c",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn progress_text_becomes_numbers() {
        assert_eq!(
            Progress::parse("2 out of 6 partitions"),
            Some(Progress { done: 2, total: 6 })
        );
        assert_eq!(
            Progress::parse(" 0 out of 1 partition "),
            Some(Progress { done: 0, total: 1 })
        );
        assert_eq!(
            Progress::parse("5 out of 5"),
            Some(Progress { done: 5, total: 5 })
        );
        for bad in [
            "",
            "two out of 6 partitions",
            "2 of 6",
            "2 out of -1 partitions",
            "2 out of 6 partitions left",
        ] {
            assert_eq!(Progress::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_documents_job_bodies_parse() {
        let detail = br#"{ "app_token": "NX-1", "completed_chunks": [ "2024-05-01", "2024-06-01" ],
          "current_chunk": "2024-09-01", "end_time": "2024-09-22T13:18:11.558646Z",
          "job_id": "664314e1-ee60-48eb-a36a-5f38f4c524f1",
          "presigned_urls": [ { "filename": "2024-07-29.json.gz", "url": "https://csvexports.userpilot.io/x/2024-07-29.json.gz?X-Amz-Signature=abc" } ],
          "progress": "2 out of 5 partitions", "start_time": "2024-09-22T13:17:26.864860Z", "status": "completed",
          "all_chunks": [ "2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01" ], "type": "export" }"#;
        let j = Job::parse(detail).unwrap();
        assert_eq!(j.status, JobStatus::Completed);
        assert_eq!(j.progress, Some(Progress { done: 2, total: 5 }));
        assert_eq!(j.all_chunks.len(), 5);
        assert_eq!(j.presigned_urls[0].filename, "2024-07-29.json.gz");
        assert_eq!(
            Format::of_filename(&j.presigned_urls[0].filename),
            Some(Format::Json)
        );
        let dbg = format!("{:?}", j.presigned_urls[0]);
        assert!(!dbg.contains("abc"), "{dbg}");
        let list = br#"[ { "elapsed_time": "44 seconds", "elapsed_time_seconds": 44, "end_time": "2024-09-22T11:20:58.006463Z",
          "job_id": "af257e48", "progress": "5 out of 5 partitions", "start_time": "2024-09-22T11:20:14.731634", "status": "completed" },
          { "job_id": "862c0224", "progress": "1 out of 6 partitions", "status": "in_progress" } ]"#;
        let jobs = Job::parse_list(list).unwrap();
        assert_eq!(jobs[0].elapsed_time_seconds, Some(44.0));
        assert_eq!(
            running_job(&jobs).map(|j| j.job_id.as_str()),
            Some("862c0224")
        );
        assert_eq!(Job::parse(b"{}").unwrap_err().code(), "E_DECODE");
        assert_eq!(Job::parse_list(b"{}").unwrap_err().code(), "E_DECODE");
        let c = Created::parse(br#"{ "environment_app_token": "NX-51f4acf7", "environment_name": "production",
          "job_id": "86f4dd75", "links": "/api/v1/analytics/exports/jobs/86f4dd75", "start_time": "2024-10-06T10:44:50.999504" }"#).unwrap();
        assert_eq!(c.job_id, "86f4dd75");
    }

    #[test]
    fn presigned_urls_as_strings_and_statuses_in_any_case_are_read() {
        let j = Job::parse(br#"{"job_id":"j","status":"Completed","presigned_urls":["https://f/x/2024-07-29.json.gz?X-Amz-Signature=a/b","https://f/x/2024-08-05.csv.gz"]}"#).unwrap();
        assert_eq!(j.status, JobStatus::Completed);
        let names: Vec<&str> = j
            .presigned_urls
            .iter()
            .map(|f| f.filename.as_str())
            .collect();
        assert_eq!(names, ["2024-07-29.json.gz", "2024-08-05.csv.gz"]);
        assert!(j.presigned_urls[0].url.ends_with("Signature=a/b"));
        for (text, st) in [
            ("IN_PROGRESS", JobStatus::InProgress),
            ("In Progress", JobStatus::InProgress),
            ("in-progress", JobStatus::InProgress),
            ("FAILED", JobStatus::Failed),
        ] {
            assert_eq!(JobStatus::parse(text), st, "{text}");
        }
        assert_eq!(
            JobStatus::parse("queued"),
            JobStatus::Other("queued".into())
        );
        let e =
            Job::parse(br#"{"job_id":"j","status":"completed","presigned_urls":["https://f/"]}"#)
                .unwrap_err();
        assert!(e.to_string().contains("presigned_urls[0]"), "{e}");
    }

    #[test]
    fn a_json_array_becomes_one_element_a_line_across_any_chunking() {
        let text =
            "[\n  {\n    \"a\": \"x, ] } [\\\" y\",\n    \"b\": [1, 2]\n  },\n  {\"a\": null}\n]\n";
        let want = "{     \"a\": \"x, ] } [\\\" y\",     \"b\": [1, 2]   }\n{\"a\": null}\n";
        for size in [1, 2, 5, 1000] {
            let mut a = ArrayToLines::default();
            let mut out = Vec::new();
            for c in text.as_bytes().chunks(size) {
                a.feed(c, &mut out).unwrap();
            }
            a.finish().unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "chunks of {size}");
        }
        let mut a = ArrayToLines::default();
        let mut out = Vec::new();
        a.feed(b"[]", &mut out).unwrap();
        a.finish().unwrap();
        assert_eq!(out, b"\n");
        let mut a = ArrayToLines::default();
        a.feed(b"[{\"a\":1},", &mut Vec::new()).unwrap();
        assert_eq!(a.finish().unwrap_err().code(), "E_DECODE", "not closed");
        let mut a = ArrayToLines::default();
        let e = a.feed(b"[1] x", &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("outside the JSON array"), "{e}");
    }

    #[test]
    fn the_documents_error_bodies_map_to_kinds() {
        let conflict = HttpResponse::new(
            409,
            r#"{ "errors": [ { "details": "There is already an export job in progress, you can only have one export job in progress at a time.", "error": "Conflict", "error_code": "409", "message": "The request could not be completed due to a conflict with the current state of the target resource." } ] }"#,
        );
        let e = ApiError::parse(&conflict.body).unwrap();
        assert_eq!(e.error_code.as_deref(), Some("409"));
        assert!(e.text().unwrap().starts_with("There is already"));
        assert_eq!(error_from_response(&conflict, None).code(), "E_CONFLICT");
        let noplan = HttpResponse::new(
            403,
            r#"{ "errors": [ { "details": "Your current plan for application NX-d7ce194a does not support the feature you are trying to access.", "error": "Unauthorized", "error_code": "401", "message": "You are not authorized to perform the requested action." } ] }"#,
        );
        let e = error_from_response(&noplan, None);
        assert_eq!(e.code(), "E_AUTH");
        assert!(
            e.to_string().contains("does not support the feature"),
            "{e}"
        );
        let nf = HttpResponse::new(
            404,
            r#"{ "errors": [ { "details": null, "error": "Resource not found", "error_code": "404", "message": "Failed to retrieve job with id x for application NX-1: job not found" } ] }"#,
        );
        let e = error_from_response(&nf, None);
        assert_eq!(e.status(), Some(404));
        assert!(e.to_string().contains("job not found"), "{e}");
        let bad = HttpResponse::new(
            400,
            r#"{"errors":[{"details":"segment_id 77 was not found","error":"Bad Request","error_code":"400","message":"x","field":"segment_id"}]}"#,
        );
        assert_eq!(error_from_response(&bad, None).field(), Some("segment_id"));
        assert_eq!(
            error_from_response(&HttpResponse::new(502, "<html>"), None).status(),
            Some(502)
        );
    }

    #[test]
    fn job_ids_are_checked_before_they_reach_a_path() {
        assert!(get_request("https://x", "86f4dd75-00c8").is_ok());
        assert_eq!(
            get_request("https://x", "86f4dd75-00c8").unwrap().url,
            "https://x/api/v1/analytics/exports/jobs/86f4dd75-00c8"
        );
        for bad in ["", "../x", "a/b", "a?b", "a b", "é"] {
            assert_eq!(
                get_request("https://x", bad).unwrap_err().field(),
                Some("jobId"),
                "{bad}"
            );
        }
    }

    #[test]
    fn poll_schedule_backs_off_to_a_ceiling_and_stops_at_the_deadline() {
        let mut p = PollSchedule::new(500.0, 2_000.0, None);
        let d: Vec<f64> = (0..5).map(|_| p.next_delay(0.0).unwrap()).collect();
        assert_eq!(d, [500.0, 750.0, 1125.0, 1687.5, 2000.0]);
        let mut p = PollSchedule::new(500.0, 2_000.0, Some(1_000.0));
        assert_eq!(p.next_delay(0.0).unwrap(), 500.0);
        assert_eq!(p.next_delay(600.0).unwrap(), 400.0);
        assert_eq!(p.next_delay(1_000.0).unwrap_err().code(), "E_TIMEOUT");
    }

    #[test]
    fn a_file_is_sniffed_by_its_first_byte_that_is_not_white_space() {
        assert_eq!(sniff(b" \n\t"), None);
        assert_eq!(sniff(b"\n {\"a\":1}"), Some(Sniffed::JsonLines));
        assert_eq!(sniff(b"  [{\"a\":1}]"), Some(Sniffed::JsonArray));
        assert_eq!(sniff(b"app_token,event_type"), Some(Sniffed::Csv));
        assert_eq!(Sniffed::JsonArray.format(), Format::Json);
    }

    #[test]
    fn a_job_is_read_until_it_ends_with_growing_pauses_up_to_the_deadline() {
        let running = |id: &str| {
            Job::parse(format!(r#"{{"job_id":"{id}","status":"in_progress"}}"#).as_bytes()).unwrap()
        };
        let mut w = WaitJob::new(
            "https://up.example",
            "j",
            PollSchedule::new(100.0, 400.0, None),
        )
        .unwrap();
        let mut now = 0.0;
        let mut pauses = Vec::new();
        for _ in 0..4 {
            assert!(matches!(w.poll(now), Ok(Step::Send(_))));
            assert!(w.poll(now).is_err(), "one read at a time");
            w.handle_job(running("j"), now).unwrap();
            match w.poll(now).unwrap() {
                Step::Wait { until_ms } => {
                    pauses.push(until_ms - now);
                    now = until_ms;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(
            pauses.windows(2).all(|p| p[0] <= p[1]) && pauses[3] <= 400.0,
            "{pauses:?}"
        );
        w.poll(now).unwrap();
        let done =
            Job::parse(br#"{"job_id":"j","status":"completed","presigned_urls":[]}"#).unwrap();
        w.handle_job(done, now).unwrap();
        assert!(matches!(w.poll(now), Ok(Step::Done(j)) if j.job_id == "j"));

        let mut w = WaitJob::new("https://up.example", "j", PollSchedule::default()).unwrap();
        w.poll(0.0).unwrap();
        let failed = Job::parse(br#"{"job_id":"j","status":"failed"}"#).unwrap();
        assert_eq!(
            w.handle_job(failed, 0.0).unwrap_err().code(),
            "E_JOB_FAILED"
        );

        let mut w = WaitJob::new(
            "https://up.example",
            "j",
            PollSchedule::new(100.0, 400.0, Some(50.0)),
        )
        .unwrap();
        w.poll(0.0).unwrap();
        assert_eq!(w.poll_timeout(20.0), Some(30.0));
        assert_eq!(
            w.handle_job(running("j"), 60.0).unwrap_err().code(),
            "E_TIMEOUT"
        );
    }
}
