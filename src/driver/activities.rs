//! The Raw Activity Data run: create jobs, poll them, and download completed jobs' fragments in
//! parallel, parsing each as JSON Lines while it arrives.
//!
//! The ordered-download machine (core/download.rs) makes every download decision and
//! driver/ordered.rs runs it; this file says what a fragment's request is and what its refusal
//! means, jobs.rs runs the job machines, output.rs parses the head fragment and writes the output.
//!
//! Order and exactly-once: fragments are fetched up to `concurrency` at a time, but only the
//! next one in order (the head) is parsed and delivered; the others read ahead into a buffer of
//! at most `read_ahead_bytes` each and then wait (their connection is simply not read), so memory
//! stays bounded by concurrency times that cap whatever the export's size. Rows therefore arrive
//! in order of window, fragment, then line. A fragment whose body fails part way is fetched again
//! from its start with backoff: for records and CSV the lines already delivered are skipped (a
//! fresh parser told to skip them), for raw JSON Lines the bytes already delivered are skipped, so
//! no row is delivered twice and none is lost.
//!
//! Truncation: a body shorter than its `Content-Length`, or (without one) not ending in a newline,
//! is fetched again; after the last fragment the bytes received are checked against the job's
//! `results_size`, so a short body is an error, never a short success.

use super::ordered::{self, Parts, Refused};
use super::{within, Session};
use crate::core::download::{Config, OrderedDownload};
use crate::core::http::{body_length, HttpRequest, HttpResponse};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::backstory::activities::{
    fragment_request, plan_windows, Action as Next, ExportRequest, FragmentPath, FragmentPlan, Job,
    JobState, Refusal, Scheduler, SizeCheck, MAX_CONCURRENCY, MAX_QUEUED,
};
use crate::transport::{Body, ResponseHead, Transport};

mod jobs;
mod output;
mod types;

use jobs::left;
pub use jobs::{create_job, get_job, list_jobs, wait_job};
use output::*;
pub use types::*;

// ------------------------------------------------------------------------- fragments

/// What the driver knows of a fragment beyond the download machine's part.
struct Frag {
    index: Option<u32>,
    /// Lines delivered or reported, once the fragment is done.
    lines: u64,
    /// Asked for past the job's declared fragments (see `FragmentPlan::next_probe`).
    probe: bool,
    /// The URL form its last request used, and the one to use next if a refusal named it.
    path: FragmentPath,
    next_path: Option<FragmentPath>,
}

impl Frag {
    fn new(index: Option<u32>, probe: bool) -> Self {
        Frag {
            index,
            lines: 0,
            probe,
            path: FragmentPath::Data,
            next_path: None,
        }
    }
}

struct JobRun<'j> {
    window: usize,
    job: &'j Job,
    resume: Option<&'j DownloadCheckpoint>,
}

/// One job's fragments as the parts of an ordered download ([`ordered::run`]): their requests,
/// what a refusal means, and the head fragment's parser.
struct Fragments<'a, S> {
    base_url: &'a str,
    window: usize,
    job: &'a Job,
    opts: &'a DownloadOptions,
    urls: FragmentPlan,
    frags: Vec<Frag>,
    /// This piece ends where the plan ends, so it may probe past the declared fragments.
    reaches_end: bool,
    head: Head,
    /// Bytes of the fragments done, the saved run's included.
    bytes_before: u64,
    retries_before: u32,
    out: &'a mut Emitter,
    progress: &'a mut Progress,
    sink: &'a mut S,
}

impl<'a, S: ActivitySink> Fragments<'a, S> {
    fn at(&self, k: usize) -> Place<'a> {
        Place {
            window: self.window,
            job_id: &self.job.job_id,
            fragment: self.frags.get(k).and_then(|f| f.index),
        }
    }

    fn checkpoint(&mut self, m: &OrderedDownload) {
        self.sink.checkpoint(&DownloadCheckpoint {
            version: 1,
            job_id: self.job.job_id.clone(),
            download: m.state(),
            lines: self.head.delivered,
            bytes: self.head.consumed + self.head.skip,
            bytes_before: self.bytes_before,
        });
    }

    fn report(&mut self, m: &OrderedDownload, significant: bool) {
        sync_counts(self.progress, self.out);
        report(self.sink, self.progress, m, &self.frags, significant);
    }
}

impl<B: Body, S: ActivitySink> Parts<B> for Fragments<'_, S> {
    fn request(&mut self, part: usize) -> Result<HttpRequest> {
        let plan = self.urls.path();
        let Some(f) = self.frags.get_mut(part) else {
            return Err(Error::network("internal: no such fragment"));
        };
        f.path = f.next_path.take().unwrap_or(plan);
        fragment_request(self.base_url, &self.job.job_id, f.index, f.path)
    }

    async fn opened(
        &mut self,
        part: usize,
        head: &ResponseHead,
        body: &mut B,
    ) -> Result<(Option<u64>, Vec<u8>)> {
        if let Some(f) = self.frags.get(part) {
            self.urls.answered(f.path);
        }
        match peek_error_body(head, body).await? {
            Peek::Data(first) => Ok((body_length(&head.headers), first)),
            Peek::Error(e) => Err(e),
        }
    }

    fn refused(&mut self, part: usize, resp: HttpResponse, now_ms: f64) -> Refused {
        let Some(f) = self.frags.get_mut(part) else {
            return Refused::Fatal(Error::network("internal: no such fragment"));
        };
        match self.urls.refused(resp.status, f.path, f.probe) {
            Refusal::Retry(form) => {
                f.next_path = Some(form);
                Refused::Moved
            }
            Refusal::End => Refused::Empty,
            // `send` has already retried what may be retried.
            Refusal::Fail => {
                let ra = super::retry_after(&resp.headers, now_ms);
                Refused::Fatal(Error::from_status(resp.status, &resp.body, ra))
            }
        }
    }

    fn reset(&mut self, _part: usize) {
        restart_head(&mut self.head, self.opts);
    }

    async fn deliver(&mut self, m: &OrderedDownload, part: usize, chunk: Vec<u8>) -> Result<()> {
        let at = self.at(part);
        let r = consume(&mut self.head, chunk, at, self.opts, self.out, self.sink).await;
        self.checkpoint(m);
        r?;
        self.report(m, false);
        Ok(())
    }

    async fn finish(&mut self, m: &OrderedDownload, part: usize) -> Result<()> {
        let at = self.at(part);
        finish_fragment(&mut self.head, at, self.out, self.sink).await?;
        if let Some(f) = self.frags.get_mut(part) {
            f.lines = self.head.parser.lines();
        }
        self.bytes_before += m.part(part).map_or(0, |p| p.received);
        Ok(())
    }

    fn finished(&mut self, m: &OrderedDownload, _part: usize) {
        self.head = Head::new(self.opts);
        self.checkpoint(m);
        self.progress.fragments_done = m.head();
        self.report(m, true);
    }

    /// Under the highest-index reading of `fragment` there is one more fragment after those
    /// asked for; the plan decides from the bytes whether to ask.
    fn more(&mut self, m: &mut OrderedDownload) -> bool {
        if !self.reaches_end || self.frags.is_empty() {
            return false;
        }
        let last_empty = self.frags.last().is_some_and(|f| f.probe)
            && m.parts().last().is_some_and(|p| p.received == 0);
        let next = next_index(&self.frags);
        match self.urls.next_probe(next, self.bytes_before, last_empty) {
            Some(k) => {
                self.frags.push(Frag::new(Some(k), true));
                m.push_part();
                self.progress.fragments_total = self.frags.len();
                true
            }
            None => false,
        }
    }

    async fn renew(&mut self) -> Result<()> {
        Err(Error::network(
            "internal: fragment URLs are not signed, yet a renewal was asked for",
        ))
    }

    fn place(&self, part: usize, e: Error) -> Error {
        with_place(e, self.at(part))
    }

    fn restarted(&mut self, m: &OrderedDownload) {
        self.out.retries = self.retries_before + m.restarts();
        self.report(m, true);
    }
}

/// The index after the highest fragment asked for.
fn next_index(frags: &[Frag]) -> u32 {
    frags
        .iter()
        .filter_map(|f| f.index)
        .max()
        .map_or(0, |k| k + 1)
}

/// Downloads one Completed job's data: fragments in parallel, delivered in order, then the
/// bytes checked against the job's `results_size`.
async fn download_job<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    run: JobRun<'_>,
    opts: &DownloadOptions,
    out: &mut Emitter,
    progress: &mut Progress,
    sink: &mut S,
) -> Result<()> {
    let job = run.job;
    if job.state != JobState::Completed {
        job.check_not_failed()?;
        return Err(Error::invalid(
            "job",
            format!(
                "job {} is {}; its data can be read once it is Completed",
                job.job_id,
                job.state.as_str()
            ),
        ));
    }
    let urls = FragmentPlan::new(job);
    let planned = urls.initial(job);
    let (from, to) = opts.parts.map_or((0, planned.len()), |(a, b)| {
        (a.min(planned.len()), b.min(planned.len()))
    });
    // The piece that ends where the plan ends may probe past it; the size is the whole job's.
    let reaches_end = to == planned.len();
    let whole = from == 0 && reaches_end;
    if run.resume.is_some() && !whole {
        return Err(Error::invalid(
            "parts",
            "cannot be combined with a checkpoint",
        ));
    }
    let mut frags: Vec<Frag> = planned[from..to]
        .iter()
        .map(|&i| Frag::new(i, false))
        .collect();
    let cfg = Config {
        concurrency: opts.concurrency.clamp(1, MAX_CONCURRENCY),
        read_ahead_bytes: opts.read_ahead_bytes.max(1024),
        line_ended: true,
        reopen: false,
        signed: false,
        retry: session.retry,
        seed: (t.now_ms() as u64) ^ 0xA076_1D64_78BD_642F,
    };
    let mut m = OrderedDownload::new(cfg, frags.len());
    let mut head = Head::new(opts);
    let mut bytes_before = 0;
    if let Some(cp) = run.resume {
        if cp.version != 1 || cp.job_id != job.job_id || cp.download.parts < frags.len() {
            return Err(Error::invalid(
                "resumeFrom",
                format!("is not a version 1 checkpoint of job {}", job.job_id),
            ));
        }
        // Probes past the declared fragments that the saved run had asked for.
        while frags.len() < cp.download.parts {
            frags.push(Frag::new(Some(next_index(&frags)), true));
        }
        m = OrderedDownload::resume(cfg, &cp.download)?;
        head.resume(cp.lines, cp.bytes);
        bytes_before = cp.bytes_before;
    }
    progress.phase = Phase::Downloading;
    progress.window = run.window;
    progress.job_id = Some(job.job_id.clone());
    progress.results_size = job.results_size;
    progress.fragments_total = frags.len();
    progress.fragments_done = 0;
    let mut parts = Fragments {
        base_url: &session.base_url,
        window: run.window,
        job,
        opts,
        urls,
        frags,
        reaches_end,
        head,
        bytes_before,
        retries_before: out.retries,
        out,
        progress,
        sink,
    };
    parts.report(&m, true);
    ordered::run(t, session, &mut m, opts.stall_timeout_ms, &mut parts).await?;
    let Fragments {
        urls,
        frags,
        bytes_before: received,
        out,
        progress,
        sink,
        ..
    } = parts;
    if !whole {
        return Ok(());
    }
    match urls.check_size(received) {
        SizeCheck::Ok => {}
        SizeCheck::More {
            announced,
            received,
        } => {
            out.warnings.push(Warning {
                code: "W_RESULTS_SIZE",
                job_id: job.job_id.clone(),
                message: format!(
                    "job {}: received {received} bytes of data, more than its results_size {announced} (the vendor may count compressed bytes or leave out line ends); every line arrived whole",
                    job.job_id
                ),
                results_size: Some(announced),
                received: Some(received),
            });
            progress.warnings = out.warnings.clone();
            report(sink, progress, &m, &frags, true);
        }
        SizeCheck::Fewer { announced, .. } => {
            return Err(Error::network(format!(
                "job {}: received {received} bytes of data but the job reported results_size {announced}; {} records were delivered{}",
                job.job_id,
                out.records,
                unsized_fragments(&m, &frags)
            )));
        }
    }
    Ok(())
}

/// The fragments that came without a `Content-Length`: when the total falls short, one of them
/// was cut at a line end (any other cut is caught and fetched again), so the error names them
/// and where each stopped.
fn unsized_fragments(m: &OrderedDownload, frags: &[Frag]) -> String {
    let list: Vec<String> = frags
        .iter()
        .zip(m.parts())
        // A probe past the end that found nothing holds no data to doubt.
        .filter(|(f, p)| p.expected.is_none() && !(f.probe && p.received == 0))
        .map(|(f, _)| match f.index {
            Some(k) => format!("fragment {k} (ended after line {})", f.lines),
            None => format!("the data (ended after line {})", f.lines),
        })
        .collect();
    if list.is_empty() {
        return String::new();
    }
    format!(
        "; came without a Content-Length, so may have been cut short: {}",
        list.join(", ")
    )
}

// ------------------------------------------------------------------------- runs

/// How many data requests a Completed job's download plans at first (fragments as declared; one
/// for the whole data when the job gives none; none when it says it has no data): the units
/// [`DownloadOptions::parts`] counts.
pub fn data_parts(job: &Job) -> usize {
    FragmentPlan::new(job).initial(job).len()
}

/// Downloads one job: waits for it first if it has not ended, then delivers its data.
pub async fn download<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    job: Job,
    wait: &WaitOptions,
    opts: &DownloadOptions,
    sink: &mut S,
) -> Result<ExportOutcome> {
    download_from(t, session, job, wait, opts, None, sink).await
}

/// [`download`], continuing from a checkpoint a sink saved: the fragments and lines it covers
/// are skipped. The outcome counts what this run delivered.
pub async fn download_from<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    job: Job,
    wait: &WaitOptions,
    opts: &DownloadOptions,
    resume_from: Option<&DownloadCheckpoint>,
    sink: &mut S,
) -> Result<ExportOutcome> {
    opts.validate()?;
    let mut progress = empty_progress(1);
    let job = if job.state.is_terminal() {
        job.check_not_failed()?;
        job
    } else {
        progress.phase = Phase::Waiting;
        progress.job_id = Some(job.job_id.clone());
        sink.progress(&progress);
        wait_job(t, session, job, wait, &mut |j| sink.job(0, j)).await?
    };
    let mut out = Emitter::new(opts);
    download_job(
        t,
        session,
        JobRun {
            window: 0,
            job: &job,
            resume: resume_from,
        },
        opts,
        &mut out,
        &mut progress,
        sink,
    )
    .await?;
    let at = Place {
        window: 0,
        job_id: &job.job_id,
        fragment: None,
    };
    out.finish(at, sink).await?;
    progress.phase = Phase::Done;
    progress.windows_done = 1;
    progress.fragments.clear();
    sync_counts(&mut progress, &out);
    progress.significant = true;
    sink.progress(&progress);
    Ok(out.outcome(vec![job]))
}

/// The whole export: plans windows, creates their jobs within the vendor's limits, polls them,
/// and downloads each in window order as it completes.
pub async fn run_export<T: Transport, S: ActivitySink>(
    t: &T,
    session: &Session,
    request: &ExportRequest,
    opts: &ExportOptions,
    sink: &mut S,
) -> Result<ExportOutcome> {
    opts.download.validate()?;
    if !(1..=MAX_QUEUED).contains(&opts.max_active) {
        return Err(Error::invalid(
            "maxActiveJobs",
            format!("must be an integer from 1 to {MAX_QUEUED}"),
        ));
    }
    let windows = plan_windows(request);
    let n = windows.len();
    let deadline = opts.wait.timeout_ms.map(|ms| t.now_ms() + ms);
    let mut sched = Scheduler::new(
        windows,
        opts.max_active,
        opts.wait.poll_initial_ms,
        opts.wait.poll_max_ms,
    )
    .with_deadline(deadline);
    let mut out = Emitter::new(&opts.download);
    let mut progress = empty_progress(n);
    let mut jobs: Vec<Job> = Vec::new();
    sink.progress(&progress);
    loop {
        t.check_aborted()?;
        let now = t.now_ms();
        progress.jobs_active = sched.active();
        progress.jobs_running = sched.running();
        progress.windows_done = sched.done();
        match sched.poll(now) {
            Next::Done => break,
            Next::Create(w) => {
                let Some(params) = sched.window(w).copied() else {
                    break;
                };
                progress.phase = Phase::Creating;
                match within(t, left(t, deadline), create_job(t, session, &params)).await {
                    Ok(job) => {
                        sink.job(w, &job);
                        sched.handle_created(w, job, t.now_ms())?;
                    }
                    Err(e) => sched.handle_create_failed(e, t.now_ms())?,
                }
            }
            Next::Poll(w) => {
                let Some(id) = sched.job(w).map(|j| j.job_id.clone()) else {
                    continue;
                };
                progress.phase = Phase::Waiting;
                let job = within(t, left(t, deadline), get_job(t, session, &id)).await?;
                let changed = sched.job(w).map(|j| j.state) != Some(job.state);
                if changed {
                    // Reported before a Failed state ends the run, so the caller sees it.
                    sink.job(w, &job);
                }
                if sched.handle_polled(w, job, t.now_ms())? {
                    progress.jobs_active = sched.active();
                    progress.jobs_running = sched.running();
                    progress.significant = true;
                    sink.progress(&progress);
                }
            }
            Next::Download(w) => {
                let Some(job) = sched.job(w).cloned() else {
                    break;
                };
                download_job(
                    t,
                    session,
                    JobRun {
                        window: w,
                        job: &job,
                        resume: None,
                    },
                    &opts.download,
                    &mut out,
                    &mut progress,
                    sink,
                )
                .await?;
                sched.handle_downloaded(w);
                jobs.push(job);
            }
            Next::TimedOut => return Err(Error::new(ErrorKind::Timeout)),
            Next::Wait { until_ms } => {
                progress.phase = Phase::Waiting;
                progress.job_id = sched.job(sched.done()).map(|j| j.job_id.clone());
                progress.significant = false;
                sink.progress(&progress);
                t.sleep((until_ms - now).max(1.0)).await?;
            }
        }
    }
    let last = jobs.last().map(|j| j.job_id.clone()).unwrap_or_default();
    out.finish(
        Place {
            window: n.saturating_sub(1),
            job_id: &last,
            fragment: None,
        },
        sink,
    )
    .await?;
    progress.phase = Phase::Done;
    progress.windows_done = n;
    progress.jobs_active = 0;
    progress.jobs_running = 0;
    progress.fragments.clear();
    sync_counts(&mut progress, &out);
    progress.significant = true;
    sink.progress(&progress);
    Ok(out.outcome(jobs))
}
