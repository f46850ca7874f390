// The edge worker's proxy in workerd (miniflare), the sandbox upstream behind a recording relay:
// proxied calls come back byte for byte, and every way around the allow-list, the access check,
// the body limit, the header filter and the daily count is refused before anything goes upstream.
//
//   node --test tests/edge/

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  ACCESS_KEY,
  callsToday,
  control,
  rawRequest,
  sandboxSecrets,
  signIn,
  SANDBOX_CREDENTIALS,
  startEdge,
  startRecorder,
  startSandbox,
  truthCsv,
} from "./helpers.mjs";

let sb;
let rec;
let edge;
const KEY = { "X-Exportkit-Key": ACCESS_KEY };
const JSON_KEY = { ...KEY, "Content-Type": "application/json" };
const QUERY = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_description" }] };

before(async () => {
  sb = await startSandbox({ jobSpeed: 50 });
  rec = await startRecorder(sb.url);
  edge = await startEdge({
    vars: {
      BACKSTORY_BASE_URL: rec.url,
      USERPILOT_BASE_URL: rec.url,
      USERPILOT_FILES_BASE_URL: `${sb.url}/__files/userpilot`,
    },
    secrets: sandboxSecrets(),
  });
});

after(async () => {
  await edge?.close();
  await rec?.close();
  await sb?.close();
});

const api = (p) => `${edge.url}/api${p}`;
/** Requests the relay passed upstream, without the worker's own token exchanges. */
const upstreamCalls = () => rec.seen.filter((r) => !r.url.startsWith("/v3/auth/tokens"));

function assertNoVendorHeaders(res) {
  for (const [k] of res.headers) {
    assert.ok(!k.startsWith("access-control-"), `no CORS header reaches the page: ${k}`);
    assert.ok(!["set-cookie", "www-authenticate", "proxy-authenticate", "connection", "keep-alive", "location"].includes(k), `no ${k}`);
  }
}

async function directToken() {
  const r = await fetch(`${sb.url}/v3/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=${SANDBOX_CREDENTIALS.backstory.clientId}&client_secret=${SANDBOX_CREDENTIALS.backstory.clientSecret}`,
  });
  return (await r.json()).access_token;
}

// ---------------------------------------------------------------- what goes through

test("a proxied query: exactly the sandbox's CSV, one call, counted in KV, secrets added only upstream", async () => {
  await control(sb, "/__sandbox/reset");
  rec.clear();
  const res = await fetch(api("/backstory/v3/beta/insights/export"), { method: "POST", headers: JSON_KEY, body: JSON.stringify(QUERY) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/csv/);
  assertNoVendorHeaders(res);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const csv = await res.text();
  assert.equal(csv, await truthCsv(sb, QUERY), "the CSV is exactly the sandbox's truth");
  assert.equal(await callsToday(sb), 1);

  const calls = upstreamCalls();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].url, "/v3/beta/insights/export");
  assert.match(calls[0].headers.authorization, /^Bearer [A-Za-z0-9_-]{20,}$/, "the worker's bearer token, not a caller's header");
  assert.equal(calls[0].headers["x-exportkit-key"], undefined, "the access key stays at the edge");
  const token = rec.seen.find((r) => r.url === "/v3/auth/tokens");
  assert.ok(token, "the worker exchanged its own credentials");

  const stored = JSON.parse(await (await edge.limits()).queryQuota());
  assert.equal(stored.used, 1, "the call is counted in the credential's Durable Object");
  assert.equal(stored.day, Math.floor(Date.now() / 86_400_000));
});

test("a page signed in by cookie needs no key (same-origin headers alone open nothing), and the token is reused", async () => {
  rec.clear();
  for (const headers of [{ "Sec-Fetch-Site": "same-origin" }, { Origin: edge.url }, { Origin: edge.url, "Sec-Fetch-Site": "same-origin" }]) {
    const res = await fetch(api("/backstory/pull/v1/export/activities/jobs"), { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    await res.arrayBuffer();
  }
  assert.equal(rec.seen.length, 0, "nothing went upstream without signing in");
  const cookie = await signIn(edge.url);
  for (const headers of [{ Cookie: cookie }, { Cookie: cookie, "Sec-Fetch-Site": "same-origin" }, { Cookie: cookie, Origin: edge.url }]) {
    const res = await fetch(api("/backstory/pull/v1/export/activities/jobs"), { headers });
    assert.equal(res.status, 200, JSON.stringify(headers));
    assert.ok(Array.isArray(await res.json()));
  }
  assert.equal(rec.seen.filter((r) => r.url.startsWith("/v3/auth/tokens")).length, 0, "the cached token served all three");
  assert.equal(rec.seen.filter((r) => "cookie" in r.headers).length, 0, "the session cookie stays at the edge");
});

test("an expired token is refreshed once and the vendor's 401 never reaches the page", async () => {
  await control(sb, "/__sandbox/tokens/expire", {});
  rec.clear();
  const res = await fetch(api("/backstory/pull/v1/export/activities/jobs"), { headers: KEY });
  assert.equal(res.status, 200);
  assertNoVendorHeaders(res);
  await res.arrayBuffer();
  assert.deepEqual(
    rec.seen.map((r) => r.url),
    ["/pull/v1/export/activities/jobs", "/v3/auth/tokens", "/pull/v1/export/activities/jobs"],
  );
});

test("Activities, Forecasting and Userpilot go through byte for byte", async () => {
  // Activities: create, complete, stream the data with its length.
  const today = new Date().toISOString().slice(0, 10);
  const start = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
  let res = await fetch(api("/backstory/pull/v1/export/activities/jobs"), {
    method: "POST",
    headers: JSON_KEY,
    body: JSON.stringify({ start_date: start, end_date: today }),
  });
  assert.equal(res.status, 200);
  const job = await res.json();
  await control(sb, `/__sandbox/jobs/${job.job_id}/complete`, {});
  res = await fetch(api(`/backstory/pull/v1/export/activities/jobs/${job.job_id}`), { headers: KEY });
  assert.equal((await res.json()).state, "Completed");
  res = await fetch(api(`/backstory/pull/v1/export/activities/jobs/${job.job_id}/data?fragment=0`), { headers: KEY });
  assert.equal(res.status, 200);
  const data = Buffer.from(await res.arrayBuffer());
  const truth = Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?job_id=${job.job_id}&fragment=0`)).arrayBuffer());
  assert.ok(truth.length > 0);
  assert.ok(data.equals(truth), "activity data is the sandbox's bytes");
  assert.equal(Number(res.headers.get("content-length")), truth.length, "Content-Length passes (progress in the client)");

  // Forecasting: the same page as a direct call.
  const body = JSON.stringify({ forecast_type_id: 10089, per_page: 7, page: 2 });
  res = await fetch(api("/backstory/v3/beta/forecasting/query"), { method: "POST", headers: JSON_KEY, body });
  assert.equal(res.status, 200);
  const direct = await fetch(`${sb.url}/v3/beta/forecasting/query`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await directToken()}`, "Content-Type": "application/json" },
    body,
  });
  assert.equal(await res.text(), await direct.text());
  for (const h of ["x-total-count", "x-page-last", "x-limit", "x-page"]) assert.equal(res.headers.get(h), direct.headers.get(h), h);

  // Userpilot lookups: a cursor with + / = goes through percent-encoded and comes back the same.
  const upKey = { Authorization: `Token ${SANDBOX_CREDENTIALS.userpilot.apiKey}` };
  res = await fetch(api("/userpilot/api/v1/analytics/exports/lookups/segments?limit=7"), { headers: KEY });
  const first = await res.json();
  const cursor = first.metadata.cursor.after;
  assert.match(cursor, /[+/=]/, "the cursor needs encoding (else the check is weak)");
  const q = `limit=7&after_cursor=${encodeURIComponent(cursor)}`;
  res = await fetch(api(`/userpilot/api/v1/analytics/exports/lookups/segments?${q}`), { headers: KEY });
  const viaEdge = await res.text();
  assert.equal(res.status, 200, viaEdge);
  assert.equal(viaEdge, await (await fetch(`${sb.url}/api/v1/analytics/exports/lookups/segments?${q}`, { headers: upKey })).text());

  // Userpilot export: the job's presigned links point at this worker, and the file is the same bytes.
  res = await fetch(api("/userpilot/api/v1/analytics/exports/"), {
    method: "POST",
    headers: JSON_KEY,
    body: JSON.stringify({ from: start, to: today, format: "csv" }),
  });
  assert.equal(res.status, 201);
  const up = await res.json();
  await control(sb, `/__sandbox/jobs/${up.job_id}/complete`, {});
  res = await fetch(api(`/userpilot/api/v1/analytics/exports/jobs/${up.job_id}`), { headers: KEY });
  const detail = await res.json();
  assert.equal(detail.status, "completed");
  assert.ok(detail.presigned_urls.length > 0);
  for (const f of detail.presigned_urls) assert.ok(f.url.startsWith(`${edge.url}/api/userpilot-files/`), f.url);
  const link = detail.presigned_urls[0];
  res = await fetch(link.url, { headers: KEY });
  assert.equal(res.status, 200);
  const gz = Buffer.from(await res.arrayBuffer());
  const directDetail = await (await fetch(`${sb.url}/api/v1/analytics/exports/jobs/${up.job_id}`, { headers: upKey })).json();
  const original = directDetail.presigned_urls.find((f) => f.filename === link.filename).url;
  assert.ok(gz.equals(Buffer.from(await (await fetch(original)).arrayBuffer())), "the file is the vendor's bytes");
  // The file proxy is read-only, adds no credentials and keeps to its host and prefix.
  assert.equal((await fetch(link.url, { method: "POST", headers: KEY })).status, 405);
  const tampered = link.url.replace(/X-Amz-Signature=[0-9a-f]+/, "X-Amz-Signature=00");
  assert.equal((await fetch(tampered, { headers: KEY })).status, 403, "a presigned link is its own authorisation");
  assert.equal((await fetch(link.url.replace(`/${up.job_id}/`, "/../../"), { headers: KEY })).status, 404);
  const r2 = await rawRequest(edge.url, `GET /api/userpilot-files/a/%2e%2e/%2e%2e/v3/auth/tokens HTTP/1.1\r\nHost: x\r\nX-Exportkit-Key: ${ACCESS_KEY}\r\nConnection: close\r\n\r\n`);
  assert.ok(r2.status >= 400 && r2.status < 500, r2.text);
  assert.equal((await fetch(api("/userpilot-files/"), { headers: KEY })).status, 400);
});

// ---------------------------------------------------------------- what is refused

test("access: no key, a wrong key, another origin, a cross-site fetch are all refused", async () => {
  rec.clear();
  const url = api("/backstory/pull/v1/export/activities/jobs");
  const cases = [
    [{}, 401],
    [{ "X-Exportkit-Key": "" }, 401],
    [{ "X-Exportkit-Key": ACCESS_KEY.slice(0, -1) + "x" }, 401],
    [{ "X-Exportkit-Key": ACCESS_KEY + "x" }, 401],
    [{ "X-Exportkit-Key": ACCESS_KEY.toUpperCase() }, 401],
    // A wrong key is not rescued by same-origin headers.
    [{ "X-Exportkit-Key": "wrong", Origin: edge.url, "Sec-Fetch-Site": "same-origin" }, 401],
    // Without a key or a session, no header opens the proxy.
    [{ Origin: "https://evil.example" }, 401],
    [{ Origin: "https://evil.example", "Sec-Fetch-Site": "same-origin" }, 401],
    [{ Origin: edge.url, "Sec-Fetch-Site": "same-origin" }, 401],
    [{ Origin: edge.url, "Sec-Fetch-Site": "cross-site" }, 401],
    [{ "Sec-Fetch-Site": "none" }, 401],
    [{ Origin: "null" }, 401],
    [{ Referer: `${edge.url}/www/` }, 401],
  ];
  for (const [headers, status] of cases) {
    const res = await fetch(url, { headers });
    assert.equal(res.status, status, JSON.stringify(headers));
    assertNoVendorHeaders(res);
    const body = await res.json();
    assert.ok(body.error, "a Backstory-shaped error");
    assert.ok(!JSON.stringify(body).includes(ACCESS_KEY), "the key is never echoed");
  }
  // A state-changing request from another origin is refused even with the key or a session.
  const cookie = await signIn(edge.url);
  const post = api("/backstory/pull/v1/export/activities/jobs");
  for (const [headers, status] of [
    [{ ...JSON_KEY, Origin: "https://evil.example" }, 403],
    [{ ...JSON_KEY, Origin: "null" }, 403],
    [{ Cookie: cookie, "Content-Type": "application/json", Origin: "https://evil.example" }, 403],
    [{ Cookie: cookie, "Content-Type": "application/json", Origin: edge.url.replace("127.0.0.1", "localhost") }, 403],
    // A browser always sends Origin on a POST: a cookie without one is not from this page.
    [{ Cookie: cookie, "Content-Type": "application/json" }, 403],
  ]) {
    const res = await fetch(post, { method: "POST", headers, body: JSON.stringify({ start_date: "2024-01-01", end_date: "2024-01-02" }) });
    assert.equal(res.status, status, JSON.stringify({ ...headers, Cookie: headers.Cookie && "session" }));
    assertNoVendorHeaders(res);
    await res.arrayBuffer();
  }
  // A cross-origin preflight gets no CORS answer.
  const pre = await fetch(url, { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" } });
  assert.equal(pre.status, 401);
  assertNoVendorHeaders(pre);
  assert.equal(rec.seen.length, 0, "nothing refused went upstream");
});

test("paths: traversal, encoded traversal, full URLs, the token endpoint and unknown endpoints are refused", async () => {
  rec.clear();
  const paths = [
    "/api/backstory/v3/auth/tokens",
    "/api/backstory/v3/beta/../../../__sandbox/state",
    "/api/backstory/v3/beta/insights/../../auth/tokens",
    "/api/backstory/%2e%2e/%2e%2e/__sandbox/reset",
    "/api/backstory/v3/beta/insights/%2e%2e/%2e%2e/auth/tokens",
    "/api/backstory/v3/beta/insights/export%2f..%2f..%2fauth%2ftokens",
    "/api/backstory/pull/v1/export/activities/jobs/..%2F..%2F..%2F__sandbox%2Fstate",
    "/api/backstory/pull/v1/export/activities/jobs/x%00y",
    "/api/backstory/pull/v1/export/activities/jobs/%E2%80%AE",
    "/api/backstory/pull/v1/export/activities/jobs\\..\\..\\__sandbox\\state",
    "/api/backstory/https://evil.example/v3/beta/insights/export",
    "/api/backstory//evil.example/v3/beta/insights/export",
    "/api/backstory/http:%2F%2Fevil.example%2Fv3/beta/insights/export",
    "/api/backstory@evil.example/v3/beta/insights/export",
    "/api/backstory/__sandbox/state",
    "/api/userpilot/../backstory/v3/auth/tokens",
    "/api/userpilot/api/v1/analytics/exports/lookups/not_a_lookup",
    "/api/userpilot/api/v1/analytics/exports/jobs/a/b",
    "/api/other/x",
    "http://evil.example/api/backstory/pull/v1/export/activities/jobs",
  ];
  for (const p of paths) {
    for (const method of ["GET", "POST"]) {
      const res = await rawRequest(
        edge.url,
        `${method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Exportkit-Key: ${ACCESS_KEY}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      // An absolute-form target is refused by workerd itself (500) before the worker runs.
      const refused = p.startsWith("http:") ? res.status >= 400 : res.status >= 400 && res.status < 500;
      assert.ok(refused, `${method} ${p} -> ${res.status}`);
    }
  }
  assert.deepEqual(rec.seen, [], "nothing reached the vendor");
});

test("methods and query parameters: only the documented ones", async () => {
  rec.clear();
  for (const [method, p, allow] of [
    ["DELETE", "/backstory/pull/v1/export/activities/jobs/abc", "GET"],
    ["PUT", "/backstory/v3/beta/insights/export", "POST"],
    ["PATCH", "/backstory/pull/v1/export/activities/jobs", "POST, GET"],
    ["GET", "/backstory/v3/beta/insights/export", "POST"],
    ["HEAD", "/backstory/pull/v1/export/activities/jobs/abc/data", "GET"],
    ["OPTIONS", "/userpilot/api/v1/analytics/exports/jobs/", "GET"],
    ["DELETE", "/userpilot/api/v1/analytics/exports/jobs/abc", "GET"],
  ]) {
    const res = await fetch(api(p), { method, headers: KEY });
    assert.equal(res.status, 405, `${method} ${p}`);
    assert.equal(res.headers.get("allow"), allow);
  }
  for (const p of [
    "/backstory/pull/v1/export/activities/jobs/abc/data?fragment=x",
    "/backstory/pull/v1/export/activities/jobs/abc/data?fragment=1&fragment=2",
    "/backstory/pull/v1/export/activities/jobs/abc/data?url=https://evil.example",
    "/backstory/pull/v1/export/activities/jobs?job_id=1",
    "/userpilot/api/v1/analytics/exports/lookups/segments?limit=-1",
    "/userpilot/api/v1/analytics/exports/lookups/segments?after_cursor=%0d%0aX-Injected:%201",
  ]) {
    const res = await fetch(api(p), { headers: KEY });
    assert.equal(res.status, 400, p);
  }
  assert.equal(rec.seen.length, 0);
});

test("bodies: over 64 KiB refused (declared or streamed), non-JSON refused, 64 KiB passes", async () => {
  rec.clear();
  const big = JSON.stringify({ forecast_type_id: 10089, per_page: 5, pad: "x".repeat(64 * 1024) });
  let res = await fetch(api("/backstory/v3/beta/forecasting/query"), { method: "POST", headers: JSON_KEY, body: big });
  assert.equal(res.status, 413);
  // No Content-Length: the worker counts while reading and stops.
  const chunk = "x".repeat(8192);
  const chunked = Array.from({ length: 10 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("") + "0\r\n\r\n";
  const raw = await rawRequest(
    edge.url,
    `POST /api/backstory/v3/beta/forecasting/query HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Exportkit-Key: ${ACCESS_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
  );
  assert.equal(raw.status, 413, raw.text.slice(0, 300));
  res = await fetch(api("/backstory/v3/beta/forecasting/query"), { method: "POST", headers: { ...KEY, "Content-Type": "text/plain" }, body: "{}" });
  assert.equal(res.status, 415);
  res = await fetch(api("/backstory/v3/beta/insights/export"), { method: "POST", headers: { ...KEY, "Content-Type": "application/x-www-form-urlencoded" }, body: "a=1" });
  assert.equal(res.status, 415);
  assert.equal(rec.seen.length, 0, "nothing refused went upstream");
  assert.equal(await callsToday(sb), 1, "a refused query spends no call");

  // Exactly the limit goes through (the vendor then judges it).
  const base = JSON.stringify({ forecast_type_id: 10089, per_page: 5, pad: "" });
  const exact = base.replace('"pad":""', `"pad":"${"x".repeat(64 * 1024 - base.length)}"`);
  assert.equal(Buffer.byteLength(exact), 64 * 1024);
  res = await fetch(api("/backstory/v3/beta/forecasting/query"), { method: "POST", headers: JSON_KEY, body: exact });
  assert.notEqual(res.status, 413);
  await res.arrayBuffer();
  assert.equal(upstreamCalls().length, 1);
});

test("header smuggling: the caller's headers never reach the vendor, CL+TE is not a second request", async () => {
  rec.clear();
  const res = await rawRequest(
    edge.url,
    [
      "GET /api/backstory/pull/v1/export/activities/jobs HTTP/1.1",
      "Host: evil.example",
      `X-Exportkit-Key: ${ACCESS_KEY}`,
      "Authorization: Bearer stolen-token",
      "Proxy-Authorization: Basic c3RvbGVu",
      "Cookie: session=stolen",
      "X-Forwarded-Host: evil.example",
      "X-Forwarded-For: 10.0.0.1",
      "Forwarded: for=10.0.0.1;host=evil.example",
      "X-Original-URL: /v3/auth/tokens",
      "X-HTTP-Method-Override: DELETE",
      "Connection: close, X-Exportkit-Key",
      "",
      "",
    ].join("\r\n"),
  );
  assert.equal(res.status, 200, res.text.slice(0, 300));
  const calls = upstreamCalls();
  assert.equal(calls.length, 1);
  const h = calls[0].headers;
  assert.equal(h.host, new URL(rec.url).host, "the configured host, not the caller's");
  assert.match(h.authorization, /^Bearer /);
  assert.ok(!h.authorization.includes("stolen"));
  for (const k of ["proxy-authorization", "cookie", "x-forwarded-host", "forwarded", "x-original-url", "x-http-method-override", "x-exportkit-key"]) {
    assert.equal(h[k], undefined, `${k} is not forwarded`);
  }
  assert.ok(!JSON.stringify(h).includes("10.0.0.1") && !JSON.stringify(h).includes("evil.example"));

  // Content-Length and Transfer-Encoding together, the body holding a second request.
  rec.clear();
  const inner = "GET /api/backstory/v3/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const body = `0\r\n\r\n${inner}`;
  const smuggle = await rawRequest(
    edge.url,
    `POST /api/backstory/v3/beta/forecasting/query HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Exportkit-Key: ${ACCESS_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
  );
  assert.ok(smuggle.statuses.every((s) => s >= 400), `every answer is a refusal: ${smuggle.statuses}`);
  assert.ok(!upstreamCalls().some((r) => r.url.includes("auth")), "the smuggled request went nowhere");
});

test("the Query API's 10 calls a day are enforced in the credential's Durable Object, and the vendor's 429 spends the day", async () => {
  const limits = await edge.limits();
  const day = Math.floor(Date.now() / 86_400_000);
  await limits.queryQuota({ day, used: 10 });
  rec.clear();
  const before = await callsToday(sb);
  let res = await fetch(api("/backstory/v3/beta/insights/export"), { method: "POST", headers: JSON_KEY, body: JSON.stringify(QUERY) });
  assert.equal(res.status, 429);
  const retry = Number(res.headers.get("retry-after"));
  assert.ok(retry > 0 && retry <= 86_400, `Retry-After ${retry}`);
  assert.equal((await res.json()).error, "rate_limit_exceeded");
  assert.equal(await callsToday(sb), before, "no call went out");
  assert.equal(upstreamCalls().length, 0);

  // The vendor's own 429 (its count is ahead of ours): the day is spent here too.
  await limits.queryQuota({ day, used: 0 });
  await control(sb, "/__sandbox/config", { dailyLimit: before });
  res = await fetch(api("/backstory/v3/beta/insights/export"), { method: "POST", headers: JSON_KEY, body: JSON.stringify(QUERY) });
  assert.equal(res.status, 429);
  assert.ok(res.headers.get("retry-after"));
  await res.arrayBuffer();
  assert.equal(JSON.parse(await limits.queryQuota()).used, 10);
  await control(sb, "/__sandbox/config", { dailyLimit: 10 });
  await limits.queryQuota(null);
});

test("a misconfigured worker refuses rather than guesses; missing secrets are named, never shown", async () => {
  const bad = await startEdge({ vars: { BACKSTORY_BASE_URL: "http://example.com" }, secrets: sandboxSecrets() });
  try {
    const res = await fetch(`${bad.url}/api/backstory/pull/v1/export/activities/jobs`, { headers: KEY });
    assert.equal(res.status, 500);
    assert.match((await res.json()).message, /BACKSTORY_BASE_URL/);
  } finally {
    await bad.close();
  }
  const bare = await startEdge({ vars: { BACKSTORY_BASE_URL: rec.url, USERPILOT_BASE_URL: rec.url }, secrets: { EDGE_ACCESS_KEY: ACCESS_KEY } });
  try {
    rec.clear();
    let res = await fetch(`${bare.url}/api/backstory/v3/beta/insights/export`, { method: "POST", headers: JSON_KEY, body: JSON.stringify(QUERY) });
    assert.equal(res.status, 503);
    assert.match((await res.json()).message, /BACKSTORY_CLIENT_ID/);
    res = await fetch(`${bare.url}/api/userpilot/api/v1/analytics/exports/jobs/`, { headers: KEY });
    assert.equal(res.status, 503);
    assert.equal(rec.seen.length, 0);
    assert.equal(await (await bare.limits()).queryQuota(), null, "no call counted without credentials");
  } finally {
    await bare.close();
  }
});
