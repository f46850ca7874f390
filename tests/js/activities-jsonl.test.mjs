// The JSON Lines machinery on its own (used by client.activities and the Userpilot client):
// parseJsonl and jsonlToCsv, and the streaming classes fed chunks split anywhere, checked against
// JSON.parse and a plain JavaScript flattener.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import init, { jsonlToCsv, JsonlCsvWriter, JsonlStreamParser, parseJsonl } from "../../js/index.js";
import { readCsv } from "./helpers.mjs";

before(() => init());

const TEXT = '{"a":1,"s":"Müller \\"q\\", ok"}\r\n\r\n{"b":{"c":[1,"x;y",null]},"e":"🎉","p":[{"n":1},{"n":2}]}\n  \n{bad json}\n[1,2]\n{"last":true}';

test("parseJsonl: records, blank lines skipped, bad lines reported with their line", () => {
  const { data, errors, meta } = parseJsonl(TEXT);
  assert.deepEqual(data, [{ a: 1, s: 'Müller "q", ok' }, { b: { c: [1, "x;y", null] }, e: "🎉", p: [{ n: 1 }, { n: 2 }] }, { last: true }]);
  assert.deepEqual(errors.map((e) => [e.line, e.message]), [
    [5, "malformed JSON: key must be a string"],
    [6, "not a JSON object"],
  ]);
  assert.deepEqual(meta, { records: 3, lines: 7, bytes: Buffer.byteLength(TEXT) });
  assert.throws(() => parseJsonl(TEXT, { strict: true }), (e) => e.code === "E_DECODE" && e.line === 5);
  assert.throws(() => parseJsonl(42), (e) => e.field === "input");
});

test("the stream parser gives the same records whatever the chunk boundaries", () => {
  const bytes = new TextEncoder().encode(TEXT);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const p = new JsonlStreamParser({ batchRecords: 2 });
    const recs = [];
    for (const b of [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut)), ...p.finish()]) recs.push(...JSON.parse(b.text));
    assert.equal(recs.length, 3, `cut ${cut}`);
    assert.equal(recs[1].e, "🎉", `cut ${cut}`);
    assert.equal(p.takeMeta().errors.length, 2);
    p.free();
  }
});

test("jsonlToCsv: dotted columns, joined scalars, JSON for object arrays, or exploded rows", () => {
  const { csv, meta } = jsonlToCsv(TEXT);
  assert.deepEqual(meta.header, ["a", "s", "b.c", "e", "p", "last"]);
  assert.deepEqual(readCsv(csv), [
    ["a", "s", "b.c", "e", "p", "last"],
    ["1", 'Müller "q", ok', "", "", "", ""],
    ["", "", "1;x;y;", "🎉", '[{"n":1},{"n":2}]', ""],
    ["", "", "", "", "", "true"],
  ]);
  // The writer checks the JSON in its own walk (one pass): the same lines are refused, with
  // line and column, and they are not records.
  assert.deepEqual(meta.records, 3);
  const { errors } = jsonlToCsv(TEXT);
  assert.deepEqual(errors.map((e) => [e.line, e.column, e.message]), [
    [5, 2, "malformed JSON: expected a key (a string)"],
    [6, 1, "not a JSON object"],
  ]);
  assert.throws(() => jsonlToCsv(TEXT, { strict: true }), (e) => e.code === "E_DECODE" && e.line === 5 && e.column === 2);
  // A record that breaks mid-way through an exploded array writes none of its rows.
  const half = jsonlToCsv('{"u":1,"p":[{"n":1}]}\n{"u":2,"p":[{"n":2},{"n":02}]}\n{"u":3}', { explode: "p" });
  assert.deepEqual(readCsv(half.csv), [["u", "p.n"], ["1", "1"], ["3", ""]]);
  assert.deepEqual([half.meta.records, half.meta.rows, half.errors.map((e) => e.line)], [2, 2, [2]]);
  const ex = jsonlToCsv(TEXT, { columns: ["e", "p.n"], explode: "p", discover: false });
  assert.deepEqual(readCsv(ex.csv), [["e", "p.n"], ["", ""], ["🎉", "1"], ["🎉", "2"], ["", ""]]);
  assert.deepEqual(ex.meta.lateFields.map((l) => [l.column, l.firstLine]), [["a", 1], ["s", 1], ["b.c", 3], ["last", 7]]);
});

test("the CSV writer streams activity-like records split anywhere to the same CSV as plain JavaScript", () => {
  const lines = [];
  for (let i = 0; i < 40; i++) {
    lines.push(JSON.stringify({ uid: `u${i}`, n: i / 4, t: i % 3 === 0, subject: `re: "${i}", next\nline`, stats: { words: i * 7 }, tags: ["a", i], participants: Array.from({ length: i % 3 }, (_, k) => ({ name: `P${k}`, team: k ? { name: "T" } : null })) }));
  }
  const text = lines.join("\n") + "\n";
  const bytes = new TextEncoder().encode(text);
  const columns = ["uid", "n", "t", "subject", "stats.words", "tags", "participants.name", "participants.team.name"];
  const expected = [columns];
  for (const l of lines) {
    const r = JSON.parse(l);
    const base = [r.uid, String(r.n), String(r.t), r.subject, String(r.stats.words), r.tags.join(";")];
    if (!r.participants.length) expected.push([...base, "", ""]);
    for (const p of r.participants) expected.push([...base, p.name, p.team ? p.team.name : ""]);
  }
  for (const size of [1, 7, 100, 4096]) {
    const w = new JsonlCsvWriter({ columns, explode: "participants" });
    let csv = "";
    for (let i = 0; i < bytes.length; i += size) csv += w.push(bytes.subarray(i, i + size));
    csv += w.finish();
    assert.deepEqual(readCsv(csv), expected, `chunks of ${size}`);
    const meta = w.takeMeta();
    assert.equal(meta.rows, expected.length - 1);
    assert.equal(meta.records, 40);
    w.free();
  }
});

test("the first batch goes out early: 64 KiB for the stream parser, 1 MiB for the CSV writer, or firstBatchBytes", () => {
  const line = JSON.stringify({ uid: "u", body: "x".repeat(1000) }) + "\n";
  const bytes = new TextEncoder().encode(line.repeat(1500)); // 1.5 MB, fewer than 2048 records
  const p = new JsonlStreamParser();
  const batches = p.push(bytes);
  assert.ok(batches.length >= 1, "a first batch before 2048 records");
  assert.equal(batches[0].count, Math.ceil((64 << 10) / line.length));
  assert.ok(batches.slice(1).every((b) => b.count === 2048) || batches.length === 1);
  p.free();
  // The writer's header comes from its first batch (the first 1 MiB here); once it is fixed,
  // every record a push completes is written in that push.
  const sample = Math.ceil((1 << 20) / line.length);
  const late = line.replace('{"uid":"u"', '{"uid":"u","late":1}'.slice(0, -1));
  const mixed = new TextEncoder().encode(line.repeat(sample) + late.repeat(1500 - sample));
  const w = new JsonlCsvWriter();
  const csv = w.push(mixed);
  assert.equal(readCsv(csv).length, 1501, "the header and every record, in the first push");
  const meta = w.takeMeta();
  assert.deepEqual(meta.header, ["uid", "body"]);
  assert.deepEqual(meta.lateFields.map((l) => [l.column, l.firstLine, l.count]), [["late", sample + 1, 1500 - sample]]);
  w.free();
  const w2 = new JsonlCsvWriter({ firstBatchBytes: 4 << 20 });
  assert.equal(w2.push(mixed), "", "nothing until 2048 records or 4 MiB");
  const all = w2.finish();
  assert.equal(readCsv(all).length, 1501);
  assert.deepEqual(w2.takeMeta().header, ["uid", "body", "late"], "the whole input was the sample");
  w2.free();
  assert.throws(() => new JsonlStreamParser({ firstBatchBytes: 0 }), (e) => /firstBatchBytes/.test(e.message));
});
