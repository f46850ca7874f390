//! Plans: a long delta range cut into consecutive jobs of at most 14 days, and which data
//! requests fetch a completed job's records.

use super::{ExportRequest, ExportType, Job, JobParams};

/// How many jobs a request needs.
pub fn window_count(r: &ExportRequest) -> i64 {
    match r.export_type {
        ExportType::Snapshot => 1,
        ExportType::Delta => {
            let days = r.end_day - r.start_day + 1;
            let w = r.window_days.max(1);
            (days + w - 1) / w
        }
    }
}

/// Consecutive windows covering the request exactly once, in date order: a delta range in pieces
/// of `window_days` (the last one shorter), a snapshot as one job.
pub fn plan_windows(r: &ExportRequest) -> Vec<JobParams> {
    let one = |start_day, end_day| JobParams {
        start_day,
        end_day,
        activity_type: r.activity_type,
        export_type: r.export_type,
    };
    if r.export_type == ExportType::Snapshot {
        return vec![one(r.start_day, r.end_day)];
    }
    let w = r.window_days.max(1);
    let mut out = Vec::with_capacity(window_count(r).max(0) as usize);
    let mut start = r.start_day;
    while start <= r.end_day {
        let end = (start + w - 1).min(r.end_day);
        out.push(one(start, end));
        start = end + 1;
    }
    out
}

/// The data requests for a completed job, in order: `Some(k)` for fragment k (0-based), or one
/// `None` (the whole data in one response).
///
/// The document calls `fragment` the "Count of fragments ... (0-based)": one reader takes it as
/// the number of fragments (0..fragment-1), another as the highest index (0..fragment). The plan
/// follows the first and [`FragmentPlan::next_probe`] asks past the end when the bytes fall short.
/// `fragment: 0` is either "no data" or "one fragment, index 0": the whole data (`/data`) is right
/// under both, unless `results_size` says 0. No `fragment` at all: the whole data.
pub fn fragment_plan(job: &Job) -> Vec<Option<u32>> {
    match (job.fragment, job.results_size) {
        (Some(0), Some(0)) => Vec::new(),
        (Some(0), _) => vec![None],
        (Some(n), _) => (0..n).map(Some).collect(),
        (None, _) => vec![None],
    }
}

/// Which URL a fragment is read from: the document's URL line says `/data?fragment=N`, its curl
/// example `/fragment?fragment=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentPath {
    Data,
    Fragment,
}

impl FragmentPath {
    pub fn segment(self) -> &'static str {
        match self {
            FragmentPath::Data => "data",
            FragmentPath::Fragment => "fragment",
        }
    }

    fn other(self) -> Self {
        match self {
            FragmentPath::Data => FragmentPath::Fragment,
            FragmentPath::Fragment => FragmentPath::Data,
        }
    }
}

/// What to do with a fragment request the vendor refused (4xx other than auth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Ask again at once at this path (the other URL form, or the one now known to work).
    Retry(FragmentPath),
    /// A probe past the declared fragments found nothing there: the data is complete.
    End,
    /// A real error.
    Fail,
}

/// At most this many fragments are asked for past the declared count. One is enough for the
/// highest-index reading; the second catches a vendor off by two, and the limit keeps a vendor
/// that answers any index with data from being read forever.
pub const MAX_PROBES: u32 = 2;

/// A completed job's data requests under every reading of the document: which URL form works,
/// whether to ask past the declared fragments, and what `results_size` says about the bytes.
#[derive(Debug, Clone)]
pub struct FragmentPlan {
    declared: Option<u32>,
    results_size: Option<u64>,
    path: FragmentPath,
    confirmed: bool,
    switched: bool,
    probes: u32,
}

/// Bytes received against the job's `results_size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeCheck {
    /// Equal, or the job gave no size.
    Ok,
    /// More than announced: the size may count compressed bytes, or leave out line ends. Every
    /// line was read whole, so this is reported, not refused.
    More { announced: u64, received: u64 },
    /// Fewer: the export is short.
    Fewer { announced: u64, received: u64 },
}

impl FragmentPlan {
    pub fn new(job: &Job) -> Self {
        FragmentPlan {
            declared: job.fragment,
            results_size: job.results_size,
            path: FragmentPath::Data,
            confirmed: false,
            switched: false,
            probes: 0,
        }
    }

    /// The requests to make first (see [`fragment_plan`]).
    pub fn initial(&self, job: &Job) -> Vec<Option<u32>> {
        fragment_plan(job)
    }

    pub fn path(&self) -> FragmentPath {
        self.path
    }

    /// A fragment request at `used` was answered with data: that URL form works.
    pub fn answered(&mut self, used: FragmentPath) {
        if used == self.path {
            self.confirmed = true;
        }
    }

    /// A fragment request at `used` was refused with `status`. `probe`: it asked past the
    /// declared fragments.
    pub fn refused(&mut self, status: u16, used: FragmentPath, probe: bool) -> Refusal {
        if !matches!(status, 400 | 404 | 405 | 416 | 422) {
            return Refusal::Fail;
        }
        if used != self.path {
            // Sent before the switch: the new form has not been tried for it yet.
            return Refusal::Retry(self.path);
        }
        if !self.confirmed && !self.switched {
            self.switched = true;
            self.path = self.path.other();
            return Refusal::Retry(self.path);
        }
        if probe {
            Refusal::End
        } else {
            Refusal::Fail
        }
    }

    /// After every fragment so far is read (`next` is the index after the last one asked for,
    /// `received` the bytes of all of them, `last_probe_empty` whether the last probe found no
    /// data): the fragment to ask for next, or `None` when the data is complete.
    pub fn next_probe(&mut self, next: u32, received: u64, last_probe_empty: bool) -> Option<u32> {
        let declared = self.declared.filter(|&n| n > 0)?;
        if next < declared || last_probe_empty || self.probes >= MAX_PROBES {
            return None;
        }
        if self.results_size == Some(received) {
            return None;
        }
        self.probes += 1;
        Some(next)
    }

    pub fn check_size(&self, received: u64) -> SizeCheck {
        match self.results_size {
            Some(n) if received > n => SizeCheck::More {
                announced: n,
                received,
            },
            Some(n) if received < n => SizeCheck::Fewer {
                announced: n,
                received,
            },
            _ => SizeCheck::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::parse_date;
    use crate::providers::backstory::activities::ActivityType;

    fn req(s: &str, e: &str, w: i64) -> ExportRequest {
        ExportRequest {
            start_day: parse_date(s).unwrap(),
            end_day: parse_date(e).unwrap(),
            activity_type: ActivityType::Email,
            export_type: ExportType::Delta,
            window_days: w,
        }
    }

    #[test]
    fn a_quarter_becomes_consecutive_windows_of_at_most_14_days() {
        let r = req("2024-01-01", "2024-03-31", 14);
        let w = plan_windows(&r);
        assert_eq!(w.len() as i64, window_count(&r));
        assert_eq!(w.len(), 7); // 91 days
        assert_eq!(w[0].start_date(), "2024-01-01");
        assert_eq!(w[0].end_date(), "2024-01-14");
        assert_eq!(w[6].start_date(), "2024-03-25");
        assert_eq!(w[6].end_date(), "2024-03-31");
        for pair in w.windows(2) {
            assert_eq!(pair[1].start_day, pair[0].end_day + 1, "no gap, no overlap");
        }
        for x in &w {
            assert!(x.end_day - x.start_day < 14);
            assert_eq!(x.activity_type, ActivityType::Email);
        }
        let single = plan_windows(&req("2024-01-01", "2024-01-01", 14));
        assert_eq!(single.len(), 1);
        let days = plan_windows(&req("2024-01-01", "2024-01-30", 1));
        assert_eq!(days.len(), 30);
        let mut snap = req("2024-01-01", "2024-12-31", 14);
        snap.export_type = ExportType::Snapshot;
        assert_eq!(plan_windows(&snap).len(), 1);
    }

    #[test]
    fn fragments_are_numbered_from_zero() {
        let mut job =
            Job::from_json(br#"{"job_id":"j","state":"Completed","fragment":3}"#).unwrap();
        assert_eq!(fragment_plan(&job), vec![Some(0), Some(1), Some(2)]);
        job.fragment = None;
        assert_eq!(fragment_plan(&job), vec![None]);
        // `fragment: 0`: nothing when the size says 0, else the whole data (no data under one
        // reading, the one fragment 0 under the other; `/data` serves both).
        job.fragment = Some(0);
        job.results_size = Some(0);
        assert!(fragment_plan(&job).is_empty());
        job.results_size = None;
        assert_eq!(fragment_plan(&job), vec![None]);
        job.results_size = Some(10);
        assert_eq!(fragment_plan(&job), vec![None]);
    }

    fn completed(fragment: u32, size: Option<u64>) -> Job {
        let mut j = Job::from_json(br#"{"job_id":"j","state":"Completed"}"#).unwrap();
        j.fragment = Some(fragment);
        j.results_size = size;
        j
    }

    #[test]
    fn a_short_count_is_probed_past_its_end_and_a_full_one_is_not() {
        // Count reading, sizes agree: no probe.
        let mut p = FragmentPlan::new(&completed(4, Some(400)));
        assert_eq!(p.next_probe(4, 400, false), None);
        // Highest-index reading: fragment 4 exists too.
        let mut p = FragmentPlan::new(&completed(4, Some(500)));
        assert_eq!(
            p.next_probe(3, 300, false),
            None,
            "not before the declared ones"
        );
        assert_eq!(p.next_probe(4, 400, false), Some(4));
        assert_eq!(p.next_probe(5, 500, false), None, "sizes now agree");
        // No size to compare: probe until a probe finds nothing.
        let mut p = FragmentPlan::new(&completed(4, None));
        assert_eq!(p.next_probe(4, 400, false), Some(4));
        assert_eq!(p.next_probe(5, 500, false), Some(5));
        assert_eq!(p.next_probe(6, 500, true), None);
        // A vendor that answers every index: the probes stop.
        let mut p = FragmentPlan::new(&completed(1, None));
        assert_eq!(p.next_probe(1, 1, false), Some(1));
        assert_eq!(p.next_probe(2, 2, false), Some(2));
        assert_eq!(p.next_probe(3, 3, false), None);
        // The whole data was read: nothing to probe.
        let mut p = FragmentPlan::new(&completed(0, Some(9)));
        assert_eq!(p.next_probe(0, 5, false), None);
    }

    #[test]
    fn a_refused_url_form_is_switched_once_and_a_refused_probe_ends_the_data() {
        let mut p = FragmentPlan::new(&completed(3, Some(300)));
        assert_eq!(p.path(), FragmentPath::Data);
        // `/data?fragment=0` unknown to this vendor: the curl's `/fragment` form.
        assert_eq!(
            p.refused(404, FragmentPath::Data, false),
            Refusal::Retry(FragmentPath::Fragment)
        );
        // Fragment 1 had been sent the old way too: resent, no second switch.
        assert_eq!(
            p.refused(404, FragmentPath::Data, false),
            Refusal::Retry(FragmentPath::Fragment)
        );
        p.answered(FragmentPath::Fragment);
        assert_eq!(p.refused(404, FragmentPath::Fragment, true), Refusal::End);
        assert_eq!(p.refused(404, FragmentPath::Fragment, false), Refusal::Fail);
        assert_eq!(p.refused(500, FragmentPath::Fragment, true), Refusal::Fail);
        assert_eq!(p.refused(403, FragmentPath::Fragment, true), Refusal::Fail);
        // Both forms refused before any answered: a real error.
        let mut p = FragmentPlan::new(&completed(3, Some(300)));
        assert!(matches!(
            p.refused(400, FragmentPath::Data, false),
            Refusal::Retry(_)
        ));
        assert_eq!(p.refused(400, FragmentPath::Fragment, false), Refusal::Fail);
        // A confirmed form is never switched away from.
        let mut p = FragmentPlan::new(&completed(3, Some(300)));
        p.answered(FragmentPath::Data);
        assert_eq!(p.refused(404, FragmentPath::Data, false), Refusal::Fail);
    }

    #[test]
    fn more_bytes_than_announced_is_told_apart_from_fewer() {
        let p = FragmentPlan::new(&completed(2, Some(100)));
        assert_eq!(p.check_size(100), SizeCheck::Ok);
        assert_eq!(
            p.check_size(130),
            SizeCheck::More {
                announced: 100,
                received: 130
            }
        );
        assert_eq!(
            p.check_size(99),
            SizeCheck::Fewer {
                announced: 100,
                received: 99
            }
        );
        assert_eq!(
            FragmentPlan::new(&completed(2, None)).check_size(5),
            SizeCheck::Ok
        );
    }
}
