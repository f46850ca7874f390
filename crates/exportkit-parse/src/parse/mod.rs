//! Push parsers fed chunk by chunk. Memory is bounded by the chunk and batch size.

pub mod csv;
pub mod csv_write;
pub mod flatten;
pub mod gzip;
pub(crate) mod json_lex;
pub mod jsonl;
pub mod scan;
