//! Writing RFC 4180 CSV: fields quoted only when they must be (a comma, a quote, CR or LF inside),
//! quotes doubled, each row ended with CRLF. Every CSV exportkit writes goes through here, so the
//! CSV-injection guard below is the one rule for all of them (activities, forecasts, Userpilot,
//! the dashboard's downloads through the wasm build).
//!
//! The guard, after OWASP's "CSV Injection" advice: a spreadsheet runs a cell that starts with
//! `=`, `+`, `-`, `@`, tab or carriage return as a formula (`=HYPERLINK(..)`, `@SUM(..)`,
//! `-2+3+cmd|' /C calc'!A0`), so such a cell gets a leading apostrophe, which spreadsheets read as
//! "this is text" and do not display. One exception, decided on purpose: a cell that is a plain
//! number (`-5`, `+1`, `-12.5`, `1e-3`, `-.5`) is left alone. A spreadsheet reads it as that
//! number whether or not it is a formula, it cannot call anything, and an apostrophe would turn
//! every negative amount or delta into text that no longer sums. Anything more than a plain
//! number (`-1+2`, `--5`, `+1 Telecom`, `-5 `) is guarded.

use crate::parse::scan::{find_byte, needs_csv_quotes};

/// Whether a spreadsheet could run `cell` as a formula (see the module comment).
pub fn is_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) && !is_plain_number(cell)
}

/// `[-+]?(digits[.digits*] | .digits)([eE][-+]?digits)?`, nothing else (no spaces).
fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let whole = digits(&mut i);
    let frac = if b.get(i) == Some(&b'.') {
        i += 1;
        digits(&mut i)
    } else {
        0
    };
    if whole == 0 && frac == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The cell as a spreadsheet should get it: with a leading apostrophe if it is a formula.
pub fn guard_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if is_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Appends one row to `out`. `guard`: neutralise formula cells (the default everywhere; false
/// only when the caller asked for raw values).
pub fn write_row(out: &mut String, fields: impl IntoIterator<Item = impl AsRef<str>>, guard: bool) {
    let mut first = true;
    for f in fields {
        if !first {
            out.push(',');
        }
        first = false;
        write_field(out, f.as_ref(), guard);
    }
    out.push_str("\r\n");
}

/// Appends one field, guarded if asked and it must be, quoted if it needs to be.
pub fn write_field(out: &mut String, field: &str, guard: bool) {
    let prefix = guard && is_formula(field);
    if !needs_quotes(field) {
        if prefix {
            out.push('\'');
        }
        out.push_str(field);
        return;
    }
    out.reserve(field.len() + 8);
    out.push('"');
    if prefix {
        out.push('\'');
    }
    let mut rest = field;
    while let Some(i) = find_byte(rest.as_bytes(), b'"') {
        // A quote is ASCII, so both cuts fall on character boundaries.
        let (run, tail) = rest.split_at(i + 1);
        out.push_str(run);
        out.push('"');
        rest = tail;
    }
    out.push_str(rest);
    out.push('"');
}

fn needs_quotes(field: &str) -> bool {
    needs_csv_quotes(field.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_quoting() {
        let mut s = String::new();
        write_row(
            &mut s,
            ["a", "", "b,c", "say \"hi\"", "l1\r\nl2", "ünï"],
            true,
        );
        write_row(&mut s, Vec::<String>::new(), true);
        assert_eq!(s, "a,,\"b,c\",\"say \"\"hi\"\"\",\"l1\r\nl2\",ünï\r\n\r\n");
    }

    #[test]
    fn each_formula_start_is_neutralised_and_raw_keeps_it() {
        for (cell, guarded) in [
            ("=1+1", "'=1+1"),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("+1 Telecom", "'+1 Telecom"),
            ("-Minus Holdings", "'-Minus Holdings"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tTabbed", "'\tTabbed"),
            ("\rCR", "\"'\rCR\""),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("=", "'="),
            ("-", "'-"),
            ("+", "'+"),
            ("@", "'@"),
            ("--5", "'--5"),
            ("-1+2", "'-1+2"),
            ("-5 ", "'-5 "),
            ("-1,234", "\"'-1,234\""),
            ("+1e", "'+1e"),
            ("-.", "'-."),
            ("-Infinity", "'-Infinity"),
        ] {
            let mut s = String::new();
            write_field(&mut s, cell, true);
            assert_eq!(s, guarded, "{cell:?}");
            assert!(is_formula(cell), "{cell:?}");
            assert_eq!(guard_cell(cell), format!("'{cell}"));
            let mut raw = String::new();
            write_field(&mut raw, cell, false);
            assert!(
                !raw.starts_with('\'') && !raw.starts_with("\"'"),
                "{cell:?}: {raw}"
            );
        }
    }

    #[test]
    fn plain_numbers_and_ordinary_text_are_left_alone() {
        for cell in [
            "",
            "plain",
            "-5",
            "+1",
            "-12.5",
            "+3",
            "42",
            "1e5",
            "-1E-3",
            "+2.5e+10",
            "-.5",
            "5.",
            "-0",
            " =not first",
            "a=b",
            "'quoted",
            "x-1",
            "é=",
        ] {
            assert!(!is_formula(cell), "{cell:?}");
            let (mut s, mut raw) = (String::new(), String::new());
            write_field(&mut s, cell, true);
            write_field(&mut raw, cell, false);
            assert_eq!(s, raw, "{cell:?}");
            assert_eq!(guard_cell(cell), cell);
        }
    }

    #[test]
    fn round_trips_through_the_csv_parser() {
        use crate::parse::csv::{CsvOptions, CsvParser};
        let rows = [
            vec!["x\"", ",", "\n", "plain"],
            vec!["", "\"\"", "a\rb", "é,\""],
        ];
        let mut s = String::new();
        for r in &rows {
            write_row(&mut s, r, false);
        }
        let mut p = CsvParser::new(CsvOptions {
            has_header: false,
            ..Default::default()
        });
        p.push(s.as_bytes()).unwrap();
        p.finish().unwrap();
        let got = p.take_batch().unwrap().rows();
        assert_eq!(
            got,
            rows.map(|r| r.iter().map(|f| f.to_string()).collect::<Vec<_>>())
        );
        // Guarded, each formula cell reads back with its apostrophe and nothing else changes.
        let mut g = String::new();
        write_row(&mut g, ["=x,y", "-5", "@a\"b", "ok"], true);
        let mut p = CsvParser::new(CsvOptions {
            has_header: false,
            ..Default::default()
        });
        p.push(g.as_bytes()).unwrap();
        p.finish().unwrap();
        assert_eq!(
            p.take_batch().unwrap().rows(),
            [["'=x,y", "-5", "'@a\"b", "ok"]]
        );
    }
}
