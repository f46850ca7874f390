//! Streaming gzip inflate (issue 5).
