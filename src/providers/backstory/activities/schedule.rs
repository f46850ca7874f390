//! The scheduler: runs the jobs of a planned export within the vendor's limits (at most 10 jobs
//! queued, running ones included; the vendor itself runs 2 at a time), polls each with its own
//! backoff, and hands out completed jobs for download strictly in window order, so rows arrive in
//! date order. Sans-IO: `next(now)` says what to do, the driver reports back what happened.

use super::{Job, JobParams, JobState, PollBackoff, MAX_QUEUED};
use crate::core::policy::{classify, Stage, Verdict};
use crate::core::retry::{Backoff, RetryPolicy};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Send the create request for window `w`.
    Create(usize),
    /// Read the status of window `w`'s job.
    Poll(usize),
    /// Window `w`'s job is Completed and next in order: download it, then call `downloaded`.
    Download(usize),
    /// Nothing to do before `until_ms`: never later than the deadline, nor than `poll_max_ms`
    /// from now (a refused create or a job of someone else's may clear sooner).
    Wait {
        until_ms: f64,
    },
    /// The deadline passed while waiting.
    TimedOut,
    Done,
}

#[derive(Debug, Clone)]
struct Slot {
    job: Job,
    backoff: PollBackoff,
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    windows: Vec<JobParams>,
    slots: Vec<Option<Slot>>,
    next_create: usize,
    head: usize,
    max_active: usize,
    poll_initial_ms: f64,
    poll_max_ms: f64,
    create_after_ms: f64,
    refusals: u32,
    deadline_ms: Option<f64>,
}

impl Scheduler {
    /// `max_active` is capped at the vendor's 10; a caller sharing the account with other
    /// exporters can ask for fewer.
    pub fn new(
        windows: Vec<JobParams>,
        max_active: usize,
        poll_initial_ms: f64,
        poll_max_ms: f64,
    ) -> Self {
        let n = windows.len();
        Scheduler {
            windows,
            slots: vec![None; n],
            next_create: 0,
            head: 0,
            max_active: max_active.clamp(1, MAX_QUEUED),
            poll_initial_ms,
            poll_max_ms,
            create_after_ms: f64::MIN,
            deadline_ms: None,
            refusals: 0,
        }
    }

    /// Waiting ends with [`Action::TimedOut`] at `deadline_ms`.
    pub fn with_deadline(mut self, deadline_ms: Option<f64>) -> Self {
        self.deadline_ms = deadline_ms;
        self
    }

    pub fn windows(&self) -> &[JobParams] {
        &self.windows
    }

    pub fn window(&self, w: usize) -> Option<&JobParams> {
        self.windows.get(w)
    }

    pub fn job(&self, w: usize) -> Option<&Job> {
        self.slots.get(w).and_then(|s| s.as_ref()).map(|s| &s.job)
    }

    /// Our jobs still Queued or Running.
    pub fn active(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.job.state.is_active())
            .count()
    }

    pub fn running(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.job.state == JobState::Running)
            .count()
    }

    /// Windows downloaded so far.
    pub fn done(&self) -> usize {
        self.head
    }

    pub fn poll(&self, now_ms: f64) -> Action {
        if self.head >= self.windows.len() {
            return Action::Done;
        }
        if self
            .job(self.head)
            .is_some_and(|j| j.state == JobState::Completed)
        {
            return Action::Download(self.head);
        }
        let can_create = self.next_create < self.windows.len() && self.active() < self.max_active;
        if can_create && now_ms >= self.create_after_ms {
            return Action::Create(self.next_create);
        }
        let due = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(w, s)| s.as_ref().map(|s| (w, s)))
            .filter(|(_, s)| s.job.state.is_active())
            .min_by(|a, b| a.1.backoff.due_at().total_cmp(&b.1.backoff.due_at()));
        if let Some((w, s)) = due {
            if s.backoff.is_due(now_ms) {
                return Action::Poll(w);
            }
        }
        let mut until = due.map(|(_, s)| s.backoff.due_at()).unwrap_or(f64::MAX);
        if can_create {
            until = until.min(self.create_after_ms);
        }
        if let Some(d) = self.deadline_ms {
            if now_ms >= d {
                return Action::TimedOut;
            }
            until = until.min(d);
        }
        Action::Wait {
            until_ms: until.min(now_ms + self.poll_max_ms),
        }
    }

    /// The create request for window `w` was answered with `job`.
    pub fn handle_created(&mut self, w: usize, job: Job, now_ms: f64) -> Result<()> {
        job.check_not_failed()?;
        if let Some(slot) = self.slots.get_mut(w) {
            *slot = Some(Slot {
                job,
                backoff: PollBackoff::new(self.poll_initial_ms, self.poll_max_ms, now_ms),
            });
        }
        self.next_create = self.next_create.max(w + 1);
        self.refusals = 0;
        Ok(())
    }

    /// The vendor refused a new job (its queue is full, e.g. with other callers' jobs): try again
    /// after `retry_after_ms`, or after a growing wait.
    pub fn handle_refused(&mut self, now_ms: f64, retry_after_ms: Option<u64>) {
        let grow = self.poll_initial_ms * 2f64.powi(self.refusals.min(16) as i32);
        let wait = retry_after_ms
            .map(|ms| ms as f64)
            .unwrap_or(grow.min(self.poll_max_ms));
        self.create_after_ms = now_ms + wait.max(1.0);
        self.refusals += 1;
    }

    /// A create failed (after its own adopt-or-ask-again rules). A full vendor queue is waited
    /// out while the failure policy allows (core/policy.rs `Stage::QueueFull`); anything else
    /// is the run's error.
    pub fn handle_create_failed(&mut self, err: Error, now_ms: f64) -> Result<()> {
        let stage = Stage::QueueFull {
            refusals: self.refusals,
            active: self.active(),
        };
        let mut no_budget = Backoff::new(RetryPolicy::none(), 0);
        match classify(&err, stage, &mut no_budget) {
            Verdict::Retry { .. } => {
                self.handle_refused(now_ms, err.retry_after_ms());
                Ok(())
            }
            _ => Err(err),
        }
    }

    /// How many refusals in a row (the driver gives up past its budget).
    pub fn refusals(&self) -> u32 {
        self.refusals
    }

    /// A status read of window `w`'s job. Failed or Canceled is an error naming the job.
    pub fn handle_polled(&mut self, w: usize, job: Job, now_ms: f64) -> Result<bool> {
        job.check_not_failed()?;
        let Some(Some(slot)) = self.slots.get_mut(w) else {
            return Ok(false);
        };
        let changed = slot.job.state != job.state;
        if changed && job.state == JobState::Running {
            slot.backoff.reset(now_ms);
        } else {
            slot.backoff.read(now_ms);
        }
        slot.job = job;
        Ok(changed)
    }

    /// Window `w` has been downloaded.
    pub fn handle_downloaded(&mut self, w: usize) {
        if w == self.head {
            self.head += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::parse_date;
    use crate::providers::backstory::activities::{
        plan_windows, ActivityType, ExportRequest, ExportType,
    };

    fn windows(n: i64) -> Vec<JobParams> {
        let start = parse_date("2024-01-01").unwrap();
        plan_windows(&ExportRequest {
            start_day: start,
            end_day: start + n * 14 - 1,
            activity_type: ActivityType::All,
            export_type: ExportType::Delta,
            window_days: 14,
        })
    }

    fn job(id: usize, state: &str, fragments: Option<u32>) -> Job {
        Job::from_value(
            &serde_json::json!({"job_id": format!("j{id}"), "state": state, "fragment": fragments}),
        )
        .unwrap()
    }

    /// A simulated vendor: runs 2 jobs at a time in creation order, each taking `work` ms, and
    /// refuses an 11th queued job. Returns the order of downloads and the peak counts it saw.
    fn simulate(n: i64, max_active: usize, other_jobs: usize) -> (Vec<usize>, usize, usize, u32) {
        let mut s = Scheduler::new(windows(n), max_active, 100.0, 1000.0);
        let work = 700.0;
        // Per job: (created_at, started_at, ended_at).
        let mut vendor: Vec<(f64, Option<f64>, Option<f64>)> = Vec::new();
        let mut others = other_jobs;
        let mut now = 0.0;
        let mut order = Vec::new();
        let (mut peak_active, mut peak_running, mut refused) = (0, 0, 0);
        let state_of =
            |v: &Vec<(f64, Option<f64>, Option<f64>)>, i: usize, now: f64| -> &'static str {
                match v[i] {
                    (_, _, Some(e)) if e <= now => "Completed",
                    (_, Some(st), _) if st <= now => "Running",
                    _ => "Queued",
                }
            };
        for _ in 0..100_000 {
            // The vendor starts queued jobs in order while fewer than 2 run.
            loop {
                let running = (0..vendor.len())
                    .filter(|&i| state_of(&vendor, i, now) == "Running")
                    .count();
                let next = (0..vendor.len()).find(|&i| vendor[i].1.is_none());
                match next {
                    Some(i) if running < 2 => {
                        vendor[i].1 = Some(now);
                        vendor[i].2 = Some(now + work);
                    }
                    _ => break,
                }
            }
            let active = (0..vendor.len())
                .filter(|&i| state_of(&vendor, i, now) != "Completed")
                .count();
            peak_active = peak_active.max(active + others);
            peak_running = peak_running.max(
                (0..vendor.len())
                    .filter(|&i| state_of(&vendor, i, now) == "Running")
                    .count(),
            );
            match s.poll(now) {
                Action::Done => return (order, peak_active, peak_running, refused),
                Action::Create(w) => {
                    if active + others >= MAX_QUEUED {
                        refused += 1;
                        s.handle_refused(now, None);
                        // The other caller's jobs finish eventually.
                        others = others.saturating_sub(1);
                    } else {
                        assert_eq!(w, vendor.len(), "windows are created in order");
                        vendor.push((now, None, None));
                        s.handle_created(w, job(w, "Queued", None), now).unwrap();
                    }
                }
                Action::Poll(w) => {
                    let st = state_of(&vendor, w, now);
                    s.handle_polled(w, job(w, st, Some(2)), now).unwrap();
                }
                Action::Download(w) => {
                    order.push(w);
                    now += 50.0;
                    s.handle_downloaded(w);
                }
                Action::Wait { until_ms } => {
                    assert!(until_ms > now && until_ms < f64::MAX, "{until_ms}");
                    now = until_ms;
                }
                Action::TimedOut => panic!("no deadline was set"),
            }
        }
        panic!("the schedule did not finish");
    }

    #[test]
    fn thirty_windows_stay_within_the_limits_and_download_in_order() {
        let (order, peak_active, peak_running, refused) = simulate(30, 10, 0);
        assert_eq!(order, (0..30).collect::<Vec<_>>());
        assert_eq!(peak_active, 10, "keeps the queue full but never over");
        assert!(peak_running <= 2);
        assert_eq!(refused, 0, "never asks for an 11th job");
    }

    #[test]
    fn other_callers_jobs_are_waited_out() {
        let (order, _, _, refused) = simulate(12, 10, 9);
        assert_eq!(order, (0..12).collect::<Vec<_>>());
        assert!(refused > 0);
        let (order, peak, _, _) = simulate(5, 3, 0);
        assert_eq!(order.len(), 5);
        assert!(peak <= 3);
    }

    #[test]
    fn a_full_queue_is_waited_out_with_a_fake_clock_until_the_policy_gives_up() {
        use crate::core::policy::MAX_QUEUE_REFUSALS;
        let mut s = Scheduler::new(windows(2), 10, 100.0, 1000.0);
        assert_eq!(s.poll(0.0), Action::Create(0));
        let full = Error::from_status(429, b"queue full", Some(250));
        s.handle_create_failed(full.clone(), 0.0).unwrap();
        assert_eq!(s.poll(249.0), Action::Wait { until_ms: 250.0 });
        assert_eq!(
            s.poll(250.0),
            Action::Create(0),
            "asked again after Retry-After"
        );
        // None of ours is queued: a queue that stays full belongs to others, and is given up.
        let mut now = 250.0;
        for _ in 1..MAX_QUEUE_REFUSALS {
            s.handle_create_failed(full.clone(), now).unwrap();
            now += 250.0;
        }
        assert_eq!(s.refusals(), MAX_QUEUE_REFUSALS);
        assert_eq!(
            s.handle_create_failed(full, now),
            Err(Error::from_status(429, b"", Some(250)))
        );
        let bad = Error::from_status(400, b"bad window", None);
        let mut s = Scheduler::new(windows(1), 10, 100.0, 1000.0);
        assert_eq!(s.handle_create_failed(bad.clone(), 0.0), Err(bad));
        assert_eq!(s.refusals(), 0);
    }

    #[test]
    fn waiting_is_capped_by_the_deadline_and_ends_at_it() {
        let mut s = Scheduler::new(windows(1), 10, 100.0, 1000.0).with_deadline(Some(550.0));
        s.handle_created(0, job(0, "Queued", None), 0.0).unwrap();
        // A fake clock: the job stays queued, every read is answered at once.
        let mut now = 0.0;
        let mut reads = 0;
        loop {
            match s.poll(now) {
                Action::Poll(w) => {
                    reads += 1;
                    s.handle_polled(w, job(w, "Queued", None), now).unwrap();
                }
                Action::Wait { until_ms } => {
                    assert!(until_ms > now && until_ms <= 550.0, "{now} -> {until_ms}");
                    now = until_ms;
                }
                Action::TimedOut => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(now, 550.0, "timed out at the deadline, not before");
        assert!(reads >= 2, "{reads}");
        // Without a deadline, a wait is never longer than poll_max_ms from now.
        let mut s = Scheduler::new(windows(2), 1, 100.0, 1000.0);
        s.handle_created(0, job(0, "Queued", None), 0.0).unwrap();
        s.handle_refused(0.0, Some(60_000));
        assert_eq!(s.poll(0.0), Action::Wait { until_ms: 100.0 });
        s.handle_polled(0, job(0, "Running", None), 100.0).unwrap();
        assert!(matches!(s.poll(150.0), Action::Wait { until_ms } if until_ms <= 1150.0));
    }

    #[test]
    fn a_failed_job_stops_the_schedule_with_its_id() {
        let mut s = Scheduler::new(windows(3), 10, 100.0, 1000.0);
        assert_eq!(s.poll(0.0), Action::Create(0));
        s.handle_created(0, job(0, "Queued", None), 0.0).unwrap();
        assert_eq!(s.poll(0.0), Action::Create(1));
        s.handle_created(1, job(1, "Queued", None), 0.0).unwrap();
        s.handle_created(2, job(2, "Queued", None), 0.0).unwrap();
        assert_eq!(s.poll(0.0), Action::Wait { until_ms: 100.0 });
        assert_eq!(s.poll(100.0), Action::Poll(0));
        let e = s
            .handle_polled(1, job(1, "Failed", None), 100.0)
            .unwrap_err();
        assert_eq!(e.code(), "E_JOB_FAILED");
        assert!(e.to_string().contains("j1"));
        let mut s = Scheduler::new(windows(1), 10, 100.0, 1000.0);
        assert!(s.handle_created(0, job(0, "Canceled", None), 0.0).is_err());
    }
}
