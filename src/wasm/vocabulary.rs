//! The vendors' vocabulary as the Rust providers define it, for the JavaScript that needs the lists
//! themselves (option pickers, the edge worker's allow-list, CLI help): one source, so the lists
//! cannot drift from what the clients accept. The sandbox (sandbox/) keeps its own copy on
//! purpose: it is the independent oracle the clients are tested against.

use super::backstory::set;
use crate::providers::backstory::activities::{self, ActivityType, ExportType};
use crate::providers::backstory::query;
use crate::providers::userpilot::{exports, lookups};
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

/// The characters a job id may hold, as [`crate::providers::check_path_id`] accepts them: the
/// first may not be `.` (so never `.` or `..`). Kept next to the probe below, which takes the
/// length from the check itself; tests/edge/vocabulary.test.mjs holds the pattern against the
/// clients' own refusals.
const ID_FIRST: &str = "[A-Za-z0-9_-]";
const ID_REST: &str = "[A-Za-z0-9._-]";

/// The longest id `check` accepts. Probed rather than restated, so the number lives only in the
/// provider; ids are short, so the probe is a few hundred tiny allocations, once per call.
fn longest_id(check: impl Fn(&str) -> bool) -> usize {
    (1..=4096)
        .take_while(|&n| check(&"a".repeat(n)))
        .last()
        .unwrap_or(0)
}

fn id_rule(check: impl Fn(&str) -> bool) -> Object {
    let max = longest_id(check);
    let o = Object::new();
    // One path segment, unanchored, so a router can embed it in a larger pattern.
    set(
        &o,
        "segment",
        format!("{ID_FIRST}{ID_REST}{{0,{}}}", max.saturating_sub(1)),
    );
    set(&o, "maxLength", max as u32);
    o
}

fn list(items: &[&str]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// `{ backstory: { objects, periods, defaultPeriod, operators, activityTypes, exportTypes, jobId },
/// userpilot: { eventTypes, lookups, paginatedLookups, jobId } }`, where each `jobId` is
/// `{ segment, maxLength }` (`segment`: an unanchored RegExp source for one id). Built with js_sys
/// rather than serde-wasm-bindgen, which nothing else in the build uses yet (about 9 KB of wasm).
#[wasm_bindgen]
pub fn vocabulary() -> Object {
    let backstory = Object::new();
    set(&backstory, "objects", list(&query::OBJECTS));
    set(&backstory, "periods", list(&query::PERIODS));
    set(&backstory, "defaultPeriod", query::DEFAULT_PERIOD);
    set(&backstory, "operators", list(&query::OPERATORS));
    set(&backstory, "activityTypes", list(&ActivityType::ALL));
    set(&backstory, "exportTypes", list(&ExportType::ALL));
    set(
        &backstory,
        "jobId",
        id_rule(|id| activities::check_job_id(id).is_ok()),
    );
    let userpilot = Object::new();
    set(&userpilot, "eventTypes", list(&exports::EVENT_TYPES));
    set(&userpilot, "lookups", list(&lookups::LOOKUPS));
    set(&userpilot, "paginatedLookups", list(&lookups::PAGINATED));
    set(
        &userpilot,
        "jobId",
        id_rule(|id| exports::check_job_id("jobId", id).is_ok()),
    );
    let o = Object::new();
    set(&o, "backstory", backstory);
    set(&o, "userpilot", userpilot);
    o
}
