//! How often to read a job's status while it runs, for every API with export jobs (Backstory's
//! activity jobs, Userpilot's export jobs).

/// Time between status reads: starts short (a small job completes in seconds), grows by half each
/// read up to a cap, so a long job is not polled hundreds of times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollBackoff {
    pub initial_ms: f64,
    pub max_ms: f64,
    interval_ms: f64,
    next_at_ms: f64,
}

impl PollBackoff {
    pub const DEFAULT_INITIAL_MS: f64 = 1000.0;
    pub const DEFAULT_MAX_MS: f64 = 10_000.0;

    /// The first read is due `initial_ms` after `now_ms`.
    pub fn new(initial_ms: f64, max_ms: f64, now_ms: f64) -> Self {
        let initial_ms = initial_ms.max(1.0);
        let max_ms = max_ms.max(initial_ms);
        PollBackoff {
            initial_ms,
            max_ms,
            interval_ms: initial_ms,
            next_at_ms: now_ms + initial_ms,
        }
    }

    pub fn due_at(&self) -> f64 {
        self.next_at_ms
    }

    pub fn is_due(&self, now_ms: f64) -> bool {
        now_ms >= self.next_at_ms
    }

    /// A read happened at `now_ms`: the next one waits longer.
    pub fn read(&mut self, now_ms: f64) {
        self.interval_ms = (self.interval_ms * 1.5).min(self.max_ms);
        self.next_at_ms = now_ms + self.interval_ms;
    }

    /// The wait the next read will be followed by (grows with each `read`).
    pub fn interval(&self) -> f64 {
        self.interval_ms
    }

    /// The next read is due at once (a watch that starts from a status it has not read).
    pub fn due_now(&mut self) {
        self.next_at_ms = f64::MIN;
    }

    /// Something changed (the job started running): look again soon.
    pub fn reset(&mut self, now_ms: f64) {
        self.interval_ms = self.initial_ms;
        self.next_at_ms = now_ms + self.initial_ms;
    }
}
