//! Backstory Forecasting Query API (issue 4): endpoints, models, validation.
