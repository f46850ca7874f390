//! Backstory Raw Activity Data API (issue 3): endpoints, models, validation.
