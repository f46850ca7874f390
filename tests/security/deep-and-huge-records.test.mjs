// Depth and size limits end one record, not the export (issue 16 items 5 and 7): a record nested
// 5,000 levels deep and a 20 MB line, among good lines, become bad records with their line numbers
// in every JSON Lines reader a user sees: parseJsonl, JsonlStreamParser, jsonlToCsv,
// JsonlCsvWriter, a Userpilot export against the sandbox and the CLI writing it.
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import init, { JsonlCsvWriter, JsonlStreamParser, jsonlToCsv, parseJsonl, UserpilotClient } from "../../js/index.js";
import { control, gather, runCli, SANDBOX_CREDENTIALS, startSandbox } from "../js/helpers.mjs";

const deep = (n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
const HUGE = `{"huge":"${"x".repeat(20 << 20)}"}`;
const GOOD = [{ id: 1 }, { id: 2, n: { m: [1, 2] } }, { id: 3 }, { id: 4 }];
// Line 2 is 5,000 deep, line 4 is 20 MB; good records on lines 1, 3, 5 and 6.
const INPUT = [JSON.stringify(GOOD[0]), deep(5000), JSON.stringify(GOOD[1]), HUGE, JSON.stringify(GOOD[2]), JSON.stringify(GOOD[3])].join("\n") + "\n";
const BYTES = new TextEncoder().encode(INPUT);

function chunks(bytes, size) {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const badLines = (errors) => errors.map((e) => [e.line, /maxDepth/.test(e.message) ? "depth" : /maxLineBytes/.test(e.message) ? "length" : e.message]);

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 11, jobSpeed: 100, eventsPerDay: 30 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

test("parseJsonl: the good records all arrive, the deep and the huge line are errors with their lines", () => {
  const r = parseJsonl(INPUT);
  assert.deepEqual(r.data, GOOD);
  assert.deepEqual(badLines(r.errors), [[2, "depth"], [4, "length"]]);
  assert.match(r.errors[0].message, /deeper than 128 levels/);
  // Both limits are the caller's: a deeper limit lets the 5,000-deep record through as data
  // only up to 1,000 (JSON.stringify overflows near 4,000); a larger line cap takes the 20 MB line.
  const loose = parseJsonl(INPUT, { maxDepth: 1000, maxLineBytes: 32 << 20 });
  assert.deepEqual(badLines(loose.errors), [[2, "depth"]]);
  assert.equal(loose.data.length, 5);
  assert.equal(parseJsonl(deep(300), { maxDepth: 300 }).data.length, 1);
  assert.throws(() => parseJsonl(INPUT, { maxDepth: 5000 }), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "maxDepth");
  assert.throws(() => parseJsonl(INPUT, { strict: true }), (e) => e.code === "E_DECODE" && e.line === 2);
});

test("JsonlStreamParser: the 20 MB line streams by in 64 KiB chunks and is never kept", () => {
  const p = new JsonlStreamParser({ batchRecords: 2 });
  const records = [];
  for (const c of chunks(BYTES, 64 << 10)) for (const b of p.push(c)) records.push(...JSON.parse(b.text));
  for (const b of p.finish()) records.push(...JSON.parse(b.text));
  const meta = p.takeMeta();
  p.free();
  assert.deepEqual(records, GOOD);
  assert.deepEqual(badLines(meta.errors), [[2, "depth"], [4, "length"]]);
  assert.equal(meta.lines, 6);
});

test("jsonlToCsv and JsonlCsvWriter: rows for the good records, the bad lines in errors", () => {
  const want = "id,n.m\r\n1,\r\n2,1;2\r\n3,\r\n4,\r\n";
  const r = jsonlToCsv(INPUT, { columns: ["id", "n.m"], discover: false });
  assert.equal(r.csv, want);
  assert.deepEqual(badLines(r.errors), [[2, "depth"], [4, "length"]]);
  const w = new JsonlCsvWriter({ columns: ["id", "n.m"], discover: false });
  let csv = "";
  for (const c of chunks(BYTES, 1 << 20)) csv += w.push(c);
  csv += w.finish();
  const meta = w.takeMeta();
  w.free();
  assert.equal(csv, want);
  assert.deepEqual(badLines(meta.errors), [[2, "depth"], [4, "length"]]);
  // Flattening stops at 128 object levels whatever maxDepth says: its walk recurses per level.
  const f = jsonlToCsv(`${deep(200)}\n{"id":5}\n`, { maxDepth: 1000, columns: ["id"], discover: false });
  assert.equal(f.csv, "id\r\n5\r\n");
  assert.equal(f.errors[0].line, 1);
  assert.match(f.errors[0].message, /128 levels/);
});

const FAST = { pollMs: 20, maxPollMs: 100 };
const client = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });

async function injected(rule, check) {
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", rule);
  const out = await check();
  const [r] = (await control(sb, "/__sandbox/faults")).rules ?? (await control(sb, "/__sandbox/faults"));
  assert.equal(r.fired, 1, "the fault fired");
  return out;
}

test("Userpilot export: a 5,000-deep event and a 20 MB event are bad records, every other event arrives", async () => {
  const up = client();
  const job = (await up.exports.wait((await up.exports.start({ from: "2024-04-01", to: "2024-04-14" })).jobId, FAST)).jobId;
  const first = (await up.exports.get(job)).presignedUrls[0].filename;
  const text = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${job}`)).text();
  const truth = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(truth.length > 20);
  for (const [fault, kind] of [["deep_line", "depth"], ["huge_line", "length"]]) {
    await injected({ scope: "userpilot.file", fault, line: 3, nth: 1 }, async () => {
      const { batches, summary } = await gather(up.exports.rows(job, { concurrency: 1, batchRecords: 7, dedupe: false }));
      assert.deepEqual(batches.flatMap((b) => b.records), truth.filter((_, i) => i !== 2), fault);
      assert.deepEqual(summary.errors.map((e) => [e.file, e.line, e.filename]), [[0, 3, first]]);
      assert.deepEqual(badLines(summary.errors).map((e) => e[1]), [kind]);
    });
  }
  // The limits are options of the export too: raised, the same events arrive as data.
  await injected({ scope: "userpilot.file", fault: "deep_line", depth: 300, line: 3, nth: 1 }, async () => {
    const { batches, summary } = await gather(up.exports.rows(job, { concurrency: 1, maxDepth: 400, dedupe: false }));
    assert.deepEqual(summary.errors, []);
    assert.equal(JSON.stringify(batches.flatMap((b) => b.records)[2]), deep(300));
  });
  await injected({ scope: "userpilot.file", fault: "huge_line", line: 3, nth: 1 }, async () => {
    const { batches, summary } = await gather(up.exports.rows(job, { concurrency: 1, maxLineBytes: 32 << 20, dedupe: false }));
    assert.deepEqual(summary.errors, []);
    assert.equal(batches.flatMap((b) => b.records)[2].huge.length, (20 << 20) - 12);
  });
});

test("CLI: userpilot export writes every other event and reports the deep one, exit 0", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-deep-"));
  const out = join(dir, "events.jsonl");
  const env = { USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey };
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "deep_line", line: 2, nth: 1 });
  const r = await runCli(["userpilot", "export", "--from", "2024-04-01", "--to", "2024-04-07", "--out", out, "--base-url", sb.url], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /E_INTERNAL|call stack/);
  const job = /job ([0-9a-f-]{36})/.exec(r.stderr)[1];
  const text = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${job}`)).text();
  const truth = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const lines = (await readFile(out, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(lines, truth.filter((_, i) => i !== 1));
  assert.match(r.stderr, /line 2/);
});
