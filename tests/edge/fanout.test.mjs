// Fragments spread over Workflow steps (issue 18) in workerd through miniflare, against the
// sandbox: a window's job is downloaded one piece of fragments per step, pieces in parallel; the
// worker killed while a fragment is coming in (workerd disposed mid-body, state persisted) and
// started again resumes at that piece: the pieces already in R2 are not fetched again, the
// contents are the truth byte for byte, and no vendor job is made twice.
//
//   node --test tests/edge/fanout.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ACCESS_KEY, control, objectBytes, sandboxSecrets, startEdge, startSandbox, tempDir } from "./helpers.mjs";

let sb;
before(async () => {
  // About 330 records per 14-day window in fragments of 40: nine fragments a window.
  sb = await startSandbox({ seed: 31, activities: 9000, fragmentRecords: 40, jobSpeed: 40 });
});
after(() => sb?.close());

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const truth = async (q) => Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).arrayBuffer());
const jobTotal = async () => Object.values((await control(sb, "/__sandbox/state")).activityJobs).reduce((a, b) => a + b, 0);

/** A relay that records every fragment request (job, fragment) and whether its answer ended. */
async function startFragmentRelay(target) {
  const t = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    const m = /\/jobs\/([^/]+)\/(?:data|fragment)\/?\?(?:.*&)?fragment=(\d+)/.exec(req.url);
    const rec = m ? { job: m[1], fragment: Number(m[2]), ended: false } : null;
    if (rec) seen.push(rec);
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ur) => {
      res.writeHead(ur.statusCode, ur.rawHeaders);
      ur.pipe(res);
      ur.on("end", () => rec && (rec.ended = true));
    });
    up.on("error", () => res.destroy());
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

async function status(edge, id) {
  const r = await fetch(`${edge.url}/api/runs/activities/${id}`, { headers: KEY });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

async function complete(edge, id) {
  for (;;) {
    const s = await status(edge, id);
    if (s.status === "errored" || s.status === "terminated") assert.fail(`run ${id} ${s.status}: ${JSON.stringify(s.error ?? s)}`);
    if (s.status === "complete") return s;
    await sleep(50);
  }
}

/** The run's manifest, each window's pieces put together checked against the truth. */
async function checkRun(edge, id, windows) {
  const listed = await (await edge.r2()).list({ prefix: "exports/activities/day=" });
  const key = listed.objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
  const m = JSON.parse(await objectBytes(edge, key));
  assert.deepEqual(m.windows.map((x) => [x.window.startDate, x.window.endDate]), windows);
  for (const win of m.windows) {
    const pieces = m.objects.filter((o) => o.jobId === win.jobId);
    const bodies = await Promise.all(pieces.map((o) => objectBytes(edge, o.key)));
    for (const [k, o] of pieces.entries()) assert.equal(o.sha256, createHash("sha256").update(bodies[k]).digest("hex"));
    const want = await truth({ start_date: win.window.startDate, end_date: win.window.endDate, export_type: "delta" });
    assert.ok(Buffer.concat(bodies).equals(want), `window ${win.window.startDate} is the truth byte for byte`);
  }
  return m;
}

test("one step per fragment, two at once: the pieces in order are the truth", async () => {
  await control(sb, "/__sandbox/reset");
  const relay = await startFragmentRelay(sb.url);
  const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: relay.url, RUN_POLL_INTERVAL_MS: "50", RUN_FRAGMENTS_PER_STEP: "1", RUN_PARALLEL_STEPS: "2" }, secrets: sandboxSecrets() });
  try {
    const r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify({ startDate: "2024-01-01", endDate: "2024-01-20" }) });
    const { id } = await r.json();
    await complete(edge, id);
    const m = await checkRun(edge, id, [
      ["2024-01-01", "2024-01-14"],
      ["2024-01-15", "2024-01-20"],
    ]);
    assert.ok(m.windows[0].objects >= 5, `the first window in many pieces (${m.windows[0].objects})`);
    assert.ok(m.objects.every((o) => o.fragments[1] - o.fragments[0] <= 1), "at most one fragment a piece");
    assert.deepEqual(m.objects.filter((o) => o.jobId === m.windows[0].jobId).map((o) => o.fragments[0]), [...Array(m.windows[0].objects).keys()], "every fragment once, in order");
    assert.equal(await jobTotal(), 2);
  } finally {
    await edge.close();
    await relay.close();
  }
});

test("workerd killed while a fragment is coming in: the run resumes at that piece, identical, no job twice", async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-fanout-");
  const relay = await startFragmentRelay(sb.url);
  const vars = { BACKSTORY_BASE_URL: relay.url, RUN_POLL_INTERVAL_MS: "50", RUN_FRAGMENTS_PER_STEP: "1", RUN_PARALLEL_STEPS: "2" };
  // Every fragment sends its first bytes, then stalls: a step is surely mid-fragment when killed.
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "stall_body", afterBytes: 1500, stallMs: 600, every: 1 });
  let edge = await startEdge({ vars, secrets: sandboxSecrets(), persist: dir.path });
  try {
    const r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify({ startDate: "2024-02-01", endDate: "2024-02-14" }) });
    const { id } = await r.json();
    // Wait until some pieces are in R2 and a fragment is half-way.
    const markers = async () => (await (await edge.r2()).list({ prefix: `exports/activities/day=` })).objects.map((o) => o.key).filter((k) => k.includes(`/run=${id}/_pieces/`));
    let doneBefore;
    for (const end = Date.now() + 60_000; ; ) {
      doneBefore = await markers();
      if (doneBefore.length >= 2 && relay.seen.some((x) => !x.ended)) break;
      assert.ok(Date.now() < end, `pieces of the window reached R2 one by one (${doneBefore.length} markers)`);
      await sleep(20);
    }
    const fetchedBefore = relay.seen.filter((x) => x.ended).map((x) => x.fragment);
    await edge.close();
    edge = null;
    const cut = relay.seen.filter((x) => !x.ended).map((x) => x.fragment);
    assert.ok(cut.length >= 1, "a fragment was coming in when workerd was killed");
    const jobsAtKill = await jobTotal();
    assert.equal(jobsAtKill, 1);
    await control(sb, "/__sandbox/faults/clear", {});
    relay.seen.splice(0);

    edge = await startEdge({ vars, secrets: sandboxSecrets(), persist: dir.path });
    const res = await fetch(`${edge.url}/api/runs/activities/${id}/resume`, { method: "POST", headers: KEY });
    assert.equal(res.status, 202, await res.clone().text());
    const next = await res.json();
    await complete(edge, next.id);
    const m = await checkRun(edge, id, [["2024-02-01", "2024-02-14"]]);
    // Pieces whose markers were in R2 at the kill were not fetched again; the cut one was.
    const again = new Set(relay.seen.map((x) => x.fragment));
    const doneFragments = m.objects.filter((o) => doneBefore.some((k) => k.endsWith(`/_pieces/window-0/${o.fragments[0]}.json`))).map((o) => o.fragments[0]);
    assert.ok(doneFragments.length >= 2);
    for (const f of doneFragments) assert.ok(!again.has(f), `fragment ${f}, in R2 before the kill, was not fetched again`);
    for (const f of cut) assert.ok(again.has(f), `fragment ${f}, cut by the kill, was fetched again`);
    assert.ok(again.size < m.objects.length, `the resumed run fetched ${again.size} of ${m.objects.length} fragments`);
    assert.ok(fetchedBefore.length >= 2);
    assert.equal(await jobTotal(), 1, "no second vendor job");
  } finally {
    await edge?.close();
    await relay.close();
    await dir.remove();
  }
});
