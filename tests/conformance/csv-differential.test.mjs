// Differential test on public real-world CSVs nobody here wrote: every CSV and TSV the
// `vega-datasets` npm package ships (airports, birdstrikes, species, zipcodes, seattle-weather,
// stocks, disasters, ...: 77 B to 2 MB), read by exportkit, Papa Parse and uDSV, every cell compared.
//
// Where the peers disagree: Papa Parse turns a file's final line break into one more row, `[""]`
// (it reads the break as the start of an empty last record; users pass `skipEmptyLines` to drop
// it). uDSV and exportkit read that break as the end of the last record, as RFC 4180 allows ("the
// last record may or may not have an ending line break"). So Papa's rows are compared after
// dropping exactly that one trailing `[""]`, and only when the file ends with a line break; any
// other difference fails the test.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { before, test } from "node:test";
import Papa from "papaparse";
import { inferSchema, initParser } from "udsv";
import init, { batchRows, CsvStreamParser, parseCsv } from "../../js/index.js";

// The package exports only its JS entry (build/index.js); its data/ folder sits beside build/.
const dir = join(dirname(createRequire(import.meta.url).resolve("vega-datasets")), "..", "data");
const FILES = readdirSync(dir).filter((f) => /\.(csv|tsv)$/.test(f)).sort();

before(() => init());

function firstDifference(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return { row: i, a: a[i], b: b[i] };
  }
  return null;
}

/** The rows CsvStreamParser gives for `bytes` pushed in `size`-byte chunks. */
function streamed(bytes, size, delimiter) {
  const p = new CsvStreamParser({ header: false, delimiter, batchRows: 1000 });
  const rows = [];
  for (let i = 0; i < bytes.length; i += size) for (const b of p.push(bytes.subarray(i, i + size))) rows.push(...batchRows(b));
  for (const b of p.finish()) rows.push(...batchRows(b));
  p.free();
  return rows;
}

const tally = { files: 0, bytes: 0, cells: 0, papaTrailingRows: 0 };
for (const f of FILES) {
  test(`vega-datasets ${f}: exportkit, Papa Parse and uDSV agree on every cell`, () => {
    const bytes = readFileSync(join(dir, f));
    const text = new TextDecoder().decode(bytes);
    const delimiter = f.endsWith(".tsv") ? "\t" : ",";
    const ek = parseCsv(bytes, { header: false, delimiter });
    assert.deepEqual(ek.errors, [], "no malformed records in a published dataset");
    assert.ok(ek.data.length >= 2, "header and rows");

    const schema = inferSchema(text, { col: delimiter });
    const udsv = [schema.cols.map((c) => c.name), ...initParser(schema).stringArrs(text)];
    assert.equal(firstDifference(ek.data, udsv), null, "uDSV");

    const papa = Papa.parse(text, { delimiter }).data;
    if (/\r?\n$/.test(text)) {
      assert.deepEqual(papa.at(-1), [""], "Papa's extra row for the final line break");
      papa.pop();
      tally.papaTrailingRows++;
    }
    assert.equal(firstDifference(ek.data, papa), null, "Papa Parse");

    for (const size of [65536, 4093, 97]) assert.equal(firstDifference(streamed(bytes, size, delimiter), ek.data), null, `${size}-byte chunks`);
    tally.files++;
    tally.bytes += bytes.length;
    tally.cells += ek.data.reduce((n, r) => n + r.length, 0);
  });
}

test("vega-datasets: the corpus is what this test says it is", (t) => {
  assert.ok(FILES.length >= 20, `${FILES.length} files`);
  assert.equal(tally.files, FILES.length, "every file passed");
  assert.ok(FILES.some((f) => readFileSync(join(dir, f)).length > 1e6), "some files are over 1 MB");
  t.diagnostic(`vega-datasets differential: ${tally.files} of ${FILES.length} files passed, ${(tally.bytes / 1e6).toFixed(1)} MB, ${tally.cells.toLocaleString("en-US")} cells equal across exportkit, uDSV and Papa Parse (Papa's trailing [""] row dropped in ${tally.papaTrailingRows})`);
});
