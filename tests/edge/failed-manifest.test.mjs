// A run that fails says in its manifest what it delivered (issue 18), in workerd against the
// sandbox: an activity run whose second window's vendor job ends Failed, and a Userpilot run whose
// job ends failed, each write manifest.json with state "failed", the failure, exactly the objects
// complete in R2 (bytes and sha256 of what is there), the vendor jobs, and the watermark not
// moved; a /resume of the same run then writes the complete manifest over it, equal to the truth.
//
//   node --test tests/edge/failed-manifest.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ACCESS_KEY, control, sandboxSecrets, SANDBOX_CREDENTIALS, startEdge, startSandbox } from "./helpers.mjs";

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
let sb;
let edge;

before(async () => {
  // About 330 records per 14-day window in fragments of 40: several pieces per window.
  sb = await startSandbox({ seed: 18, activities: 9000, fragmentRecords: 40, jobSpeed: 40, eventsPerDay: 40 });
  edge = await startEdge({
    vars: { BACKSTORY_BASE_URL: sb.url, USERPILOT_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100", RUN_FRAGMENTS_PER_STEP: "3" },
    secrets: sandboxSecrets(),
  });
});
after(async () => {
  await edge?.close();
  await sb?.close();
});

async function post(p, body) {
  const r = await fetch(`${edge.url}${p}`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return r.json();
}

async function settled(api, id) {
  for (const end = Date.now() + 120_000; ; ) {
    const s = await (await fetch(`${edge.url}/api/runs/${api}/${id}`, { headers: KEY })).json();
    if (["complete", "errored", "terminated"].includes(s.status)) return s;
    assert.ok(Date.now() < end, `run ${id} ended: ${JSON.stringify(s)}`);
    await sleep(50);
  }
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");
const INTERNAL = /\/(manifest\.json|_failure\.json)$|\/_steps\/|\/_pieces\//;

/** The run's manifest and every data object under its prefix (key -> bytes), as R2 holds them. */
async function runOutput(api, id) {
  const bucket = await edge.r2();
  const keys = (await bucket.list({ prefix: `exports/${api}/day=` })).objects.map((o) => o.key).filter((k) => k.includes(`/run=${id}/`));
  const manifestKey = keys.find((k) => k.endsWith("/manifest.json"));
  assert.ok(manifestKey, `run ${id} has a manifest`);
  const manifest = JSON.parse(await (await bucket.get(manifestKey)).text());
  const objects = new Map();
  for (const k of keys.filter((k) => !INTERNAL.test(k)).sort()) objects.set(k, Buffer.from(await (await bucket.get(k)).arrayBuffer()));
  return { manifest, objects };
}

/** The manifest lists exactly the data objects in R2, each with its bytes and checksum, and their totals. */
function checkListed(manifest, objects) {
  assert.deepEqual(manifest.objects.map((o) => o.key).sort(), [...objects.keys()], "exactly the objects in R2, nothing else");
  for (const o of manifest.objects) {
    const body = objects.get(o.key);
    assert.equal(o.bytes, body.length, o.key);
    assert.equal(o.sha256, sha256(body), o.key);
  }
  assert.equal(manifest.bytes, [...objects.values()].reduce((a, b) => a + b.length, 0));
  assert.equal(manifest.rows, manifest.objects.reduce((a, o) => a + o.records, 0));
}

const lines = (buf) => buf.toString("utf8").split("\n").filter(Boolean);
const truth = async (q) => Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).arrayBuffer());

test("an activity run whose second window's job fails: its manifest lists the first window's pieces exactly; /resume writes the complete one, equal to the truth", { timeout: 240_000 }, async () => {
  await control(sb, "/__sandbox/reset");
  // The run's second job (its second window) ends Failed: no retry changes that.
  await control(sb, "/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 2 });
  const inc = { startDate: "2024-02-01", through: "2024-02-20" };
  const { id } = await post("/api/runs/activities", { incremental: inc });
  const s = await settled("activities", id);
  assert.equal(s.status, "errored", JSON.stringify(s));

  const failed = await runOutput("activities", id);
  const m = failed.manifest;
  assert.equal(m.state, "failed");
  assert.equal(m.api, "activities");
  assert.equal(m.run, id);
  assert.equal(m.failure.name, "Error");
  assert.match(m.failure.message, /fail/i);
  assert.ok(!JSON.stringify(m).includes(SANDBOX_CREDENTIALS.backstory.clientSecret), "no secret in the manifest");
  assert.deepEqual(m.watermark, { before: null, after: null }, "the watermark did not move");
  checkListed(m, failed.objects);
  // The first window, whole (its pieces in fragment order), and nothing of the second.
  assert.ok(m.objects.length >= 2, `the first window came in pieces (${m.objects.length})`);
  assert.deepEqual(m.windows.map((w) => [w.window.startDate, w.window.endDate]), [["2024-02-01", "2024-02-14"]]);
  let next = 0;
  for (const o of m.objects) {
    assert.equal(o.fragments[0], next, `${o.key} follows the piece before it`);
    next = o.fragments[1];
  }
  const first = Buffer.concat(m.objects.map((o) => failed.objects.get(o.key)));
  assert.ok(first.equals(await truth({ start_date: "2024-02-01", end_date: "2024-02-14", export_type: "delta" })), "the delivered window is the truth byte for byte");
  assert.equal(m.rows, lines(first).length);
  // Its vendor jobs: the first window's and the one that failed.
  assert.equal(m.vendorJobs.length, 2, JSON.stringify(m.vendorJobs));
  assert.equal(m.vendorJobs[0], m.objects[0].jobId);

  // The vendor works again: the same run goes on and its manifest becomes the complete one.
  const resumed = await post(`/api/runs/activities/${id}/resume`);
  const s2 = await settled("activities", resumed.id);
  assert.equal(s2.status, "complete", JSON.stringify(s2.error ?? s2));
  const done = await runOutput("activities", id);
  const d = done.manifest;
  assert.equal(d.state, "complete");
  assert.equal(d.failure, undefined);
  assert.deepEqual(d.watermark, { before: null, after: "2024-02-20" });
  checkListed(d, done.objects);
  // The first window's pieces were kept, not downloaded again.
  for (const o of m.objects) assert.equal(d.objects.find((x) => x.key === o.key)?.sha256, o.sha256);
  const windows = [
    ["2024-02-01", "2024-02-14"],
    ["2024-02-15", "2024-02-20"],
  ];
  assert.deepEqual(d.windows.map((w) => [w.window.startDate, w.window.endDate]), windows);
  for (const w of d.windows) {
    const body = Buffer.concat(d.objects.filter((o) => o.jobId === w.jobId).map((o) => done.objects.get(o.key)));
    assert.ok(body.equals(await truth({ start_date: w.window.startDate, end_date: w.window.endDate, export_type: "delta" })), `window ${w.window.startDate} is the truth`);
  }
});

test("a Userpilot run whose job fails: its manifest says failed, delivered nothing, names the job; /resume writes the complete one", { timeout: 240_000 }, async () => {
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/faults", { scope: "userpilot.create", fault: "fail_job", nth: 1 });
  const { id } = await post("/api/runs/userpilot", { from: "2024-05-01", to: "2024-05-02" });
  const s = await settled("userpilot", id);
  assert.equal(s.status, "errored", JSON.stringify(s));

  const failed = await runOutput("userpilot", id);
  const m = failed.manifest;
  assert.equal(m.state, "failed");
  assert.equal(m.api, "userpilot");
  assert.match(m.failure.message, /fail/i);
  assert.ok(!JSON.stringify(m).includes(SANDBOX_CREDENTIALS.userpilot.apiKey), "no secret in the manifest");
  assert.deepEqual(m.watermark, { before: null, after: null });
  assert.deepEqual(m.objects, []);
  assert.equal(failed.objects.size, 0, "nothing delivered");
  assert.equal(m.rows, 0);
  assert.equal(m.vendorJobs.length, 1, "the job that failed");

  await control(sb, "/__sandbox/faults/clear", {});
  const resumed = await post(`/api/runs/userpilot/${id}/resume`);
  const s2 = await settled("userpilot", resumed.id);
  assert.equal(s2.status, "complete", JSON.stringify(s2.error ?? s2));
  const done = await runOutput("userpilot", id);
  const d = done.manifest;
  assert.equal(d.state, "complete");
  assert.equal(d.failure, undefined);
  checkListed(d, done.objects);
  assert.equal(d.objects.length, 1);
  assert.notEqual(d.vendorJobs[0], m.vendorJobs[0], "the failed job was not adopted");
  const body = done.objects.get(d.objects[0].key);
  assert.ok(lines(body).length > 0);
  assert.equal(d.rows, lines(body).length);
  // Every event of the new job once, as the sandbox's truth.
  const want = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${d.vendorJobs[0]}&dedupe=1`)).arrayBuffer());
  assert.ok(body.equals(want), "the object is the truth byte for byte");
});
