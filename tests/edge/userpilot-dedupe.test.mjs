// Userpilot runs across runs (issue 18) in workerd through miniflare, against the sandbox: a day
// exported again by a later run (an overlapping range, a re-run) writes no event twice, the
// memory kept per day being 64-bit hashes in R2 (edge/seen-events.mjs); a run stopped mid-download
// goes on with POST /api/runs/userpilot/ID/resume in a new instance, same job, same contents.
//
//   node --test tests/edge/userpilot-dedupe.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { eventDay, hash64, HashSet64 } from "../../edge/seen-events.mjs";
import { ACCESS_KEY, control, objectBytes, runFinished, runManifest, sandboxSecrets, startEdge, startSandbox, tempDir } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ seed: 23, eventsPerDay: 120, jobSpeed: 50 });
});
after(() => sb?.close());

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const edgeFor = (persist) => startEdge({ vars: { USERPILOT_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100" }, secrets: sandboxSecrets(), persist });
const upJobs = async () => Object.values((await control(sb, "/__sandbox/state")).userpilotJobs).reduce((a, b) => a + b, 0);

async function post(edge, path, body) {
  const r = await fetch(`${edge.url}${path}`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return r.json();
}

const lines = (buf) => buf.toString("utf8").split("\n").filter(Boolean);
const truthIds = async (from, to) => lines(Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?from=${from}&to=${to}`)).arrayBuffer())).map((l) => JSON.parse(l).internal_event_id);

test("two runs over overlapping days, then a re-run of both: every event of the union once", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-up-dedupe-");
  const edge = await edgeFor(dir.path);
  try {
    const ids = [];
    for (const body of [
      { from: "2024-05-01", to: "2024-05-06" },
      { from: "2024-05-04", to: "2024-05-10" },
      { from: "2024-05-01", to: "2024-05-10" },
    ]) {
      const { id } = await post(edge, "/api/runs/userpilot", body);
      await runFinished(edge, "userpilot", id);
      ids.push(id);
    }
    const manifests = await Promise.all(ids.map((id) => runManifest(edge, "userpilot", id)));
    const written = [];
    for (const m of manifests) {
      const body = await objectBytes(edge, m.objects[0].key);
      assert.equal(m.objects[0].sha256, createHash("sha256").update(body).digest("hex"));
      assert.equal(m.objects[0].records, lines(body).length);
      written.push(lines(body).map((l) => JSON.parse(l).internal_event_id));
    }
    const all = written.flat();
    assert.equal(new Set(all).size, all.length, "no event written twice across the three runs");
    assert.deepEqual([...all].sort(), (await truthIds("2024-05-01", "2024-05-10")).sort(), "together: every event of the ten days");
    assert.ok(written[0].length > 0 && written[1].length > 0);
    assert.equal(written[2].length, 0, "the re-run of days already delivered writes nothing");
    assert.ok(manifests[1].deliveredBefore > 0, "the overlap was dropped as delivered before");
    // Lines, not events: the vendor's files repeat some events, and each repeat is dropped too.
    assert.ok(manifests[2].deliveredBefore >= written[0].length + written[1].length);
    assert.equal(manifests[2].rows, 0);
    // The second run's own new events are exactly its days' events not in the first run.
    const first = new Set(written[0]);
    assert.deepEqual([...written[1]].sort(), (await truthIds("2024-05-04", "2024-05-10")).filter((x) => !first.has(x)).sort());
    // What is kept is hashes by day, one object per day and run, never the ids.
    const seen = (await (await edge.r2()).list({ prefix: "exports/userpilot/_seen/" })).objects.map((o) => o.key);
    assert.ok(seen.length >= 10 && seen.every((k) => /^exports\/userpilot\/_seen\/day=\d{4}-\d{2}-\d{2}\/run=[^/]+\.bin$/.test(k)), seen.join(", "));
    assert.equal(await upJobs(), 3);
  } finally {
    await edge.close();
    await dir.remove();
  }
});

test("a Userpilot run stopped mid-download goes on with /resume: same job, every event once", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-up-resume-");
  // Every file download waits, so the run is surely stopped inside its download step.
  await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "stall", stallMs: 400, every: 1 });
  let edge = await edgeFor(dir.path);
  try {
    const { id } = await post(edge, "/api/runs/userpilot", { from: "2024-06-01", to: "2024-06-12" });
    // Stop workerd once the first file has been asked for (the download step is under way).
    while ((await control(sb, "/__sandbox/faults"))[0].fired < 1) await sleep(20);
    await edge.close();
    edge = null;
    assert.equal(await upJobs(), 1);
    await control(sb, "/__sandbox/faults/clear", {});
    edge = await edgeFor(dir.path);
    const next = await post(edge, `/api/runs/userpilot/${id}/resume`);
    assert.equal(next.run, id);
    assert.match(next.id, new RegExp(`^${id}-r\\d+$`));
    await runFinished(edge, "userpilot", next.id);
    const m = await runManifest(edge, "userpilot", id);
    assert.equal(m.state, "complete");
    const body = await objectBytes(edge, m.objects[0].key);
    const want = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${m.objects[0].jobId}&dedupe=1`)).arrayBuffer());
    assert.ok(body.equals(want), "every event of the job once, as the truth");
    assert.equal(await upJobs(), 1, "the resumed run adopted its job");
    // The run's status by its own id follows the instance carrying it now.
    const st = await (await fetch(`${edge.url}/api/runs/userpilot/${id}`, { headers: KEY })).json();
    assert.equal(st.status, "complete");
    assert.equal(st.id, next.id);
  } finally {
    await edge?.close();
    await dir.remove();
  }
});

test("the per-day hash set: grows, round-trips through its stored bytes, never claims an id it was not given", () => {
  const set = new HashSet64(4);
  const ids = Array.from({ length: 50_000 }, (_, i) => createHash("sha1").update(String(i)).digest("hex"));
  for (const id of ids) assert.equal(set.add(...hash64(id)), true);
  for (const id of ids.slice(0, 100)) assert.equal(set.add(...hash64(id)), false, "a repeat is not added");
  assert.equal(set.size, ids.length);
  const back = new HashSet64();
  back.addBytes(set.toBytes());
  assert.equal(set.toBytes().byteLength, 8 * ids.length, "8 bytes per id stored");
  assert.ok(ids.every((id) => back.has(...hash64(id))));
  assert.ok(!Array.from({ length: 50_000 }, (_, i) => `other-${i}`).some((id) => back.has(...hash64(id))));
  assert.equal(eventDay({ inserted_at: 1714521600000000 }), "2024-05-01");
  assert.equal(eventDay({ inserted_at: "2024-05-02T10:00:00Z" }), "2024-05-02");
  assert.equal(eventDay({}), "unknown");
});
