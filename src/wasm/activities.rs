//! `client.activities` (issue 3).
