//! Writing RFC 4180 CSV: fields quoted only when they must be (a comma, a quote, CR or LF inside),
//! quotes doubled, each row ended with CRLF.

use crate::parse::scan::{find_byte, needs_csv_quotes};

/// Appends one row to `out`.
pub fn write_row(out: &mut String, fields: impl IntoIterator<Item = impl AsRef<str>>) {
    let mut first = true;
    for f in fields {
        if !first {
            out.push(',');
        }
        first = false;
        write_field(out, f.as_ref());
    }
    out.push_str("\r\n");
}

/// Appends one field, quoted if it needs to be.
pub fn write_field(out: &mut String, field: &str) {
    if !needs_quotes(field) {
        out.push_str(field);
        return;
    }
    out.reserve(field.len() + 8);
    out.push('"');
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
        write_row(&mut s, ["a", "", "b,c", "say \"hi\"", "l1\r\nl2", "ünï"]);
        write_row(&mut s, Vec::<String>::new());
        assert_eq!(s, "a,,\"b,c\",\"say \"\"hi\"\"\",\"l1\r\nl2\",ünï\r\n\r\n");
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
            write_row(&mut s, r);
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
    }
}
