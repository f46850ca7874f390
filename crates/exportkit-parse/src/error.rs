//! The parsers' error: bad data (with its line and column) or a bad parser option. Nothing
//! here knows of HTTP, networks or jobs: the client crate's error (exportkit's `src/error.rs`)
//! holds those kinds, and a parser error converts into it with `?`, keeping its code and message.
//!
//! Boxed so that `Result<T, Error>` stays one pointer wide on the hot parsing paths.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A parser option we can tell is wrong before reading a byte.
    InvalidArgument { field: String, reason: String },
    /// Data we could not read, with its position (1-based line, 1-based column or 0 if unknown).
    Decode {
        line: u64,
        column: u64,
        reason: String,
    },
}

#[derive(Clone, PartialEq)]
pub struct Error(Box<ErrorKind>);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        })
    }

    pub fn decode(line: u64, column: u64, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode {
            line,
            column,
            reason: reason.into(),
        })
    }

    /// The same code the client reports for this kind.
    pub fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::InvalidArgument { .. } => "E_INVALID_ARGUMENT",
            ErrorKind::Decode { .. } => "E_DECODE",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::InvalidArgument { field, .. } => Some(field),
            ErrorKind::Decode { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ErrorKind::InvalidArgument { field, reason } => {
                write!(f, "invalid `{field}`: {reason}")
            }
            // Line 0: the data has no lines at that layer (a gzip stream), the reason says where.
            ErrorKind::Decode {
                line: 0,
                column: 0,
                reason,
            } => write!(f, "{reason}"),
            ErrorKind::Decode {
                line,
                column: 0,
                reason,
            } => write!(f, "line {line}: {reason}"),
            ErrorKind::Decode {
                line,
                column,
                reason,
            } => write!(f, "line {line}, column {column}: {reason}"),
        }
    }
}

// One rendering for Display and Debug, as in the client's error.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.code(), self)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let e = Error::decode(3, 0, "unterminated quote");
        assert_eq!(e.code(), "E_DECODE");
        assert_eq!(e.to_string(), "line 3: unterminated quote");
        assert_eq!(
            Error::decode(0, 0, "gzip: bad header").to_string(),
            "gzip: bad header"
        );
        assert_eq!(
            Error::decode(2, 5, "bad").to_string(),
            "line 2, column 5: bad"
        );
        let e = Error::invalid("delimiter", "must be one byte");
        assert_eq!(e.field(), Some("delimiter"));
        assert_eq!(
            format!("{e:?}"),
            "Error(E_INVALID_ARGUMENT: invalid `delimiter`: must be one byte)"
        );
    }
}
