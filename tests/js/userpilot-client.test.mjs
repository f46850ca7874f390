// UserpilotClient in Node against the sandbox: job lifecycle, 409 both ways, both formats, link
// expiry mid-download, the twelve lookups with cursor walking, the no-plan key. Contents are
// compared with the sandbox's ground truth.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, { UserpilotClient, GunzipStream } from "../../js/index.js";
import { EVENT_TYPES, LOOKUPS, PAGINATED_LOOKUPS } from "../../js/userpilot.js";
import { control, readCsv, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";
import { gzipSync } from "node:zlib";

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 5, jobSpeed: 40, eventsPerDay: 120 });
});
after(() => sb.close());
beforeEach(async () => {
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/config", { linkTtlSeconds: 172800, noplanStatus: 403 });
});

const client = (apiKey = SANDBOX_CREDENTIALS.userpilot.apiKey) => new UserpilotClient({ baseUrl: sb.url, apiKey });
const jobsMade = async () => {
  const s = (await control(sb, "/__sandbox/state")).userpilotJobs;
  return s.in_progress + s.completed + s.failed;
};

async function truthRecords(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/userpilot/events?${new URLSearchParams(query)}`);
  const text = await r.text();
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function collect(it) {
  const batches = [];
  for await (const b of it) batches.push(b);
  return { batches, summary: await it.result() };
}

test("bad parameters are refused before any call, naming the field", async () => {
  const up = client();
  const ok = { from: "2024-03-01", to: "2024-03-31" };
  const cases = [
    [{ to: "2024-03-01" }, "from"],
    [{ ...ok, from: "2024-3-01" }, "from"],
    [{ ...ok, to: "2024-02-30" }, "to"],
    [{ ...ok, to: "2024-02-01" }, "to"],
    [{ ...ok, eventType: ["track", "clicks"] }, "eventType[1]"],
    [{ ...ok, event_type: "track" }, "event_type"],
    [{ ...ok, emails: ["ok@work.com", "not-an-email"] }, "emails[1]"],
    [{ ...ok, userId: [42] }, "userId[0]"],
    [{ ...ok, companyId: "c1" }, "companyId"],
    [{ ...ok, segmentId: 9 }, "segmentId"],
    [{ ...ok, format: "parquet" }, "format"],
    [{ ...ok, exclusions: "yes" }, "exclusions"],
    [{ ...ok, userIds: ["u"] }, "userIds"],
    [{ ...ok, userId: ["a"], user_id: ["b"] }, "userId"],
  ];
  for (const [params, field] of cases) {
    await assert.rejects(up.exports.start(params), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === field, JSON.stringify(params));
    assert.throws(() => up.exports.validate(params), (e) => e.field === field);
  }
  assert.deepEqual(up.exports.validate({ ...ok, eventType: ["track"], userId: ["u1"], segmentId: "9000", exclusions: true }), {
    from: "2024-03-01", to: "2024-03-31", event_type: ["track"], user_id: ["u1"], segment_id: "9000", format: "json", exclusions: true,
  });
  await assert.rejects(collect(up.exports.rows("../x")), (e) => e.field === "jobId");
  await assert.rejects(collect(up.exports.rows("x", { concurrency: 9 })), (e) => e.field === "concurrency");
  assert.throws(() => new UserpilotClient({ baseUrl: sb.url, apiKey: "" }), (e) => e.field === "apiKey");
  assert.throws(() => new UserpilotClient({ baseUrl: "ftp://x", apiKey: "k" }), (e) => e.field === "baseUrl");
  assert.equal(await jobsMade(), 0, "no job was created");
  assert.deepEqual(EVENT_TYPES.length, 6);
});

test("job lifecycle: start, list, get, wait with progress in numbers, rows exactly the sandbox's", async () => {
  const up = client();
  const params = { from: "2024-01-03", to: "2024-02-20", eventType: ["track", "page_view", "identify_user"] };
  const job = await up.exports.start(params);
  assert.match(job.jobId, /^[0-9a-f-]{36}$/);
  assert.equal(job.links, `/api/v1/analytics/exports/jobs/${job.jobId}`);
  const listed = await up.exports.list();
  assert.equal(listed[0].jobId, job.jobId);
  const seen = [];
  const done = await up.exports.wait(job, { pollMs: 20, onProgress: (j) => seen.push(j.progress) });
  assert.equal(done.status, "completed");
  assert.deepEqual(seen.at(-1), { done: 2, total: 2 });
  assert.ok(seen.every((p) => p.total === 2 && p.done <= 2));
  assert.deepEqual(done.allChunks, ["2024-01-01", "2024-02-01"]);
  assert.equal(done.presignedUrls.length, 8);
  const got = await up.exports.get(job.jobId);
  assert.equal(got.presignedUrls[0].filename, "2024-01-01.json.gz");

  const { batches, summary } = await collect(up.exports.rows(job.jobId, { batchRecords: 300, concurrency: 3, dedupe: false }));
  const records = batches.flatMap((b) => b.records);
  assert.deepEqual(records, await truthRecords({ job_id: job.jobId }));
  assert.ok(batches.every((b, i) => i === 0 || b.file >= batches[i - 1].file), "file order");
  assert.equal(summary.records, records.length);
  assert.equal(summary.files.length, 8);
  assert.equal(summary.errors.length, 0);
  assert.ok(records.every((r) => params.eventType.includes(r.event_type)));

  // Repeats across files are dropped by default (the CLI and the dashboard agree); the option
  // spelt out gives the same.
  const dd = await collect(up.exports.rows(job.jobId));
  assert.deepEqual(dd.batches, (await collect(up.exports.rows(job.jobId, { dedupe: true }))).batches);
  const unique = dd.batches.flatMap((b) => b.records);
  assert.deepEqual(unique, await truthRecords({ job_id: job.jobId, dedupe: 1 }));
  assert.equal(dd.summary.duplicates, records.length - unique.length);
  assert.ok(dd.summary.duplicates > 0, "files overlap at their edges");
  // Leaving the loop early stops the downloads; an aborted signal stops them too.
  let seenBatches = 0;
  for await (const b of up.exports.rows(job.jobId, { batchRecords: 10, dedupe: false })) {
    assert.equal(b.records.length, 10);
    if (++seenBatches === 2) break;
  }
  const ctrl = new AbortController();
  ctrl.abort();
  await assert.rejects(collect(up.exports.rows(job.jobId, { signal: ctrl.signal })), (e) => e.code === "E_ABORTED");
  // The same events as the range query of the truth endpoint (no repeats).
  assert.deepEqual(
    unique.map((r) => r.internal_event_id),
    (await truthRecords({ from: params.from, to: params.to, event_type: params.eventType.join(",") })).map((r) => r.internal_event_id),
  );
});

test("CSV format: each file's rows are the file's CSV exactly, and --flatten-style CSV of JSON works", async () => {
  const up = client();
  const job = await up.exports.start({ from: "2024-05-06", to: "2024-05-19", format: "csv", exclusions: true });
  await up.exports.wait(job, { pollMs: 20 });
  const { batches, summary } = await collect(up.exports.rows(job.jobId, { batchRecords: 97, dedupe: false }));
  const files = summary.files.map((f) => f.filename);
  assert.deepEqual(files, ["2024-05-06.csv.gz", "2024-05-13.csv.gz"]);
  for (const [k, filename] of files.entries()) {
    const raw = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${job.jobId}&file=${filename}&raw=1`)).text();
    const [header, ...rows] = readCsv(raw);
    const mine = batches.filter((b) => b.file === k);
    assert.ok(mine.length > 1);
    assert.deepEqual(mine[0].header, header);
    assert.deepEqual(mine.flatMap((b) => b.rows), rows, filename);
  }
  assert.ok(batches.flatMap((b) => b.rows).every((r) => !r[3].startsWith("test_user_")), "exclusions applied");

  const json = await up.exports.start({ from: "2024-05-06", to: "2024-05-19", exclusions: true });
  await up.exports.wait(json, { pollMs: 20 });
  const flat = await collect(up.exports.rows(json.jobId, { flatten: true, dedupe: true }));
  assert.ok(flat.batches.every((b) => b.format === "csv-text"));
  const [fheader, ...frows] = readCsv(flat.batches.map((b) => b.csv).join(""));
  assert.deepEqual(fheader.slice(0, 8), ["app_token", "event_type", "event_name", "user_id", "company_id", "source", "inserted_at", "internal_event_id"]);
  assert.ok(fheader.slice(8).every((c) => c.startsWith("metadata.")), fheader.join());
  const truth = await truthRecords({ job_id: json.jobId, dedupe: 1 });
  assert.equal(frows.length, truth.length);
  assert.deepEqual(frows.map((r) => r[7]), truth.map((r) => r.internal_event_id));
  assert.equal(flat.summary.lateFields.length, 0);
});

test("409 both ways: the error names the running job, and waitForRunning starts after it", async () => {
  const up = client();
  // 300 monthly partitions: minutes at this job speed, so it is surely still running below.
  const first = await up.exports.start({ from: "2000-01-01", to: "2024-12-31" });
  await assert.rejects(up.exports.start({ from: "2024-02-01", to: "2024-02-02" }), (e) => {
    assert.equal(e.code, "E_CONFLICT");
    assert.equal(e.status, 409);
    assert.equal(e.jobId, first.jobId);
    assert.match(e.message, new RegExp(first.jobId));
    return true;
  });
  const waited = [];
  const progress = [];
  const second = await up.exports.start(
    { from: "2024-02-01", to: "2024-02-02" },
    {
      waitForRunning: true,
      pollMs: 20,
      maxPollMs: 100,
      // Once it waits, the running job is made to finish.
      onWaiting: (id) => {
        waited.push(id);
        control(sb, `/__sandbox/jobs/${id}/complete`, {});
      },
      onProgress: (j) => progress.push(j.progress.done),
    },
  );
  assert.deepEqual(waited, [first.jobId]);
  assert.notEqual(second.jobId, first.jobId);
  assert.equal(progress.at(-1), 300);
  assert.equal((await up.exports.get(first.jobId)).status, "completed");
});

test("an expired link mid-download is renewed by one job read; the contents stay exact", async () => {
  const up = client();
  await control(sb, "/__sandbox/config", { linkTtlSeconds: 60 });
  const job = await up.exports.start({ from: "2024-03-04", to: "2024-04-14" });
  await up.exports.wait(job, { pollMs: 20 });
  const truth = await truthRecords({ job_id: job.jobId });
  for (const concurrency of [1, 2]) {
    const it = up.exports.rows(job.jobId, { concurrency, batchRecords: 200, dedupe: false });
    const records = [];
    let advanced = false;
    for await (const b of it) {
      records.push(...b.records);
      if (!advanced && b.file === 0) {
        // Two minutes pass on the sandbox clock: every link handed out so far has expired.
        await control(sb, "/__sandbox/clock", { advanceMs: 120_000 });
        advanced = true;
      }
    }
    const summary = await it.result();
    assert.deepEqual(records, truth, `concurrency ${concurrency}`);
    assert.equal(summary.renewals, 1);
    assert.ok(summary.restarts >= 1);
  }
  // A link refused even after renewal is E_LINK_EXPIRED.
  await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "expire_link", every: 1 });
  await assert.rejects(collect(up.exports.rows(job.jobId)), (e) => e.code === "E_LINK_EXPIRED");
});

test("a gzip body cut short is fetched again; nothing lost or repeated", async () => {
  const up = client();
  const job = await up.exports.start({ from: "2024-07-01", to: "2024-07-21" });
  await up.exports.wait(job, { pollMs: 20 });
  const truth = await truthRecords({ job_id: job.jobId });
  // Both decoders: the runtime's DecompressionStream and the Rust inflater.
  for (const nativeGunzip of [true, false]) {
    await control(sb, "/__sandbox/faults/clear", {});
    await control(sb, "/__sandbox/faults", { rules: [
      { scope: "userpilot.file", fault: "truncate", afterBytes: 5000, nth: 2 },
      { scope: "userpilot.file", fault: "reset", afterBytes: 3000, nth: 3 },
    ] });
    const { batches, summary } = await collect(up.exports.rows(job.jobId, { concurrency: 1, batchRecords: 50, nativeGunzip, dedupe: false }));
    assert.deepEqual(batches.flatMap((b) => b.records), truth, `nativeGunzip ${nativeGunzip}`);
    assert.equal(summary.restarts, 2);
  }
});

test("all twelve lookups, cursor pages walked to the end with +/= cursors", async () => {
  const up = client();
  assert.equal(LOOKUPS.length, 12);
  for (const name of LOOKUPS) {
    const truth = await control(sb, `/__sandbox/truth/userpilot/lookups/${name}`);
    assert.ok(truth.length > 0, name);
    if (PAGINATED_LOOKUPS.includes(name)) {
      const pages = [];
      for await (const p of up.lookups.pages(name, { limit: 17 })) pages.push(p);
      assert.equal(pages.length, Math.ceil(truth.length / 17), name);
      assert.deepEqual(pages.flatMap((p) => p.data), truth, name);
      assert.ok(pages.slice(0, -1).every((p) => /[+/=]/.test(p.after) && p.totalCount === truth.length && p.limit === 17));
      assert.equal(pages.at(-1).after, null);
      assert.deepEqual(await up.lookups.all(name), truth);
      const first = await up.lookups.get(name);
      assert.equal(first.data.length, 50);
      const second = await up.lookups.get(name, { afterCursor: first.after, limit: 5 });
      assert.deepEqual(second.data, truth.slice(50, 55));
    } else {
      const page = await up.lookups.get(name);
      assert.deepEqual(page.data, truth, name);
      assert.equal(page.after, null);
      assert.deepEqual(await up.lookups.all(name), truth);
      await assert.rejects(up.lookups.get(name, { limit: 5 }), (e) => e.field === "limit");
    }
  }
  await assert.rejects(up.lookups.get("embed"), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "name");
  // Breaking out of the iterator stops the walk.
  let n = 0;
  for await (const p of up.lookups.pages("events_properties", { limit: 10 })) {
    n += p.data.length;
    break;
  }
  assert.equal(n, 10);
});

test("the no-plan key is E_AUTH (403) with the vendor's words; a wrong key is E_AUTH 401; no key in messages", async () => {
  const noplan = client("sandbox-userpilot-noplan");
  await assert.rejects(noplan.exports.start({ from: "2024-01-01", to: "2024-01-02" }), (e) => {
    assert.equal(e.code, "E_AUTH");
    assert.equal(e.status, 403);
    assert.match(e.message, /does not support the feature/);
    return true;
  });
  await control(sb, "/__sandbox/config", { noplanStatus: 401 });
  await assert.rejects(noplan.exports.start({ from: "2024-01-01", to: "2024-01-02" }), (e) => e.status === 401);
  // Lookups still answer for that key.
  assert.ok((await noplan.lookups.get("flows")).data.length > 0);
  const wrong = client("wrong-key-SEKRIT");
  await assert.rejects(wrong.exports.list(), (e) => e.code === "E_AUTH" && e.status === 401 && !e.message.includes("SEKRIT"));
  await assert.rejects(client().exports.get("0b7a2f6e-0000-4000-8000-000000000000"), (e) => e.status === 404 && /job not found/.test(e.message));
});

test("GunzipStream: the Rust inflater, split anywhere; a truncated stream is an error", () => {
  const data = Buffer.from(Array.from({ length: 2000 }, (_, i) => `{"n":${i},"s":"Über"}\n`).join(""));
  const gz = gzipSync(data);
  for (const step of [1, 7, 1000, gz.length]) {
    const g = new GunzipStream();
    const parts = [];
    for (let i = 0; i < gz.length; i += step) parts.push(g.push(gz.subarray(i, i + step)));
    g.finish();
    assert.deepEqual(Buffer.concat(parts), data);
  }
  const g = new GunzipStream();
  g.push(gz.subarray(0, gz.length - 3));
  assert.throws(() => g.finish(), (e) => e.code === "E_DECODE" && /truncated/.test(e.message));
});
