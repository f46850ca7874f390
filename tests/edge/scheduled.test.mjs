// The edge worker's scheduled exports in workerd (miniflare) with its local cron, KV and R2, the
// sandbox upstream: the CSV lands in R2 exactly, streamed in parts; a second tick the same day
// spends nothing; a run cut off after its upload is completed rather than repeated; a run killed
// mid-stream (workerd stopped under it) never costs a second Query API call that day.
//
//   node --test tests/edge/

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import init, { BackstoryClient, parseCsv, writeCsv } from "../../js/index.js";
import { tag } from "../../js/runtime.js";
import { callsToday, control, ROOT, sandboxSecrets, SANDBOX_CREDENTIALS, startEdge, startSandbox, tempDir, truthCsv } from "./helpers.mjs";

const DAY_MS = 86_400_000;
const PART = 5 * 1024 * 1024;
let sb;
let big;
let bigTruth;
let medium;
let small;

before(async () => {
  await init(readFile(path.join(ROOT, "pkg", "exportkit_bg.wasm")));
  // Big enough for a multipart upload of two parts, the last one short.
  sb = await startSandbox({ accounts: 30_000 });
  const catalog = await control(sb, "/__sandbox/catalog");
  big = { object: "account", columns: catalog.account.map((c) => ({ slug: c.slug })) };
  bigTruth = await truthCsv(sb, big);
  medium = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_industry" }] };
  small = { object: "user", columns: [{ slug: "ootb_user_name" }, { slug: "ootb_user_email" }] };
});

after(async () => {
  await sb?.close();
});

/** The vendor's CSV as the worker stores it by default: through the one CSV writer, formula guard on. */
function guarded(csv) {
  const p = parseCsv(csv);
  return writeCsv([p.meta.fields, ...p.data]);
}

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const keyFor = (ms, name) => `exports/query/${isoDay(ms)}/${name}.csv`;

function edgeFor(exportsList, { vars = {}, persist } = {}) {
  return startEdge({
    // A run's state older than a second counts as cut off (in production: 15 minutes).
    vars: { BACKSTORY_BASE_URL: sb.url, EXPORT_QUERIES: JSON.stringify(exportsList), EXPORT_RUN_TIMEOUT_SECONDS: "1", ...vars },
    secrets: sandboxSecrets(),
    persist,
  });
}

/** One cron tick through workerd's scheduled-event endpoint, for the given scheduled time. */
async function tick(edge, ms) {
  const res = await fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${ms}`);
  assert.equal(res.status, 200, await res.clone().text());
  await res.arrayBuffer();
}

async function state(edge, name) {
  const raw = await (await edge.kv()).get(`export:${name}`);
  return raw === null ? null : JSON.parse(raw);
}

async function objectText(edge, key) {
  const obj = await (await edge.r2()).get(key);
  return obj === null ? null : { text: await obj.text(), size: obj.size, etag: obj.etag, meta: obj.customMetadata };
}

function canonicalTag(query) {
  const c = new BackstoryClient({ baseUrl: sb.url, clientId: "x", clientSecret: "y" });
  return tag(JSON.stringify(c.validateQuery(query)));
}

test("a cron tick streams the configured export into R2 in parts, exactly; the next tick that day spends nothing", { timeout: 120_000 }, async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor([{ name: "accounts", query: big }]);
  try {
    assert.deepEqual(edge.cfg.crons.length > 0, true, "wrangler.toml schedules the worker");
    const now = Date.now();
    const t0 = performance.now();
    await tick(edge, now);
    const secs = (performance.now() - t0) / 1000;
    const truth = guarded(bigTruth);
    assert.notEqual(truth, bigTruth, "the sandbox's accounts hold formula-like names");
    assert.ok(truth.includes(`'=HYPERLINK`), "a formula cell is stored with its leading apostrophe");
    const size = Buffer.byteLength(truth);
    assert.ok(size > PART, `the export spans two parts (${size} bytes)`);
    const records = (await control(sb, "/__sandbox/truth/records?object=account")).records.length;

    const st = await state(edge, "accounts");
    assert.equal(st.state, "uploaded", JSON.stringify(st));
    assert.equal(st.key, keyFor(now, "accounts"));
    assert.equal(st.bytes, size);
    assert.equal(st.rows, records);
    const obj = await objectText(edge, st.key);
    assert.ok(obj.text === truth, "the R2 object is exactly the sandbox's CSV, formula-guarded");
    assert.equal(obj.meta.runId, st.runId);
    assert.match(obj.etag, /-2$/, `a multipart object of two parts (etag ${obj.etag})`);
    assert.equal(await callsToday(sb), 1);
    const quota = JSON.parse(await (await edge.limits()).queryQuota());
    assert.equal(quota.used, 1, "the credential's shared count moved with the call");
    console.log(`# edge: scheduled export of ${(size / 1048576).toFixed(1)} MiB into R2 in ${secs.toFixed(2)} s`);

    await tick(edge, now + 60_000);
    assert.equal(await callsToday(sb), 1, "the second tick made no call");
    const again = await state(edge, "accounts");
    assert.equal(again.runId, st.runId);
    assert.equal((await objectText(edge, st.key)).etag, obj.etag, "the object was not rewritten");
  } finally {
    await edge.close();
  }
});

test("a run cut off after its upload is finished without the vendor (two ways), not repeated; a live one is left alone", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor([], { vars: { EXPORT_RUN_TIMEOUT_SECONDS: "600" } });
  try {
    const kv = await edge.kv();
    const r2 = await edge.r2();
    const when = Date.now() + 3 * DAY_MS;
    const day = isoDay(when);
    const truth = await truthCsv(sb, small);
    const queryTag = canonicalTag(small);
    const names = ["parts-done", "object-done", "live"];
    await kv.put("config:exports", JSON.stringify(names.map((name) => ({ name, query: small }))));
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();

    // 1. Every part uploaded, the completion lost: the state says so, with the parts.
    const key1 = `exports/query/${day}/parts-done.csv`;
    const upload = await r2.createMultipartUpload(key1, { customMetadata: { runId: "run-1" } });
    const part = await upload.uploadPart(1, truth);
    await kv.put(
      "export:parts-done",
      JSON.stringify({ state: "running", phase: "completing", day, runId: "run-1", key: key1, queryTag, uploadId: upload.uploadId, parts: [{ partNumber: part.partNumber, etag: part.etag }], updatedAt: anHourAgo }),
    );
    // 2. The object written, the state never updated.
    const key2 = `exports/query/${day}/object-done.csv`;
    await r2.put(key2, truth, { customMetadata: { runId: "run-2" } });
    await kv.put("export:object-done", JSON.stringify({ state: "running", phase: "calling", day, runId: "run-2", key: key2, queryTag, updatedAt: anHourAgo }));
    // 3. A run another invocation is still making (updated just now): neither resumed nor repeated.
    const live = { state: "running", phase: "calling", day, runId: "run-3", key: `exports/query/${day}/live.csv`, queryTag, updatedAt: new Date().toISOString() };
    await kv.put("export:live", JSON.stringify(live));

    await tick(edge, when);
    for (const [name, key] of [["parts-done", key1], ["object-done", key2]]) {
      const st = await state(edge, name);
      assert.equal(st.state, "uploaded", `${name}: ${JSON.stringify(st)}`);
      assert.equal(st.resumed, true);
      assert.equal(st.bytes, Buffer.byteLength(truth));
      assert.equal((await objectText(edge, key)).text, truth);
    }
    assert.deepEqual(await state(edge, "live"), live, "the live run was left alone");
    assert.equal(await callsToday(sb), 0, "resuming spent no call");
  } finally {
    await edge.close();
  }
});

test("a run killed mid-stream spends no second call that day, and runs again the next day", { timeout: 120_000 }, async () => {
  await control(sb, "/__sandbox/reset");
  const dir = await tempDir("exportkit-edge-persist-");
  const exportsList = [{ name: "killed", query: medium }];
  const now = Date.now();
  let edge = await edgeFor(exportsList, { persist: dir.path });
  try {
    // The vendor stops sending after 300 kB and holds the connection: the run is mid-stream.
    await control(sb, "/__sandbox/faults", { scope: "query", fault: "stall_body", afterBytes: 300_000, stallMs: 60_000 });
    const running = fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${now}`).catch(() => null);
    for (let i = 0; i < 200 && (await callsToday(sb)) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await callsToday(sb), 1, "the run made its call");
    await new Promise((r) => setTimeout(r, 300));
    const mid = await state(edge, "killed");
    assert.equal(mid.state, "running");
    await edge.close(); // workerd stops under the run
    await running;
    await control(sb, "/__sandbox/faults/clear", {});

    edge = await edgeFor(exportsList, { persist: dir.path });
    assert.equal((await state(edge, "killed")).state, "running", "KV kept the cut-off run");
    await new Promise((r) => setTimeout(r, 1100)); // past EXPORT_RUN_TIMEOUT_SECONDS
    await tick(edge, now + 60_000);
    let st = await state(edge, "killed");
    assert.equal(st.state, "failed", JSON.stringify(st));
    assert.equal(st.error.code, "E_CUT_OFF");
    assert.equal(st.called, true);
    assert.equal(await callsToday(sb), 1, "no second call the same day");
    assert.equal(await objectText(edge, st.key), null, "no partial object");
    await tick(edge, now + 120_000);
    assert.equal(await callsToday(sb), 1, "nor on a later tick that day");

    const tomorrow = now + DAY_MS;
    await tick(edge, tomorrow);
    st = await state(edge, "killed");
    assert.equal(st.state, "uploaded", JSON.stringify(st));
    assert.equal(st.key, keyFor(tomorrow, "killed"));
    assert.ok((await objectText(edge, st.key)).text === guarded(await truthCsv(sb, medium)), "the next day's object is exact");
    assert.equal(await callsToday(sb), 2);
  } finally {
    await edge.close();
    await dir.remove();
  }
});

test("with the day's calls spent in the credential's Durable Object a tick makes no call, and the export runs once they are back (CSV_GUARD=false: as sent)", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor([{ name: "users", query: medium }], { vars: { CSV_GUARD: "false" } });
  try {
    const limits = await edge.limits();
    await limits.queryQuota({ day: Math.floor(Date.now() / DAY_MS), used: 10 });
    const when = Date.now() + 5 * DAY_MS;
    await tick(edge, when);
    let st = await state(edge, "users");
    assert.equal(st.state, "failed");
    assert.equal(st.called, false);
    assert.equal(st.error.code, "E_QUOTA_EXHAUSTED");
    assert.equal(await callsToday(sb), 0);

    await limits.queryQuota(null);
    await tick(edge, when + 60_000);
    st = await state(edge, "users");
    assert.equal(st.state, "uploaded", JSON.stringify(st));
    const raw = await truthCsv(sb, medium);
    assert.notEqual(guarded(raw), raw, "the export holds formula-like cells");
    assert.equal((await objectText(edge, st.key)).text, raw, "with the guard off, exactly as the vendor sent it");
    assert.equal(await callsToday(sb), 1);
  } finally {
    await edge.close();
  }
});

test("a bad export configuration or missing credentials fail the tick's export, name the problem, spend nothing", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await startEdge({
    vars: { BACKSTORY_BASE_URL: sb.url, EXPORT_QUERIES: JSON.stringify([{ name: "bad", query: { object: "account", columns: [] } }]) },
    secrets: { BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId, BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret },
  });
  try {
    await tick(edge, Date.now());
    const st = await state(edge, "bad");
    assert.equal(st.state, "failed");
    assert.equal(st.error.code, "E_INVALID_ARGUMENT");
    assert.match(st.error.message, /columns/);
    assert.equal(await callsToday(sb), 0);
  } finally {
    await edge.close();
  }
  const noSecrets = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, EXPORT_QUERIES: JSON.stringify([{ name: "users", query: small }]) } });
  try {
    await tick(noSecrets, Date.now());
    const st = await state(noSecrets, "users");
    assert.equal(st.state, "failed");
    assert.match(st.error.message, /BACKSTORY_CLIENT_ID/);
    assert.equal(await callsToday(sb), 0);
  } finally {
    await noSecrets.close();
  }
});
