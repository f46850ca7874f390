// Smoke tests of the sandbox's Backstory auth and Query API (node --test tests/sandbox/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startSandbox, SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";

const SERVER = join(dirname(fileURLToPath(import.meta.url)), "../../sandbox/server.mjs");
const { clientId, clientSecret } = SANDBOX_CREDENTIALS.backstory;
let sb;

before(async () => {
  sb = await startSandbox({ port: 0 });
});
after(async () => {
  await sb.close();
});

async function token(id = clientId, secret = clientSecret) {
  return fetch(`${sb.url}/v3/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: id, client_secret: secret }).toString(),
  });
}

async function bearer() {
  const r = await token();
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}

function exportCall(tok, body) {
  return fetch(`${sb.url}/v3/beta/insights/export`, {
    method: "POST",
    headers: { Authorization: `Bearer ${tok}`, "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Minimal RFC 4180 parser for checking the sandbox's output independently of its writer. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (ch === '"') (quoted = false), i++;
      else (field += ch), i++;
    } else if (ch === '"') (quoted = true), i++;
    else if (ch === ",") row.push(field), (field = ""), i++;
    else if (ch === "\r" && text[i + 1] === "\n") row.push(field), rows.push(row), (row = []), (field = ""), (i += 2);
    else (field += ch), i++;
  }
  assert.equal(field, "", "CSV must end with CRLF");
  return rows;
}

const QUERY = {
  object: "account",
  columns: [
    { slug: "ootb_account_crm_id" },
    { slug: "ootb_account_name" },
    { slug: "ootb_account_engagement_level" },
    { slug: "ootb_account_owner" },
    { slug: "no_such_slug" },
    { slug: "ootb_account_count_emails", variation_id: "ootb_account_count_emails_last_30_days" },
    { slug: "ootb_account_count_meetings" },
    { slug: "ootb_account_count_calls", variation_id: "ootb_account_count_calls_current_quarter" },
  ],
  filter: {
    $and: [
      { attribute: { slug: "ootb_account_engagement_level" }, clause: { $lte: 50 } },
      { $or: [{ attribute: { slug: "ootb_account_industry" }, clause: { $in: ["Software", "Retail"] } }, { attribute: { slug: "ootb_account_description" }, clause: { $eq: "x" } }] },
    ],
  },
  sort: [
    { attribute: { slug: "ootb_account_engagement_level" }, direction: "desc" },
    { attribute: { slug: "ootb_account_name" }, direction: "asc" },
  ],
};

test("token: success shape, wrong credentials and grant type get 401", async () => {
  const r = await token();
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("access-control-allow-origin"), "*");
  const body = await r.json();
  assert.equal(body.token_type, "bearer");
  assert.equal(body.expires_in, 3600);
  assert.ok(body.access_token.length >= 32);
  assert.ok(!body.access_token.includes(clientSecret));
  assert.equal((await token(clientId, "wrong")).status, 401);
  const g = await fetch(`${sb.url}/v3/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: `grant_type=password&client_id=${clientId}&client_secret=${clientSecret}`,
  });
  assert.equal(g.status, 401);
});

test("export: filter, sort, silent column drop and default variation match the truth", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const tok = await bearer();
  const r = await exportCall(tok, QUERY);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/csv/);
  const text = await r.text();
  const rows = parseCsv(text);
  assert.deepEqual(rows[0], [
    "ootb_account_crm_id",
    "ootb_account_name",
    "ootb_account_engagement_level",
    "ootb_account_owner_id",
    "ootb_account_owner_name",
    "ootb_account_count_emails_last_30_days",
    "ootb_account_count_meetings_last_7_days",
  ]);
  // Compare against the generated records.
  const truth = await (await fetch(`${sb.url}/__sandbox/truth/records?object=account`)).json();
  const expected = truth.records
    .filter((a) => a.ootb_account_engagement_level !== null && a.ootb_account_engagement_level <= 50)
    .filter((a) => ["Software", "Retail"].includes(a.ootb_account_industry))
    .sort((a, b) => b.ootb_account_engagement_level - a.ootb_account_engagement_level || (a.ootb_account_name === null) - (b.ootb_account_name === null) || (a.ootb_account_name < b.ootb_account_name ? -1 : a.ootb_account_name > b.ootb_account_name ? 1 : 0));
  assert.equal(rows.length - 1, expected.length);
  assert.ok(expected.length > 100);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(rows[i + 1][0], expected[i].ootb_account_crm_id);
    assert.equal(rows[i + 1][1], expected[i].ootb_account_name ?? "");
    assert.equal(rows[i + 1][5], String(expected[i].ootb_account_count_emails_last_30_days));
  }
  const viaTruth = await (await fetch(`${sb.url}/__sandbox/truth/insights`, { method: "POST", body: JSON.stringify(QUERY) })).text();
  assert.equal(viaTruth, text);
  const state = await (await fetch(`${sb.url}/__sandbox/state`)).json();
  assert.equal(state.queryCallsToday, 1);
});

test("export: hard CSV values survive (quotes, CRLF, UTF-8)", async () => {
  const tok = await bearer();
  const r = await exportCall(tok, { object: "account", columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_description" }] });
  const rows = parseCsv(await r.text());
  const names = new Set(rows.map((x) => x[0]));
  for (const n of ["Acme, Inc.", 'The "Best" Widgets Co', "Line\nBreak Ltd", "Carriage\r\nReturn LLC", "Müller & Søn", "Rocket 🚀 Labs", '"']) {
    assert.ok(names.has(n), `missing ${JSON.stringify(n)}`);
  }
});

test("export: 401 for missing, unknown and expired tokens", async () => {
  assert.equal((await exportCall("nope", QUERY)).status, 401);
  const r = await fetch(`${sb.url}/v3/beta/insights/export`, { method: "POST", body: "{}" });
  assert.equal(r.status, 401);
  const tok = await bearer();
  await fetch(`${sb.url}/__sandbox/tokens/expire`, { method: "POST" });
  const e = await exportCall(tok, QUERY);
  assert.equal(e.status, 401);
  assert.equal((await e.json()).error, "invalid_token");
});

test("export: 400s name the field", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  await fetch(`${sb.url}/__sandbox/config`, { method: "POST", body: JSON.stringify({ dailyLimit: 100 }) });
  const tok = await bearer();
  const cases = [
    ["{not json", "body"],
    [{ columns: [{ slug: "ootb_account_name" }] }, "object"],
    [{ object: "planet", columns: [{ slug: "x" }] }, "object"],
    [{ object: "account" }, "columns"],
    [{ object: "account", columns: [] }, "columns"],
    [{ object: "account", columns: [{ slug: "ootb_account_name" }], filter: [] }, "filter"],
    [{ object: "account", columns: [{ slug: "ootb_account_name" }], filter: { attribute: { slug: "ootb_account_name" }, clause: { $like: "a" } } }, "filter.clause.$like"],
    [{ object: "account", columns: [{ slug: "ootb_account_name" }], filter: { $nor: [] } }, "filter"],
    [{ object: "account", columns: [{ slug: "ootb_account_name" }], sort: [{ attribute: { slug: "ootb_account_name" }, direction: "up" }] }, "sort[0].direction"],
  ];
  for (const [body, field] of cases) {
    const r = await exportCall(tok, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    const j = await r.json();
    assert.equal(j.field, field, JSON.stringify(j));
  }
  await fetch(`${sb.url}/__sandbox/config`, { method: "POST", body: JSON.stringify({ dailyLimit: 10 }) });
});

test("export: the 11th call of the day gets 429 with Retry-After", async () => {
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  const tok = await bearer();
  const small = { object: "user", columns: [{ slug: "ootb_user" }], filter: { attribute: { slug: "ootb_user_crm_id" }, clause: { $eq: "none" } } };
  for (let i = 0; i < 10; i++) assert.equal((await exportCall(tok, small)).status, 200);
  const r = await exportCall(tok, small);
  assert.equal(r.status, 429);
  const ra = Number(r.headers.get("retry-after"));
  assert.ok(ra > 0 && ra <= 86400);
  assert.equal((await r.json()).error, "rate_limit_exceeded");
  await fetch(`${sb.url}/__sandbox/reset`, { method: "POST" });
  assert.equal((await exportCall(await bearer(), small)).status, 200);
});

test("CORS preflight", async () => {
  const r = await fetch(`${sb.url}/v3/beta/insights/export`, { method: "OPTIONS" });
  assert.equal(r.status, 204);
  assert.match(r.headers.get("access-control-allow-headers"), /Authorization/);
  assert.match(r.headers.get("access-control-expose-headers"), /X-Total-Count/);
});

test("CLI: prints its URL and --print-truth matches the endpoint", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sbq-"));
  const file = join(dir, "q.json");
  writeFileSync(file, JSON.stringify(QUERY));
  const truth = await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SERVER, "--print-truth", file], { stdio: ["ignore", "pipe", "inherit"] });
    const out = [];
    p.stdout.on("data", (d) => out.push(d));
    p.on("exit", (code) => (code === 0 ? resolve(Buffer.concat(out).toString("utf8")) : reject(new Error(`exit ${code}`))));
  });
  const viaHttp = await (await fetch(`${sb.url}/__sandbox/truth/insights`, { method: "POST", body: JSON.stringify(QUERY) })).text();
  assert.equal(truth, viaHttp);

  const p = spawn(process.execPath, [SERVER, "--port", "0", "--seed", "7"], { stdio: ["ignore", "pipe", "pipe"] });
  const line = await new Promise((resolve) => {
    let buf = "";
    p.stdout.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) resolve(buf.split("\n")[0]);
    });
  });
  const { url } = JSON.parse(line);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  const r = await fetch(`${url}/v3/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=${clientId}&client_secret=${clientSecret}`,
  });
  assert.equal(r.status, 200);
  const tokenValue = (await r.json()).access_token;
  await new Promise((res) => setTimeout(res, 50));
  p.kill("SIGTERM");
  await new Promise((res) => p.on("exit", res));
  assert.match(err, /POST \/v3\/auth\/tokens 200/);
  assert.ok(!err.includes(clientSecret) && !err.includes(tokenValue));
});
