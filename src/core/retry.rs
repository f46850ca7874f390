//! When to try again: exponential backoff with full jitter (AWS's "Exponential Backoff and
//! Jitter"), `Retry-After` honoured up to a cap, and a budget so one export cannot retry forever.

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
    /// A vendor asking for a longer wait than this gets an error instead of a frozen client.
    pub retry_after_cap_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base_ms: 250,
            cap_ms: 8_000,
            retry_after_cap_ms: 60_000,
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }
}

/// Backoff state for one request. The random source is a seeded xorshift so tests are repeatable
/// and wasm needs no entropy source.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(policy: RetryPolicy, seed: u64) -> Self {
        Backoff {
            policy,
            attempt: 0,
            rng: seed | 1,
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// How long to wait before retrying after `err`, or `None` to give up.
    pub fn next_delay(&mut self, err: &Error) -> Option<u64> {
        if !err.is_retryable() || self.attempt >= self.policy.max_retries {
            return None;
        }
        if let Some(ms) = err.retry_after_ms() {
            if ms > self.policy.retry_after_cap_ms {
                return None;
            }
            self.attempt += 1;
            return Some(ms);
        }
        let ceiling = self
            .policy
            .base_ms
            .saturating_mul(1u64 << self.attempt.min(30))
            .min(self.policy.cap_ms);
        self.attempt += 1;
        Some(self.next_random() % (ceiling + 1))
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date (IMF-fixdate). `None` when unreadable.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_http_date(v)?;
    Some((at - now_ms).max(0.0) as u64)
}

/// "Sun, 06 Nov 1994 08:49:37 GMT" -> epoch milliseconds.
pub fn parse_http_date(s: &str) -> Option<f64> {
    let rest = s.split_once(", ").map(|(_, r)| r).unwrap_or(s);
    let mut parts = rest.split_whitespace();
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let sec: i64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = crate::core::time::days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3600 + m * 60 + sec) * 1000) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let mut b = Backoff::new(
            RetryPolicy {
                max_retries: 6,
                base_ms: 100,
                cap_ms: 1_000,
                retry_after_cap_ms: 5_000,
            },
            42,
        );
        let e = Error::from_status(503, b"", None);
        let ceilings = [100, 200, 400, 800, 1_000, 1_000];
        for c in ceilings {
            let d = b.next_delay(&e).unwrap();
            assert!(d <= c, "{d} > {c}");
        }
        assert_eq!(b.next_delay(&e), None, "budget spent");
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let mut b = Backoff::new(RetryPolicy::default(), 1);
        assert_eq!(
            b.next_delay(&Error::from_status(429, b"", Some(0))),
            Some(0)
        );
        assert_eq!(
            b.next_delay(&Error::from_status(429, b"", Some(2_000))),
            Some(2_000)
        );
        assert_eq!(
            b.next_delay(&Error::from_status(429, b"", Some(3_600_000))),
            None
        );
    }

    #[test]
    fn non_retryable_errors_are_not_retried() {
        let mut b = Backoff::new(RetryPolicy::default(), 1);
        assert_eq!(b.next_delay(&Error::from_status(400, b"", None)), None);
        assert_eq!(b.next_delay(&Error::from_status(401, b"", None)), None);
        assert_eq!(
            Backoff::new(RetryPolicy::none(), 1).next_delay(&Error::from_status(503, b"", None)),
            None
        );
    }

    #[test]
    fn retry_after_formats() {
        assert_eq!(parse_retry_after("0", 0.0), Some(0));
        assert_eq!(parse_retry_after(" 120 ", 0.0), Some(120_000));
        let now = parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(now, 1_445_412_480_000.0);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(0),
            "past dates mean now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
