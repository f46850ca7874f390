// `client.forecasts` (Forecasting Query API) in Node against the sandbox: every parameter, pages
// compared record for record with the sandbox's truth, the flat table and CSV, a total that
// changes mid-run, every validation error before any call, faults, abort and timeout.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, * as ek from "../../js/index.js";
import { control, readCsv, SANDBOX_CREDENTIALS, spreadsheetCell, startSandbox } from "./helpers.mjs";

const { BackstoryClient } = ek;
const WEEK = 7 * 86_400_000;
const BASE = ["hierarchy_node_id", "hierarchy_node_ownership_external_id", "hierarchy_node_name", "cadence_period_id", "submitted_by", "submitted_at", "notes"];
let sb;
let ref;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 11 });
  ref = await control(sb, "/__sandbox/truth/forecasting");
});
after(() => sb.close());
beforeEach(async () => {
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/clock", { offsetMs: 0 });
});

const client = (extra = {}) => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory, ...extra });
const truth = (wire) => control(sb, "/__sandbox/truth/forecasting", wire);
const period = (name) => ref.fiscal_periods.find((p) => p.name === name);

/** How many forecasting requests the sandbox saw: a fault rule that never fires counts them. */
async function countRequests() {
  await control(sb, "/__sandbox/faults", { scope: "forecasting", fault: "status", status: 500, nth: 1e9 });
  return async () => {
    const rules = await control(sb, "/__sandbox/faults");
    return (Array.isArray(rules) ? rules : rules.rules)[0].seen;
  };
}

/** The table the issue asks for, built here independently of the client. */
function expectedTable(records, typeId) {
  const order = ref.forecast_types.find((t) => t.id === typeId).fields;
  const present = order.filter((f) => records.some((r) => r.fields[f] !== undefined));
  return {
    columns: [...BASE, ...present.map((f) => `fields.${f}.value`)],
    rows: records.map((r) => [...BASE.map((k) => r[k] ?? null), ...present.map((f) => r.fields[f]?.value ?? null)]),
  };
}

test("every parameter gives exactly the sandbox's records, page by page and in order", async () => {
  const past = period("FY2024 Q3");
  const times = past.snapshot_times;
  const vp = ref.hierarchy.find((n) => n.level === 2);
  const mgr = ref.hierarchy.find((n) => n.level === 3);
  const cases = [
    { forecast_type_id: 10089, per_page: 7 },
    { forecastTypeId: 10090, perPage: 13, sort: "hierarchy_level", fiscalPeriodId: past.id },
    { forecast_type_id: 10091, per_page: 30, sort: "default", fiscal_period_external_id: past.external_id, timeframe: { snapshots: "all", since: times[1], until: times[5] } },
    { forecast_type_id: 10089, per_page: 9, hierarchy_node_id: vp.id, include_descendants: true, fiscal_period_id: past.id, timeframe: { snapshots: "all" } },
    { forecast_type_id: 10089, per_page: 1000, hierarchyNodeOwnershipExternalId: mgr.external_id, includeDescendants: false, fiscal_period_id: past.id, timeframe: { snapshots: "all", until: times[4] } },
    { forecast_type_id: 10090, per_page: 4, hierarchy_node_ownership_external_id: vp.external_id, include_descendants: true, fiscal_period_id: past.id, timeframe: { snapshots: "latest", since: times[0] } },
    { forecast_type_id: 10091, per_page: 6, page: 4, fiscal_period_id: past.id, sort: "hierarchy_level" },
  ];
  const c = client();
  for (const params of cases) {
    const wire = c.forecasts.validate(params);
    const t = await truth(wire);
    const first = wire.page ?? 1;
    const expected = t.records.slice((first - 1) * wire.per_page);
    assert.ok(expected.length > 0, JSON.stringify(params));
    const last = Math.max(1, Math.ceil(t.total / wire.per_page));
    const pages = [];
    const it = c.forecasts.query(params, { concurrency: 3 });
    for await (const p of it) pages.push(p);
    assert.deepEqual(pages.map((p) => p.page), Array.from({ length: last - first + 1 }, (_, i) => first + i), JSON.stringify(params));
    for (const p of pages) {
      assert.equal(p.pageLast, last);
      assert.equal(p.totalCount, t.total);
      assert.equal(p.limit, wire.per_page);
      assert.equal(p.totalChanged, false);
    }
    assert.deepEqual(pages.flatMap((p) => p.records), expected, JSON.stringify(params));
    assert.deepEqual(await it.result(), { pages: pages.length, records: expected.length, totalCount: t.total, pageLast: last, totalChanges: [], complete: true });
  }
  // The selections really selected: one node, a subtree, a window of snapshots.
  const one = (await c.forecasts.all(cases[4])).records;
  assert.ok(one.length === 5 && one.every((r) => r.hierarchy_node_id === mgr.id), "one node, snapshots 0..4 inclusive");
  const sub = (await c.forecasts.all(cases[3])).records;
  assert.ok(new Set(sub.map((r) => r.hierarchy_node_id)).has(vp.id) && sub.length > times.length * 3);
  const win = (await c.forecasts.all(cases[2])).records;
  assert.equal(win.length, ref.hierarchy.length * 5, "since..until holds five weekly snapshots");
  const levels = (await truth(c.forecasts.validate(cases[1]))).hierarchy_level;
  assert.deepEqual(levels, [...levels].sort((a, b) => a - b), "hierarchy_level sorts by level");
});

test("all() gathers a many-page query exactly, and flattens it to a table and CSV", async () => {
  const params = { forecast_type_id: 10089, per_page: 11, timeframe: { snapshots: "all" } };
  const c = client();
  const progress = [];
  const res = await c.forecasts.all(params, { concurrency: 4, onProgress: (p) => progress.push(p) });
  const t = await truth(c.forecasts.validate(params));
  assert.ok(t.total > 200 && res.pages > 20, `a large fixture: ${t.total} records`);
  assert.deepEqual(res.records, t.records);
  assert.equal(res.totalCount, t.total);
  assert.equal(res.complete, true);
  assert.deepEqual(res.totalChanges, []);
  assert.ok(progress.some((p) => p.inFlight > 1), "pages overlapped");
  assert.ok(progress.every((p) => p.inFlight <= 4));
  assert.equal(progress.at(-1).records, t.total);

  const table = res.table();
  const want = expectedTable(t.records, 10089);
  assert.deepEqual(table.columns, want.columns);
  assert.ok(table.columns.includes("fields.forecast_call.value"), "the union holds manager-only fields");
  assert.ok(table.rows.some((r) => r[table.columns.indexOf("fields.forecast_call.value")] === null), "null where a record lacks a field");
  assert.deepEqual(table.rows, want.rows);

  const csv = res.toCsv();
  assert.ok(csv.endsWith("\r\n"));
  const parsed = readCsv(csv);
  assert.deepEqual(parsed[0], want.columns);
  // Spreadsheet-safe by default (the notes hold =SUM(A1:A9)); raw cells on request.
  assert.deepEqual(parsed.slice(1), want.rows.map((r) => r.map((v) => (v === null ? "" : spreadsheetCell(String(v))))));
  assert.deepEqual(readCsv(res.toCsv({ csvGuard: false })).slice(1), want.rows.map((r) => r.map((v) => (v === null ? "" : String(v)))));
  // The same helpers work on any records; the columns are those records' own union.
  const reps = t.records.filter((r) => r.fields.forecast_call === undefined).slice(0, 3);
  assert.deepEqual(c.forecasts.table(reps), expectedTable(reps, 10089));
  assert.ok(!c.forecasts.table(reps).columns.includes("fields.forecast_call.value"));
  assert.equal(c.forecasts.toCsv([]).trim(), BASE.join(","));
});

test("a total that changes between pages is reported, and the pages follow it", async () => {
  // FY2025 Q1 with six weekly snapshots so far; a week later there is a seventh.
  await control(sb, "/__sandbox/clock", { set: "2025-02-10T12:00:00Z" });
  const params = { forecast_type_id: 10090, per_page: 40, timeframe: { snapshots: "all" } };
  const c = client();
  const before = await truth(c.forecasts.validate(params));
  const seen = [];
  const pages = [];
  const it = c.forecasts.query(params, { concurrency: 1, onTotalChange: (ch) => seen.push(ch) });
  for await (const p of it) {
    pages.push(p);
    if (p.page === 1) await control(sb, "/__sandbox/clock", { advanceMs: WEEK });
  }
  const afterward = await truth(c.forecasts.validate(params));
  assert.equal(afterward.total, before.total + ref.hierarchy.length, "one more snapshot of every node");
  const summary = await it.result();
  assert.equal(summary.totalChanges.length, 1);
  const [change] = summary.totalChanges;
  assert.deepEqual(seen, summary.totalChanges);
  assert.ok(change.page === 2 || change.page === 3, `the change shows on the first page fetched after it: ${change.page}`);
  assert.equal(change.previous, before.total);
  assert.equal(change.current, afterward.total);
  assert.equal(pages[0].totalChanged, false);
  assert.ok(pages.filter((p) => p.page >= change.page).every((p) => p.totalChanged && p.totalCount === afterward.total));
  const newLast = Math.ceil(afterward.total / 40);
  assert.equal(pages.at(-1).page, newLast, "the run followed the new page count");
  assert.equal(summary.pageLast, newLast);

  // all() says the same in its result.
  await control(sb, "/__sandbox/clock", { set: "2025-02-10T12:00:00Z" });
  let flipped = false;
  const res = await c.forecasts.all(params, {
    concurrency: 1,
    onProgress: async (p) => {
      if (p.pages === 1 && !flipped) {
        flipped = true;
        await control(sb, "/__sandbox/clock", { advanceMs: WEEK });
      }
    },
  });
  assert.equal(res.totalChanges.length, 1);
  assert.equal(res.totalCount, afterward.total);
});

test("every validation error names its field and makes no call", async () => {
  const c = client();
  const count = await countRequests();
  const cases = [
    [{}, "forecast_type_id"],
    [{ per_page: 10 }, "forecast_type_id"],
    [{ forecast_type_id: "10089", per_page: 10 }, "forecast_type_id"],
    [{ forecast_type_id: 0, per_page: 10 }, "forecast_type_id"],
    [{ forecast_type_id: 1.5, per_page: 10 }, "forecast_type_id"],
    [{ forecastTypeId: null, perPage: 10 }, "forecast_type_id"],
    [{ forecast_type_id: 10089 }, "per_page"],
    [{ forecast_type_id: 10089, per_page: 0 }, "per_page"],
    [{ forecast_type_id: 10089, per_page: 1001 }, "per_page"],
    [{ forecastTypeId: 10089, perPage: 5000 }, "perPage"],
    [{ forecast_type_id: 10089, per_page: 10, perPage: 10 }, "perPage"],
    [{ forecast_type_id: 10089, per_page: 10, page: 0 }, "page"],
    [{ forecast_type_id: 10089, per_page: 10, page: 1.5 }, "page"],
    [{ forecast_type_id: 10089, per_page: 10, fiscal_period_id: "a", fiscal_period_external_id: "b" }, "fiscal_period_external_id"],
    [{ forecast_type_id: 10089, per_page: 10, fiscalPeriodId: "a", fiscal_period_external_id: "b" }, "fiscal_period_external_id"],
    [{ forecast_type_id: 10089, per_page: 10, fiscal_period_id: "" }, "fiscal_period_id"],
    [{ forecast_type_id: 10089, per_page: 10, hierarchy_node_id: 5, hierarchy_node_ownership_external_id: "x" }, "hierarchy_node_ownership_external_id"],
    [{ forecast_type_id: 10089, per_page: 10, hierarchyNodeId: "5" }, "hierarchyNodeId"],
    [{ forecast_type_id: 10089, per_page: 10, include_descendants: "true" }, "include_descendants"],
    [{ forecast_type_id: 10089, per_page: 10, sort: "hierarchyLevel" }, "sort"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: "all" }, "timeframe"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: {} }, "timeframe.snapshots"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { since: 1 } }, "timeframe.snapshots"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { snapshots: "first" } }, "timeframe.snapshots"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { snapshots: "all", since: 10, until: 9 } }, "timeframe.since"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { snapshots: "all", since: -1 } }, "timeframe.since"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { snapshots: "all", until: "2025-01-01" } }, "timeframe.until"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { snapshots: "all", to: 5 } }, "timeframe.to"],
    [{ forecast_type_id: 10089, per_page: 10, fiscal_period: "x" }, "fiscal_period"],
  ];
  for (const [params, field] of cases) {
    const what = JSON.stringify(params);
    for (const call of [() => c.forecasts.validate(params), () => c.forecasts.query(params)]) {
      assert.throws(call, (e) => e instanceof ek.ExportError && e.code === "E_INVALID_ARGUMENT" && e.field === field && e.message.includes(field), what);
    }
    await assert.rejects(c.forecasts.all(params), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === field, what);
  }
  assert.throws(() => c.forecasts.query(null), (e) => e.field === "params");
  assert.throws(() => c.forecasts.query([1]), (e) => e.field === "params");
  assert.throws(() => c.forecasts.query("{"), (e) => e.field === "params");
  const ok = { forecast_type_id: 10089, per_page: 10 };
  for (const [opts, field] of [
    [{ path: "v3/no-slash" }, "path"],
    [{ path: "/x?y=1" }, "path"],
    [{ path: "//evil.example/x" }, "path"],
    [{ concurrency: 0 }, "concurrency"],
    [{ concurrency: 7 }, "concurrency"],
    [{ maxPages: 0 }, "maxPages"],
    [{ timeoutMs: -1 }, "timeoutMs"],
    [{ onProgress: "no" }, "onProgress"],
  ]) {
    await assert.rejects(c.forecasts.all(ok, opts), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === field, JSON.stringify(opts));
  }
  assert.equal(await count(), 0, "no request reached the sandbox");
  // The one spelling that is not an error: the documented boundary values.
  assert.deepEqual(c.forecasts.validate({ forecastTypeId: 1, perPage: 1000, timeframe: { snapshots: "all", since: 5, until: 5 } }), {
    forecast_type_id: 1,
    per_page: 1000,
    timeframe: { snapshots: "all", since: 5, until: 5 },
  });
});

test("the path can be overridden; vendor errors keep their status; secrets stay out", async () => {
  const c = client();
  const params = { forecast_type_id: 10089, per_page: 100 };
  const res = await c.forecasts.all(params, { path: "/v3/beta/forecasting/query/" });
  assert.ok(res.records.length > 0);
  await assert.rejects(c.forecasts.all(params, { path: "/v3/beta/forecasting/other" }), (e) => e.code === "E_HTTP" && e.status === 404);
  await assert.rejects(c.forecasts.all({ forecast_type_id: 4242, per_page: 10 }), (e) => e.code === "E_HTTP" && e.status === 404 && /forecast_type_id/.test(e.message));
  await assert.rejects(c.forecasts.all({ ...params, fiscal_period_id: "no-such-period" }), (e) => e.status === 404 && /fiscal_period_id/.test(e.message));
  const wrong = client({ clientSecret: "wrong-secret-ZZZ" });
  await assert.rejects(wrong.forecasts.all(params), (e) => e.code === "E_AUTH" && e.status === 401 && !e.message.includes("ZZZ"));
});

test("transient faults are retried to exact contents; broken answers are errors", async () => {
  const c = client();
  const params = { forecast_type_id: 10091, per_page: 30, timeframe: { snapshots: "all" } };
  const t = await truth(c.forecasts.validate(params));
  const cases = [
    { fault: "status", status: 503, nth: 3 },
    { fault: "status", status: 429, retryAfter: "0", nth: 2 },
    { fault: "reset", afterBytes: 200, nth: 4 },
    { fault: "truncate", afterBytes: 300, nth: 5 },
    { fault: "expire_token", nth: 2 },
  ];
  for (const rule of cases) {
    await control(sb, "/__sandbox/faults/clear", {});
    await control(sb, "/__sandbox/faults", { scope: "forecasting", ...rule });
    const res = await c.forecasts.all(params, { concurrency: 3 });
    assert.deepEqual(res.records, t.records, JSON.stringify(rule));
    const rules = await control(sb, "/__sandbox/faults");
    assert.equal((Array.isArray(rules) ? rules : rules.rules)[0].fired, 1, `the fault fired: ${JSON.stringify(rule)}`);
  }
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { scope: "forecasting", fault: "error_body", nth: 2 });
  await assert.rejects(c.forecasts.all(params), (e) => e.code === "E_HTTP" && e.status === 200 && /sandbox fault/.test(e.message), "the vendor's words");
  await control(sb, "/__sandbox/faults/clear", {});
  // Not transient: no retry, the status and the vendor's message come through.
  await control(sb, "/__sandbox/faults", { scope: "forecasting", fault: "status", status: 400, every: 1 });
  await assert.rejects(c.forecasts.all(params), (e) => e.code === "E_HTTP" && e.status === 400);
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { scope: "forecasting", fault: "stall", stallMs: 5000, nth: 2 });
  await assert.rejects(c.forecasts.all(params, { timeoutMs: 500 }), (e) => e.code === "E_TIMEOUT");
});

test("breaking out of the loop or aborting stops the run", async () => {
  const c = client();
  const params = { forecast_type_id: 10089, per_page: 5, timeframe: { snapshots: "all" } };
  const count = await countRequests();
  const it = c.forecasts.query(params, { concurrency: 2 });
  for await (const p of it) {
    if (p.page === 2) break;
  }
  await new Promise((r) => setTimeout(r, 100));
  const n = await count();
  assert.ok(n >= 2 && n <= 2 + 2 + 1, `no more than the window past the consumer: ${n}`);
  const ctrl = new AbortController();
  const run = c.forecasts.all(params, { signal: ctrl.signal, onProgress: (p) => p.pages === 3 && ctrl.abort() });
  await assert.rejects(run, (e) => e.code === "E_ABORTED");
  const it2 = c.forecasts.query(params, { signal: AbortSignal.abort() });
  await assert.rejects(it2.next(), (e) => e.code === "E_ABORTED");
  // maxPages: a preview that says it is one.
  const two = await c.forecasts.all(params, { maxPages: 2 });
  assert.equal(two.records.length, 10);
  assert.equal(two.complete, false);
});
