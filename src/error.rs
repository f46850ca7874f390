//! The client's error type: every kind a run can end with (arguments, HTTP statuses, redirects,
//! the network, timeouts, jobs, links, bad data), with where it happened and what caused it.
//! The parsers' own errors (exportkit-parse: bad data and bad parser options) convert into it
//! with `?`; the transport kinds live only here.
//!
//! Boxed so that `Result<T, Error>` stays one pointer wide on the hot parsing paths, with a
//! `#[non_exhaustive]` kind so that callers can branch on what happened and we can add kinds later.
//! Nothing in here ever holds a secret: messages are built from field names, statuses and body
//! excerpts that have been passed through [`redact`].

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller gave a value we can tell is wrong before spending a call.
    InvalidArgument {
        field: String,
        reason: String,
    },
    /// Credentials refused, or a token refused even after a fresh exchange.
    Auth {
        status: u16,
        body_excerpt: String,
    },
    /// Any other non-success HTTP status.
    Http {
        status: u16,
        body_excerpt: String,
    },
    /// 429 from the vendor, with how long it asked us to wait if it said so.
    RateLimited {
        retry_after_ms: Option<u64>,
    },
    /// Our own count of a daily allowance (the Query API's 10 calls) is used up.
    QuotaExhausted {
        limit: u32,
        resets_at_ms: f64,
    },
    /// Userpilot's 409: an export job is already running.
    Conflict {
        running_job_id: Option<String>,
    },
    JobFailed {
        job_id: String,
        state: String,
    },
    Timeout,
    Aborted,
    Network {
        message: String,
    },
    /// Data we could not read, with its position (1-based line, 1-based column or 0 if unknown).
    Decode {
        line: u64,
        column: u64,
        reason: String,
    },
    LinkExpired,
    /// A 3xx answer to a request we do not let follow redirects (one that carries a credential).
    /// `status` 0: a browser's opaque redirect, which hides both status and `Location`. `host` is
    /// only the host of `Location`, never the URL: a signature may ride in its query.
    Redirect {
        status: u16,
        host: Option<String>,
    },
}

/// Where a failure happened, as fields a caller can branch on (JavaScript sees them as
/// `jobId`, `fragment`, `file`, `line`, `column`). Filled in by whoever knows: the parser knows
/// the line, the download loop the job, fragment and file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Place {
    pub job: Option<String>,
    pub fragment: Option<u32>,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    place: Place,
    /// The failure this one was raised over (a restart budget spent on a cut body, say).
    source: Option<Error>,
}

#[derive(Clone, PartialEq)]
pub struct Error(Box<Inner>);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner {
            kind,
            place: Place::default(),
            source: None,
        }))
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Where it happened; `line` and `column` of a decode error are its own.
    pub fn place(&self) -> Place {
        let mut p = self.0.place.clone();
        if let ErrorKind::Decode { line, column, .. } = self.kind() {
            p.line = p.line.or(Some(*line));
            p.column = p.column.or(Some(*column));
        }
        p
    }

    pub fn job(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::JobFailed { job_id, .. } => Some(job_id),
            _ => self.0.place.job.as_deref(),
        }
    }

    pub fn fragment(&self) -> Option<u32> {
        self.0.place.fragment
    }

    pub fn file(&self) -> Option<&str> {
        self.0.place.file.as_deref()
    }

    /// The error raised over, if any.
    pub fn cause(&self) -> Option<&Error> {
        self.0.source.as_ref()
    }

    /// Names the job (kept when already named).
    pub fn in_job(mut self, job: &str) -> Self {
        self.0.place.job.get_or_insert_with(|| job.to_string());
        self
    }

    pub fn in_fragment(mut self, fragment: Option<u32>) -> Self {
        if self.0.place.fragment.is_none() {
            self.0.place.fragment = fragment;
        }
        self
    }

    pub fn in_file(mut self, file: &str) -> Self {
        self.0.place.file.get_or_insert_with(|| file.to_string());
        self
    }

    /// Records the failure this error was raised over.
    pub fn caused_by(mut self, source: Error) -> Self {
        self.0.source = Some(source);
        self
    }

    /// The same error with another message (the kind's prose), its place and source kept.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// The message people read starts with `what` ("job X fragment 3", a file name) for the
    /// kinds whose prose does not say where (bad data, a network failure); the place fields are
    /// set apart by `in_job`, `in_file`, ...
    pub fn prefixed(self, what: &str) -> Self {
        let kind = match self.kind() {
            ErrorKind::Decode {
                line,
                column,
                reason,
            } => ErrorKind::Decode {
                line: *line,
                column: *column,
                reason: format!("{what}: {reason}"),
            },
            ErrorKind::Network { message } => ErrorKind::Network {
                message: format!("{what}: {message}"),
            },
            _ => return self,
        };
        self.with_kind(kind)
    }

    /// A bad argument or bad data: the parser's error (one definition), converted.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        exportkit_parse::Error::invalid(field, reason).into()
    }

    pub fn decode(line: u64, column: u64, reason: impl Into<String>) -> Self {
        exportkit_parse::Error::decode(line, column, reason).into()
    }

    pub fn network(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Network {
            message: redact(&message.into()),
        })
    }

    /// The error a non-success response maps to. `body` is cut and scrubbed here so no call site
    /// can forget to.
    pub fn from_status(status: u16, body: &[u8], retry_after_ms: Option<u64>) -> Self {
        let body_excerpt = excerpt(body);
        match status {
            401 | 403 => Error::new(ErrorKind::Auth {
                status,
                body_excerpt,
            }),
            429 => Error::new(ErrorKind::RateLimited { retry_after_ms }),
            _ => Error::new(ErrorKind::Http {
                status,
                body_excerpt,
            }),
        }
    }

    /// A stable code JavaScript callers can branch on.
    pub fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::InvalidArgument { .. } => "E_INVALID_ARGUMENT",
            ErrorKind::Auth { .. } => "E_AUTH",
            ErrorKind::Http { .. } => "E_HTTP",
            ErrorKind::RateLimited { .. } => "E_RATE_LIMITED",
            ErrorKind::QuotaExhausted { .. } => "E_QUOTA_EXHAUSTED",
            ErrorKind::Conflict { .. } => "E_CONFLICT",
            ErrorKind::JobFailed { .. } => "E_JOB_FAILED",
            ErrorKind::Timeout => "E_TIMEOUT",
            ErrorKind::Aborted => "E_ABORTED",
            ErrorKind::Network { .. } => "E_NETWORK",
            ErrorKind::Decode { .. } => "E_DECODE",
            ErrorKind::LinkExpired => "E_LINK_EXPIRED",
            ErrorKind::Redirect { .. } => "E_REDIRECT",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self.kind() {
            ErrorKind::Auth { status, .. } | ErrorKind::Http { status, .. } => Some(*status),
            ErrorKind::RateLimited { .. } => Some(429),
            ErrorKind::Conflict { .. } => Some(409),
            ErrorKind::Redirect { status, .. } if *status != 0 => Some(*status),
            _ => None,
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::InvalidArgument { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn retry_after_ms(&self) -> Option<u64> {
        match self.kind() {
            ErrorKind::RateLimited { retry_after_ms } => *retry_after_ms,
            _ => None,
        }
    }

    /// Whether repeating the same request could succeed. Says nothing about whether repeating it is
    /// *safe* (a Query API call spends the daily allowance): that is the caller's policy.
    pub fn is_retryable(&self) -> bool {
        match self.kind() {
            ErrorKind::RateLimited { .. } | ErrorKind::Timeout | ErrorKind::Network { .. } => true,
            ErrorKind::Http { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    pub fn is_auth(&self) -> bool {
        matches!(self.kind(), ErrorKind::Auth { .. })
    }
}

/// A parser's error as the client reports it: the same kind, code and message.
impl From<exportkit_parse::Error> for Error {
    fn from(e: exportkit_parse::Error) -> Self {
        let kind = match e.kind() {
            exportkit_parse::ErrorKind::InvalidArgument { field, reason } => {
                ErrorKind::InvalidArgument {
                    field: field.clone(),
                    reason: reason.clone(),
                }
            }
            exportkit_parse::ErrorKind::Decode {
                line,
                column,
                reason,
            } => ErrorKind::Decode {
                line: *line,
                column: *column,
                reason: reason.clone(),
            },
            _ => ErrorKind::Decode {
                line: 0,
                column: 0,
                reason: e.to_string(),
            },
        };
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ErrorKind::InvalidArgument { field, reason } => write!(f, "invalid `{field}`: {reason}"),
            ErrorKind::Auth { status, body_excerpt } => {
                write!(f, "authentication refused (HTTP {status})")?;
                if !body_excerpt.is_empty() {
                    write!(f, ": {body_excerpt}")?;
                }
                Ok(())
            }
            ErrorKind::Http { status, body_excerpt } => {
                write!(f, "HTTP {status}")?;
                if !body_excerpt.is_empty() {
                    write!(f, ": {body_excerpt}")?;
                }
                Ok(())
            }
            ErrorKind::RateLimited { retry_after_ms: Some(ms) } => {
                write!(f, "rate limited by the vendor; retry after {} s", ms.div_ceil(1000))
            }
            ErrorKind::RateLimited { retry_after_ms: None } => write!(f, "rate limited by the vendor"),
            ErrorKind::QuotaExhausted { limit, .. } => write!(
                f,
                "daily allowance of {limit} calls is used up; it resets at 00:00 UTC (pass force to call anyway)"
            ),
            ErrorKind::Conflict { running_job_id: Some(id) } => {
                write!(f, "an export job is already running ({id}); only one may run at a time")
            }
            ErrorKind::Conflict { running_job_id: None } => {
                write!(f, "an export job is already running; only one may run at a time")
            }
            ErrorKind::JobFailed { job_id, state } => write!(f, "job {job_id} ended in state {state}"),
            ErrorKind::Timeout => write!(f, "timed out"),
            ErrorKind::Aborted => write!(f, "aborted"),
            ErrorKind::Network { message } => write!(f, "network error: {message}"),
            // Line 0: the data has no lines at that layer (a gzip stream), the reason says where.
            ErrorKind::Decode { line: 0, column: 0, reason } => write!(f, "{reason}"),
            ErrorKind::Decode { line, column: 0, reason } => write!(f, "line {line}: {reason}"),
            ErrorKind::Decode { line, column, reason } => {
                write!(f, "line {line}, column {column}: {reason}")
            }
            ErrorKind::LinkExpired => write!(f, "download link expired"),
            ErrorKind::Redirect { status, host } => {
                write!(f, "the server answered with a redirect")?;
                if *status != 0 {
                    write!(f, " (HTTP {status})")?;
                }
                if let Some(h) = host {
                    write!(f, " to host {h}")?;
                }
                write!(
                    f,
                    "; exportkit does not follow redirects on requests that carry credentials"
                )
            }
        }
    }
}

// Debug prints what Display prints, plus the code: the kind's fields hold no secrets, but keeping
// one rendering means no future field can sneak into logs through `{:?}`.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.code(), self)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

const EXCERPT_LIMIT: usize = 300;

/// The first few hundred characters of a body, lossily decoded and scrubbed of anything that looks
/// like a credential, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(EXCERPT_LIMIT * 4)];
    let text = String::from_utf8_lossy(cut);
    let mut out: String = text.chars().take(EXCERPT_LIMIT).collect();
    if text.chars().count() > EXCERPT_LIMIT || cut.len() < body.len() {
        out.push('…');
    }
    redact(out.trim())
}

/// Replaces the values of credential-like keys (`access_token=…`, `"client_secret": "…"`,
/// `Bearer …`, `Token …`) with `[redacted]`. Vendors echo requests in error bodies, and an error
/// message ends up in logs.
pub fn redact(text: &str) -> String {
    const KEYS: [&str; 8] = [
        "access_token",
        "client_secret",
        "refresh_token",
        "api_key",
        "apikey",
        "token",
        "secret",
        "password",
    ];
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for scheme in ["bearer ", "token "] {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(scheme) {
            let start = from + pos + scheme.len();
            let end = value_end(bytes, start);
            if end > start {
                spans.push((start, end));
            }
            from = start.max(from + pos + 1);
        }
    }
    for key in KEYS {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(key) {
            let mut i = from + pos + key.len();
            // Skip a closing quote, spaces and one separator, then an opening quote.
            while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b' ') {
                i += 1;
            }
            if i < bytes.len() && matches!(bytes[i], b'=' | b':') {
                i += 1;
                while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b' ') {
                    i += 1;
                }
                let end = value_end(bytes, i);
                if end > i {
                    spans.push((i, end));
                }
            }
            from = from + pos + key.len();
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start < at {
            at = at.max(end);
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str("[redacted]");
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len()
        && !matches!(
            bytes[i],
            b'"' | b'\'' | b'&' | b',' | b' ' | b'}' | b'\n' | b'\r'
        )
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_forms_json_and_headers() {
        let s = redact("grant_type=client_credentials&client_id=abc&client_secret=s3cr3t&x=1");
        assert!(!s.contains("s3cr3t"), "{s}");
        assert!(s.contains("client_id=abc"));
        let s = redact(r#"{"access_token": "eyJhbGci.zzz", "token_type":"bearer"}"#);
        assert!(!s.contains("eyJhbGci"), "{s}");
        let s = redact("Authorization: Bearer eyJabc.def");
        assert!(!s.contains("eyJabc"), "{s}");
        let s = redact("Authorization: Token up-key-123");
        assert!(!s.contains("up-key-123"), "{s}");
        assert_eq!(redact("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn redirect_names_the_host_only() {
        let e = Error::new(ErrorKind::Redirect {
            status: 307,
            host: Some("evil.example:8443".into()),
        });
        assert_eq!(e.code(), "E_REDIRECT");
        assert_eq!(e.status(), Some(307));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "the server answered with a redirect (HTTP 307) to host evil.example:8443; \
             exportkit does not follow redirects on requests that carry credentials"
        );
        let opaque = Error::new(ErrorKind::Redirect {
            status: 0,
            host: None,
        });
        assert_eq!(opaque.status(), None);
        assert!(opaque
            .to_string()
            .starts_with("the server answered with a redirect; exportkit"));
    }

    #[test]
    fn excerpt_is_bounded_and_lossy() {
        let long = vec![b'a'; 5000];
        let e = excerpt(&long);
        assert!(e.chars().count() <= EXCERPT_LIMIT + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt(&[0xff, b'o', b'k']), "\u{fffd}ok");
    }

    #[test]
    fn codes_and_predicates() {
        let e = Error::from_status(429, b"", Some(2500));
        assert_eq!(e.code(), "E_RATE_LIMITED");
        assert_eq!(e.retry_after_ms(), Some(2500));
        assert!(e.is_retryable());
        assert_eq!(e.to_string(), "rate limited by the vendor; retry after 3 s");
        let e = Error::from_status(401, br#"{"error":"bad token"}"#, None);
        assert!(e.is_auth());
        assert!(!e.is_retryable());
        assert_eq!(Error::from_status(503, b"", None).status(), Some(503));
        assert!(Error::from_status(503, b"", None).is_retryable());
        assert!(!Error::from_status(400, b"", None).is_retryable());
        let e = Error::invalid("columns[0].slug", "must not be empty");
        assert_eq!(e.field(), Some("columns[0].slug"));
        assert_eq!(
            format!("{e:?}"),
            "Error(E_INVALID_ARGUMENT: invalid `columns[0].slug`: must not be empty)"
        );
    }

    #[test]
    fn a_prefix_names_the_place_in_the_prose_of_data_and_network_errors_only() {
        let e = Error::decode(3, 4, "bad line").prefixed("a.json.gz");
        assert_eq!(e.to_string(), "line 3, column 4: a.json.gz: bad line");
        let e = Error::network("reset").prefixed("job j fragment 2");
        assert_eq!(e.to_string(), "network error: job j fragment 2: reset");
        assert_eq!(
            Error::new(ErrorKind::Timeout).prefixed("x").to_string(),
            "timed out"
        );
    }

    #[test]
    fn a_parser_error_keeps_its_code_message_and_position() {
        let p = exportkit_parse::Error::decode(4, 9, "not a JSON object");
        let e = Error::from(p.clone());
        assert_eq!((e.code(), p.code()), ("E_DECODE", "E_DECODE"));
        assert_eq!(e.to_string(), p.to_string());
        assert_eq!((e.place().line, e.place().column), (Some(4), Some(9)));
        let p = exportkit_parse::Error::invalid("delimiter", "must be one byte");
        let e = Error::from(p.clone());
        assert_eq!(
            (e.code(), e.field()),
            ("E_INVALID_ARGUMENT", Some("delimiter"))
        );
        assert_eq!(e.to_string(), p.to_string());
    }

    #[test]
    fn an_error_carries_its_place_and_source_as_fields() {
        let cut = Error::network("body cut short: 3 of 9 bytes");
        let e = Error::decode(7, 2, "bad line")
            .in_job("job-1")
            .in_fragment(Some(3))
            .in_file("a.json.gz")
            .in_job("other")
            .caused_by(cut.clone());
        let p = e.place();
        assert_eq!(p.job.as_deref(), Some("job-1"), "the first naming stays");
        assert_eq!((p.fragment, p.line, p.column), (Some(3), Some(7), Some(2)));
        assert_eq!(e.file(), Some("a.json.gz"));
        assert_eq!(e.cause(), Some(&cut));
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.to_string(), Error::decode(7, 2, "bad line").to_string());
        assert_eq!(
            Error::new(ErrorKind::JobFailed {
                job_id: "j".into(),
                state: "Failed".into()
            })
            .job(),
            Some("j")
        );
    }
}
