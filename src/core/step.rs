use super::http::HttpRequest;

/// What a state machine wants next. The driver is the only loop: it performs `Send`, sleeps for
/// `Wait`, and stops at `Done`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<T> {
    Send(HttpRequest),
    Wait { until_ms: f64 },
    Done(T),
}
