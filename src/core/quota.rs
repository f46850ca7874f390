//! A daily allowance counted on our side (the Query API allows 10 calls a day and says nothing
//! until the 11th fails). The count lives in a store the caller supplies, as a small JSON string,
//! so a page can keep it in localStorage and a CLI in a file; this module only decides.

use super::time::{utc_day, DAY_MS};
use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaState {
    /// UTC day number (days since 1970-01-01) the count belongs to.
    pub day: i64,
    pub used: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyQuota {
    pub limit: u32,
}

impl DailyQuota {
    pub fn new(limit: u32) -> Self {
        DailyQuota { limit }
    }

    /// Reads a stored state; anything unreadable counts as a fresh day rather than an error, since
    /// a corrupted counter must not lock a user out.
    pub fn load(stored: Option<&str>) -> Option<QuotaState> {
        stored.and_then(|s| serde_json::from_str(s).ok())
    }

    pub fn used(&self, state: Option<QuotaState>, now_ms: f64) -> u32 {
        match state {
            Some(s) if s.day == utc_day(now_ms) => s.used,
            _ => 0,
        }
    }

    pub fn remaining(&self, state: Option<QuotaState>, now_ms: f64) -> u32 {
        self.limit.saturating_sub(self.used(state, now_ms))
    }

    pub fn resets_at_ms(now_ms: f64) -> f64 {
        (utc_day(now_ms) + 1) as f64 * DAY_MS
    }

    pub fn check(&self, state: Option<QuotaState>, now_ms: f64, force: bool) -> Result<()> {
        if force || self.remaining(state, now_ms) > 0 {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::QuotaExhausted {
                limit: self.limit,
                resets_at_ms: Self::resets_at_ms(now_ms),
            }))
        }
    }

    /// The state after one more call.
    pub fn record(&self, state: Option<QuotaState>, now_ms: f64) -> QuotaState {
        QuotaState {
            day: utc_day(now_ms),
            used: self.used(state, now_ms).saturating_add(1),
        }
    }

    /// The vendor said 429: whatever we counted, today is spent.
    pub fn exhausted(&self, now_ms: f64) -> QuotaState {
        QuotaState {
            day: utc_day(now_ms),
            used: self.limit,
        }
    }

    pub fn store(state: QuotaState) -> String {
        format!("{{\"day\":{},\"used\":{}}}", state.day, state.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ten_a_day_and_resets_at_midnight_utc() {
        let q = DailyQuota::new(10);
        let t0 = 20_000.0 * DAY_MS + 5.0;
        let mut s = None;
        for i in 0..10 {
            assert_eq!(q.remaining(s, t0), 10 - i);
            q.check(s, t0, false).unwrap();
            s = Some(q.record(s, t0));
        }
        let e = q.check(s, t0, false).unwrap_err();
        assert_eq!(e.code(), "E_QUOTA_EXHAUSTED");
        assert!(
            matches!(e.kind(), ErrorKind::QuotaExhausted { resets_at_ms, .. } if *resets_at_ms == 20_001.0 * DAY_MS)
        );
        q.check(s, t0, true).unwrap();
        assert_eq!(q.remaining(s, 20_001.0 * DAY_MS), 10);
    }

    #[test]
    fn stored_state_round_trips_and_garbage_is_a_fresh_day() {
        let st = QuotaState { day: 7, used: 3 };
        assert_eq!(DailyQuota::load(Some(&DailyQuota::store(st))), Some(st));
        assert_eq!(DailyQuota::load(Some("{oops")), None);
        assert_eq!(DailyQuota::load(None), None);
        assert_eq!(
            DailyQuota::new(10).exhausted(7.5 * DAY_MS),
            QuotaState { day: 7, used: 10 }
        );
    }
}
