//! The activity record's columns for CSV, in a stable order: the fields FACTS.md and the sandbox
//! document, so every export (and every window of one) has the same header whatever its first
//! records hold. Fields not listed are still found in the first batch (see `parse::flatten`).
//!
//! The `stats` fields are those the sandbox generates per type (email, meeting, call); the
//! vendor's schema article was not available, so a vendor field missing here is discovered like
//! any other.

pub const ACTIVITY_FIELDS: [&str; 22] = [
    "uid",
    "source_id",
    "type",
    "created",
    "subject",
    "direction",
    "timestamp",
    "ingest_timestamp",
    "start_time",
    "end_time",
    "duration",
    "stats.participants_count",
    "stats.internal_participants",
    "stats.external_participants",
    "stats.attachments_count",
    "stats.reply_count",
    "stats.words",
    "stats.accepted_count",
    "stats.is_recurring",
    "stats.talk_ratio",
    "stats.recorded",
    "campaigns",
];

pub const CRM_STATUS_FIELDS: [&str; 5] = [
    "crm_status.status",
    "crm_status.account_id",
    "crm_status.opportunity_id",
    "crm_status.synced",
    "crm_status.synced_at",
];

pub const PARTICIPANT_FIELDS: [&str; 9] = [
    "peopleai_id",
    "crm_id",
    "name",
    "title",
    "email",
    "role",
    "type",
    "team.name",
    "status",
];

/// The array of objects that can be exploded into one row per element.
pub const EXPLODABLE: [&str; 2] = ["participants", "campaigns"];

/// The known columns: `participants` as one JSON cell, or with `explode` set to an array, that
/// array's element fields as `participants.name` etc.
pub fn activity_columns(explode: Option<&str>) -> Vec<String> {
    let mut cols: Vec<String> = ACTIVITY_FIELDS.iter().map(|s| s.to_string()).collect();
    cols.extend(CRM_STATUS_FIELDS.iter().map(|s| s.to_string()));
    match explode {
        Some("participants") => cols.extend(
            PARTICIPANT_FIELDS
                .iter()
                .map(|f| format!("participants.{f}")),
        ),
        Some("campaigns") => {
            cols.retain(|c| c != "campaigns");
            cols.extend(["campaigns.id", "campaigns.name"].map(String::from));
            cols.push("participants".into());
        }
        _ => cols.push("participants".into()),
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_explode_choice() {
        let joined = activity_columns(None);
        assert_eq!(joined.first().map(String::as_str), Some("uid"));
        assert_eq!(joined.last().map(String::as_str), Some("participants"));
        let exploded = activity_columns(Some("participants"));
        assert!(exploded.contains(&"participants.team.name".to_string()));
        assert!(!exploded.contains(&"participants".to_string()));
        let mut uniq = exploded.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), exploded.len());
    }
}
