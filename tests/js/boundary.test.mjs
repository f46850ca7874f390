// The JS boundary (issue 17): errors thrown by the Rust core are the package's own ExportError,
// a caller's throwing callback comes back as the error's `cause`, option objects read through
// serde name the field that is wrong, and one option name serves every API (old names kept).
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient, CsvStreamParser, ExportError, initClient, jsonlToCsv, parseCsv, parseJsonl, UserpilotClient, writeCsv } from "../../js/index.js";
import * as wasm from "../../pkg/exportkit.js";
import { control, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  await init();
  // The raw client module is called below before any client is made (it loads lazily otherwise).
  await initClient();
  sb = await startSandbox({ port: 0, seed: 7, jobSpeed: 40, eventsPerDay: 40 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const backstory = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const userpilot = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });
const QUERY = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }] };
const invalid = (field) => (e) => {
  assert.ok(e instanceof ExportError, `an ExportError, got ${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.code, "E_INVALID_ARGUMENT");
  assert.equal(e.field, field, e.message);
  return true;
};

test("errors thrown by the Rust core itself are ExportError instances, stack and all", async () => {
  // Straight from the wasm exports: no js/ wrapper in between to rebuild the error.
  assert.throws(() => wasm.variation("ootb_user_count_emails_sent", "next_century"), (e) => {
    assert.ok(e instanceof ExportError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "ExportError");
    assert.equal(e.code, "E_INVALID_ARGUMENT");
    assert.equal(typeof e.stack, "string");
    return true;
  });
  assert.throws(() => wasm.BackstoryCore.validateQuery("{}"), (e) => e instanceof ExportError && e.code === "E_INVALID_ARGUMENT");
  // An async core method rejects with one too (an unknown job: an HTTP answer, not an argument).
  await assert.rejects(userpilot().exports.get("no-such-job"), (e) => e instanceof ExportError && typeof e.code === "string" && e.code !== "E_INTERNAL");
});

test("a throwing onBatch ends the query with the caller's own exception as `cause`", async () => {
  const mine = new TypeError("my handler broke");
  await assert.rejects(
    backstory().query(QUERY, {
      onBatch: () => {
        throw mine;
      },
    }),
    (e) => {
      invalid("onBatch")(e);
      assert.equal(e.cause, mine, "the very object the caller threw");
      assert.match(e.message, /my handler broke/);
      return true;
    },
  );
});

test("a rejecting async onBatch is the cause as well, also for non-Error values", async () => {
  const mine = { reason: "quota on my side" };
  await assert.rejects(
    backstory().query(QUERY, { onBatch: async () => Promise.reject(mine) }),
    (e) => invalid("onBatch")(e) && e.cause === mine,
  );
});

test("a bad option value is E_INVALID_ARGUMENT naming that option", async () => {
  const up = userpilot();
  await assert.rejects(up.lookups.get("segments", { limit: "ten" }), invalid("limit"));
  await assert.rejects(up.lookups.get("segments", { afterCursor: 42 }), invalid("afterCursor"));
  await assert.rejects(up.exports.start({ from: "2024-03-04", to: "2024-03-04" }, { waitForRunning: "yes" }), invalid("waitForRunning"));
  // Booleans are booleans: "no" used to pass as truthy and do the opposite of what it said.
  const job = await up.exports.start({ from: "2024-03-04", to: "2024-03-04" });
  const drain = async (opts) => {
    for await (const _ of up.exports.rows(job, { pollIntervalMs: 20, ...opts }));
  };
  await assert.rejects(drain({ nativeGunzip: "no" }), invalid("nativeGunzip"));
  await assert.rejects(drain({ dedupe: "no" }), invalid("dedupe"));
  await assert.rejects(drain({ maxDepth: 2.5 }), invalid("maxDepth"));
  // Stream classes read their options the same way; an array element is named with its index.
  assert.throws(() => jsonlToCsv('{"a":1}\n', { discover: "no" }), invalid("discover"));
  assert.throws(() => jsonlToCsv('{"a":1}\n', { columns: ["a", 2] }), invalid("columns[1]"));
  assert.throws(() => parseJsonl('{"a":1}\n', { strict: 1 }), invalid("strict"));
  const bs = backstory();
  await assert.rejects(bs.query(QUERY, { timeoutMs: "soon" }), invalid("timeoutMs"));
  await assert.rejects(bs.forecasts.all({ forecast_type_id: 10089, per_page: 7 }, { maxPages: "all" }), invalid("maxPages"));
  await assert.rejects(bs.activities.wait("job-1", { timeoutMs: "soon" }), invalid("timeoutMs"));
});

test("the CSV parser's and writer's options are read through serde: a wrong type names its option", () => {
  assert.throws(() => new CsvStreamParser({ delimiter: 5 }), invalid("delimiter"));
  assert.throws(() => new CsvStreamParser({ delimiter: ";;" }), invalid("delimiter"));
  // A batchRows that is not a number was ignored before, as was a header or strict of any type.
  assert.throws(() => new CsvStreamParser({ batchRows: "10" }), invalid("batchRows"));
  assert.throws(() => parseCsv("a\n1\n", { header: "no" }), invalid("header"));
  assert.throws(() => parseCsv("a\n1\n", { strict: 1 }), invalid("strict"));
  assert.throws(() => parseCsv("a\n1\n", { skipEmptyLines: "yes" }), invalid("skipEmptyLines"));
  assert.throws(() => parseCsv("a\n1\n", { numericColumns: ["a", {}] }), invalid("numericColumns[1]"));
  assert.throws(() => writeCsv([["a"]], { width: -1 }), invalid("width"));
  assert.throws(() => writeCsv([["a"]], { csvGuard: "no" }), invalid("csvGuard"));
  // Right values still do what they say.
  const { data, meta } = parseCsv("a;b\n\n1;2\n", { delimiter: ";", skipEmptyLines: true, header: true });
  assert.deepEqual([meta.fields, data], [["a", "b"], [["1", "2"]]]);
  assert.equal(writeCsv([["=1", "x"]], { csvGuard: false, width: 3 }), "=1,x,\r\n");
});

test("pollIntervalMs / pollMaxMs name the polling options everywhere; pollMs / maxPollMs still work", async () => {
  const up = userpilot();
  const job = await up.exports.start({ from: "2024-03-04", to: "2024-03-04" });
  // Userpilot reads the shared names now (it used to ignore them and poll at its defaults).
  await assert.rejects(up.exports.wait(job, { pollIntervalMs: 0 }), invalid("pollIntervalMs"));
  await assert.rejects(up.exports.wait(job, { pollMaxMs: -5 }), invalid("pollMaxMs"));
  // The Raw Activity Data API reads Userpilot's old names as the same options.
  const bs = backstory();
  await assert.rejects(bs.activities.wait("job-1", { pollMs: 1 }), invalid("pollIntervalMs"));
  await assert.rejects(bs.activities.wait("job-1", { maxPollMs: 1 }), invalid("pollMaxMs"));
  // Both the new and the deprecated name finish a real wait.
  const a = await up.exports.wait(job, { pollIntervalMs: 20, pollMaxMs: 50 });
  const b = await up.exports.wait(job, { pollMs: 20, maxPollMs: 50 });
  assert.equal(a.status, "completed");
  assert.equal(b.status, "completed");
  // One option given twice under its two names is refused rather than silently picking one.
  await assert.rejects(up.exports.wait(job, { pollIntervalMs: 20, pollMs: 30 }), (e) => e.code === "E_INVALID_ARGUMENT" && /pollIntervalMs/.test(e.message));
});

test("the JSON Lines options (read field by field in the parse module) name the option that is wrong", () => {
  assert.throws(() => jsonlToCsv('{"a":1}\n', { explode: 5 }), invalid("explode"));
  assert.throws(() => jsonlToCsv('{"a":1}\n', { columns: "a" }), invalid("columns"));
  assert.throws(() => jsonlToCsv('{"a":1}\n', { csvGuard: "off" }), invalid("csvGuard"));
  assert.throws(() => parseJsonl('{"a":1}\n', { batchRecords: "10" }), invalid("batchRecords"));
  assert.throws(() => parseJsonl('{"a":1}\n', { maxLineBytes: true }), invalid("maxLineBytes"));
  assert.throws(() => parseJsonl('{"a":1}\n', "strict"), invalid("options"));
  // Absent and null are the defaults; other keys in the object are never read.
  assert.equal(jsonlToCsv('{"a":1}\n', { columns: null, explode: undefined, onRecords: () => {} }).csv, "a\r\n1\r\n");
  assert.deepEqual(parseJsonl('{"a":1}\n', { strict: null, batchRecords: 1 }).data, [{ a: 1 }]);
});
