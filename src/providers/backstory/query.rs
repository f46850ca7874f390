//! Backstory Query API (`POST /v3/beta/insights/export`): the query model, its validation, and the
//! check that turns the vendor's silent column drops into a list the caller can see.
//!
//! Validation works on `serde_json::Value` rather than a derived deserializer so every error can
//! name the exact path (`filter.$and[1].clause.$in`), and so unknown keys (typos such as
//! `"filters"`) are refused instead of silently ignored: a call costs one of ten a day.

use crate::core::http::{join_url, HttpRequest};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

pub const EXPORT_PATH: &str = "/v3/beta/insights/export";
pub const TOKEN_PATH: &str = "/v3/auth/tokens";
pub const DAILY_LIMIT: u32 = 10;

/// `object: "activity"` is not in the document but has been seen in public use.
pub const OBJECTS: [&str; 4] = ["account", "opportunity", "user", "activity"];
pub const PERIODS: [&str; 5] = [
    "last_7_days",
    "last_30_days",
    "last_90_days",
    "current_quarter",
    "last_quarter",
];
pub const DEFAULT_PERIOD: &str = "last_7_days";
pub const OPERATORS: [&str; 7] = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in"];

/// Nesting deeper than this is a mistake or an attack, not a query.
const MAX_FILTER_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub slug: String,
    pub variation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Leaf {
        slug: String,
        op: String,
        value: Value,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub slug: String,
    pub direction: Direction,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub object: String,
    pub columns: Vec<Column>,
    pub filter: Option<Filter>,
    pub sort: Vec<SortKey>,
}

/// `variation("ootb_user_count_emails_sent", "last_30_days")` is
/// `"ootb_user_count_emails_sent_last_30_days"`. A leading underscore on the period is accepted.
pub fn variation(slug: &str, period: &str) -> Result<String> {
    let slug = slug.trim();
    if !is_slug(slug) {
        return Err(Error::invalid(
            "slug",
            "must be a non-empty slug of letters, digits and underscores",
        ));
    }
    let period = period.trim().trim_start_matches('_');
    if !PERIODS.contains(&period) {
        return Err(Error::invalid(
            "period",
            format!(
                "unknown time period {period:?}; expected one of {}",
                PERIODS.join(", ")
            ),
        ));
    }
    Ok(format!("{slug}_{period}"))
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

pub(crate) fn expect_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::invalid(path, format!("must be an object, not {}", type_name(v))))
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn refuse_unknown_keys(
    m: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
) -> Result<()> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            return Err(Error::invalid(
                at,
                format!("unknown key; expected one of {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn slug_at(v: Option<&Value>, path: &str) -> Result<String> {
    match v {
        None => Err(Error::invalid(path, "is required")),
        Some(Value::String(s)) if is_slug(s.trim()) => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(Error::invalid(
            path,
            "must be a non-empty slug of letters, digits and underscores",
        )),
        Some(other) => Err(Error::invalid(
            path,
            format!("must be a string, not {}", type_name(other)),
        )),
    }
}

fn attribute_slug(m: &Map<String, Value>, path: &str) -> Result<String> {
    let attr_path = format!("{path}.attribute");
    let attr = m
        .get("attribute")
        .ok_or_else(|| Error::invalid(&attr_path, "is required"))?;
    let attr = expect_object(attr, &attr_path)?;
    refuse_unknown_keys(attr, &attr_path, &["slug"])?;
    slug_at(attr.get("slug"), &format!("{attr_path}.slug"))
}

impl Query {
    /// Parses and validates a query in the vendor's wire shape (`variation_id`; `variationId` is
    /// accepted too for JavaScript callers).
    pub fn from_json(text: &str) -> Result<Query> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::new(crate::ErrorKind::InvalidArgument {
                field: "query".into(),
                reason: format!(
                    "is not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            })
        })?;
        Query::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<Query> {
        let m = expect_object(v, "query")?;
        refuse_unknown_keys(m, "", &["object", "columns", "filter", "sort"])?;
        let object = match m.get("object") {
            None => return Err(Error::invalid("object", "is required")),
            Some(Value::String(s)) if OBJECTS.contains(&s.as_str()) => s.clone(),
            Some(Value::String(s)) => {
                return Err(Error::invalid(
                    "object",
                    format!(
                        "unknown object {s:?}; expected one of {}",
                        OBJECTS.join(", ")
                    ),
                ))
            }
            Some(other) => {
                return Err(Error::invalid(
                    "object",
                    format!("must be a string, not {}", type_name(other)),
                ))
            }
        };
        let columns = match m.get("columns") {
            None => return Err(Error::invalid("columns", "is required")),
            Some(Value::Array(a)) if a.is_empty() => {
                return Err(Error::invalid("columns", "must list at least one column"))
            }
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, c)| parse_column(c, &format!("columns[{i}]")))
                .collect::<Result<Vec<_>>>()?,
            Some(other) => {
                return Err(Error::invalid(
                    "columns",
                    format!("must be an array, not {}", type_name(other)),
                ))
            }
        };
        let filter = match m.get("filter") {
            None | Some(Value::Null) => None,
            Some(f) => Some(parse_filter(f, "filter", 0)?),
        };
        let sort = match m.get("sort") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, s)| parse_sort(s, &format!("sort[{i}]")))
                .collect::<Result<Vec<_>>>()?,
            Some(other) => {
                return Err(Error::invalid(
                    "sort",
                    format!("must be an array, not {}", type_name(other)),
                ))
            }
        };
        Ok(Query {
            object,
            columns,
            filter,
            sort,
        })
    }

    /// The request body, in the vendor's shape. Keys come out sorted (serde_json's map), which
    /// also makes this the canonical form used as a cache key.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("object".into(), Value::String(self.object.clone()));
        m.insert(
            "columns".into(),
            Value::Array(
                self.columns
                    .iter()
                    .map(|c| {
                        let mut cm = Map::new();
                        cm.insert("slug".into(), Value::String(c.slug.clone()));
                        if let Some(v) = &c.variation_id {
                            cm.insert("variation_id".into(), Value::String(v.clone()));
                        }
                        Value::Object(cm)
                    })
                    .collect(),
            ),
        );
        if let Some(f) = &self.filter {
            m.insert("filter".into(), filter_value(f));
        }
        if !self.sort.is_empty() {
            m.insert(
                "sort".into(),
                Value::Array(
                    self.sort
                        .iter()
                        .map(|s| {
                            serde_json::json!({
                                "attribute": { "slug": s.slug },
                                "direction": if s.direction == Direction::Asc { "asc" } else { "desc" },
                            })
                        })
                        .collect(),
                ),
            );
        }
        Value::Object(m)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    pub fn export_request(&self, base_url: &str) -> HttpRequest {
        HttpRequest::post(
            join_url(base_url, EXPORT_PATH),
            "application/json",
            self.to_json().into_bytes(),
        )
        .with_header("Accept", "text/csv")
        .authed()
        .streamed()
    }

    /// Columns the vendor dropped: requested but absent from the CSV header. See [`match_header`].
    pub fn missing_columns(
        &self,
        header: &[String],
        labels: &dyn Fn(&str) -> Option<&'static str>,
    ) -> Vec<Column> {
        match_header(&self.columns, header, labels).missing
    }
}

fn parse_column(v: &Value, path: &str) -> Result<Column> {
    let m = expect_object(v, path)?;
    refuse_unknown_keys(m, path, &["slug", "variation_id", "variationId"])?;
    let slug = slug_at(m.get("slug"), &format!("{path}.slug"))?;
    let vpath = format!("{path}.variation_id");
    let variation_id = match m.get("variation_id").or_else(|| m.get("variationId")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let s = s.trim();
            let Some(period) = s
                .strip_prefix(slug.as_str())
                .and_then(|p| p.strip_prefix('_'))
            else {
                return Err(Error::invalid(
                    vpath,
                    format!("must start with its slug: expected \"{slug}_<period>\", got {s:?}"),
                ));
            };
            if !PERIODS.contains(&period) {
                return Err(Error::invalid(
                    vpath,
                    format!(
                        "names unknown time period {period:?}; expected one of {}",
                        PERIODS.join(", ")
                    ),
                ));
            }
            Some(s.to_string())
        }
        Some(other) => {
            return Err(Error::invalid(
                vpath,
                format!("must be a string, not {}", type_name(other)),
            ))
        }
    };
    Ok(Column { slug, variation_id })
}

fn parse_filter(v: &Value, path: &str, depth: usize) -> Result<Filter> {
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::invalid(
            path,
            format!("filters nest deeper than {MAX_FILTER_DEPTH} levels"),
        ));
    }
    let m = expect_object(v, path)?;
    for group in ["$and", "$or"] {
        if let Some(list) = m.get(group) {
            let gpath = format!("{path}.{group}");
            if m.len() != 1 {
                return Err(Error::invalid(
                    path,
                    format!("a {group} group must be the only key of its object"),
                ));
            }
            let Value::Array(items) = list else {
                return Err(Error::invalid(
                    gpath,
                    format!("must be an array of filters, not {}", type_name(list)),
                ));
            };
            if items.is_empty() {
                return Err(Error::invalid(gpath, "must contain at least one filter"));
            }
            let parsed = items
                .iter()
                .enumerate()
                .map(|(i, f)| parse_filter(f, &format!("{gpath}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>>>()?;
            return Ok(if group == "$and" {
                Filter::And(parsed)
            } else {
                Filter::Or(parsed)
            });
        }
    }
    if let Some(k) = m.keys().find(|k| k.starts_with('$')) {
        return Err(Error::invalid(
            format!("{path}.{k}"),
            "unknown group operator; expected $and or $or",
        ));
    }
    refuse_unknown_keys(m, path, &["attribute", "clause"])?;
    let slug = attribute_slug(m, path)?;
    let cpath = format!("{path}.clause");
    let clause = m
        .get("clause")
        .ok_or_else(|| Error::invalid(&cpath, "is required"))?;
    let clause = expect_object(clause, &cpath)?;
    if clause.len() != 1 {
        return Err(Error::invalid(
            &cpath,
            format!(
                "must hold exactly one operator (found {}); combine conditions with $and",
                clause.len()
            ),
        ));
    }
    let (op, value) = clause
        .iter()
        .next()
        .ok_or_else(|| Error::invalid(&cpath, "is empty"))?;
    let opath = format!("{cpath}.{op}");
    if !OPERATORS.contains(&op.as_str()) {
        return Err(Error::invalid(
            opath,
            format!("unknown operator; expected one of {}", OPERATORS.join(" ")),
        ));
    }
    match (op.as_str(), value) {
        ("$in", Value::Array(items)) => {
            if items.is_empty() {
                return Err(Error::invalid(opath, "must list at least one value"));
            }
            if let Some((i, bad)) = items.iter().enumerate().find(|(_, x)| !is_scalar(x)) {
                return Err(Error::invalid(
                    format!("{opath}[{i}]"),
                    format!(
                        "must be a string, number or boolean, not {}",
                        type_name(bad)
                    ),
                ));
            }
        }
        ("$in", other) => {
            return Err(Error::invalid(
                opath,
                format!("must be an array, not {}", type_name(other)),
            ))
        }
        (_, x) if is_scalar(x) => {}
        (_, other) => {
            return Err(Error::invalid(
                opath,
                format!(
                    "must be a string, number or boolean, not {}",
                    type_name(other)
                ),
            ))
        }
    }
    Ok(Filter::Leaf {
        slug,
        op: op.clone(),
        value: value.clone(),
    })
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn parse_sort(v: &Value, path: &str) -> Result<SortKey> {
    let m = expect_object(v, path)?;
    refuse_unknown_keys(m, path, &["attribute", "direction"])?;
    let slug = attribute_slug(m, path)?;
    let dpath = format!("{path}.direction");
    let direction = match m.get("direction") {
        None => Direction::Asc,
        Some(Value::String(s)) if s == "asc" => Direction::Asc,
        Some(Value::String(s)) if s == "desc" => Direction::Desc,
        Some(Value::String(s)) => {
            return Err(Error::invalid(
                dpath,
                format!("must be \"asc\" or \"desc\", not {s:?}"),
            ))
        }
        Some(other) => {
            return Err(Error::invalid(
                dpath,
                format!("must be \"asc\" or \"desc\", not {}", type_name(other)),
            ))
        }
    };
    Ok(SortKey { slug, direction })
}

fn filter_value(f: &Filter) -> Value {
    match f {
        Filter::Leaf { slug, op, value } => {
            let mut clause = Map::new();
            clause.insert(op.clone(), value.clone());
            serde_json::json!({ "attribute": { "slug": slug }, "clause": clause })
        }
        Filter::And(items) => {
            serde_json::json!({ "$and": items.iter().map(filter_value).collect::<Vec<_>>() })
        }
        Filter::Or(items) => {
            serde_json::json!({ "$or": items.iter().map(filter_value).collect::<Vec<_>>() })
        }
    }
}

/// How requested columns line up with the CSV header the vendor sent.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderMatch {
    pub missing: Vec<Column>,
    /// Headers that matched no requested column (kept so callers can show them).
    pub unexpected: Vec<String>,
}

/// Suffixes a slug has been seen to expand into: an id and a name, an amount and a currency.
const EXPANSIONS: [&str; 5] = ["id", "name", "amount", "currency", "value"];

/// Walks requested columns and headers in order. The vendor keeps the requested order and omits
/// invalid columns, so aligning in order avoids prefix confusion (`ootb_user` vs
/// `ootb_user_email`). A header matches a column by its slug, its variation id (or the 7-day
/// default), its display label, or `slug_<id|name|amount|currency|value>` for slugs that expand
/// into two columns.
pub fn match_header(
    columns: &[Column],
    header: &[String],
    labels: &dyn Fn(&str) -> Option<&'static str>,
) -> HeaderMatch {
    let norm = |s: &str| s.trim().to_ascii_lowercase();
    let header: Vec<String> = header.iter().map(|h| norm(h)).collect();
    // Matches by slug, variation or label: the header can only be this column's. A labelled
    // time-based header reads "Emails (Last 30 Days)".
    let exact = |c: &Column, h: &str| -> bool {
        let slug = c.slug.to_ascii_lowercase();
        let variation = c
            .variation_id
            .clone()
            .unwrap_or_else(|| format!("{}_{DEFAULT_PERIOD}", c.slug))
            .to_ascii_lowercase();
        let period = variation
            .strip_prefix(&format!("{slug}_"))
            .unwrap_or(DEFAULT_PERIOD)
            .replace('_', " ");
        h == slug
            || h == variation
            || labels(&c.slug).is_some_and(|label| {
                let label = norm(label);
                h == label || h == format!("{label} ({period})")
            })
    };
    let expansion = |c: &Column, h: &str| -> bool {
        let slug = c.slug.to_ascii_lowercase();
        h.strip_prefix(slug.as_str())
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|r| EXPANSIONS.contains(&r))
    };
    let mut missing = Vec::new();
    let mut unexpected = Vec::new();
    let mut at = 0;
    for (i, c) in columns.iter().enumerate() {
        let later = &columns[i + 1..];
        let claimed_later = |h: &str| later.iter().any(|l| exact(l, h));
        // This column's first header: the next one it matches, unless a later requested column
        // claims that header (or one before it) outright.
        let found = (at..header.len()).find(|&j| {
            exact(c, &header[j]) || (expansion(c, &header[j]) && !claimed_later(&header[j]))
        });
        let blocked = found.is_some_and(|j| (at..j).any(|k| claimed_later(&header[k])));
        match found {
            Some(j) if !blocked => {
                unexpected.extend(header[at..j].iter().cloned());
                at = j + 1;
                while at < header.len() && expansion(c, &header[at]) && !claimed_later(&header[at])
                {
                    at += 1;
                }
            }
            _ => missing.push(c.clone()),
        }
    }
    unexpected.extend(header[at..].iter().cloned());
    HeaderMatch {
        missing,
        unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Query> {
        Query::from_value(&v)
    }

    fn field_of(v: Value) -> String {
        parse(v).unwrap_err().field().unwrap().to_string()
    }

    fn no_labels(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn the_documents_examples_parse_and_round_trip() {
        let q = parse(json!({
            "object": "account",
            "columns": [{"slug": "ootb_account_crm_id"}, {"slug": "ootb_account_name"}, {"slug": "ootb_account_engagement_level"}],
            "filter": {"attribute": {"slug": "ootb_account_engagement_level"}, "clause": {"$lte": 50}},
            "sort": [{"attribute": {"slug": "ootb_account_engagement_level"}, "direction": "asc"}]
        }))
        .unwrap();
        assert_eq!(q.columns.len(), 3);
        assert_eq!(Query::from_value(&q.to_value()).unwrap(), q);
        let q = parse(json!({"object": "user", "columns": [
            {"slug": "ootb_user"},
            {"slug": "ootb_user_external_meetings_matched", "variation_id": "ootb_user_external_meetings_matched_last_30_days"},
            {"slug": "ootb_user_count_emails_sent", "variationId": "ootb_user_count_emails_sent_last_30_days"}
        ]}))
        .unwrap();
        assert_eq!(
            q.columns[2].variation_id.as_deref(),
            Some("ootb_user_count_emails_sent_last_30_days")
        );
        assert!(q
            .to_json()
            .contains("\"variation_id\":\"ootb_user_count_emails_sent_last_30_days\""));
    }

    #[test]
    fn nested_and_or_filters_with_every_operator() {
        let q = parse(
            json!({"object": "opportunity", "columns": [{"slug": "a"}], "filter": {"$and": [
                {"attribute": {"slug": "a"}, "clause": {"$eq": "x"}},
                {"$or": [
                    {"attribute": {"slug": "b"}, "clause": {"$ne": 1}},
                    {"attribute": {"slug": "c"}, "clause": {"$gt": 1.5}},
                    {"attribute": {"slug": "c"}, "clause": {"$gte": 2}},
                    {"$and": [
                        {"attribute": {"slug": "d"}, "clause": {"$lt": 1700000000000u64}},
                        {"attribute": {"slug": "d"}, "clause": {"$lte": 3}},
                        {"attribute": {"slug": "e"}, "clause": {"$in": ["p", "q"]}}
                    ]}
                ]}
            ]}}),
        )
        .unwrap();
        let Some(Filter::And(items)) = &q.filter else {
            panic!()
        };
        assert!(matches!(&items[1], Filter::Or(inner) if inner.len() == 4));
        assert_eq!(Query::from_value(&q.to_value()).unwrap(), q);
    }

    #[test]
    fn every_bad_input_names_its_field() {
        let base = |extra: Value| {
            let mut v = json!({"object": "account", "columns": [{"slug": "ootb_account_name"}]});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        assert_eq!(field_of(json!([])), "query");
        assert_eq!(field_of(json!({"columns": [{"slug": "a"}]})), "object");
        assert_eq!(field_of(base(json!({"object": "accounts"}))), "object");
        assert_eq!(field_of(base(json!({"object": 3}))), "object");
        assert_eq!(field_of(json!({"object": "account"})), "columns");
        assert_eq!(field_of(base(json!({"columns": []}))), "columns");
        assert_eq!(field_of(base(json!({"columns": "a"}))), "columns");
        assert_eq!(
            field_of(base(json!({"columns": [{"slug": "a"}, {"slug": ""}]}))),
            "columns[1].slug"
        );
        assert_eq!(
            field_of(base(json!({"columns": [{"slug": "a b"}]}))),
            "columns[0].slug"
        );
        assert_eq!(
            field_of(base(json!({"columns": [{"name": "a"}]}))),
            "columns[0].name"
        );
        assert_eq!(
            field_of(base(
                json!({"columns": [{"slug": "m", "variation_id": "n_last_7_days"}]})
            )),
            "columns[0].variation_id"
        );
        assert_eq!(
            field_of(base(
                json!({"columns": [{"slug": "m", "variation_id": "m_last_8_days"}]})
            )),
            "columns[0].variation_id"
        );
        assert_eq!(
            field_of(base(json!({"columns": [{"slug": "m", "variation_id": 7}]}))),
            "columns[0].variation_id"
        );
        assert_eq!(field_of(base(json!({"filters": {}}))), "filters");
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {"$like": "x"}}})
            )),
            "filter.clause.$like"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {}}})
            )),
            "filter.clause"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {"$eq": 1, "$ne": 2}}})
            )),
            "filter.clause"
        );
        assert_eq!(
            field_of(base(json!({"filter": {"attribute": {"slug": "a"}}}))),
            "filter.clause"
        );
        assert_eq!(
            field_of(base(json!({"filter": {"clause": {"$eq": 1}}}))),
            "filter.attribute"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {}, "clause": {"$eq": 1}}})
            )),
            "filter.attribute.slug"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {"$in": 3}}})
            )),
            "filter.clause.$in"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {"$in": []}}})
            )),
            "filter.clause.$in"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {"$in": [1, {}]}}})
            )),
            "filter.clause.$in[1]"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"attribute": {"slug": "a"}, "clause": {"$eq": [1]}}})
            )),
            "filter.clause.$eq"
        );
        assert_eq!(
            field_of(base(json!({"filter": {"$and": []}}))),
            "filter.$and"
        );
        assert_eq!(
            field_of(base(json!({"filter": {"$and": {}}}))),
            "filter.$and"
        );
        assert_eq!(
            field_of(base(json!({"filter": {"$nor": []}}))),
            "filter.$nor"
        );
        assert_eq!(
            field_of(base(
                json!({"filter": {"$or": [{"attribute": {"slug": "a"}, "clause": {"$eq": 1}}, {"$and": [{"attribute": {"slug": "a"}, "clause": {"$gt": null}}]}]}})
            )),
            "filter.$or[1].$and[0].clause.$gt"
        );
        assert_eq!(
            field_of(base(
                json!({"sort": [{"attribute": {"slug": "a"}, "direction": "up"}]})
            )),
            "sort[0].direction"
        );
        assert_eq!(
            field_of(base(
                json!({"sort": [{"attribute": {"slug": "a"}, "direction": "ASC"}]})
            )),
            "sort[0].direction"
        );
        assert_eq!(
            field_of(base(json!({"sort": [{"direction": "asc"}]}))),
            "sort[0].attribute"
        );
        assert_eq!(field_of(base(json!({"sort": {}}))), "sort");
        let e = Query::from_json("{\"object\": ").unwrap_err();
        assert_eq!(e.field(), Some("query"));
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut f = json!({"attribute": {"slug": "a"}, "clause": {"$eq": 1}});
        for _ in 0..100 {
            f = json!({"$and": [f]});
        }
        let e = parse(json!({"object": "account", "columns": [{"slug": "a"}], "filter": f}))
            .unwrap_err();
        assert!(e.field().unwrap().starts_with("filter.$and[0]"));
    }

    #[test]
    fn variation_helper() {
        assert_eq!(
            variation("ootb_user_count_emails_sent", "last_30_days").unwrap(),
            "ootb_user_count_emails_sent_last_30_days"
        );
        assert_eq!(
            variation("x", "_current_quarter").unwrap(),
            "x_current_quarter"
        );
        assert_eq!(
            variation("x", "last_year").unwrap_err().field(),
            Some("period")
        );
        assert_eq!(
            variation("", "last_7_days").unwrap_err().field(),
            Some("slug")
        );
    }

    fn cols(spec: &[(&str, Option<&str>)]) -> Vec<Column> {
        spec.iter()
            .map(|(s, v)| Column {
                slug: s.to_string(),
                variation_id: v.map(str::to_string),
            })
            .collect()
    }

    fn hdr(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn missing_columns_are_found_in_order() {
        let c = cols(&[
            ("ootb_user", None),
            ("bogus_slug", None),
            ("ootb_user_email", None),
            (
                "ootb_user_count_emails_sent",
                Some("ootb_user_count_emails_sent_last_30_days"),
            ),
            ("ootb_user_external_meetings_matched", None),
        ]);
        let m = match_header(
            &c,
            &hdr(&[
                "ootb_user",
                "ootb_user_email",
                "ootb_user_count_emails_sent_last_30_days",
                "ootb_user_external_meetings_matched_last_7_days",
            ]),
            &no_labels,
        );
        assert_eq!(m.missing, cols(&[("bogus_slug", None)]));
        assert!(m.unexpected.is_empty());
    }

    #[test]
    fn a_missing_slug_that_prefixes_a_present_one_is_still_missing() {
        let c = cols(&[("ootb_user", None), ("ootb_user_email", None)]);
        let m = match_header(&c, &hdr(&["ootb_user_email"]), &no_labels);
        assert_eq!(m.missing, cols(&[("ootb_user", None)]));
        let c = cols(&[("ootb_account_owner", None), ("ootb_account_name", None)]);
        let m = match_header(
            &c,
            &hdr(&[
                "ootb_account_owner_id",
                "ootb_account_owner_name",
                "ootb_account_name",
            ]),
            &no_labels,
        );
        assert!(m.missing.is_empty(), "{m:?}");
        // The owner column dropped: its name header is not mistaken for the next column's.
        let c = cols(&[("ootb_account", None), ("ootb_account_name", None)]);
        let m = match_header(&c, &hdr(&["ootb_account_name"]), &no_labels);
        assert_eq!(m.missing, cols(&[("ootb_account", None)]));
    }

    #[test]
    fn a_wrong_variation_is_missing_and_labels_match() {
        let c = cols(&[("m", Some("m_last_90_days"))]);
        assert_eq!(
            match_header(&c, &hdr(&["m_last_7_days"]), &no_labels)
                .missing
                .len(),
            1
        );
        let labels = |s: &str| {
            if s == "ootb_account_name" {
                Some("Account Name")
            } else {
                None
            }
        };
        let c = cols(&[("ootb_account_name", None)]);
        assert!(match_header(&c, &hdr(&[" account name "]), &labels)
            .missing
            .is_empty());
        let labels = |s: &str| if s == "m" { Some("Emails") } else { None };
        let c = cols(&[("m", Some("m_last_30_days"))]);
        assert!(match_header(&c, &hdr(&["Emails (Last 30 Days)"]), &labels)
            .missing
            .is_empty());
        assert_eq!(
            match_header(&c, &hdr(&["Emails (Last 30 Days) (renamed)"]), &labels)
                .missing
                .len(),
            1
        );
        assert_eq!(
            match_header(&c, &hdr(&["Emails (Last 7 Days)"]), &labels)
                .missing
                .len(),
            1
        );
        assert_eq!(
            match_header(&c, &hdr(&["Something Else"]), &labels).unexpected,
            vec!["something else"]
        );
    }

    #[test]
    fn export_request_is_authed_streamed_json() {
        let q = parse(json!({"object": "account", "columns": [{"slug": "a"}]})).unwrap();
        let r = q.export_request("https://api.people.ai/");
        assert_eq!(r.url, "https://api.people.ai/v3/beta/insights/export");
        assert!(r.needs_auth && r.stream_body && !r.idempotent);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}
