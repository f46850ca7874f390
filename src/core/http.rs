//! Plain-data HTTP messages the state machines produce and consume. No I/O lives here: the
//! transport (fetch in wasm, a script in tests) turns these into real requests.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request ready to send. `Debug` hides header values and the body: both may carry secrets.
#[derive(Clone, PartialEq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The request wants a bearer token added by the auth layer before it is sent.
    pub needs_auth: bool,
    /// The caller wants the success body streamed to a consumer rather than buffered.
    pub stream_body: bool,
    /// Sending it twice does no harm, so transient failures may be retried. GETs are; POSTs are
    /// not unless marked (a Query API call spends one of ten daily calls).
    pub idempotent: bool,
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            needs_auth: false,
            stream_body: false,
            idempotent: true,
        }
    }

    pub fn post(url: impl Into<String>, content_type: &str, body: Vec<u8>) -> Self {
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Some(body),
            needs_auth: false,
            stream_body: false,
            idempotent: false,
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn authed(mut self) -> Self {
        self.needs_auth = true;
        self
    }

    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub fn streamed(mut self) -> Self {
        self.stream_body = true;
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether a redirect answer may be followed: only a bare GET (a presigned link, whose
    /// signature is in the URL) may. Anything that carries a credential (a token exchange's body,
    /// a bearer or API key, a body at all) must not cross to whatever host `Location` names.
    pub fn may_follow_redirects(&self) -> bool {
        self.method == Method::Get
            && !self.needs_auth
            && self.body.is_none()
            && !self.headers.iter().any(|(n, _)| {
                n.eq_ignore_ascii_case("authorization")
                    || n.eq_ignore_ascii_case("cookie")
                    || n.eq_ignore_ascii_case("proxy-authorization")
                    || n.to_ascii_lowercase().contains("key")
                    || n.to_ascii_lowercase().contains("token")
            })
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// A response whose body has been read whole (token answers, job status, error bodies).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The length of a body as it will be read: `Content-Length`, unless the answer is
/// content-encoded (`gzip`, ...), when the header counts the encoded bytes and the runtime hands
/// over decoded ones (a vendor compressing its large downloads, issue 15 §3).
pub fn body_length(headers: &[(String, String)]) -> Option<u64> {
    let encoded = find_header(headers, "content-encoding")
        .is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
    if encoded {
        return None;
    }
    find_header(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// The answer says its body is empty (`Content-Length: 0`): a zero-byte object, which a native
/// gunzip would refuse for its missing header.
pub fn says_empty(headers: &[(String, String)]) -> bool {
    find_header(headers, "content-length").is_some_and(|v| v.trim() == "0")
}

/// A data answer labelled plain JSON (data lines come as `x-ndjson`) may be an error reported
/// with a success status: its first bytes are read to tell.
pub fn may_be_error_body(headers: &[(String, String)]) -> bool {
    let ct = find_header(headers, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    ct.contains("json") && !ct.contains("nd") && !ct.contains("lines") && !ct.contains("jsonl")
}

/// Joins a base URL and a path without doubling or dropping the slash between them.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Checks a caller-supplied base URL: absolute http(s), no credentials, query or fragment in it.
/// Relative URLs (`/api`) are allowed for a page that talks to its own origin's proxy.
pub fn validate_base_url(field: &str, url: &str) -> crate::Result<String> {
    let u = url.trim();
    if u.is_empty() {
        return Err(crate::Error::invalid(field, "must not be empty"));
    }
    let rest = if let Some(r) = u.strip_prefix("https://") {
        r
    } else if let Some(r) = u.strip_prefix("http://") {
        r
    } else if u.starts_with('/') && !u.starts_with("//") {
        return Ok(u.trim_end_matches('/').to_string());
    } else {
        return Err(crate::Error::invalid(
            field,
            "must start with https:// or http:// (or / for a same-origin proxy)",
        ));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(crate::Error::invalid(field, "has no host"));
    }
    if host.contains('@') {
        return Err(crate::Error::invalid(
            field,
            "must not carry credentials; pass them as options",
        ));
    }
    if u.contains('?') || u.contains('#') {
        return Err(crate::Error::invalid(
            field,
            "must not contain a query string or fragment",
        ));
    }
    Ok(u.trim_end_matches('/').to_string())
}

/// A success answer whose body is one JSON error object (`{"error": ..}` or `{"errors": ..}`, as
/// Backstory and Userpilot write them, and no `job_id`: a job may carry a failure note) instead
/// of what was asked for: an error the vendor reported with the wrong status. A network error,
/// so a read that may be repeated is repeated; never taken for data.
pub fn error_instead_of_data(status: u16, body: &[u8]) -> Option<crate::Error> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m))
            if (m.contains_key("error") || m.contains_key("errors"))
                && !m.contains_key("job_id") =>
        {
            Some(crate::Error::network(format!(
                "answered {status} with an error body instead of data: {}",
                crate::error::excerpt(body)
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_header_values_or_body() {
        let r = HttpRequest::post(
            "https://x/y",
            "application/json",
            b"{\"client_secret\":\"s\"}".to_vec(),
        )
        .with_header("Authorization", "Bearer sekrit");
        let d = format!("{r:?}");
        assert!(!d.contains("sekrit"));
        assert!(!d.contains("client_secret"));
        assert!(d.contains("Authorization"));
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_body_length_counts_only_when_the_body_is_read_as_sent() {
        assert_eq!(body_length(&h(&[("Content-Length", " 42 ")])), Some(42));
        assert_eq!(body_length(&h(&[])), None);
        let gz = h(&[("content-length", "42"), ("Content-Encoding", "gzip")]);
        assert_eq!(body_length(&gz), None, "the runtime decodes past it");
        let id = h(&[("content-length", "42"), ("content-encoding", "identity")]);
        assert_eq!(body_length(&id), Some(42));
        assert!(says_empty(&h(&[("Content-Length", "0")])));
        assert!(!says_empty(&h(&[("Content-Length", "10")])));
        assert!(
            !says_empty(&h(&[])),
            "an unsaid length is not an empty body"
        );
    }

    #[test]
    fn only_a_plain_json_answer_is_peeked_for_an_error_body() {
        let ct = |v: &str| h(&[("Content-Type", v)]);
        assert!(may_be_error_body(&ct("application/json; charset=utf-8")));
        assert!(!may_be_error_body(&ct("application/x-ndjson")));
        assert!(!may_be_error_body(&ct("application/jsonl")));
        assert!(!may_be_error_body(&ct("application/json-lines")));
        assert!(!may_be_error_body(&ct("text/plain")));
        assert!(!may_be_error_body(&h(&[])));
    }

    #[test]
    fn urls_and_forms() {
        assert_eq!(join_url("https://a.b/", "/v3/x"), "https://a.b/v3/x");
        assert_eq!(join_url("https://a.b", "v3/x"), "https://a.b/v3/x");
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            validate_base_url("baseUrl", "https://api.people.ai/").unwrap(),
            "https://api.people.ai"
        );
        assert_eq!(validate_base_url("baseUrl", "/api").unwrap(), "/api");
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https://u:p@host",
            "https://h/?k=1",
            "//evil",
        ] {
            let e = validate_base_url("baseUrl", bad).unwrap_err();
            assert_eq!(e.field(), Some("baseUrl"), "{bad}");
        }
    }

    #[test]
    fn only_a_bare_get_may_follow_redirects() {
        assert!(HttpRequest::get("https://files/x.gz?sig=1").may_follow_redirects());
        assert!(HttpRequest::get("u")
            .with_header("Accept", "application/json")
            .may_follow_redirects());
        assert!(!HttpRequest::get("u").authed().may_follow_redirects());
        assert!(
            !HttpRequest::post("u", "application/x-www-form-urlencoded", b"a=1".to_vec())
                .may_follow_redirects()
        );
        for h in ["Authorization", "cookie", "x-exportkit-key", "X-Api-Token"] {
            assert!(
                !HttpRequest::get("u")
                    .with_header(h, "v")
                    .may_follow_redirects(),
                "{h}"
            );
        }
    }

    #[test]
    fn headers_are_case_insensitive_and_replaced() {
        let r = HttpRequest::get("u")
            .with_header("X-A", "1")
            .with_header("x-a", "2");
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.header("X-A"), Some("2"));
    }

    #[test]
    fn an_error_object_is_never_taken_for_a_job_or_data() {
        let e = error_instead_of_data(200, br#"{"error":"server_error","message":"x"}"#).unwrap();
        assert!(e.is_retryable(), "{e}");
        assert!(error_instead_of_data(200, br#"{"errors":[{"message":"x"}]}"#).is_some());
        assert!(error_instead_of_data(200, br#"{"job_id":"j1","state":"Queued"}"#).is_none());
        assert!(error_instead_of_data(200, b"{\"uid\":1}\n{\"uid\":2}\n").is_none());
    }
}
