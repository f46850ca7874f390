//! A bounded fuzz pass over every parser that reads vendor bytes (CSV, JSON Lines, gzip, the
//! flattener): arbitrary input, split at arbitrary points, must never panic (a panic kills the
//! wasm instance) and must give the same answer however it is split. The corpus in
//! tests/corpus/ holds the inputs that once mattered; each is also tried at every split point.
//! `PROPTEST_CASES` raises the case count for a longer run.

use exportkit::parse::csv::{CsvOptions, CsvParser};
use exportkit::parse::flatten::{FlattenOptions, Flattener};
use exportkit::parse::gzip::GzipDecoder;
use exportkit::parse::jsonl::{JsonlOptions, JsonlParser};
use proptest::prelude::*;
use std::path::Path;

/// Cuts `input` at the given points (taken modulo its length, sorted).
fn pieces<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| {
            if input.is_empty() {
                0
            } else {
                c % (input.len() + 1)
            }
        })
        .collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in at.into_iter().chain(std::iter::once(input.len())) {
        out.push(&input[prev..c]);
        prev = c;
    }
    out
}

type CsvOutcome = Result<
    (
        Option<Vec<String>>,
        Vec<Vec<String>>,
        Vec<(String, u64, u64)>,
    ),
    String,
>;

fn csv(input: &[u8], cuts: &[usize], strict: bool) -> CsvOutcome {
    let mut p = CsvParser::new(CsvOptions {
        strict,
        batch_rows: 3,
        ..Default::default()
    });
    let mut rows = Vec::new();
    let run = |p: &mut CsvParser, rows: &mut Vec<Vec<String>>| -> exportkit::Result<()> {
        for piece in pieces(input, cuts) {
            p.push(piece)?;
            while let Some(b) = p.take_batch() {
                rows.extend(b.rows());
            }
        }
        p.finish()?;
        while let Some(b) = p.take_batch() {
            rows.extend(b.rows());
        }
        Ok(())
    };
    run(&mut p, &mut rows).map_err(|e| e.to_string())?;
    let errors = p
        .take_errors()
        .into_iter()
        .map(|e| (e.kind.as_str().to_string(), e.row, e.line))
        .collect();
    Ok((p.header().map(<[String]>::to_vec), rows, errors))
}

type JsonlOutcome = Result<(Vec<(u64, String)>, Vec<(u64, String)>, String), String>;

fn jsonl(input: &[u8], cuts: &[usize], strict: bool) -> JsonlOutcome {
    jsonl_with(input, cuts, strict, true)
}

/// `validate: false`: the parser leaves the JSON check to the flattener's walk, which puts the
/// records it refuses in `rejected`; they are reported as errors and are not records.
fn jsonl_with(input: &[u8], cuts: &[usize], strict: bool, validate: bool) -> JsonlOutcome {
    let mut p = JsonlParser::new(JsonlOptions {
        strict,
        batch_records: 2,
        max_line_bytes: 1 << 16,
        validate,
        ..JsonlOptions::default()
    });
    let mut rejected = Vec::new();
    let mut records = Vec::new();
    let mut flat = Flattener::new(FlattenOptions {
        explode: Some("participants".into()),
        ..Default::default()
    });
    let mut csv_out = String::new();
    let mut run = || -> exportkit::Result<()> {
        let mut drain = |p: &mut JsonlParser,
                         records: &mut Vec<(u64, String)>,
                         csv_out: &mut String|
         -> exportkit::Result<()> {
            while let Some(b) = p.take_batch() {
                for (line, text) in b.iter_text() {
                    records.push((line, text.to_string()));
                }
                if validate {
                    // The flattener must take whatever the parser let through without panicking.
                    let _ = flat.write_batch(&b, csv_out);
                } else {
                    flat.write_checked(&b, csv_out, Some(&mut rejected))?;
                }
            }
            Ok(())
        };
        for piece in pieces(input, cuts) {
            p.push(piece)?;
            drain(&mut p, &mut records, &mut csv_out)?;
        }
        p.finish()?;
        drain(&mut p, &mut records, &mut csv_out)
    };
    run().map_err(|e| e.to_string())?;
    flat.finish(&mut csv_out);
    let mut errors: Vec<(u64, String)> = p
        .take_errors()
        .into_iter()
        .chain(rejected)
        .map(|e| (e.line, e.message))
        .collect();
    errors.sort_by_key(|e| e.0);
    records.retain(|r| errors.binary_search_by_key(&r.0, |e| e.0).is_err());
    Ok((records, errors, csv_out))
}

fn gunzip(input: &[u8], cuts: &[usize], out_buf: usize) -> Result<Vec<u8>, String> {
    let mut d = GzipDecoder::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; out_buf.max(1)];
    for piece in pieces(input, cuts) {
        let mut rest = piece;
        loop {
            let (used, wrote) = d.decode(rest, &mut buf).map_err(|e| e.to_string())?;
            out.extend_from_slice(&buf[..wrote]);
            rest = &rest[used..];
            if rest.is_empty() && wrote < buf.len() {
                break;
            }
            if used == 0 && wrote == 0 {
                return Err("no progress".into());
            }
        }
    }
    d.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(192)
}

/// Bytes that look like CSV / JSON more often than uniform noise would.
fn structured_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"{\"a\":".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just("東京".as_bytes().to_vec()),
        Just(vec![0xEF, 0xBB, 0xBF]),
        Just(vec![0xff]),
        "[a-z0-9 ]{0,6}".prop_map(|s| s.into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn csv_never_panics_and_splits_do_not_matter(input in structured_bytes(), cuts in proptest::collection::vec(any::<usize>(), 0..6), strict in any::<bool>()) {
        prop_assert_eq!(csv(&input, &cuts, strict), csv(&input, &[], strict));
    }

    #[test]
    fn csv_reads_back_what_a_writer_wrote(records in proptest::collection::vec(proptest::collection::vec("[a-z,\"\r\n é東]{0,5}", 2..4), 1..8)) {
        let width = records[0].len();
        let records: Vec<Vec<String>> = records.into_iter().filter(|r| r.len() == width).collect();
        let mut text = String::new();
        for r in &records {
            exportkit::parse::csv_write::write_row(&mut text, r, false);
        }
        let (header, rows, errors) = csv(text.as_bytes(), &[3, 9], false).map_err(TestCaseError::fail)?;
        prop_assert_eq!(header, records.first().cloned());
        prop_assert_eq!(rows, records[1..].to_vec());
        prop_assert!(errors.is_empty());
    }

    #[test]
    fn guarded_csv_reads_back_as_the_guard_rule(records in proptest::collection::vec(proptest::collection::vec("[-+=@\t\r0-9.eE a,\"]{0,5}", 3), 1..8)) {
        use exportkit::parse::csv_write::{guard_cell, write_row};
        let mut text = String::new();
        for r in &records {
            write_row(&mut text, r, true);
        }
        let (header, rows, errors) = csv(text.as_bytes(), &[2, 7], false).map_err(TestCaseError::fail)?;
        let guarded: Vec<Vec<String>> = records.iter().map(|r| r.iter().map(|c| guard_cell(c).into_owned()).collect()).collect();
        prop_assert_eq!(header, guarded.first().cloned());
        prop_assert_eq!(rows, guarded[1..].to_vec());
        prop_assert!(errors.is_empty());
    }

    #[test]
    fn jsonl_never_panics_and_splits_do_not_matter(input in structured_bytes(), cuts in proptest::collection::vec(any::<usize>(), 0..6), strict in any::<bool>()) {
        prop_assert_eq!(jsonl(&input, &cuts, strict), jsonl(&input, &[], strict));
    }

    /// One pass (the flattener checks the JSON) gives the same records, CSV and bad lines as two
    /// (serde_json checks, then the flattener walks); only the messages' wording differs.
    #[test]
    fn jsonl_to_csv_in_one_pass_matches_two(input in structured_bytes(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let two = jsonl(&input, &[], false).map_err(TestCaseError::fail)?;
        let one = jsonl_with(&input, &cuts, false, false).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&one.0, &two.0);
        prop_assert_eq!(&one.2, &two.2);
        let lines = |e: &[(u64, String)]| e.iter().map(|e| e.0).collect::<Vec<_>>();
        prop_assert_eq!(lines(&one.1), lines(&two.1));
    }

    #[test]
    fn gzip_never_panics_on_noise_or_damage(noise in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<(usize, u8)>(), cut in any::<usize>(), out_buf in 1usize..64) {
        prop_assert!(gunzip(&noise, &[], 64).is_err() || noise.len() >= 18);
        let good = gzip_of(b"{\"event\":\"x\"}\n{\"event\":\"y\"}\n");
        let mut damaged = good.clone();
        let i = flip.0 % damaged.len();
        damaged[i] ^= flip.1.max(1);
        // A damaged stream either fails or, if the flip hit an unchecked header byte, still
        // yields exactly the original bytes: never different data.
        if let Ok(out) = gunzip(&damaged, &[cut], out_buf) {
            prop_assert_eq!(out, b"{\"event\":\"x\"}\n{\"event\":\"y\"}\n".to_vec());
        }
        let truncated = &good[..cut % good.len()];
        prop_assert!(gunzip(truncated, &[], out_buf).is_err());
        prop_assert_eq!(gunzip(&good, &[cut], out_buf), Ok(b"{\"event\":\"x\"}\n{\"event\":\"y\"}\n".to_vec()));
    }
}

/// A stored (uncompressed) gzip member: enough to exercise the framing without a compressor.
fn gzip_of(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.push(1); // final stored block
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn corpus(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("corpus folder")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("corpus file"),
            )
        })
        .collect()
}

#[test]
fn corpus_at_every_split_point() {
    for (name, bytes) in corpus("csv") {
        for strict in [false, true] {
            let whole = csv(&bytes, &[], strict);
            for cut in 0..=bytes.len() {
                assert_eq!(csv(&bytes, &[cut], strict), whole, "{name} cut at {cut}");
            }
        }
    }
    for (name, bytes) in corpus("jsonl") {
        let whole = jsonl(&bytes, &[], false);
        assert!(
            whole.is_ok(),
            "{name}: lenient mode reports bad lines, it does not fail"
        );
        for cut in 0..=bytes.len() {
            assert_eq!(jsonl(&bytes, &[cut], false), whole, "{name} cut at {cut}");
            assert_eq!(
                jsonl(&bytes, &[cut], true),
                jsonl(&bytes, &[], true),
                "{name} strict, cut at {cut}"
            );
        }
    }
    let expect_ok = ["two-members.jsonl.gz", "empty-member.gz"];
    for (name, bytes) in corpus("gzip") {
        let whole = gunzip(&bytes, &[], 64);
        assert_eq!(
            whole.is_ok(),
            expect_ok.iter().any(|n| name.ends_with(n)),
            "{name}: {whole:?}"
        );
        for cut in 0..=bytes.len() {
            assert_eq!(gunzip(&bytes, &[cut], 5), whole, "{name} cut at {cut}");
        }
    }
}
