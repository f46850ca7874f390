//! Userpilot Bulk Data Export API (issue 5): export jobs, presigned files.
