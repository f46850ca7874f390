//! Forecast records and their flat table: one row per record (a node at a snapshot), the record's
//! own properties first, then one column per forecast field (`fields.<slug>.value`) over the
//! union of the fields of all records, empty where a record lacks the field.
//!
//! Field columns keep the vendor's order: a field first seen in a later record goes right after
//! the field that precedes it there (a manager's `forecast_call` lands between the fields around
//! it, not at the end). Records are read with their `fields` in document order for that reason,
//! which `serde_json::Map` (sorted) would lose.

use crate::error::{Error, Result};
use crate::parse::csv_write::write_row;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};
use std::fmt;

/// The documented record properties, in the document's order.
pub const BASE_COLUMNS: [&str; 7] = [
    "hierarchy_node_id",
    "hierarchy_node_ownership_external_id",
    "hierarchy_node_name",
    "cadence_period_id",
    "submitted_by",
    "submitted_at",
    "notes",
];

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    Text(String),
}

impl Cell {
    /// The cell as CSV text: empty for null, whole numbers without a fraction.
    pub fn to_text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Bool(b) => b.to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (_, Some(u), _) => u.to_string(),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.0}"),
                (_, _, Some(f)) => f.to_string(),
                _ => n.to_string(),
            },
        }
    }

    /// Appends the cell as JSON.
    fn write_json(&self, out: &mut String) {
        match self {
            Cell::Null => out.push_str("null"),
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Cell::Number(n) => out.push_str(&n.to_string()),
            Cell::Text(s) => write_json_string(out, s),
        }
    }
}

/// A JSON string literal, escaped by serde_json (which cannot fail on a `str`).
fn write_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Reads a cell straight from the JSON, without a `Value` on the way.
impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Cell, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Cell, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E: de::Error>(self) -> std::result::Result<Cell, E> {
                Ok(Cell::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Cell, E> {
                Ok(Cell::Bool(b))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Cell, E> {
                Ok(Cell::Number(n.into()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Cell, E> {
                Ok(Cell::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> std::result::Result<Cell, E> {
                Ok(Number::from_f64(n).map_or(Cell::Null, Cell::Number))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Cell, E> {
                Ok(Cell::Text(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Cell, E> {
                Ok(Cell::Text(s))
            }
            // Not in the document: kept as its JSON text rather than dropped.
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Cell, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Cell, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Cell::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A record's key, matched without allocating: a base column, `fields`, or something else.
enum Key {
    Base(usize),
    Fields,
    Value,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Key, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> std::result::Result<Key, E> {
                Ok(match k {
                    "fields" => Key::Fields,
                    "value" => Key::Value,
                    _ => BASE_COLUMNS
                        .iter()
                        .position(|c| *c == k)
                        .map_or(Key::Other, Key::Base),
                })
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// In [`BASE_COLUMNS`] order.
    pub base: [Cell; 7],
    /// `fields[<slug>].value`, in document order.
    pub fields: Vec<(String, Cell)>,
}

impl Record {
    pub fn field(&self, slug: &str) -> Option<&Cell> {
        self.fields.iter().find(|(s, _)| s == slug).map(|(_, c)| c)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a forecast record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
        let mut base: [Cell; 7] = Default::default();
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Fields => fields = map.next_value::<Fields>()?.0,
                Key::Base(i) => {
                    let cell = map.next_value::<Cell>()?;
                    if let Some(slot) = base.get_mut(i) {
                        *slot = cell;
                    }
                }
                Key::Value | Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Record { base, fields })
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Record, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

/// `fields`: `{ slug: { value } }` in document order; `null` is no fields.
struct Fields(Vec<(String, Cell)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Fields, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`fields` as an object of { value } objects")
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<Fields, E> {
                Ok(Fields(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Fields, A::Error> {
                let mut out = Vec::new();
                while let Some(slug) = map.next_key::<String>()? {
                    let FieldValue(v) = map.next_value()?;
                    out.push((slug, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One field's `{ value }`; other keys are ignored, a missing value is null.
struct FieldValue(Cell);

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<FieldValue, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a forecast field as an object with a `value`")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<FieldValue, A::Error> {
                let mut cell = Cell::Null;
                while let Some(k) = map.next_key::<Key>()? {
                    if matches!(k, Key::Value) {
                        cell = map.next_value::<Cell>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(FieldValue(cell))
            }
        }
        d.deserialize_map(V)
    }
}

/// A page body: a JSON array of records. Errors carry the position in the body.
pub fn parse_records(body: &[u8], what: &str) -> Result<Vec<Record>> {
    parse_page(body, what).map_err(|(e, _)| e)
}

/// As [`parse_records`], also saying whether the body simply stopped early (`true`): a transfer
/// cut short, which fetching again may mend, unlike a body that is wrong.
pub fn parse_page(body: &[u8], what: &str) -> std::result::Result<Vec<Record>, (Error, bool)> {
    struct Seq;
    impl<'de> Visitor<'de> for Seq {
        type Value = Vec<Record>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON array of forecast records")
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Vec<Record>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1000));
            while let Some(r) = seq.next_element::<Record>()? {
                out.push(r);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = de.deserialize_seq(Seq).and_then(|v| de.end().map(|_| v));
    parsed.map_err(|e| {
        let cut_short = e.is_eof();
        let err = Error::decode(e.line() as u64, e.column() as u64, format!("{what}: {e}"));
        (err, cut_short)
    })
}

#[derive(Debug, Clone, Default)]
pub struct ForecastTable {
    fields: Vec<String>,
    rows: Vec<Record>,
    /// CSV cells as they are: no CSV-injection guard (see [`crate::parse::csv_write`]).
    raw_cells: bool,
}

impl ForecastTable {
    pub fn new() -> Self {
        ForecastTable::default()
    }

    /// CSV written with cells as they are (the guard is on unless this is set).
    pub fn set_raw_cells(&mut self, raw: bool) {
        self.raw_cells = raw;
    }

    /// Learns a record's fields (for the columns) without keeping the record.
    pub fn observe(&mut self, r: &Record) {
        let mut after: Option<usize> = None;
        for (slug, _) in &r.fields {
            match self.fields.iter().position(|f| f == slug) {
                Some(i) => after = Some(i),
                None => {
                    let at = after.map_or(0, |i| i + 1);
                    self.fields.insert(at, slug.clone());
                    after = Some(at);
                }
            }
        }
    }

    pub fn push(&mut self, r: Record) {
        self.observe(&r);
        self.rows.push(r);
    }

    pub fn field_slugs(&self) -> &[String] {
        &self.fields
    }

    pub fn rows(&self) -> &[Record] {
        &self.rows
    }

    pub fn columns(&self) -> Vec<String> {
        BASE_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(self.fields.iter().map(|f| format!("fields.{f}.value")))
            .collect()
    }

    /// A record's cells in column order. A field not among the columns is an error: dropping a
    /// value silently would hide data.
    pub fn cells<'a>(&'a self, r: &'a Record) -> Result<Vec<&'a Cell>> {
        if let Some((slug, _)) = r.fields.iter().find(|(s, _)| !self.fields.contains(s)) {
            return Err(Error::invalid(
                "records",
                format!("field {slug:?} was not among the records the columns were made from"),
            ));
        }
        const NULL: &Cell = &Cell::Null;
        Ok(r.base
            .iter()
            .chain(self.fields.iter().map(|f| r.field(f).unwrap_or(NULL)))
            .collect())
    }

    pub fn write_csv_header(&self, out: &mut String) {
        write_row(out, self.columns(), !self.raw_cells);
    }

    pub fn write_csv_row(&self, r: &Record, out: &mut String) -> Result<()> {
        let cells = self.cells(r)?;
        write_row(out, cells.iter().map(|c| c.to_text()), !self.raw_cells);
        Ok(())
    }

    /// The header and every kept row, RFC 4180 with CRLF line ends.
    pub fn to_csv(&self) -> Result<String> {
        let mut out = String::new();
        self.write_csv_header(&mut out);
        for r in &self.rows {
            self.write_csv_row(r, &mut out)?;
        }
        Ok(out)
    }

    /// `{"columns": [...], "rows": [[...], ...]}` with numbers as numbers and null for absent.
    /// Written as text directly: a `Value` tree of every cell would cost more than the data.
    pub fn to_json(&self) -> Result<String> {
        let mut out = String::with_capacity(64 + self.rows.len() * 16 * (7 + self.fields.len()));
        out.push_str("{\"columns\":[");
        for (i, c) in self.columns().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_string(&mut out, c);
        }
        out.push_str("],\"rows\":[");
        for (i, r) in self.rows.iter().enumerate() {
            out.push_str(if i > 0 { ",[" } else { "[" });
            for (j, c) in self.cells(r)?.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                c.write_json(&mut out);
            }
            out.push(']');
        }
        out.push_str("]}");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REP: &str = r#"{"hierarchy_node_id": 10053, "hierarchy_node_ownership_external_id": "0MIRi0000000H5tORC",
        "hierarchy_node_name": "Jerri Gail", "cadence_period_id": "e468", "submitted_by": 400932,
        "submitted_at": 1767082571417, "notes": "Orbis - 15k",
        "fields": {"quota": {"value": 100000.0}, "gap_to_quota": {"value": 68943.0}, "closed_won": {"value": 31057.5}}}"#;
    const MANAGER: &str = r#"{"hierarchy_node_id": 10001, "hierarchy_node_name": "Boss, \"The\"", "submitted_by": null,
        "submitted_at": null, "notes": null, "extra": [1, {"x": 2}],
        "fields": {"quota": {"value": 5}, "gap_to_quota": {"value": 1}, "forecast_call": {"value": 3, "note": "x"}, "closed_won": {"value": null}, "churn_risk": {}}}"#;

    #[test]
    fn records_keep_field_order_and_columns_merge_it() {
        let body = format!("[{REP}, {MANAGER}]");
        let recs = parse_records(body.as_bytes(), "page 1").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[1]
                .fields
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>(),
            [
                "quota",
                "gap_to_quota",
                "forecast_call",
                "closed_won",
                "churn_risk"
            ]
        );
        let mut t = ForecastTable::new();
        for r in recs {
            t.push(r);
        }
        assert_eq!(
            t.columns()[7..],
            [
                "fields.quota.value",
                "fields.gap_to_quota.value",
                "fields.forecast_call.value",
                "fields.closed_won.value",
                "fields.churn_risk.value"
            ]
        );
        let csv = t.to_csv().unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[1], "10053,0MIRi0000000H5tORC,Jerri Gail,e468,400932,1767082571417,Orbis - 15k,100000,68943,,31057.5,");
        assert_eq!(lines[2], "10001,,\"Boss, \"\"The\"\"\",,,,,5,1,3,,");
        assert_eq!(lines.len(), 4, "header, two rows, and the final CRLF");
        let json: Value = serde_json::from_str(&t.to_json().unwrap()).unwrap();
        assert_eq!(json["rows"][0][7], serde_json::json!(100000.0));
        assert_eq!(
            json["rows"][0][9],
            Value::Null,
            "forecast_call is absent on the rep"
        );
        assert_eq!(json["rows"][1][2], "Boss, \"The\"");
    }

    #[test]
    fn a_new_leading_field_goes_first() {
        let mut t = ForecastTable::new();
        for body in [
            r#"[{"fields": {"a": {"value": 1}, "b": {"value": 2}}}]"#,
            r#"[{"fields": {"z": {"value": 0}, "a": {"value": 1}}}]"#,
        ] {
            for r in parse_records(body.as_bytes(), "p").unwrap() {
                t.observe(&r);
            }
        }
        assert_eq!(t.field_slugs(), ["z", "a", "b"]);
        let r = &parse_records(br#"[{"fields": {"q": {"value": 1}}}]"#, "p").unwrap()[0];
        assert_eq!(t.cells(r).unwrap_err().field(), Some("records"));
    }

    #[test]
    fn bad_bodies_are_decode_errors_with_positions() {
        for (body, needle) in [
            (&b"{\"a\": 1}"[..], "expected a JSON array"),
            (b"[1]", "a forecast record"),
            (b"[{\"fields\": [1]}]", "`fields` as an object"),
            (b"[{\"fields\": {\"quota\": 5}}]", "a forecast field"),
            (b"[{}] x", "trailing"),
            (b"[{}", "EOF"),
        ] {
            let e = parse_records(body, "page 4").unwrap_err();
            assert_eq!(e.code(), "E_DECODE");
            let text = e.to_string();
            assert!(text.contains(needle) && text.contains("page 4"), "{text}");
        }
        assert!(parse_records(b"[{\"fields\": null}]", "p").unwrap()[0]
            .fields
            .is_empty());
        assert!(parse_records(b" [] ", "p").unwrap().is_empty());
    }

    #[test]
    fn numbers_print_as_a_spreadsheet_reads_them() {
        let n = |s: &str| Cell::Number(serde_json::from_str(s).unwrap()).to_text();
        assert_eq!(n("100000.0"), "100000");
        assert_eq!(n("-3"), "-3");
        assert_eq!(n("0.1"), "0.1");
        assert_eq!(n("18446744073709551615"), "18446744073709551615");
        assert_eq!(n("1e20"), "100000000000000000000");
    }
}
