//! Userpilot Lookups API (issue 5): twelve endpoints, cursor pagination.
