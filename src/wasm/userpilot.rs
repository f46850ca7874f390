//! `UserpilotClient` (issue 5).
