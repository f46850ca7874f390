//! What the edge worker (edge/) needs from the core beyond the clients: the bearer token it adds
//! to the page's proxied Backstory calls (the page holds no secret), and the Query API's daily
//! count in the same stored form the clients keep, so the worker's proxy and its scheduled
//! exports share one count.

use super::backstory::{get, BackstoryCore};
use super::errors::to_js;
use super::fetch::FetchTransport;
use super::js::ek_now;
use crate::core::auth::TokenCache;
use crate::core::quota::DailyQuota;
use crate::driver::{self, read_all, Auth, Response, Session, SMALL_BODY_LIMIT};
use crate::error::{Error, Result};
use crate::providers::backstory::query::DAILY_LIMIT;
use crate::transport::Transport;
use js_sys::Object;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl BackstoryCore {
    /// The bearer token for a call made on this client's behalf: the cached one while it is
    /// comfortably valid, else a fresh exchange. `opts`: `{ refresh, signal }`; `refresh` drops
    /// the cached token first (the vendor refused it). Resolves to `{ token, expiresAtMs }`.
    /// Meant for a proxy that holds the credentials; a page never needs it.
    #[wasm_bindgen(js_name = accessToken)]
    pub async fn access_token(&self, opts: JsValue) -> std::result::Result<JsValue, JsValue> {
        token(&self.session, &opts).await.map_err(to_js)
    }

    /// The stored daily count after one more Query API call (`stored` as a quota store holds it).
    #[wasm_bindgen(js_name = quotaAfterCall)]
    pub fn quota_after_call(stored: Option<String>) -> String {
        let quota = DailyQuota::new(DAILY_LIMIT);
        DailyQuota::store(quota.record(DailyQuota::load(stored.as_deref()), ek_now()))
    }

    /// The stored daily count once the vendor has said 429: today is spent.
    #[wasm_bindgen(js_name = quotaExhausted)]
    pub fn quota_exhausted() -> String {
        DailyQuota::store(DailyQuota::new(DAILY_LIMIT).exhausted(ek_now()))
    }

    /// When today's count resets (ms since the epoch): the next UTC midnight.
    #[wasm_bindgen(js_name = quotaResetsAtMs)]
    pub fn quota_resets_at_ms() -> f64 {
        DailyQuota::resets_at_ms(ek_now())
    }
}

async fn token(session: &Session, opts: &JsValue) -> Result<JsValue> {
    let Auth::OAuth {
        creds,
        token_url,
        tokens,
    } = &session.auth
    else {
        return Err(Error::invalid(
            "accessToken",
            "this client holds no credentials",
        ));
    };
    let t = FetchTransport::new(get(opts, "signal"));
    if get(opts, "refresh").is_truthy() {
        tokens.borrow_mut().invalidate();
    }
    if let Some(v) = cached(tokens, t.now_ms()) {
        return Ok(v);
    }
    // A session without auth sends the exchange as it is, with the driver's retry and abort.
    let bare = Session::proxied(session.base_url.clone());
    // The vendor may read the token request as a form, HTTP Basic or JSON: the same rule as the
    // clients' calls decides when to try the next encoding.
    let mut refused = 0u8;
    let resp = loop {
        let encoding = tokens.borrow().encoding();
        let req = creds.exchange_request_as(token_url, encoding);
        let resp = match driver::send(&t, &bare, req, &mut || {}).await? {
            Response::Buffered(r) => r,
            Response::Streaming(head, mut body) => crate::core::http::HttpResponse {
                status: head.status,
                headers: head.headers,
                body: read_all(&mut body, SMALL_BODY_LIMIT).await?,
            },
        };
        if !tokens
            .borrow_mut()
            .try_next_encoding(resp.status, &mut refused)
        {
            break resp;
        }
    };
    tokens.borrow_mut().accept(&resp, t.now_ms())?;
    cached(tokens, t.now_ms())
        .ok_or_else(|| Error::network("the token answer expired as it arrived"))
}

fn cached(tokens: &RefCell<TokenCache>, now_ms: f64) -> Option<JsValue> {
    let cache = tokens.borrow();
    let access = cache.valid(now_ms)?;
    let o = Object::new();
    super::backstory::set(&o, "token", access.expose());
    super::backstory::set(&o, "expiresAtMs", cache.expires_at_ms().unwrap_or(now_ms));
    Some(o.into())
}
