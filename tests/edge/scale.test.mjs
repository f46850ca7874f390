// Durable activity export runs (issue 18) in workerd through miniflare, with its local Workflows
// engine and R2, against the sandbox: a run's objects in R2 are the sandbox's truth byte for byte
// with a manifest; the worker restarted in the middle of a run (state persisted) ends with the same
// contents and no second vendor job; the run routes are behind the access check.
//
//   node --test tests/edge/scale.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ACCESS_KEY, control, objectBytes, sandboxSecrets, startEdge, startSandbox, tempDir } from "./helpers.mjs";

let sb;
before(async () => {
  // About 330 records per 14-day window in fragments of 40: several fragments per job.
  sb = await startSandbox({ seed: 18, activities: 9000, fragmentRecords: 40, jobSpeed: 40 });
});
after(() => sb?.close());

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const edgeFor = (persist) => startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50" }, secrets: sandboxSecrets(), persist });
const truth = async (q) => Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).arrayBuffer());
const jobTotal = async () => Object.values((await control(sb, "/__sandbox/state")).activityJobs).reduce((a, b) => a + b, 0);

async function startRun(edge, body) {
  const r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return (await r.json()).id;
}

async function status(edge, id) {
  const r = await fetch(`${edge.url}/api/runs/activities/${id}`, { headers: KEY });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

async function until(edge, id, done) {
  for (;;) {
    const s = await status(edge, id);
    if (s.status === "errored" || s.status === "terminated") assert.fail(`run ${id} ${s.status}: ${JSON.stringify(s.error ?? s)}`);
    if (done(s)) return s;
    await sleep(50);
  }
}

async function checkRun(edge, id, windows) {
  const bucket = await edge.r2();
  const listed = await bucket.list({ prefix: "exports/activities/" });
  const manifestKey = listed.objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
  assert.ok(manifestKey, "a manifest for the run");
  assert.match(manifestKey, /^exports\/activities\/day=\d{4}-\d{2}-\d{2}\/run=[^/]+\/manifest\.json$/);
  const manifest = JSON.parse(await objectBytes(edge, manifestKey));
  assert.equal(manifest.state, "complete");
  assert.equal(manifest.run, id);
  assert.deepEqual(manifest.windows.map((x) => [x.window.startDate, x.window.endDate]), windows);
  let rows = 0;
  for (const win of manifest.windows) {
    // A window's data is its pieces' objects in the manifest's order, fragments end to end.
    const pieces = manifest.objects.filter((o) => o.jobId === win.jobId);
    assert.equal(pieces.length, win.objects);
    let next = 0;
    for (const o of pieces) {
      assert.equal(o.fragments[0], next, `${o.key} follows the piece before it`);
      next = o.fragments[1];
      assert.match(o.key, /\/window-\d+_\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.part-\d{4}\.jsonl$/);
    }
    const bodies = await Promise.all(pieces.map((o) => objectBytes(edge, o.key)));
    for (const [k, o] of pieces.entries()) {
      assert.equal(o.bytes, bodies[k].length);
      assert.equal(o.sha256, createHash("sha256").update(bodies[k]).digest("hex"));
    }
    const body = Buffer.concat(bodies);
    const want = await truth({ start_date: win.window.startDate, end_date: win.window.endDate, export_type: win.window.exportType });
    assert.ok(body.equals(want), `window ${win.window.startDate}..${win.window.endDate} is the truth byte for byte`);
    assert.equal(win.bytes, body.length);
    assert.equal(win.records, want.toString("utf8").split("\n").filter(Boolean).length);
    rows += win.records;
  }
  assert.equal(manifest.rows, rows);
  assert.equal(new Set(manifest.vendorJobs).size, windows.length, "one vendor job per window");
  return manifest;
}

test("a delta run of three 14-day windows lands in R2 as the truth, with its manifest", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor();
  try {
    const id = await startRun(edge, { startDate: "2024-01-01", endDate: "2024-02-11" });
    await until(edge, id, (s) => s.status === "complete");
    await checkRun(edge, id, [
      ["2024-01-01", "2024-01-14"],
      ["2024-01-15", "2024-01-28"],
      ["2024-01-29", "2024-02-11"],
    ]);
    assert.equal(await jobTotal(), 3, "three vendor jobs, no more");
  } finally {
    await edge.close();
  }
});

test("the worker restarted in the middle of a run ends identical, with no second vendor job", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-scale-");
  // Every fragment request waits a little, so the run is surely caught between its steps.
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "stall", stallMs: 150, every: 1 });
  let edge = await edgeFor(dir.path);
  try {
    const id = await startRun(edge, { startDate: "2024-03-01", endDate: "2024-03-28" });
    // Stop workerd once the first window's object is written (its download step is done).
    for (;;) {
      const listed = await (await edge.r2()).list({ prefix: "exports/activities/" });
      if (listed.objects.some((o) => o.key.includes(`/run=${id}/window-0_`))) break;
      await sleep(20);
    }
    await edge.close();
    edge = null;
    const jobsAtStop = await jobTotal();
    assert.ok(jobsAtStop >= 1);
    await control(sb, "/__sandbox/faults/clear", {});
    edge = await edgeFor(dir.path);
    // Cloudflare wakes a running instance after a restart; miniflare's local engine does not, so
    // the run goes on in a new instance (the route an operator uses for an errored run).
    const r = await fetch(`${edge.url}/api/runs/activities/${id}/resume`, { method: "POST", headers: KEY });
    assert.equal(r.status, 202, await r.clone().text());
    const next = await r.json();
    assert.equal(next.run, id);
    await until(edge, next.id, (s) => s.status === "complete");
    await checkRun(edge, id, [
      ["2024-03-01", "2024-03-14"],
      ["2024-03-15", "2024-03-28"],
    ]);
    assert.equal(await jobTotal(), 2, "the restarted run made no job twice");
  } finally {
    await edge?.close();
    await dir.remove();
  }
});

test("the run routes are closed without the access key; bad parameters are refused before a run", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor();
  try {
    let r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ startDate: "2024-01-01", endDate: "2024-01-02" }) });
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    r = await fetch(`${edge.url}/api/runs/activities/some-id`);
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify({ startDate: "2024-01-01", endDate: "2024-13-02" }) });
    assert.equal(r.status, 400);
    assert.match((await r.json()).message, /endDate/);
    assert.equal(await jobTotal(), 0, "no vendor job");
  } finally {
    await edge.close();
  }
});

test("20 concurrent runs: the credential's Durable Object keeps at most 10 jobs queued or running, at most 2 running, none refused", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100" }, secrets: sandboxSecrets() });
  try {
    const days = Array.from({ length: 20 }, (_, k) => `2024-05-${String(k + 1).padStart(2, "0")}`);
    const ids = await Promise.all(days.map((d) => startRun(edge, { startDate: d, endDate: d })));
    for (const id of ids) await until(edge, id, (s) => s.status === "complete");
    for (const [k, id] of ids.entries()) await checkRun(edge, id, [[days[k], days[k]]]);
    assert.equal(await jobTotal(), 20);
    // The sandbox's own record of every job creation and start (not a sample that could miss a
    // moment): the highest number of the key's jobs queued or running at once, running at once,
    // and creations it refused with 429 (an 11th active job).
    const rec = (await control(sb, "/__sandbox/state")).activityLimits;
    assert.equal(rec.refused, 0, "no job creation was refused with 429");
    assert.ok(rec.peakActive <= 10, `at most 10 jobs queued or running (peak ${rec.peakActive})`);
    assert.ok(rec.peakRunning <= 2, `at most 2 running (peak ${rec.peakRunning})`);
    assert.ok(rec.peakActive >= 3, `the runs really overlapped (peak ${rec.peakActive})`);
  } finally {
    await edge.close();
  }
});

test("three consecutive incremental runs cover exactly the union of their windows; a fourth with nothing new changes nothing", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-scale-");
  const edge = await edgeFor(dir.path);
  try {
    const runs = [
      { incremental: { startDate: "2024-06-01", through: "2024-06-20" } },
      { incremental: { through: "2024-07-08" } },
      { incremental: { through: "2024-07-09" } },
      { incremental: { through: "2024-07-09" } },
    ];
    const manifests = [];
    for (const body of runs) {
      const id = await startRun(edge, body);
      await until(edge, id, (s) => s.status === "complete");
      const listed = await (await edge.r2()).list({ prefix: "exports/activities/day=" });
      const key = listed.objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
      manifests.push(JSON.parse(await objectBytes(edge, key)));
    }
    assert.deepEqual(
      manifests.map((m) => m.watermark),
      [
        { before: null, after: "2024-06-20" },
        { before: "2024-06-20", after: "2024-07-08" },
        { before: "2024-07-08", after: "2024-07-09" },
        { before: "2024-07-09", after: "2024-07-09" },
      ],
    );
    assert.deepEqual(
      manifests.map((m) => m.windows.map((o) => [o.window.startDate, o.window.endDate])),
      [
        [
          ["2024-06-01", "2024-06-14"],
          ["2024-06-15", "2024-06-20"],
        ],
        [
          ["2024-06-21", "2024-07-04"],
          ["2024-07-05", "2024-07-08"],
        ],
        [["2024-07-09", "2024-07-09"]],
        [],
      ],
      "each run starts the day after the last one ended",
    );
    // Every object of the three runs, in order, is the truth of the whole range: no gap, no overlap.
    const parts = [];
    for (const m of manifests) for (const o of m.objects) parts.push(await objectBytes(edge, o.key));
    assert.ok(Buffer.concat(parts).equals(await truth({ start_date: "2024-06-01", end_date: "2024-07-09" })));
    assert.equal(await jobTotal(), 5);
  } finally {
    await edge.close();
    await dir.remove();
  }
});

test("5xx answers and connection resets in the middle of fragments: the run ends identical, one job per window", async () => {
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/faults", {
    rules: [
      { scope: "activities.data", fault: "reset", afterBytes: 3000, every: 3 },
      { scope: "activities.data", fault: "status", status: 503, every: 4 },
      { scope: "activities.get", fault: "status", status: 502, every: 3 },
    ],
  });
  const edge = await edgeFor();
  try {
    const id = await startRun(edge, { startDate: "2024-08-01", endDate: "2024-08-20" });
    await until(edge, id, (s) => s.status === "complete");
    const fired = (await control(sb, "/__sandbox/faults")).reduce((a, r) => a + r.fired, 0);
    assert.ok(fired >= 3, `faults fired (${fired})`);
    await checkRun(edge, id, [
      ["2024-08-01", "2024-08-14"],
      ["2024-08-15", "2024-08-20"],
    ]);
    assert.equal(await jobTotal(), 2);
  } finally {
    await edge.close();
  }
});

test("the cron starts one incremental run a day, through the day before; a second tick that day starts none", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-scale-");
  const edge = await startEdge({
    vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", ACTIVITIES_INCREMENTAL_START: "2024-09-01", EXPORT_QUERIES: "[]" },
    secrets: sandboxSecrets(),
    persist: dir.path,
  });
  try {
    const at = Date.parse("2024-09-11T05:15:00Z");
    for (const ms of [at, at + 30 * 60_000]) {
      const r = await fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${ms}`);
      assert.equal(r.status, 200, await r.text());
    }
    await until(edge, "activities-incremental-2024-09-11", (s) => s.status === "complete");
    const listed = await (await edge.r2()).list({ prefix: "exports/activities/day=" });
    const manifests = listed.objects.filter((o) => o.key.endsWith("/manifest.json"));
    assert.equal(manifests.length, 1, "one run for the day");
    const m = JSON.parse(await objectBytes(edge, manifests[0].key));
    assert.deepEqual(m.watermark, { before: null, after: "2024-09-10" });
    assert.ok(Buffer.concat(await Promise.all(m.objects.map((o) => objectBytes(edge, o.key)))).equals(await truth({ start_date: "2024-09-01", end_date: "2024-09-10" })));
    assert.equal(await jobTotal(), 1);
  } finally {
    await edge.close();
    await dir.remove();
  }
});
