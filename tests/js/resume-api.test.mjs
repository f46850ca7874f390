// Checkpoints in the JavaScript API (issue 18): an export run with `onCheckpoint` is aborted
// (AbortSignal) part way through a fragment or file, then continued with the last checkpoint it
// was handed. The rows of both runs together must be the sandbox's truth, each exactly once, the
// same vendor jobs must serve both runs, and the sandbox's request log must show that the
// fragments and files the checkpoint covers were not fetched again.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient, UserpilotClient } from "../../js/index.js";
import { control, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 31, activities: 6000, fragmentRecords: 40, jobSpeed: 25, eventsPerDay: 200 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const FAST = { pollIntervalMs: 40, pollMaxMs: 200 };
const backstory = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const userpilot = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });
const lines = (text) => text.split("\n").filter(Boolean);
const truth = async (path, query) => lines(await (await fetch(`${sb.url}/__sandbox/truth/${path}?${new URLSearchParams(query)}`)).text());
const requests = () => control(sb, "/__sandbox/requests");
// What a checkpoint's holder would store: plain JSON, read back later.
const stored = (ck) => JSON.parse(JSON.stringify(ck));

/**
 * Runs `iterate()` and keeps, at each checkpoint, the rows the loop had handled until then: after
 * the abort, what the caller keeps is exactly what its last checkpoint covers.
 */
async function runUntilAborted(iterate, rowsOf, shouldAbort, { leave = false } = {}) {
  const ctrl = new AbortController();
  const got = [];
  let saved = null;
  const batches = [];
  const it = iterate({ signal: ctrl.signal, onCheckpoint: (ck) => (saved = { ck: stored(ck), count: got.length }) });
  const err = await (async () => {
    for await (const b of it) {
      batches.push(b);
      got.push(...rowsOf(b));
      if (!ctrl.signal.aborted && shouldAbort(b, saved?.ck)) {
        ctrl.abort();
        // Leaving the loop as well: no later checkpoint is handed over.
        if (leave) return "left";
      }
    }
  })().catch((e) => e);
  if (leave) assert.equal(err, "left", `the loop was left (${err})`);
  else assert.equal(err?.code, "E_ABORTED", `the run ended by the abort (${err})`);
  assert.ok(saved, "a checkpoint was handed over");
  return { kept: got.slice(0, saved.count), checkpoint: saved.ck, batches, handled: got.length };
}

test("activities: aborted inside a fragment, the export continued from its checkpoint gives every record once, without fetching earlier fragments again", async () => {
  const c = backstory();
  const params = { startDate: "2024-01-01", endDate: "2024-01-20" };
  // One fragment and one job at a time: the second window's job does not exist yet when the run
  // stops inside the first, so the continuation both downloads a saved job and creates the rest.
  const opts = { ...FAST, concurrency: 1, maxActiveJobs: 1, batchRecords: 7 };
  // Small writes, so a fragment arrives in several chunks and checkpoints fall inside fragments;
  // the run stops once one does, past the third fragment.
  await control(sb, "/__sandbox/config", { chunkSize: 2048 });
  const first = await runUntilAborted(
    (o) => c.activities.export(params, { ...opts, ...o }),
    (b) => b.records.map((r) => JSON.stringify(r)),
    (b, ck) => ck?.download?.download.head >= 3 && ck.download.lines > 0,
  ).finally(() => control(sb, "/__sandbox/config", { chunkSize: null }));
  const ck = first.checkpoint;
  assert.equal(ck.version, 1);
  assert.equal(ck.window, 0, "stopped in the first window");
  assert.equal(ck.jobs.length, 2);
  assert.ok(ck.jobs[0] && !ck.jobs[1], "the first window's job exists, the second's not yet");
  const head = ck.download.download.head;
  assert.ok(head >= 3 && ck.download.lines > 0, `stopped inside fragment ${head}, after line ${ck.download.lines}`);
  assert.ok(first.handled >= first.kept.length);
  const logBefore = (await requests()).length;

  const jobsSeen = [];
  const it = c.activities.export(params, { ...opts, checkpoint: ck, onJob: (j, w) => jobsSeen.push([w, j.jobId]) });
  const rest = [];
  for await (const b of it) rest.push(...b.records.map((r) => JSON.stringify(r)));
  const summary = await it.result();

  const want = await truth("activities", { start_date: params.startDate, end_date: params.endDate });
  const all = [...first.kept, ...rest];
  assert.equal(all.length, want.length, "every record once");
  assert.deepEqual(all.map((l) => JSON.parse(l)), want.map((l) => JSON.parse(l)), "the truth, in order");
  assert.equal(summary.records, rest.length);

  const state = await control(sb, "/__sandbox/state");
  assert.equal(state.activityJobs.Completed, 2, "one job per window across both runs");
  assert.equal(jobsSeen.find(([w]) => w === 0)[1], ck.jobs[0], "the first window kept its job");
  const later = (await requests()).slice(logBefore);
  const job0 = later.filter((r) => r.scope === "activities.data" && r.path.includes(`/${ck.jobs[0]}/`));
  assert.ok(job0.length > 0, "the first window's job was downloaded on");
  const delivered = [...new Set(first.batches.filter((b) => b.window === 0).map((b) => b.fragment))].slice(0, head);
  for (const r of job0) assert.ok(!delivered.includes(Number(r.fragment)), `fragment ${r.fragment} was delivered before the checkpoint, yet fetched again`);
  assert.equal(later.filter((r) => r.scope === "activities.create").length, 1, "only the second window's job was created");
});

test("activities: a jsonl download of one job continues at the byte where its checkpoint stopped", async () => {
  const c = backstory();
  const job = await c.activities.start({ startDate: "2024-02-01", endDate: "2024-02-10" });
  const opts = { ...FAST, concurrency: 2, format: "jsonl" };
  const dec = new TextDecoder();
  const first = await runUntilAborted(
    (o) => c.activities.rows(job, { ...opts, ...o }),
    (b) => [dec.decode(b.bytes)],
    (b, ck) => ck?.download?.download.head >= 2,
  );
  const rest = [];
  for await (const b of c.activities.rows(job, { ...opts, checkpoint: first.checkpoint })) rest.push(dec.decode(b.bytes));
  const want = await (await fetch(`${sb.url}/__sandbox/truth/activities?job_id=${job.jobId}`)).text();
  assert.equal([...first.kept, ...rest].join(""), want, "the job's bytes exactly once");
});

test("a checkpoint of another export, job or output is refused as E_INVALID_ARGUMENT naming `checkpoint`, before any request", async () => {
  const c = backstory();
  const params = { startDate: "2024-03-01", endDate: "2024-03-05" };
  const { checkpoint } = await runUntilAborted(
    (o) => c.activities.export(params, { ...FAST, concurrency: 1, batchRecords: 5, ...o }),
    (b) => b.records,
    (b, ck) => ck?.download?.download.head >= 1,
  );
  const logBefore = (await requests()).length;
  const refused = (f) => assert.throws(f, (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "checkpoint");
  refused(() => c.activities.export({ ...params, endDate: "2024-03-06" }, { checkpoint }));
  refused(() => c.activities.export(params, { checkpoint, format: "csv" }));
  refused(() => c.activities.export(params, { checkpoint: { ...checkpoint, version: 9 } }));
  refused(() => c.activities.export(params, { checkpoint: "not an object" }));
  refused(() => c.activities.rows("other-job", { checkpoint }));
  assert.deepEqual((await requests()).slice(logBefore), [], "no request was made");

  const up = userpilot();
  const job = await up.exports.start({ from: "2024-02-01", to: "2024-02-03" });
  const upCk = { version: 1, api: "userpilot", jobId: "someone-elses-job", output: { dedupe: true, flatten: false }, download: null, seenIds: [], csvHeader: null };
  refused(() => up.exports.rows(job, { checkpoint: upCk }));
  refused(() => up.exports.rows(job, { checkpoint: { ...upCk, jobId: job.jobId, output: { dedupe: false, flatten: false } } }));
  // The core's own check: a download of another job inside an otherwise fitting checkpoint.
  const forged = { ...upCk, jobId: job.jobId, download: { version: 1, job_id: job.jobId, download: { version: 1, parts: 99, head: 1, restarts: 0, renewals: 0 }, line: 0, rows: 0 } };
  await up.exports.wait(job, { pollMs: 20 });
  await assert.rejects(
    (async () => {
      for await (const _ of up.exports.rows(job, { checkpoint: forged }));
    })(),
    (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "checkpoint",
  );
});

for (const [where, stop, leave] of [
  // Inside a file: the file in progress goes on at its line.
  ["inside a file", (b, ck) => ck?.download?.download.head >= 2 && ck.download.line > 0, false],
  // Between files: the next file starts with repeats of the last one's events, which only the
  // checkpoint's ids can recognise.
  ["between files", (b, ck) => ck?.download?.download.head >= 2 && ck.download.line === 0, true],
]) {
  test(`userpilot: aborted ${where}, rows continued from the checkpoint give every event once, without fetching earlier files again`, async () => {
    const up = userpilot();
    const job = await up.exports.start({ from: "2024-02-01", to: "2024-02-20" });
    await up.exports.wait(job, { pollMs: 20 });
    const opts = { concurrency: 1, batchRecords: 25 };
    const first = await runUntilAborted(
      (o) => up.exports.rows(job, { ...opts, ...o }),
      (b) => b.records.map((r) => JSON.stringify(r)),
      stop,
      { leave },
    );
    const ck = first.checkpoint;
    assert.equal(ck.jobId, job.jobId);
    const head = ck.download.download.head;
    assert.ok(stop(null, ck), `stopped ${where}: file ${head}, line ${ck.download.line}`);
    assert.equal(ck.seenIds.length, first.kept.length, "the ids of the events delivered");
    const logBefore = (await requests()).length;

    const it = up.exports.rows(job, { ...opts, checkpoint: ck });
    const rest = [];
    for await (const b of it) rest.push(...b.records.map((r) => JSON.stringify(r)));
    const summary = await it.result();

    const want = await truth("userpilot/events", { job_id: job.jobId, dedupe: "1" });
    const all = [...first.kept, ...rest];
    const ids = all.map((l) => JSON.parse(l).internal_event_id);
    assert.equal(new Set(ids).size, ids.length, "no event twice");
    assert.deepEqual(all.map((l) => JSON.parse(l)), want.map((l) => JSON.parse(l)), "the truth, in order");
    assert.equal(summary.records, rest.length);

    const later = (await requests()).slice(logBefore);
    const files = later.filter((r) => r.scope === "userpilot.file").map((r) => decodeURIComponent(r.path.split("/").pop()));
    assert.ok(files.length > 0);
    const done = [...new Set(first.batches.map((b) => b.filename))].slice(0, head);
    assert.equal(done.length, head);
    for (const f of files) assert.ok(!done.includes(f), `file ${f} was delivered before the checkpoint, yet fetched again`);
    assert.equal(later.filter((r) => r.scope === "userpilot.create").length, 0, "no second job");
  });
}

test("the checkpoint handed over at the end continues to nothing; a throwing onCheckpoint ends the run naming it", async () => {
  const c = backstory();
  const params = { startDate: "2024-04-01", endDate: "2024-04-03" };
  let last = null;
  const it = c.activities.export(params, { ...FAST, onCheckpoint: (ck) => (last = stored(ck)) });
  for await (const _ of it);
  assert.equal(last.window, 1, "the last checkpoint says the one window is done");
  const logBefore = (await requests()).length;
  const again = c.activities.export(params, { ...FAST, checkpoint: last });
  const got = [];
  for await (const b of again) got.push(b);
  assert.deepEqual(got, []);
  assert.equal((await again.result()).records, 0);
  assert.deepEqual((await requests()).slice(logBefore), [], "nothing fetched");

  const boom = new Error("disk full");
  const e = await (async () => {
    for await (const _ of c.activities.export(params, { ...FAST, onCheckpoint: () => { throw boom; } }));
  })().catch((x) => x);
  assert.equal(e.code, "E_INVALID_ARGUMENT");
  assert.equal(e.field, "onCheckpoint");
  assert.equal(e.cause, boom);
});

for (const [what, params, opts, text] of [
  ["flattened to CSV", { from: "2024-03-01", to: "2024-03-20" }, { flatten: true }, (b) => b.csv],
  ["CSV files", { from: "2024-03-01", to: "2024-03-20", format: "csv" }, {}, (b) => b.rows.map((r) => r.join("\u0001") + "\n").join("")],
]) {
  test(`userpilot ${what}: continued from a checkpoint inside a file, the output equals an uninterrupted run (one header, every event once)`, async () => {
    const up = userpilot();
    const job = await up.exports.start(params);
    await up.exports.wait(job, { pollMs: 20 });
    const base = { ...opts, concurrency: 1, batchRecords: 25 };
    let whole = "";
    for await (const b of up.exports.rows(job, base)) whole += text(b);
    const first = await runUntilAborted(
      (o) => up.exports.rows(job, { ...base, ...o }),
      (b) => [text(b)],
      (b, ck) => ck?.download?.download.head >= 2 && (ck.download.line > 0 || ck.download.rows > 0),
    );
    assert.ok(first.checkpoint.download.download.head >= 2);
    let rest = "";
    for await (const b of up.exports.rows(job, { ...base, checkpoint: first.checkpoint })) rest += text(b);
    assert.equal(first.kept.join("") + rest, whole);
  });
}
