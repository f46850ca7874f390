// Userpilot's Bulk Data Export and Lookups under every fault that applies to them, on each
// endpoint the client uses (job create, job read, lookups, presigned gzip files): each run either
// yields exactly the sandbox's events (every one once, in file order, both formats, both gzip
// decoders) or fails with the coded error that says what was delivered (file and line).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import init, { UserpilotClient } from "../../js/index.js";
import { control, faultMatrix, failsWithDelivered, gather, readCsv, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
let jsonJob;
let csvJob;
let truth; // the JSON job's events, file order, repeats included
let csvFiles; // the CSV job's files: [{ filename, header, rows }]
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 6, jobSpeed: 100, eventsPerDay: 40 });
  const up = client();
  jsonJob = (await up.exports.wait((await up.exports.start({ from: "2024-04-01", to: "2024-05-05" })).jobId, FAST)).jobId;
  csvJob = (await up.exports.wait((await up.exports.start({ from: "2024-04-01", to: "2024-04-21", format: "csv" })).jobId, FAST)).jobId;
  truth = await truthRecords({ job_id: jsonJob });
  csvFiles = [];
  for (const f of (await up.exports.get(csvJob)).presignedUrls) {
    const [header, ...rows] = readCsv(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${csvJob}&file=${f.filename}&raw=1`)).text());
    csvFiles.push({ filename: f.filename, header, rows });
  }
  assert.ok(csvFiles.length >= 3 && truth.length > 1000, `${csvFiles.length} files, ${truth.length} events`);
});
const matrix = faultMatrix("userpilot", () => sb);
after(async () => {
  await matrix.report();
  await sb.close();
});

const FAST = { pollMs: 20, maxPollMs: 100 };
const client = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });
const injected = matrix.injected;

async function truthRecords(query) {
  const text = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?${new URLSearchParams(query)}`)).text();
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** The JSON job's rows: exactly the truth, with the runtime's gzip decoder or the Rust one. */
async function exactJson(opts = {}) {
  const { batches, summary } = await gather(client().exports.rows(jsonJob, { batchRecords: 300, dedupe: false, ...opts }));
  assert.deepEqual(batches.flatMap((b) => b.records), truth);
  assert.deepEqual(summary.errors, []);
  return summary;
}

/** The CSV job's rows: each file's rows exactly the file's, under its header. */
async function exactCsv(opts = {}) {
  const { batches, summary } = await gather(client().exports.rows(csvJob, { batchRecords: 200, dedupe: false, ...opts }));
  csvFiles.forEach((f, k) => {
    const mine = batches.filter((b) => b.file === k);
    assert.ok(mine.every((b) => b.header.join() === f.header.join()), f.filename);
    assert.deepEqual(mine.flatMap((b) => b.rows), f.rows, f.filename);
  });
  assert.deepEqual(summary.errors, []);
  return summary;
}

/** A JSON rows run that must fail: the code, and `delivered` telling exactly what arrived. */
async function failsJson(code, opts = {}) {
  return failsWithDelivered(client().exports.rows(jsonJob, { batchRecords: 300, dedupe: false, ...opts }), code, {
    expected: truth,
    delivered: (batches, got) => {
      const last = batches.at(-1);
      return { records: got.length, file: last?.file ?? null, filename: last?.filename ?? null, line: last?.lastLine ?? null, row: null };
    },
  });
}

/** The JSON job's events of file `k`. */
async function fileTruth(k) {
  const filename = (await client().exports.get(jsonJob)).presignedUrls[k].filename;
  return truthRecords({ job_id: jsonJob, file: filename });
}

const lookupTruth = (name) => control(sb, `/__sandbox/truth/userpilot/lookups/${name}`);

// ------------------------------------------------------------------ statuses

for (const ra of [{ retryAfter: 1 }, { retryAfterDate: 1 }, { retryAfter: "0" }, {}]) {
  test(`429 ${JSON.stringify(ra)} on a file, a job read and a lookup page is waited out; exact`, async () => {
    await injected({ scope: "userpilot.file", fault: "status", status: 429, nth: 2, ...ra }, () => exactJson({ concurrency: 2 }));
    await injected({ scope: "userpilot.get", fault: "status", status: 429, nth: 1, ...ra }, () => exactCsv());
    await injected({ scope: "userpilot.lookup", fault: "status", status: 429, nth: 2, ...ra }, async () => {
      assert.deepEqual(await client().lookups.all("segments", { limit: 30 }), await lookupTruth("segments"));
    });
  });
  test(`429 ${JSON.stringify(ra)} on job creation is reported with its wait; nothing is sent twice`, () =>
    injected({ scope: "userpilot.create", fault: "status", status: 429, ...ra }, async () => {
      const e = await client().exports.start({ from: "2024-01-01", to: "2024-01-02" }).catch((x) => x);
      assert.equal(e.code, "E_RATE_LIMITED");
      const expected = ra.retryAfter !== undefined ? Number(ra.retryAfter) * 1000 : ra.retryAfterDate !== undefined ? "date" : undefined;
      // An HTTP-date has whole seconds: one second ahead is 0 to 1000 ms by the time it is read.
      if (expected === "date") assert.ok(e.retryAfterMs >= 0 && e.retryAfterMs <= 1000, String(e.retryAfterMs));
      else assert.equal(e.retryAfterMs, expected);
      assert.equal((await matrix.rules())[0].seen, 1);
    }));
}

for (const status of [500, 502, 503, 504]) {
  test(`${status} on files, job reads, the job list and lookups: retried, exact`, async () => {
    await injected({ scope: "userpilot.file", fault: "status", status, every: 2, times: 2 }, () => exactJson({ concurrency: 3 }));
    await injected({ scope: "userpilot.file", fault: "status", status, nth: 1 }, () => exactCsv({ nativeGunzip: false }));
    await injected({ scope: "userpilot.get", fault: "status", status, nth: 1 }, () => exactJson());
    await injected({ scope: "userpilot.list", fault: "status", status, nth: 1 }, async () => {
      assert.deepEqual((await client().exports.list()).map((j) => j.jobId).sort(), [jsonJob, csvJob].sort());
    });
    await injected({ scope: "userpilot.lookup", fault: "status", status, nth: 3 }, async () => {
      assert.deepEqual(await client().lookups.all("events_properties", { limit: 25 }), await lookupTruth("events_properties"));
    });
  });
  test(`${status} on job creation is reported, not sent again (it may have made the job)`, () =>
    injected({ scope: "userpilot.create", fault: "status", status }, async () => {
      const e = await client().exports.start({ from: "2024-01-01", to: "2024-01-02" }).catch((x) => x);
      assert.equal(e.code, "E_HTTP");
      assert.equal(e.status, status);
      assert.equal((await matrix.rules())[0].seen, 1);
    }));
}

// ------------------------------------------------------------------ bodies

test("connection resets and gzip streams cut short: the file is fetched again, nothing lost or repeated", async () => {
  for (const nativeGunzip of [true, false]) {
    for (const afterBytes of [1, 3000, 20_000]) {
      await injected([
        { scope: "userpilot.file", fault: "reset", afterBytes, nth: 1 },
        { scope: "userpilot.file", fault: "truncate", afterBytes: afterBytes + 1500, nth: 3 },
      ], () => exactJson({ concurrency: 2, nativeGunzip }));
    }
    await injected([
      { scope: "userpilot.file", fault: "reset", afterBytes: 2500, nth: 2 },
      { scope: "userpilot.file", fault: "truncate", afterBytes: 900, nth: 3 },
    ], () => exactCsv({ nativeGunzip }));
  }
});

test("a reset or a cut while reading a job or a lookup page: read again, exact", async () => {
  await injected({ scope: "userpilot.get", fault: "reset", afterBytes: 100, nth: 1 }, () => exactJson());
  await injected({ scope: "userpilot.lookup", fault: "reset", afterBytes: 200, nth: 2 }, async () => {
    assert.deepEqual(await client().lookups.all("segments", { limit: 40 }), await lookupTruth("segments"));
  });
  await injected({ scope: "userpilot.lookup", fault: "truncate", afterBytes: 200, nth: 1 }, async () => {
    assert.deepEqual(await client().lookups.all("flows"), await lookupTruth("flows"));
  });
});

test("stalls: a file that never answers and one that stops are fetched again after stallTimeoutMs", async () => {
  const t0 = Date.now();
  await injected([
    { scope: "userpilot.file", fault: "stall", stallMs: 8000, nth: 1 },
    { scope: "userpilot.file", fault: "stall_body", afterBytes: 4000, stallMs: 8000, nth: 3 },
  ], async () => {
    const s = await exactJson({ concurrency: 2, stallTimeoutMs: 300 });
    assert.equal(s.restarts, 2);
  });
  assert.ok(Date.now() - t0 < 6000, "did not wait for the stalled answers");
});

test("a stalled job read meets the deadline", () =>
  injected({ scope: "userpilot.get", fault: "stall", stallMs: 8000, nth: 1 }, async () => {
    const t0 = Date.now();
    const e = await failsJson("E_TIMEOUT", { timeoutMs: 600 });
    assert.equal(e.delivered.records, 0);
    assert.ok(Date.now() - t0 < 6000, `${Date.now() - t0} ms`);
  }));

test("an expired link is renewed by one job read; refused again, the error says what arrived", async () => {
  await injected({ scope: "userpilot.file", fault: "expire_link", nth: 2 }, async () => {
    const s = await exactJson({ concurrency: 1 });
    assert.equal(s.renewals, 1);
  });
  await injected({ scope: "userpilot.file", fault: "expire_link", every: 1 }, async () => {
    const e = await failsJson("E_LINK_EXPIRED", { concurrency: 1 });
    assert.equal(e.delivered.records, 0);
  });
  // Refused for the second file, and again after the renewal: the first file's events were
  // delivered, and the error says so.
  await injected([
    { scope: "userpilot.file", fault: "expire_link", nth: 2 },
    { scope: "userpilot.file", fault: "expire_link", nth: 3 },
  ], async () => {
    const e = await failsJson("E_LINK_EXPIRED", { concurrency: 1 });
    assert.equal(e.delivered.file, 0);
    assert.equal(e.delivered.records, (await fileTruth(0)).length);
  });
});

test("a 200 carrying an error body: a file's is fetched again, a job read's is read again; exact", async () => {
  await injected({ scope: "userpilot.file", fault: "error_body", nth: 2 }, () => exactJson());
  await injected({ scope: "userpilot.get", fault: "error_body", nth: 1 }, () => exactJson());
  await injected({ scope: "userpilot.lookup", fault: "error_body", nth: 1 }, async () => {
    assert.deepEqual(await client().lookups.all("segments"), await lookupTruth("segments"));
  });
});

// ------------------------------------------------------------------ jobs

for (const fault of ["fail_job", "cancel_job"]) {
  test(`${fault}: waiting and reading rows fail naming the job`, () =>
    injected({ scope: "userpilot.create", fault }, async () => {
      const up = client();
      const { jobId } = await up.exports.start({ from: "2024-02-01", to: "2024-02-03" });
      const e = await up.exports.wait(jobId, FAST).catch((x) => x);
      assert.equal(e.code, "E_JOB_FAILED");
      assert.equal(e.jobId, jobId);
      const e2 = await gather(up.exports.rows(jobId, { ...FAST, dedupe: false })).catch((x) => x);
      assert.equal(e2.code, "E_JOB_FAILED");
      assert.deepEqual(e2.delivered, { records: 0, file: null, filename: null, line: null, row: null });
    }));
}

// ------------------------------------------------------------------ bad data

test("a malformed JSON line goes to errors[] with its file and line; strict mode fails there", async () => {
  const firstFileCount = (await fileTruth(0)).length;
  // File 1 (the second request, one file at a time), its 7th line.
  await injected({ scope: "userpilot.file", fault: "malformed_line", line: 7, nth: 2 }, async () => {
    const { batches, summary } = await gather(client().exports.rows(jsonJob, { concurrency: 1, dedupe: false }));
    assert.deepEqual(summary.errors.map((e) => [e.file, e.line]), [[1, 7]]);
    assert.match(summary.errors[0].filename, /\.json\.gz$/);
    assert.deepEqual(batches.flatMap((b) => b.records), truth.filter((_, i) => i !== firstFileCount + 6));
  });
  await injected({ scope: "userpilot.file", fault: "malformed_line", line: 7, nth: 2 }, async () => {
    const e = await failsJson("E_DECODE", { concurrency: 1, strict: true, batchRecords: 5 });
    assert.equal(e.line, 7);
    assert.match(e.message, /\.json\.gz/);
    assert.equal(e.delivered.file, 1);
    assert.equal(e.delivered.records, firstFileCount + 6, "every event before the bad line, none after");
    assert.equal(e.delivered.line, 6);
  });
});

test("invalid UTF-8 lands in errors[] with its file and line, or fails in strict mode; JSON and CSV", async () => {
  const firstFile = (await client().exports.get(jsonJob)).presignedUrls[0].filename;
  // The sandbox damages the uncompressed data of the line holding byte `at`.
  const raw = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${jsonJob}&file=${firstFile}&raw=1`)).arrayBuffer());
  const at = 5000;
  const line = raw.subarray(0, at).toString("latin1").split("\n").length; // 1-based line holding byte `at`
  await injected({ scope: "userpilot.file", fault: "invalid_utf8", afterBytes: at, nth: 1 }, async () => {
    const { batches, summary } = await gather(client().exports.rows(jsonJob, { concurrency: 1, dedupe: false }));
    assert.deepEqual(summary.errors.map((e) => [e.file, e.line]), [[0, line]]);
    assert.deepEqual(batches.flatMap((b) => b.records), truth.filter((_, i) => i !== line - 1));
  });
  await injected({ scope: "userpilot.file", fault: "invalid_utf8", afterBytes: at, nth: 1 }, async () => {
    const e = await failsJson("E_DECODE", { concurrency: 1, strict: true, batchRecords: 1 });
    assert.equal(e.line, line);
    assert.equal(e.delivered.records, line - 1);
  });
  // CSV: the record holding the byte is kept with U+FFFD in place of the bad bytes (so the
  // columns stay aligned) and reported with its row; strict mode stops there.
  await injected({ scope: "userpilot.file", fault: "invalid_utf8", afterBytes: 3000, nth: 1 }, async () => {
    const { batches, summary } = await gather(client().exports.rows(csvJob, { concurrency: 1, dedupe: false }));
    assert.equal(summary.errors.length, 1);
    const err = summary.errors[0];
    assert.equal(err.file, 0);
    const got = batches.filter((b) => b.file === 0).flatMap((b) => b.rows);
    assert.equal(got.length, csvFiles[0].rows.length);
    got.forEach((row, i) => (i === err.row ? assert.ok(row.join().includes("\uFFFD")) : assert.deepEqual(row, csvFiles[0].rows[i])));
    assert.equal(err.line, err.row + 2, "one line per record here, after the header");
  });
  await injected({ scope: "userpilot.file", fault: "invalid_utf8", afterBytes: 3000, nth: 1 }, async () => {
    const e = await gather(client().exports.rows(csvJob, { concurrency: 1, strict: true, dedupe: false })).catch((x) => x);
    assert.equal(e.code, "E_DECODE");
    const got = e.batches.flatMap((b) => b.rows);
    assert.deepEqual(got, csvFiles[0].rows.slice(0, got.length), "a prefix of the first file");
    assert.equal(e.line, got.length + 2, "stopped at the bad record, everything before it delivered");
    assert.deepEqual(e.delivered, { records: got.length, file: 0, filename: csvFiles[0].filename, line: null, row: got.length });
  });
});

// ------------------------------------------------------------------ at a rate

test("file failures at a seeded rate, several seeds, both formats: always exact", async () => {
  // Seeds whose draws fire both rules within the run.
  for (const seed of [1, 4, 5, 8, 10]) {
    await injected([
      { scope: "userpilot.file", fault: "status", status: 503, rate: 0.3, seed, times: 3 },
      { scope: "userpilot.file", fault: "reset", afterBytes: 1000 * seed, rate: 0.3, seed, times: 2 },
    ], () => (seed % 2 ? exactCsv({ concurrency: 2 }) : exactJson({ concurrency: 3, nativeGunzip: seed % 4 === 0 })));
  }
});
