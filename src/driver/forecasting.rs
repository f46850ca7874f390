//! The Forecasting Query run (issue 4): pages followed through the headers.
