// The sandbox's `readings` switches (issue 15 §3): each changes the wire exactly as
// sandbox/README.md says, and the defaults are the readings served before the switches existed.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { defaultReadings, READINGS, startSandbox } from "../../sandbox/server.mjs";
import { bearer, clientId, clientSecret, control, UP_KEY, waitFor } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 3, activities: 6000, fragmentRecords: 30, jobSpeed: 50, eventsPerDay: 40 });
});
after(() => sb.close());
beforeEach(async () => {
  await control(sb, "reset");
  await control(sb, "config", { readings: defaultReadings() });
});

const set = (r) => control(sb, "config", { readings: r });
const J = () => `${sb.url}/pull/v1/export/activities/jobs`;
const U = () => `${sb.url}/api/v1/analytics/exports`;
const auth = async () => ({ Authorization: `Bearer ${await bearer(sb)}` });

async function completedJob(h) {
  const r = await fetch(J(), { method: "POST", headers: { ...h, "Content-Type": "application/json" }, body: JSON.stringify({ start_date: "2024-03-04", end_date: "2024-03-10" }) });
  assert.equal(r.status, 200);
  const { job_id } = await r.json();
  await waitFor(async () => /completed/i.test((await (await fetch(`${J()}/${job_id}`, { headers: h })).json()).state));
  return job_id;
}

test("defaults are the first value of each switch; config merges and refuses unknown ones", async () => {
  const cfg = await (await control(sb, "config", {})).json();
  assert.deepEqual(cfg.readings, Object.fromEntries(Object.entries(READINGS).map(([k, v]) => [k, v[0]])));
  await set({ stateCase: "lower" });
  const merged = await (await set({ jobTimes: "micro" })).json();
  assert.equal(merged.readings.stateCase, "lower", "a second patch keeps the first");
  assert.equal(merged.readings.jobTimes, "micro");
  const bad = await set({ jobTimes: "local" });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).field, "readings.jobTimes");
});

test("activities: numbering, results_size, state case, job times, URL form, list shape", async () => {
  const h = await auth();
  const id = await completedJob(h);
  const truth = await (await fetch(`${sb.url}/__sandbox/truth/activities?job_id=${id}&summary=1`)).json();
  const n = truth.fragments.length;
  assert.ok(n >= 3);
  const view = async () => (await fetch(`${J()}/${id}`, { headers: h })).json();
  let v = await view();
  assert.deepEqual([v.fragment, v.results_size, v.state], [n, truth.bytes, "Completed"]);
  assert.match(v.job_created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await set({ fragmentNumbering: "index", resultsSize: "no_final_newline", stateCase: "lower", jobTimes: "no_zone" });
  v = await view();
  assert.deepEqual([v.fragment, v.results_size, v.state], [n - 1, truth.bytes - 1, "completed"]);
  assert.match(v.job_created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  await set({ fragmentNumbering: "absent", resultsSize: "absent", stateCase: "upper", jobTimes: "micro" });
  v = await view();
  assert.ok(!("fragment" in v) && !("results_size" in v));
  assert.deepEqual([v.state, v.export_type, v.activity_type], ["COMPLETED", "Delta", "All"]);
  assert.match(v.job_created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  for (const [resultsSize, want] of [["compressed", Math.floor(truth.bytes / 3)], ["null", null], ["zero", 0], ["over", truth.bytes + 1000]]) {
    await set({ resultsSize });
    assert.equal((await view()).results_size, want, resultsSize);
  }
  const status = async (path) => (await fetch(`${J()}/${id}/${path}`, { headers: h })).status;
  await set({ fragmentPath: "data" });
  assert.deepEqual([await status("data?fragment=0"), await status("fragment?fragment=0"), await status("data")], [200, 404, 200]);
  await set({ fragmentPath: "fragment" });
  assert.deepEqual([await status("data?fragment=0"), await status("fragment?fragment=0"), await status("data")], [404, 200, 200]);
  await set({ fragmentPath: "both", dataEncoding: "gzip" });
  const enc = await fetch(`${J()}/${id}/data?fragment=1`, { headers: h });
  assert.equal(enc.headers.get("content-encoding"), "gzip");
  const plain = await (await fetch(`${sb.url}/__sandbox/truth/activities?job_id=${id}&fragment=1`)).text();
  assert.equal(await enc.text(), plain, "fetch decodes it to the fragment's bytes");
  assert.ok(Number(enc.headers.get("content-length")) < Buffer.byteLength(plain));
  for (const jobList of ["jobs", "data"]) {
    await set({ jobList });
    const body = await (await fetch(J(), { headers: h })).json();
    assert.equal(body[jobList][0].job_id, id);
  }
});

test("token: each encoding alone, expires_in as text, Bearer, an expired token answered 403", async () => {
  const url = `${sb.url}/v3/auth/tokens`;
  const form = { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }).toString() };
  const basic = { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}` }, body: "grant_type=client_credentials" };
  const json = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }) };
  const codes = async () => [(await fetch(url, form)).status, (await fetch(url, basic)).status, (await fetch(url, json)).status];
  assert.deepEqual(await codes(), [200, 200, 200]);
  await set({ tokenEncoding: "form" });
  assert.deepEqual(await codes(), [200, 400, 400]);
  await set({ tokenEncoding: "basic" });
  assert.deepEqual(await codes(), [401, 200, 400]);
  await set({ tokenEncoding: "json" });
  assert.deepEqual(await codes(), [415, 415, 200]);
  await set({ tokenEncoding: "any", expiresIn: "string", tokenType: "Bearer", expiredTokenStatus: 403 });
  const t = await (await fetch(url, form)).json();
  assert.equal(typeof t.expires_in, "string");
  assert.equal(t.token_type, "Bearer");
  await set({ expiresIn: "absent" });
  const t2 = await (await fetch(url, form)).json();
  assert.ok(!("expires_in" in t2) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/.test(t2.expires_at));
  await control(sb, "tokens/expire");
  assert.equal((await fetch(J(), { headers: { Authorization: `Bearer ${t.access_token}` } })).status, 403);
});

test("forecasting: headers kept per switch; GET with a query string when the method is get", async () => {
  const h = { ...(await auth()), "Content-Type": "application/json" };
  const q = { forecast_type_id: 10089, per_page: 7 };
  const url = `${sb.url}/v3/beta/forecasting/query`;
  const names = (r) => [...r.headers.keys()].filter((k) => k.startsWith("x-") && k !== "x-sandbox").sort();
  const expect = { all: ["x-limit", "x-page", "x-page-last", "x-total-count"], total_only: ["x-total-count"], last_only: ["x-page-last"], none: [] };
  for (const [forecastHeaders, want] of Object.entries(expect)) {
    await set({ forecastHeaders });
    const r = await fetch(url, { method: "POST", headers: h, body: JSON.stringify(q) });
    assert.equal(r.status, 200);
    assert.deepEqual(names(r), want, forecastHeaders);
  }
  await set({ forecastHeaders: "all", forecastMethod: "get" });
  assert.equal((await fetch(url, { method: "POST", headers: h, body: JSON.stringify(q) })).status, 405);
  const r = await fetch(`${url}?forecast_type_id=10089&per_page=7&page=2&timeframe%5Bsnapshots%5D=latest`, { headers: h });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-page"), "2");
  const truth = await (await fetch(`${sb.url}/__sandbox/truth/forecasting`, { method: "POST", body: JSON.stringify(q) })).json();
  assert.deepEqual(await r.json(), truth.records.slice(7, 14));
});

test("userpilot: create status, links, presigned_urls, status case, cursor end, lookup shapes, empty files", async () => {
  const h = { Authorization: `Token ${UP_KEY}`, "Content-Type": "application/json" };
  await set({ createStatus: 200, links: "absolute", presignedUrls: "strings", statusCase: "upper", emptyFiles: "zero_bytes" });
  const r = await fetch(`${U()}/`, { method: "POST", headers: h, body: JSON.stringify({ from: "2024-05-06", to: "2024-05-12", user_id: ["nobody"] }) });
  assert.equal(r.status, 200);
  const created = await r.json();
  assert.equal(created.links, `${sb.url}/api/v1/analytics/exports/jobs/${created.job_id}`);
  const job = await waitFor(async () => {
    const j = await (await fetch(`${U()}/jobs/${created.job_id}`, { headers: h })).json();
    return j.status === "COMPLETED" && j;
  });
  assert.equal(typeof job.presigned_urls[0], "string");
  const file = await fetch(job.presigned_urls[0]);
  assert.equal(file.status, 200);
  assert.equal(file.headers.get("content-length"), "0");
  assert.equal((await file.arrayBuffer()).byteLength, 0);
  await set({ jsonFiles: "array", emptyFiles: "gzip" });
  const r2 = await fetch(`${U()}/`, { method: "POST", headers: h, body: JSON.stringify({ from: "2024-05-06", to: "2024-05-07" }) });
  const id2 = (await r2.json()).job_id;
  await waitFor(async () => (await (await fetch(`${U()}/jobs/${id2}`, { headers: h })).json()).status === "COMPLETED");
  const raw = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${id2}&raw=1&file=2024-05-06.json.gz`)).text();
  const events = JSON.parse(raw);
  assert.ok(Array.isArray(events) && events.length > 0, "one JSON array");
  await set({ cursorEnd: "missing", lookupShape: "documented" });
  let after;
  let page = { metadata: { cursor: { after: "" } } };
  for (let i = 0; i < 20 && page.metadata.cursor.after !== undefined; i++) {
    after = page.metadata.cursor.after;
    page = await (await fetch(`${U()}/lookups/segments?limit=50${after ? `&after_cursor=${encodeURIComponent(after)}` : ""}`, { headers: h })).json();
  }
  assert.ok(!("after" in page.metadata.cursor), "the last page has no after");
  await set({ cursorEnd: "empty" });
  const last = await (await fetch(`${U()}/lookups/segments?limit=1000`, { headers: h })).json();
  assert.equal(last.metadata.cursor.after, "");
  await set({ lookupShape: "arrays" });
  assert.ok(Array.isArray(await (await fetch(`${U()}/lookups/segments`, { headers: h })).json()));
  await set({ lookupShape: "pages" });
  const flows = await (await fetch(`${U()}/lookups/flows`, { headers: h })).json();
  assert.deepEqual(flows.data, await (await fetch(`${sb.url}/__sandbox/truth/userpilot/lookups/flows`)).json());
  assert.equal(flows.metadata.cursor.after, null);
});
