//! The JSON lexer under [`crate::parse::flatten`]: it reads a record's text in place (no
//! `serde_json::Value` tree), unescaping strings into a caller's scratch buffer and skipping
//! values it does not need while still checking them in full, so the flattener's single pass is
//! also a complete JSON check (it accepts exactly what `serde_json` accepts). Errors are byte
//! offsets with a reason; the caller turns them into line/column errors.

use crate::parse::scan::find_either;

/// Arrays (and what they hold) nested deeper than this are refused, as `serde_json` does.
const MAX_SKIP_DEPTH: u32 = 128;

/// Where a record breaks JSON's grammar (byte offset), and how.
pub(crate) type Bad = (usize, &'static str);

const EXPECTED_VALUE: &str = "expected a value";

pub(crate) fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

pub(crate) fn skip_ws(b: &[u8], pos: &mut usize) {
    while matches!(at(b, *pos), b' ' | b'\t' | b'\n' | b'\r') {
        *pos += 1;
    }
}

/// A number, `true`, `false` or `null`, exactly as written (numbers to JSON's grammar).
pub(crate) fn scalar<'a>(s: &'a str, pos: &mut usize) -> Result<&'a str, Bad> {
    let start = *pos;
    skip_scalar(s.as_bytes(), pos)?;
    s.get(start..*pos).ok_or((start, EXPECTED_VALUE))
}

fn skip_scalar(b: &[u8], pos: &mut usize) -> Result<(), Bad> {
    match at(b, *pos) {
        b't' => keyword(b, pos, b"true"),
        b'f' => keyword(b, pos, b"false"),
        b'n' => keyword(b, pos, b"null"),
        b'-' | b'0'..=b'9' => number(b, pos),
        _ => Err((*pos, EXPECTED_VALUE)),
    }
}

fn keyword(b: &[u8], pos: &mut usize, word: &[u8]) -> Result<(), Bad> {
    if b.get(*pos..*pos + word.len()) != Some(word) {
        return Err((*pos, EXPECTED_VALUE));
    }
    *pos += word.len();
    Ok(())
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
fn number(b: &[u8], pos: &mut usize) -> Result<(), Bad> {
    let digits = |i: &mut usize| {
        let from = *i;
        while at(b, *i).is_ascii_digit() {
            *i += 1;
        }
        *i > from
    };
    let mut i = *pos;
    if at(b, i) == b'-' {
        i += 1;
    }
    match at(b, i) {
        b'0' => i += 1,
        b'1'..=b'9' => {
            digits(&mut i);
        }
        _ => return Err((i, "invalid number")),
    }
    if at(b, i) == b'.' {
        i += 1;
        if !digits(&mut i) {
            return Err((i, "invalid number"));
        }
    }
    if matches!(at(b, i), b'e' | b'E') {
        i += 1;
        if matches!(at(b, i), b'+' | b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return Err((i, "invalid number"));
        }
    }
    *pos = i;
    Ok(())
}

/// Reads the JSON string at `pos` (on its opening quote), appending its unescaped text to `out`.
/// `ctrl`: the record holds control bytes somewhere, so look for them in the string's runs.
pub(crate) fn read_string(
    s: &str,
    pos: &mut usize,
    out: &mut String,
    ctrl: bool,
) -> Result<(), Bad> {
    let b = s.as_bytes();
    let mut i = *pos + 1;
    let mut run = i;
    loop {
        i = next_quote_or_escape(b, *pos, i, ctrl)?;
        // Quotes and backslashes are ASCII, so these are character boundaries.
        out.push_str(s.get(run..i).ok_or((i, "invalid string"))?);
        if at(b, i) == b'"' {
            *pos = i + 1;
            return Ok(());
        }
        let c = match at(b, i + 1) {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b, i + 2).ok_or((i, "invalid \\u escape"))?;
                i += 6;
                // Lone or mismatched surrogates are accepted (as serde_json accepts them) and
                // written as U+FFFD.
                let c = if (0xD800..0xDC00).contains(&hi)
                    && at(b, i) == b'\\'
                    && at(b, i + 1) == b'u'
                {
                    match hex4(b, i + 2) {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            i += 6;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        }
                        _ => None,
                    }
                } else {
                    char::from_u32(hi)
                };
                out.push(c.unwrap_or('\u{fffd}'));
                run = i;
                continue;
            }
            _ => return Err((i, "invalid escape")),
        };
        out.push(c);
        i += 2;
        run = i;
    }
}

/// From `i` inside the string opened at `open`, the next `"` or `\`; a raw control byte before
/// it (looked for only when `ctrl`) or the record's end is an error.
fn next_quote_or_escape(b: &[u8], open: usize, i: usize, ctrl: bool) -> Result<usize, Bad> {
    let rest = b.get(i..).unwrap_or(&[]);
    let k = find_either(rest, b'"', b'\\').ok_or((open, "unterminated string"))?;
    if ctrl {
        if let Some(c) = rest.get(..k).and_then(|r| r.iter().position(|&c| c < 0x20)) {
            return Err((i + c, "control character in a string"));
        }
    }
    Ok(i + k)
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let mut v = 0;
    for k in 0..4 {
        let d = (at(b, i + k) as char).to_digit(16)?;
        v = v * 16 + d;
    }
    Some(v)
}

/// Moves `pos` past the JSON string starting there, checking its escapes.
fn skip_string(b: &[u8], pos: &mut usize, ctrl: bool) -> Result<(), Bad> {
    let mut i = *pos + 1;
    loop {
        i = next_quote_or_escape(b, *pos, i, ctrl)?;
        if at(b, i) == b'"' {
            *pos = i + 1;
            return Ok(());
        }
        match at(b, i + 1) {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
            b'u' => {
                hex4(b, i + 2).ok_or((i, "invalid \\u escape"))?;
                i += 6;
            }
            _ => return Err((i, "invalid escape")),
        }
    }
}

/// Moves `pos` past the value starting there (any JSON value, checked in full), without
/// recursion: open containers are bits of `stack` (1 = object), at most [`MAX_SKIP_DEPTH`].
pub(crate) fn skip_value(b: &[u8], pos: &mut usize, ctrl: bool) -> Result<(), Bad> {
    let mut stack: u128 = 0;
    let mut depth = 0u32;
    loop {
        // A value.
        skip_ws(b, pos);
        match at(b, *pos) {
            open @ (b'{' | b'[') => {
                if depth == MAX_SKIP_DEPTH {
                    return Err((*pos, "arrays or objects nested too deeply"));
                }
                *pos += 1;
                skip_ws(b, pos);
                let close = if open == b'{' { b'}' } else { b']' };
                if at(b, *pos) == close {
                    *pos += 1;
                } else {
                    stack = (stack << 1) | u128::from(open == b'{');
                    depth += 1;
                    if open == b'{' {
                        skip_key(b, pos, ctrl)?;
                    }
                    continue;
                }
            }
            b'"' => skip_string(b, pos, ctrl)?,
            _ => skip_scalar(b, pos)?,
        }
        // After a value: close containers until one goes on with a comma.
        loop {
            if depth == 0 {
                return Ok(());
            }
            skip_ws(b, pos);
            let in_object = stack & 1 == 1;
            match at(b, *pos) {
                b',' => {
                    *pos += 1;
                    if in_object {
                        skip_key(b, pos, ctrl)?;
                    }
                    break;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ if in_object => return Err((*pos, "expected `,` or `}`")),
                _ => return Err((*pos, "expected `,` or `]`")),
            }
            *pos += 1;
            stack >>= 1;
            depth -= 1;
        }
    }
}

/// A key and its colon, inside an object `skip_value` is crossing.
fn skip_key(b: &[u8], pos: &mut usize, ctrl: bool) -> Result<(), Bad> {
    skip_ws(b, pos);
    if at(b, *pos) != b'"' {
        return Err((*pos, "expected a key (a string)"));
    }
    skip_string(b, pos, ctrl)?;
    skip_ws(b, pos);
    if at(b, *pos) != b':' {
        return Err((*pos, "expected `:`"));
    }
    *pos += 1;
    Ok(())
}
