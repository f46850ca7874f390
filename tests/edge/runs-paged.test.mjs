// Forecasting and the Userpilot lookups as durable runs (issue 18), in workerd through miniflare
// against the sandbox: every page lands in R2 under the documented layout with a manifest that
// matches the objects; a step failing mid-way (5xx past the client's own retries) is retried by
// the engine, the pages of the steps before it are not read again, and no page is in R2 twice;
// output as CSV and gzip (of these runs, and of activity and Userpilot runs) decodes to the
// sandbox's truth.
//
//   node --test tests/edge/runs-paged.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import { gunzipSync } from "node:zlib";
import { ACCESS_KEY, control, csvRows, runFinished, sandboxSecrets, startEdge, startSandbox } from "./helpers.mjs";

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const finished = (api, id, timeoutMs = 90_000) => runFinished(edge, api, id, { timeoutMs });

let sb;
let relay;
let edge;

/** A relay in front of the sandbox that notes the `page` of every Forecasting request body. */
async function startPageRelay(target) {
  const t = new URL(target);
  const pages = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.url.startsWith("/v3/beta/forecasting/")) pages.push(JSON.parse(body.toString()).page ?? 1);
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ur) => {
        res.writeHead(ur.statusCode, ur.rawHeaders);
        ur.pipe(res);
      });
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    pages,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
  };
}

before(async () => {
  sb = await startSandbox({ seed: 23, activities: 2000, fragmentRecords: 40, jobSpeed: 50, eventsPerDay: 40 });
  relay = await startPageRelay(sb.url);
  edge = await startEdge({ vars: { BACKSTORY_BASE_URL: relay.url, USERPILOT_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100", CSV_GUARD: "false" }, secrets: sandboxSecrets() });
});

after(async () => {
  await edge?.close();
  await relay?.close();
  await sb?.close();
});

async function startRun(api, body) {
  const r = await fetch(`${edge.url}/api/runs/${api}`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return (await r.json()).id;
}

/** The run's manifest and every object under its prefix (bytes as stored). */
async function runOutput(api, id) {
  const bucket = await edge.r2();
  const listed = [];
  for (let cursor; ; ) {
    const page = await bucket.list({ prefix: `exports/${api}/day=`, cursor });
    listed.push(...page.objects.map((o) => o.key));
    if (!page.truncated) break;
    cursor = page.cursor;
  }
  const mine = listed.filter((k) => k.includes(`/run=${id}/`));
  const manifestKey = mine.find((k) => k.endsWith("/manifest.json"));
  assert.ok(manifestKey, `a manifest for ${id} among ${mine.join(", ")}`);
  assert.match(manifestKey, new RegExp(`^exports/${api}/day=\\d{4}-\\d{2}-\\d{2}/run=${id}/manifest\\.json$`));
  const manifest = JSON.parse(await (await bucket.get(manifestKey)).text());
  const data = mine.filter((k) => !k.endsWith("/manifest.json") && !k.includes("/_steps/") && !k.includes("/_pieces/") && !k.endsWith("/_failure.json")).sort();
  const objects = new Map();
  for (const k of data) objects.set(k, Buffer.from(await (await bucket.get(k)).arrayBuffer()));
  return { manifest, objects };
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const lines = (buf) => buf.toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

/** Every object the manifest lists is in R2 with its bytes and checksum, and nothing else is. */
function checkManifest(manifest, objects) {
  assert.deepEqual(manifest.objects.map((o) => o.key).sort(), [...objects.keys()].sort());
  for (const o of manifest.objects) {
    const b = objects.get(o.key);
    assert.equal(o.bytes, b.length, o.key);
    assert.equal(o.sha256, sha256(b), o.key);
  }
  assert.equal(manifest.bytes, [...objects.values()].reduce((a, b) => a + b.length, 0));
  assert.equal(manifest.rows, manifest.objects.reduce((a, o) => a + o.records, 0));
  assert.equal(manifest.state, "complete");
}

const FORECAST = { forecast_type_id: 10089, per_page: 5 };
const forecastTruth = async (q) => (await (await fetch(`${sb.url}/__sandbox/truth/forecasting`, { method: "POST", body: JSON.stringify(q) })).json()).records;

test("a Forecasting run reads every page into R2: the objects hold the sandbox's records in order, the manifest says what is there", async () => {
  relay.pages.length = 0;
  const id = await startRun("forecasts", { ...FORECAST, pagesPerStep: 4 });
  await finished("forecasts", id);
  const { manifest, objects } = await runOutput("forecasts", id);
  const truth = await forecastTruth(FORECAST);
  const pageLast = Math.ceil(truth.length / 5);
  assert.ok(pageLast > 8, "several steps of pages");
  checkManifest(manifest, objects);
  assert.equal(manifest.api, "forecasts");
  assert.deepEqual(manifest.output, { format: "jsonl", gzip: false, extension: ".jsonl" });
  assert.equal(manifest.pages, pageLast);
  assert.equal(manifest.rows, truth.length);
  // pages-00001-00004.jsonl, pages-00005-00008.jsonl, ...: the objects in key order are the pages in order.
  assert.equal(manifest.objects.length, Math.ceil(pageLast / 4));
  for (const k of objects.keys()) assert.match(k, /\/pages-\d{5}-\d{5}\.jsonl$/);
  assert.deepEqual([...objects.values()].flatMap(lines), truth);
  // Each page was read once.
  assert.deepEqual([...relay.pages].sort((a, b) => a - b), Array.from({ length: pageLast }, (_, i) => i + 1));
});

test("a Forecasting step failing mid-way is retried: the pages before it are not read again, and no page is in R2 twice", async () => {
  relay.pages.length = 0;
  // Requests 6 to 10 (page 6, in the second step of 4 pages) answer 503: five in a row outlast
  // the client's own retries (4), so the step fails and the engine runs it again.
  await control(sb, "/__sandbox/faults", { rules: [6, 7, 8, 9, 10].map((nth) => ({ scope: "forecasting", fault: "status", status: 503, nth })) });
  try {
    const id = await startRun("forecasts", { ...FORECAST, pagesPerStep: 4 });
    await finished("forecasts", id);
    const fired = (await control(sb, "/__sandbox/faults")).reduce((a, r) => a + r.fired, 0);
    assert.equal(fired, 5, "every injected 5xx was met");
    const { manifest, objects } = await runOutput("forecasts", id);
    const truth = await forecastTruth(FORECAST);
    checkManifest(manifest, objects);
    assert.deepEqual([...objects.values()].flatMap(lines), truth, "every record once, in order");
    const count = (p) => relay.pages.filter((x) => x === p).length;
    // The first step's pages: read once (its result was kept, the run went on from there).
    for (const p of [1, 2, 3, 4]) assert.equal(count(p), 1, `page ${p}`);
    // The failing step's pages were read again by its retry; the steps after it once.
    assert.equal(count(5), 2);
    assert.equal(count(6), 6, "five refusals, then the retried step's read");
    for (let p = 9; p <= Math.ceil(truth.length / 5); p++) assert.equal(count(p), 1, `page ${p}`);
  } finally {
    await control(sb, "/__sandbox/faults/clear", {});
  }
});

test("a Forecasting run that meets a permanent refusal fails at once; its manifest says what it delivered, the status list says why; /resume finishes it without reading the delivered pages again", async () => {
  relay.pages.length = 0;
  // Page 3 answers 400 (in the second step of 2 pages): a client error no retry changes.
  await control(sb, "/__sandbox/faults", { scope: "forecasting", fault: "status", status: 400, nth: 3 });
  let id;
  try {
    id = await startRun("forecasts", { ...FORECAST, pagesPerStep: 2 });
    let status;
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      status = await (await fetch(`${edge.url}/api/runs/forecasts/${id}`, { headers: KEY })).json();
      if (status.status !== "running" && status.status !== "queued") break;
    }
    assert.equal(status.status, "errored", JSON.stringify(status));
    const { manifest, objects } = await runOutput("forecasts", id);
    assert.equal(manifest.state, "failed");
    assert.match(manifest.failure.message, /400/);
    // The first step's object, whole, and nothing of the failed one.
    assert.deepEqual(manifest.objects.map((o) => [o.firstPage, o.lastPage]), [[1, 2]]);
    assert.deepEqual([...objects.keys()], manifest.objects.map((o) => o.key));
    assert.deepEqual(lines(objects.get(manifest.objects[0].key)), (await forecastTruth(FORECAST)).slice(0, 10));
    assert.equal((await control(sb, "/__sandbox/faults"))[0].fired, 1, "the refusal was not asked for again");
    const runs = (await (await fetch(`${edge.url}/api/runs`, { headers: KEY })).json()).runs;
    const row = runs.find((r) => r.id === id);
    assert.equal(row.api, "forecasts");
    assert.match(row.failure.message, /400/);
    assert.deepEqual(row.windows, { done: 2, total: manifest.objects[0].pageLast, unit: "pages" });
    assert.equal(row.resumable, true);
  } finally {
    await control(sb, "/__sandbox/faults/clear", {});
  }
  // The vendor answers again: the run goes on in a new instance, same id and prefix.
  const r = await fetch(`${edge.url}/api/runs/forecasts/${id}/resume`, { method: "POST", headers: KEY });
  assert.equal(r.status, 202, await r.clone().text());
  const resumed = await r.json();
  assert.equal(resumed.run, id);
  assert.notEqual(resumed.id, id);
  await finished("forecasts", resumed.id);
  const { manifest, objects } = await runOutput("forecasts", id);
  checkManifest(manifest, objects);
  const truth = await forecastTruth(FORECAST);
  assert.deepEqual([...objects.values()].flatMap(lines), truth);
  assert.equal(manifest.instance, resumed.id);
  // Pages 1 and 2 were delivered before the failure: read once, by the first instance only.
  assert.equal(relay.pages.filter((p) => p <= 2).length, 2);
  assert.equal(relay.pages.filter((p) => p === 3).length, 2, "the refused read, then the resumed one");
});

test("a lookups refresh writes every lookup, cursor pages across steps, as the sandbox holds them", async () => {
  const id = await startRun("lookups", { pageSize: 2, pagesPerStep: 2 });
  await finished("lookups", id);
  const { manifest, objects } = await runOutput("lookups", id);
  checkManifest(manifest, objects);
  const names = [...new Set(manifest.objects.map((o) => o.lookup))];
  assert.equal(names.length, 12, names.join(", "));
  for (const name of names) {
    const truth = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/lookups/${name}`)).json();
    const keys = [...objects.keys()].filter((k) => k.includes(`/lookup=${name}/`));
    const got = keys.flatMap((k) => lines(objects.get(k)));
    assert.equal(got.length, truth.length, name);
    assert.deepEqual(got.map((r) => JSON.stringify(r, Object.keys(r).sort())), truth.map((r) => JSON.stringify(r, Object.keys(r).sort())), name);
    if (name === "segments") assert.ok(keys.length >= 2 && truth.length > 4, "segments span several steps (2 pages of 2 each)");
  }
});

test("output as gzip CSV: each object decodes to the lookup's records", async () => {
  const id = await startRun("lookups", { lookups: ["segments", "embeds"], pageSize: 3, pagesPerStep: 2, output: { format: "csv", gzip: true } });
  await finished("lookups", id);
  const { manifest, objects } = await runOutput("lookups", id);
  checkManifest(manifest, objects);
  assert.deepEqual(manifest.output, { format: "csv", gzip: true, extension: ".csv.gz" });
  for (const name of ["segments", "embeds"]) {
    const truth = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/lookups/${name}`)).json();
    const rows = [];
    for (const [k, b] of objects) {
      if (!k.includes(`/lookup=${name}/`)) continue;
      assert.match(k, /\/part-\d{5}\.csv\.gz$/);
      const csv = gunzipSync(b).toString("utf8");
      const [header, ...body] = csvRows(csv);
      for (const r of body) rows.push(Object.fromEntries(header.map((h, i) => [h, r[i]])));
    }
    assert.equal(rows.length, truth.length, name);
    for (let i = 0; i < truth.length; i++) {
      for (const [f, v] of Object.entries(truth[i])) assert.equal(rows[i][f], v === null ? "" : String(v), `${name}[${i}].${f}`);
    }
  }
});

test("activity runs as gzip JSON Lines and Userpilot runs as gzip CSV decode to the sandbox's truth", async () => {
  const act = await startRun("activities", { startDate: "2024-05-01", endDate: "2024-05-20", output: { gzip: true } });
  await finished("activities", act);
  {
    const { manifest, objects } = await runOutput("activities", act);
    checkManifest(manifest, objects);
    assert.deepEqual(manifest.output, { format: "jsonl", gzip: true, extension: ".jsonl.gz" });
    assert.equal(manifest.objects.length, 2, "two windows");
    for (const o of manifest.objects) {
      assert.match(o.key, /\.jsonl\.gz$/);
      const want = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?start_date=${o.window.startDate}&end_date=${o.window.endDate}&export_type=delta`)).arrayBuffer());
      assert.ok(gunzipSync(objects.get(o.key)).equals(want), `${o.key} unzips to the truth byte for byte`);
    }
  }
  const up = await startRun("userpilot", { from: "2024-05-01", to: "2024-05-03", output: { format: "csv", gzip: true } });
  await finished("userpilot", up);
  {
    const { manifest, objects } = await runOutput("userpilot", up);
    checkManifest(manifest, objects);
    const [o] = manifest.objects;
    assert.match(o.key, /\/events_2024-05-01_2024-05-03\.csv\.gz$/);
    const truth = lines(Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${o.jobId}&dedupe=1`)).arrayBuffer()));
    const [header, ...rows] = csvRows(gunzipSync(objects.get(o.key)).toString("utf8"));
    assert.equal(rows.length, truth.length);
    assert.equal(o.records, truth.length);
    let compared = 0;
    truth.forEach((t, i) => {
      for (const [k, v] of Object.entries(flat(t))) {
        const at = header.indexOf(k);
        if (at < 0) continue;
        assert.equal(rows[i][at], v === null ? "" : String(v), `event ${i} ${k}`);
        compared++;
      }
    });
    assert.ok(compared >= truth.length * 6, "every event's fields, metadata.* included");
  }
});

/** A record's scalar fields as dotted paths (how the CSV names nested fields). */
function flat(rec, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(rec)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flat(v, `${prefix}${k}.`, out);
    else if (!Array.isArray(v)) out[`${prefix}${k}`] = v;
  }
  return out;
}

test("a run's parameters are checked before it starts", async () => {
  for (const [api, body, field] of [
    ["forecasts", { per_page: 5 }, /forecast_type_id/],
    ["forecasts", { ...FORECAST, page: 3 }, /page/],
    ["forecasts", { ...FORECAST, output: { format: "parquet" } }, /output\.format/],
    ["lookups", { lookups: ["nope"] }, /unknown lookup/],
    ["lookups", { pageSize: 0 }, /pageSize/],
  ]) {
    const r = await fetch(`${edge.url}/api/runs/${api}`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(r.status, 400);
    assert.match((await r.json()).message, field);
  }
  const r = await fetch(`${edge.url}/api/runs/forecasts`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(FORECAST) });
  assert.equal(r.status, 401, "behind the access check");
});

