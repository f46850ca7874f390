// The one-call-per-chunk protocol under the stream classes (js/staging.js, src/wasm/staging.rs):
// chunks bigger than the input buffer, many batches out of one push, other byte containers,
// wasm memory growing between calls, and bad arguments.
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { before, test } from "node:test";
import init, { CsvStreamParser, GunzipStream, JsonlCsvWriter, JsonlStreamParser, batchRows } from "../../js/index.js";

before(() => init());

const rowsOf = (n, from = 0) => Array.from({ length: n }, (_, i) => [`r${from + i}`, String((from + i) * 3), `x${"y".repeat(i % 40)}`]);
const csvOf = (rows) => rows.map((r) => r.join(",")).join("\r\n") + "\r\n";

test("a chunk bigger than the input buffer, and many batches out of one push", () => {
  const rows = rowsOf(20_000);
  const bytes = new TextEncoder().encode("a,b,c\r\n" + csvOf(rows)); // about 600 KB in one push
  assert.ok(bytes.length > 4 * 64 * 1024);
  const p = new CsvStreamParser({ batchRows: 7, numericColumns: ["b"] });
  const batches = [...p.push(bytes), ...p.finish()];
  assert.equal(batches.length, Math.ceil(20_000 / 7));
  assert.deepEqual(batches.flatMap(batchRows), rows);
  assert.deepEqual(batches.map((b) => b.firstRow).slice(0, 3), [0, 7, 14]);
  const sums = batches.reduce((s, b) => s + b.numbers[0].reduce((x, y) => x + y, 0), 0);
  assert.equal(sums, rows.reduce((s, r) => s + Number(r[1]), 0));
  assert.deepEqual(p.header(), ["a", "b", "c"]);
  p.free();
});

test("ArrayBuffer and other views are bytes too; anything else is refused by name", () => {
  const text = "a,b\r\n1,2\r\n3,4\r\n";
  const u8 = new TextEncoder().encode(text);
  const want = batchRowsOf(new CsvStreamParser(), u8);
  assert.deepEqual(batchRowsOf(new CsvStreamParser(), u8.buffer), want);
  assert.deepEqual(batchRowsOf(new CsvStreamParser(), new DataView(u8.buffer)), want);
  const padded = new Uint8Array(u8.length + 10);
  padded.set(u8, 5);
  assert.deepEqual(batchRowsOf(new CsvStreamParser(), padded.subarray(5, 5 + u8.length)), want);
  const p = new CsvStreamParser();
  assert.throws(() => p.push(text), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "chunk");
  p.free();
  assert.throws(() => new CsvStreamParser({ batchRows: 0 }), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "batchRows");
});

function batchRowsOf(p, input) {
  const out = [...p.push(input), ...p.finish()].flatMap(batchRows);
  p.free();
  return out;
}

test("results stay right when wasm memory grows between calls", () => {
  const w = new JsonlCsvWriter({ columns: ["id", "v"], discover: false });
  const small = new TextEncoder().encode('{"id":1,"v":"a"}\n');
  let csv = w.push(small);
  // 24 MB in one push: the input buffer and the output grow wasm memory, moving its ArrayBuffer.
  const line = '{"id":2,"v":"' + "b".repeat(1000) + '"}\n';
  const big = new TextEncoder().encode(line.repeat(24_000));
  csv += w.push(big);
  csv += w.push(small) + w.finish();
  const lines = csv.split("\r\n");
  assert.equal(lines[0], "id,v");
  assert.equal(lines[1], "1,a");
  assert.equal(lines.length, 1 + 1 + 24_000 + 1 + 1);
  assert.equal(lines[24_001], "2," + "b".repeat(1000));
  assert.equal(lines[24_002], "1,a");
  assert.equal(w.takeMeta().records, 24_002);
  w.free();
});

test("JsonlStreamParser: batches of records, line numbers past many pushes", () => {
  const p = new JsonlStreamParser({ batchRecords: 1000 });
  const recs = [];
  const text = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ i, s: "é".repeat(i % 7) })).join("\n");
  const bytes = new TextEncoder().encode(text);
  const firstLines = [];
  for (let at = 0; at < bytes.length; at += 1000) {
    for (const b of p.push(bytes.subarray(at, at + 1000))) {
      firstLines.push(b.firstLine);
      recs.push(...JSON.parse(b.text));
    }
  }
  for (const b of p.finish()) recs.push(...JSON.parse(b.text));
  assert.equal(recs.length, 5000);
  assert.deepEqual(recs.map((r) => r.i), Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(firstLines[0], 1);
  p.free();
});

test("GunzipStream: chunks of any size give the original bytes; a cut stream fails at finish", () => {
  const data = new TextEncoder().encode(Array.from({ length: 30_000 }, (_, i) => `{"n":${i}}`).join("\n"));
  const gz = gzipSync(data);
  for (const size of [1, 777, 64 * 1024, 300_000]) {
    const g = new GunzipStream();
    const parts = [];
    for (let at = 0; at < gz.length; at += size) parts.push(g.push(gz.subarray(at, at + size)));
    g.finish();
    assert.deepEqual(Buffer.concat(parts), Buffer.from(data), `chunks of ${size}`);
    g.free();
  }
  const g = new GunzipStream();
  g.push(gz.subarray(0, gz.length - 9));
  assert.throws(() => g.finish(), (e) => e.code === "E_DECODE");
  g.free();
});
