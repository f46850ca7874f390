//! Activities jobs: create (never a blind second POST), read, list, wait.

use crate::core::http::{HttpRequest, Method};
use crate::core::retry::Backoff;
use crate::core::Step;
use crate::driver::{read_answer, send_small, within, Session};
use crate::error::Result;
use crate::providers::backstory::activities::create::CreateJob;
use crate::providers::backstory::activities::{
    get_request, list_request, parse_job_list, Job, JobParams, JobWatch, PollBackoff,
};
use crate::transport::Transport;

use super::*;

/// Reads a job answer (an error body or a cut-short answer is read again if the read may be).
pub(super) async fn read_job<T: Transport>(
    t: &T,
    session: &Session,
    req: HttpRequest,
) -> Result<Job> {
    read_answer(
        t,
        session,
        req.idempotent,
        || send_small(t, session, req.clone()),
        Job::from_json,
    )
    .await
}

/// `POST /jobs`, never sent blindly a second time (that could make a second job): the
/// [`CreateJob`] machine decides when to read the job list and adopt, when to ask again.
/// A refusal (429: the vendor's queue is full; any other 4xx) comes back as it came.
pub async fn create_job<T: Transport>(t: &T, session: &Session, params: &JobParams) -> Result<Job> {
    let backoff = Backoff::new(session.retry, (t.now_ms() as u64) ^ 0x6A09_E667_F3BC_C909);
    let mut create = CreateJob::new(&session.base_url, *params, backoff);
    loop {
        match create.poll(t.now_ms())? {
            Step::Done(job) => return Ok(job),
            Step::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
            Step::Send(req) if req.method == Method::Post => {
                create.handle_created(read_job(t, session, req).await)
            }
            Step::Send(req) => {
                let listed = send_small(t, session, req)
                    .await
                    .and_then(|r| parse_job_list(&r.body));
                create.handle_listed(listed, t.now_ms())
            }
        }
    }
}

pub async fn get_job<T: Transport>(t: &T, session: &Session, job_id: &str) -> Result<Job> {
    read_job(t, session, get_request(&session.base_url, job_id)?).await
}

/// The jobs created in the past 10 days.
pub async fn list_jobs<T: Transport>(t: &T, session: &Session) -> Result<Vec<Job>> {
    let resp = send_small(t, session, list_request(&session.base_url)).await?;
    parse_job_list(&resp.body)
}

/// Polls `job` with backoff until it ends: the Completed job, or `E_JOB_FAILED` naming it.
pub async fn wait_job<T: Transport>(
    t: &T,
    session: &Session,
    job: Job,
    opts: &WaitOptions,
    on_change: &mut dyn FnMut(&Job),
) -> Result<Job> {
    let start = t.now_ms();
    let deadline = opts.timeout_ms.map(|ms| start + ms);
    let mut watch = JobWatch::new(
        &session.base_url,
        job,
        PollBackoff::new(opts.poll_initial_ms, opts.poll_max_ms, start),
        deadline,
    );
    loop {
        t.check_aborted()?;
        match watch.poll(t.now_ms())? {
            Step::Done(job) => return Ok(job),
            Step::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
            Step::Send(req) => {
                let job = within(t, left(t, deadline), read_job(t, session, req)).await?;
                if watch.handle_job(job, t.now_ms())? {
                    on_change(watch.job());
                }
            }
        }
    }
}

/// The time left before `deadline`, for [`within`].
pub(super) fn left<T: Transport>(t: &T, deadline: Option<f64>) -> Option<f64> {
    deadline.map(|d| (d - t.now_ms()).max(0.0))
}
