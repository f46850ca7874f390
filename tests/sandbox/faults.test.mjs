// Fault injection in the sandbox: each fault is observable by a client.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startSandbox } from "../../sandbox/server.mjs";
import { UP_KEY, bearer, control, waitFor } from "./helpers.mjs";

let sb;
let tok;
const Q = { object: "account", columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_description" }] };
const exportCall = () => fetch(`${sb.url}/v3/beta/insights/export`, { method: "POST", headers: { Authorization: `Bearer ${tok}`, "Content-Type": "application/json" }, body: JSON.stringify(Q) });
const fault = (rule) => control(sb, "faults", rule).then((r) => r.json());
const J = () => `${sb.url}/pull/v1/export/activities/jobs`;
const H = () => ({ Authorization: `Bearer ${tok}`, "Content-Type": "application/json" });

async function completedJob(body = { start_date: "2024-03-01", end_date: "2024-03-03" }) {
  const r = await fetch(J(), { method: "POST", headers: H(), body: JSON.stringify(body) });
  const { job_id } = await r.json();
  return waitFor(async () => {
    const j = await (await fetch(`${J()}/${job_id}`, { headers: H() })).json();
    return (j.state === "Completed" || j.state === "Failed") && j;
  });
}

before(async () => {
  sb = await startSandbox({ jobSpeed: 50, fragmentRecords: 50, dailyLimit: 1000 });
});
after(() => sb.close());
beforeEach(async () => {
  await control(sb, "reset");
  tok = await bearer(sb);
});

test("status faults carry Retry-After in seconds or as an HTTP-date and spend no quota", async () => {
  await fault({ scope: "query", fault: "status", status: 429, retryAfter: 0 });
  let r = await exportCall();
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("retry-after"), "0");
  await fault({ scope: "query", fault: "status", status: 503, retryAfterDate: 5 });
  r = await exportCall();
  assert.equal(r.status, 503);
  assert.ok(Date.parse(r.headers.get("retry-after")) > Date.now());
  const state = await (await fetch(`${sb.url}/__sandbox/state`)).json();
  assert.equal(state.queryCallsToday, 0);
  assert.equal((await exportCall()).status, 200);
  const rules = await (await fetch(`${sb.url}/__sandbox/faults`)).json();
  assert.ok(rules.every((x) => x.fired === 1));
});

test("nth and every select requests", async () => {
  await fault({ scope: "forecasting", fault: "status", status: 500, nth: 2 });
  const q = () => fetch(`${sb.url}/v3/beta/forecasting/query`, { method: "POST", headers: H(), body: JSON.stringify({ forecast_type_id: 10089, per_page: 1 }) });
  assert.deepEqual([(await q()).status, (await q()).status, (await q()).status], [200, 500, 200]);
});

test("truncate looks like a short success; reset breaks the read", async () => {
  const full = await (await exportCall()).text();
  await fault({ scope: "query", fault: "truncate", afterBytes: 500 });
  const short = await exportCall();
  assert.equal(short.status, 200);
  const text = Buffer.from(await short.arrayBuffer());
  assert.equal(text.length, 500);
  assert.ok(full.startsWith(text.toString("latin1").slice(0, 10)));
  await fault({ scope: "query", fault: "reset", afterBytes: 700 });
  const r = await exportCall();
  await assert.rejects(r.arrayBuffer());
});

test("invalid UTF-8, bad header and a 200 error body on the Query API", async () => {
  await fault({ scope: "query", fault: "invalid_utf8", afterBytes: 100 });
  const bytes = Buffer.from(await (await exportCall()).arrayBuffer());
  assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  await fault({ scope: "query", fault: "bad_header" });
  const head = (await (await exportCall()).text()).split("\r\n")[0];
  assert.equal(head, "Account Name,Description (renamed)");
  await fault({ scope: "query", fault: "error_body" });
  const e = await exportCall();
  assert.equal(e.status, 200);
  assert.match(e.headers.get("content-type"), /json/);
});

test("stall delays the answer", async () => {
  await fault({ scope: "forecasting", fault: "stall", stallMs: 300 });
  const t0 = Date.now();
  const r = await fetch(`${sb.url}/v3/beta/forecasting/query`, { method: "POST", headers: H(), body: JSON.stringify({ forecast_type_id: 10089, per_page: 1 }) });
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 >= 280);
});

test("activity data: malformed line, token expiry mid-download, failed job", async () => {
  const job = await completedJob();
  assert.ok(job.fragment >= 2);
  await fault({ scope: "activities.data", fault: "malformed_line", line: 3 });
  const text = await (await fetch(`${J()}/${job.job_id}/data?fragment=0`, { headers: H() })).text();
  const lines = text.trimEnd().split("\n");
  assert.doesNotThrow(() => JSON.parse(lines[1]));
  assert.throws(() => JSON.parse(lines[2]));
  await fault({ scope: "activities.data", fault: "expire_token" });
  assert.equal((await fetch(`${J()}/${job.job_id}/data?fragment=0`, { headers: H() })).status, 200);
  assert.equal((await fetch(`${J()}/${job.job_id}/data?fragment=1`, { headers: H() })).status, 401);
  tok = await bearer(sb);
  await fault({ scope: "activities.create", fault: "fail_job" });
  const failed = await completedJob();
  assert.equal(failed.state, "Failed");
});

test("userpilot files: expired link and truncated gzip", async () => {
  const UH = { Authorization: `Token ${UP_KEY}`, "Content-Type": "application/json" };
  const { job_id } = await (await fetch(`${sb.url}/api/v1/analytics/exports/`, { method: "POST", headers: UH, body: JSON.stringify({ from: "2024-01-01", to: "2024-01-09" }) })).json();
  const done = await waitFor(async () => {
    const j = await (await fetch(`${sb.url}/api/v1/analytics/exports/jobs/${job_id}`, { headers: UH })).json();
    return j.status === "completed" && j;
  });
  const url = done.presigned_urls[1].url;
  await fault({ scope: "userpilot.file", fault: "expire_link" });
  assert.equal((await fetch(url)).status, 403);
  await fault({ scope: "userpilot.file", fault: "truncate", afterBytes: 2000 });
  const cut = Buffer.from(await (await fetch(url)).arrayBuffer());
  assert.equal(cut.length, 2000);
  assert.throws(() => zlib.gunzipSync(cut));
  await fault({ scope: "userpilot.file", fault: "malformed_line", line: 1 });
  const bad = zlib.gunzipSync(Buffer.from(await (await fetch(url)).arrayBuffer())).toString().split("\n");
  assert.throws(() => JSON.parse(bad[0]));
  assert.doesNotThrow(() => JSON.parse(bad[1]));
});
