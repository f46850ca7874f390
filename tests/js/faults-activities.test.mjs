// The Raw Activity Data API under every fault the sandbox can throw, on each endpoint the client
// uses (token, job create, job poll, fragment data): each run either yields exactly the sandbox's
// records (every one once, in order) or fails with the coded error that says what was delivered.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import init, { BackstoryClient } from "../../js/index.js";
import { activityCsvRows, control, faultMatrix, failsWithDelivered, gather, readCsv, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
let job; // one Completed job whose fragments most faults hit
let truthBytes;
let truth;
before(async () => {
  await init();
  // Small fragments so a job has several; fast jobs so polling faults cost little time.
  sb = await startSandbox({ port: 0, seed: 8, activities: 5000, fragmentRecords: 50, jobSpeed: 60 });
  job = await client().activities.start({ startDate: "2024-06-01", endDate: "2024-06-14" });
  job = await client().activities.wait(job, FAST);
  truthBytes = await truthBuffer({ job_id: job.jobId });
  truth = lines(truthBytes).map((l) => JSON.parse(l));
});
const matrix = faultMatrix("activities", () => sb);
after(async () => {
  await matrix.report();
  await sb.close();
});

const FAST = { pollIntervalMs: 20, pollMaxMs: 100 };
const RANGE = { startDate: "2024-03-01", endDate: "2024-03-20" }; // two windows
const client = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const injected = matrix.injected;

async function truthBuffer(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(query)}`);
  assert.equal(r.status, 200);
  return Buffer.from(await r.arrayBuffer());
}
const lines = (buf) => buf.toString("utf8").split("\n").filter(Boolean);
let rangeTruth;
const rangeRecords = async () => (rangeTruth ??= lines(await truthBuffer({ start_date: RANGE.startDate, end_date: RANGE.endDate })).map((l) => JSON.parse(l)));

const records = (batches) => batches.flatMap((b) => b.records);

/** The job's data under the rules: exactly the truth in all three output formats' terms. */
async function exactRows(opts = {}) {
  const { batches, summary } = await gather(client().activities.rows(job, { ...FAST, ...opts }));
  if (opts.format === "jsonl") {
    assert.ok(Buffer.concat(batches.map((b) => b.bytes)).equals(truthBytes), "the raw bytes are the truth's");
  } else if (opts.format === "csv") {
    const rows = readCsv(batches.map((b) => b.csv).join(""));
    assert.deepEqual(rows.slice(1), activityCsvRows(truth, rows[0], { guard: opts.csvGuard !== false }));
  } else {
    assert.deepEqual(records(batches), truth);
  }
  assert.equal(summary.errorsTotal, 0);
  return summary;
}

const jobsMade = async () => Object.values((await control(sb, "/__sandbox/state")).activityJobs).reduce((a, b) => a + b, 0);

/** A whole two-window export under the rules: exactly the range's records, from one job a window. */
async function exactExport(opts = {}) {
  const made = await jobsMade();
  const { batches, summary } = await gather(client().activities.export(RANGE, { ...FAST, ...opts }));
  assert.deepEqual(records(batches), await rangeRecords());
  // At most one job per window, never a second for a lost answer. Fewer when a window's create
  // failed and an identical job made moments ago (by an earlier test) was adopted.
  assert.ok((await jobsMade()) - made <= 2, "never a second job for a window");
  return summary;
}

/**
 * A run that must fail: the coded error, and `delivered` telling exactly what arrived, which is a
 * prefix of the truth (nothing lost before it, nothing repeated).
 */
async function failsWith(it, code, expected = truth) {
  return failsWithDelivered(it, code, { expected });
}

// ------------------------------------------------------------------ statuses

const RETRY_AFTER = [{ retryAfter: 1 }, { retryAfterDate: 1 }, { retryAfter: "0" }, {}];

for (const ra of RETRY_AFTER) {
  test(`429 ${JSON.stringify(ra)} on fragment data is waited out; the rows are exact`, () =>
    injected({ scope: "activities.data", fault: "status", status: 429, nth: 2, ...ra }, async () => {
      const t0 = Date.now();
      await exactRows({ concurrency: 2 });
      if (ra.retryAfter === 1) assert.ok(Date.now() - t0 >= 900, "Retry-After was honoured");
    }));
  test(`429 ${JSON.stringify(ra)} on job creation is the vendor's queue: created later, exact`, () =>
    injected({ scope: "activities.create", fault: "status", status: 429, nth: 2, ...ra }, () => exactExport()));
  test(`429 ${JSON.stringify(ra)} on a job poll is waited out; exact`, () =>
    injected({ scope: "activities.get", fault: "status", status: 429, nth: 1, ...ra }, () => exactExport()));
}

test("429 on start() alone is reported with its wait, never sent twice", () =>
  injected({ scope: "activities.create", fault: "status", status: 429, retryAfter: 7 }, async () => {
    const e = await client().activities.start({ startDate: "2024-01-01", endDate: "2024-01-02" }).catch((x) => x);
    assert.equal(e.code, "E_RATE_LIMITED");
    assert.equal(e.retryAfterMs, 7000);
    assert.equal((await matrix.rules())[0].seen, 1);
  }));

for (const status of [500, 502, 503, 504]) {
  test(`${status} on fragment data, a job poll and the token exchange: retried, exact`, async () => {
    await injected({ scope: "activities.data", fault: "status", status, every: 2, times: 2 }, () => exactRows({ concurrency: 3 }));
    await injected({ scope: "activities.get", fault: "status", status, nth: 2 }, () => exactExport());
    await injected({ scope: "token", fault: "status", status, nth: 1 }, () => exactRows());
  });
  test(`${status} on job creation: the job is found or created once, exact`, () =>
    injected({ scope: "activities.create", fault: "status", status, nth: 2 }, () => exactExport()));
}

// ------------------------------------------------------------------ bodies

test("connection resets part way through fragments: fetched again, every row once, all formats", async () => {
  for (const [format, afterBytes] of [[undefined, 5000], ["jsonl", 777], ["csv", 20000], [undefined, 1]]) {
    await injected([
      { scope: "activities.data", fault: "reset", afterBytes, nth: 1 },
      { scope: "activities.data", fault: "reset", afterBytes: afterBytes + 3000, nth: 3 },
    ], () => exactRows({ format, concurrency: 2, csvGuard: false }));
  }
});

test("a reset while reading a job poll or the create answer: exact", async () => {
  await injected({ scope: "activities.get", fault: "reset", afterBytes: 40, nth: 1 }, () => exactExport());
  await injected({ scope: "activities.create", fault: "reset", afterBytes: 40, nth: 1 }, () => exactExport());
});

test("a fragment cut short inside a line is fetched again: exact", async () => {
  // Cut points inside lines of the first fragment (one fragment at a time, so nth picks it).
  for (const [format, afterBytes] of [[undefined, 4001], ["jsonl", 9999], ["csv", 123]]) {
    const cut = afterBytes + (truthBytes[afterBytes - 1] === 0x0a ? 1 : 0);
    await injected({ scope: "activities.data", fault: "truncate", afterBytes: cut, nth: 1 }, () => exactRows({ format, concurrency: 1, csvGuard: false }));
  }
});

test("a fragment cut short at a line end is caught by the job's size: the error says what arrived", async () => {
  const cut = truthBytes.indexOf(0x0a, 3000) + 1;
  await injected({ scope: "activities.data", fault: "truncate", afterBytes: cut, nth: 1 }, async () => {
    const e = await failsWith(client().activities.rows(job, { ...FAST, concurrency: 1 }), "E_NETWORK", null);
    const kept = lines(truthBytes.subarray(0, cut)).length;
    assert.match(e.message, /results_size/);
    assert.match(e.message, new RegExp(`may have been cut short: fragment 0 \\(ended after line ${kept}\\)$`), "names the fragment that came without a length");
    // Everything after the cut arrived: the export lost exactly the rest of fragment 0.
    const got = records(e.batches);
    const firstFragment = lines(await truthBuffer({ job_id: job.jobId, fragment: 0 })).length;
    assert.deepEqual(got, [...truth.slice(0, kept), ...truth.slice(firstFragment)]);
  });
});

test("stalls: an answer that never starts and a body that stops are fetched again after stallTimeoutMs", async () => {
  const t0 = Date.now();
  await injected([
    { scope: "activities.data", fault: "stall", stallMs: 8000, nth: 1 },
    { scope: "activities.data", fault: "stall_body", afterBytes: 3000, stallMs: 8000, nth: 3 },
  ], async () => {
    const s = await exactRows({ concurrency: 2, stallTimeoutMs: 300 });
    assert.equal(s.retries, 2);
  });
  assert.ok(Date.now() - t0 < 6000, "did not wait for the stalled answers");
});

test("a stalled job poll meets the export's deadline", () =>
  injected({ scope: "activities.get", fault: "stall", stallMs: 8000, nth: 1 }, async () => {
    const t0 = Date.now();
    await failsWith(client().activities.export(RANGE, { ...FAST, timeoutMs: 700 }), "E_TIMEOUT", await rangeRecords());
    assert.ok(Date.now() - t0 < 6000, `${Date.now() - t0} ms`);
  }));

test("a token that expires mid-download is replaced; exact", async () => {
  await injected({ scope: "activities.data", fault: "expire_token", nth: 1 }, () => exactRows({ concurrency: 2 }));
  await injected({ scope: "activities.get", fault: "expire_token", nth: 1 }, () => exactExport());
});

test("a 200 carrying an error body instead of data is fetched again; exact", async () => {
  await injected({ scope: "activities.data", fault: "error_body", nth: 2 }, () => exactRows({ concurrency: 2 }));
  await injected({ scope: "activities.get", fault: "error_body", nth: 1 }, () => exactExport());
});

// ------------------------------------------------------------------ jobs

for (const fault of ["fail_job", "cancel_job"]) {
  test(`${fault}: the export fails naming the job, having delivered a prefix of the truth`, () =>
    injected({ scope: "activities.create", fault, nth: 2 }, async () => {
      const jobs = [];
      const e = await failsWith(client().activities.export(RANGE, { ...FAST, onJob: (j, w) => (jobs[w] = j) }), "E_JOB_FAILED", await rangeRecords());
      assert.equal(e.jobId, jobs[1].jobId);
      assert.equal(e.state, fault === "fail_job" ? "Failed" : "Canceled");
      const first = (await truthBuffer({ start_date: "2024-03-01", end_date: "2024-03-14" })).toString().split("\n").filter(Boolean).length;
      assert.ok([0, first].includes(e.delivered.records), `${e.delivered.records} delivered: none or the whole first window`);
    }));
}

// ------------------------------------------------------------------ bad data

test("a malformed line goes to errors[] with its job, fragment and line; strict mode fails there", async () => {
  const firstFragment = lines(await truthBuffer({ job_id: job.jobId, fragment: 0 })).length;
  // Fragment 1 (the second request, one at a time), its 5th line.
  await injected({ scope: "activities.data", fault: "malformed_line", line: 5, nth: 2 }, async () => {
    const { batches, summary } = await gather(client().activities.rows(job, { ...FAST, concurrency: 1 }));
    assert.equal(summary.errorsTotal, 1);
    const e = summary.errors[0];
    assert.deepEqual([e.jobId, e.fragment, e.line], [job.jobId, 1, 5]);
    assert.deepEqual(records(batches), truth.filter((_, i) => i !== firstFragment + 4));
  });
  await injected({ scope: "activities.data", fault: "malformed_line", line: 5, nth: 2 }, async () => {
    const e = await failsWith(client().activities.rows(job, { ...FAST, concurrency: 1, strict: true }), "E_DECODE");
    assert.equal(e.line, 5);
    assert.match(e.message, /fragment 1/);
    assert.equal(e.delivered.fragment, 1);
    assert.equal(e.delivered.records, firstFragment + 4, "everything before the bad line, nothing after");
  });
});

/** The records and errors the truth gives when bytes k, k+1 of fragment 0 are 0xFF 0xFE. */
function corrupted(k) {
  const bad = Buffer.from(truthBytes);
  bad[k] = 0xff;
  bad[k + 1] = 0xfe;
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const good = [];
  const badLines = [];
  let start = 0;
  let n = 0;
  while (start < bad.length) {
    const end = bad.indexOf(0x0a, start);
    const line = bad.subarray(start, end);
    n++;
    try {
      good.push(JSON.parse(fatal.decode(line)));
    } catch {
      badLines.push(n);
    }
    start = end + 1;
  }
  return { good, badLines };
}

test("invalid UTF-8 in a fragment lands in errors[] with its line, or fails in strict mode", async (t) => {
  // Writes of a fixed size, so both damaged bytes (k and k + 1) fall in one write, as corrupted() assumes.
  await control(sb, "/__sandbox/config", { chunkSize: 4096 });
  t.after(() => control(sb, "/__sandbox/config", { chunkSize: null }));
  for (const afterBytes of [2500, 7000]) {
    const { good, badLines } = corrupted(afterBytes);
    await injected({ scope: "activities.data", fault: "invalid_utf8", afterBytes, nth: 1 }, async () => {
      const { batches, summary } = await gather(client().activities.rows(job, { ...FAST, concurrency: 1 }));
      assert.deepEqual(summary.errors.map((e) => [e.fragment, e.line]), badLines.map((l) => [0, l]));
      assert.deepEqual(records(batches), good);
    });
    await injected({ scope: "activities.data", fault: "invalid_utf8", afterBytes, nth: 1 }, async () => {
      const e = await failsWith(client().activities.rows(job, { ...FAST, concurrency: 1, strict: true }), "E_DECODE");
      assert.equal(e.line, badLines[0]);
      assert.equal(e.delivered.records, badLines[0] - 1);
    });
  }
});

// ------------------------------------------------------------------ at a rate

test("failures at a seeded rate on every endpoint, several seeds: always exact", async () => {
  // Seeds whose draws fire every rule within its first few requests.
  for (const seed of [2, 4, 5, 8, 10]) {
    await injected([
      { scope: "activities.data", fault: "status", status: 503, rate: 0.3, seed, times: 3 },
      { scope: "activities.data", fault: "reset", afterBytes: 2000 + seed * 1000, rate: 0.25, seed, times: 2 },
      { scope: "activities.get", fault: "status", status: 502, rate: 0.3, seed, times: 2 },
    ], async () => {
      await exactExport({ concurrency: 3, format: seed % 2 ? undefined : "records" });
    });
  }
});
