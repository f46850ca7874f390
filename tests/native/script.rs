//! A scripted transport for driving the real driver natively: canned responses, a fake clock
//! that sleeps instantly, and a log of every request sent.

use exportkit::core::http::HttpRequest;
use exportkit::transport::{Body, ResponseHead, Transport};
use exportkit::{Error, ErrorKind, Result};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

pub enum Reply {
    Ok {
        status: u16,
        headers: Vec<(&'static str, String)>,
        chunks: Vec<Vec<u8>>,
        fail_after: bool,
    },
    NetworkError,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply::Ok {
            status,
            headers: vec![],
            chunks: vec![body.as_bytes().to_vec()],
            fail_after: false,
        }
    }
    pub fn header(mut self, k: &'static str, v: &str) -> Reply {
        if let Reply::Ok { headers, .. } = &mut self {
            headers.push((k, v.to_string()));
        }
        self
    }
    /// The body split into pieces of `n` bytes.
    pub fn chunked(status: u16, body: &[u8], n: usize) -> Reply {
        Reply::Ok {
            status,
            headers: vec![],
            chunks: body.chunks(n.max(1)).map(<[u8]>::to_vec).collect(),
            fail_after: false,
        }
    }
    pub fn cut_short(mut self) -> Reply {
        if let Reply::Ok { fail_after, .. } = &mut self {
            *fail_after = true;
        }
        self
    }
}

pub fn token(expires_in: u32) -> Reply {
    Reply::new(
        200,
        &format!(
            r#"{{"access_token":"tok-{expires_in}","token_type":"bearer","expires_in":{expires_in}}}"#
        ),
    )
}

#[derive(Default)]
pub struct Script {
    pub replies: RefCell<VecDeque<Reply>>,
    pub sent: RefCell<Vec<HttpRequest>>,
    pub now: Cell<f64>,
    pub slept: RefCell<Vec<f64>>,
    pub abort_after_sends: Cell<Option<usize>>,
}

impl Script {
    pub fn new(replies: Vec<Reply>) -> Script {
        let s = Script::default();
        *s.replies.borrow_mut() = replies.into();
        s.now.set(1_700_000_000_000.0);
        s
    }
    pub fn urls(&self) -> Vec<String> {
        self.sent.borrow().iter().map(|r| r.url.clone()).collect()
    }
}

pub struct ScriptBody {
    chunks: VecDeque<Vec<u8>>,
    fail_after: bool,
}

impl Body for ScriptBody {
    async fn chunk(&mut self) -> Result<Option<Vec<u8>>> {
        match self.chunks.pop_front() {
            Some(c) => Ok(Some(c)),
            None if self.fail_after => Err(Error::network("connection reset")),
            None => Ok(None),
        }
    }
}

impl Transport for Script {
    type Body = ScriptBody;
    async fn send(&self, req: &HttpRequest) -> Result<(ResponseHead, ScriptBody)> {
        self.sent.borrow_mut().push(req.clone());
        let reply = self
            .replies
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("no scripted reply for {}", req.url));
        match reply {
            Reply::NetworkError => Err(Error::network("connection refused")),
            Reply::Ok {
                status,
                headers,
                chunks,
                fail_after,
            } => Ok((
                ResponseHead {
                    status,
                    headers: headers
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                },
                ScriptBody {
                    chunks: chunks.into(),
                    fail_after,
                },
            )),
        }
    }
    async fn sleep(&self, ms: f64) -> Result<()> {
        self.slept.borrow_mut().push(ms);
        self.now.set(self.now.get() + ms);
        Ok(())
    }
    fn now_ms(&self) -> f64 {
        self.now.get()
    }
    fn check_aborted(&self) -> Result<()> {
        match self.abort_after_sends.get() {
            Some(n) if self.sent.borrow().len() >= n => Err(Error::new(ErrorKind::Aborted)),
            _ => Ok(()),
        }
    }
}

/// Runs a future whose every await is immediately ready (the script never pends).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete");
}

/// Pending for `n` polls, then ready.
pub struct Delay(pub u32);
impl Future for Delay {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
