// Durable Userpilot event runs (issue 18) in workerd through miniflare, against the sandbox: the
// events land in R2 once each (deduplicated across files) as the sandbox's truth, an expired link
// in the middle changes nothing, two runs at once take turns (one export per key), and consecutive
// incremental runs split the days with no gap and no overlap.
//
//   node --test tests/edge/scale-userpilot.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ACCESS_KEY, control, objectBytes, runFinished, runManifest, sandboxSecrets, startEdge, startRecorder, startSandbox, tempDir } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ seed: 21, eventsPerDay: 150, jobSpeed: 50 });
});
after(() => sb?.close());

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const edgeFor = (persist) => startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, USERPILOT_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100" }, secrets: sandboxSecrets(), persist });
const upJobs = async () => Object.values((await control(sb, "/__sandbox/state")).userpilotJobs).reduce((a, b) => a + b, 0);

async function startRun(edge, body) {
  const r = await fetch(`${edge.url}/api/runs/userpilot`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return (await r.json()).id;
}

/** Checks the run's one object against the sandbox's own deduplicated records of its job. */
async function checkRun(edge, id) {
  const m = await runManifest(edge, "userpilot", id);
  assert.equal(m.state, "complete");
  assert.equal(m.objects.length, 1);
  const [o] = m.objects;
  const body = await objectBytes(edge, o.key);
  const want = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${o.jobId}&dedupe=1`)).arrayBuffer());
  assert.ok(body.equals(want), `${o.key} holds every event of job ${o.jobId} once`);
  assert.equal(o.sha256, createHash("sha256").update(body).digest("hex"));
  assert.equal(o.records, body.toString("utf8").split("\n").filter(Boolean).length);
  return { m, body };
}

test("a run writes every event once, as the sandbox's truth; an expired link in the middle changes nothing", async () => {
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "expire_link", nth: 2 });
  const edge = await edgeFor();
  try {
    const id = await startRun(edge, { from: "2024-02-01", to: "2024-02-20" });
    await runFinished(edge, "userpilot", id);
    assert.equal((await control(sb, "/__sandbox/faults"))[0].fired, 1, "the link expired once");
    const { m } = await checkRun(edge, id);
    assert.ok(m.objects[0].files > 1, "the job had several files");
    assert.match(m.objects[0].key, /^exports\/userpilot\/day=\d{4}-\d{2}-\d{2}\/run=[^/]+\/events_2024-02-01_2024-02-20\.jsonl$/);
    assert.equal(await upJobs(), 1, "one Userpilot job");
  } finally {
    await edge.close();
  }
});

/** Export starts that reached the sandbox through a recorder, and how many it refused with 409 ("an export is running"). */
function startsSeen(relay) {
  const starts = relay.seen.filter((r) => r.method === "POST" && r.url.startsWith("/api/v1/analytics/exports"));
  return { starts: starts.length, conflicts: starts.filter((r) => r.status === 409).length };
}

test("two runs at once take turns: one export per key, never a 409, both complete", async () => {
  await control(sb, "/__sandbox/reset");
  const relay = await startRecorder(sb.url);
  const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, USERPILOT_BASE_URL: relay.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100" }, secrets: sandboxSecrets() });
  after(() => relay.close());
  try {
    const ids = await Promise.all([startRun(edge, { from: "2024-03-01", to: "2024-03-05" }), startRun(edge, { from: "2024-03-06", to: "2024-03-09" })]);
    for (const id of ids) await runFinished(edge, "userpilot", id);
    for (const id of ids) await checkRun(edge, id);
    assert.equal(await upJobs(), 2);
    assert.deepEqual(startsSeen(relay), { starts: 2, conflicts: 0 }, "the second run waited for the key's export slot");
  } finally {
    await edge.close();
  }
});

test("consecutive incremental runs split the days: no event twice, none missing", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-scale-up-");
  const edge = await edgeFor(dir.path);
  try {
    const ids = [];
    for (const body of [{ incremental: { startDate: "2024-04-01", through: "2024-04-06" } }, { incremental: { through: "2024-04-10" } }]) {
      const id = await startRun(edge, body);
      await runFinished(edge, "userpilot", id);
      ids.push(id);
    }
    const manifests = await Promise.all(ids.map((id) => runManifest(edge, "userpilot", id)));
    assert.deepEqual(
      manifests.map((m) => m.watermark),
      [
        { before: null, after: "2024-04-06" },
        { before: "2024-04-06", after: "2024-04-10" },
      ],
    );
    assert.deepEqual(
      manifests.map((m) => [m.params.from, m.params.to]),
      [
        ["2024-04-01", "2024-04-06"],
        ["2024-04-07", "2024-04-10"],
      ],
    );
    const idsOf = async (m) => (await objectBytes(edge, m.objects[0].key)).toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).internal_event_id);
    const [a, b] = await Promise.all(manifests.map(idsOf));
    const truth = (await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?from=2024-04-01&to=2024-04-10`)).text()).split("\n").filter(Boolean).map((l) => JSON.parse(l).internal_event_id);
    assert.equal(a.filter((x) => new Set(b).has(x)).length, 0, "no event in both runs");
    assert.deepEqual([...a, ...b].sort(), [...truth].sort(), "together: every event of the ten days");
  } finally {
    await edge.close();
    await dir.remove();
  }
});
