//! The only I/O seam: a [`Transport`] sends requests, streams bodies, sleeps and tells the time.
//! In wasm it is `fetch` and `setTimeout`; in native tests it is a script.

use crate::core::http::HttpRequest;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::core::http::find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[allow(async_fn_in_trait)]
pub trait Body {
    /// The next chunk, or `None` at the end. A body that ends early must return an error here,
    /// never `None`: a short read is not a success.
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>>;
}

#[allow(async_fn_in_trait)]
pub trait Transport {
    type Body: Body;
    async fn send(&self, req: &HttpRequest) -> Result<(ResponseHead, Self::Body)>;
    /// Sleeps, or fails with `Aborted` if the caller's signal fires first.
    async fn sleep(&self, ms: f64) -> Result<()>;
    fn now_ms(&self) -> f64;
    /// Fails with `Aborted` if the caller has given up.
    fn check_aborted(&self) -> Result<()>;
}
