// client.activities in Node against the sandbox: a job's lifecycle, long ranges as windows, the
// vendor's job limits under a 30-window export, a failed job, CSV flattening and the raw bytes
// compared with the sandbox's ground truth, faults part way, abort, and validation before any call.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient } from "../../js/index.js";
import { control, flatCell, gather, readCsv, SANDBOX_CREDENTIALS, spreadsheetCell, startSandbox, valueAt } from "./helpers.mjs";

let sb;
before(async () => {
  await init();
  // Small fragments so every job has several; fast jobs so the suite stays quick.
  sb = await startSandbox({ port: 0, seed: 7, activities: 6000, fragmentRecords: 60, jobSpeed: 25 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const client = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const FAST = { pollIntervalMs: 40, pollMaxMs: 200 };

async function truthText(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(query)}`);
  assert.equal(r.status, 200);
  return r.text();
}
const truthLines = async (query) => (await truthText(query)).split("\n").filter(Boolean);

/** Counts the client's requests by method and path pattern while `fn` runs. */
async function spyFetch(fn) {
  const real = globalThis.fetch;
  const log = [];
  globalThis.fetch = async (url, init = {}) => {
    const res = await real(url, init);
    log.push({ method: init.method || "GET", path: new URL(url).pathname + new URL(url).search, status: res.status });
    return res;
  };
  try {
    return { result: await fn(), log };
  } catch (e) {
    e.log = log;
    throw e;
  } finally {
    globalThis.fetch = real;
  }
}

// An independent flattener (plain JavaScript, as a user would write it) for the expected CSV,
// which is spreadsheet-safe by default (the data holds formula payloads such as =cmd|...).
const cell = (v) => spreadsheetCell(flatCell(v));
const at = valueAt;

test("a job goes Queued, Running, Completed and its records are exactly the truth, in order", async () => {
  const c = client();
  // Slow enough that a 40 ms poll sees the Running state even on a loaded 2-core machine.
  await control(sb, "/__sandbox/config", { jobSpeed: 1 });
  const job = await c.activities.start({ startDate: "2024-02-01", endDate: "2024-02-14", activityType: "email" });
  assert.equal(job.state, "Queued");
  assert.equal(job.activityType, "email");
  assert.equal(job.fragmentCount, null);
  assert.deepEqual((await c.activities.get(job.jobId)).jobId, job.jobId);
  assert.ok((await c.activities.list()).some((j) => j.jobId === job.jobId));
  const seen = [];
  const done = await c.activities.wait(job, { ...FAST, onProgress: (p) => seen.push(p.job.state) });
  await control(sb, "/__sandbox/config", { jobSpeed: 25 });
  assert.equal(done.state, "Completed");
  assert.ok(seen.includes("Running"), seen.join());
  assert.equal(seen.at(-1), "Completed");
  assert.ok(done.fragmentCount >= 3, "several fragments");
  const progress = [];
  const { batches, summary } = await gather(c.activities.rows(done, { concurrency: 3, batchRecords: 25, onProgress: (p) => progress.push(p) }));
  const truth = await truthText({ job_id: job.jobId });
  const expected = truth.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const got = batches.flatMap((b) => b.records);
  assert.deepEqual(got, expected);
  assert.ok(got.every((r) => r.type === "email"));
  assert.equal(summary.records, expected.length);
  assert.equal(summary.bytes, Buffer.byteLength(truth));
  assert.equal(summary.bytes, done.resultsSize);
  const frags = batches.map((b) => b.fragment);
  assert.deepEqual(frags, [...frags].sort((a, b) => a - b), "fragments in order");
  assert.equal(new Set(frags).size, done.fragmentCount);
  assert.ok(batches.every((b) => b.jobId === job.jobId && b.window === 0));
  const last = progress.at(-1);
  assert.equal(last.phase, "done");
  assert.equal(last.fragmentsDone, done.fragmentCount);
});

test("a quarter runs as 14-day windows and arrives in date order, byte for byte", async () => {
  const c = client();
  const params = { startDate: "2024-01-01", endDate: "2024-03-31", activityType: "all" };
  const windows = c.activities.plan(params);
  assert.equal(windows.length, 7);
  assert.deepEqual(windows[0], { startDate: "2024-01-01", endDate: "2024-01-14", activityType: "all", exportType: "delta" });
  assert.equal(windows[6].endDate, "2024-03-31");
  const jobs = [];
  const { batches, summary } = await gather(c.activities.export(params, { ...FAST, format: "jsonl", onJob: (j, w) => (jobs[w] = j) }));
  const bytes = Buffer.concat(batches.map((b) => b.bytes)).toString("utf8");
  assert.equal(bytes, await truthText({ start_date: "2024-01-01", end_date: "2024-03-31" }));
  assert.equal(summary.jobs.length, 7);
  assert.deepEqual(summary.jobs.map((j) => [j.startDate, j.endDate]), windows.map((w) => [w.startDate, w.endDate]));
  const order = batches.map((b) => b.window);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});

test("thirty windows keep within 10 queued and 2 running, and never meet the vendor's refusal", async () => {
  const c = client();
  // Jobs slow enough that the queue can fill before the first ones finish.
  await control(sb, "/__sandbox/config", { jobSpeed: 8 });
  let peakActive = 0;
  let peakRunning = 0;
  const timer = setInterval(() => {
    const s = sb.sandbox.activities.summary();
    peakActive = Math.max(peakActive, s.Queued + s.Running);
    peakRunning = Math.max(peakRunning, s.Running);
  }, 2);
  const params = { startDate: "2023-01-01", endDate: "2024-02-24", activityType: "call" }; // 420 days
  assert.equal(c.activities.plan(params).length, 30);
  let out;
  try {
    out = await spyFetch(() => gather(c.activities.export(params, { ...FAST, format: "jsonl" })));
  } finally {
    clearInterval(timer);
    await control(sb, "/__sandbox/config", { jobSpeed: 25 });
  }
  const creates = out.log.filter((r) => r.method === "POST" && r.path.endsWith("/jobs"));
  assert.equal(creates.length, 30, "one create per window");
  assert.ok(creates.every((r) => r.status === 200), "no create was refused");
  assert.ok(peakActive <= 10, `never over the vendor's 10 (peak ${peakActive})`);
  assert.ok(peakActive >= 6, `jobs are queued ahead of the two running (peak ${peakActive})`);
  assert.ok(peakRunning <= 2);
  const bytes = Buffer.concat(out.result.batches.map((b) => b.bytes)).toString("utf8");
  assert.equal(bytes, await truthText({ start_date: "2023-01-01", end_date: "2024-02-24", activity_type: "call" }));
  // A caller sharing the account can ask for fewer at once.
  let peak3 = 0;
  const t3 = setInterval(() => {
    const s = sb.sandbox.activities.summary();
    peak3 = Math.max(peak3, s.Queued + s.Running);
  }, 2);
  try {
    await gather(c.activities.export({ startDate: "2024-03-01", endDate: "2024-05-01" }, { ...FAST, maxActiveJobs: 3, format: "jsonl" }));
  } finally {
    clearInterval(t3);
  }
  assert.ok(peak3 <= 3, `peak ${peak3}`);
});

test("a failed job is reported with its id, and says what had been delivered", async () => {
  await control(sb, "/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 2 });
  const c = client();
  const jobs = [];
  const it = c.activities.export({ startDate: "2024-01-01", endDate: "2024-02-10" }, { ...FAST, onJob: (j, w) => (jobs[w] = j) });
  let records = 0;
  const err = await (async () => {
    try {
      for await (const b of it) records += b.records.length;
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.ok(err, "the export must fail");
  assert.equal(err.name, "ExportError");
  assert.equal(err.code, "E_JOB_FAILED");
  assert.equal(err.jobId, jobs[1].jobId);
  assert.equal(err.state, "Failed");
  assert.match(err.message, new RegExp(jobs[1].jobId));
  assert.equal(err.delivered.records, records);
  const first = (await truthLines({ start_date: "2024-01-01", end_date: "2024-01-14" })).length;
  assert.ok(records === 0 || records === first, `${records} of ${first}`);
  // Waiting on it directly says the same.
  const e2 = await c.activities.wait(jobs[1], FAST).catch((e) => e);
  assert.equal(e2.code, "E_JOB_FAILED");
  assert.equal(e2.jobId, jobs[1].jobId);
  // A canceled job too.
  const j = await c.activities.start({ startDate: "2024-03-01", endDate: "2024-03-02" });
  await control(sb, `/__sandbox/jobs/${j.jobId}/cancel`, {});
  const e3 = await gather(c.activities.rows(j, FAST)).catch((e) => e);
  assert.equal(e3.code, "E_JOB_FAILED");
  assert.equal(e3.state, "Canceled");
});

test("CSV: nested objects as dotted columns, participants joined or exploded, exactly the records", async () => {
  const c = client();
  const params = { startDate: "2024-04-01", endDate: "2024-04-20", activityType: "all" };
  const truth = (await truthLines({ start_date: "2024-04-01", end_date: "2024-04-20" })).map((l) => JSON.parse(l));
  const joined = await gather(c.activities.export(params, { ...FAST, format: "csv", concurrency: 4 }));
  const rows = readCsv(joined.batches.map((b) => b.csv).join(""));
  const header = rows[0];
  assert.deepEqual(header, c.activities.columns());
  assert.deepEqual(joined.summary.header, header);
  assert.ok(header.includes("crm_status.account_id") && header.includes("stats.talk_ratio"));
  assert.deepEqual(rows.slice(1), truth.map((r) => header.map((h) => cell(at(r, h)))));
  assert.deepEqual(joined.summary.lateFields, []);

  const exploded = await gather(c.activities.export(params, { ...FAST, format: "csv", explode: "participants", batchRecords: 33 }));
  const erows = readCsv(exploded.batches.map((b) => b.csv).join(""));
  const eh = erows[0];
  assert.deepEqual(eh, c.activities.columns({ explode: "participants" }));
  const expected = [];
  for (const r of truth) {
    const parts = r.participants.length ? r.participants : [null];
    for (const p of parts) {
      expected.push(eh.map((h) => (h.startsWith("participants.") ? (p ? cell(at(p, h.slice(13))) : "") : cell(at(r, h)))));
    }
  }
  assert.deepEqual(erows.slice(1), expected);
  assert.equal(exploded.summary.rows, expected.length);
  assert.equal(exploded.summary.records, truth.length);
});

test("a connection reset part way and a malformed line: every record once, the bad one reported", async () => {
  const c = client();
  await control(sb, "/__sandbox/faults", { rules: [
    { scope: "activities.data", fault: "reset", afterBytes: 7000, nth: 2 },
    { scope: "activities.data", fault: "reset", afterBytes: 100, nth: 5 },
  ] });
  const job = await c.activities.start({ startDate: "2024-06-01", endDate: "2024-06-14" });
  const { batches, summary } = await gather(c.activities.rows(job, { ...FAST, concurrency: 2 }));
  const expected = (await truthLines({ job_id: job.jobId })).map((l) => JSON.parse(l));
  assert.deepEqual(batches.flatMap((b) => b.records), expected);
  assert.ok(summary.retries >= 2, `retries ${summary.retries}`);

  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "malformed_line", line: 4, nth: 3 });
  const { batches: b2, summary: s2 } = await gather(c.activities.rows(job, { ...FAST, concurrency: 1 }));
  assert.equal(s2.errorsTotal, 1);
  const e = s2.errors[0];
  assert.deepEqual([e.jobId, e.fragment, e.line], [job.jobId, 2, 4]);
  assert.equal(s2.records, expected.length - 1);
  const gotIds = b2.flatMap((b) => b.records.map((r) => r.uid));
  assert.deepEqual(gotIds, expected.map((r) => r.uid).filter((_, i) => i !== 2 * 60 + 3));

  // A body that stops part way, and an answer that never starts: fetched again after the stall timeout.
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { rules: [
    { scope: "activities.data", fault: "stall_body", afterBytes: 3000, stallMs: 8000, nth: 1 },
    { scope: "activities.data", fault: "stall", stallMs: 8000, nth: 3 },
  ] });
  const t0 = Date.now();
  const stalled = await gather(c.activities.rows(job, { ...FAST, concurrency: 2, stallTimeoutMs: 300 }));
  assert.deepEqual(stalled.batches.flatMap((b) => b.records), expected);
  assert.equal(stalled.summary.retries, 2);
  // Half the stall: a loaded 2-core CI machine still has seconds of room.
  assert.ok(Date.now() - t0 < 4000, `did not wait for the stalled answers (${Date.now() - t0} ms)`);

  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "malformed_line", line: 2, nth: 1 });
  const strict = await gather(c.activities.rows(job, { ...FAST, strict: true })).catch((x) => x);
  assert.equal(strict.code, "E_DECODE");
  assert.equal(strict.line, 2);
  assert.equal(strict.delivered.records, 1);
});

test("abort stops an export; bad parameters fail before any request, naming the field", async () => {
  const c = client();
  const ctrl = new AbortController();
  const it = c.activities.export({ startDate: "2024-01-01", endDate: "2024-01-20" }, { ...FAST, signal: ctrl.signal, onJob: () => ctrl.abort() });
  const e = await gather(it).catch((x) => x);
  assert.equal(e.code, "E_ABORTED");

  const { log } = await spyFetch(async () => {
    const cases = [
      [{ startDate: "2024-01-01" }, "endDate"],
      [{ startDate: "2024-02-30", endDate: "2024-03-01" }, "startDate"],
      [{ startDate: "2024-03-02", endDate: "2024-03-01" }, "endDate"],
      [{ startDate: "2024-01-01", endDate: "2024-01-02", activityType: "sms" }, "activityType"],
      [{ startDate: "2024-01-01", endDate: "2024-01-02", exportType: "full" }, "exportType"],
      [{ startDate: "2024-01-01", endDate: "2025-01-01", exportType: "snapshot" }, "endDate"],
      [{ startDate: "2024-01-01", endDate: "2024-01-02", windowDays: 0 }, "windowDays"],
      [{ startDate: "2024-01-01", endDate: "2024-01-02", colour: "red" }, "colour"],
    ];
    for (const [p, field] of cases) {
      assert.throws(() => c.activities.export(p), (x) => x.code === "E_INVALID_ARGUMENT" && x.field === field, JSON.stringify(p));
    }
    await assert.rejects(c.activities.start({ startDate: "2024-01-01", endDate: "2024-01-15" }), (x) => x.field === "endDate");
    await assert.rejects(gather(c.activities.export({ startDate: "2024-01-01", endDate: "2024-01-02" }, { concurrency: 7 })), (x) => x.field === "concurrency");
    await assert.rejects(gather(c.activities.export({ startDate: "2024-01-01", endDate: "2024-01-02" }, { format: "xml" })), (x) => x.field === "format");
    await assert.rejects(gather(c.activities.export({ startDate: "2024-01-01", endDate: "2024-01-02" }, { explode: "participants" })), (x) => x.field === "explode");
    assert.throws(() => c.activities.rows(""), (x) => x.field === "jobId");
    await assert.rejects(c.activities.get("../etc"), (x) => x.field === "jobId");
  });
  assert.deepEqual(log, [], "no request was made");
});
