// `gunzip(bytes)`: a whole gzip file inflated in one call (js/gzip.js, src/wasm/gunzip.rs,
// crates/exportkit-parse gzip::gunzip). Real files (vega-datasets, a devDependency) against
// node:zlib, a trailer that lies, several members, and cut or damaged input.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync, gunzipSync } from "node:zlib";
import { before, test } from "node:test";
import init, { GunzipStream, gunzip } from "../../js/index.js";

before(() => init());

const vega = (name) => readFileSync(new URL(`../../node_modules/vega-datasets/data/${name}`, import.meta.url));
const REAL = ["flights-200k.json", "airports.csv", "movies.json", "zipcodes.csv", "github.csv"];

const isDecode = (re) => (e) => {
  assert.equal(e.name, "ExportError");
  assert.equal(e.code, "E_DECODE");
  assert.match(e.message, re);
  return true;
};

test("real files at every level round-trip exactly as node:zlib inflates them", () => {
  for (const name of REAL) {
    const raw = vega(name);
    for (const level of [1, 6, 9]) {
      const gz = gzipSync(raw, { level });
      const out = gunzip(gz);
      assert.ok(out instanceof Uint8Array, name);
      assert.equal(out.length, raw.length, `${name} level ${level}`);
      assert.ok(Buffer.from(out.buffer, out.byteOffset, out.length).equals(gunzipSync(gz)), `${name} level ${level}`);
    }
  }
  // Other containers of the same bytes.
  const gz = gzipSync(vega("airports.csv"));
  const ab = gz.buffer.slice(gz.byteOffset, gz.byteOffset + gz.length);
  assert.equal(gunzip(ab).length, vega("airports.csv").length);
  assert.equal(gunzip(new DataView(ab)).length, vega("airports.csv").length);
});

test("several members come out as one, whatever the last trailer suggests", () => {
  const big = vega("airports.csv");
  const small = Buffer.from("tail\n");
  // The trailer read for the size hint is the last (5-byte) member's: the buffer must grow.
  const file = Buffer.concat([gzipSync(big), gzipSync(Buffer.alloc(0)), gzipSync(small)]);
  const out = gunzip(file);
  assert.ok(Buffer.from(out).equals(Buffer.concat([big, small])));
  // GunzipStream agrees.
  const g = new GunzipStream();
  assert.ok(Buffer.from(g.push(file)).equals(Buffer.from(out)));
  g.finish();
  g.free();
});

test("a lying ISIZE is only a hint: too big allocates nothing silly, any lie is an E_DECODE", () => {
  const raw = vega("zipcodes.csv");
  const gz = gzipSync(raw);
  for (const lie of [0, 1, raw.length - 1, raw.length + 1, 0xffffffff]) {
    const bad = Buffer.from(gz);
    bad.writeUInt32LE(lie, bad.length - 4);
    assert.throws(() => gunzip(bad), isDecode(new RegExp(`length check.*member 1, compressed byte ${gz.length}\\)`)), `ISIZE ${lie}`);
  }
});

test("cut or damaged input is a coded error naming the compressed byte offset", () => {
  const gz = gzipSync(vega("airports.csv"));
  for (const cut of [1, 5, 10, gz.length >> 1, gz.length - 8, gz.length - 1]) {
    assert.throws(() => gunzip(gz.subarray(0, cut)), isDecode(new RegExp(`truncated.*compressed byte ${cut}\\)`)), `cut at ${cut}`);
  }
  const crc = Buffer.from(gz);
  crc[gz.length - 6] ^= 0xff;
  assert.throws(() => gunzip(crc), isDecode(/corrupt: incorrect data check.*compressed byte \d+/));
  const body = Buffer.from(gz);
  body[gz.length >> 1] ^= 0xff;
  assert.throws(() => gunzip(body), isDecode(/corrupt.*compressed byte \d+/));
  assert.throws(() => gunzip(Buffer.from("not gzip at all")), isDecode(/not gzip.*compressed byte 0\)/));
  assert.throws(() => gunzip(new Uint8Array(0)), isDecode(/empty/));
  const trailing = Buffer.concat([gz, Buffer.from("xyz")]);
  assert.throws(() => gunzip(trailing), isDecode(new RegExp(`after the last member \\(member 2, compressed byte ${gz.length}\\)`)));
});

test("maxOutputBytes caps the output; bad options and inputs are refused by name", () => {
  const raw = vega("airports.csv");
  const gz = gzipSync(raw);
  assert.equal(gunzip(gz, { maxOutputBytes: raw.length }).length, raw.length);
  assert.throws(() => gunzip(gz, { maxOutputBytes: raw.length - 1 }), isDecode(/larger than maxOutputBytes/));
  // A small bomb: 64 MiB of zeros in about 64 KB.
  const bomb = gzipSync(Buffer.alloc(64 << 20));
  assert.throws(() => gunzip(bomb, { maxOutputBytes: 1 << 20 }), isDecode(/larger than maxOutputBytes \(1048576\)/));
  for (const maxOutputBytes of [0, -1, 1.5, 2 ** 31, "10"]) {
    assert.throws(() => gunzip(gz, { maxOutputBytes }), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "maxOutputBytes");
  }
  assert.throws(() => gunzip("text"), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "input");
});
