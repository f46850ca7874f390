//! One module per vendor API: endpoints, models and validation of every parameter.

pub mod backstory;
pub mod userpilot;

use crate::error::{Error, Result};

/// A vendor's id that goes into a URL path as one segment (a job id): letters, digits, `-`, `_`
/// and `.`, 1 to `max` bytes, not starting with `.` (so never `.` or `..`). Anything else is
/// refused rather than escaped, so a typo cannot address another resource.
pub fn check_path_id(field: &str, id: &str, max: usize) -> Result<()> {
    let ok = (1..=max).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be a job id: 1 to {max} letters, digits, '-', '_' or '.', not starting with '.'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_path_id;

    #[test]
    fn a_path_id_is_one_plain_segment() {
        for ok in ["a", "job-0", "3f2a_9.c", &"x".repeat(128)] {
            assert!(check_path_id("jobId", ok, 128).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".x",
            "a/b",
            "a?b",
            "a%2e",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            let e = check_path_id("jobId", bad, 128).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_ARGUMENT", "{bad}");
            assert!(e.to_string().contains("jobId"), "{e}");
        }
    }
}
