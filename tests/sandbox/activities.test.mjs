// Raw Activity Data API in the sandbox: job lifecycle, limits, fragments and ground truth.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSandbox } from "../../sandbox/server.mjs";
import { bearer, control, waitFor } from "./helpers.mjs";

let sb;
let tok;
const J = () => `${sb.url}/pull/v1/export/activities/jobs`;
const H = () => ({ Authorization: `Bearer ${tok}`, "Content-Type": "application/json" });
const create = (b) => fetch(J(), { method: "POST", headers: H(), body: JSON.stringify(b) });
const get = (id) => fetch(`${J()}/${id}`, { headers: H() }).then((r) => r.json());

before(async () => {
  sb = await startSandbox({ jobSpeed: 50, fragmentRecords: 150 });
  tok = await bearer(sb);
});
after(() => sb.close());

test("validation: dates, range limits, types", async () => {
  const cases = [
    [{}, "start_date"],
    [{ start_date: "2024-1-01", end_date: "2024-01-02" }, "start_date"],
    [{ start_date: "2024-01-02", end_date: "2024-01-01" }, "end_date"],
    [{ start_date: "2024-01-01", end_date: "2024-01-15" }, "end_date"],
    [{ start_date: "2024-01-01", end_date: "2025-01-01", export_type: "snapshot" }, "end_date"],
    [{ start_date: "2024-01-01", end_date: "2024-01-02", activity_type: "sms" }, "activity_type"],
    [{ start_date: "2024-01-01", end_date: "2024-01-02", output_format: "csv" }, "output_format"],
    [{ start_date: "2024-01-01", end_date: "2024-01-02", export_type: "full" }, "export_type"],
  ];
  for (const [b, field] of cases) {
    const r = await create(b);
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.equal((await r.json()).field, field);
  }
  assert.equal((await create({ start_date: "2024-01-01", end_date: "2024-01-14" })).status, 200);
  assert.equal((await create({ start_date: "2024-01-01", end_date: "2024-12-31", export_type: "snapshot" })).status, 200);
  await control(sb, "reset");
  tok = await bearer(sb);
});

test("lifecycle: Queued -> Running -> Completed, fragments concatenate to data, truth matches", async () => {
  const r = await create({ start_date: "2024-03-01", end_date: "2024-03-14", activity_type: "meeting" });
  const job = await r.json();
  assert.equal(job.state, "Queued");
  assert.equal(job.output_format, "JSONLines");
  const seen = new Set();
  const done = await waitFor(async () => {
    const j = await get(job.job_id);
    seen.add(j.state);
    return j.state === "Completed" && j;
  });
  assert.ok(seen.has("Completed"));
  assert.ok(done.fragment >= 1);
  const all = await (await fetch(`${J()}/${job.job_id}/data`, { headers: H() })).text();
  assert.equal(Buffer.byteLength(all), done.results_size);
  let joined = "";
  for (let k = 0; k < done.fragment; k++) {
    const fr = await fetch(`${J()}/${job.job_id}/data?fragment=${k}`, { headers: H() });
    assert.equal(fr.status, 200);
    const text = await fr.text();
    assert.equal(Buffer.byteLength(text), Number(fr.headers.get("content-length")));
    joined += text;
  }
  assert.equal(joined, all);
  const lines = all.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => l.type === "meeting"));
  assert.equal(new Set(lines.map((l) => l.uid)).size, lines.length);
  for (const k of ["uid", "source_id", "created", "subject", "direction", "timestamp", "ingest_timestamp", "start_time", "end_time", "duration", "stats", "campaigns", "crm_status", "participants"]) {
    assert.ok(k in lines[0], k);
  }
  assert.ok("team" in lines[0].participants[0] && "peopleai_id" in lines[0].participants[0]);
  const truth = await (await fetch(`${sb.url}/__sandbox/truth/activities?job_id=${job.job_id}`)).text();
  assert.equal(truth, all);
  const byParams = await (await fetch(`${sb.url}/__sandbox/truth/activities?start_date=2024-03-01&end_date=2024-03-14&activity_type=meeting`)).text();
  assert.equal(byParams, all);
  const bad = await fetch(`${J()}/${job.job_id}/data?fragment=${done.fragment}`, { headers: H() });
  assert.equal(bad.status, 404);
  const list = await (await fetch(J(), { headers: H() })).json();
  assert.ok(list.some((j) => j.job_id === job.job_id));
});

test("limits: 2 running, 10 queued inclusive, the 11th refused; data before completion is 409", async () => {
  await control(sb, "config", { jobSpeed: 0.05 });
  const ids = [];
  for (let i = 0; i < 10; i++) {
    const r = await create({ start_date: "2024-05-01", end_date: "2024-05-02" });
    assert.equal(r.status, 200);
    ids.push((await r.json()).job_id);
  }
  const r11 = await create({ start_date: "2024-05-01", end_date: "2024-05-02" });
  assert.equal(r11.status, 429);
  assert.equal((await r11.json()).error, "too_many_jobs");
  const early = await fetch(`${J()}/${ids[0]}/data`, { headers: H() });
  assert.equal(early.status, 409);
  await control(sb, `jobs/${ids[0]}/fail`);
  await control(sb, `jobs/${ids[1]}/cancel`);
  assert.equal((await get(ids[0])).state, "Failed");
  assert.equal((await get(ids[1])).state, "Canceled");
  assert.equal((await create({ start_date: "2024-05-01", end_date: "2024-05-02" })).status, 200);
  const st = (await (await fetch(`${sb.url}/__sandbox/state`)).json()).activityJobs;
  assert.ok(st.Running <= 2);
  await control(sb, "config", { jobSpeed: 50 });
  await control(sb, "reset");
  tok = await bearer(sb);
});
