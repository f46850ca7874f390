//! The one failure policy: every place that meets a failure asks [`classify`] what to do with it.
//! Retry the same request, start a part of a download again from its start, renew its link,
//! adopt a job an unanswered create may have made, or fail. The rules used to be spread over the
//! request loop, job creation and both download loops; a new rule goes here, with its test.

use crate::core::retry::Backoff;
use crate::error::{Error, ErrorKind};

/// Refusals of a new job (the vendor's queue full) tolerated in a row while none of ours runs.
pub const MAX_QUEUE_REFUSALS: u32 = 30;

/// Where the failure happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stage {
    /// One HTTP request or small JSON answer. Only an idempotent request is sent again: a Query
    /// API call spends the daily allowance, a create may make a second job.
    Request { idempotent: bool },
    /// A create whose answer was lost: the job may exist all the same.
    Create,
    /// A create refused because the vendor's job queue is full (429; other callers' jobs count
    /// too), after `refusals` such refusals in a row while `active` jobs of ours are queued or
    /// running. The scheduler decides how long to wait.
    QueueFull { refusals: u32, active: usize },
    /// Opening a part of an ordered download (the transport has already retried the request).
    /// `reopen`: a failure the transport gave up on still starts the part again (presigned
    /// files, whose fetch costs nothing); otherwise only our own stall timeout does.
    Open { reopen: bool, link: Link },
    /// A part's body after it opened: cut short, stalled, a truncated stream, an error body.
    Body { link: Link },
}

/// A part's link, for a refusal a fresh link can cure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The URL is not signed (Activities fragments): a 403 is a real refusal.
    Fixed,
    /// A presigned URL of the current generation; `renewed`: this part already caused a renewal.
    Signed { renewed: bool },
    /// A presigned URL from before the last renewal: a fresh one is already at hand.
    Stale,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send the same request again after this many milliseconds.
    Retry { delay_ms: u64 },
    /// Fetch the part again from its start after this many milliseconds, skipping what was
    /// delivered.
    Restart { delay_ms: u64 },
    /// Read the job again for fresh links, then restart the part.
    Renew,
    /// Look for the job the create may have made before asking again.
    Adopt,
    /// The run ends with this error.
    Fail(Error),
}

/// What to do about `err` met at `stage`. `backoff` is the budget of the request or part: a
/// verdict that waits spends one attempt of it.
pub fn classify(err: &Error, stage: Stage, backoff: &mut Backoff) -> Verdict {
    match stage {
        Stage::Request { idempotent: false } => Verdict::Fail(err.clone()),
        Stage::Request { idempotent: true } => match backoff.next_delay(err) {
            Some(delay_ms) => Verdict::Retry { delay_ms },
            None => Verdict::Fail(err.clone()),
        },
        Stage::Create => {
            if create_outcome_unknown(err) {
                Verdict::Adopt
            } else {
                Verdict::Fail(err.clone())
            }
        }
        Stage::QueueFull { refusals, active } => {
            // With none of ours ahead, a queue that stays full is someone else's: give up.
            if err.status() == Some(429) && (active > 0 || refusals < MAX_QUEUE_REFUSALS) {
                Verdict::Retry {
                    delay_ms: err.retry_after_ms().unwrap_or(0),
                }
            } else {
                Verdict::Fail(err.clone())
            }
        }
        Stage::Open { reopen, link } => {
            if let Some(v) = link_verdict(err, link) {
                return v;
            }
            // Our stall timeout is a connection that stopped: fetched again like a cut body.
            if reopen || matches!(err.kind(), ErrorKind::Timeout) {
                restart(err, backoff)
            } else {
                Verdict::Fail(err.clone())
            }
        }
        Stage::Body { link } => link_verdict(err, link).unwrap_or_else(|| restart(err, backoff)),
    }
}

fn restart(err: &Error, backoff: &mut Backoff) -> Verdict {
    match backoff.next_delay(err) {
        Some(delay_ms) => Verdict::Restart { delay_ms },
        None => Verdict::Fail(err.clone()),
    }
}

/// A presigned link refused (S3's 403, or its "Request has expired"): renewed once per part.
fn link_verdict(err: &Error, link: Link) -> Option<Verdict> {
    let refused = matches!(
        err.kind(),
        ErrorKind::Auth { status: 403, .. } | ErrorKind::LinkExpired
    );
    match (refused, link) {
        (false, _) | (true, Link::Fixed) => None,
        (true, Link::Stale) => Some(Verdict::Restart { delay_ms: 0 }),
        (true, Link::Signed { renewed: false }) => Some(Verdict::Renew),
        (true, Link::Signed { renewed: true }) => {
            Some(Verdict::Fail(Error::new(ErrorKind::LinkExpired)))
        }
    }
}

/// What a presigned link's refusal means. S3 answers an expired link 403 "Request has expired":
/// that is [`ErrorKind::LinkExpired`]; any other status maps as usual (a 403 without it is still
/// renewed once by [`classify`], a fresh link may cure it).
pub fn presigned_error(status: u16, body: &[u8], retry_after_ms: Option<u64>) -> Error {
    if status == 403 && String::from_utf8_lossy(body).contains("expired") {
        return Error::new(ErrorKind::LinkExpired);
    }
    Error::from_status(status, body, retry_after_ms)
}

/// A create failure after which the job may exist all the same.
fn create_outcome_unknown(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Network { .. } | ErrorKind::Timeout | ErrorKind::Decode { .. } => true,
        ErrorKind::Http { status, .. } => *status >= 500,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::retry::RetryPolicy;

    fn budget(n: u32) -> Backoff {
        Backoff::new(
            RetryPolicy {
                max_retries: n,
                ..RetryPolicy::default()
            },
            7,
        )
    }

    fn status(s: u16) -> Error {
        Error::from_status(s, b"", None)
    }

    #[test]
    fn a_presigned_refusal_that_says_expired_is_an_expired_link() {
        let expired = presigned_error(403, b"<Message>Request has expired</Message>", None);
        assert_eq!(expired.kind(), &ErrorKind::LinkExpired);
        let refused = presigned_error(403, b"AccessDenied", None);
        assert_eq!(refused.status(), Some(403));
        let signed = Stage::Open {
            reopen: true,
            link: Link::Signed { renewed: false },
        };
        assert_eq!(classify(&refused, signed, &mut budget(2)), Verdict::Renew);
        let gone = presigned_error(404, b"expired", None);
        assert_eq!(gone.status(), Some(404), "only a 403 says the link expired");
        assert_eq!(
            presigned_error(429, b"", Some(2_000)).retry_after_ms(),
            Some(2_000),
            "a 429 keeps its own mapping"
        );
    }

    #[test]
    fn requests_repeat_only_when_idempotent_and_within_budget() {
        let mut b = budget(1);
        let e = status(503);
        assert!(matches!(
            classify(&e, Stage::Request { idempotent: false }, &mut b),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            classify(&e, Stage::Request { idempotent: true }, &mut b),
            Verdict::Retry { .. }
        ));
        assert_eq!(
            classify(&e, Stage::Request { idempotent: true }, &mut b),
            Verdict::Fail(e.clone()),
            "budget spent"
        );
        assert!(matches!(
            classify(
                &status(400),
                Stage::Request { idempotent: true },
                &mut budget(4)
            ),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn a_create_with_an_unknown_outcome_adopts_and_a_refusal_fails() {
        let mut b = budget(4);
        for e in [
            status(502),
            Error::network("reset"),
            Error::new(ErrorKind::Timeout),
            Error::decode(1, 1, "not a job"),
        ] {
            assert_eq!(classify(&e, Stage::Create, &mut b), Verdict::Adopt, "{e}");
        }
        for e in [status(429), status(400), status(401)] {
            assert!(matches!(
                classify(&e, Stage::Create, &mut b),
                Verdict::Fail(_)
            ));
        }
        assert_eq!(b.attempts(), 0, "classifying a create spends no retry");
    }

    #[test]
    fn a_full_queue_is_waited_out_unless_it_stays_full_with_none_of_ours_ahead() {
        let mut b = budget(0);
        let full = Error::from_status(429, b"", Some(5_000));
        let q = |refusals, active| Stage::QueueFull { refusals, active };
        assert_eq!(
            classify(&full, q(0, 0), &mut b),
            Verdict::Retry { delay_ms: 5_000 }
        );
        assert!(matches!(
            classify(&full, q(MAX_QUEUE_REFUSALS, 2), &mut b),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            classify(&full, q(MAX_QUEUE_REFUSALS, 0), &mut b),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            classify(&status(400), q(0, 1), &mut b),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn a_part_that_failed_to_open_restarts_only_on_a_stall_unless_reopening() {
        let fixed = |reopen| Stage::Open {
            reopen,
            link: Link::Fixed,
        };
        let mut b = budget(4);
        assert!(matches!(
            classify(&Error::new(ErrorKind::Timeout), fixed(false), &mut b),
            Verdict::Restart { .. }
        ));
        assert!(matches!(
            classify(&status(503), fixed(false), &mut b),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            classify(&status(503), fixed(true), &mut b),
            Verdict::Restart { .. }
        ));
        assert!(matches!(
            classify(&status(403), fixed(true), &mut b),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn a_cut_body_restarts_until_the_part_budget_is_spent() {
        let mut b = budget(2);
        let e = Error::network("body cut short");
        let body = Stage::Body { link: Link::Fixed };
        assert!(matches!(
            classify(&e, body, &mut b),
            Verdict::Restart { .. }
        ));
        assert!(matches!(
            classify(&e, body, &mut b),
            Verdict::Restart { .. }
        ));
        assert_eq!(classify(&e, body, &mut b), Verdict::Fail(e.clone()));
        assert!(matches!(
            classify(&Error::decode(3, 1, "bad"), body, &mut budget(2)),
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn a_refused_link_is_renewed_once_per_part() {
        let mut b = budget(0);
        let expired = Error::new(ErrorKind::LinkExpired);
        let open = |link| Stage::Open { reopen: true, link };
        assert_eq!(
            classify(&status(403), open(Link::Signed { renewed: false }), &mut b),
            Verdict::Renew
        );
        assert_eq!(
            classify(
                &expired,
                Stage::Body {
                    link: Link::Signed { renewed: false }
                },
                &mut b
            ),
            Verdict::Renew
        );
        assert_eq!(
            classify(&status(403), open(Link::Signed { renewed: true }), &mut b),
            Verdict::Fail(expired.clone())
        );
        assert_eq!(
            classify(&status(403), open(Link::Stale), &mut b),
            Verdict::Restart { delay_ms: 0 },
            "a link older than the last renewal is simply replaced"
        );
    }
}
