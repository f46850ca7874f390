//! One ordered download: parts (Activities fragments, Userpilot files) fetched up to a window at
//! a time, each reading ahead into a bounded queue, delivered strictly in part order, a part that
//! fails fetched again from its start (the consumer skips what it delivered), a refused presigned
//! link renewed, and a body's length checked before it counts as whole.
//!
//! Sans-IO, in the shape of quinn-proto: the driver feeds events in (`handle_*`: a part opened,
//! a chunk arrived, a body ended, something failed, links were renewed, the head was finished)
//! and asks [`OrderedDownload::poll`] what to do next; [`OrderedDownload::poll_timeout`] is the
//! next restart deadline. Time comes in as `now_ms`. The driver owns the bodies and the parsers;
//! this machine owns every decision about them.
//!
//! Each fetch of a part carries a ticket: an answer to a fetch that was abandoned (the part was
//! restarted meanwhile) is recognised and dropped.

use crate::core::policy::{classify, Link, Stage, Verdict};
use crate::core::retry::{Backoff, RetryPolicy};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Parts fetched at once.
    pub concurrency: usize,
    /// Bytes a part may hold queued before its reads pause.
    pub read_ahead_bytes: usize,
    /// Without a length, a body must end with a newline to count as whole (the last try is
    /// accepted as it is: a short job is still caught by its size).
    pub line_ended: bool,
    /// A part whose fetch failed after the transport's own retries is fetched again (a
    /// presigned file costs nothing to ask for); otherwise only a stall does.
    pub reopen: bool,
    /// The parts' URLs are presigned: a 403 is an expired link, renewed once per part.
    pub signed: bool,
    pub retry: RetryPolicy,
    /// Seeds each part's backoff jitter.
    pub seed: u64,
}

/// Where a part stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartPhase {
    /// To be requested (first time or again).
    Waiting,
    Opening,
    Reading,
    /// The body ended whole; the consumer may still have queued bytes to take.
    Ended,
    /// Failed; fetched again once the deadline passes.
    Backoff,
    /// Failed on a refused link; fetched again after the links are renewed.
    NeedsLink,
    Done,
}

/// A part as a progress report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    Requested,
    Reading,
    /// Read ahead up to its cap, waiting for its turn.
    Buffered,
    Retrying,
    Done,
}

impl PartState {
    pub fn as_str(self) -> &'static str {
        match self {
            PartState::Requested => "requested",
            PartState::Reading => "reading",
            PartState::Buffered => "buffered",
            PartState::Retrying => "retrying",
            PartState::Done => "done",
        }
    }
}

/// What the driver does next.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Request the part (again), tagging the answer with `ticket`.
    Open { part: usize, ticket: u32 },
    /// Read the next chunk of the part's open body.
    Read { part: usize, ticket: u32 },
    /// The head was fetched again: its consumer starts afresh, skipping what it delivered.
    Reset { part: usize },
    /// The next bytes of the head, in order.
    Deliver { part: usize, chunk: Vec<u8> },
    /// The head's bytes are all delivered: the consumer finishes it, then [`OrderedDownload::handle_finished`].
    Finish { part: usize },
    /// Read the job again for fresh links, then [`OrderedDownload::handle_renewed`].
    Renew,
    /// Nothing to do until an answer arrives or [`OrderedDownload::poll_timeout`] passes.
    Idle,
    /// Every part is delivered.
    Done,
}

/// Which step of a part failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    Open,
    Body,
}

#[derive(Debug, Clone)]
pub struct Part {
    pub phase: PartPhase,
    /// Bytes received by the current fetch.
    pub received: u64,
    /// The body's length as it will be read, when the answer said it.
    pub expected: Option<u64>,
    /// Fetches after the first.
    pub restarts: u32,
    ticket: u32,
    last_byte: Option<u8>,
    /// The link generation its current URL came from, and whether it caused a renewal.
    gen: u32,
    renewed: bool,
    until_ms: f64,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    /// A body is open with no read in flight.
    idle: bool,
    /// Fetched again since its consumer last started.
    restarted: bool,
    backoff: Backoff,
}

impl Part {
    /// Bytes waiting in its queue.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// The fetch now current: events tagged with another belong to an abandoned one.
    pub fn ticket(&self) -> u32 {
        self.ticket
    }

    pub fn opened_once(&self) -> bool {
        self.ticket > 0
    }
}

/// What survives a run: enough to start again where it stopped (issue 18's checkpoints). Never
/// data: the consumer's own mark (lines or rows of the head delivered) goes alongside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub parts: usize,
    /// Parts before this one are delivered in full.
    pub head: usize,
    pub restarts: u32,
    pub renewals: u32,
}

#[derive(Debug, Clone)]
pub struct OrderedDownload {
    cfg: Config,
    parts: Vec<Part>,
    head: usize,
    gen: u32,
    renew_pending: bool,
    renew_asked: bool,
    restarts: u32,
    renewals: u32,
}

impl OrderedDownload {
    pub fn new(cfg: Config, parts: usize) -> Self {
        let mut m = OrderedDownload {
            cfg: Config {
                concurrency: cfg.concurrency.max(1),
                read_ahead_bytes: cfg.read_ahead_bytes.max(1),
                ..cfg
            },
            parts: Vec::with_capacity(parts),
            head: 0,
            gen: 0,
            renew_pending: false,
            renew_asked: false,
            restarts: 0,
            renewals: 0,
        };
        for _ in 0..parts {
            m.push_part();
        }
        m
    }

    /// Continues a saved run: the parts before its head are done.
    pub fn resume(cfg: Config, state: &State) -> Result<Self> {
        if state.version != 1 {
            return Err(Error::invalid(
                "resumeFrom.version",
                format!("unknown checkpoint version {}", state.version),
            ));
        }
        if state.head > state.parts {
            return Err(Error::invalid("resumeFrom.head", "is past the last part"));
        }
        let mut m = OrderedDownload::new(cfg, state.parts);
        for p in m.parts.iter_mut().take(state.head) {
            p.phase = PartPhase::Done;
        }
        m.head = state.head;
        m.restarts = state.restarts;
        m.renewals = state.renewals;
        Ok(m)
    }

    pub fn state(&self) -> State {
        State {
            version: 1,
            parts: self.parts.len(),
            head: self.head,
            restarts: self.restarts,
            renewals: self.renewals,
        }
    }

    /// One more part after the others (a probe past a job's declared fragments).
    pub fn push_part(&mut self) -> usize {
        let i = self.parts.len();
        self.parts.push(Part {
            phase: PartPhase::Waiting,
            received: 0,
            expected: None,
            restarts: 0,
            ticket: 0,
            last_byte: None,
            gen: self.gen,
            renewed: false,
            until_ms: 0.0,
            queue: VecDeque::new(),
            queued: 0,
            idle: false,
            restarted: false,
            backoff: Backoff::new(
                self.cfg.retry,
                self.cfg.seed.wrapping_add(i as u64 * 0x9E37),
            ),
        });
        i
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn head(&self) -> usize {
        self.head
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub fn part(&self, i: usize) -> Option<&Part> {
        self.parts.get(i)
    }

    /// Parts the window covers now: the head and those reading ahead of it.
    pub fn window(&self) -> std::ops::Range<usize> {
        self.head..(self.head + self.cfg.concurrency).min(self.parts.len())
    }

    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    pub fn renewals(&self) -> u32 {
        self.renewals
    }

    /// Bytes received by every part's latest fetch.
    pub fn received(&self) -> u64 {
        self.parts.iter().map(|p| p.received).sum()
    }

    fn current(&mut self, part: usize, ticket: u32) -> Option<&mut Part> {
        self.parts.get_mut(part).filter(|p| p.ticket == ticket)
    }

    pub fn poll(&mut self, now_ms: f64) -> Action {
        if self.renew_pending && !self.renew_asked {
            self.renew_asked = true;
            return Action::Renew;
        }
        let cap = self.cfg.read_ahead_bytes;
        for i in self.window() {
            let Some(p) = self.parts.get_mut(i) else {
                break;
            };
            let due = p.phase == PartPhase::Waiting
                || (p.phase == PartPhase::Backoff && p.until_ms <= now_ms);
            if due {
                p.ticket += 1;
                p.phase = PartPhase::Opening;
                p.idle = false;
                p.gen = self.gen;
                return Action::Open {
                    part: i,
                    ticket: p.ticket,
                };
            }
            if p.phase == PartPhase::Reading && p.idle && p.queued < cap {
                p.idle = false;
                return Action::Read {
                    part: i,
                    ticket: p.ticket,
                };
            }
        }
        let head = self.head;
        let Some(p) = self.parts.get_mut(head) else {
            return Action::Done;
        };
        if std::mem::take(&mut p.restarted) {
            return Action::Reset { part: head };
        }
        if let Some(chunk) = p.queue.pop_front() {
            p.queued -= chunk.len();
            return Action::Deliver { part: head, chunk };
        }
        if p.phase == PartPhase::Ended {
            return Action::Finish { part: head };
        }
        Action::Idle
    }

    /// The parts a progress report shows: those of the window asked for at least once, head
    /// first, with their index.
    pub fn shown(&self) -> Vec<(usize, PartState, &Part)> {
        let cap = self.cfg.read_ahead_bytes;
        self.window()
            .filter_map(|i| self.parts.get(i).map(|p| (i, p)))
            .filter(|(_, p)| p.opened_once())
            .map(|(i, p)| {
                let state = match p.phase {
                    PartPhase::Waiting | PartPhase::Opening if p.restarts > 0 => {
                        PartState::Retrying
                    }
                    PartPhase::Waiting | PartPhase::Opening => PartState::Requested,
                    PartPhase::Reading if i != self.head && p.queued >= cap => PartState::Buffered,
                    PartPhase::Reading | PartPhase::Ended => PartState::Reading,
                    PartPhase::Backoff | PartPhase::NeedsLink => PartState::Retrying,
                    PartPhase::Done => PartState::Done,
                };
                (i, state, p)
            })
            .collect()
    }

    /// The earliest moment a part waiting out a backoff may be fetched again.
    pub fn poll_timeout(&self) -> Option<f64> {
        self.parts[self.window()]
            .iter()
            .filter(|p| p.phase == PartPhase::Backoff)
            .map(|p| p.until_ms)
            .reduce(f64::min)
    }

    /// The part answered with a body; `expected` is its length as it will be read, if known.
    /// `false`: the answer is to an abandoned fetch (drop its body).
    pub fn handle_opened(&mut self, part: usize, ticket: u32, expected: Option<u64>) -> bool {
        let Some(p) = self.current(part, ticket) else {
            return false;
        };
        p.phase = PartPhase::Reading;
        p.expected = expected;
        p.received = 0;
        p.last_byte = None;
        p.idle = true;
        true
    }

    /// The length of the part's body as it will be read, learnt after it opened (a runtime that
    /// inflates the body makes the announced length meaningless).
    pub fn set_expected(&mut self, part: usize, expected: Option<u64>) {
        if let Some(p) = self.parts.get_mut(part) {
            p.expected = expected;
        }
    }

    /// A chunk of the part's body; the body is open again for the next read. `false`: the
    /// chunk belongs to an abandoned fetch.
    pub fn handle_chunk(&mut self, part: usize, ticket: u32, chunk: Vec<u8>) -> bool {
        let Some(p) = self.current(part, ticket) else {
            return false;
        };
        p.idle = true;
        if chunk.is_empty() {
            return true;
        }
        p.received += chunk.len() as u64;
        p.last_byte = chunk.last().copied();
        p.queued += chunk.len();
        p.queue.push_back(chunk);
        true
    }

    /// The part's body ended. A body shorter than its length, or (with `line_ended`) stopping
    /// inside a line, was cut: it is fetched again, or the error when that is spent.
    pub fn handle_end(&mut self, part: usize, ticket: u32, now_ms: f64) -> Result<()> {
        let max = self.cfg.retry.max_retries;
        let line_ended = self.cfg.line_ended;
        let Some(p) = self.current(part, ticket) else {
            return Ok(());
        };
        p.idle = false;
        let cut = match p.expected {
            // More than the length: a compressed length the runtime decoded past.
            Some(len) => {
                (p.received < len).then(|| format!("body cut short: {} of {len} bytes", p.received))
            }
            None => (line_ended && p.last_byte.is_some_and(|b| b != b'\n') && p.restarts < max)
                .then(|| "body ended inside a line".to_string()),
        };
        match cut {
            Some(why) => {
                self.handle_failure(part, ticket, Failed::Body, Error::network(why), now_ms)
            }
            None => {
                p.phase = PartPhase::Ended;
                Ok(())
            }
        }
    }

    /// The part's fetch or body failed (or its consumer found the stream cut). The failure
    /// policy decides: fetched again after a backoff, after a link renewal, or the run's error.
    pub fn handle_failure(
        &mut self,
        part: usize,
        ticket: u32,
        at: Failed,
        err: Error,
        now_ms: f64,
    ) -> Result<()> {
        let (gen, renew_pending, cfg) = (self.gen, self.renew_pending, self.cfg);
        let Some(p) = self.current(part, ticket) else {
            return Ok(());
        };
        let link = if !cfg.signed {
            Link::Fixed
        } else if p.gen < gen {
            Link::Stale
        } else {
            Link::Signed { renewed: p.renewed }
        };
        let stage = match at {
            Failed::Open => Stage::Open {
                reopen: cfg.reopen,
                link,
            },
            Failed::Body => Stage::Body { link },
        };
        let verdict = classify(&err, stage, &mut p.backoff);
        match verdict {
            Verdict::Fail(e) => return Err(e),
            Verdict::Restart { delay_ms } => {
                p.phase = PartPhase::Backoff;
                p.until_ms = now_ms + delay_ms as f64;
            }
            Verdict::Renew => {
                p.phase = PartPhase::NeedsLink;
                // The part that asks for a renewal spends its one; others caught by the same
                // expiry simply take the fresh links.
                if !renew_pending {
                    p.renewed = true;
                    self.renew_pending = true;
                    self.renew_asked = false;
                }
            }
            Verdict::Retry { .. } | Verdict::Adopt => {
                return Err(Error::network(
                    "internal: the failure policy answered a download with a request verdict",
                ))
            }
        }
        let p = &mut self.parts[part];
        p.restarts += 1;
        p.restarted = true;
        p.queue.clear();
        p.queued = 0;
        p.idle = false;
        p.received = 0;
        self.restarts += 1;
        Ok(())
    }

    /// The job was read again: every part waiting for a link is fetched with a fresh one.
    pub fn handle_renewed(&mut self) {
        self.gen += 1;
        self.renewals += 1;
        self.renew_pending = false;
        self.renew_asked = false;
        for p in &mut self.parts {
            if p.phase == PartPhase::NeedsLink {
                p.phase = PartPhase::Waiting;
            }
        }
    }

    /// The part's request was refused in a way that names another URL for it: asked again at
    /// once, which is not a restart (nothing of it was read).
    pub fn handle_moved(&mut self, part: usize, ticket: u32) {
        if let Some(p) = self.current(part, ticket) {
            p.phase = PartPhase::Waiting;
        }
    }

    /// The consumer finished the head: the next part becomes the head.
    pub fn handle_finished(&mut self, part: usize) {
        if part != self.head {
            return;
        }
        if let Some(p) = self.parts.get_mut(part) {
            p.phase = PartPhase::Done;
            p.queue = VecDeque::new();
        }
        self.head += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn cfg(concurrency: usize) -> Config {
        Config {
            concurrency,
            read_ahead_bytes: 8,
            line_ended: true,
            reopen: false,
            signed: false,
            retry: RetryPolicy {
                max_retries: 2,
                base_ms: 100,
                cap_ms: 1_000,
                retry_after_cap_ms: 5_000,
            },
            seed: 3,
        }
    }

    /// Polls until the machine has nothing to do, collecting what it asked for.
    fn drain(m: &mut OrderedDownload, now: f64) -> Vec<Action> {
        let mut out = Vec::new();
        loop {
            match m.poll(now) {
                Action::Idle => return out,
                // Both stay the answer until the driver acts on them.
                a @ (Action::Done | Action::Finish { .. }) => {
                    out.push(a);
                    return out;
                }
                a => out.push(a),
            }
        }
    }

    fn opens(actions: &[Action]) -> Vec<usize> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Open { part, .. } => Some(*part),
                _ => None,
            })
            .collect()
    }

    fn delivered(actions: &[Action]) -> Vec<(usize, Vec<u8>)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Deliver { part, chunk } => Some((*part, chunk.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn parts_open_within_the_window_and_deliver_in_order() {
        let mut m = OrderedDownload::new(cfg(2), 3);
        assert_eq!(
            opens(&drain(&mut m, 0.0)),
            [0, 1],
            "the window is two parts"
        );
        // Part 1 answers and ends first: nothing is delivered before part 0.
        assert!(m.handle_opened(1, 1, Some(3)));
        assert_eq!(drain(&mut m, 0.0), [Action::Read { part: 1, ticket: 1 }]);
        m.handle_chunk(1, 1, b"b\n\n".to_vec());
        m.handle_end(1, 1, 0.0).unwrap();
        assert_eq!(drain(&mut m, 0.0), []);
        assert!(m.handle_opened(0, 1, None));
        drain(&mut m, 0.0);
        m.handle_chunk(0, 1, b"a\n".to_vec());
        let a = drain(&mut m, 0.0);
        assert_eq!(delivered(&a), [(0, b"a\n".to_vec())]);
        m.handle_end(0, 1, 0.0).unwrap();
        assert_eq!(drain(&mut m, 0.0), [Action::Finish { part: 0 }]);
        m.handle_finished(0);
        let a = drain(&mut m, 0.0);
        assert_eq!(opens(&a), [2], "the window moved on");
        assert_eq!(delivered(&a), [(1, b"b\n\n".to_vec())]);
        assert_eq!(a.last(), Some(&Action::Finish { part: 1 }));
    }

    #[test]
    fn a_part_ahead_of_the_head_stops_reading_at_its_cap() {
        let mut m = OrderedDownload::new(cfg(2), 2);
        drain(&mut m, 0.0);
        m.handle_opened(1, 1, None);
        assert_eq!(drain(&mut m, 0.0), [Action::Read { part: 1, ticket: 1 }]);
        m.handle_chunk(1, 1, vec![b'x'; 8]);
        assert_eq!(
            drain(&mut m, 0.0),
            [],
            "8 bytes queued: at the cap, no read"
        );
        assert_eq!(m.part(1).map(Part::queued), Some(8));
        m.handle_opened(0, 1, Some(0));
        drain(&mut m, 0.0);
        m.handle_end(0, 1, 0.0).unwrap();
        assert_eq!(drain(&mut m, 0.0), [Action::Finish { part: 0 }]);
        m.handle_finished(0);
        // Now the head: its queue is taken, which makes room to read on.
        let a = drain(&mut m, 0.0);
        assert_eq!(delivered(&a), [(1, vec![b'x'; 8])]);
        assert_eq!(a.last(), Some(&Action::Read { part: 1, ticket: 1 }));
    }

    #[test]
    fn a_body_shorter_than_its_length_restarts_after_a_backoff_and_the_head_resets() {
        let mut m = OrderedDownload::new(cfg(1), 1);
        drain(&mut m, 0.0);
        m.handle_opened(0, 1, Some(10));
        drain(&mut m, 0.0);
        m.handle_chunk(0, 1, b"abc\n".to_vec());
        assert_eq!(delivered(&drain(&mut m, 0.0)).len(), 1);
        m.handle_end(0, 1, 1_000.0).unwrap();
        assert_eq!(m.part(0).map(|p| p.phase), Some(PartPhase::Backoff));
        assert_eq!(m.restarts(), 1);
        let until = m.poll_timeout().expect("a restart deadline");
        assert!((1_000.0..=1_100.0).contains(&until), "{until}");
        assert_eq!(drain(&mut m, 1_000.0), [Action::Reset { part: 0 }]);
        assert_eq!(drain(&mut m, until - 0.5), [], "not before its deadline");
        assert_eq!(drain(&mut m, until), [Action::Open { part: 0, ticket: 2 }]);
        // A late chunk of the abandoned fetch is dropped.
        assert!(!m.handle_chunk(0, 1, b"zzz".to_vec()));
        assert!(m.handle_opened(0, 2, Some(4)));
    }

    #[test]
    fn without_a_length_a_body_must_end_at_a_line_end_except_on_the_last_try() {
        let mut m = OrderedDownload::new(cfg(1), 1);
        let mut ticket = 0;
        for round in 0..3 {
            let a = drain(&mut m, 1e9);
            ticket = match a.iter().find(|x| matches!(x, Action::Open { .. })) {
                Some(Action::Open { ticket, .. }) => *ticket,
                _ => panic!("round {round}: no open in {a:?}"),
            };
            m.handle_opened(0, ticket, None);
            drain(&mut m, 1e9);
            m.handle_chunk(0, ticket, b"{\"a\":1}\n{\"a\"".to_vec());
            m.handle_end(0, ticket, 0.0).unwrap();
        }
        assert_eq!(m.restarts(), 2);
        assert_eq!(ticket, 3);
        assert_eq!(
            m.part(0).map(|p| p.phase),
            Some(PartPhase::Ended),
            "budget of 2 spent: taken as is"
        );
        let mut plain = OrderedDownload::new(
            Config {
                line_ended: false,
                ..cfg(1)
            },
            1,
        );
        drain(&mut plain, 0.0);
        plain.handle_opened(0, 1, None);
        plain.handle_chunk(0, 1, b"no newline".to_vec());
        plain.handle_end(0, 1, 0.0).unwrap();
        assert_eq!(plain.restarts(), 0, "files are checked by their own format");
    }

    #[test]
    fn an_open_that_failed_restarts_only_on_a_stall_unless_parts_reopen() {
        let mut m = OrderedDownload::new(cfg(1), 1);
        drain(&mut m, 0.0);
        m.handle_failure(0, 1, Failed::Open, Error::new(ErrorKind::Timeout), 0.0)
            .unwrap();
        assert_eq!(m.restarts(), 1);
        let e = Error::from_status(503, b"", None);
        let until = m.poll_timeout().unwrap();
        drain(&mut m, until);
        assert_eq!(
            m.handle_failure(0, 2, Failed::Open, e.clone(), 0.0),
            Err(e.clone())
        );
        let mut files = OrderedDownload::new(
            Config {
                reopen: true,
                ..cfg(1)
            },
            1,
        );
        drain(&mut files, 0.0);
        files.handle_failure(0, 1, Failed::Open, e, 0.0).unwrap();
        assert_eq!(files.restarts(), 1);
    }

    #[test]
    fn the_restart_budget_is_per_part_and_its_end_is_the_error() {
        let mut m = OrderedDownload::new(cfg(1), 1);
        let e = Error::network("connection reset");
        for ticket in 1..=2 {
            drain(&mut m, 1e9);
            m.handle_failure(0, ticket, Failed::Body, e.clone(), 0.0)
                .unwrap();
        }
        drain(&mut m, 1e9);
        assert_eq!(m.handle_failure(0, 3, Failed::Body, e.clone(), 0.0), Err(e));
    }

    #[test]
    fn a_refused_link_is_renewed_once_for_every_part_and_a_second_refusal_fails() {
        let signed = Config {
            signed: true,
            reopen: true,
            ..cfg(2)
        };
        let mut m = OrderedDownload::new(signed, 2);
        drain(&mut m, 0.0);
        let refused = Error::from_status(403, b"Request has expired", None);
        m.handle_failure(0, 1, Failed::Open, refused.clone(), 0.0)
            .unwrap();
        m.handle_failure(1, 1, Failed::Open, refused.clone(), 0.0)
            .unwrap();
        let a = drain(&mut m, 0.0);
        assert_eq!(
            a.iter().filter(|x| **x == Action::Renew).count(),
            1,
            "{a:?}"
        );
        assert_eq!(
            opens(&a),
            [] as [usize; 0],
            "nothing opens before the links are fresh"
        );
        m.handle_renewed();
        assert_eq!(m.renewals(), 1);
        assert_eq!(opens(&drain(&mut m, 0.0)), [0, 1]);
        // Part 0 renewed once already: a refusal of its fresh link is the end.
        let mut first = m.clone();
        assert_eq!(
            first
                .handle_failure(0, 2, Failed::Open, refused.clone(), 0.0)
                .map_err(|e| e.code()),
            Err("E_LINK_EXPIRED")
        );
        // Part 1 did not spend a renewal (part 0 asked for it): it may ask for one.
        m.handle_failure(1, 2, Failed::Open, refused.clone(), 0.0)
            .unwrap();
        assert!(drain(&mut m, 0.0).contains(&Action::Renew));
        m.handle_renewed();
        assert_eq!(m.renewals(), 2);
    }

    #[test]
    fn a_link_from_before_a_renewal_is_replaced_without_another() {
        let signed = Config {
            signed: true,
            reopen: true,
            ..cfg(2)
        };
        let mut m = OrderedDownload::new(signed, 2);
        drain(&mut m, 0.0);
        let refused = Error::new(ErrorKind::LinkExpired);
        m.handle_failure(0, 1, Failed::Open, refused.clone(), 0.0)
            .unwrap();
        assert!(drain(&mut m, 0.0).contains(&Action::Renew));
        m.handle_renewed();
        drain(&mut m, 0.0);
        // Part 1's answer to its old link arrives after the renewal.
        m.handle_failure(1, 1, Failed::Open, refused, 0.0).unwrap();
        let a = drain(&mut m, 0.0);
        assert!(!a.contains(&Action::Renew), "{a:?}");
        assert_eq!(opens(&a), [1]);
        assert_eq!(m.renewals(), 1);
    }

    #[test]
    fn a_saved_state_resumes_at_its_head() {
        let mut m = OrderedDownload::new(cfg(2), 3);
        drain(&mut m, 0.0);
        m.handle_opened(0, 1, Some(0));
        m.handle_end(0, 1, 0.0).unwrap();
        drain(&mut m, 0.0);
        m.handle_finished(0);
        let text = serde_json::to_string(&m.state()).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"parts":3,"head":1,"restarts":0,"renewals":0}"#
        );
        let saved: State = serde_json::from_str(&text).unwrap();
        let mut again = OrderedDownload::resume(cfg(2), &saved).unwrap();
        assert_eq!(again.head(), 1);
        assert_eq!(opens(&drain(&mut again, 0.0)), [1, 2]);
        let bad = State {
            version: 2,
            ..saved.clone()
        };
        assert!(OrderedDownload::resume(cfg(2), &bad).is_err());
        let past = State { head: 4, ..saved };
        assert!(OrderedDownload::resume(cfg(2), &past).is_err());
    }

    #[test]
    fn progress_shows_the_window_asked_for_with_each_parts_state() {
        let mut m = OrderedDownload::new(cfg(2), 3);
        assert!(m.shown().is_empty(), "nothing asked for yet");
        drain(&mut m, 0.0);
        let states = |m: &OrderedDownload| -> Vec<(usize, PartState)> {
            m.shown().into_iter().map(|(i, s, _)| (i, s)).collect()
        };
        assert_eq!(
            states(&m),
            [(0, PartState::Requested), (1, PartState::Requested)]
        );
        m.handle_opened(1, 1, None);
        drain(&mut m, 0.0);
        m.handle_chunk(1, 1, vec![b'x'; 8]);
        m.handle_failure(0, 1, Failed::Open, Error::new(ErrorKind::Timeout), 0.0)
            .unwrap();
        assert_eq!(
            states(&m),
            [(0, PartState::Retrying), (1, PartState::Buffered)],
            "part 1 holds its cap of read-ahead while the head waits out a backoff"
        );
        let until = m.poll_timeout().unwrap();
        drain(&mut m, until);
        assert_eq!(
            states(&m)[0],
            (0, PartState::Retrying),
            "reopened after a restart"
        );
        m.handle_opened(0, 2, Some(0));
        m.handle_end(0, 2, until).unwrap();
        assert_eq!(
            states(&m)[0],
            (0, PartState::Reading),
            "ended, not yet taken"
        );
        drain(&mut m, until);
        m.handle_finished(0);
        assert_eq!(states(&m)[0].0, 1, "the window moved on");
    }

    #[test]
    fn a_part_pushed_after_the_end_is_fetched_too() {
        let mut m = OrderedDownload::new(cfg(2), 0);
        assert_eq!(m.poll(0.0), Action::Done);
        assert_eq!(m.push_part(), 0);
        assert_eq!(m.poll(0.0), Action::Open { part: 0, ticket: 1 });
        m.handle_moved(0, 1);
        assert_eq!(
            m.poll(0.0),
            Action::Open { part: 0, ticket: 2 },
            "asked again at once"
        );
        assert_eq!(m.restarts(), 0, "a moved request is no restart");
    }
}
