// On-demand Query API runs at the edge (issue 18), in workerd against the sandbox:
// POST /api/runs/query runs a configured export (or another query under a new name) through the
// cron's own export: the guarded CSV lands at exports/query/<day>/<name>.csv, its KV state shows on
// GET /api/runs, the one daily count of the credential's Durable Object holds with cron and
// on-demand runs together, and what is not configured or not a query is refused before any call.
//
//   node --test tests/edge/query-runs.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import init, { parseCsv, writeCsv } from "../../js/index.js";
import { ACCESS_KEY, callsToday, control, ROOT, sandboxSecrets, startEdge, startRecorder, startSandbox, truthCsv } from "./helpers.mjs";

const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const ACCOUNTS = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_industry" }] };
const USERS = { object: "user", columns: [{ slug: "ootb_user_name" }, { slug: "ootb_user_email" }] };
let sb;
let recorder;

before(async () => {
  await init(readFile(path.join(ROOT, "pkg", "exportkit_bg.wasm")));
  sb = await startSandbox({ seed: 5, accounts: 300 });
  recorder = await startRecorder(sb.url);
});
after(async () => {
  await recorder?.close();
  await sb?.close();
});

const guarded = (csv) => {
  const p = parseCsv(csv);
  return writeCsv([p.meta.fields, ...p.data]);
};
const today = () => new Date().toISOString().slice(0, 10);

function edgeFor(exportsList) {
  return startEdge({ vars: { BACKSTORY_BASE_URL: recorder.url, EXPORT_QUERIES: JSON.stringify(exportsList) }, secrets: sandboxSecrets() });
}

async function runQuery(edge, body, headers = KEY) {
  const r = await fetch(`${edge.url}/api/runs/query`, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.json() };
}

test("an on-demand run of a configured export lands its guarded CSV in R2, equal to the sandbox's answer, and shows on GET /api/runs", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor([{ name: "accounts", query: ACCOUNTS }]);
  try {
    const res = await runQuery(edge, { name: "accounts" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const key = `exports/query/${today()}/accounts.csv`;
    assert.equal(res.body.state, "uploaded");
    assert.equal(res.body.key, key);
    const obj = await (await edge.r2()).get(key);
    const text = await obj.text();
    const truth = guarded(await truthCsv(sb, ACCOUNTS));
    assert.ok(text === truth, "the object is the sandbox's CSV, formula-guarded");
    assert.equal(res.body.bytes, Buffer.byteLength(truth));
    assert.equal(await callsToday(sb), 1);
    const st = JSON.parse(await (await edge.kv()).get("export:accounts"));
    assert.equal(st.state, "uploaded");
    const runs = (await (await fetch(`${edge.url}/api/runs`, { headers: KEY })).json()).runs;
    const row = runs.find((r) => r.api === "query" && r.name === "accounts");
    assert.ok(row, JSON.stringify(runs));
    assert.equal(row.status, "complete");
    assert.equal(row.key, key);
    assert.equal(row.bytes, Buffer.byteLength(truth));

    // Another query under a name of its own.
    const adhoc = await runQuery(edge, { name: "users-now", query: USERS });
    assert.equal(adhoc.status, 200, JSON.stringify(adhoc.body));
    assert.equal(await (await (await edge.r2()).get(`exports/query/${today()}/users-now.csv`)).text(), guarded(await truthCsv(sb, USERS)));
    // The same query again today: the answer is in R2 already, nothing is called.
    const again = await runQuery(edge, { name: "accounts" });
    assert.equal(again.status, 200);
    assert.equal(again.body.skipped, "already uploaded today");
    assert.equal(await callsToday(sb), 2);
  } finally {
    await edge.close();
  }
});

test("a name that is not configured, a bad query, a configured name with another query: refused before any vendor call", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor([{ name: "accounts", query: ACCOUNTS }]);
  try {
    recorder.clear();
    const unknown = await runQuery(edge, { name: "nobody" });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error, "invalid_argument");
    assert.equal(unknown.body.field, "name");
    const bad = await runQuery(edge, { name: "adhoc", query: { object: "spaceship", columns: [{ slug: "x" }] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, "query.object");
    const noColumns = await runQuery(edge, { name: "adhoc", query: { object: "account" } });
    assert.equal(noColumns.status, 400);
    assert.equal(noColumns.body.field, "query.columns");
    const clash = await runQuery(edge, { name: "accounts", query: USERS });
    assert.equal(clash.status, 400);
    assert.equal(clash.body.field, "name");
    const badName = await runQuery(edge, { name: "../etc" });
    assert.equal(badName.status, 400);
    assert.deepEqual(recorder.seen, [], "nothing reached the vendor, not even the token endpoint");
    assert.equal(await callsToday(sb), 0);
    assert.equal(await (await edge.kv()).get("export:adhoc"), null, "no run state for a refused run");
  } finally {
    await edge.close();
  }
});

test("the daily count holds with cron and on-demand runs together: the 11th call of the day gets the proxy's coded refusal", async () => {
  await control(sb, "/__sandbox/reset");
  const names = ["c1", "c2", "c3", "c4"];
  const edge = await edgeFor(names.map((name) => ({ name, query: USERS })));
  try {
    const tick = await fetch(`${edge.url}/cdn-cgi/handler/scheduled?time=${Date.now()}`);
    assert.equal(tick.status, 200, await tick.text());
    for (const n of names) assert.equal(JSON.parse(await (await edge.kv()).get(`export:${n}`)).state, "uploaded");
    for (let i = 0; i < 6; i++) {
      const r = await runQuery(edge, { name: `d${i}`, query: USERS });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.state, "uploaded");
    }
    assert.equal(await callsToday(sb), 10);
    const eleventh = await runQuery(edge, { name: "d6", query: USERS });
    assert.equal(eleventh.status, 429, JSON.stringify(eleventh.body));
    assert.equal(eleventh.body.error, "rate_limit_exceeded");
    assert.equal(eleventh.body.code, "E_QUOTA_EXHAUSTED");
    assert.match(eleventh.body.message, /10 calls for today are spent/);
    assert.ok(Number(eleventh.retryAfter) > 0 && Number(eleventh.retryAfter) <= 86_400);
    assert.equal(await callsToday(sb), 10, "no 11th call reached the vendor");
    assert.equal(JSON.parse(await (await edge.limits()).queryQuota()).used, 10);
    assert.equal(await (await edge.r2()).get(`exports/query/${today()}/d6.csv`), null);
    // The proxy sees the same count.
    const proxied = await fetch(`${edge.url}/api/backstory/v3/beta/insights/export`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(USERS) });
    assert.equal(proxied.status, 429);
    assert.equal((await proxied.json()).error, "rate_limit_exceeded");
  } finally {
    await edge.close();
  }
});

test("without the access key: 401, nothing run", async () => {
  await control(sb, "/__sandbox/reset");
  const edge = await edgeFor([{ name: "accounts", query: ACCOUNTS }]);
  try {
    recorder.clear();
    const r = await runQuery(edge, { name: "accounts" }, {});
    assert.equal(r.status, 401);
    const wrong = await runQuery(edge, { name: "accounts" }, { "X-Exportkit-Key": "not-the-key-0123456789" });
    assert.equal(wrong.status, 401);
    assert.deepEqual(recorder.seen, []);
    assert.equal(await (await edge.kv()).get("export:accounts"), null);
  } finally {
    await edge.close();
  }
});
