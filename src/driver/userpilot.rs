//! The Userpilot runs (issue 5): export jobs, presigned files, lookups.
