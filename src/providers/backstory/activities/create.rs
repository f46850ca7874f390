//! Creating a job without ever making two: `POST /jobs` is not idempotent, so a create whose
//! outcome is unknown (a 5xx, a dropped connection, an answer that is not a job) is followed by
//! a read of the job list, and a job with these parameters created since the attempt is adopted.
//! Only when there is none is the create sent again, after a backoff and within its budget.
//!
//! Sans-IO like every machine in this crate: [`CreateJob::poll`] says what to send or how long
//! to wait, `handle_created` and `handle_listed` take the answers, time is passed in.

use super::{list_request, Job, JobParams};
use crate::core::policy::{classify, Stage, Verdict};
use crate::core::retry::Backoff;
use crate::core::Step;
use crate::error::{Error, Result};

/// How far behind ours the vendor's clock may run when a job whose create answer was lost is
/// looked for in the job list. An identical job someone made this shortly before is adopted too:
/// its data is the same range, at most this much older.
pub const CREATE_CLOCK_SLACK_MS: f64 = 120_000.0;

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Send the create at or after this time.
    Create {
        at_ms: f64,
    },
    Creating {
        sent_ms: f64,
    },
    /// Send the list read: the create sent at `sent_ms` failed with `err`.
    List {
        sent_ms: f64,
        err: Error,
    },
    Listing {
        sent_ms: f64,
        err: Error,
    },
    Done(Job),
    Failed(Error),
}

#[derive(Debug, Clone)]
pub struct CreateJob {
    params: JobParams,
    base_url: String,
    backoff: Backoff,
    phase: Phase,
}

impl CreateJob {
    pub fn new(base_url: &str, params: JobParams, backoff: Backoff) -> Self {
        CreateJob {
            params,
            base_url: base_url.to_string(),
            backoff,
            phase: Phase::Create { at_ms: 0.0 },
        }
    }

    /// `Send` a create or a list read, `Wait` out a backoff, or `Done` with the job.
    pub fn poll(&mut self, now_ms: f64) -> Result<Step<Job>> {
        match &self.phase {
            Phase::Done(job) => Ok(Step::Done(job.clone())),
            Phase::Failed(e) => Err(e.clone()),
            Phase::Create { at_ms } if *at_ms > now_ms => Ok(Step::Wait { until_ms: *at_ms }),
            Phase::Create { .. } => {
                self.phase = Phase::Creating { sent_ms: now_ms };
                Ok(Step::Send(self.params.create_request(&self.base_url)))
            }
            Phase::List { sent_ms, err } => {
                self.phase = Phase::Listing {
                    sent_ms: *sent_ms,
                    err: err.clone(),
                };
                Ok(Step::Send(list_request(&self.base_url)))
            }
            Phase::Creating { .. } | Phase::Listing { .. } => Err(Error::invalid(
                "poll",
                "an answer is awaited: hand it to handle_created or handle_listed",
            )),
        }
    }

    /// The create's answer (a job, or why there is none).
    pub fn handle_created(&mut self, answer: Result<Job>) {
        let Phase::Creating { sent_ms } = self.phase else {
            return;
        };
        self.phase = match answer {
            Ok(job) => Phase::Done(job),
            Err(err) => match classify(&err, Stage::Create, &mut self.backoff) {
                Verdict::Adopt => Phase::List { sent_ms, err },
                Verdict::Fail(e) => Phase::Failed(e),
                _ => Phase::Failed(err),
            },
        };
    }

    /// The job list read after a create with an unknown outcome.
    pub fn handle_listed(&mut self, answer: Result<Vec<Job>>, now_ms: f64) {
        let Phase::Listing { sent_ms, err } =
            std::mem::replace(&mut self.phase, Phase::Create { at_ms: 0.0 })
        else {
            return;
        };
        // A list that fails too leaves the outcome unknown: an error beats a second job.
        let Ok(jobs) = answer else {
            self.phase = Phase::Failed(err);
            return;
        };
        let since = sent_ms - CREATE_CLOCK_SLACK_MS;
        if let Some(job) = jobs
            .into_iter()
            .find(|j| j.matches_request(&self.params, since))
        {
            self.phase = Phase::Done(job);
            return;
        }
        self.phase = match classify(&err, Stage::Request { idempotent: true }, &mut self.backoff) {
            Verdict::Retry { delay_ms } => Phase::Create {
                at_ms: now_ms + delay_ms as f64,
            },
            _ => Phase::Failed(err),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::retry::RetryPolicy;
    use crate::core::time::parse_date;
    use crate::providers::backstory::activities::{ActivityType, ExportType};

    const BASE: &str = "https://api.example";
    /// 2024-01-20T10:00:00Z
    const NOW: f64 = 1_705_744_800_000.0;

    fn params() -> JobParams {
        JobParams {
            start_day: parse_date("2024-01-01").unwrap(),
            end_day: parse_date("2024-01-14").unwrap(),
            activity_type: ActivityType::All,
            export_type: ExportType::Delta,
        }
    }

    fn job(id: &str, created: &str) -> Job {
        Job::from_json(format!(r#"{{"job_id":"{id}","state":"Queued","export_type":"delta","output_format":"JSONLines","activity_type":"all","start_date":"2024-01-01","end_date":"2024-01-14","job_created_time":"{created}","job_start_time":null,"job_end_time":null,"results_size":null,"fragment":null}}"#).as_bytes()).unwrap()
    }

    fn machine(retries: u32) -> CreateJob {
        let policy = RetryPolicy {
            max_retries: retries,
            ..RetryPolicy::default()
        };
        CreateJob::new(BASE, params(), Backoff::new(policy, 5))
    }

    fn sends(m: &mut CreateJob, now: f64) -> String {
        match m.poll(now).unwrap() {
            Step::Send(r) => format!("{} {}", r.method.as_str(), r.url),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn a_created_job_is_the_result() {
        let mut m = machine(4);
        assert!(sends(&mut m, NOW).starts_with("POST "));
        m.handle_created(Ok(job("j1", "2024-01-20T10:00:00Z")));
        assert!(matches!(m.poll(NOW), Ok(Step::Done(j)) if j.job_id == "j1"));
    }

    #[test]
    fn a_lost_answer_is_looked_for_in_the_list_and_adopted() {
        let mut m = machine(4);
        sends(&mut m, NOW);
        m.handle_created(Err(Error::from_status(502, b"", None)));
        assert!(
            sends(&mut m, NOW + 50.0).starts_with("GET "),
            "the list, not a second create"
        );
        // The vendor's clock runs a minute behind ours: still the job we made.
        let made = job("mine", "2024-01-20T09:59:00Z");
        m.handle_listed(
            Ok(vec![job("old", "2024-01-19T10:00:00Z"), made]),
            NOW + 60.0,
        );
        assert!(matches!(m.poll(NOW + 60.0), Ok(Step::Done(j)) if j.job_id == "mine"));
    }

    #[test]
    fn without_a_match_the_create_is_sent_again_after_a_backoff() {
        let mut m = machine(4);
        sends(&mut m, NOW);
        m.handle_created(Err(Error::network("connection reset")));
        sends(&mut m, NOW);
        m.handle_listed(Ok(vec![job("old", "2024-01-19T10:00:00Z")]), NOW + 10.0);
        let until = match m.poll(NOW + 10.0).unwrap() {
            Step::Wait { until_ms } => until_ms,
            Step::Send(_) => NOW + 10.0,
            other => panic!("{other:?}"),
        };
        assert!(until >= NOW + 10.0);
        assert!(sends(&mut m, until).starts_with("POST "));
    }

    #[test]
    fn a_refusal_fails_at_once_and_a_failed_list_keeps_the_create_error() {
        let mut m = machine(4);
        sends(&mut m, NOW);
        m.handle_created(Err(Error::from_status(429, b"", Some(1000))));
        assert_eq!(m.poll(NOW).map_err(|e| e.status()), Err(Some(429)));
        let mut m = machine(4);
        sends(&mut m, NOW);
        m.handle_created(Err(Error::from_status(503, b"", None)));
        sends(&mut m, NOW);
        m.handle_listed(Err(Error::network("list failed too")), NOW);
        assert_eq!(m.poll(NOW).map_err(|e| e.status()), Err(Some(503)));
    }

    #[test]
    fn the_budget_bounds_the_creates() {
        let mut m = machine(1);
        let mut creates = 0;
        let mut now = NOW;
        let err = loop {
            match m.poll(now) {
                Ok(Step::Send(r)) if r.method.as_str() == "POST" => {
                    creates += 1;
                    m.handle_created(Err(Error::from_status(500, b"", None)));
                }
                Ok(Step::Send(_)) => m.handle_listed(Ok(vec![]), now),
                Ok(Step::Wait { until_ms }) => now = until_ms,
                Ok(Step::Done(j)) => panic!("{j:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!((creates, err.status()), (2, Some(500)));
    }
}
