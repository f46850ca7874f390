//! Userpilot Lookups API: the twelve endpoints (the document's eleven plus `embeds`), and the
//! cursor pages of the two that paginate (`events_properties`, `segments`).
//!
//! Cursors are opaque standard base64, so they hold `+`, `/` and `=`: they are percent-encoded
//! into the query string, where a raw `+` would arrive as a space.

use crate::core::http::{form_encode, join_url, HttpRequest};
use crate::error::{Error, Result};
use serde_json::Value;

pub const LOOKUPS_PATH: &str = "/api/v1/analytics/exports/lookups/";

pub const LOOKUPS: [&str; 12] = [
    "user_properties",
    "company_properties",
    "features_events",
    "events_properties",
    "segments",
    "flows",
    "banners",
    "spotlights",
    "surveys",
    "resource_center_modules",
    "checklists",
    "embeds",
];

pub const PAGINATED: [&str; 2] = ["events_properties", "segments"];

/// The document's default page size.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;
const MAX_CURSOR: usize = 8 * 1024;

pub fn check_name(name: &str) -> Result<()> {
    if LOOKUPS.contains(&name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!(
                "unknown lookup {name:?}; expected one of {}",
                LOOKUPS.join(", ")
            ),
        ))
    }
}

pub fn is_paginated(name: &str) -> bool {
    PAGINATED.contains(&name)
}

/// Where a page starts and how long it is. Both unset: the first page at the vendor's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageRequest {
    pub after_cursor: Option<String>,
    pub limit: Option<u32>,
}

impl PageRequest {
    fn check(&self, name: &str) -> Result<()> {
        if !is_paginated(name) {
            if self.after_cursor.is_some() {
                return Err(Error::invalid(
                    "afterCursor",
                    format!(
                        "{name} is not paginated; only {} take a cursor",
                        PAGINATED.join(" and ")
                    ),
                ));
            }
            if self.limit.is_some() {
                return Err(Error::invalid(
                    "limit",
                    format!(
                        "{name} is not paginated; only {} take a limit",
                        PAGINATED.join(" and ")
                    ),
                ));
            }
        }
        if let Some(l) = self.limit {
            if !(1..=MAX_LIMIT).contains(&l) {
                return Err(Error::invalid(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}, got {l}"),
                ));
            }
        }
        if let Some(c) = &self.after_cursor {
            if c.is_empty() || c.len() > MAX_CURSOR || c.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "afterCursor",
                    "must be the metadata.cursor.after of a previous page",
                ));
            }
        }
        Ok(())
    }
}

pub fn lookup_request(base_url: &str, name: &str, page: &PageRequest) -> Result<HttpRequest> {
    check_name(name)?;
    page.check(name)?;
    let mut url = join_url(base_url, &format!("{LOOKUPS_PATH}{name}"));
    let mut sep = '?';
    if let Some(c) = &page.after_cursor {
        url.push(sep);
        url.push_str("after_cursor=");
        url.push_str(&form_encode(c));
        sep = '&';
    }
    if let Some(l) = page.limit {
        url.push(sep);
        url.push_str(&format!("limit={l}"));
    }
    Ok(HttpRequest::get(url)
        .with_header("Accept", "application/json")
        .authed())
}

/// One answer of a lookup. Unpaginated lookups come back as one page with no cursors.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub data: Vec<Value>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub limit: Option<u32>,
    pub total_count: Option<u64>,
    pub total_count_cap_exceeded: Option<bool>,
}

impl Page {
    /// Reads a lookup's answer: a JSON array, or `{data, metadata: {cursor: {after, before},
    /// limit, total_count}}` for the paginated ones. The vendor's example nests `limit` and
    /// `total_count` beside `cursor`; they are also accepted inside it.
    pub fn parse(name: &str, body: &[u8]) -> Result<Page> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            Error::decode(
                e.line() as u64,
                e.column() as u64,
                format!("the {name} lookup is not JSON"),
            )
        })?;
        match v {
            Value::Array(data) => Ok(Page {
                data,
                after: None,
                before: None,
                limit: None,
                total_count: None,
                total_count_cap_exceeded: None,
            }),
            Value::Object(mut m) => {
                // Taken in place, not `remove`d: the map is dropped below anyway, and `remove`
                // was the wasm client's only use of the B-tree's removal code (issue 19).
                let data = match m.get_mut("data").map(Value::take) {
                    Some(Value::Array(d)) => d,
                    _ => {
                        return Err(Error::decode(
                            1,
                            0,
                            format!("the {name} lookup has no data array"),
                        ))
                    }
                };
                let meta = m.get("metadata").unwrap_or(&Value::Null);
                let cursor = meta.get("cursor").unwrap_or(&Value::Null);
                let text = |v: &Value, k: &str| {
                    v.get(k)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                let either = |k: &str| meta.get(k).or_else(|| cursor.get(k));
                Ok(Page {
                    data,
                    after: text(cursor, "after"),
                    before: text(cursor, "before"),
                    limit: either("limit")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok()),
                    total_count: either("total_count").and_then(Value::as_u64),
                    total_count_cap_exceeded: either("total_count_cap_exceeded")
                        .and_then(Value::as_bool),
                })
            }
            _ => Err(Error::decode(
                1,
                0,
                format!("the {name} lookup is neither an array nor a page"),
            )),
        }
    }
}

/// Walks cursor pages: hands out the request for the next page and refuses a cursor that
/// repeats, so a vendor bug cannot make the walk loop forever.
#[derive(Debug, Clone)]
pub struct CursorWalk {
    name: String,
    limit: Option<u32>,
    next: Option<Option<String>>,
    seen: std::collections::HashSet<String>,
    pub pages: u64,
    pub items: u64,
}

impl CursorWalk {
    pub fn new(name: &str, limit: Option<u32>) -> Result<CursorWalk> {
        check_name(name)?;
        PageRequest {
            after_cursor: None,
            limit,
        }
        .check(name)?;
        Ok(CursorWalk {
            name: name.to_string(),
            limit,
            next: Some(None),
            seen: Default::default(),
            pages: 0,
            items: 0,
        })
    }

    /// The next page's request, or `None` when the walk is over.
    pub fn poll_request(&self, base_url: &str) -> Option<Result<HttpRequest>> {
        let after = self.next.as_ref()?;
        Some(lookup_request(
            base_url,
            &self.name,
            &PageRequest {
                after_cursor: after.clone(),
                limit: self.limit,
            },
        ))
    }

    /// Reads a page's body and moves the walk on.
    pub fn handle_page(&mut self, body: &[u8]) -> Result<Page> {
        let page = Page::parse(&self.name, body)?;
        self.pages += 1;
        self.items += page.data.len() as u64;
        self.next = match &page.after {
            Some(after) if is_paginated(&self.name) => {
                if !self.seen.insert(after.clone()) {
                    return Err(Error::decode(
                        1,
                        0,
                        format!(
                            "the {} lookup returned a cursor it had already returned (page {})",
                            self.name, self.pages
                        ),
                    ));
                }
                if page.data.is_empty() {
                    // A next cursor after an empty page would walk nothing forever.
                    None
                } else {
                    Some(Some(after.clone()))
                }
            }
            _ => None,
        };
        Ok(page)
    }

    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_names_and_two_paginate() {
        assert_eq!(LOOKUPS.len(), 12);
        for n in LOOKUPS {
            assert!(lookup_request("https://x", n, &PageRequest::default()).is_ok());
        }
        assert_eq!(
            lookup_request("https://x", "userproperties", &PageRequest::default())
                .unwrap_err()
                .field(),
            Some("name")
        );
        let r = lookup_request("https://x/", "embeds", &PageRequest::default()).unwrap();
        assert_eq!(r.url, "https://x/api/v1/analytics/exports/lookups/embeds");
        assert!(r.needs_auth);
    }

    #[test]
    fn cursors_are_percent_encoded_and_limits_checked() {
        let r = lookup_request(
            "https://x",
            "segments",
            &PageRequest {
                after_cursor: Some("g3Q+AA/b=".into()),
                limit: Some(50),
            },
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://x/api/v1/analytics/exports/lookups/segments?after_cursor=g3Q%2BAA%2Fb%3D&limit=50"
        );
        let bad = |name: &str, after: Option<&str>, limit: Option<u32>| {
            lookup_request(
                "https://x",
                name,
                &PageRequest {
                    after_cursor: after.map(str::to_string),
                    limit,
                },
            )
            .unwrap_err()
            .field()
            .map(str::to_string)
        };
        assert_eq!(bad("segments", None, Some(0)).as_deref(), Some("limit"));
        assert_eq!(bad("segments", None, Some(1001)).as_deref(), Some("limit"));
        assert_eq!(bad("flows", None, Some(10)).as_deref(), Some("limit"));
        assert_eq!(
            bad("flows", Some("x"), None).as_deref(),
            Some("afterCursor")
        );
        assert_eq!(
            bad("segments", Some(""), None).as_deref(),
            Some("afterCursor")
        );
    }

    #[test]
    fn the_documents_page_parses() {
        let body = br#"{ "data": [ { "category": null, "data_type": "string", "id": "-2", "key": "url" } ],
          "metadata": { "cursor": { "after": "g3QAAA+/=", "before": null}, "limit": 50, "total_count": 53, "total_count_cap_exceeded": false} }"#;
        let p = Page::parse("events_properties", body).unwrap();
        assert_eq!(p.data.len(), 1);
        assert_eq!(p.after.as_deref(), Some("g3QAAA+/="));
        assert_eq!(p.before, None);
        assert_eq!(p.limit, Some(50));
        assert_eq!(p.total_count, Some(53));
        let arr = Page::parse("flows", br#"[{"id":1},{"id":2}]"#).unwrap();
        assert_eq!((arr.data.len(), arr.after), (2, None));
        assert_eq!(Page::parse("flows", b"{}").unwrap_err().code(), "E_DECODE");
        assert_eq!(
            Page::parse("flows", b"nope").unwrap_err().code(),
            "E_DECODE"
        );
    }

    #[test]
    fn a_walk_follows_after_until_null_and_refuses_loops() {
        let mut w = CursorWalk::new("segments", Some(2)).unwrap();
        let r = w.poll_request("https://x").unwrap().unwrap();
        assert!(r.url.ends_with("segments?limit=2"), "{}", r.url);
        w.handle_page(br#"{"data":[1,2],"metadata":{"cursor":{"after":"A+","before":null},"limit":2,"total_count":3}}"#)
            .unwrap();
        let r = w.poll_request("https://x").unwrap().unwrap();
        assert!(
            r.url.ends_with("segments?after_cursor=A%2B&limit=2"),
            "{}",
            r.url
        );
        w.handle_page(br#"{"data":[3],"metadata":{"cursor":{"after":null,"before":"B"},"limit":2,"total_count":3}}"#)
            .unwrap();
        assert!(w.is_done() && w.poll_request("https://x").is_none());
        assert_eq!((w.pages, w.items), (2, 3));

        let mut w = CursorWalk::new("segments", None).unwrap();
        let page = br#"{"data":[1],"metadata":{"cursor":{"after":"A"}}}"#;
        w.handle_page(page).unwrap();
        assert_eq!(w.handle_page(page).unwrap_err().code(), "E_DECODE");

        let mut w = CursorWalk::new("flows", None).unwrap();
        w.handle_page(b"[]").unwrap();
        assert!(w.is_done());
        assert_eq!(
            CursorWalk::new("nope", None).unwrap_err().field(),
            Some("name")
        );
    }
}
