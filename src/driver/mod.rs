//! The loops: run core machines over a [`Transport`]. Everything that decides lives in `core` and
//! `providers`; this module only moves bytes and time between them and the transport.

use crate::core::auth::{AuthedCall, ClientCredentials, Secret, TokenCache};
use crate::core::http::{error_instead_of_data, join_url, HttpRequest, HttpResponse};
use crate::core::policy::{classify, Stage, Verdict};
use crate::core::retry::{parse_retry_after, Backoff, RetryPolicy};
use crate::core::Step;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{Body, ResponseHead, Transport};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

pub mod activities;
pub mod forecasting;
pub mod inflight;
pub(crate) mod ordered;
pub mod query;
pub mod userpilot;

pub use query::{
    calls_left, run_query, MemoryQuotaStore, Phase, Progress, QueryOptions, QueryOutcome,
    QuerySink, QuotaStore,
};

/// Error bodies and small JSON answers are read whole, up to this size.
pub(crate) const SMALL_BODY_LIMIT: usize = 1 << 20;

/// How requests marked `needs_auth` are authorised.
#[derive(Debug)]
pub enum Auth {
    /// Backstory: client credentials exchanged for a bearer token, cached until near expiry.
    OAuth {
        creds: ClientCredentials,
        token_url: String,
        tokens: RefCell<TokenCache>,
    },
    /// Userpilot: a fixed header such as `Authorization: Token KEY`.
    Header { name: String, value: Secret },
    /// Behind a proxy that holds the secrets (the edge worker): requests go out unauthorised and
    /// the proxy adds credentials, so the page never holds one.
    Proxy,
}

/// One vendor login: where to send requests and how to authorise them. One per client.
#[derive(Debug)]
pub struct Session {
    pub base_url: String,
    pub auth: Auth,
    pub retry: RetryPolicy,
}

impl Session {
    /// Backstory, with tokens from `{base_url}/v3/auth/tokens`.
    pub fn oauth(base_url: String, creds: ClientCredentials) -> Self {
        let token_url = join_url(&base_url, crate::providers::backstory::query::TOKEN_PATH);
        let tokens = RefCell::new(TokenCache::new());
        Session {
            base_url,
            auth: Auth::OAuth {
                creds,
                token_url,
                tokens,
            },
            retry: RetryPolicy::default(),
        }
    }

    pub fn proxied(base_url: String) -> Self {
        Session {
            base_url,
            auth: Auth::Proxy,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_header(base_url: String, name: &str, value: Secret) -> Self {
        Session {
            base_url,
            auth: Auth::Header {
                name: name.to_string(),
                value,
            },
            retry: RetryPolicy::default(),
        }
    }

    /// Whether a token exchange will happen before the next authorised request.
    pub fn needs_token(&self, now_ms: f64) -> bool {
        matches!(&self.auth, Auth::OAuth { tokens, .. } if tokens.borrow().valid(now_ms).is_none())
    }
}

pub enum Response<B> {
    Buffered(HttpResponse),
    /// A success whose body the caller asked to stream.
    Streaming(ResponseHead, B),
}

pub async fn read_all<B: Body>(body: &mut B, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = body.chunk().await? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&c[..c.len().min(room)]);
    }
    Ok(out)
}

/// A download's stall timeout (a part whose answer or next chunk takes longer is fetched again).
pub(crate) fn check_stall_timeout(ms: Option<f64>) -> Result<()> {
    if ms.is_some_and(|ms| ms.is_nan() || ms < 1.0) {
        return Err(Error::invalid("stallTimeoutMs", "must be at least 1"));
    }
    Ok(())
}

pub(crate) fn retry_after(headers: &[(String, String)], now_ms: f64) -> Option<u64> {
    crate::core::http::find_header(headers, "retry-after")
        .and_then(|v| parse_retry_after(v, now_ms))
}

/// The request to send next and whether it is the caller's own (not a token exchange).
fn next_request(
    session: &Session,
    call: &mut AuthedCall,
    now_ms: f64,
) -> Result<(HttpRequest, bool)> {
    match &session.auth {
        Auth::OAuth {
            creds,
            token_url,
            tokens,
        } => match call.poll(creds, token_url, &tokens.borrow(), now_ms) {
            Step::Send(r) => Ok((r, call.awaiting_main())),
            _ => Err(Error::network(
                "internal: the auth step did not produce a request",
            )),
        },
        Auth::Header { name, value } => {
            let r = call.request().clone();
            Ok((
                if r.needs_auth {
                    r.with_header(name, value.expose())
                } else {
                    r
                },
                true,
            ))
        }
        Auth::Proxy => Ok((call.request().clone(), true)),
    }
}

/// Sends one request: authorises it (exchanging credentials when needed, once more after a 401
/// on a cached token), retries transient failures of idempotent requests with backoff, and calls
/// `on_main_send` each time the request itself (not a token exchange) goes out.
pub async fn send<T: Transport>(
    t: &T,
    session: &Session,
    req: HttpRequest,
    on_main_send: &mut dyn FnMut(),
) -> Result<Response<T::Body>> {
    let seed = (t.now_ms() as u64) ^ 0x9E37_79B9_7F4A_7C15;
    let mut backoff = Backoff::new(session.retry, seed);
    let mut call = AuthedCall::new(req);
    loop {
        t.check_aborted()?;
        let (r, is_main) = next_request(session, &mut call, t.now_ms())?;
        if is_main {
            on_main_send();
        }
        let resp = match attempt(t, &r, is_main).await {
            Ok(Response::Buffered(resp)) => resp,
            Ok(streaming) => return Ok(streaming),
            Err(e) => {
                pause_or_fail(t, &r, &mut backoff, e).await?;
                continue;
            }
        };
        let now = t.now_ms();
        if r.idempotent && !resp.is_success() && resp.status != 401 {
            let err = Error::from_status(resp.status, &resp.body, retry_after(&resp.headers, now));
            let stage = Stage::Request { idempotent: true };
            if let Verdict::Retry { delay_ms } = classify(&err, stage, &mut backoff) {
                t.sleep(delay_ms as f64).await?;
                continue;
            }
        }
        match &session.auth {
            Auth::OAuth { tokens, .. } => {
                if let Some(done) = call.handle(&mut tokens.borrow_mut(), resp, now)? {
                    return Ok(Response::Buffered(done));
                }
            }
            Auth::Header { .. } | Auth::Proxy => return Ok(Response::Buffered(resp)),
        }
    }
}

/// One round trip: a success the caller streams is handed over with its body unread; anything
/// else is read whole (bounded).
async fn attempt<T: Transport>(t: &T, r: &HttpRequest, is_main: bool) -> Result<Response<T::Body>> {
    let (head, mut body) = t.send(r).await?;
    if is_main && r.stream_body && head.is_success() {
        return Ok(Response::Streaming(head, body));
    }
    let bytes = read_all(&mut body, SMALL_BODY_LIMIT).await?;
    Ok(Response::Buffered(HttpResponse {
        status: head.status,
        headers: head.headers,
        body: bytes,
    }))
}

/// Waits out a backoff when the request may be repeated and the budget allows; otherwise the
/// error is the result. Only idempotent requests repeat: a Query API call spends the allowance.
async fn pause_or_fail<T: Transport>(
    t: &T,
    r: &HttpRequest,
    backoff: &mut Backoff,
    err: Error,
) -> Result<()> {
    match classify(
        &err,
        Stage::Request {
            idempotent: r.idempotent,
        },
        backoff,
    ) {
        Verdict::Retry { delay_ms } => t.sleep(delay_ms as f64).await,
        _ => Err(err),
    }
}

/// The answer read whole (bounded), whether it came buffered or streaming.
pub(crate) async fn buffered<B: Body>(r: Response<B>) -> Result<HttpResponse> {
    match r {
        Response::Buffered(r) => Ok(r),
        Response::Streaming(head, mut body) => Ok(HttpResponse {
            status: head.status,
            headers: head.headers,
            body: read_all(&mut body, SMALL_BODY_LIMIT).await?,
        }),
    }
}

/// Sends a request whose answer is small (JSON): success bodies come back whole, failures as the
/// matching error.
pub async fn send_small<T: Transport>(
    t: &T,
    session: &Session,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let r = buffered(send(t, session, req, &mut || {}).await?).await?;
    if r.is_success() {
        return Ok(r);
    }
    Err(Error::from_status(
        r.status,
        &r.body,
        retry_after(&r.headers, t.now_ms()),
    ))
}

/// One small JSON answer, fetched by `fetch` (which maps failed statuses to errors) and read by
/// `parse`. A success whose body is an error object, or that stops part way through its JSON (an
/// answer that ended cleanly too soon: without a Content-Length nothing else reveals it), is
/// fetched again with backoff when the request may be repeated, like a dropped connection;
/// `send` has already retried failed statuses and transport errors.
pub(crate) async fn read_answer<T, R, F, Fut>(
    t: &T,
    session: &Session,
    idempotent: bool,
    fetch: F,
    mut parse: impl FnMut(&[u8]) -> Result<R>,
) -> Result<R>
where
    T: Transport,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<HttpResponse>>,
{
    let mut backoff = Backoff::new(session.retry, (t.now_ms() as u64) ^ 0x2545_F491_4F6C_DD1D);
    loop {
        let resp = fetch().await?;
        let err = match error_instead_of_data(resp.status, &resp.body) {
            Some(e) => e,
            None => match parse(&resp.body) {
                Ok(v) => return Ok(v),
                Err(e) if json_cut_short(&resp.body) => {
                    Error::network(format!("answer cut short: {e}"))
                }
                Err(e) => return Err(e),
            },
        };
        match classify(&err, Stage::Request { idempotent }, &mut backoff) {
            Verdict::Retry { delay_ms } => t.sleep(delay_ms as f64).await?,
            _ => return Err(err),
        }
    }
}

/// Whether `body` is the start of a JSON document that stops before its end.
fn json_cut_short(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err_and(|e| e.is_eof())
}

/// `fut`, or `E_TIMEOUT` if it has not finished `ms` after it started. The loser is dropped: a
/// body read cut off this way is abandoned with its body (which cancels the connection).
pub(crate) async fn within<T: Transport, X>(
    t: &T,
    ms: Option<f64>,
    fut: impl Future<Output = Result<X>>,
) -> Result<X> {
    let Some(ms) = ms else {
        return fut.await;
    };
    let mut fut = pin!(fut);
    let mut timer = pin!(t.sleep(ms));
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(Error::new(ErrorKind::Timeout))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
