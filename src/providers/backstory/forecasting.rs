//! Backstory Forecasting Query API (beta, issue 4): the query parameters, their validation, the
//! page requests, the pagination headers and the plan of which pages to fetch ([`pages`]), and the
//! flat table of records ([`table`]).
//!
//! Assumption: the vendor's page names no path or method. We send `POST` to [`DEFAULT_PATH`]
//! (what public callers use and what the sandbox serves) and let the caller override the path.
//!
//! Validation works on `serde_json::Value`, like the Query API's, so every error names the key
//! as the caller wrote it (`perPage` or `per_page`, `timeframe.since`) and unknown keys are
//! refused rather than silently dropped.

use super::query::type_name;
use crate::core::http::{form_encode, join_url, HttpRequest};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

pub mod pages;
pub mod table;

pub use pages::{PageHeaders, PagePlanner, TotalChange};
pub use table::{ForecastTable, Record};

/// Assumed: the public page documents the body but not where to send it.
pub const DEFAULT_PATH: &str = "/v3/beta/forecasting/query";
pub const MAX_PER_PAGE: u32 = 1000;
/// Ids and epoch milliseconds must survive a round trip through a JavaScript number.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Node name, node id, submitted by.
    Default,
    /// Hierarchy level first, then as `Default`.
    HierarchyLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshots {
    Latest,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiscalPeriod {
    Id(String),
    /// Salesforce id.
    ExternalId(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HierarchyNode {
    Id(u64),
    /// Salesforce id of the node's ownership.
    OwnershipExternalId(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeframe {
    pub snapshots: Snapshots,
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastQuery {
    pub forecast_type_id: u64,
    pub per_page: u32,
    /// The first page to fetch (1 when absent).
    pub page: Option<u32>,
    pub fiscal_period: Option<FiscalPeriod>,
    pub hierarchy_node: Option<HierarchyNode>,
    pub include_descendants: Option<bool>,
    pub sort: Option<Sort>,
    pub timeframe: Option<Timeframe>,
}

/// Wire names with the camelCase spelling JavaScript callers may use instead.
const KEYS: [(&str, Option<&str>); 10] = [
    ("forecast_type_id", Some("forecastTypeId")),
    ("per_page", Some("perPage")),
    ("page", None),
    ("fiscal_period_id", Some("fiscalPeriodId")),
    ("fiscal_period_external_id", Some("fiscalPeriodExternalId")),
    ("sort", None),
    ("hierarchy_node_id", Some("hierarchyNodeId")),
    (
        "hierarchy_node_ownership_external_id",
        Some("hierarchyNodeOwnershipExternalId"),
    ),
    ("include_descendants", Some("includeDescendants")),
    ("timeframe", None),
];
const TIMEFRAME_KEYS: [&str; 3] = ["snapshots", "since", "until"];

/// The parameters as given, keyed by wire name, each with the key the caller used (for errors).
struct Given<'a> {
    m: &'a Map<String, Value>,
}

impl<'a> Given<'a> {
    fn new(m: &'a Map<String, Value>) -> Result<Self> {
        for k in m.keys() {
            if !KEYS
                .iter()
                .any(|(wire, camel)| k == wire || Some(k.as_str()) == *camel)
            {
                let names: Vec<&str> = KEYS.iter().map(|(w, _)| *w).collect();
                return Err(Error::invalid(
                    k.as_str(),
                    format!("unknown key; expected one of {}", names.join(", ")),
                ));
            }
        }
        Ok(Given { m })
    }

    /// `(key as written, value)`, `None` when absent or null (the vendor reads null as absent).
    fn get(&self, wire: &str) -> Result<Param<'a>> {
        let camel = KEYS.iter().find(|(w, _)| *w == wire).and_then(|(_, c)| *c);
        let a = self.m.get_key_value(wire).filter(|(_, v)| !v.is_null());
        let b = camel
            .and_then(|c| self.m.get_key_value(c))
            .filter(|(_, v)| !v.is_null());
        match (a, b) {
            (Some(_), Some((k, _))) => Err(Error::invalid(
                k.as_str(),
                format!("is given twice, as {wire} and {k}; keep one"),
            )),
            (Some((k, v)), None) | (None, Some((k, v))) => Ok(Some((k.as_str(), v))),
            (None, None) => Ok(None),
        }
    }
}

fn integer(key: &str, v: &Value, min: u64, max: u64) -> Result<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
                .map(|f| f as u64)
        }),
        other => {
            return Err(Error::invalid(
                key,
                format!("must be a whole number, not {}", type_name(other)),
            ))
        }
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Error::invalid(
            key,
            format!("must be a whole number from {min} to {max}, not {v}"),
        )),
    }
}

fn id_string(key: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Value::String(_) => Err(Error::invalid(key, "must not be empty")),
        other => Err(Error::invalid(
            key,
            format!("must be a string, not {}", type_name(other)),
        )),
    }
}

fn one_of<T: Copy>(key: &str, v: &Value, choices: &[(&str, T)]) -> Result<T> {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    match v {
        Value::String(s) => choices
            .iter()
            .find(|(n, _)| n == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                Error::invalid(
                    key,
                    format!("unknown value {s:?}; expected one of {}", names.join(", ")),
                )
            }),
        other => Err(Error::invalid(
            key,
            format!(
                "must be one of {}, not {}",
                names.join(", "),
                type_name(other)
            ),
        )),
    }
}

/// A parameter as given: the key the caller wrote, and its value.
type Param<'a> = Option<(&'a str, &'a Value)>;

/// At most one of an exclusive pair; the error names the second as the caller wrote it.
fn exclusive<'a>(g: &Given<'a>, a: &str, b: &str) -> Result<(Param<'a>, Param<'a>)> {
    let (x, y) = (g.get(a)?, g.get(b)?);
    if let (Some(_), Some((kb, _))) = (x, y) {
        return Err(Error::invalid(
            kb,
            format!("use either {a} or {b}, not both"),
        ));
    }
    Ok((x, y))
}

fn parse_timeframe(v: &Value, key: &str) -> Result<Timeframe> {
    let m = v
        .as_object()
        .ok_or_else(|| Error::invalid(key, format!("must be an object, not {}", type_name(v))))?;
    for k in m.keys() {
        if !TIMEFRAME_KEYS.contains(&k.as_str()) {
            return Err(Error::invalid(
                format!("{key}.{k}"),
                format!("unknown key; expected one of {}", TIMEFRAME_KEYS.join(", ")),
            ));
        }
    }
    let snapshots = match m.get("snapshots").filter(|v| !v.is_null()) {
        None => {
            return Err(Error::invalid(
                format!("{key}.snapshots"),
                "is required when a timeframe is given: latest or all",
            ))
        }
        Some(s) => one_of(
            &format!("{key}.snapshots"),
            s,
            &[("latest", Snapshots::Latest), ("all", Snapshots::All)],
        )?,
    };
    let ms = |name: &str| -> Result<Option<u64>> {
        match m.get(name).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => integer(&format!("{key}.{name}"), v, 0, MAX_SAFE_INTEGER).map(Some),
        }
    };
    let (since_ms, until_ms) = (ms("since")?, ms("until")?);
    if let (Some(s), Some(u)) = (since_ms, until_ms) {
        if s > u {
            return Err(Error::invalid(
                format!("{key}.since"),
                format!("must not be after {key}.until ({s} > {u})"),
            ));
        }
    }
    Ok(Timeframe {
        snapshots,
        since_ms,
        until_ms,
    })
}

impl ForecastQuery {
    pub fn from_json(text: &str) -> Result<ForecastQuery> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                "params",
                format!(
                    "is not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        ForecastQuery::from_value(&v)
    }

    /// Validates parameters in the vendor's shape (snake_case; camelCase accepted too).
    pub fn from_value(v: &Value) -> Result<ForecastQuery> {
        let m = v.as_object().ok_or_else(|| {
            Error::invalid("params", format!("must be an object, not {}", type_name(v)))
        })?;
        let g = Given::new(m)?;
        let forecast_type_id = match g.get("forecast_type_id")? {
            None => return Err(Error::invalid("forecast_type_id", "is required")),
            Some((k, v)) => integer(k, v, 1, MAX_SAFE_INTEGER)?,
        };
        let per_page = match g.get("per_page")? {
            None => {
                return Err(Error::invalid(
                    "per_page",
                    format!("is required: records per page, 1 to {MAX_PER_PAGE}"),
                ))
            }
            Some((k, v)) => integer(k, v, 1, MAX_PER_PAGE.into())? as u32,
        };
        let page = match g.get("page")? {
            None => None,
            Some((k, v)) => Some(integer(k, v, 1, u32::MAX.into())? as u32),
        };
        let fiscal_period = match exclusive(&g, "fiscal_period_id", "fiscal_period_external_id")? {
            (Some((k, v)), _) => Some(FiscalPeriod::Id(id_string(k, v)?)),
            (_, Some((k, v))) => Some(FiscalPeriod::ExternalId(id_string(k, v)?)),
            _ => None,
        };
        let hierarchy_node = match exclusive(
            &g,
            "hierarchy_node_id",
            "hierarchy_node_ownership_external_id",
        )? {
            (Some((k, v)), _) => Some(HierarchyNode::Id(integer(k, v, 1, MAX_SAFE_INTEGER)?)),
            (_, Some((k, v))) => Some(HierarchyNode::OwnershipExternalId(id_string(k, v)?)),
            _ => None,
        };
        let include_descendants = match g.get("include_descendants")? {
            None => None,
            Some((_, Value::Bool(b))) => Some(*b),
            Some((k, other)) => {
                return Err(Error::invalid(
                    k,
                    format!("must be true or false, not {}", type_name(other)),
                ))
            }
        };
        let sort = match g.get("sort")? {
            None => None,
            Some((k, v)) => Some(one_of(
                k,
                v,
                &[
                    ("default", Sort::Default),
                    ("hierarchy_level", Sort::HierarchyLevel),
                ],
            )?),
        };
        let timeframe = match g.get("timeframe")? {
            None => None,
            Some((k, v)) => Some(parse_timeframe(v, k)?),
        };
        Ok(ForecastQuery {
            forecast_type_id,
            per_page,
            page,
            fiscal_period,
            hierarchy_node,
            include_descendants,
            sort,
            timeframe,
        })
    }

    pub fn first_page(&self) -> u32 {
        self.page.unwrap_or(1)
    }

    /// The wire body (keys sorted: also the canonical form).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("forecast_type_id".into(), self.forecast_type_id.into());
        m.insert("per_page".into(), self.per_page.into());
        if let Some(p) = self.page {
            m.insert("page".into(), p.into());
        }
        match &self.fiscal_period {
            Some(FiscalPeriod::Id(s)) => {
                m.insert("fiscal_period_id".into(), s.as_str().into());
            }
            Some(FiscalPeriod::ExternalId(s)) => {
                m.insert("fiscal_period_external_id".into(), s.as_str().into());
            }
            None => {}
        }
        match &self.hierarchy_node {
            Some(HierarchyNode::Id(n)) => {
                m.insert("hierarchy_node_id".into(), (*n).into());
            }
            Some(HierarchyNode::OwnershipExternalId(s)) => {
                m.insert(
                    "hierarchy_node_ownership_external_id".into(),
                    s.as_str().into(),
                );
            }
            None => {}
        }
        if let Some(b) = self.include_descendants {
            m.insert("include_descendants".into(), b.into());
        }
        if let Some(s) = self.sort {
            let name = match s {
                Sort::Default => "default",
                Sort::HierarchyLevel => "hierarchy_level",
            };
            m.insert("sort".into(), name.into());
        }
        if let Some(t) = &self.timeframe {
            let mut tm = Map::new();
            let snap = match t.snapshots {
                Snapshots::Latest => "latest",
                Snapshots::All => "all",
            };
            tm.insert("snapshots".into(), snap.into());
            if let Some(s) = t.since_ms {
                tm.insert("since".into(), s.into());
            }
            if let Some(u) = t.until_ms {
                tm.insert("until".into(), u.into());
            }
            m.insert("timeframe".into(), Value::Object(tm));
        }
        Value::Object(m)
    }

    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The request for one page. Idempotent: the query only reads, so a transient failure may be
    /// retried (no daily allowance is documented for this API).
    pub fn page_request(&self, base_url: &str, path: &str, page: u32) -> HttpRequest {
        self.page_request_with(base_url, path, page, QueryMethod::Post)
    }

    /// The page request as a POST with a JSON body (the document's example is a JSON body) or
    /// as a GET with the same parameters in the query string, `timeframe` as
    /// `timeframe[snapshots]=..` (the public page names neither path nor method).
    pub fn page_request_with(
        &self,
        base_url: &str,
        path: &str,
        page: u32,
        method: QueryMethod,
    ) -> HttpRequest {
        let mut body = self.to_value();
        if let Value::Object(m) = &mut body {
            m.insert("page".into(), page.into());
        }
        if method == QueryMethod::Get {
            let mut pairs: Vec<String> = Vec::new();
            let text = |v: &Value| match v {
                Value::String(s) => form_encode(s),
                other => form_encode(&other.to_string()),
            };
            if let Value::Object(m) = &body {
                for (k, v) in m {
                    match v {
                        Value::Object(inner) => {
                            for (ik, iv) in inner {
                                pairs.push(format!(
                                    "{}={}",
                                    form_encode(&format!("{k}[{ik}]")),
                                    text(iv)
                                ));
                            }
                        }
                        _ => pairs.push(format!("{}={}", form_encode(k), text(v))),
                    }
                }
            }
            let url = format!("{}?{}", join_url(base_url, path), pairs.join("&"));
            return HttpRequest::get(url)
                .with_header("Accept", "application/json")
                .authed()
                .streamed();
        }
        HttpRequest::post(
            join_url(base_url, path),
            "application/json",
            body.to_string().into_bytes(),
        )
        .with_header("Accept", "application/json")
        .authed()
        .idempotent()
        .streamed()
    }
}

/// How the query is sent (see [`ForecastQuery::page_request_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMethod {
    Post,
    Get,
}

/// A POST refused with 405 Method Not Allowed: the endpoint takes GET. Any other refusal is an
/// answer, not a hint about the method.
pub fn method_after_refusal(used: QueryMethod, status: u16) -> Option<QueryMethod> {
    (used == QueryMethod::Post && status == 405).then_some(QueryMethod::Get)
}

/// Checks a caller's override of the request path: absolute, no scheme or host, no query string
/// or fragment (the body carries the parameters), nothing that could walk out of the base URL.
pub fn validate_path(field: &str, path: &str) -> Result<String> {
    let p = path.trim();
    if !p.starts_with('/') || p.starts_with("//") {
        return Err(Error::invalid(
            field,
            "must be an absolute path such as /v3/beta/forecasting/query",
        ));
    }
    if p.contains(['?', '#', '\\']) || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            field,
            "must not contain a query string, fragment, backslash or spaces",
        ));
    }
    if p.split('/').any(|s| s == ".." || s == ".") {
        return Err(Error::invalid(field, "must not contain . or .. segments"));
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ForecastQuery> {
        ForecastQuery::from_value(&v)
    }

    fn field_of(v: Value) -> String {
        match parse(v.clone()) {
            Ok(q) => panic!("{v} was accepted as {q:?}"),
            Err(e) => e.field().unwrap_or("").to_string(),
        }
    }

    fn base(extra: Value) -> Value {
        let mut v = json!({"forecast_type_id": 10089, "per_page": 100});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn the_documents_examples_parse_and_round_trip() {
        let examples = [
            json!({"forecast_type_id": 10089, "per_page": 100, "fiscal_period_external_id": "0261U000000WeG6RAD",
                   "sort": "hierarchy_level", "hierarchy_node_ownership_external_id": "0MI6e00000030JYRAV",
                   "include_descendants": true, "timeframe": {"snapshots": "latest", "since": 1765578693615u64}}),
            json!({"forecast_type_id": 10089, "per_page": 1000, "fiscal_period_external_id": "0261U000000WeG6RAD"}),
            json!({"forecast_type_id": 10089, "per_page": 100, "hierarchy_node_id": 5001, "include_descendants": true,
                   "timeframe": {"snapshots": "all", "since": 1704067200000u64, "until": 1735689600000u64}}),
        ];
        for e in examples {
            let q = parse(e.clone()).unwrap();
            assert_eq!(q.to_value(), e, "the wire form is what was given");
            assert_eq!(ForecastQuery::from_json(&q.to_json()).unwrap(), q);
        }
    }

    #[test]
    fn camel_case_aliases_and_nulls() {
        let q = parse(json!({"forecastTypeId": 10090, "perPage": 5, "fiscalPeriodId": "p", "hierarchyNodeId": 7,
            "includeDescendants": false, "page": 3, "sort": "default", "timeframe": {"snapshots": "all", "until": 5, "since": null},
            "hierarchy_node_ownership_external_id": null}))
        .unwrap();
        assert_eq!(q.forecast_type_id, 10090);
        assert_eq!(q.per_page, 5);
        assert_eq!(q.first_page(), 3);
        assert_eq!(q.fiscal_period, Some(FiscalPeriod::Id("p".into())));
        assert_eq!(q.hierarchy_node, Some(HierarchyNode::Id(7)));
        assert_eq!(q.timeframe.as_ref().unwrap().since_ms, None);
        assert_eq!(
            q.to_json(),
            r#"{"fiscal_period_id":"p","forecast_type_id":10090,"hierarchy_node_id":7,"include_descendants":false,"page":3,"per_page":5,"sort":"default","timeframe":{"snapshots":"all","until":5}}"#
        );
        // A whole number written as a float is a whole number.
        assert_eq!(
            parse(json!({"forecast_type_id": 10089.0, "per_page": 1e3}))
                .unwrap()
                .per_page,
            1000
        );
    }

    #[test]
    fn every_bad_input_names_its_field() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "params"),
            (json!({"per_page": 10}), "forecast_type_id"),
            (
                json!({"forecast_type_id": null, "per_page": 10}),
                "forecast_type_id",
            ),
            (
                json!({"forecast_type_id": "10089", "per_page": 10}),
                "forecast_type_id",
            ),
            (
                json!({"forecast_type_id": 0, "per_page": 10}),
                "forecast_type_id",
            ),
            (
                json!({"forecast_type_id": 1.5, "per_page": 10}),
                "forecast_type_id",
            ),
            (
                json!({"forecast_type_id": -3, "per_page": 10}),
                "forecast_type_id",
            ),
            (
                json!({"forecastTypeId": true, "per_page": 10}),
                "forecastTypeId",
            ),
            (json!({"forecast_type_id": 10089}), "per_page"),
            (base(json!({"per_page": 0})), "per_page"),
            (base(json!({"per_page": 1001})), "per_page"),
            (json!({"forecast_type_id": 1, "perPage": 2000}), "perPage"),
            (
                json!({"forecast_type_id": 1, "per_page": 5, "perPage": 5}),
                "perPage",
            ),
            (base(json!({"page": 0})), "page"),
            (base(json!({"page": "2"})), "page"),
            (
                base(json!({"fiscal_period_id": "a", "fiscal_period_external_id": "b"})),
                "fiscal_period_external_id",
            ),
            (
                base(json!({"fiscalPeriodId": "a", "fiscalPeriodExternalId": "b"})),
                "fiscalPeriodExternalId",
            ),
            (base(json!({"fiscal_period_id": ""})), "fiscal_period_id"),
            (
                base(json!({"fiscal_period_external_id": 5})),
                "fiscal_period_external_id",
            ),
            (
                base(json!({"hierarchy_node_id": 1, "hierarchy_node_ownership_external_id": "x"})),
                "hierarchy_node_ownership_external_id",
            ),
            (base(json!({"hierarchy_node_id": "1"})), "hierarchy_node_id"),
            (
                base(json!({"hierarchy_node_ownership_external_id": " "})),
                "hierarchy_node_ownership_external_id",
            ),
            (
                base(json!({"include_descendants": "yes"})),
                "include_descendants",
            ),
            (base(json!({"sort": "name"})), "sort"),
            (base(json!({"sort": 1})), "sort"),
            (base(json!({"timeframe": "all"})), "timeframe"),
            (base(json!({"timeframe": {}})), "timeframe.snapshots"),
            (
                base(json!({"timeframe": {"since": 1}})),
                "timeframe.snapshots",
            ),
            (
                base(json!({"timeframe": {"snapshots": "every"}})),
                "timeframe.snapshots",
            ),
            (
                base(json!({"timeframe": {"snapshots": "all", "since": 5, "until": 1}})),
                "timeframe.since",
            ),
            (
                base(json!({"timeframe": {"snapshots": "all", "since": -1}})),
                "timeframe.since",
            ),
            (
                base(json!({"timeframe": {"snapshots": "all", "until": "2024-01-01"}})),
                "timeframe.until",
            ),
            (
                base(json!({"timeframe": {"snapshots": "all", "from": 1}})),
                "timeframe.from",
            ),
            (base(json!({"forecast_type": 1})), "forecast_type"),
            (base(json!({"perpage": 1})), "perpage"),
        ];
        for (v, field) in cases {
            assert_eq!(field_of(v.clone()), field, "{v}");
        }
        let e = ForecastQuery::from_json("{\"per_page\": ").unwrap_err();
        assert_eq!(e.field(), Some("params"));
        assert!(e.to_string().contains("line 1"), "{e}");
        // since == until is a window of one instant, not an error.
        assert!(parse(base(
            json!({"timeframe": {"snapshots": "all", "since": 5, "until": 5}})
        ))
        .is_ok());
    }

    #[test]
    fn a_post_refused_as_the_wrong_method_becomes_a_get_with_the_same_parameters() {
        let q = parse(base(json!({"timeframe": {"snapshots": "all", "since": 5}, "include_descendants": true, "fiscal_period_id": "a b"}))).unwrap();
        assert_eq!(
            method_after_refusal(QueryMethod::Post, 405),
            Some(QueryMethod::Get)
        );
        for (m, st) in [
            (QueryMethod::Post, 404),
            (QueryMethod::Post, 400),
            (QueryMethod::Get, 405),
        ] {
            assert_eq!(method_after_refusal(m, st), None, "{m:?} {st}");
        }
        let r = q.page_request_with("https://h", DEFAULT_PATH, 3, QueryMethod::Get);
        assert_eq!(r.method.as_str(), "GET");
        assert!(r.body.is_none() && r.needs_auth && r.idempotent && r.stream_body);
        let query = r.url.split_once('?').unwrap().1;
        let mut got: Vec<&str> = query.split('&').collect();
        got.sort();
        assert_eq!(
            got,
            [
                "fiscal_period_id=a+b",
                "forecast_type_id=10089",
                "include_descendants=true",
                "page=3",
                "per_page=100",
                "timeframe%5Bsince%5D=5",
                "timeframe%5Bsnapshots%5D=all",
            ]
        );
    }

    #[test]
    fn page_requests_carry_the_page_and_are_retryable() {
        let q = parse(base(json!({"page": 2}))).unwrap();
        let r = q.page_request("https://api.people.ai/", DEFAULT_PATH, 7);
        assert_eq!(r.url, "https://api.people.ai/v3/beta/forecasting/query");
        assert!(r.needs_auth && r.idempotent && r.stream_body);
        let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["page"], 7);
        assert_eq!(body["per_page"], 100);
    }

    #[test]
    fn paths() {
        assert_eq!(validate_path("path", " /x/y ").unwrap(), "/x/y");
        for bad in [
            "",
            "x/y",
            "//evil/x",
            "/a?b=1",
            "/a#f",
            "/a b",
            "/a/../b",
            "https://h/x",
            "/a\\b",
        ] {
            assert_eq!(
                validate_path("path", bad).unwrap_err().field(),
                Some("path"),
                "{bad}"
            );
        }
    }
}
