//! OAuth client-credentials tokens for Backstory: the exchange request, a cache that refreshes
//! before expiry from the answer's own `expires_in` (the vendor's pages disagree on the lifetime),
//! and a small machine that adds the bearer token to a request and retries once on a 401.

use super::http::{form_encode, HttpRequest, HttpResponse};
use super::step::Step;
use super::time::parse_utc_seconds;
use crate::error::{Error, Result};
use std::fmt;

/// A string that never prints. Holding secrets in this type makes `{:?}` on any struct safe.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Secret,
}

impl ClientCredentials {
    pub fn new(client_id: &str, client_secret: &str) -> Result<Self> {
        if client_id.trim().is_empty() {
            return Err(Error::invalid("clientId", "must not be empty"));
        }
        if client_secret.is_empty() {
            return Err(Error::invalid("clientSecret", "must not be empty"));
        }
        Ok(ClientCredentials {
            client_id: client_id.trim().to_string(),
            client_secret: Secret::new(client_secret),
        })
    }

    pub fn exchange_request(&self, token_url: &str) -> HttpRequest {
        self.exchange_request_as(token_url, TokenEncoding::Form)
    }

    /// The token request in one of the encodings a reader of the documents could expect: the
    /// documents show a form body, but OAuth servers often want the client in HTTP Basic, and a
    /// JSON API may want JSON.
    pub fn exchange_request_as(&self, token_url: &str, encoding: TokenEncoding) -> HttpRequest {
        match encoding {
            TokenEncoding::Form => {}
            TokenEncoding::Basic => {
                let pair = format!(
                    "{}:{}",
                    form_encode(&self.client_id),
                    form_encode(self.client_secret.expose())
                );
                return HttpRequest::post(
                    token_url,
                    "application/x-www-form-urlencoded",
                    b"grant_type=client_credentials".to_vec(),
                )
                .with_header(
                    "Authorization",
                    format!("Basic {}", base64(pair.as_bytes())),
                )
                .idempotent();
            }
            TokenEncoding::Json => {
                let body = serde_json::json!({
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret.expose(),
                });
                return HttpRequest::post(
                    token_url,
                    "application/json",
                    body.to_string().into_bytes(),
                )
                .idempotent();
            }
        }
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            form_encode(&self.client_id),
            form_encode(self.client_secret.expose())
        );
        HttpRequest::post(
            token_url,
            "application/x-www-form-urlencoded",
            body.into_bytes(),
        )
        .idempotent()
    }
}

/// How the token request carries the credentials (see [`ClientCredentials::exchange_request_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenEncoding {
    #[default]
    Form,
    Basic,
    Json,
}

impl TokenEncoding {
    /// The next one to try after this one was refused; `None` after the last.
    pub fn next(self) -> Option<Self> {
        match self {
            TokenEncoding::Form => Some(TokenEncoding::Basic),
            TokenEncoding::Basic => Some(TokenEncoding::Json),
            TokenEncoding::Json => None,
        }
    }
}

/// Standard base64 with padding (RFC 4648), for HTTP Basic.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Token {
    access: Secret,
    expires_at_ms: f64,
    refresh_at_ms: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    token: Option<Token>,
    /// The encoding that last worked (or is to be tried next).
    encoding: TokenEncoding,
}

impl TokenCache {
    pub fn new() -> Self {
        TokenCache::default()
    }

    /// The token if it is still comfortably valid at `now_ms`.
    pub fn valid(&self, now_ms: f64) -> Option<&Secret> {
        self.token
            .as_ref()
            .filter(|t| now_ms < t.refresh_at_ms)
            .map(|t| &t.access)
    }

    pub fn expires_at_ms(&self) -> Option<f64> {
        self.token.as_ref().map(|t| t.expires_at_ms)
    }

    pub fn invalidate(&mut self) {
        self.token = None;
    }

    pub fn encoding(&self) -> TokenEncoding {
        self.encoding
    }

    /// Reads a token answer. Refreshes a tenth of the lifetime early (at most a minute) so a token
    /// does not expire between our check and the vendor's.
    /// After a token request was refused: `true` when it should be sent again in the next
    /// encoding. A refusal as malformed or unauthenticated (400, 401, 415) may mean the vendor
    /// reads the request another way (form, HTTP Basic, JSON); each encoding is tried once per
    /// exchange (`refused` counts them) and the one that works is kept for the next exchanges.
    /// Every caller that exchanges credentials (the clients' calls, the edge worker's token)
    /// decides this here.
    pub fn try_next_encoding(&mut self, status: u16, refused: &mut u8) -> bool {
        if !matches!(status, 400 | 401 | 415) || *refused >= 2 {
            return false;
        }
        *refused += 1;
        self.encoding = self.encoding.next().unwrap_or(TokenEncoding::Form);
        true
    }

    pub fn accept(&mut self, resp: &HttpResponse, now_ms: f64) -> Result<()> {
        if !resp.is_success() {
            let err = Error::from_status(resp.status, &resp.body, None);
            // A 400 from the token endpoint means the credentials were refused, as a 401 does.
            return Err(if resp.status == 400 {
                Error::from_status(401, &resp.body, None)
            } else {
                err
            });
        }
        let v: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| {
            Error::decode(
                e.line() as u64,
                e.column() as u64,
                "token response is not JSON",
            )
        })?;
        let access = v
            .get("access_token")
            .and_then(|a| a.as_str())
            .filter(|a| !a.is_empty())
            .ok_or_else(|| Error::decode(1, 0, "token response has no access_token"))?;
        // A number as documented, or the same number as text; without it, the time left until
        // `expires_at` (documented zone-less, read as UTC).
        let expires_in = v
            .get("expires_in")
            .and_then(|e| e.as_f64().or_else(|| e.as_str()?.trim().parse().ok()))
            .or_else(|| {
                let at = parse_utc_seconds(v.get("expires_at")?.as_str()?)?;
                Some((at - now_ms) / 1000.0)
            })
            .filter(|e| e.is_finite() && *e > 0.0)
            .ok_or_else(|| Error::decode(1, 0, "token response has no positive expires_in"))?;
        let lifetime_ms = expires_in * 1000.0;
        let margin_ms = (lifetime_ms / 10.0).min(60_000.0);
        self.token = Some(Token {
            access: Secret::new(access),
            expires_at_ms: now_ms + lifetime_ms,
            refresh_at_ms: now_ms + lifetime_ms - margin_ms,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Start,
    AwaitToken,
    /// `fresh`: the token was obtained for this call, so a 401 is final.
    AwaitMain {
        fresh: bool,
    },
}

/// One request that may need a bearer token. Drive it with [`AuthedCall::poll`] and
/// [`AuthedCall::handle`] until `handle` returns the main response.
#[derive(Debug)]
pub struct AuthedCall {
    req: HttpRequest,
    phase: Phase,
    got_fresh_token: bool,
    /// Token encodings this call has seen refused.
    refused_encodings: u8,
}

impl AuthedCall {
    pub fn new(req: HttpRequest) -> Self {
        AuthedCall {
            req,
            phase: Phase::Start,
            got_fresh_token: false,
            refused_encodings: 0,
        }
    }

    pub fn request(&self) -> &HttpRequest {
        &self.req
    }

    pub fn poll(
        &mut self,
        creds: &ClientCredentials,
        token_url: &str,
        cache: &TokenCache,
        now_ms: f64,
    ) -> Step<()> {
        if !self.req.needs_auth {
            self.phase = Phase::AwaitMain { fresh: true };
            return Step::Send(self.req.clone());
        }
        match cache.valid(now_ms) {
            Some(token) => {
                self.phase = Phase::AwaitMain {
                    fresh: self.got_fresh_token,
                };
                Step::Send(
                    self.req
                        .clone()
                        .with_header("Authorization", format!("Bearer {}", token.expose())),
                )
            }
            None => {
                self.phase = Phase::AwaitToken;
                Step::Send(creds.exchange_request_as(token_url, cache.encoding))
            }
        }
    }

    /// `Ok(None)`: poll again. `Ok(Some(resp))`: the main request's response, whatever its status.
    pub fn handle(
        &mut self,
        cache: &mut TokenCache,
        resp: HttpResponse,
        now_ms: f64,
    ) -> Result<Option<HttpResponse>> {
        match self.phase {
            Phase::AwaitToken => {
                if cache.try_next_encoding(resp.status, &mut self.refused_encodings) {
                    self.phase = Phase::Start;
                    return Ok(None);
                }
                cache.accept(&resp, now_ms)?;
                self.got_fresh_token = true;
                self.phase = Phase::Start;
                Ok(None)
            }
            Phase::AwaitMain { fresh: false }
                if matches!(resp.status, 401 | 403) && self.req.needs_auth =>
            {
                // The cached token was revoked or expired early (some APIs say 403 for that):
                // one fresh exchange, then retry.
                cache.invalidate();
                self.phase = Phase::Start;
                Ok(None)
            }
            Phase::AwaitMain { .. } => Ok(Some(resp)),
            Phase::Start => Ok(None),
        }
    }

    pub fn awaiting_main(&self) -> bool {
        matches!(self.phase, Phase::AwaitMain { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> ClientCredentials {
        ClientCredentials::new("id", "s&zq9").unwrap()
    }

    #[test]
    fn a_refused_exchange_tries_basic_then_json_once_each_and_keeps_what_works() {
        let mut cache = TokenCache::new();
        let mut refused = 0;
        assert_eq!(cache.encoding(), TokenEncoding::Form);
        assert!(
            !cache.try_next_encoding(500, &mut refused),
            "a server error is not a refusal"
        );
        assert!(
            !cache.try_next_encoding(403, &mut refused),
            "forbidden is not a format question"
        );
        assert!(cache.try_next_encoding(401, &mut refused));
        assert_eq!(cache.encoding(), TokenEncoding::Basic);
        assert!(cache.try_next_encoding(415, &mut refused));
        assert_eq!(cache.encoding(), TokenEncoding::Json);
        assert!(
            !cache.try_next_encoding(400, &mut refused),
            "each encoding once per exchange"
        );
        assert_eq!(
            cache.encoding(),
            TokenEncoding::Json,
            "the last one tried is kept"
        );
        let mut again = 0;
        assert!(
            cache.try_next_encoding(400, &mut again),
            "a new exchange starts over"
        );
        assert_eq!(cache.encoding(), TokenEncoding::Form);
    }

    fn token_resp(token: &str, expires_in: u32) -> HttpResponse {
        HttpResponse::new(
            200,
            format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{expires_in}}}"#
            ),
        )
    }

    #[test]
    fn exchange_body_is_form_encoded_and_debug_hides_secret() {
        let r = creds().exchange_request("https://x/v3/auth/tokens");
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            r.body.as_deref(),
            Some(&b"grant_type=client_credentials&client_id=id&client_secret=s%26zq9"[..])
        );
        assert!(!format!("{:?}", creds()).contains("zq9"));
    }

    #[test]
    fn empty_credentials_name_the_field() {
        assert_eq!(
            ClientCredentials::new(" ", "x").unwrap_err().field(),
            Some("clientId")
        );
        assert_eq!(
            ClientCredentials::new("a", "").unwrap_err().field(),
            Some("clientSecret")
        );
    }

    #[test]
    fn cache_refreshes_before_expiry_using_expires_in() {
        let mut c = TokenCache::new();
        c.accept(&token_resp("t1", 3600), 1_000.0).unwrap();
        assert_eq!(c.valid(1_000.0).unwrap().expose(), "t1");
        // 60 s margin on a one-hour token.
        assert!(c.valid(1_000.0 + 3_540_000.0 - 1.0).is_some());
        assert!(c.valid(1_000.0 + 3_540_000.0).is_none());
        // A 10 s token refreshes 1 s early.
        c.accept(&token_resp("t2", 10), 0.0).unwrap();
        assert!(c.valid(8_999.0).is_some());
        assert!(c.valid(9_000.0).is_none());
        assert_eq!(c.expires_at_ms(), Some(10_000.0));
    }

    #[test]
    fn bad_token_answers_are_errors() {
        let mut c = TokenCache::new();
        assert_eq!(
            c.accept(&HttpResponse::new(401, "no"), 0.0)
                .unwrap_err()
                .code(),
            "E_AUTH"
        );
        assert_eq!(
            c.accept(&HttpResponse::new(400, "bad client"), 0.0)
                .unwrap_err()
                .code(),
            "E_AUTH"
        );
        assert_eq!(
            c.accept(&HttpResponse::new(500, ""), 0.0)
                .unwrap_err()
                .code(),
            "E_HTTP"
        );
        assert_eq!(
            c.accept(&HttpResponse::new(200, "<html>"), 0.0)
                .unwrap_err()
                .code(),
            "E_DECODE"
        );
        assert_eq!(
            c.accept(&HttpResponse::new(200, r#"{"access_token":"x"}"#), 0.0)
                .unwrap_err()
                .code(),
            "E_DECODE"
        );
        assert_eq!(
            c.accept(
                &HttpResponse::new(200, r#"{"access_token":"","expires_in":5}"#),
                0.0
            )
            .unwrap_err()
            .code(),
            "E_DECODE"
        );
    }

    #[test]
    fn authed_call_fetches_token_then_sends_with_bearer() {
        let (cr, mut cache) = (creds(), TokenCache::new());
        let mut call = AuthedCall::new(HttpRequest::get("https://x/data").authed());
        let Step::Send(r) = call.poll(&cr, "https://x/tok", &cache, 0.0) else {
            panic!()
        };
        assert_eq!(r.url, "https://x/tok");
        assert!(call
            .handle(&mut cache, token_resp("T", 3600), 0.0)
            .unwrap()
            .is_none());
        let Step::Send(r) = call.poll(&cr, "https://x/tok", &cache, 0.0) else {
            panic!()
        };
        assert_eq!(r.header("authorization"), Some("Bearer T"));
        // With a fresh token a 401 is final.
        let out = call
            .handle(&mut cache, HttpResponse::new(401, ""), 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(out.status, 401);
    }

    #[test]
    fn a_401_on_a_cached_token_refreshes_once() {
        let (cr, mut cache) = (creds(), TokenCache::new());
        cache.accept(&token_resp("OLD", 3600), 0.0).unwrap();
        let mut call = AuthedCall::new(HttpRequest::get("https://x/data").authed());
        let Step::Send(r) = call.poll(&cr, "t", &cache, 5.0) else {
            panic!()
        };
        assert_eq!(r.header("authorization"), Some("Bearer OLD"));
        assert!(call
            .handle(&mut cache, HttpResponse::new(401, ""), 5.0)
            .unwrap()
            .is_none());
        let Step::Send(r) = call.poll(&cr, "t", &cache, 5.0) else {
            panic!()
        };
        assert_eq!(r.url, "t", "expected a token exchange");
        call.handle(&mut cache, token_resp("NEW", 3600), 5.0)
            .unwrap();
        let Step::Send(r) = call.poll(&cr, "t", &cache, 5.0) else {
            panic!()
        };
        assert_eq!(r.header("authorization"), Some("Bearer NEW"));
        let out = call
            .handle(&mut cache, HttpResponse::new(401, ""), 5.0)
            .unwrap()
            .unwrap();
        assert_eq!(out.status, 401, "second 401 is returned, not retried again");
    }

    #[test]
    fn every_reading_of_the_token_request_is_tried_once_and_the_one_that_works_is_kept() {
        assert_eq!(base64(b"ab:c"), "YWI6Yw==");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"a"), "YQ==");
        let (cr, mut cache) = (creds(), TokenCache::new());
        let mut call = AuthedCall::new(HttpRequest::get("https://x/data").authed());
        let mut sent = Vec::new();
        // A vendor that wants JSON refuses the form and HTTP Basic.
        for answer in [
            HttpResponse::new(400, r#"{"error":"invalid_request"}"#),
            HttpResponse::new(401, r#"{"error":"invalid_client"}"#),
            token_resp("T", 60),
        ] {
            let Step::Send(r) = call.poll(&cr, "https://x/tok", &cache, 0.0) else {
                panic!()
            };
            sent.push((
                r.header("content-type").unwrap_or("").to_string(),
                r.header("authorization").map(|a| a.starts_with("Basic ")),
            ));
            assert!(call.handle(&mut cache, answer, 0.0).unwrap().is_none());
        }
        assert_eq!(
            sent,
            [
                ("application/x-www-form-urlencoded".into(), None),
                ("application/x-www-form-urlencoded".into(), Some(true)),
                ("application/json".into(), None),
            ]
        );
        assert_eq!(cache.encoding(), TokenEncoding::Json);
        let Step::Send(r) = call.poll(&cr, "https://x/tok", &cache, 0.0) else {
            panic!()
        };
        assert_eq!(r.header("authorization"), Some("Bearer T"));
        // Refused three ways: the error, after three requests and no more.
        let mut cache = TokenCache::new();
        let mut call = AuthedCall::new(HttpRequest::get("https://x/data").authed());
        let mut tries = 0;
        let e = loop {
            let Step::Send(_) = call.poll(&cr, "t", &cache, 0.0) else {
                panic!()
            };
            tries += 1;
            match call.handle(
                &mut cache,
                HttpResponse::new(401, r#"{"error":"bad"}"#),
                0.0,
            ) {
                Ok(None) => continue,
                Ok(Some(_)) => panic!("no token"),
                Err(e) => break e,
            }
        };
        assert_eq!((tries, e.code()), (3, "E_AUTH"));
        // expires_in as text, token_type in any case.
        let mut cache = TokenCache::new();
        cache
            .accept(
                &HttpResponse::new(
                    200,
                    r#"{"access_token":"A","token_type":"Bearer","expires_in":"7200"}"#,
                ),
                0.0,
            )
            .unwrap();
        assert_eq!(cache.expires_at_ms(), Some(7_200_000.0));
        // No expires_in: the documented zone-less expires_at, as UTC.
        let mut cache = TokenCache::new();
        cache
            .accept(
                &HttpResponse::new(
                    200,
                    r#"{"access_token":"A","expires_at":"1970-01-01T02:00:00.000000"}"#,
                ),
                1_000.0,
            )
            .unwrap();
        assert_eq!(cache.expires_at_ms(), Some(7_200_000.0));
        let mut cache = TokenCache::new();
        let past = r#"{"access_token":"A","expires_at":"1970-01-01T00:00:00"}"#;
        assert!(cache
            .accept(&HttpResponse::new(200, past), 1_000.0)
            .is_err());
    }

    #[test]
    fn a_403_on_a_cached_token_refreshes_once_too() {
        let (cr, mut cache) = (creds(), TokenCache::new());
        cache.accept(&token_resp("OLD", 3600), 0.0).unwrap();
        let mut call = AuthedCall::new(HttpRequest::get("https://x/data").authed());
        let _ = call.poll(&cr, "t", &cache, 5.0);
        assert!(call
            .handle(&mut cache, HttpResponse::new(403, ""), 5.0)
            .unwrap()
            .is_none());
        let Step::Send(r) = call.poll(&cr, "t", &cache, 5.0) else {
            panic!()
        };
        assert_eq!(r.url, "t", "expected a token exchange");
        call.handle(&mut cache, token_resp("NEW", 3600), 5.0)
            .unwrap();
        let _ = call.poll(&cr, "t", &cache, 5.0);
        let out = call
            .handle(&mut cache, HttpResponse::new(403, ""), 5.0)
            .unwrap()
            .unwrap();
        assert_eq!(out.status, 403, "a 403 with a fresh token is the answer");
    }

    #[test]
    fn expired_cached_token_is_replaced_before_sending() {
        let (cr, mut cache) = (creds(), TokenCache::new());
        cache.accept(&token_resp("OLD", 2), 0.0).unwrap();
        let mut call = AuthedCall::new(HttpRequest::get("d").authed());
        let Step::Send(r) = call.poll(&cr, "tok", &cache, 5_000.0) else {
            panic!()
        };
        assert_eq!(r.url, "tok");
    }
}
