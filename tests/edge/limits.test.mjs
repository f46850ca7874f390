// The credential's VendorLimits Durable Object (issue 18) in workerd through miniflare, against the
// sandbox: the Query API's daily count is one count for the dashboard's proxy and the scheduled
// exports together, taken one call at a time, so no mix of concurrent callers ever sends the
// vendor an 11th call.
//
//   node --test tests/edge/limits.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ACCESS_KEY, callsToday, control, sandboxSecrets, startEdge, startRecorder, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ seed: 7, accounts: 200, activities: 3000, fragmentRecords: 40, jobSpeed: 40 });
});
after(() => sb?.close());

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const QUERY = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }] };

/** The Query API calls that reached the vendor through a recorder, as their answers' statuses. */
const queriesSeen = (relay) => relay.seen.filter((r) => r.method === "POST" && r.url.startsWith("/v3/beta/insights/export")).map((r) => r.status);

test("concurrent proxy calls and a scheduled run share the Query API's 10 calls: never an 11th at the vendor; the 11th gets the coded refusal", async () => {
  await control(sb, "/__sandbox/reset");
  const relay = await startRecorder(sb.url);
  const names = ["a", "b", "c", "d"];
  const edge = await startEdge({
    vars: { BACKSTORY_BASE_URL: relay.url, EXPORT_QUERIES: JSON.stringify(names.map((name) => ({ name, query: QUERY }))) },
    secrets: sandboxSecrets(),
  });
  try {
    const proxyCall = async () => {
      const r = await fetch(`${edge.url}/api/backstory/v3/beta/insights/export`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(QUERY) });
      return { status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.text() };
    };
    // 12 page calls and a cron tick with 4 exports, all at once: 16 callers for 10 calls.
    const tick = fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${Date.now()}`).then(async (r) => {
      assert.equal(r.status, 200, await r.text());
    });
    const answers = await Promise.all(Array.from({ length: 12 }, proxyCall));
    await tick;
    const states = await Promise.all(names.map(async (n) => JSON.parse(await (await edge.kv()).get(`export:${n}`))));

    assert.ok(queriesSeen(relay).length <= 10, `at most 10 Query API calls reached the vendor (${queriesSeen(relay).length})`);
    assert.deepEqual(queriesSeen(relay).filter((s) => s !== 200), [], "the vendor never had to refuse one");
    const served = answers.filter((a) => a.status === 200).length + states.filter((s) => s.state === "uploaded").length;
    assert.equal(served, 10, "all 10 calls of the day were used");
    assert.equal(await callsToday(sb), 10);
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(a.status, 429);
      assert.equal(JSON.parse(a.body).error, "rate_limit_exceeded");
      assert.ok(Number(a.retryAfter) > 0);
    }
    for (const s of states.filter((x) => x.state !== "uploaded")) {
      assert.equal(s.error.code, "E_QUOTA_EXHAUSTED");
      assert.equal(s.called, false, "a refused export spent nothing");
    }
    assert.equal(JSON.parse(await (await edge.limits()).queryQuota()).used, 10);

    // The 11th, afterwards: the worker's own coded refusal, nothing sent.
    const eleventh = await proxyCall();
    assert.equal(eleventh.status, 429);
    assert.equal(JSON.parse(eleventh.body).error, "rate_limit_exceeded");
    assert.match(JSON.parse(eleventh.body).message, /10 calls for today are spent/);
    assert.ok(Number(eleventh.retryAfter) > 0 && Number(eleventh.retryAfter) <= 86_400);
    assert.equal(queriesSeen(relay).length, 10);
  } finally {
    await edge.close();
    await relay.close();
  }
});

async function runStatus(edge, id) {
  const r = await fetch(`${edge.url}/api/runs/activities/${id}`, { headers: KEY });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

async function settled(edge, id) {
  for (const end = Date.now() + 90_000; ; ) {
    const s = await runStatus(edge, id);
    if (["complete", "errored", "terminated"].includes(s.status)) return s;
    assert.ok(Date.now() < end, `run ${id} ended: ${JSON.stringify(s)}`);
    await sleep(50);
  }
}

test("an incremental run that fails after planning gives its lease back: the next incremental run starts and covers its days", async () => {
  await control(sb, "/__sandbox/reset");
  // The first run's vendor job fails.
  await control(sb, "/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 1 });
  const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50" }, secrets: sandboxSecrets() });
  try {
    const start = async (body) => {
      const r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(r.status, 202, await r.clone().text());
      return (await r.json()).id;
    };
    const first = await start({ incremental: { startDate: "2024-02-01", through: "2024-02-05" } });
    const s1 = await settled(edge, first);
    assert.equal(s1.status, "errored", JSON.stringify(s1));
    assert.equal((await (await edge.limits()).status()).activitiesIncremental.held, 0, "the failed run holds no lease");
    const second = await start({ incremental: { startDate: "2024-02-01", through: "2024-02-05" } });
    const s2 = await settled(edge, second);
    assert.equal(s2.status, "complete", JSON.stringify(s2.error ?? s2));
    const bucket = await edge.r2();
    const key = (await bucket.list({ prefix: "exports/activities/day=" })).objects.map((o) => o.key).find((k) => k.endsWith(`/run=${second}/manifest.json`));
    const m = JSON.parse(await (await bucket.get(key)).text());
    assert.deepEqual(m.watermark, { before: null, after: "2024-02-05" }, "the failed run moved no watermark: the next one covers its days");
  } finally {
    await edge.close();
  }
});

test("a cancelled activity run gives back its job slot and its incremental lease: the next incremental run completes", async () => {
  await control(sb, "/__sandbox/reset");
  // A job that does not finish on its own: the run waits on it until it is cancelled.
  await control(sb, "/__sandbox/config", { jobSpeed: 0.000001 });
  const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50" }, secrets: sandboxSecrets() });
  try {
    const start = async (body) => {
      const r = await fetch(`${edge.url}/api/runs/activities`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(r.status, 202, await r.clone().text());
      return (await r.json()).id;
    };
    const body = { incremental: { startDate: "2024-03-01", through: "2024-03-05" } };
    const first = await start(body);
    const limits = await edge.limits();
    for (const end = Date.now() + 60_000; ; ) {
      const st = await limits.status();
      if (st.backstoryJobs.held === 1 && st.activitiesIncremental.held === 1) break;
      assert.ok(Date.now() < end, `the run took its job slot and its lease: ${JSON.stringify(st)} ${JSON.stringify(await runStatus(edge, first))}`);
      await sleep(20);
    }
    const r = await fetch(`${edge.url}/api/runs/activities/${first}/cancel`, { method: "POST", headers: KEY });
    assert.equal(r.status, 200, await r.clone().text());
    const st = await limits.status();
    assert.equal(st.backstoryJobs.held, 0, "the job slot is back");
    assert.equal(st.activitiesIncremental.held, 0, "the incremental lease is back");
    // The cancelled run's vendor job would stay queued ahead of every later one at the sandbox
    // (it keeps creation order): the vendor is reset, so only our Durable Object could hold the
    // next run back.
    await control(sb, "/__sandbox/reset");
    await control(sb, "/__sandbox/config", { jobSpeed: 40 });
    const second = await start(body);
    const s2 = await settled(edge, second);
    assert.equal(s2.status, "complete", JSON.stringify(s2.error ?? s2));
  } finally {
    await control(sb, "/__sandbox/config", { jobSpeed: 40 });
    await edge.close();
  }
});
