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
/// `None` (the whole data in one response) when the job did not say how many fragments it has.
/// A job with no records (`fragment: 0`) has nothing to fetch.
pub fn fragment_plan(job: &Job) -> Vec<Option<u32>> {
    match job.fragment {
        Some(n) => (0..n).map(Some).collect(),
        None => vec![None],
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
        job.fragment = Some(0);
        assert!(fragment_plan(&job).is_empty());
        job.fragment = None;
        assert_eq!(fragment_plan(&job), vec![None]);
    }
}
