// JSON Lines -> CSV on real flat records (vega-datasets, a devDependency: movies, cars,
// flights, penguins as JSON Lines), the case the flattener's fast path serves, cell for cell
// against a plain JavaScript reference: JSON.parse per line, RFC 4180 quoting, the OWASP guard.
// (crates/exportkit-parse's tests hold the fast path to the general path on the same files.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, test } from "node:test";
import init, { JsonlCsvWriter, jsonlToCsv } from "../../js/index.js";

before(() => init());

const vega = (name) => JSON.parse(readFileSync(new URL(`../../node_modules/vega-datasets/data/${name}`, import.meta.url), "utf8"));
const FILES = ["movies.json", "cars.json", "flights-20k.json", "penguins.json"];

const PLAIN_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
function cell(v, guard) {
  if (v === null || v === undefined) return "";
  let s = String(v);
  if (guard && /^[=+\-@\t\r]/.test(s) && !PLAIN_NUMBER.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The reference: header from every key in order of first appearance, one row per record. */
function reference(records, guard) {
  const columns = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const rows = [columns.map((c) => cell(c, guard)).join(",")];
  for (const r of records) rows.push(columns.map((c) => cell(r[c], guard)).join(","));
  return { columns, csv: rows.join("\r\n") + "\r\n" };
}

test("real flat records come out cell for cell as the JavaScript reference writes them", () => {
  for (const name of FILES) {
    const records = vega(name);
    assert.ok(records.every((r) => Object.values(r).every((v) => v === null || typeof v !== "object")), `${name} is flat`);
    // Some cells to guard and quote, as real exports hold them.
    records[3] = { ...records[3], [Object.keys(records[3])[0]]: "=HYPERLINK(\"x\")" };
    records[5] = { ...records[5], [Object.keys(records[5])[1]]: "a, \"quoted\" cell" };
    const text = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
    const bytes = new TextEncoder().encode(text);
    for (const guard of [true, false]) {
      const want = reference(records, guard);
      const got = jsonlToCsv(bytes, { columns: want.columns, csvGuard: guard });
      assert.equal(got.meta.rows, records.length, name);
      assert.deepEqual(got.errors, [], name);
      assert.equal(got.csv, want.csv, `${name} guard ${guard}`);
      // Streamed in odd chunks, the header still found from the first batch.
      const w = new JsonlCsvWriter({ csvGuard: guard });
      let csv = "";
      for (let at = 0; at < bytes.length; at += 9_999) csv += w.push(bytes.subarray(at, at + 9_999));
      csv += w.finish();
      const header = w.takeMeta().header;
      w.free();
      assert.deepEqual(header, want.columns, name);
      assert.equal(csv, want.csv, `${name} streamed, guard ${guard}`);
    }
  }
});
