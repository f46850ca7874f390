//! The one loop that runs the ordered-download machine ([`OrderedDownload`], core/download.rs)
//! over a transport, for Activities fragments and Userpilot files alike.
//!
//! The machine decides; this loop moves its requests, bodies and timers, and the vendor's
//! [`Parts`] hooks say what a part's request is, what an answer means, and consume the head's
//! bytes. Each in-flight future either opens a part or reads one chunk of it (owning the body
//! and handing it back), so memory stays bounded by the machine's read-ahead caps.

use super::inflight::InFlight;
use super::{send, within, Response, Session};
use crate::core::download::{Action, Failed, OrderedDownload};
use crate::core::http::{HttpRequest, HttpResponse};
use crate::error::{Error, Result};
use crate::transport::{Body, ResponseHead, Transport};

/// What a non-success answer to a part's request means.
pub(crate) enum Refused {
    /// Asked again at once (the hook chose another URL form): no restart.
    Moved,
    /// The part exists and is empty (a probe past the last fragment).
    Empty,
    /// A failure of the open: the failure policy decides (restart, renew, fail).
    Failed(Error),
    /// The run's error, as it is.
    Fatal(Error),
}

/// A vendor's side of an ordered download.
#[allow(async_fn_in_trait)]
pub(crate) trait Parts<B: Body> {
    /// The request for the part's next fetch.
    fn request(&mut self, part: usize) -> Result<HttpRequest>;
    /// A success answer: the body's length as it will be read (if known) and any bytes the hook
    /// had to read first. An error is a failure of the body.
    async fn opened(
        &mut self,
        part: usize,
        head: &ResponseHead,
        body: &mut B,
    ) -> Result<(Option<u64>, Vec<u8>)>;
    /// A non-success answer (the transport has already retried what it may).
    fn refused(&mut self, part: usize, resp: HttpResponse, now_ms: f64) -> Refused;
    /// The head is fetched again: its consumer starts afresh, skipping what it delivered.
    fn reset(&mut self, part: usize);
    /// The next bytes of the head. An error is a failure of its body (a cut gzip stream is
    /// fetched again; bad data or a refusing sink ends the run).
    async fn deliver(&mut self, m: &OrderedDownload, part: usize, chunk: Vec<u8>) -> Result<()>;
    /// The head's bytes are all delivered: finish its consumer (an error as for `deliver`).
    async fn finish(&mut self, m: &OrderedDownload, part: usize) -> Result<()>;
    /// The machine moved past the finished head.
    fn finished(&mut self, m: &OrderedDownload, part: usize);
    /// Every part asked for is delivered: `true` when the hook pushed another part.
    fn more(&mut self, m: &mut OrderedDownload) -> bool;
    /// Fresh links for every part (read the job again).
    async fn renew(&mut self) -> Result<()>;
    /// Names the part on an error.
    fn place(&self, part: usize, e: Error) -> Error;
    /// Parts were fetched again or links renewed since the last call.
    fn restarted(&mut self, _m: &OrderedDownload) {}
}

enum Ev<B> {
    Sent(Result<Response<B>>),
    Read(B, Result<Option<Vec<u8>>>),
    /// A restart deadline passed.
    Timer(Result<()>),
}

fn slot<B>(bodies: &mut Vec<Option<B>>, part: usize) -> &mut Option<B> {
    if bodies.len() <= part {
        bodies.resize_with(part + 1, || None);
    }
    &mut bodies[part]
}

/// Runs `m` to its end: every part delivered in order through `parts`.
pub(crate) async fn run<T: Transport, P: Parts<T::Body>>(
    t: &T,
    session: &Session,
    m: &mut OrderedDownload,
    stall_ms: Option<f64>,
    parts: &mut P,
) -> Result<()> {
    let mut bodies: Vec<Option<T::Body>> = Vec::new();
    let mut inflight: InFlight<'_, (usize, u32), Ev<T::Body>> = InFlight::new();
    let mut timer: Option<f64> = None;
    loop {
        t.check_aborted()?;
        let before = (m.restarts(), m.renewals());
        match m.poll(t.now_ms()) {
            Action::Open { part, ticket } => {
                let req = parts.request(part)?;
                *slot(&mut bodies, part) = None;
                inflight.push((part, ticket), async move {
                    Ev::Sent(within(t, stall_ms, send(t, session, req, &mut || {})).await)
                });
            }
            Action::Read { part, ticket } => {
                let Some(mut body) = slot(&mut bodies, part).take() else {
                    return Err(Error::network("internal: a part to read has no body"));
                };
                inflight.push((part, ticket), async move {
                    let r = within(t, stall_ms, body.chunk()).await;
                    Ev::Read(body, r)
                });
            }
            Action::Reset { part } => parts.reset(part),
            Action::Deliver { part, chunk } => {
                // Requests just pushed go out now, while the consumer takes this chunk.
                inflight.kick().await;
                if let Err(e) = parts.deliver(m, part, chunk).await {
                    let ticket = m.part(part).map_or(0, |p| p.ticket());
                    m.handle_failure(part, ticket, Failed::Body, e, t.now_ms())?;
                }
            }
            Action::Finish { part } => match parts.finish(m, part).await {
                Ok(()) => {
                    m.handle_finished(part);
                    parts.finished(m, part);
                }
                Err(e) => {
                    let ticket = m.part(part).map_or(0, |p| p.ticket());
                    m.handle_failure(part, ticket, Failed::Body, e, t.now_ms())?;
                }
            },
            Action::Done => {
                if !parts.more(m) {
                    return Ok(());
                }
            }
            Action::Renew => {
                parts.renew().await?;
                m.handle_renewed();
            }
            Action::Idle => {
                if let Some(until) = m.poll_timeout() {
                    if timer.is_none_or(|armed| until < armed) {
                        timer = Some(until);
                        let ms = (until - t.now_ms()).max(0.0);
                        inflight.push((usize::MAX, 0), async move { Ev::Timer(t.sleep(ms).await) });
                    }
                }
                let Some(((k, ticket), ev)) = inflight.next().await else {
                    let e = Error::network("internal: the head part is waiting on nothing");
                    return Err(parts.place(m.head(), e));
                };
                handle(t, m, parts, &mut bodies, &mut timer, k, ticket, ev).await?;
            }
        }
        if (m.restarts(), m.renewals()) != before {
            parts.restarted(m);
        }
    }
}

/// Feeds one finished in-flight future's result to the machine.
#[allow(clippy::too_many_arguments)]
async fn handle<T: Transport, P: Parts<T::Body>>(
    t: &T,
    m: &mut OrderedDownload,
    parts: &mut P,
    bodies: &mut Vec<Option<T::Body>>,
    timer: &mut Option<f64>,
    k: usize,
    ticket: u32,
    ev: Ev<T::Body>,
) -> Result<()> {
    let now = t.now_ms();
    let r = match ev {
        Ev::Timer(r) => {
            *timer = None;
            return r;
        }
        Ev::Sent(Ok(Response::Streaming(head, mut body))) => {
            if !m.handle_opened(k, ticket, None) {
                return Ok(());
            }
            match parts.opened(k, &head, &mut body).await {
                Ok((expected, first)) => {
                    m.set_expected(k, expected);
                    m.handle_chunk(k, ticket, first);
                    *slot(bodies, k) = Some(body);
                    Ok(())
                }
                Err(e) => m.handle_failure(k, ticket, Failed::Body, e, now),
            }
        }
        Ev::Sent(Ok(Response::Buffered(resp))) => match parts.refused(k, resp, now) {
            Refused::Moved => {
                m.handle_moved(k, ticket);
                Ok(())
            }
            Refused::Empty => {
                m.handle_opened(k, ticket, None);
                m.handle_end(k, ticket, now)
            }
            Refused::Failed(e) => m.handle_failure(k, ticket, Failed::Open, e, now),
            Refused::Fatal(e) => Err(e),
        },
        Ev::Sent(Err(e)) => m.handle_failure(k, ticket, Failed::Open, e, now),
        Ev::Read(body, Ok(Some(chunk))) => {
            if m.handle_chunk(k, ticket, chunk) {
                *slot(bodies, k) = Some(body);
            }
            Ok(())
        }
        Ev::Read(_, Ok(None)) => m.handle_end(k, ticket, now),
        Ev::Read(_, Err(e)) => m.handle_failure(k, ticket, Failed::Body, e, now),
    };
    r.map_err(|e| parts.place(k, e))
}
