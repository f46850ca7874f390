//! Userpilot export jobs (start with the 409 handled, read, list, wait) and lookups: each a
//! thin loop over its machine in providers/userpilot.

use crate::core::Step;
use crate::driver::{buffered, read_answer, retry_after, send, within, Session};
use crate::error::Result;
use crate::providers::userpilot::exports::{
    self, check_job_id, error_from_response, Created, ExportParams, Job, PollSchedule, WaitJob,
};
use crate::providers::userpilot::lookups::{self, CursorWalk, Page, PageRequest};
use crate::providers::userpilot::start::{Start, StartJob};
use crate::transport::Transport;

/// Userpilot's answer to a small JSON request: the body on success, else the mapped error.
pub(super) async fn call<T: Transport>(
    t: &T,
    session: &Session,
    req: crate::core::http::HttpRequest,
) -> Result<crate::core::http::HttpResponse> {
    let resp = buffered(send(t, session, req, &mut || {}).await?).await?;
    if resp.is_success() {
        Ok(resp)
    } else {
        Err(error_from_response(
            &resp,
            retry_after(&resp.headers, t.now_ms()),
        ))
    }
}

/// A JSON answer of a read: an error body or an answer cut short is read again.
pub(super) async fn read<T: Transport, R>(
    t: &T,
    session: &Session,
    req: crate::core::http::HttpRequest,
    parse: impl FnMut(&[u8]) -> Result<R>,
) -> Result<R> {
    read_answer(
        t,
        session,
        req.idempotent,
        || call(t, session, req.clone()),
        parse,
    )
    .await
}

pub async fn get_job<T: Transport>(t: &T, session: &Session, job_id: &str) -> Result<Job> {
    read(
        t,
        session,
        exports::get_request(&session.base_url, job_id)?,
        Job::parse,
    )
    .await
}

pub async fn list_jobs<T: Transport>(t: &T, session: &Session) -> Result<Vec<Job>> {
    read(
        t,
        session,
        exports::list_request(&session.base_url),
        Job::parse_list,
    )
    .await
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitOptions {
    pub initial_ms: f64,
    pub max_ms: f64,
    /// Give up with `Timeout` after this long.
    pub timeout_ms: Option<f64>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            initial_ms: 500.0,
            max_ms: 10_000.0,
            timeout_ms: None,
        }
    }
}

/// Reads the job until it is `completed` (returned) or `failed` (`JobFailed`), sleeping longer
/// between reads as it runs on. `on_progress` sees every read.
pub async fn wait<T: Transport>(
    t: &T,
    session: &Session,
    job_id: &str,
    opts: &WaitOptions,
    on_progress: &mut dyn FnMut(&Job),
) -> Result<Job> {
    check_job_id("jobId", job_id)?;
    let deadline = opts.timeout_ms.map(|ms| t.now_ms() + ms);
    let schedule = PollSchedule::new(opts.initial_ms, opts.max_ms, deadline);
    let mut w = WaitJob::new(&session.base_url, job_id, schedule)?;
    loop {
        t.check_aborted()?;
        match w.poll(t.now_ms())? {
            Step::Done(job) => return Ok(job),
            Step::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
            Step::Send(req) => {
                let left = w.poll_timeout(t.now_ms());
                let job = within(t, left, read(t, session, req, Job::parse)).await?;
                on_progress(&job);
                w.handle_job(job, t.now_ms())?;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StartOptions {
    /// On a 409, wait for the running job to finish, then start this one.
    pub wait_for_running: bool,
    pub wait: WaitOptions,
}

/// What `start` went through before its job was created.
#[derive(Debug, Clone, PartialEq)]
pub enum StartEvent<'a> {
    /// A 409: this job (if the list tells) is running; waiting for it.
    WaitingFor(Option<&'a str>),
    /// A read of the job being waited for.
    Progress(&'a Job),
}

/// Starts an export. A 409 fails with `Conflict` naming the running job when the jobs list can
/// tell, or, with `wait_for_running`, waits for that job and tries again: the [`StartJob`]
/// machine decides, this loop runs its requests and waits.
pub async fn start<T: Transport>(
    t: &T,
    session: &Session,
    params: &ExportParams,
    opts: &StartOptions,
    on_event: &mut dyn FnMut(StartEvent<'_>),
) -> Result<Created> {
    let deadline = opts.wait.timeout_ms.map(|ms| t.now_ms() + ms);
    let mut s = StartJob::new(
        &session.base_url,
        params,
        opts.wait_for_running,
        opts.wait.initial_ms,
        opts.wait.max_ms,
        deadline,
    );
    loop {
        t.check_aborted()?;
        match s.poll(t.now_ms())? {
            Start::Done(created) => return Ok(created),
            Start::Create(req) => {
                let resp = buffered(send(t, session, req, &mut || {}).await?).await?;
                s.handle_created(&resp, retry_after(&resp.headers, t.now_ms()));
            }
            Start::List(_) => s.handle_listed(list_jobs(t, session).await),
            Start::Conflicted { running } => on_event(StartEvent::WaitingFor(running.as_deref())),
            Start::WaitFor { job_id, timeout_ms } => {
                let wait_opts = WaitOptions {
                    timeout_ms,
                    ..opts.wait
                };
                let r = wait(t, session, &job_id, &wait_opts, &mut |j| {
                    on_event(StartEvent::Progress(j))
                })
                .await;
                s.handle_waited(r.map(|_| ()));
            }
            Start::Wait { until_ms } => t.sleep((until_ms - t.now_ms()).max(0.0)).await?,
        }
    }
}

/// One page of a lookup (the only page for the unpaginated ones).
pub async fn lookup<T: Transport>(
    t: &T,
    session: &Session,
    name: &str,
    page: &PageRequest,
) -> Result<Page> {
    let req = lookups::lookup_request(&session.base_url, name, page)?;
    read(t, session, req, |body| Page::parse(name, body)).await
}

/// Walks a lookup's cursor pages to the end, handing each to `on_page` in order (which may stop
/// the walk by returning an error). Returns (pages, items).
#[allow(async_fn_in_trait)]
pub trait PageSink {
    async fn page(&mut self, page: Page) -> Result<()>;
}

pub async fn lookup_pages<T: Transport, S: PageSink>(
    t: &T,
    session: &Session,
    name: &str,
    limit: Option<u32>,
    sink: &mut S,
) -> Result<(u64, u64)> {
    let mut walk = CursorWalk::new(name, limit)?;
    while let Some(req) = walk.poll_request(&session.base_url) {
        t.check_aborted()?;
        let page = read(t, session, req?, |body| walk.handle_page(body)).await?;
        sink.page(page).await?;
    }
    Ok((walk.pages, walk.items))
}
