// Typed numeric columns: CsvStreamParser's `numericColumns` and parseCsvNumbers, checked against
// an independent reading of the same CSV (readCsv + Number) on generated data with gaps, quoted
// fields, negative and exponent values, pushed in chunks cut at odd sizes.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import init, { CsvStreamParser, parseCsvNumbers } from "../../js/index.js";
import { readCsv } from "./helpers.mjs";

before(() => init());

function sample(rows) {
  let s = "id,label,amount,ratio\r\n";
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < rows; i++) {
    const amount = rnd() < 0.1 ? "" : rnd() < 0.1 ? "n/a" : ((rnd() - 0.5) * 1e6).toFixed(2);
    const ratio = rnd() < 0.5 ? (rnd() * 10).toExponential(3) : String(Math.floor(rnd() * 1e9) - 5e8);
    const label = rnd() < 0.3 ? `"q, ""${i}"""` : `l${i}`;
    s += `${i},${label},${amount},${ratio}\r\n`;
  }
  return s;
}
const expected = (text, col) => readCsv(text).slice(1).map((r) => {
  const t = r[col].trim();
  return t === "" || Number.isNaN(Number(t)) ? NaN : Number(t);
});

test("numeric columns by name and position equal an independent reading, in any chunking", () => {
  const text = sample(20000);
  const bytes = new TextEncoder().encode(text);
  for (const chunk of [7, 4096, 65536]) {
    const p = new CsvStreamParser({ numericColumns: ["amount", 3], batchRows: 1000 });
    const amount = [];
    const ratio = [];
    let textRows = 0;
    const take = (bs) => {
      for (const b of bs) {
        assert.equal(b.numbers.length, 2);
        assert.equal(b.numbers[0].length, b.rows);
        amount.push(...b.numbers[0]);
        ratio.push(...b.numbers[1]);
        textRows += b.rowEnds.length;
      }
    };
    for (let i = 0; i < bytes.length; i += chunk) take(p.push(bytes.subarray(i, i + chunk)));
    take(p.finish());
    p.free();
    assert.deepEqual(amount, expected(text, 2), `chunk ${chunk}`);
    assert.deepEqual(ratio, expected(text, 3), `chunk ${chunk}`);
    assert.equal(textRows, 20000);
  }
});

test("parseCsvNumbers gathers whole columns without the rows' text", () => {
  const text = sample(5000);
  const r = parseCsvNumbers(text, { columns: ["ratio", 0] });
  assert.equal(r.rows, 5000);
  assert.ok(r.columns.ratio instanceof Float64Array);
  assert.deepEqual([...r.columns.ratio], expected(text, 3));
  assert.deepEqual([...r.columns.id], expected(text, 0));
  assert.deepEqual(r.errors, []);
});

test("bad numeric column options name the field", () => {
  assert.throws(() => parseCsvNumbers("a\n1\n", { columns: [] }), { code: "E_INVALID_ARGUMENT", field: "columns" });
  assert.throws(() => parseCsvNumbers("a\n1\n", { columns: ["b"] }), { code: "E_INVALID_ARGUMENT", field: "numericColumns" });
  assert.throws(() => new CsvStreamParser({ numericColumns: [1.5] }), { code: "E_INVALID_ARGUMENT", field: "numericColumns[0]" });
  assert.throws(() => new CsvStreamParser({ numericColumns: "a" }), { code: "E_INVALID_ARGUMENT", field: "numericColumns" });
  assert.throws(() => new CsvStreamParser({ text: "no" }), { code: "E_INVALID_ARGUMENT", field: "text" });
});
