//! Out-of-the-box slugs the client knows, for autocomplete, period hints and matching
//! display-label headers. Custom metrics are valid too: an unknown slug is never refused, only
//! reported if the API drops it. The list mirrors the slugs the vendor's documents and public use
//! name (and that the sandbox serves); periods list the variations a time-based metric offers.

/// The variations an activity count offers (one metric, a few of them without the last week).
const ACTIVITY_PERIODS: &[&str] = &[
    "last_7_days",
    "last_30_days",
    "last_90_days",
    "current_quarter",
    "last_quarter",
];

/// The same without the last week (a metric the vendor counts from a month up).
const MONTH_PERIODS: &[&str] = match ACTIVITY_PERIODS {
    [_, rest @ ..] => rest,
    [] => &[],
};

/// (object, slug, display label, periods; empty when the metric is not time-based)
#[rustfmt::skip]
pub const KNOWN_SLUGS: &[(&str, &str, &str, &[&str])] = &[
    ("account", "ootb_account_crm_id", "Account CRM ID", &[]),
    ("account", "ootb_account_name", "Account Name", &[]),
    ("account", "ootb_account_engagement_level", "Engagement Level", &[]),
    ("account", "ootb_account_owner", "Account Owner", &[]),
    ("account", "ootb_account_industry", "Industry", &[]),
    ("account", "ootb_account_country", "Billing Country", &[]),
    ("account", "ootb_account_annual_revenue", "Annual Revenue", &[]),
    ("account", "ootb_account_employee_count", "Employees", &[]),
    ("account", "ootb_account_created_date", "Created Date", &[]),
    ("account", "ootb_account_last_engaged_date", "Last Engaged Date", &[]),
    ("account", "ootb_account_description", "Description", &[]),
    ("account", "ootb_account_count_emails", "Emails", ACTIVITY_PERIODS),
    ("account", "ootb_account_count_meetings", "Meetings", ACTIVITY_PERIODS),
    ("account", "ootb_account_count_calls", "Calls", &["last_7_days", "last_30_days", "last_90_days"]),
    ("account", "ootb_account_engaged_people", "Engaged People", &["current_quarter", "last_quarter"]),
    ("opportunity", "ootb_opportunity_crm_id", "Opportunity CRM ID", &[]),
    ("opportunity", "ootb_opportunity_name", "Opportunity Name", &[]),
    ("opportunity", "ootb_opportunity_account", "Account", &[]),
    ("opportunity", "ootb_opportunity_owner", "Opportunity Owner", &[]),
    ("opportunity", "ootb_opportunity_amount", "Amount", &[]),
    ("opportunity", "ootb_opportunity_stage", "Stage", &[]),
    ("opportunity", "ootb_opportunity_type", "Opportunity Type", &[]),
    ("opportunity", "ootb_opportunity_probability", "Probability (%)", &[]),
    ("opportunity", "ootb_opportunity_engagement_level", "Engagement Level", &[]),
    ("opportunity", "ootb_opportunity_close_date", "Close Date", &[]),
    ("opportunity", "ootb_opportunity_created_date", "Created Date", &[]),
    ("opportunity", "ootb_opportunity_next_step", "Next Step", &[]),
    ("opportunity", "ootb_opportunity_count_emails", "Emails", ACTIVITY_PERIODS),
    ("opportunity", "ootb_opportunity_count_meetings", "Meetings", ACTIVITY_PERIODS),
    ("opportunity", "ootb_opportunity_people_engaged", "People Engaged", &["last_30_days", "last_90_days"]),
    ("user", "ootb_user", "User", &[]),
    ("user", "ootb_user_crm_id", "User CRM ID", &[]),
    ("user", "ootb_user_email", "Email", &[]),
    ("user", "ootb_user_title", "Title", &[]),
    ("user", "ootb_user_team", "Team", &[]),
    ("user", "ootb_user_manager", "Manager", &[]),
    ("user", "ootb_user_is_active", "Active", &[]),
    ("user", "ootb_user_created_date", "Created Date", &[]),
    ("user", "ootb_user_external_meetings_matched", "External Meetings", ACTIVITY_PERIODS),
    ("user", "ootb_user_count_emails_sent", "Emails Sent", ACTIVITY_PERIODS),
    ("user", "ootb_user_count_emails_received", "Emails Received", &["last_7_days", "last_30_days", "last_90_days"]),
    ("user", "ootb_user_count_calls", "Calls", ACTIVITY_PERIODS),
    ("user", "ootb_user_hours_in_meetings", "Hours in Meetings", MONTH_PERIODS),
    ("activity", "ootb_activity_id", "Activity ID", &[]),
    ("activity", "ootb_activity_type", "Activity Type", &[]),
    ("activity", "ootb_activity_subject", "Subject", &[]),
    ("activity", "ootb_activity_direction", "Direction", &[]),
    ("activity", "ootb_activity_timestamp", "Activity Date", &[]),
    ("activity", "ootb_activity_duration", "Duration (s)", &[]),
    ("activity", "ootb_activity_account", "Account", &[]),
    ("activity", "ootb_activity_user", "User", &[]),
];

pub fn label_of(slug: &str) -> Option<&'static str> {
    KNOWN_SLUGS
        .iter()
        .find(|(_, s, _, _)| *s == slug)
        .map(|(_, _, l, _)| *l)
}

pub fn for_object(
    object: &str,
) -> impl Iterator<
    Item = &'static (
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    ),
> + '_ {
    KNOWN_SLUGS.iter().filter(move |(o, _, _, _)| *o == object)
}
