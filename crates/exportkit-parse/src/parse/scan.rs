//! Byte searches eight bytes at a time (std has no public memchr, and the JSON and CSV hot loops
//! spend most of their time looking for one of a few ASCII bytes). Plain safe code: each 8-byte
//! word is tested with the "has a zero byte" trick, and only a word that may hold a match is
//! scanned byte by byte.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The first eight bytes of `c` as one little-endian word (0 if `c` is shorter, which the
/// callers' `chunks_exact(8)` rules out). A plain load: `copy_from_slice` here was an out-of-line
/// call per word in the size-optimised wasm build.
#[inline(always)]
fn word(c: &[u8]) -> u64 {
    c.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w))
}

/// Non-zero when some byte of `w` equals `b` (exact: no false positive for "some byte").
#[inline]
fn has(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * b as u64);
    x.wrapping_sub(LO) & !x & HI
}

/// Index of the first byte of `s` for which `hit` says yes, testing words with `maybe` first.
#[inline(always)]
fn find_by(s: &[u8], maybe: impl Fn(u64) -> bool, hit: impl Fn(u8) -> bool) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        if maybe(word(c)) {
            if let Some(p) = c.iter().position(|&b| hit(b)) {
                return Some(base + p);
            }
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| hit(b))
        .map(|p| base + p)
}

pub fn find_byte(s: &[u8], a: u8) -> Option<usize> {
    find_by(s, |w| has(w, a) != 0, |b| b == a)
}

pub fn find_either(s: &[u8], a: u8, b: u8) -> Option<usize> {
    find_by(s, |w| (has(w, a) | has(w, b)) != 0, |x| x == a || x == b)
}

/// Whether `s` holds any byte that forces a CSV field into quotes: `,` `"` CR LF.
pub fn needs_csv_quotes(s: &[u8]) -> bool {
    find_by(
        s,
        |w| (has(w, b',') | has(w, b'"') | has(w, b'\r') | has(w, b'\n')) != 0,
        |b| matches!(b, b',' | b'"' | b'\r' | b'\n'),
    )
    .is_some()
}

/// Whether `s` holds any byte below 0x20 (a JSON string may not hold one raw): words are OR-ed
/// together with no branch per word, then the remainder.
pub fn any_control(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        let w = word(c);
        // Exact for "some byte < 0x20": the borrow can only start at such a byte.
        acc |= w.wrapping_sub(LO * 0x20) & !w & HI;
    }
    acc != 0 || chunks.remainder().iter().any(|&b| b < 0x20)
}

/// Whether `a` and `b` are the same bytes: eight at a time, for the short keys the JSON Lines
/// flattener compares per field (a call to the byte-at-a-time `memcmp` in the wasm build).
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in (&mut x).zip(&mut y) {
        if word(p) != word(q) {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

/// The first byte of `s` that ends or interrupts a plain JSON string on its way to a CSV cell:
/// `"`, `\\`, a control byte (not allowed raw), or `,` (the cell then needs quotes). One pass
/// for what would otherwise be a quote search, a control check and a CSV-quoting check.
pub fn find_json_string_stop(s: &[u8]) -> Option<usize> {
    find_by(
        s,
        |w| {
            (has(w, b'"') | has(w, b'\\') | has(w, b',') | (w.wrapping_sub(LO * 0x20) & !w & HI))
                != 0
        },
        |b| matches!(b, b'"' | b'\\' | b',') || b < 0x20,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_a_plain_scan_at_every_position() {
        let mut s = vec![b'x'; 37];
        assert_eq!(find_byte(&s, b'\n'), None);
        assert!(!needs_csv_quotes(&s));
        for i in 0..s.len() {
            for (needle, other) in [(b'"', b'\\'), (b'\\', b'"')] {
                s[i] = needle;
                assert_eq!(find_either(&s, b'"', b'\\'), Some(i));
                assert_eq!(find_byte(&s, needle), Some(i));
                assert_eq!(find_byte(&s, other), None);
                assert_eq!(find_either(&s[..i], b'"', b'\\'), None);
                s[i] = b'x';
            }
            for q in [b',', b'"', b'\r', b'\n'] {
                s[i] = q;
                assert!(needs_csv_quotes(&s));
                s[i] = q | 0x80; // same low bits, high bit set: no match
                assert!(!needs_csv_quotes(&s));
                s[i] = b'x';
            }
            for c in [0u8, b'\t', b'\r', 0x1f] {
                s[i] = c;
                assert!(any_control(&s));
                assert!(!any_control(&s[..i]));
                s[i] = b'x';
            }
            for c in [b'"', b'\\', b',', 0u8, b'\t', 0x1f] {
                s[i] = c;
                assert_eq!(find_json_string_stop(&s), Some(i));
                assert_eq!(find_json_string_stop(&s[..i]), None);
                s[i] = b'x';
            }
            for c in [b'{', b'['] {
                s[i] = c;
                assert!(!same_bytes(&s, &[b'x'; 37]));
                assert!(same_bytes(&s[..i], &[b'x'; 37][..i]));
                s[i] = b'x';
            }
            s[i] = 0x20;
            assert!(!any_control(&s));
            assert_eq!(find_json_string_stop(&s), None);
            s[i] = b'x';
        }
    }
}
