// The npm package's JS API in Node against the sandbox.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, * as ek from "../../js/index.js";
import * as wasm from "../../pkg/exportkit.js";
import { control, readCsv, SANDBOX_CREDENTIALS, startSandbox, truthCsv } from "./helpers.mjs";

const { BackstoryClient, ExportError, memoryStore, parseCsv, variation } = ek;
let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 3 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const client = (extra = {}) => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory, ...extra });

test("rows, header and CSV match the sandbox's generated records exactly", async () => {
  const truth = await control(sb, "/__sandbox/truth/records?object=account");
  const slugs = ["ootb_account_crm_id", "ootb_account_name", "ootb_account_engagement_level"];
  const res = await client().query({ object: "account", columns: slugs.map((slug) => ({ slug })) }, { batchRows: 250 });
  assert.deepEqual(res.header, slugs);
  assert.equal(res.rowCount, truth.records.length);
  const expected = truth.records.map((r) => slugs.map((s) => (r[s] === null || r[s] === undefined ? "" : String(r[s]))));
  assert.deepEqual(res.rows, expected);
  assert.deepEqual(readCsv(res.csv).slice(1), expected, "the raw CSV says the same");
  assert.deepEqual(res.missingColumns, []);
  assert.equal(res.fromCache, false);
  assert.equal(res.callsLeft, 9);
});

test("time-based columns: variations, the 7-day default, and dropped periods are reported", async () => {
  const q = {
    object: "user",
    columns: [
      { slug: "ootb_user_email" },
      { slug: "ootb_user_count_emails_sent", variation_id: variation("ootb_user_count_emails_sent", "last_30_days") },
      { slug: "ootb_user_external_meetings_matched" },
      { slug: "made_up_metric", variationId: "made_up_metric_last_quarter" },
    ],
  };
  const res = await client().query(q);
  assert.deepEqual(res.header, ["ootb_user_email", "ootb_user_count_emails_sent_last_30_days", "ootb_user_external_meetings_matched_last_7_days"]);
  assert.deepEqual(res.missingColumns, [{ slug: "made_up_metric", variationId: "made_up_metric_last_quarter" }]);
  assert.equal(res.csv, await truthCsv(sb, q));
});

test("the cache answers the same query without spending a call", async () => {
  const c = client({ cacheTtlMs: 60_000 });
  const q = { object: "user", columns: [{ slug: "ootb_user_email" }] };
  const a = await c.query(q);
  const phases = [];
  const b = await c.query({ columns: [{ slug: "ootb_user_email" }], object: "user" }, { onProgress: (p) => phases.push(p.phase) });
  assert.equal(b.fromCache, true);
  assert.deepEqual(b.rows, a.rows);
  assert.deepEqual(phases, ["done"]);
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 1);
  const c2 = await c.query(q, { refresh: true });
  assert.equal(c2.fromCache, false);
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 2);
});

test("the quota store is the caller's and survives clients", async () => {
  const store = memoryStore();
  const a = client({ quotaStore: store });
  assert.equal(a.callsLeftToday(), 10);
  await a.query({ object: "user", columns: [{ slug: "ootb_user_email" }] });
  assert.equal(client({ quotaStore: store }).callsLeftToday(), 9);
  assert.equal(client().callsLeftToday(), 10, "a fresh memory store");
});

test("queryBatches streams with backpressure and stopping early cancels the download", async () => {
  const q = { object: "opportunity", columns: [{ slug: "ootb_opportunity_name" }] };
  const seen = [];
  for await (const batch of client().queryBatches(q, { batchRows: 100 })) {
    assert.deepEqual(batch.header, ["ootb_opportunity_name"]);
    seen.push(batch.rows.length);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [100, 100, 100]);
  const all = [];
  const it = client().queryBatches(q, { batchRows: 1000 });
  for await (const batch of it) all.push(...batch.rows);
  const summary = await it.result();
  assert.equal(all.length, summary.rowCount);
  assert.deepEqual(all, readCsv(await truthCsv(sb, q)).slice(1));
});

test("errors are ExportError instances with codes and fields", async () => {
  assert.throws(() => client().validateQuery({ object: "account", columns: [{ slug: "x", variation_id: "y_last_7_days" }] }), (e) => {
    assert.ok(e instanceof ExportError);
    assert.equal(e.code, "E_INVALID_ARGUMENT");
    assert.equal(e.field, "columns[0].variation_id");
    return true;
  });
  await assert.rejects(client().query({ object: "account", columns: [{ slug: "x" }], filter: { attribute: { slug: "x" }, clause: { $regex: "a" } } }), { code: "E_INVALID_ARGUMENT", field: "filter.clause.$regex" });
  assert.throws(() => client({ baseUrl: "not a url" }), { code: "E_INVALID_ARGUMENT", field: "baseUrl" });
  assert.throws(() => new BackstoryClient({ baseUrl: sb.url, clientId: "a" }), { code: "E_INVALID_ARGUMENT", field: "clientSecret" });
  const ctrl = new AbortController();
  ctrl.abort();
  await assert.rejects(client().query({ object: "user", columns: [{ slug: "ootb_user_email" }] }, { signal: ctrl.signal }), { code: "E_ABORTED" });
  await assert.rejects(new BackstoryClient({ baseUrl: "http://127.0.0.1:1", clientId: "a", clientSecret: "b" }).query({ object: "user", columns: [{ slug: "u" }] }), { code: "E_NETWORK" });
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 0);
});

test("JS constants agree with the wasm core", () => {
  assert.deepEqual([...ek.PERIODS], wasm.queryPeriods());
  assert.deepEqual([...ek.OBJECTS], wasm.queryObjects());
  assert.ok(ek.knownSlugs("account").some((s) => s.slug === "ootb_account_name"));
});

test("parseCsv has Papa Parse's shape and reports bad rows with their line", () => {
  const r = parseCsv('a,b\r\n1,"x,y"\r\n2\r\n3,"multi\nline"\r\n');
  assert.deepEqual(r.meta.fields, ["a", "b"]);
  assert.deepEqual(r.data, [["1", "x,y"], ["2"], ["3", "multi\nline"]]);
  assert.deepEqual(r.errors, [{
    type: "FieldMismatch", code: "TooFewFields", message: "expected 2 fields, found 1", row: 1, line: 3,
    column: null, window: null, jobId: null, fragment: null, file: null, filename: null,
  }]);
  assert.throws(() => parseCsv("a\n1", { delimiter: ";;" }), { code: "E_INVALID_ARGUMENT", field: "delimiter" });
  assert.throws(() => parseCsv(42), { field: "input" });
});
