// Userpilot export jobs, presigned gzip files and lookups in the sandbox.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startSandbox } from "../../sandbox/server.mjs";
import { UP_KEY, control, waitFor } from "./helpers.mjs";

let sb;
const U = () => `${sb.url}/api/v1/analytics/exports`;
const H = (key = UP_KEY) => ({ Authorization: `Token ${key}`, "Content-Type": "application/json" });
const start = (b, key) => fetch(`${U()}/`, { method: "POST", headers: H(key), body: JSON.stringify(b) });
const job = (id) => fetch(`${U()}/jobs/${id}`, { headers: H() }).then((r) => r.json());

before(async () => {
  sb = await startSandbox({ jobSpeed: 20 });
});
after(() => sb.close());

test("auth: unknown key 401, no-plan key 403 with the documented body", async () => {
  assert.equal((await start({ from: "2024-01-01", to: "2024-01-02" }, "nope")).status, 401);
  const r = await start({ from: "2024-01-01", to: "2024-01-02" }, "sandbox-userpilot-noplan");
  assert.equal(r.status, 403);
  const b = await r.json();
  assert.match(b.errors[0].details, /does not support the feature/);
  assert.equal(b.errors[0].error_code, "401");
});

test("lifecycle with 409, json files with duplicates, truth, link expiry and renewal", async () => {
  const r = await start({ from: "2024-05-02", to: "2024-06-10", event_type: ["track", "page_view"], exclusions: true });
  assert.equal(r.status, 201);
  const created = await r.json();
  for (const k of ["environment_app_token", "environment_name", "job_id", "links", "start_time"]) assert.ok(k in created);
  const c = await start({ from: "2024-05-02", to: "2024-05-03" });
  assert.equal(c.status, 409);
  assert.equal((await c.json()).errors[0].error, "Conflict");
  const done = await waitFor(async () => {
    const j = await job(created.job_id);
    assert.match(j.progress, /^\d+ out of \d+ partitions$/);
    return j.status === "completed" && j;
  });
  assert.deepEqual(done.all_chunks, ["2024-05-01", "2024-06-01"]);
  let text = "";
  for (const f of done.presigned_urls) {
    const res = await fetch(f.url);
    assert.equal(res.status, 200);
    text += zlib.gunzipSync(Buffer.from(await res.arrayBuffer())).toString("utf8");
  }
  const events = text.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.ok(events.every((e) => e.event_type === "track" || e.event_type === "page_view"));
  assert.ok(events.every((e) => !e.user_id.startsWith("test_user")));
  const unique = new Set(events.map((e) => e.internal_event_id));
  assert.ok(unique.size < events.length, "some duplicates across files");
  const truth = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${created.job_id}`)).text();
  assert.equal(truth, text);
  const dedup = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${created.job_id}&dedupe=1`)).text();
  assert.equal(dedup.trimEnd().split("\n").length, unique.size);
  await control(sb, "clock", { advanceMs: 2 * 86400000 + 1000 });
  assert.equal((await fetch(done.presigned_urls[0].url)).status, 403);
  const fresh = await job(created.job_id);
  assert.equal((await fetch(fresh.presigned_urls[0].url)).status, 200);
  await control(sb, "clock", { advanceMs: 2 * 86400000 });
  assert.equal((await fetch(`${U()}/jobs/${created.job_id}`, { headers: H() })).status, 404);
  await control(sb, "clock", { offsetMs: 0 });
  assert.equal((await start({ from: "2024-05-02", to: "2024-05-03" })).status, 201);
  await control(sb, "reset");
});

test("csv format and the jobs list", async () => {
  const r = await start({ from: "2024-02-01", to: "2024-02-03", format: "csv" });
  const { job_id } = await r.json();
  const done = await waitFor(async () => (await job(job_id)).status === "completed" && job(job_id));
  assert.match(done.presigned_urls[0].filename, /\.csv\.gz$/);
  const csv = zlib.gunzipSync(Buffer.from(await (await fetch(done.presigned_urls[0].url)).arrayBuffer())).toString();
  assert.ok(csv.startsWith("app_token,event_type,event_name,user_id,company_id,source,inserted_at,internal_event_id,metadata\n"));
  const raw = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${job_id}&file=${done.presigned_urls[0].filename}&raw=1`)).text();
  assert.equal(raw, csv);
  const list = await (await fetch(`${U()}/jobs/`, { headers: H() })).json();
  assert.equal(list[0].job_id, job_id);
  assert.equal(list[0].status, "completed");
});

test("twelve lookups; cursor pages on events_properties and segments", async () => {
  const names = ["user_properties", "company_properties", "features_events", "events_properties", "segments", "flows", "banners", "spotlights", "surveys", "resource_center_modules", "checklists", "embeds"];
  for (const n of names) {
    const r = await fetch(`${U()}/lookups/${n}`, { headers: H() });
    assert.equal(r.status, 200, n);
    const b = await r.json();
    if (n === "events_properties" || n === "segments") {
      const all = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/lookups/${n}`)).json();
      const got = [...b.data];
      let after = b.metadata.cursor.after;
      assert.equal(b.metadata.limit, 50);
      assert.equal(b.metadata.total_count, all.length);
      while (after) {
        const p = await (await fetch(`${U()}/lookups/${n}?after_cursor=${encodeURIComponent(after)}&limit=50`, { headers: H() })).json();
        got.push(...p.data);
        after = p.metadata.cursor.after;
      }
      assert.deepEqual(got, all);
    } else assert.ok(Array.isArray(b) && b.length > 0, n);
  }
  assert.equal((await fetch(`${U()}/lookups/segments?limit=0`, { headers: H() })).status, 400);
  assert.equal((await fetch(`${U()}/lookups/nope`, { headers: H() })).status, 404);
});
