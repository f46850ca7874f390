// Issue 17: one bad-record shape for every `errors[]` entry, whatever made it (the CSV and JSON
// Lines parsers, one-shot and streaming; Query results; Activities and Userpilot summaries).
// Papa Parse's { type, code, message, row } plus where the record was; what does not apply is null,
// so every entry has the same keys.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import init, {
  BackstoryClient, CsvStreamParser, JsonlCsvWriter, JsonlStreamParser, UserpilotClient,
  jsonlToCsv, parseCsv, parseCsvNumbers, parseJsonl,
} from "../../js/index.js";
import { control, gather, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

const KEYS = ["code", "column", "file", "filename", "fragment", "jobId", "line", "message", "row", "type", "window"];
const TYPES = ["Quotes", "Delimiter", "FieldMismatch", "Json", "Limit", "Encoding"];
const NUMBER_OR_NULL = ["row", "column", "window", "fragment", "file"];
const STRING_OR_NULL = ["jobId", "filename"];

/** Every entry has exactly KEYS, each of its type; `where` lists the keys that must not be null. */
function assertBadRecords(errors, { type, code, where = [] }) {
  assert.ok(Array.isArray(errors) && errors.length >= 1, `errors: ${JSON.stringify(errors)}`);
  for (const e of errors) {
    assert.deepEqual(Object.keys(e).sort(), KEYS, JSON.stringify(e));
    assert.ok(TYPES.includes(e.type), e.type);
    assert.equal(typeof e.code, "string");
    assert.equal(typeof e.message, "string");
    assert.ok(Number.isInteger(e.line) && e.line >= 1, `line ${e.line}`);
    for (const k of NUMBER_OR_NULL) assert.ok(e[k] === null || Number.isInteger(e[k]), `${k}: ${e[k]}`);
    for (const k of STRING_OR_NULL) assert.ok(e[k] === null || typeof e[k] === "string", `${k}: ${e[k]}`);
    for (const k of KEYS) if (!where.includes(k) && !["type", "code", "message", "line"].includes(k)) assert.equal(e[k], null, `${k} does not apply`);
    for (const k of where) assert.notEqual(e[k], null, `${k} is known`);
  }
  assert.equal(errors[0].type, type);
  assert.equal(errors[0].code, code);
}

const enc = new TextEncoder();
const BAD_CSV = "a,b\n1,2\n3\n4,5\n";
const BAD_JSONL = '{"a":1}\n{"a":\n{"a":2}\n';

test("CSV parsers: FieldMismatch with its row", () => {
  const where = ["row"];
  assertBadRecords(parseCsv(BAD_CSV).errors, { type: "FieldMismatch", code: "TooFewFields", where });
  assertBadRecords(parseCsv("a,b\n1,2,3\n").errors, { type: "FieldMismatch", code: "TooManyFields", where });
  assertBadRecords(parseCsvNumbers(BAD_CSV, { columns: ["a"] }).errors, { type: "FieldMismatch", code: "TooFewFields", where });
  const s = new CsvStreamParser();
  s.push(enc.encode(BAD_CSV));
  s.finish();
  assertBadRecords(s.takeMeta().errors, { type: "FieldMismatch", code: "TooFewFields", where });
  assertBadRecords(parseCsv(new Uint8Array([...enc.encode("a,b\n1,"), 0xff, 0xfe, 0x0a])).errors, { type: "Encoding", code: "InvalidUtf8", where });
});

test("JSON Lines parsers: Json, Limit and Encoding with line and column", () => {
  const where = ["column"];
  assertBadRecords(parseJsonl(BAD_JSONL).errors, { type: "Json", code: "InvalidJson", where });
  assertBadRecords(parseJsonl("[1]\n").errors, { type: "Json", code: "NotAnObject", where });
  assertBadRecords(parseJsonl('{"a":[[[1]]]}\n', { maxDepth: 2 }).errors, { type: "Limit", code: "TooDeep", where });
  assertBadRecords(parseJsonl(`{"a":"${"x".repeat(2000)}"}\n`, { maxLineBytes: 1024 }).errors, { type: "Limit", code: "LineTooLong", where });
  assertBadRecords(parseJsonl(new Uint8Array([...enc.encode('{"a":"'), 0xff, ...enc.encode('"}\n')])).errors, { type: "Encoding", code: "InvalidUtf8", where });
  assertBadRecords(jsonlToCsv(BAD_JSONL).errors, { type: "Json", code: "InvalidJson", where });
  const p = new JsonlStreamParser();
  p.push(enc.encode(BAD_JSONL));
  p.finish();
  assertBadRecords(p.takeMeta().errors, { type: "Json", code: "InvalidJson", where });
  const w = new JsonlCsvWriter();
  w.push(enc.encode(BAD_JSONL));
  w.finish();
  assertBadRecords(w.takeMeta().errors, { type: "Json", code: "InvalidJson", where });
});

// ------------------------------------------------------------------ the clients, against the sandbox

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 8, activities: 2000, fragmentRecords: 50, jobSpeed: 100, eventsPerDay: 20, dailyLimit: 1000 });
});
after(() => sb?.close());

async function withFault(rule, run) {
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { rules: [rule] });
  try {
    return await run();
  } finally {
    await control(sb, "/__sandbox/faults/clear", {});
  }
}
const backstory = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const userpilot = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });

test("Query results: a record with bad UTF-8 is an Encoding bad record with its row", () =>
  withFault({ scope: "query", fault: "invalid_utf8", afterBytes: 2000 }, async () => {
    const res = await backstory().query({ object: "account", columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_industry" }] });
    assertBadRecords(res.errors, { type: "Encoding", code: "InvalidUtf8", where: ["row"] });
  }));

test("Activities summaries: a malformed line is a Json bad record with its window, job and fragment", async () => {
  const FAST = { pollIntervalMs: 20, pollMaxMs: 100 };
  const job = await backstory().activities.wait(await backstory().activities.start({ startDate: "2024-06-01", endDate: "2024-06-07" }), FAST);
  await withFault({ scope: "activities.data", fault: "malformed_line", line: 3, nth: 1 }, async () => {
    const { summary } = await gather(backstory().activities.rows(job, { ...FAST, concurrency: 1 }));
    assertBadRecords(summary.errors, { type: "Json", code: "InvalidJson", where: ["column", "window", "jobId", "fragment"] });
    assert.deepEqual([summary.errors[0].jobId, summary.errors[0].fragment, summary.errors[0].line], [job.jobId, 0, 3]);
  });
});

test("Userpilot summaries: bad records with their file and filename (JSON and CSV)", async () => {
  const FAST = { pollMs: 20, maxPollMs: 100 };
  const up = userpilot();
  const jsonJob = (await up.exports.wait((await up.exports.start({ from: "2024-04-01", to: "2024-04-10" })).jobId, FAST)).jobId;
  await withFault({ scope: "userpilot.file", fault: "malformed_line", line: 4, nth: 1 }, async () => {
    const { summary } = await gather(up.exports.rows(jsonJob, { concurrency: 1, dedupe: false }));
    assertBadRecords(summary.errors, { type: "Json", code: "InvalidJson", where: ["column", "file", "filename"] });
  });
  const csvJob = (await up.exports.wait((await up.exports.start({ from: "2024-04-01", to: "2024-04-10", format: "csv" })).jobId, FAST)).jobId;
  await withFault({ scope: "userpilot.file", fault: "invalid_utf8", afterBytes: 1500, nth: 1 }, async () => {
    const { summary } = await gather(up.exports.rows(csvJob, { concurrency: 1, dedupe: false }));
    assertBadRecords(summary.errors, { type: "Encoding", code: "InvalidUtf8", where: ["row", "file", "filename"] });
  });
});
