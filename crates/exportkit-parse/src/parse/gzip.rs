//! A streaming gzip decoder (RFC 1952) over zlib-rs's raw inflate, for runtimes without
//! `DecompressionStream` and for native use. zlib-rs rather than miniz_oxide: in the wasm build
//! (SIMD on) it inflated 1.08–1.12× as fast as Node's native `zlib.gunzipSync` where miniz_oxide
//! gave 0.81–0.88× (issue 19, bench/NOTES-19.md).
//!
//! Pull-shaped: [`GzipDecoder::decode`] fills a caller's output buffer and says how much input it
//! took, so a small compressed chunk that inflates a thousandfold never materialises at once
//! (memory stays bounded by the output buffer). Every member's trailer is checked: a CRC-32 or
//! length mismatch, or a stream that ends anywhere but between members, is an error and never a
//! short success. Concatenated members (`cat a.gz b.gz`) decode as one stream, as gzip(1) does.

use crate::error::{Error, Result};
use zlib_rs::{Inflate, InflateFlush, Status};

/// CRC-32 through zlib-rs's own, already linked for the inflate: crc32fast's slice-by-16 tables
/// added 16 KB (gzipped) to the parse module, and zlib-rs's is the faster of the two in wasm
/// (bench/NOTES-19.md). Same chaining as zlib's `crc32(crc, buf)`.
#[derive(Clone, Default)]
struct Crc(u32);

impl Crc {
    fn new() -> Self {
        Crc(0)
    }

    fn update(&mut self, bytes: &[u8]) {
        self.0 = zlib_rs::crc32::crc32(self.0, bytes);
    }

    fn finalize(self) -> u32 {
        self.0
    }
}

const FTEXT_FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xE0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    /// The 10 fixed bytes: magic, method, flags, mtime, xfl, os.
    Fixed,
    ExtraLen,
    Extra(u16),
    Name,
    Comment,
    HeaderCrc,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Between members (or before the first): more input starts a new member.
    Boundary,
    Header(Part),
    Body,
    Trailer,
    Failed,
}

pub struct GzipDecoder {
    inflate: Inflate,
    state: State,
    buf: [u8; 10],
    have: usize,
    flags: u8,
    header_crc: Crc,
    crc: Crc,
    size: u32,
    members: u32,
    total_in: u64,
    total_out: u64,
}

impl Default for GzipDecoder {
    fn default() -> Self {
        GzipDecoder::new()
    }
}

impl GzipDecoder {
    pub fn new() -> Self {
        GzipDecoder {
            // Raw deflate (no zlib header): the gzip framing is read here. A 32 KiB window.
            inflate: Inflate::new(false, 15),
            state: State::Boundary,
            buf: [0; 10],
            have: 0,
            flags: 0,
            header_crc: Crc::new(),
            crc: Crc::new(),
            size: 0,
            members: 0,
            total_in: 0,
            total_out: 0,
        }
    }

    /// Compressed bytes taken so far.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Decompressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Complete members decoded (trailer checked).
    pub fn members(&self) -> u32 {
        self.members
    }

    /// The input so far ends exactly after a complete member: ending here is a success.
    pub fn at_boundary(&self) -> bool {
        self.state == State::Boundary && self.members > 0
    }

    /// Decompresses from `input` into `output`. Returns `(consumed, written)`. Call again with
    /// `input[consumed..]` while `written == output.len()` (more may be pending) or input is
    /// left; `(n, 0)` with all input consumed means it needs more input.
    pub fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize)> {
        let mut i = 0;
        let mut w = 0;
        loop {
            match self.state {
                State::Failed => {
                    return Err(self.error("the stream already failed"));
                }
                State::Boundary => {
                    if i >= input.len() {
                        break;
                    }
                    self.state = State::Header(Part::Fixed);
                    self.have = 0;
                    self.header_crc = Crc::new();
                }
                State::Header(_) => {
                    if i >= input.len() {
                        break;
                    }
                    let n = self.header(&input[i..])?;
                    i += n;
                    self.total_in += n as u64;
                }
                State::Body => {
                    if w >= output.len() {
                        break;
                    }
                    let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
                    let r = self.inflate.decompress(
                        &input[i..],
                        &mut output[w..],
                        InflateFlush::NoFlush,
                    );
                    let consumed = (self.inflate.total_in() - in0) as usize;
                    let written = (self.inflate.total_out() - out0) as usize;
                    let out = &output[w..w + written];
                    self.crc.update(out);
                    self.size = self.size.wrapping_add(written as u32);
                    self.total_out += written as u64;
                    self.total_in += consumed as u64;
                    i += consumed;
                    w += written;
                    match r {
                        Ok(Status::StreamEnd) => {
                            self.state = State::Trailer;
                            self.have = 0;
                        }
                        // No progress possible: it needs more input (or more room, checked above).
                        Ok(Status::BufError) => break,
                        Ok(_) if consumed == 0 && written == 0 => break,
                        Ok(_) => {}
                        Err(_) => {
                            self.state = State::Failed;
                            return Err(self.error("the compressed data is corrupt"));
                        }
                    }
                }
                State::Trailer => {
                    if i >= input.len() {
                        break;
                    }
                    let n = (8 - self.have).min(input.len() - i);
                    self.buf[self.have..self.have + n].copy_from_slice(&input[i..i + n]);
                    self.have += n;
                    i += n;
                    self.total_in += n as u64;
                    if self.have == 8 {
                        self.check_trailer()?;
                    }
                }
            }
        }
        Ok((i, w))
    }

    /// Decodes all of `input`, appending the output to `out`. For callers whose input is known
    /// to be small; streaming callers use [`GzipDecoder::decode`] with a fixed buffer.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut rest = input;
        loop {
            let (c, w) = self.decode(rest, &mut buf)?;
            out.extend_from_slice(&buf[..w]);
            rest = &rest[c..];
            if rest.is_empty() && w < buf.len() {
                return Ok(());
            }
        }
    }

    /// Declares the end of the input: anything but a clean member boundary is an error.
    pub fn finish(&mut self) -> Result<()> {
        match self.state {
            State::Boundary if self.members > 0 => Ok(()),
            State::Boundary => Err(self.error("the stream is empty: no gzip data")),
            State::Failed => Err(self.error("the stream already failed")),
            State::Header(_) => Err(self.truncated("header")),
            State::Body => Err(self.truncated("compressed data")),
            State::Trailer => Err(self.truncated("trailer")),
        }
    }

    /// A truncation (as opposed to corruption) is what a dropped connection leaves: the caller
    /// may fetch the file again.
    pub fn is_truncated(&self) -> bool {
        matches!(self.state, State::Header(_) | State::Body | State::Trailer)
    }

    fn error(&self, what: &str) -> Error {
        Error::decode(
            0,
            0,
            format!(
                "gzip: {what} (member {}, compressed byte {})",
                self.members + 1,
                self.total_in
            ),
        )
    }

    fn truncated(&self, part: &str) -> Error {
        self.error(&format!("truncated: the input ended inside the {part}"))
    }

    fn fail(&mut self, what: &str) -> Error {
        self.state = State::Failed;
        self.error(what)
    }

    /// Consumes header bytes; returns how many.
    fn header(&mut self, input: &[u8]) -> Result<usize> {
        let mut i = 0;
        while i < input.len() {
            let State::Header(part) = self.state else {
                break;
            };
            let b = input[i];
            i += 1;
            if part != Part::HeaderCrc {
                self.header_crc.update(&[b]);
            }
            match part {
                Part::Fixed => {
                    self.buf[self.have] = b;
                    self.have += 1;
                    match self.have {
                        1 if b != 0x1f => {
                            return Err(if self.members > 0 {
                                self.fail("unexpected bytes after the last member")
                            } else {
                                self.fail("not gzip data (bad magic bytes)")
                            })
                        }
                        2 if b != 0x8b => return Err(self.fail("not gzip data (bad magic bytes)")),
                        3 if b != 8 => {
                            return Err(self.fail("unsupported compression method (not deflate)"))
                        }
                        4 if b & RESERVED != 0 => {
                            return Err(self.fail("reserved header flags are set"))
                        }
                        4 => self.flags = b,
                        10 => {
                            self.have = 0;
                            self.next_header_part(Part::Fixed);
                        }
                        _ => {}
                    }
                }
                Part::ExtraLen => {
                    self.buf[self.have] = b;
                    self.have += 1;
                    if self.have == 2 {
                        let len = u16::from_le_bytes([self.buf[0], self.buf[1]]);
                        self.have = 0;
                        if len == 0 {
                            self.next_header_part(Part::Extra(0));
                        } else {
                            self.state = State::Header(Part::Extra(len));
                        }
                    }
                }
                Part::Extra(left) => {
                    if left <= 1 {
                        self.next_header_part(Part::Extra(0));
                    } else {
                        self.state = State::Header(Part::Extra(left - 1));
                    }
                }
                Part::Name | Part::Comment => {
                    if b == 0 {
                        self.next_header_part(part);
                    }
                }
                Part::HeaderCrc => {
                    self.buf[self.have] = b;
                    self.have += 1;
                    if self.have == 2 {
                        let want = u16::from_le_bytes([self.buf[0], self.buf[1]]);
                        let got = (self.header_crc.clone().finalize() & 0xffff) as u16;
                        if want != got {
                            return Err(self.fail("header CRC mismatch"));
                        }
                        self.start_body();
                    }
                }
            }
        }
        Ok(i)
    }

    /// Moves past `done` to the next header part the flags call for, or to the body.
    fn next_header_part(&mut self, done: Part) {
        let order = [
            (Part::ExtraLen, FEXTRA),
            (Part::Name, FNAME),
            (Part::Comment, FCOMMENT),
            (Part::HeaderCrc, FTEXT_FHCRC),
        ];
        let rank = |p: Part| match p {
            Part::Fixed => 0,
            Part::ExtraLen | Part::Extra(_) => 1,
            Part::Name => 2,
            Part::Comment => 3,
            Part::HeaderCrc => 4,
        };
        for (part, flag) in order {
            if rank(part) > rank(done) && self.flags & flag != 0 {
                self.have = 0;
                self.state = State::Header(part);
                return;
            }
        }
        self.start_body();
    }

    fn start_body(&mut self) {
        self.inflate.reset(false);
        self.crc = Crc::new();
        self.size = 0;
        self.have = 0;
        self.state = State::Body;
    }

    fn check_trailer(&mut self) -> Result<()> {
        let b = self.buf;
        let want_crc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let want_size = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let got_crc = std::mem::replace(&mut self.crc, Crc::new()).finalize();
        if want_crc != got_crc {
            return Err(self.fail("CRC-32 mismatch: the data is corrupt"));
        }
        if want_size != self.size {
            return Err(self.fail("length mismatch: the data is corrupt"));
        }
        self.members += 1;
        self.state = State::Boundary;
        Ok(())
    }
}

/// The most [`gunzip`] produces unless told otherwise: 1 GiB, a quarter of a wasm32 memory.
pub const DEFAULT_MAX_OUTPUT: usize = 1 << 30;

/// Deflate cannot expand past about 1032:1, so a trailer claiming more than that lies.
const MAX_RATIO: usize = 1032;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompresses a whole gzip file (one or more members) into one buffer: the one-call path,
/// where [`GzipDecoder::decode`] is the streaming one. Here zlib-rs reads the gzip framing and
/// checks each member's CRC-32 and length itself, and inflates straight into the spare room of
/// the one output buffer (no zero-filling, no pieces to join): [`GzipDecoder`] driven the same
/// way measured 0.84× `zlib.gunzipSync` on flights-200k.json, this 0.84–0.92× on a loaded
/// machine (bench/RESULTS-goals.md has the current run).
///
/// The buffer is sized from the last member's trailer (ISIZE), which is only a hint: it is the
/// size modulo 2^32, it covers only the last member of a multi-member file, and a damaged or
/// hostile file can say anything. So the hint is clamped to what deflate could produce from
/// this input and to `max_output`, and the buffer doubles when the data turns out longer. More
/// than `max_output` bytes is an error, as is what [`GzipDecoder`] refuses (corrupt, truncated,
/// trailing bytes that are not another member), each naming the compressed byte offset.
pub fn gunzip(input: &[u8], max_output: usize) -> Result<Vec<u8>> {
    let err = |member: usize, offset: usize, what: &str| {
        Error::decode(
            0,
            0,
            format!("gzip: {what} (member {member}, compressed byte {offset})"),
        )
    };
    if input.is_empty() {
        return Err(err(1, 0, "the stream is empty: no gzip data"));
    }
    let hint = input
        .len()
        .checked_sub(4)
        .and_then(|i| input.get(i..))
        .and_then(|t| t.first_chunk::<4>())
        .map_or(0, |t| u32::from_le_bytes(*t) as usize);
    let most = input.len().saturating_mul(MAX_RATIO).min(max_output).max(1);
    // At least the input's size, so a trailer that says 0 does not cost a string of growths.
    let mut out: Vec<u8> = Vec::with_capacity(hint.clamp(input.len().min(most), most));
    let mut at = 0;
    let mut member = 0;
    while at < input.len() {
        member += 1;
        let rest = &input[at..];
        // Our own words for a file that is not gzip, or ends in something that is not another
        // member; a magic cut short is left to zlib-rs, which reports it as a truncation.
        if !GZIP_MAGIC.starts_with(&rest[..rest.len().min(2)]) {
            return Err(err(
                member,
                at,
                if member > 1 {
                    "unexpected bytes after the last member"
                } else {
                    "not gzip data (bad magic bytes)"
                },
            ));
        }
        // zlib-rs cannot reset into gzip mode, so each member gets its own state (members past
        // the first are rare: `cat a.gz b.gz`).
        let mut inflate = Inflate::new(true, 16 + 15);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= max_output {
                    // Full at the cap: fine only if nothing more comes out.
                    let mut probe = [0u8; 1];
                    let from = at + inflate.total_in() as usize;
                    let before = inflate.total_out();
                    let r = inflate.decompress(&input[from..], &mut probe, InflateFlush::NoFlush);
                    let used = inflate.total_in() as usize;
                    if inflate.total_out() > before {
                        return Err(err(
                            member,
                            at + used,
                            &format!("the output is larger than maxOutputBytes ({max_output})"),
                        ));
                    }
                    match r {
                        Ok(Status::StreamEnd) => {
                            at += used;
                            break;
                        }
                        Ok(_) => {
                            return Err(err(
                                member,
                                input.len(),
                                "truncated: the input ended inside the member",
                            ))
                        }
                        Err(_) => return Err(corrupt(&inflate, member, at + used)),
                    }
                }
                let grown = out.len().saturating_mul(2).min(max_output);
                out.reserve_exact(grown - out.len());
            }
            let spare = out.spare_capacity_mut();
            let room = spare.len();
            let in0 = inflate.total_in() as usize;
            let out0 = inflate.total_out();
            let r = inflate.decompress_uninit(
                &input[at + in0..],
                &mut spare[..room],
                InflateFlush::NoFlush,
            );
            let wrote = (inflate.total_out() - out0) as usize;
            // SAFETY: zlib-rs wrote `wrote` bytes (what its output count moved by, at most
            // `room`) at the start of the spare capacity it was given, so they are initialised.
            unsafe { out.set_len(out.len() + wrote.min(room)) };
            match r {
                Ok(Status::StreamEnd) => {
                    at += inflate.total_in() as usize;
                    break;
                }
                // Room left and no end: all input was taken (or no progress was possible).
                Ok(_) if wrote < room => {
                    return Err(err(
                        member,
                        input.len(),
                        "truncated: the input ended inside the member",
                    ));
                }
                Ok(_) => {}
                Err(_) => return Err(corrupt(&inflate, member, at + inflate.total_in() as usize)),
            }
        }
    }
    Ok(out)
}

/// zlib's own words for what was wrong ("incorrect data check" is the CRC-32, "incorrect length
/// check" the trailer's length), after ours.
fn corrupt(inflate: &Inflate, member: usize, offset: usize) -> Error {
    let why = inflate.error_message().unwrap_or("invalid deflate data");
    Error::decode(
        0,
        0,
        format!("gzip: the data is corrupt: {why} (member {member}, compressed byte {offset})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built by hand from stored deflate blocks (so the tests need no compressor), plus one real
    /// compressed member: text, a two-member file, an empty member, and a header with FEXTRA,
    /// FNAME, FCOMMENT and FHCRC set.
    fn fixtures() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        let hello = b"hello gzip\n".repeat(3);
        // Stored (uncompressed) deflate block: simplest way to build members by hand.
        let member = |data: &[u8], header: &[u8]| {
            let mut m = header.to_vec();
            m.push(0x01); // BFINAL=1, BTYPE=00 (stored)
            let len = data.len() as u16;
            m.extend_from_slice(&len.to_le_bytes());
            m.extend_from_slice(&(!len).to_le_bytes());
            m.extend_from_slice(data);
            let mut h = Crc::new();
            h.update(data);
            m.extend_from_slice(&h.finalize().to_le_bytes());
            m.extend_from_slice(&(data.len() as u32).to_le_bytes());
            m
        };
        let plain_header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        let mut fancy_header = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FTEXT_FHCRC,
            1,
            2,
            3,
            4,
            0,
            3,
        ];
        fancy_header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        fancy_header.extend_from_slice(b"file.json\0");
        fancy_header.extend_from_slice(b"a comment\0");
        let mut h = Crc::new();
        h.update(&fancy_header);
        let hcrc = (h.finalize() & 0xffff) as u16;
        fancy_header.extend_from_slice(&hcrc.to_le_bytes());
        // A real compressed member (fixed Huffman): Node's `zlib.gzipSync("aaaaaaaaaa\n")`.
        let compressed = vec![
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4b, 0x4c, 0x84, 0x01,
            0x2e, 0x00, 0x42, 0xe5, 0x26, 0x8f, 0x0b, 0x00, 0x00, 0x00,
        ];
        let two = [
            member(b"first\n", &plain_header),
            member(b"second\n", &plain_header),
        ]
        .concat();
        vec![
            ("stored", member(&hello, &plain_header), hello.clone()),
            (
                "fancy header",
                member(b"{\"a\":1}\n", &fancy_header),
                b"{\"a\":1}\n".to_vec(),
            ),
            ("compressed", compressed, b"aaaaaaaaaa\n".to_vec()),
            ("two members", two, b"first\nsecond\n".to_vec()),
            ("empty member", member(b"", &plain_header), Vec::new()),
        ]
    }

    fn decode_split(gz: &[u8], cut: usize, out_buf: usize) -> Result<Vec<u8>> {
        let mut d = GzipDecoder::new();
        let mut out = Vec::new();
        let mut buf = vec![0u8; out_buf];
        for part in [&gz[..cut], &gz[cut..]] {
            let mut rest = part;
            loop {
                let (c, w) = d.decode(rest, &mut buf)?;
                out.extend_from_slice(&buf[..w]);
                rest = &rest[c..];
                if rest.is_empty() && w < buf.len() {
                    break;
                }
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn every_fixture_split_at_every_byte_decodes_exactly() {
        for (name, gz, want) in fixtures() {
            for cut in 0..=gz.len() {
                for out_buf in [1, 3, 64 * 1024] {
                    let got = decode_split(&gz, cut, out_buf)
                        .unwrap_or_else(|e| panic!("{name} cut {cut} buf {out_buf}: {e}"));
                    assert_eq!(got, want, "{name} cut {cut} buf {out_buf}");
                }
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        for (name, gz, want) in fixtures() {
            let mut d = GzipDecoder::new();
            let mut out = Vec::new();
            for b in &gz {
                d.push(std::slice::from_ref(b), &mut out).unwrap();
            }
            d.finish().unwrap();
            assert_eq!(out, want, "{name}");
            assert_eq!(d.total_in(), gz.len() as u64);
        }
    }

    #[test]
    fn every_truncation_is_an_error_never_a_short_success() {
        for (name, gz, _) in fixtures() {
            let boundaries: Vec<usize> = if name == "two members" {
                vec![gz.len() / 2, gz.len()]
            } else {
                vec![gz.len()]
            };
            for cut in 0..gz.len() {
                let mut d = GzipDecoder::new();
                let mut out = Vec::new();
                d.push(&gz[..cut], &mut out).unwrap();
                let r = d.finish();
                if boundaries.contains(&cut) {
                    assert!(r.is_ok(), "{name} cut {cut}");
                } else {
                    let e = r.unwrap_err();
                    assert_eq!(e.code(), "E_DECODE", "{name} cut {cut}");
                    assert!(cut == 0 || d.is_truncated(), "{name} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn corruption_is_detected() {
        let (_, gz, _) = fixtures().remove(0);
        let n = gz.len();
        // Flip a data byte (CRC catches it), a CRC byte, a length byte, the magic, the method.
        for (at, what) in [
            (n - 12, "CRC-32"),
            (n - 6, "CRC-32"),
            (n - 2, "length"),
            (0, "magic"),
            (2, "method"),
        ] {
            let mut bad = gz.clone();
            bad[at] ^= 0x01;
            let e = decode_split(&bad, at / 2, 7).unwrap_err();
            assert!(e.to_string().contains(what), "{at}: {e}");
        }
        let mut garbage = gz.clone();
        garbage.extend_from_slice(b"xyz");
        let e = decode_split(&garbage, 0, 64).unwrap_err();
        assert!(e.to_string().contains("after the last member"), "{e}");
        let e = decode_split(b"", 0, 64).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        // A header CRC that does not match.
        let (_, mut fancy, _) = fixtures().remove(1);
        let at = fancy.iter().position(|&b| b == b'a').unwrap();
        fancy[at] = b'z';
        assert!(decode_split(&fancy, 3, 64)
            .unwrap_err()
            .to_string()
            .contains("header CRC"));
        // A corrupt deflate block (BTYPE=11 is reserved).
        let mut bad_block = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0, 0];
        bad_block.extend_from_slice(&[0; 8]);
        assert!(decode_split(&bad_block, 5, 64)
            .unwrap_err()
            .to_string()
            .contains("corrupt"));
    }

    #[test]
    fn output_is_bounded_by_the_callers_buffer() {
        // 78 compressed bytes that inflate to 64 KiB of zeros.
        let zeros = vec![0u8; 65536];
        let mut member = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        member.extend_from_slice(&deflate_zeros_fixture());
        let mut h = Crc::new();
        h.update(&zeros);
        member.extend_from_slice(&h.finalize().to_le_bytes());
        member.extend_from_slice(&(zeros.len() as u32).to_le_bytes());
        let mut d = GzipDecoder::new();
        let mut buf = [0u8; 100];
        let (c, w) = d.decode(&member, &mut buf).unwrap();
        assert_eq!(w, 100);
        assert!(c < member.len() || d.total_out() == 100);
        let mut total = w;
        let mut rest = &member[c..];
        loop {
            let (c, w) = d.decode(rest, &mut buf).unwrap();
            total += w;
            rest = &rest[c..];
            if rest.is_empty() && w < buf.len() {
                break;
            }
        }
        d.finish().unwrap();
        assert_eq!(total, 65536);
    }

    #[test]
    fn gunzip_in_one_call_gives_what_the_stream_gives() {
        for (name, gz, want) in fixtures() {
            assert_eq!(gunzip(&gz, DEFAULT_MAX_OUTPUT).unwrap(), want, "{name}");
            // Caps force growth from a small start, and stop output past them.
            if !want.is_empty() {
                assert_eq!(gunzip(&gz, want.len()).unwrap(), want, "{name} at its size");
                let e = gunzip(&gz, want.len() - 1).unwrap_err();
                assert!(e.to_string().contains("maxOutputBytes"), "{name}: {e}");
            }
            // Every cut short of a member boundary is an error naming where input ended.
            let boundaries = if name == "two members" {
                vec![gz.len() / 2]
            } else {
                vec![]
            };
            for cut in 1..gz.len() {
                let r = gunzip(&gz[..cut], DEFAULT_MAX_OUTPUT);
                if boundaries.contains(&cut) {
                    assert!(r.is_ok(), "{name} cut {cut}");
                    continue;
                }
                let e = r.unwrap_err();
                assert_eq!(e.code(), "E_DECODE");
                assert!(e.to_string().contains("truncated"), "{name} cut {cut}: {e}");
                assert!(
                    e.to_string().contains(&format!("compressed byte {cut}")),
                    "{name} cut {cut}: {e}"
                );
            }
        }
        let e = gunzip(b"", DEFAULT_MAX_OUTPUT).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = gunzip(b"PK\x03\x04", DEFAULT_MAX_OUTPUT).unwrap_err();
        assert!(e.to_string().contains("not gzip"), "{e}");
    }

    #[test]
    fn gunzip_takes_the_trailer_as_a_hint_only() {
        let (_, gz, want) = fixtures().remove(0);
        let n = gz.len();
        // A trailer claiming 4 GiB - 1, or 0: the output is still checked against it, and the
        // hint never allocates more than deflate could produce from the input.
        for isize in [u32::MAX, 0, 1] {
            let mut bad = gz.clone();
            bad[n - 4..].copy_from_slice(&isize.to_le_bytes());
            let e = gunzip(&bad, DEFAULT_MAX_OUTPUT).unwrap_err();
            assert!(
                e.to_string().contains("incorrect length check"),
                "{isize}: {e}"
            );
            assert!(
                e.to_string().contains(&format!("compressed byte {n}")),
                "{isize}: {e}"
            );
        }
        // A multi-member file whose last member is small: the hint is far too low, growth
        // covers it; and a corrupt CRC-32 in the first member names that member.
        let (big, big_want) = (stored_member(&[b'x'; 5000]), vec![b'x'; 5000]);
        let file = [big.clone(), gz.clone()].concat();
        assert_eq!(
            gunzip(&file, DEFAULT_MAX_OUTPUT).unwrap(),
            [big_want, want].concat()
        );
        let mut bad = file.clone();
        bad[big.len() - 8] ^= 1;
        let e = gunzip(&bad, DEFAULT_MAX_OUTPUT).unwrap_err();
        assert!(e.to_string().contains("incorrect data check"), "{e}");
        assert!(e.to_string().contains("member 1"), "{e}");
        // Exactly at the cap, across stored blocks and members, is not "larger".
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let two = [stored_member(&data), stored_member(&data)].concat();
        for cap in [data.len(), 2 * data.len()] {
            let file = if cap == data.len() {
                &two[..two.len() / 2]
            } else {
                &two[..]
            };
            assert_eq!(gunzip(file, cap).unwrap().len(), cap);
            let e = gunzip(file, cap - 1).unwrap_err();
            assert!(e.to_string().contains("maxOutputBytes"), "{e}");
        }
        let mut trailing = file;
        trailing.extend_from_slice(b"\0\0");
        let e = gunzip(&trailing, DEFAULT_MAX_OUTPUT).unwrap_err();
        assert!(e.to_string().contains("after the last member"), "{e}");
        assert!(
            e.to_string()
                .contains(&format!("compressed byte {}", trailing.len() - 2)),
            "{e}"
        );
    }

    /// A member holding `data` in stored deflate blocks (each at most 65535 bytes).
    fn stored_member(data: &[u8]) -> Vec<u8> {
        let mut m = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        let blocks: Vec<&[u8]> = data.chunks(65535).collect();
        for (i, b) in blocks.iter().enumerate() {
            m.push(u8::from(i + 1 == blocks.len()));
            let len = b.len() as u16;
            m.extend_from_slice(&len.to_le_bytes());
            m.extend_from_slice(&(!len).to_le_bytes());
            m.extend_from_slice(b);
        }
        let mut h = Crc::new();
        h.update(data);
        m.extend_from_slice(&h.finalize().to_le_bytes());
        m.extend_from_slice(&(data.len() as u32).to_le_bytes());
        m
    }

    /// Raw deflate of 65536 zero bytes as Node's zlib writes it (`deflateRawSync(Buffer.alloc(65536))`).
    fn deflate_zeros_fixture() -> Vec<u8> {
        let mut v = vec![
            0xed, 0xc1, 0x01, 0x01, 0x00, 0x00, 0x00, 0x80, 0x90, 0xfe, 0xaf, 0xee, 0x08, 0x0a,
        ];
        v.extend_from_slice(&[0u8; 63]);
        v.push(0x6a);
        v
    }
}
