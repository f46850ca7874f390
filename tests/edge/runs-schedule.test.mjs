// What the cron runs, from KV `config:runs` (issue 18), in workerd through miniflare against the
// sandbox: the key is changed between two cron ticks and each tick starts exactly the runs the key
// said at that moment, with the output format each entry asked for; the objects decode (gunzip,
// CSV) to the sandbox's truth.
//
//   node --test tests/edge/runs-schedule.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import { launchBrowser } from "../page/page-helpers.mjs";
import { ACCESS_KEY, control, csvRecords, runFinished, sandboxSecrets, signedInRunsPage, startEdge, startSandbox } from "./helpers.mjs";

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const finished = (api, id, timeoutMs = 120_000) => runFinished(edge, api, id, { timeoutMs });
let sb;
let edge;

const QUERY = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }] };

before(async () => {
  sb = await startSandbox({ seed: 31, activities: 3000, fragmentRecords: 40, jobSpeed: 50, eventsPerDay: 40 });
  edge = await startEdge({
    vars: {
      BACKSTORY_BASE_URL: sb.url,
      USERPILOT_BASE_URL: sb.url,
      RUN_POLL_INTERVAL_MS: "50",
      RUN_SLOT_WAIT_MS: "100",
      // What the worker would run without `config:runs`: replaced by it, so neither may start.
      EXPORT_QUERIES: JSON.stringify([{ name: "legacy", query: QUERY }]),
      ACTIVITIES_INCREMENTAL_START: "2024-01-01",
      // Cells as the vendor sent them, so the CSV compares with the truth directly.
      CSV_GUARD: "false",
    },
    secrets: sandboxSecrets(),
  });
});

after(async () => {
  await edge?.close();
  await sb?.close();
});

const tick = async (ms) => {
  const r = await fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${ms}`);
  assert.equal(r.status, 200, await r.text());
};

const exists = async (api, id) => {
  const r = await fetch(`${edge.url}/api/runs/${api}/${id}`, { headers: KEY });
  await r.arrayBuffer();
  return r.status === 200;
};

async function manifestOf(api, id) {
  const bucket = await edge.r2();
  const listed = await bucket.list({ prefix: `exports/${api}/day=` });
  const key = listed.objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
  assert.ok(key, `a manifest for ${api} ${id}`);
  const m = JSON.parse(await (await bucket.get(key)).text());
  const objects = [];
  for (const o of m.objects) objects.push(Buffer.from(await (await bucket.get(o.key)).arrayBuffer()));
  return { m, objects };
}

/** A record's scalar fields as dotted paths (how the CSV names nested fields). */
function flat(rec, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(rec)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flat(v, `${prefix}${k}.`, out);
    else if (!Array.isArray(v)) out[`${prefix}${k}`] = v;
  }
  return out;
}

const jsonl = (buf) => buf.toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const D1 = Date.parse("2024-09-10T05:15:00Z");
const D2 = Date.parse("2024-09-11T05:15:00Z");

test("config:runs changed between two cron ticks: each tick starts what the key said then, in the format it asked for", async () => {
  const kv = await edge.kv();
  await kv.put(
    "config:runs",
    JSON.stringify([
      { name: "pipeline", api: "forecasts", params: { forecast_type_id: 10090, per_page: 20 }, output: { format: "csv", gzip: true } },
      { name: "daily", api: "lookups", params: { lookups: ["segments", "flows"] } },
    ]),
  );
  await tick(D1);
  await finished("forecasts", "forecasts-pipeline-2024-09-10");
  await finished("lookups", "lookups-daily-2024-09-10");
  assert.equal(await exists("activities", "activities-incremental-2024-09-10"), false, "ACTIVITIES_INCREMENTAL_START is replaced by config:runs");

  // Forecasting as gzip CSV: the rows are the sandbox's records, nested fields as dotted columns.
  {
    const { m, objects } = await manifestOf("forecasts", "forecasts-pipeline-2024-09-10");
    assert.equal(m.name, "pipeline");
    assert.deepEqual(m.output, { format: "csv", gzip: true, extension: ".csv.gz" });
    const truth = (await (await fetch(`${sb.url}/__sandbox/truth/forecasting`, { method: "POST", body: JSON.stringify({ forecast_type_id: 10090 }) })).json()).records;
    const got = objects.flatMap((b) => csvRecords(gunzipSync(b).toString("utf8")).records);
    assert.equal(got.length, truth.length);
    assert.equal(m.rows, truth.length);
    let compared = 0;
    truth.forEach((t, i) => {
      for (const [k, v] of Object.entries(flat(t))) {
        if (!(k in got[i])) continue;
        assert.equal(got[i][k], v === null ? "" : String(v), `record ${i} ${k}`);
        compared++;
      }
    });
    assert.ok(compared > truth.length * 5, "the nested forecast fields are columns too");
  }
  // Lookups as JSON Lines (the default): as the sandbox holds them.
  {
    const { m, objects } = await manifestOf("lookups", "lookups-daily-2024-09-10");
    assert.deepEqual(m.output, { format: "jsonl", gzip: false, extension: ".jsonl" });
    for (const name of ["segments", "flows"]) {
      const truth = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/lookups/${name}`)).json();
      const got = m.objects.flatMap((o, i) => (o.lookup === name ? jsonl(objects[i]) : []));
      assert.equal(got.length, truth.length, name);
      assert.deepEqual(got.map((r) => r.id), truth.map((r) => r.id), name);
    }
  }

  // The key changes: the next tick runs the other APIs, and not the first two.
  await kv.put(
    "config:runs",
    JSON.stringify([
      { name: "accounts", api: "query", query: QUERY },
      { name: "deltas", api: "activities", params: { incremental: { startDate: "2024-09-01" } }, output: { format: "csv" } },
      { name: "events", api: "userpilot", params: { incremental: { startDate: "2024-09-08" } }, output: { format: "jsonl", gzip: true } },
    ]),
  );
  await tick(D2);
  await finished("activities", "activities-deltas-2024-09-11");
  await finished("userpilot", "userpilot-events-2024-09-11");
  assert.equal(await exists("forecasts", "forecasts-pipeline-2024-09-11"), false);
  assert.equal(await exists("lookups", "lookups-daily-2024-09-11"), false);
  const bucket = await edge.r2();
  assert.ok(await bucket.head("exports/query/2024-09-11/accounts.csv"), "the Query entry ran");
  assert.equal(await bucket.head("exports/query/2024-09-11/legacy.csv"), null, "EXPORT_QUERIES is replaced by config:runs");
  assert.equal(await bucket.head("exports/query/2024-09-10/legacy.csv"), null);

  // Activities as CSV: one row per record of the truth, in order, through the day before the tick.
  {
    const { m, objects } = await manifestOf("activities", "activities-deltas-2024-09-11");
    assert.deepEqual(m.watermark, { before: null, after: "2024-09-10" });
    assert.deepEqual(m.output, { format: "csv", gzip: false, extension: ".csv" });
    for (const o of m.objects) assert.match(o.key, /\/window-\d+_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.part-\d{4}\.csv$/);
    const truth = jsonl(Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?start_date=2024-09-01&end_date=2024-09-10&export_type=delta`)).arrayBuffer()));
    const got = objects.flatMap((b) => csvRecords(b.toString("utf8")).records);
    assert.ok(truth.length > 50);
    assert.deepEqual(got.map((r) => r.uid), truth.map((r) => r.uid));
    assert.deepEqual(got.map((r) => r.subject), truth.map((r) => r.subject ?? ""));
  }
  // Userpilot events as gzip JSON Lines: the job's events once each.
  {
    const { m, objects } = await manifestOf("userpilot", "userpilot-events-2024-09-11");
    assert.deepEqual(m.watermark, { before: null, after: "2024-09-10" });
    assert.match(m.objects[0].key, /\/events_2024-09-08_2024-09-10\.jsonl\.gz$/);
    const want = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${m.objects[0].jobId}&dedupe=1`)).arrayBuffer());
    assert.ok(gunzipSync(objects[0]).equals(want), "the events, byte for byte once unzipped");
    assert.equal(m.objects[0].records, jsonl(want).length);
  }
});

test("the runs status list shows the runs of every API, the Query exports among them, and what config:runs starts", async () => {
  const r = await fetch(`${edge.url}/api/runs`, { headers: KEY });
  assert.equal(r.status, 200);
  const { runs, schedule } = await r.json();
  const by = (api, id) => runs.find((x) => x.api === api && x.id === id);
  const fc = by("forecasts", "forecasts-pipeline-2024-09-10");
  assert.equal(fc.status, "complete");
  assert.equal(fc.name, "pipeline");
  assert.equal(fc.windows.unit, "pages");
  assert.ok(fc.windows.total > 0);
  assert.equal(fc.windows.done, fc.windows.total, "every page read");
  const fm = await manifestOf("forecasts", fc.id);
  assert.equal(fc.records, fm.m.rows);
  assert.equal(fc.bytes, fm.m.bytes);
  assert.deepEqual(by("lookups", "lookups-daily-2024-09-10").windows, { done: 2, total: 2, unit: "lookups" });
  assert.equal(by("activities", "activities-deltas-2024-09-11").status, "complete");
  assert.equal(by("userpilot", "userpilot-events-2024-09-11").status, "complete");
  // The Query export ran in the cron's invocation: its KV state, as a run that cannot be cancelled.
  const q = by("query", "accounts-2024-09-11");
  assert.equal(q.status, "complete");
  assert.equal(q.cancellable, false);
  const head = await (await edge.r2()).head("exports/query/2024-09-11/accounts.csv");
  assert.equal(q.bytes, head.size);
  assert.ok(q.records > 0);
  assert.deepEqual(schedule.configured, [
    { name: "accounts", api: "query" },
    { name: "deltas", api: "activities", output: { format: "csv" } },
    { name: "events", api: "userpilot", output: { format: "jsonl", gzip: true } },
  ]);
});

test("a config:runs entry that cannot run is reported and the others still start", async () => {
  const kv = await edge.kv();
  await kv.put(
    "config:runs",
    JSON.stringify([
      { name: "broken", api: "forecasts", params: { per_page: 20 } },
      { name: "ok", api: "lookups", params: { lookups: ["embeds"] } },
    ]),
  );
  const at = Date.parse("2024-09-12T05:15:00Z");
  await tick(at);
  await finished("lookups", "lookups-ok-2024-09-12");
  assert.equal(await exists("forecasts", "forecasts-broken-2024-09-12"), false);
  assert.match(edge.logs.join(""), /"name":"broken".*forecast_type_id/);
  // A key that is not JSON starts nothing at all (not the schedule it replaced): the tick fails,
  // and the cron's log names the key.
  await kv.put("config:runs", "{ not json");
  const r = await fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${Date.parse("2024-09-13T05:15:00Z")}`);
  assert.equal(r.status, 500, await r.text());
  assert.equal(await exists("activities", "activities-incremental-2024-09-13"), false);
  assert.match(edge.logs.join(""), /config:runs: is not JSON/);
  await control(sb, "/__sandbox/state");
});

test("the Runs view in Chromium: a row per API, a running Query export without Cancel, the runs config:runs starts", async () => {
  const kv = await edge.kv();
  await kv.put("config:runs", JSON.stringify([{ name: "pipeline", api: "forecasts", params: { forecast_type_id: 10090, per_page: 20 } }, { name: "accounts", api: "query", query: QUERY }]));
  // A Query export in the middle of its cron invocation, as scheduled.mjs records it.
  await kv.put("export:slow", JSON.stringify({ state: "running", phase: "calling", day: "2024-09-14", runId: "r1", key: "exports/query/2024-09-14/slow.csv", updatedAt: new Date().toISOString() }));
  const browser = await launchBrowser();
  try {
    const { context, page, problems } = await signedInRunsPage(browser, edge.url, 60_000);
    await page.locator('[data-testid="run-row"][data-run="slow-2024-09-14"]').waitFor({ timeout: 60_000 });
    const apis = await page.locator('[data-testid="run-row"] td:first-child').allTextContents();
    for (const api of ["query", "activities", "userpilot", "forecasts", "lookups"]) assert.ok(apis.includes(api), `${api} among ${apis.join(", ")}`);
    const slow = page.locator('[data-testid="run-row"][data-run="slow-2024-09-14"]');
    assert.equal(await slow.getAttribute("data-status"), "running");
    assert.equal(await slow.getByTestId("run-cancel").count(), 0, "a Query export has no Cancel");
    assert.equal(await slow.getByTestId("run-resume").count(), 0);
    const fc = page.locator('[data-testid="run-row"][data-run="forecasts-pipeline-2024-09-10"]');
    assert.match(await fc.getByTestId("run-windows").textContent(), /^(\d+) \/ \1$/);
    assert.match(await page.getByTestId("runs-schedule").textContent(), /Each tick starts \(KV config:runs\): pipeline \(forecasts\), accounts \(query\)\./);
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
