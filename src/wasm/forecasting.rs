//! `client.forecasts` (issue 4).
