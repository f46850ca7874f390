//! Out-of-the-box slugs the client knows, for autocomplete and for matching display-label headers.
//! Custom metrics are valid too: an unknown slug is never refused, only reported if dropped.

/// (object, slug, display label, time-based)
pub const KNOWN_SLUGS: &[(&str, &str, &str, bool)] = &[
    ("account", "ootb_account_crm_id", "Account CRM ID", false),
    ("account", "ootb_account_name", "Account Name", false),
    (
        "account",
        "ootb_account_engagement_level",
        "Engagement Level",
        false,
    ),
    ("account", "ootb_account_owner", "Account Owner", false),
    ("account", "ootb_account_industry", "Industry", false),
    (
        "account",
        "ootb_account_annual_revenue",
        "Annual Revenue",
        false,
    ),
    (
        "account",
        "ootb_account_last_activity_date",
        "Last Activity Date",
        false,
    ),
    (
        "account",
        "ootb_account_external_meetings",
        "External Meetings",
        true,
    ),
    ("account", "ootb_account_emails_sent", "Emails Sent", true),
    (
        "opportunity",
        "ootb_opportunity_crm_id",
        "Opportunity CRM ID",
        false,
    ),
    (
        "opportunity",
        "ootb_opportunity_name",
        "Opportunity Name",
        false,
    ),
    ("opportunity", "ootb_opportunity_amount", "Amount", false),
    ("opportunity", "ootb_opportunity_stage", "Stage", false),
    (
        "opportunity",
        "ootb_opportunity_close_date",
        "Close Date",
        false,
    ),
    (
        "opportunity",
        "ootb_opportunity_owner",
        "Opportunity Owner",
        false,
    ),
    (
        "opportunity",
        "ootb_opportunity_engagement_level",
        "Engagement Level",
        false,
    ),
    (
        "opportunity",
        "ootb_opportunity_external_meetings",
        "External Meetings",
        true,
    ),
    ("user", "ootb_user", "User", false),
    ("user", "ootb_user_email", "User Email", false),
    ("user", "ootb_user_title", "Title", false),
    ("user", "ootb_user_team", "Team", false),
    (
        "user",
        "ootb_user_external_meetings_matched",
        "External Meetings Matched",
        true,
    ),
    ("user", "ootb_user_count_emails_sent", "Emails Sent", true),
    ("user", "ootb_user_count_calls", "Calls", true),
    ("activity", "ootb_activity_id", "Activity ID", false),
    ("activity", "ootb_activity_type", "Activity Type", false),
    ("activity", "ootb_activity_subject", "Subject", false),
    ("activity", "ootb_activity_timestamp", "Timestamp", false),
];

pub fn label_of(slug: &str) -> Option<&'static str> {
    KNOWN_SLUGS
        .iter()
        .find(|(_, s, _, _)| *s == slug)
        .map(|(_, _, l, _)| *l)
}

pub fn for_object(
    object: &str,
) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str, bool)> + '_ {
    KNOWN_SLUGS.iter().filter(move |(o, _, _, _)| *o == object)
}
