//! OAuth client-credentials tokens for Backstory: the exchange request, a cache that refreshes
//! before expiry from the answer's own `expires_in` (the vendor's pages disagree on the lifetime),
//! and a small machine that adds the bearer token to a request and retries once on a 401.

use super::http::{form_encode, HttpRequest, HttpResponse};
use super::step::Step;
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

#[derive(Debug, Clone)]
struct Token {
    access: Secret,
    expires_at_ms: f64,
    refresh_at_ms: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    token: Option<Token>,
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

    /// Reads a token answer. Refreshes a tenth of the lifetime early (at most a minute) so a token
    /// does not expire between our check and the vendor's.
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
        let expires_in = v
            .get("expires_in")
            .and_then(|e| e.as_f64())
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
}

impl AuthedCall {
    pub fn new(req: HttpRequest) -> Self {
        AuthedCall {
            req,
            phase: Phase::Start,
            got_fresh_token: false,
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
                Step::Send(creds.exchange_request(token_url))
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
                cache.accept(&resp, now_ms)?;
                self.got_fresh_token = true;
                self.phase = Phase::Start;
                Ok(None)
            }
            Phase::AwaitMain { fresh: false } if resp.status == 401 && self.req.needs_auth => {
                // The cached token was revoked or expired early: one fresh exchange, then retry.
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
