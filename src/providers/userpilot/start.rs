//! Starting an export while another may hold the vendor's one-job lock. A 409 is followed by a
//! read of the jobs list to name the running job; without `wait_for_running` that is the
//! `Conflict` error, with it the running job is waited for (its failure frees the lock just as
//! well) and the create is sent again, a few times at most: someone else may start a job in the
//! moment between theirs ending and ours being sent. When the list cannot tell which job runs,
//! the create is retried on a growing schedule.
//!
//! Sans-IO: [`StartJob::poll`] says what to do, `handle_*` take the answers, time is passed in.

use super::exports::{error_from_response, running_job, Created, ExportParams, Job, PollSchedule};
use crate::core::http::{HttpRequest, HttpResponse};
use crate::error::{Error, ErrorKind, Result};

/// Attempts at creating the job when the caller waits out other jobs.
pub const START_ATTEMPTS: u32 = 4;

/// What the driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Send the create; its answer goes to [`StartJob::handle_created`].
    Create(HttpRequest),
    /// Read the jobs list (after a 409); to [`StartJob::handle_listed`].
    List(HttpRequest),
    /// Tell the caller a job holds the lock (named when the list could tell) and that it is
    /// waited for. Nothing to send.
    Conflicted {
        running: Option<String>,
    },
    /// Wait for this job to end (its status reads are a run of their own) within `timeout_ms`;
    /// the outcome to [`StartJob::handle_waited`].
    WaitFor {
        job_id: String,
        timeout_ms: Option<f64>,
    },
    Wait {
        until_ms: f64,
    },
    Done(Created),
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Create,
    Creating,
    List,
    Listing,
    Conflicted(Option<String>),
    /// After announcing: wait for the named job, or (unnamed) for the schedule.
    Blocked(Option<String>),
    Waiting,
    Sleeping(f64),
    Done(Created),
    Failed(Error),
}

#[derive(Debug, Clone)]
pub struct StartJob {
    create: HttpRequest,
    list: HttpRequest,
    wait_for_running: bool,
    deadline_ms: Option<f64>,
    /// The create's retry schedule when the list cannot name the running job.
    unknown: PollSchedule,
    attempt: u32,
    phase: Phase,
}

impl StartJob {
    /// `poll_initial_ms`/`poll_max_ms`: the schedule for an unnamed lock holder.
    pub fn new(
        base_url: &str,
        params: &ExportParams,
        wait_for_running: bool,
        poll_initial_ms: f64,
        poll_max_ms: f64,
        deadline_ms: Option<f64>,
    ) -> Self {
        StartJob {
            create: params.create_request(base_url),
            list: super::exports::list_request(base_url),
            wait_for_running,
            deadline_ms,
            unknown: PollSchedule::new(poll_initial_ms, poll_max_ms, deadline_ms),
            attempt: 0,
            phase: Phase::Create,
        }
    }

    pub fn poll(&mut self, now_ms: f64) -> Result<Start> {
        let phase = std::mem::replace(&mut self.phase, Phase::Waiting);
        let (next, step) = match phase {
            Phase::Done(c) => (Phase::Done(c.clone()), Start::Done(c)),
            Phase::Failed(e) => {
                self.phase = Phase::Failed(e.clone());
                return Err(e);
            }
            Phase::Create => {
                self.attempt += 1;
                (Phase::Creating, Start::Create(self.create.clone()))
            }
            Phase::List => (Phase::Listing, Start::List(self.list.clone())),
            Phase::Conflicted(running) => (
                Phase::Blocked(running.clone()),
                Start::Conflicted { running },
            ),
            Phase::Blocked(Some(job_id)) => (
                Phase::Waiting,
                Start::WaitFor {
                    job_id,
                    timeout_ms: self.deadline_ms.map(|d| (d - now_ms).max(0.0)),
                },
            ),
            Phase::Blocked(None) => match self.unknown.next_delay(now_ms) {
                Ok(d) => (
                    Phase::Sleeping(now_ms + d),
                    Start::Wait {
                        until_ms: now_ms + d,
                    },
                ),
                Err(e) => {
                    self.phase = Phase::Failed(e.clone());
                    return Err(e);
                }
            },
            Phase::Sleeping(until) if now_ms < until => {
                (Phase::Sleeping(until), Start::Wait { until_ms: until })
            }
            Phase::Sleeping(_) => {
                self.attempt += 1;
                (Phase::Creating, Start::Create(self.create.clone()))
            }
            p @ (Phase::Creating | Phase::Listing | Phase::Waiting) => {
                self.phase = p;
                return Err(Error::invalid(
                    "poll",
                    "an answer is awaited: hand it to the matching handle_* first",
                ));
            }
        };
        self.phase = next;
        Ok(step)
    }

    /// The create's answer. `retry_after_ms`: what its `Retry-After` said, read by the caller.
    pub fn handle_created(&mut self, resp: &HttpResponse, retry_after_ms: Option<u64>) {
        if self.phase != Phase::Creating {
            return;
        }
        self.phase = if resp.is_success() {
            match Created::parse(&resp.body) {
                Ok(c) => Phase::Done(c),
                Err(e) => Phase::Failed(e),
            }
        } else if resp.status == 409 {
            // Which job holds the lock: worth one more call.
            Phase::List
        } else {
            Phase::Failed(error_from_response(resp, retry_after_ms))
        };
    }

    /// The jobs list read after a 409: its failure must not hide the 409.
    pub fn handle_listed(&mut self, jobs: Result<Vec<Job>>) {
        if self.phase != Phase::Listing {
            return;
        }
        let running = jobs
            .ok()
            .and_then(|jobs| running_job(&jobs).map(|j| j.job_id.clone()));
        self.phase = if !self.wait_for_running || self.attempt >= START_ATTEMPTS {
            Phase::Failed(Error::new(ErrorKind::Conflict {
                running_job_id: running,
            }))
        } else {
            Phase::Conflicted(running)
        };
    }

    /// The running job's wait ended: completed, or failed (which frees the lock as well).
    pub fn handle_waited(&mut self, outcome: Result<()>) {
        if self.phase != Phase::Waiting {
            return;
        }
        self.phase = match outcome {
            Ok(()) => Phase::Create,
            Err(e) if matches!(e.kind(), ErrorKind::JobFailed { .. }) => Phase::Create,
            Err(e) => Phase::Failed(e),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::userpilot::exports::Format;

    fn params() -> ExportParams {
        ExportParams {
            from: "2024-05-06".into(),
            to: "2024-05-19".into(),
            emails: vec![],
            event_type: vec![],
            user_id: vec![],
            company_id: vec![],
            segment_id: None,
            format: Format::Json,
            exclusions: false,
        }
    }

    fn answer(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    fn running(id: &str) -> Vec<Job> {
        Job::parse_list(
            format!(
                r#"[{{"job_id":"{id}","status":"in_progress","progress":"1 out of 6 partitions"}}]"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn start(wait: bool) -> StartJob {
        StartJob::new("https://up.example", &params(), wait, 100.0, 1_000.0, None)
    }

    /// Sends the create and answers 409, then lists with `jobs`.
    fn conflict(s: &mut StartJob, now: f64, jobs: Result<Vec<Job>>) {
        assert!(matches!(s.poll(now), Ok(Start::Create(_))));
        s.handle_created(&answer(409, r#"{"error":"a job is running"}"#), None);
        assert!(matches!(s.poll(now), Ok(Start::List(_))));
        s.handle_listed(jobs);
    }

    #[test]
    fn a_created_job_is_the_result() {
        let mut s = start(false);
        assert!(matches!(s.poll(0.0), Ok(Start::Create(_))));
        s.handle_created(&answer(201, r#"{"job_id":"new"}"#), None);
        assert!(matches!(s.poll(0.0), Ok(Start::Done(c)) if c.job_id == "new"));
    }

    #[test]
    fn a_409_names_the_running_job_or_fails_without_a_name_when_the_list_fails() {
        let mut s = start(false);
        conflict(&mut s, 0.0, Ok(running("other")));
        let e = s.poll(0.0).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::Conflict {
                running_job_id: Some("other".into())
            }
        );
        let mut s = start(false);
        conflict(&mut s, 0.0, Err(Error::network("list failed")));
        assert_eq!(
            s.poll(0.0).unwrap_err().kind(),
            &ErrorKind::Conflict {
                running_job_id: None
            },
            "the list's failure does not hide the 409"
        );
    }

    #[test]
    fn waiting_for_the_running_job_then_starting_again_a_few_times_at_most() {
        let mut s = start(true);
        for attempt in 1..START_ATTEMPTS {
            conflict(&mut s, 0.0, Ok(running("other")));
            assert_eq!(
                s.poll(0.0).unwrap(),
                Start::Conflicted {
                    running: Some("other".into())
                }
            );
            assert!(
                matches!(s.poll(0.0), Ok(Start::WaitFor { ref job_id, .. }) if job_id == "other")
            );
            // The other job failing frees the lock as well as its completing.
            s.handle_waited(if attempt % 2 == 0 {
                Ok(())
            } else {
                Err(Error::new(ErrorKind::JobFailed {
                    job_id: "other".into(),
                    state: "failed".into(),
                }))
            });
        }
        conflict(&mut s, 0.0, Ok(running("other")));
        assert_eq!(s.poll(0.0).unwrap_err().code(), "E_CONFLICT");
    }

    #[test]
    fn an_unnamed_lock_holder_is_waited_out_on_a_schedule_up_to_the_deadline() {
        let mut s = StartJob::new(
            "https://up.example",
            &params(),
            true,
            100.0,
            1_000.0,
            Some(150.0),
        );
        conflict(&mut s, 0.0, Ok(vec![]));
        assert_eq!(s.poll(0.0).unwrap(), Start::Conflicted { running: None });
        let until = match s.poll(0.0).unwrap() {
            Start::Wait { until_ms } => until_ms,
            other => panic!("{other:?}"),
        };
        assert!(until > 0.0 && until <= 150.0, "{until}");
        assert!(matches!(s.poll(until - 1.0), Ok(Start::Wait { .. })));
        conflict(&mut s, until, Ok(vec![]));
        s.poll(until).unwrap();
        assert_eq!(s.poll(200.0).unwrap_err().code(), "E_TIMEOUT");
    }

    #[test]
    fn another_refusal_is_the_error_and_a_wait_that_times_out_ends_the_start() {
        let mut s = start(true);
        s.poll(0.0).unwrap();
        s.handle_created(&answer(429, "{}"), Some(2_000));
        assert_eq!(s.poll(0.0).unwrap_err().retry_after_ms(), Some(2_000));
        let mut s = start(true);
        conflict(&mut s, 0.0, Ok(running("other")));
        s.poll(0.0).unwrap();
        s.poll(0.0).unwrap();
        s.handle_waited(Err(Error::new(ErrorKind::Timeout)));
        assert_eq!(s.poll(0.0).unwrap_err().code(), "E_TIMEOUT");
    }
}
