// The client module has no inflater of its own (issue 19): where the runtime has no
// `DecompressionStream`, or the caller passes `nativeGunzip: false`, a file's gzip body is
// inflated by the parse module's GunzipStream (js/gzip.js `gunzipReader`). Bad data stays a
// decode error of the file (not fetched again); a body cut short is fetched again.
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { after, before, beforeEach, test } from "node:test";
import init, { UserpilotClient } from "../../js/index.js";
import { gunzipReader } from "../../js/gzip.js";
import { control, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 7, jobSpeed: 40, eventsPerDay: 120 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const client = (opts = {}) => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey, ...opts });

async function truthRecords(query) {
  const text = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?${new URLSearchParams(query)}`)).text();
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function collect(it) {
  const batches = [];
  for await (const b of it) batches.push(b);
  return { batches, summary: await it.result() };
}

async function finishedJob(up) {
  const job = await up.exports.start({ from: "2024-07-01", to: "2024-07-14" });
  await up.exports.wait(job, { pollMs: 20 });
  return job;
}

/** A reader over `chunks`, as `ReadableStream.getReader()` gives. */
const readerOf = (chunks) =>
  new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  }).getReader();

async function drain(reader) {
  const out = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(out);
    out.push(value);
  }
}

test("gunzipReader: members split anywhere inflate whole; bad data is E_DECODE, a cut or empty body a plain error", async () => {
  const a = Buffer.from("first member\n".repeat(500));
  const b = Buffer.from("second member, Über\n".repeat(300));
  const gz = Buffer.concat([gzipSync(a), gzipSync(b)]);
  for (const step of [1, 13, 4096, gz.length]) {
    const chunks = [];
    for (let i = 0; i < gz.length; i += step) chunks.push(gz.subarray(i, i + step));
    assert.deepEqual(await drain(gunzipReader(readerOf(chunks))), Buffer.concat([a, b]), `step ${step}`);
  }
  const bad = Buffer.from(gz);
  bad[10] = 0xff; // the first block's type: 3, reserved
  await assert.rejects(drain(gunzipReader(readerOf([bad]))), (e) => e.code === "E_DECODE");
  await assert.rejects(drain(gunzipReader(readerOf([gz.subarray(0, gz.length - 5)]))), (e) => e.code === undefined && /truncated/.test(e.message));
  await assert.rejects(drain(gunzipReader(readerOf([]))), (e) => e.code === undefined && /before its first byte/.test(e.message));
});

test("a runtime without DecompressionStream: files inflate through the parse module, a cut one is fetched again", async () => {
  const up = client();
  const job = await finishedJob(up);
  const truth = await truthRecords({ job_id: job.jobId });
  const saved = globalThis.DecompressionStream;
  delete globalThis.DecompressionStream;
  try {
    await control(sb, "/__sandbox/faults", { rules: [{ scope: "userpilot.file", fault: "truncate", afterBytes: 2000, nth: 1 }] });
    const { batches, summary } = await collect(up.exports.rows(job.jobId, { concurrency: 1, batchRecords: 40, dedupe: false }));
    assert.deepEqual(batches.flatMap((x) => x.records), truth);
    assert.equal(summary.restarts, 1);
  } finally {
    globalThis.DecompressionStream = saved;
  }
});

test("nativeGunzip: false and a corrupt gzip file: E_DECODE, the file fetched once", async () => {
  let fetched = 0;
  const up = client({
    fetchFile: async (url, init) => {
      fetched++;
      const r = await fetch(url, init);
      const body = new Uint8Array(await r.arrayBuffer());
      body[10] = 0xff; // the first deflate block's type: 3, reserved
      return new Response(body, { status: r.status, headers: r.headers });
    },
  });
  const job = await finishedJob(up);
  await assert.rejects(collect(up.exports.rows(job.jobId, { concurrency: 1, nativeGunzip: false, dedupe: false })), (e) => e.code === "E_DECODE" && /gzip/.test(e.message));
  assert.equal(fetched, 1);
});
