//! Dropping events already delivered, by id: the adapter between a parser's batches and the
//! sink when files overlap at their edges (Userpilot's do). Sans-IO and small: the set of ids
//! seen is the only state, and it grows with the export, so it is opt-in.

use std::borrow::Cow;
use std::collections::HashSet;

/// Ids already delivered. Userpilot's ids are 32 hex digits, kept as a u128 (16 bytes instead of
/// a 32-byte string and its allocation); others as text.
#[derive(Debug, Default)]
pub struct SeenIds {
    hex: HashSet<u128>,
    other: HashSet<String>,
}

impl SeenIds {
    /// `true` the first time an id is seen.
    pub fn insert(&mut self, id: &str) -> bool {
        if id.len() == 32 {
            if let Ok(n) = u128::from_str_radix(id, 16) {
                return self.hex.insert(n);
            }
        }
        self.other.insert(id.to_string())
    }

    pub fn len(&self) -> usize {
        self.hex.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(serde::Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    internal_event_id: Option<Cow<'a, str>>,
}

/// The `internal_event_id` of one JSON record, if it has one (a record without is never a
/// duplicate).
pub fn event_id(record: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<IdOnly>(record)
        .ok()
        .and_then(|r| r.internal_event_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_seen_once_whatever_their_shape() {
        let mut s = SeenIds::default();
        let hex = "b824570a8a9f416bebcf6e12f2615937";
        assert!(s.insert(hex));
        assert!(!s.insert(hex));
        assert!(
            s.insert(&hex.to_uppercase()[..31]),
            "31 digits: kept as text"
        );
        assert!(s.insert("evt-1"));
        assert!(!s.insert("evt-1"));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn the_id_is_read_from_the_record_only_when_present() {
        assert_eq!(
            event_id(r#"{"a":[1,{"b":2}],"internal_event_id":"x\u0041"}"#).as_deref(),
            Some("xA")
        );
        assert_eq!(event_id(r#"{"user_id":"u"}"#), None);
        assert_eq!(event_id("not json"), None);
    }
}
