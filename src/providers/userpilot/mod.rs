//! Userpilot (appex.userpilot.io): the Bulk Data Export API (jobs, presigned gzip files) and the
//! twelve Lookups (two of them with cursor pages). Authorisation is `Authorization: Token KEY`.

pub mod exports;
pub mod lookups;
pub mod start;
