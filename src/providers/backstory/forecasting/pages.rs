//! Page-number pagination as the Forecasting API reports it (`X-Total-Count`, `X-Page-Last`,
//! `X-Limit`, `X-Page`), and a sans-IO plan of which pages to fetch: the first page alone (it
//! tells how many there are), then the rest with a bounded look-ahead so several are in flight,
//! delivered in page order.
//!
//! Every response is checked against its own headers (each answer comes from one state of the
//! server, so it must agree with itself). A total that differs between answers means the data
//! moved under us: pages may then repeat or skip records, so the change is recorded and reported,
//! and the plan follows the newest page count.

use crate::core::http::find_header;
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeaders {
    pub total_count: u64,
    pub page_last: u32,
    pub limit: u32,
    pub page: u32,
    /// The total came from the answer. `false`: the vendor sent no `X-Total-Count` and the
    /// numbers are what this page's records imply (see [`PageHeaders::read`]).
    pub exact: bool,
    /// `X-Limit` was sent (else `limit` is the request's `per_page`).
    pub limit_stated: bool,
    /// `X-Page-Last` was sent (or follows from `X-Total-Count` and `X-Limit`).
    pub last_stated: bool,
}

/// An answer we cannot use, although its status was a success.
pub(crate) fn bad_answer(status: u16, reason: String) -> Error {
    Error::new(ErrorKind::Http {
        status,
        body_excerpt: reason,
    })
}

fn header_number(headers: &[(String, String)], name: &str, status: u16) -> Result<u64> {
    let raw = find_header(headers, name)
        .ok_or_else(|| bad_answer(status, format!("the {name} header is missing")))?;
    let v = raw.trim();
    // Digits only: "+3", "3.0", "1e3" or "0x10" are not page numbers.
    if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
        let shown: String = raw.chars().take(40).collect();
        return Err(bad_answer(
            status,
            format!("the {name} header is not a whole number: {shown:?}"),
        ));
    }
    v.parse()
        .map_err(|_| bad_answer(status, format!("the {name} header is out of range")))
}

impl PageHeaders {
    /// Reads the four headers strictly and checks they agree with one another.
    pub fn parse(headers: &[(String, String)], status: u16) -> Result<PageHeaders> {
        let small = |name: &str, v: u64| -> Result<u32> {
            u32::try_from(v).ok().filter(|n| *n >= 1).ok_or_else(|| {
                bad_answer(
                    status,
                    format!("the {name} header must be from 1 to {}, not {v}", u32::MAX),
                )
            })
        };
        let total_count = header_number(headers, "X-Total-Count", status)?;
        let page_last = small(
            "X-Page-Last",
            header_number(headers, "X-Page-Last", status)?,
        )?;
        let limit = small("X-Limit", header_number(headers, "X-Limit", status)?)?;
        let page = small("X-Page", header_number(headers, "X-Page", status)?)?;
        let expected_last = total_count.div_ceil(u64::from(limit)).max(1);
        if u64::from(page_last) != expected_last {
            return Err(bad_answer(
                status,
                format!("X-Page-Last is {page_last} but X-Total-Count {total_count} at X-Limit {limit} makes {expected_last} pages"),
            ));
        }
        Ok(PageHeaders {
            total_count,
            page_last,
            limit,
            page,
            exact: true,
            limit_stated: true,
            last_stated: true,
        })
    }

    /// The same answer at another page size (a `per_page` the vendor caps without saying so in
    /// `X-Limit`): what follows from the size is worked out again.
    pub fn with_limit(self, limit: u32, records: usize) -> PageHeaders {
        let limit = limit.max(1);
        let before = u64::from(self.page - 1) * u64::from(limit);
        let mut h = PageHeaders { limit, ..self };
        if self.exact {
            h.page_last = u32::try_from(self.total_count.div_ceil(u64::from(limit)).max(1))
                .unwrap_or(u32::MAX);
        } else if self.last_stated && self.page < self.page_last {
            h.total_count = u64::from(self.page_last - 1) * u64::from(limit) + 1;
        } else {
            h.total_count = before + records as u64;
        }
        h
    }

    /// The answer says records follow this page.
    fn more_after(&self, records: usize) -> bool {
        if self.exact {
            self.total_count > u64::from(self.page - 1) * u64::from(self.limit) + records as u64
        } else {
            self.last_stated && self.page < self.page_last
        }
    }

    /// Reads an answer to a request for `asked` at `per_page` that held `records` records, under
    /// every reading of the document's headers: all four (checked strictly, as [`parse`]);
    /// `X-Limit`/`X-Page` absent (the request's own values); `X-Total-Count` alone (the page
    /// count follows); `X-Page-Last` alone or no headers at all (a full page means there may be
    /// another, a short or empty page is the last).
    ///
    /// [`parse`]: PageHeaders::parse
    pub fn read(
        headers: &[(String, String)],
        status: u16,
        asked: u32,
        per_page: u32,
        records: usize,
    ) -> Result<PageHeaders> {
        let has = |n: &str| find_header(headers, n).is_some();
        if has("X-Total-Count") && has("X-Page-Last") && has("X-Limit") && has("X-Page") {
            return PageHeaders::parse(headers, status);
        }
        let opt = |n: &str| -> Result<Option<u64>> {
            if has(n) {
                header_number(headers, n, status).map(Some)
            } else {
                Ok(None)
            }
        };
        let stated_limit = opt("X-Limit")?
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1);
        let limit = stated_limit.unwrap_or(per_page.max(1));
        let page = opt("X-Page")?
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
            .unwrap_or(asked);
        let before = u64::from(page - 1) * u64::from(limit);
        if let Some(total_count) = opt("X-Total-Count")? {
            let page_last = u32::try_from(total_count.div_ceil(u64::from(limit)).max(1))
                .map_err(|_| bad_answer(status, "X-Total-Count is out of range".into()))?;
            return Ok(PageHeaders {
                total_count,
                page_last,
                limit,
                page,
                exact: true,
                limit_stated: stated_limit.is_some(),
                last_stated: stated_limit.is_some(),
            });
        }
        let n = records as u64;
        let stated_last = opt("X-Page-Last")?.and_then(|n| u32::try_from(n).ok());
        // Any page with records may have a successor, even a short one (the vendor may cap
        // per_page below what was asked, and without X-Limit nothing says so): ask until a page
        // comes back empty. One request more, never a page less.
        let page_last = match stated_last {
            Some(l) if l >= 1 => l,
            _ if n > 0 => page.saturating_add(1),
            _ => page,
        };
        // Not a total (`exact: false`), but what the page must agree with: a page before a
        // stated last one is full; otherwise the records seen so far.
        let total_count = match stated_last {
            Some(l) if page < l => u64::from(l - 1) * u64::from(limit) + 1,
            _ => before + n,
        };
        Ok(PageHeaders {
            total_count,
            page_last,
            limit,
            page,
            exact: false,
            limit_stated: stated_limit.is_some(),
            last_stated: matches!(stated_last, Some(l) if l >= 1),
        })
    }

    /// How many records this page must hold by its own headers.
    pub fn expected_records(&self) -> u64 {
        let before = u64::from(self.page - 1).saturating_mul(u64::from(self.limit));
        self.total_count
            .saturating_sub(before)
            .min(u64::from(self.limit))
    }
}

/// The total changed between two answers. `page` is the page whose answer showed `current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotalChange {
    pub page: u32,
    pub previous: u64,
    pub current: u64,
}

/// What to do with an answer the plan accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub headers: PageHeaders,
    pub change: Option<TotalChange>,
}

#[derive(Debug)]
pub struct PagePlanner {
    per_page: u32,
    first: u32,
    /// The last page the caller allows (`max_pages`), if any.
    cap: Option<u32>,
    window: u32,
    /// The page count from the newest answer; unknown until the first one.
    last: Option<u32>,
    next_start: u32,
    next_deliver: u32,
    /// Answers waiting for their turn: (page, deliver it) (false for an empty page past the end).
    /// At most `window` of them, so a list searched in full: a `BTreeMap` here cost the wasm
    /// client its own copy of the B-tree code (issue 19).
    received: Vec<(u32, bool)>,
    total: Option<u64>,
    changes: Vec<TotalChange>,
}

impl PagePlanner {
    /// `window`: pages started but not yet delivered, at most (in flight plus waiting in order).
    pub fn new(per_page: u32, first: u32, window: u32, max_pages: Option<u32>) -> Self {
        let first = first.max(1);
        PagePlanner {
            per_page,
            first,
            cap: max_pages.map(|n| first.saturating_add(n.max(1) - 1)),
            window: window.max(1),
            last: None,
            next_start: first,
            next_deliver: first,
            received: Vec::new(),
            total: None,
            changes: Vec::new(),
        }
    }

    fn end(&self) -> Option<u32> {
        let last = self.last?;
        Some(match self.cap {
            Some(c) => c.min(last),
            None => last,
        })
    }

    /// A page to start now, if the plan allows one more in flight.
    pub fn poll_fetch(&mut self) -> Option<u32> {
        let can = match self.end() {
            // Until the first answer says how many pages there are, only the first goes out.
            None => self.next_start == self.first,
            Some(end) => self.next_start <= end,
        };
        if !can || self.next_start - self.next_deliver >= self.window {
            return None;
        }
        let p = self.next_start;
        self.next_start = self.next_start.checked_add(1)?;
        Some(p)
    }

    /// Checks an answer to a request for `page` holding `records` records, and records it.
    pub fn handle_page(
        &mut self,
        page: u32,
        headers: PageHeaders,
        records: usize,
        status: u16,
    ) -> Result<Accepted> {
        if page < self.next_deliver
            || page >= self.next_start
            || self.received.iter().any(|r| r.0 == page)
        {
            return Err(bad_answer(
                status,
                format!("an answer for page {page}, which was not awaited"),
            ));
        }
        if headers.page != page {
            return Err(bad_answer(
                status,
                format!(
                    "asked for page {page}, the answer says X-Page {}",
                    headers.page
                ),
            ));
        }
        let first_alone = page == self.first && self.next_start == self.first + 1;
        let mut headers = headers;
        // The vendor caps per_page below what was asked (the document says max 1000; a vendor
        // may cap lower). Known from the first page, before any other is asked for: by its
        // X-Limit, or without one by a first page shorter than asked that says more follow.
        // The pages then follow that size.
        let cap = if headers.limit_stated {
            Some(headers.limit)
        } else {
            (records > 0
                && (records as u64) < u64::from(self.per_page)
                && headers.more_after(records))
            .then_some(records as u32)
        };
        if let Some(c) = cap.filter(|c| first_alone && *c < self.per_page) {
            self.per_page = c;
        }
        if !headers.limit_stated && headers.limit != self.per_page {
            headers = headers.with_limit(self.per_page, records);
        }
        if headers.limit != self.per_page {
            return Err(bad_answer(
                status,
                format!(
                    "asked for {} records per page, the answer says X-Limit {}",
                    self.per_page, headers.limit
                ),
            ));
        }
        let expected = headers.expected_records();
        if records as u64 != expected {
            return Err(bad_answer(
                status,
                format!(
                    "page {page} holds {records} records, but its headers (X-Total-Count {}, X-Limit {}) say {expected}",
                    headers.total_count, headers.limit
                ),
            ));
        }
        let change = match self.total {
            // Totals implied by a page's records grow page by page: not a change of data.
            _ if !headers.exact => None,
            Some(prev) if prev != headers.total_count => Some(TotalChange {
                page,
                previous: prev,
                current: headers.total_count,
            }),
            _ => None,
        };
        if let Some(c) = change {
            self.changes.push(c);
        }
        if headers.exact {
            self.total = Some(headers.total_count);
        }
        self.last = Some(headers.page_last);
        self.received
            .push((page, records > 0 || page <= headers.page_last));
        Ok(Accepted { headers, change })
    }

    /// The next page to hand over in order, if its answer is in: `(page, deliver)`. A page past
    /// the end (the total shrank while it was in flight) is empty and comes with `deliver: false`.
    pub fn next_ready(&mut self) -> Option<(u32, bool)> {
        let at = self
            .received
            .iter()
            .position(|r| r.0 == self.next_deliver)?;
        let (_, deliver) = self.received.swap_remove(at);
        let p = self.next_deliver;
        self.next_deliver += 1;
        Some((p, deliver))
    }

    /// Every page of the plan was fetched and handed over.
    pub fn is_done(&self) -> bool {
        match self.end() {
            Some(end) => self.next_deliver > end && self.next_deliver == self.next_start,
            None => false,
        }
    }

    /// Pages started and not yet handed over (in flight or waiting for their turn).
    pub fn outstanding(&self) -> u32 {
        self.next_start - self.next_deliver
    }

    pub fn total(&self) -> Option<u64> {
        self.total
    }

    pub fn page_last(&self) -> Option<u32> {
        self.last
    }

    pub fn changes(&self) -> &[TotalChange] {
        &self.changes
    }

    /// Whether the plan stopped at `max_pages` before the last page.
    pub fn capped(&self) -> bool {
        matches!((self.cap, self.last), (Some(c), Some(l)) if c < l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(total: &str, last: &str, limit: &str, page: &str) -> Vec<(String, String)> {
        vec![
            ("x-total-count".into(), total.into()),
            ("X-Page-Last".into(), last.into()),
            ("X-LIMIT".into(), limit.into()),
            ("X-Page".into(), page.into()),
        ]
    }

    fn h(total: u64, limit: u32, page: u32) -> PageHeaders {
        PageHeaders {
            total_count: total,
            page_last: total.div_ceil(limit.into()).max(1) as u32,
            limit,
            page,
            exact: true,
            limit_stated: true,
            last_stated: true,
        }
    }

    /// Walks a vendor of `total` records at `limit` per page whose answers carry only the
    /// headers `keep` names, one page at a time as the plan allows.
    fn walk(total: usize, limit: u32, keep: &[&str]) -> (Vec<u32>, Vec<u32>) {
        let mut p = PagePlanner::new(limit, 1, 4, None);
        let (mut asked, mut delivered) = (Vec::new(), Vec::new());
        for _ in 0..100 {
            let mut batch = Vec::new();
            while let Some(q) = p.poll_fetch() {
                batch.push(q);
            }
            for q in batch {
                asked.push(q);
                let before = (q as usize - 1) * limit as usize;
                let n = total.saturating_sub(before).min(limit as usize);
                let all = hdrs(
                    &total.to_string(),
                    &total.div_ceil(limit as usize).max(1).to_string(),
                    &limit.to_string(),
                    &q.to_string(),
                );
                let kept: Vec<(String, String)> = all
                    .into_iter()
                    .filter(|(k, _)| keep.iter().any(|w| w.eq_ignore_ascii_case(k)))
                    .collect();
                let h = PageHeaders::read(&kept, 200, q, limit, n).unwrap();
                let a = p.handle_page(q, h, n, 200).unwrap();
                assert_eq!(a.change, None);
                while let Some((r, deliver)) = p.next_ready() {
                    if deliver {
                        delivered.push(r);
                    }
                }
            }
            if p.is_done() {
                return (asked, delivered);
            }
        }
        panic!("the walk did not end");
    }

    #[test]
    fn every_reading_of_the_page_headers_walks_every_page_once() {
        let all = ["X-Total-Count", "X-Page-Last", "X-Limit", "X-Page"];
        for total in [0usize, 7, 10, 25, 30] {
            let pages = total.div_ceil(10).max(1) as u32;
            let every: Vec<u32> = (1..=pages).collect();
            // All four, or the total alone: exactly the pages there are.
            for keep in [&all[..], &["X-Total-Count"], &["X-Total-Count", "X-Page"]] {
                let (asked, delivered) = walk(total, 10, keep);
                assert_eq!(asked, every, "{total} {keep:?}");
                assert_eq!(delivered, every, "{total} {keep:?}");
            }
            // X-Page-Last alone: the same.
            let (asked, _) = walk(total, 10, &["X-Page-Last"]);
            assert_eq!(asked, every, "{total} X-Page-Last only");
            // No headers: one empty page more, never a page less.
            let (asked, delivered) = walk(total, 10, &[]);
            let extra = u32::from(total > 0);
            assert_eq!(
                asked,
                (1..=pages + extra).collect::<Vec<_>>(),
                "{total} none"
            );
            assert_eq!(delivered, asked, "{total} none (the extra page is empty)");
        }
    }

    #[test]
    fn headers_are_read_strictly() {
        let p = PageHeaders::parse(&hdrs("25", "3", "10", "2"), 200).unwrap();
        assert_eq!(p, h(25, 10, 2));
        assert_eq!(p.expected_records(), 10);
        assert_eq!(h(25, 10, 3).expected_records(), 5);
        assert_eq!(h(25, 10, 4).expected_records(), 0);
        assert_eq!(h(0, 10, 1).expected_records(), 0);
        assert_eq!(
            PageHeaders::parse(&hdrs("0", "1", "10", "1"), 200)
                .unwrap()
                .page_last,
            1
        );
        let bad = [
            (hdrs("25", "3", "10", "x"), "X-Page"),
            (hdrs("2.5", "3", "10", "1"), "X-Total-Count"),
            (hdrs("25", "+3", "10", "1"), "X-Page-Last"),
            (hdrs("25", "3", "0", "1"), "X-Limit"),
            (hdrs("25", "3", "10", "0"), "X-Page"),
            (hdrs("25", "4", "10", "1"), "X-Page-Last is 4"),
            (hdrs("0", "0", "10", "1"), "X-Page-Last"),
            (hdrs("25", "3", "10", "99999999999"), "X-Page"),
            (hdrs("", "3", "10", "1"), "X-Total-Count"),
        ];
        for (headers, needle) in bad {
            let e = PageHeaders::parse(&headers, 200).unwrap_err();
            assert_eq!(e.code(), "E_HTTP");
            assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        }
        let mut missing = hdrs("25", "3", "10", "1");
        missing.remove(1);
        let e = PageHeaders::parse(&missing, 200).unwrap_err();
        assert!(
            e.to_string().contains("X-Page-Last header is missing"),
            "{e}"
        );
    }

    #[test]
    fn first_page_alone_then_a_bounded_window_delivered_in_order() {
        let mut p = PagePlanner::new(10, 1, 3, None);
        assert_eq!(p.poll_fetch(), Some(1));
        assert_eq!(
            p.poll_fetch(),
            None,
            "nothing more until the count is known"
        );
        p.handle_page(1, h(65, 10, 1), 10, 200).unwrap();
        assert_eq!(p.next_ready(), Some((1, true)));
        let started: Vec<u32> = std::iter::from_fn(|| p.poll_fetch()).collect();
        assert_eq!(started, vec![2, 3, 4], "three in flight");
        // Answers arrive out of order; delivery waits for page 2.
        p.handle_page(4, h(65, 10, 4), 10, 200).unwrap();
        p.handle_page(3, h(65, 10, 3), 10, 200).unwrap();
        assert_eq!(p.next_ready(), None);
        assert_eq!(
            p.poll_fetch(),
            None,
            "the window counts pages waiting for their turn"
        );
        p.handle_page(2, h(65, 10, 2), 10, 200).unwrap();
        assert_eq!(p.next_ready(), Some((2, true)));
        assert_eq!(p.next_ready(), Some((3, true)));
        assert_eq!(p.next_ready(), Some((4, true)));
        assert_eq!(p.next_ready(), None);
        let started: Vec<u32> = std::iter::from_fn(|| p.poll_fetch()).collect();
        assert_eq!(started, vec![5, 6, 7]);
        assert!(!p.is_done());
        for q in [7, 5, 6] {
            p.handle_page(q, h(65, 10, q), if q == 7 { 5 } else { 10 }, 200)
                .unwrap();
        }
        while p.next_ready().is_some() {}
        assert!(p.is_done());
        assert_eq!(p.poll_fetch(), None);
        assert!(p.changes().is_empty());
    }

    #[test]
    fn a_single_empty_page_is_done() {
        let mut p = PagePlanner::new(100, 1, 4, None);
        assert_eq!(p.poll_fetch(), Some(1));
        p.handle_page(1, h(0, 100, 1), 0, 200).unwrap();
        assert_eq!(p.next_ready(), Some((1, true)));
        assert!(p.is_done());
    }

    #[test]
    fn a_starting_page_and_a_cap() {
        let mut p = PagePlanner::new(10, 3, 8, Some(2));
        assert_eq!(p.poll_fetch(), Some(3));
        p.handle_page(3, h(100, 10, 3), 10, 200).unwrap();
        assert_eq!(p.poll_fetch(), Some(4));
        assert_eq!(p.poll_fetch(), None, "capped at two pages");
        p.handle_page(4, h(100, 10, 4), 10, 200).unwrap();
        while p.next_ready().is_some() {}
        assert!(p.is_done() && p.capped());
        // Starting past the end: one empty answer, nothing to hand over, done.
        let mut p = PagePlanner::new(10, 9, 4, None);
        assert_eq!(p.poll_fetch(), Some(9));
        p.handle_page(9, h(25, 10, 9), 0, 200).unwrap();
        assert_eq!(p.next_ready(), Some((9, false)));
        assert!(p.is_done());
    }

    #[test]
    fn total_changes_are_recorded_and_the_plan_follows_them() {
        let mut p = PagePlanner::new(10, 1, 4, None);
        p.poll_fetch();
        p.handle_page(1, h(30, 10, 1), 10, 200).unwrap();
        p.next_ready();
        assert_eq!(
            std::iter::from_fn(|| p.poll_fetch()).collect::<Vec<_>>(),
            vec![2, 3]
        );
        // The data grew: page 2's answer says 45 records, 5 pages.
        let a = p.handle_page(2, h(45, 10, 2), 10, 200).unwrap();
        assert_eq!(
            a.change,
            Some(TotalChange {
                page: 2,
                previous: 30,
                current: 45
            })
        );
        assert_eq!(
            std::iter::from_fn(|| p.poll_fetch()).collect::<Vec<_>>(),
            vec![4, 5]
        );
        // Then shrank to 12: pages 3..5 are past the end and come back empty.
        let a = p.handle_page(3, h(12, 10, 3), 0, 200).unwrap();
        assert_eq!(a.change.unwrap().current, 12);
        p.handle_page(5, h(12, 10, 5), 0, 200).unwrap();
        p.handle_page(4, h(12, 10, 4), 0, 200).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| p.next_ready()).collect();
        assert_eq!(order, vec![(2, true), (3, false), (4, false), (5, false)]);
        assert!(p.is_done());
        assert_eq!(p.changes().len(), 2);
        assert_eq!(p.total(), Some(12));
    }

    #[test]
    fn a_vendor_capping_per_page_is_followed_from_the_first_page() {
        let mut p = PagePlanner::new(10, 1, 4, None);
        assert_eq!(p.poll_fetch(), Some(1));
        p.handle_page(1, h(10, 4, 1), 4, 200).unwrap();
        let mut asked = Vec::new();
        while let Some(q) = p.poll_fetch() {
            asked.push(q);
        }
        assert_eq!(asked, [2, 3], "10 records at 4 a page");
        p.handle_page(3, h(10, 4, 3), 2, 200).unwrap();
        p.handle_page(2, h(10, 4, 2), 4, 200).unwrap();
        while p.next_ready().is_some() {}
        assert!(p.is_done());
        // A limit that changes later is still an error.
        let mut p = PagePlanner::new(10, 1, 4, None);
        p.poll_fetch();
        p.handle_page(1, h(30, 10, 1), 10, 200).unwrap();
        p.poll_fetch();
        let e = p.handle_page(2, h(30, 5, 2), 5, 200).unwrap_err();
        assert!(e.to_string().contains("X-Limit 5"), "{e}");
    }

    #[test]
    fn a_cap_without_x_limit_is_read_from_a_short_first_page() {
        // 67 records, asked 100 a page, served 50: X-Total-Count alone, or X-Page-Last alone.
        for keep in [&["X-Total-Count"][..], &["X-Page-Last"]] {
            let mut p = PagePlanner::new(100, 1, 4, None);
            let mut got = Vec::new();
            for _ in 0..10 {
                let batch: Vec<u32> = std::iter::from_fn(|| p.poll_fetch()).collect();
                for q in batch {
                    let n = 67usize.saturating_sub((q as usize - 1) * 50).min(50);
                    let all = hdrs("67", "2", "50", &q.to_string());
                    let kept: Vec<(String, String)> = all
                        .into_iter()
                        .filter(|(k, _)| keep.iter().any(|w| w.eq_ignore_ascii_case(k)))
                        .collect();
                    let h = PageHeaders::read(&kept, 200, q, 100, n).unwrap();
                    p.handle_page(q, h, n, 200).unwrap();
                    got.push((q, n));
                }
                while p.next_ready().is_some() {}
                if p.is_done() {
                    break;
                }
            }
            assert_eq!(got, [(1, 50), (2, 17)], "{keep:?}");
        }
    }

    #[test]
    fn answers_that_contradict_themselves_or_the_request_are_errors() {
        let mut p = PagePlanner::new(10, 1, 4, None);
        p.poll_fetch();
        let e = p.handle_page(1, h(30, 10, 2), 10, 200).unwrap_err();
        assert!(e.to_string().contains("X-Page 2"), "{e}");
        let e = p.handle_page(1, h(30, 20, 1), 20, 200).unwrap_err();
        assert!(e.to_string().contains("X-Limit 20"), "{e}");
        let e = p.handle_page(1, h(30, 10, 1), 9, 200).unwrap_err();
        assert!(e.to_string().contains("holds 9 records"), "{e}");
        let e = p.handle_page(2, h(30, 10, 2), 10, 200).unwrap_err();
        assert!(e.to_string().contains("not awaited"), "{e}");
        p.handle_page(1, h(30, 10, 1), 10, 200).unwrap();
        let e = p.handle_page(1, h(30, 10, 1), 10, 200).unwrap_err();
        assert!(e.to_string().contains("not awaited"), "{e}");
    }
}
