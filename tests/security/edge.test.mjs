// The edge worker tried as an attacker would: workerd (miniflare) with the SHIPPED edge/wrangler.toml
// ([vars] as deployed), the sandbox upstream behind a recording relay, and a loopback server
// publishing a Cloudflare Access team's keys. Every attempt checks the status AND that nothing
// reached the upstream; at the end every response, log line, KV value and R2 object is scanned for
// the configured secrets.
//
//   node --test tests/security/

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import {
  ACCESS_KEY,
  control,
  rawRequest,
  sandboxSecrets,
  signIn,
  startEdge,
  startRecorder,
  startSandbox,
  wranglerConfig,
} from "../edge/helpers.mjs";

const AUD = "exportkit-test-aud-4f1e0c";
const JOBS = "/api/backstory/pull/v1/export/activities/jobs";
const QUERY = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }] };

let sb;
let rec;
let jwksServer;
let jwksHits = 0;
let keys; // { good, other } RSA key pairs; `good` is published, `other` is not
let keyed; // key + sign-in page (the common deployment)
let access; // Cloudflare Access only
const edges = [];
const seen = []; // every response text (status line, headers, body) for the secret scan
const SECRETS = { ...sandboxSecrets(), ROTATED_KEY: "rotated-access-key-9876543210" };

// ---------------------------------------------------------------- JWTs made here

const b64url = (buf) => Buffer.from(buf).toString("base64url");

async function rsaPair(kid) {
  const pair = await crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, ["sign", "verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { kid, privateKey: pair.privateKey, jwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: "RS256", use: "sig" } };
}

async function jwt(claims, { key = keys.good, header = {}, alg = "RS256" } = {}) {
  const h = b64url(JSON.stringify({ alg, kid: key.kid, typ: "JWT", ...header }));
  const p = b64url(JSON.stringify(claims));
  const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, new TextEncoder().encode(`${h}.${p}`));
  return `${h}.${p}.${b64url(sig)}`;
}

const issuer = () => `http://127.0.0.1:${jwksServer.address().port}`;
const now = () => Math.floor(Date.now() / 1000);
const goodClaims = () => ({ aud: [AUD], iss: issuer(), sub: "person-1", email: "person@example.com", iat: now() - 10, nbf: now() - 10, exp: now() + 600 });

// ---------------------------------------------------------------- setup

before(async () => {
  sb = await startSandbox({ jobSpeed: 50 });
  rec = await startRecorder(sb.url);
  keys = { good: await rsaPair("kid-good"), other: await rsaPair("kid-other") };
  jwksServer = http.createServer((req, res) => {
    jwksHits++;
    if (req.url !== "/cdn-cgi/access/certs") return res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ keys: [keys.good.jwk] }));
  });
  await new Promise((r) => jwksServer.listen(0, "127.0.0.1", r));
  const upstream = { BACKSTORY_BASE_URL: rec.url, USERPILOT_BASE_URL: rec.url, USERPILOT_FILES_BASE_URL: `${rec.url}/__files/userpilot` };
  const vendorSecrets = Object.fromEntries(Object.entries(sandboxSecrets()).filter(([k]) => k !== "EDGE_ACCESS_KEY"));
  keyed = await startEdge({ vars: { ...upstream, EXPORT_QUERIES: JSON.stringify([{ name: "accounts", query: QUERY }]) }, secrets: sandboxSecrets() });
  access = await startEdge({ vars: { ...upstream, ACCESS_TEAM_DOMAIN: `127.0.0.1:${jwksServer.address().port}`, ACCESS_AUD: AUD }, secrets: vendorSecrets });
  edges.push(keyed, access);
});

after(async () => {
  for (const e of edges) await e.close().catch(() => {});
  await new Promise((r) => jwksServer?.close(r));
  await rec?.close();
  await sb?.close();
});

/** A request through fetch; its whole answer is kept for the secret scan. */
async function call(url, init = {}) {
  const res = await fetch(url, { redirect: "manual", ...init });
  const body = await res.text();
  // The answer only (a request may carry the key on purpose).
  seen.push(`${res.status}\n${JSON.stringify([...res.headers])}\n${body}`);
  return { status: res.status, headers: res.headers, body };
}

async function raw(edge, text) {
  const r = await rawRequest(edge.url, text);
  seen.push(r.text);
  return r;
}

/** Runs `attempt` and checks that nothing reached the vendor (the relay saw no request). */
async function nothingUpstream(label, attempt) {
  rec.clear();
  const out = await attempt();
  assert.deepEqual(rec.seen.map((r) => `${r.method} ${r.url}`), [], `${label}: nothing reached the upstream`);
  return out;
}

test("the shipped wrangler.toml is closed: no EDGE_ALLOW_SAME_ORIGIN, no EDGE_DEV_OPEN", async () => {
  const { vars } = await wranglerConfig();
  assert.equal(vars.EDGE_ALLOW_SAME_ORIGIN, undefined);
  assert.equal(vars.EDGE_DEV_OPEN, undefined);
  assert.notEqual(vars.CSV_GUARD, "false");
});

test("forged same-origin headers, a foreign Host, no key, a wrong key: refused, nothing upstream", async () => {
  const url = `${keyed.url}${JOBS}`;
  const attempts = [
    ["no key", {}, 401],
    ["Sec-Fetch-Site: same-origin", { "Sec-Fetch-Site": "same-origin" }, 401],
    ["Origin: the worker's own", { Origin: keyed.url }, 401],
    ["both forged", { Origin: keyed.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors" }, 401],
    ["Referer", { Referer: `${keyed.url}/www/` }, 401],
    ["wrong key", { "X-Exportkit-Key": "wrong-key-wrong-key-0000" }, 401],
    ["empty key", { "X-Exportkit-Key": "" }, 401],
    ["key prefix", { "X-Exportkit-Key": ACCESS_KEY.slice(0, 16) }, 401],
    ["wrong key + forged origin", { "X-Exportkit-Key": "wrong", Origin: keyed.url, "Sec-Fetch-Site": "same-origin" }, 401],
    ["Authorization instead of the key", { Authorization: `Bearer ${ACCESS_KEY}` }, 401],
    ["key in a cookie", { Cookie: `x-exportkit-key=${ACCESS_KEY}` }, 401],
    ["a forged Access JWT on a key deployment", { "Cf-Access-Jwt-Assertion": "e30.e30." }, 401],
  ];
  for (const [label, headers, status] of attempts) {
    const r = await nothingUpstream(label, () => call(url, { headers }));
    assert.equal(r.status, status, label);
    assert.match(r.body, /"error"/, label);
  }
  // The key in the query string is not a way in either (and is never copied upstream).
  const q = await nothingUpstream("key in the query", () => call(`${url}?x-exportkit-key=${ACCESS_KEY}`));
  assert.equal(q.status, 401);
  // A foreign Host, with an Origin to match it (what the old check compared against).
  const port = new URL(keyed.url).port;
  for (const host of ["evil.example", `evil.example:${port}`, "localhost.evil.example"]) {
    const r = await nothingUpstream(`Host ${host}`, () =>
      raw(keyed, `GET ${JOBS} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nSec-Fetch-Site: same-origin\r\nConnection: close\r\n\r\n`),
    );
    assert.equal(r.status, 401, host);
  }
  // A state-changing request from another site, even with a valid key or session.
  const cookie = await signIn(keyed.url);
  for (const [label, headers] of [
    ["key + foreign Origin", { "X-Exportkit-Key": ACCESS_KEY, Origin: "https://evil.example" }],
    ["session + foreign Origin", { Cookie: cookie, Origin: "https://evil.example" }],
    ["session + no Origin", { Cookie: cookie }],
    ["session + Origin null", { Cookie: cookie, Origin: "null" }],
  ]) {
    const r = await nothingUpstream(label, () =>
      call(`${keyed.url}/api/backstory/v3/beta/insights/export`, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(QUERY) }),
    );
    assert.equal(r.status, 403, label);
  }
  // The dashboard and its config are closed too: a person is sent to sign in, a script told 401.
  for (const p of ["/config.json", "/www/app.js", "/www/settings.js"]) {
    const r = await call(`${keyed.url}${p}`, { headers: { "Sec-Fetch-Site": "same-origin" } });
    assert.equal(r.status, 401, p);
    assert.equal(r.headers.get("x-exportkit-sign-in"), "/signin");
  }
  // (Raw: fetch would set its own Sec-Fetch-Mode.)
  const nav = await raw(keyed, `GET /www/ HTTP/1.1\r\nHost: ${new URL(keyed.url).host}\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nConnection: close\r\n\r\n`);
  assert.equal(nav.status, 303);
  assert.match(nav.text, /^location: \/signin\?next=%2Fwww%2F\r$/im);
});

test("sessions: an expired, forged or pre-rotation cookie is refused; a login from another site is refused", async () => {
  const url = `${keyed.url}${JOBS}`;
  const cookie = await signIn(keyed.url);
  const good = await call(url, { headers: { Cookie: cookie } });
  assert.equal(good.status, 200, "a fresh session works");
  const token = cookie.split("=")[1];
  const [v, exp, nonce, sig] = token.split(".");
  const name = cookie.split("=")[0];
  const past = String(now() - 60);
  const forged = [
    ["expired (signature of another expiry)", `${v}.${past}.${nonce}.${sig}`],
    ["extended expiry", `${v}.${Number(exp) + 86400 * 365}.${nonce}.${sig}`],
    ["other nonce", `${v}.${exp}.${"A".repeat(22)}.${sig}`],
    ["flipped signature", `${v}.${exp}.${nonce}.${sig.slice(0, 10)}${sig[10] === "A" ? "B" : "A"}${sig.slice(11)}`],
    ["no signature", `${v}.${exp}.${nonce}.`],
    ["alg-none style", `${v}.${exp}.${nonce}`],
    ["empty", ""],
    ["the key itself", ACCESS_KEY],
    ["very long", "v1." + "9".repeat(5000)],
  ];
  for (const [label, value] of forged) {
    const r = await nothingUpstream(label, () => call(url, { headers: { Cookie: `${name}=${value}` } }));
    assert.equal(r.status, 401, label);
  }
  // The same name without the __Host- prefix (what a subdomain could set) is not the session.
  const plain = await nothingUpstream("cookie without prefix", () => call(url, { headers: { Cookie: `exportkit_session=${token}` } }));
  assert.equal(plain.status, 401);

  // An expired session made with this worker's key: signed correctly, but past its end.
  const { createSession } = await import("../../edge/access.mjs");
  const { readConfig } = await import("../../edge/config.mjs");
  const old = await createSession(readConfig({ EDGE_ACCESS_KEY: ACCESS_KEY }), Date.now() - 13 * 3600 * 1000);
  const expired = await nothingUpstream("expired session", () => call(url, { headers: { Cookie: `${name}=${old.token}` } }));
  assert.equal(expired.status, 401);
  assert.match(expired.body, /session_expired/);

  // Rotation: the same worker redeployed with a new key ends every session made with the old one.
  const rotated = await startEdge({ vars: { BACKSTORY_BASE_URL: rec.url, USERPILOT_BASE_URL: rec.url }, secrets: { ...sandboxSecrets(), EDGE_ACCESS_KEY: SECRETS.ROTATED_KEY } });
  edges.push(rotated);
  const before = await nothingUpstream("cookie from before the rotation", () => call(`${rotated.url}${JOBS}`, { headers: { Cookie: cookie } }));
  assert.equal(before.status, 401);
  const oldKey = await nothingUpstream("the old key after rotation", () => call(`${rotated.url}${JOBS}`, { headers: { "X-Exportkit-Key": ACCESS_KEY } }));
  assert.equal(oldKey.status, 401);
  const fresh = await signIn(rotated.url, SECRETS.ROTATED_KEY);
  assert.equal((await call(`${rotated.url}${JOBS}`, { headers: { Cookie: fresh } })).status, 200, "a session with the new key works");

  // Sign-in: a wrong key, another site's form (login CSRF), no Origin, an oversized form.
  const form = (key, headers) => call(`${keyed.url}/signin`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams({ key, next: "/www/" }).toString() });
  for (const [label, r, status] of [
    ["wrong key", await form("wrong-key-wrong-key-0000", { Origin: keyed.url }), 401],
    ["login CSRF", await form(ACCESS_KEY, { Origin: "https://evil.example" }), 403],
    ["no Origin", await form(ACCESS_KEY, {}), 403],
    ["Origin null", await form(ACCESS_KEY, { Origin: "null" }), 403],
  ]) {
    assert.equal(r.status, status, label);
    assert.equal(r.headers.get("set-cookie"), null, `${label}: no session`);
    assert.ok(!r.body.includes("wrong-key-wrong-key-0000"), "the entered key is not echoed");
  }
  const big = await call(`${keyed.url}/signin`, { method: "POST", headers: { Origin: keyed.url, "Content-Type": "application/x-www-form-urlencoded" }, body: `key=${"a".repeat(100_000)}` });
  assert.equal(big.status, 400);
  // An open redirect through `next` is not possible.
  const hop = await call(`${keyed.url}/signin`, { method: "POST", headers: { Origin: keyed.url, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ key: ACCESS_KEY, next: "//evil.example/x" }).toString() });
  assert.equal(hop.status, 303);
  assert.equal(hop.headers.get("location"), "/www/");
});

test("Cloudflare Access: a valid JWT gets in; wrong aud, bad signature, expired, alg=none and the like do not", async () => {
  const url = `${access.url}${JOBS}`;
  const ok = await call(url, { headers: { "Cf-Access-Jwt-Assertion": await jwt(goodClaims()) } });
  assert.equal(ok.status, 200, ok.body);
  assert.ok(jwksHits >= 1, "the team's keys were fetched from the certs URL");
  const hitsAfterFirst = jwksHits;
  assert.equal((await call(url, { headers: { "Cf-Access-Jwt-Assertion": await jwt(goodClaims()) } })).status, 200);
  assert.equal(jwksHits, hitsAfterFirst, "the keys are cached");

  const valid = await jwt(goodClaims());
  const [h, p, s] = valid.split(".");
  const none = `${b64url(JSON.stringify({ alg: "none", kid: "kid-good", typ: "JWT" }))}.${p}.`;
  const hs256 = await (async () => {
    // The classic confusion: HMAC keyed with the public key's bytes.
    const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(JSON.stringify(keys.good.jwk)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const hh = b64url(JSON.stringify({ alg: "HS256", kid: "kid-good", typ: "JWT" }));
    return `${hh}.${p}.${b64url(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(`${hh}.${p}`)))}`;
  })();
  const c = goodClaims();
  const attempts = [
    ["no token", null],
    ["wrong aud", await jwt({ ...c, aud: ["someone-else"] })],
    ["aud as a prefix", await jwt({ ...c, aud: [AUD.slice(0, -1)] })],
    ["no aud", await jwt({ ...c, aud: undefined })],
    ["wrong iss", await jwt({ ...c, iss: "https://evil.cloudflareaccess.com" })],
    ["expired exp", await jwt({ ...c, exp: now() - 3600 })],
    ["no exp", await jwt({ ...c, exp: undefined })],
    ["nbf in the future", await jwt({ ...c, nbf: now() + 3600 })],
    ["iat in the future", await jwt({ ...c, iat: now() + 3600 })],
    ["bad signature", `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`],
    ["claims swapped under a valid signature", `${h}.${b64url(JSON.stringify({ ...c, email: "admin@example.com" }))}.${s}`],
    ["signed by an unpublished key", await jwt(c, { key: keys.other })],
    ["unpublished key claiming the published kid", await jwt(c, { key: keys.other, header: { kid: "kid-good" } })],
    ["alg=none", none],
    ["alg=HS256 with the public key", hs256],
    ["alg=RS512 label", await jwt(c, { alg: "RS512" })],
    ["garbage", "not.a.jwt"],
    ["two parts", `${h}.${p}`],
  ];
  for (const [label, token] of attempts) {
    const headers = token === null ? {} : { "Cf-Access-Jwt-Assertion": token };
    const r = await nothingUpstream(label, () => call(url, { headers: { ...headers, Origin: access.url, "Sec-Fetch-Site": "same-origin" } }));
    assert.equal(r.status, 401, label);
  }
  // With Access, the sign-in page is not offered (Access signs people in).
  const si = await call(`${access.url}/signin`, { method: "POST", headers: { Origin: access.url, "Content-Type": "application/x-www-form-urlencoded" }, body: "key=x" });
  assert.equal(si.status, 401);
  assert.equal(si.headers.get("set-cookie"), null);
  // A state-changing call with a valid JWT must come from the page's own origin.
  const post = await nothingUpstream("JWT + foreign Origin", () =>
    call(`${access.url}${JOBS}`, { method: "POST", headers: { "Cf-Access-Jwt-Assertion": valid, Origin: "https://evil.example", "Content-Type": "application/json" }, body: "{}" }),
  );
  assert.equal(post.status, 403);
});

test("at least 50 crafted paths: refused with and without the key, nothing upstream", async () => {
  const long = "a".repeat(10_000);
  const paths = [
    "/api/backstory/v3/auth/tokens",
    "/api/backstory/../../__sandbox/state",
    "/api/backstory/v3/beta/insights/../../auth/tokens",
    "/api/backstory/%2e%2e/%2e%2e/__sandbox/reset",
    "/api/backstory/%2E%2E/%2E%2E/__sandbox/reset",
    "/api/backstory/%252e%252e/%252e%252e/__sandbox/state",
    "/api/backstory/v3%2fauth%2ftokens",
    "/api/backstory/v3%2Fauth%2Ftokens",
    "/api/backstory/v3%252fauth%252ftokens",
    "/api/backstory/v3%5cauth%5ctokens",
    "/api/backstory/v3\\auth\\tokens",
    "/api/backstory//v3/auth/tokens",
    "/api/backstory/./v3/auth/tokens",
    "/api/backstory/v3/auth/tokens/.",
    "/api/backstory/v3/beta/insights/export/..",
    "/api/backstory/v3/beta/insights/export%00",
    "/api/backstory/v3/beta/insights/export%00.json",
    "/api/backstory/v3/beta/insights/export%0d%0aX-Injected:%201",
    "/api/backstory/v3/beta/insights/export%20HTTP/1.1",
    "/api/backstory/v3/beta/insights/ex%70ort",
    "/api/backstory/v3/beta/insights/%65xport",
    "/api/backstory/v3/beta/insights/exp%C3%B6rt",
    "/api/backstory/v3/beta/insights/exp\u00f6rt",
    "/api/backstory/v3/beta/insights/export\u2215..\u2215auth",
    "/api/backstory/v3/beta/insights/export%E2%88%95..%E2%88%95auth",
    "/api/backstory/v3/beta/insights/%EF%BC%8E%EF%BC%8E/auth/tokens",
    "/api/backstory/v3/beta/insights/%C0%AE%C0%AE/auth/tokens",
    "/api/backstory/v3/beta/insights/%c0%af/auth/tokens",
    "/api/backstory/https://evil.example/v3/beta/insights/export",
    "/api/backstory/http:%2F%2Fevil.example/v3/beta/insights/export",
    "/api/backstory//evil.example/v3/beta/insights/export",
    "/api/backstory@evil.example/v3/beta/insights/export",
    "/api/backstory:443/v3/beta/insights/export",
    "/api/backstory%2f..%2f__sandbox/state",
    "/api/backstoryx/v3/beta/insights/export",
    "/api/BACKSTORY/v3/beta/insights/export",
    "/api/userpilot/api/v1/analytics/exports/lookups/../../../../__sandbox/state",
    "/api/userpilot/api/v1/analytics/exports/lookups/users%2f..%2f..",
    "/api/userpilot/api/v1/analytics/exports/lookups/not_a_lookup",
    "/api/userpilot/api/v1/analytics/exports/jobs/..%2f..%2fjobs",
    "/api/userpilot/api/v1/analytics/exports/jobs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/__sandbox/state",
    "/api/userpilot-files/../../__sandbox/state",
    "/api/userpilot-files/%2e%2e/%2e%2e/__sandbox/state",
    "/api/userpilot-files/x/..%2f..%2f..%2f__sandbox%2fstate",
    "/api/userpilot-files//evil.example/file.gz",
    "/api/userpilot-files/http://169.254.169.254/latest/meta-data",
    `/api/backstory/v3/beta/insights/${long}`,
    `/api/backstory/pull/v1/export/activities/jobs/${"b".repeat(200)}`,
    `/api/userpilot-files/f.gz?${"x".repeat(20_000)}`,
    // Query smuggling: parameters a route does not take, repeated ones, encoded separators in values.
    "/api/backstory/pull/v1/export/activities/jobs?url=https://evil.example",
    "/api/backstory/pull/v1/export/activities/jobs/abc/fragment?fragment=1&fragment=2",
    "/api/backstory/pull/v1/export/activities/jobs/abc/fragment?fragment=1%26url%3Dhttp://evil.example",
    "/api/backstory/pull/v1/export/activities/jobs/abc/fragment?fragment=../../x",
    "/api/backstory/pull/v1/export/activities/jobs/abc/fragment?fragment=1;url=x",
    "/api/userpilot/api/v1/analytics/exports/lookups/embeds?limit=10&limit=20",
    "/api/userpilot/api/v1/analytics/exports/lookups/embeds?after_cursor=%0d%0aHost:%20evil",
    "/api/userpilot/api/v1/analytics/exports/lookups/embeds?api_key=x",
    "/api/backstory/v3/beta/insights/export?%3F=%3F#/../../auth/tokens",
    "/api/backstory/v3/beta/insights/export;jsessionid=1",
    "/api/backstory/v3/auth/tokens/%2e",
    "/api/%2e%2e/__sandbox/state",
    "/api/../__sandbox/state",
    "/%2e%2e/api/backstory/v3/auth/tokens",
    "/api/backstory/v3/auth/tokens/",
  ];
  assert.ok(paths.length >= 50, `${paths.length} paths`);
  console.log(`# ${paths.length} crafted paths x 3 callers x 2 methods`);
  for (const p of paths) {
    for (const [who, headers] of [
      ["no key", ""],
      ["forged same-origin", `Origin: ${keyed.url}\r\nSec-Fetch-Site: same-origin\r\n`],
      ["key", `X-Exportkit-Key: ${ACCESS_KEY}\r\n`],
    ]) {
      for (const method of ["GET", "POST"]) {
        const r = await nothingUpstream(`${method} ${p.slice(0, 120)} (${who})`, () =>
          raw(keyed, `${method} ${p} HTTP/1.1\r\nHost: ${new URL(keyed.url).host}\r\n${headers}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`),
        );
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${p.slice(0, 120)} (${who}): ${r.status}`);
        if (who !== "key") assert.ok(r.status === 401 || r.status === 400 || r.status === 414 || r.status === 431, `${method} ${p.slice(0, 120)} (${who}): ${r.status}`);
      }
    }
  }
});

/**
 * POSTs `total` bytes in 1 MiB chunks (with a Content-Length, or chunked) and resolves with the
 * status as soon as the answer's head arrives: a server that refuses early may close the
 * connection while the body is still going out, which fetch reports as an error, not a status.
 */
function bigPost(url, headers, total, { chunked = false } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: chunked ? headers : { ...headers, "Content-Length": String(total) } });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        seen.push(`${res.statusCode}\n${JSON.stringify(res.headers)}\n${body}`);
        resolve({ status: res.statusCode, body });
      });
      res.on("error", () => resolve({ status: res.statusCode, body: "" }));
    });
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < total && !answered) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

test("a 20 MB body is refused before it goes anywhere, with and without the key", async () => {
  const url = `${keyed.url}/api/backstory/v3/beta/insights/export`;
  const before = (await control(sb, "/__sandbox/state")).queryCallsToday;
  const total = 20 * 1024 * 1024;
  for (const [label, headers, status, chunked] of [
    ["no key", {}, 401, false],
    ["forged origin", { Origin: keyed.url, "Sec-Fetch-Site": "same-origin" }, 401, false],
    ["wrong key", { "X-Exportkit-Key": "wrong-key-wrong-key-0000" }, 401, false],
    ["key", { "X-Exportkit-Key": ACCESS_KEY }, 413, false],
    ["key, chunked", { "X-Exportkit-Key": ACCESS_KEY }, 413, true],
    ["no key, chunked", {}, 401, true],
  ]) {
    const r = await nothingUpstream(`20 MB (${label})`, () => bigPost(url, { ...headers, "Content-Type": "application/json" }, total, { chunked }));
    assert.equal(r.status, status, label);
    console.log(`# 20 MB body (${label}): ${r.status}`);
  }
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, before, "no Query API call was spent");
});

test("a worker with neither a key nor Access serves nothing, whatever the request says", async () => {
  const vendorSecrets = Object.fromEntries(Object.entries(sandboxSecrets()).filter(([k]) => k !== "EDGE_ACCESS_KEY"));
  const bare = await startEdge({ vars: { BACKSTORY_BASE_URL: rec.url, USERPILOT_BASE_URL: rec.url }, secrets: vendorSecrets });
  edges.push(bare);
  for (const [p, headers] of [
    [JOBS, {}],
    [JOBS, { Origin: bare.url, "Sec-Fetch-Site": "same-origin" }],
    [JOBS, { "X-Exportkit-Key": ACCESS_KEY }],
    ["/config.json", {}],
    ["/www/", {}],
    ["/", {}],
    ["/signin", {}],
  ]) {
    const r = await nothingUpstream(`unconfigured ${p}`, () => call(`${bare.url}${p}`, { headers }));
    assert.equal(r.status, 503, p);
    assert.deepEqual(JSON.parse(r.body), { error: "not_configured", message: "set EDGE_ACCESS_KEY or ACCESS_TEAM_DOMAIN+ACCESS_AUD" });
  }
  // The old switch does not open it either: it is a configuration error that names itself.
  const old = await startEdge({ vars: { BACKSTORY_BASE_URL: rec.url, EDGE_ALLOW_SAME_ORIGIN: "true" }, secrets: sandboxSecrets() });
  edges.push(old);
  const r = await nothingUpstream("EDGE_ALLOW_SAME_ORIGIN=true", () => call(`${old.url}${JOBS}`, { headers: { "Sec-Fetch-Site": "same-origin" } }));
  assert.equal(r.status, 500);
  assert.match(r.body, /EDGE_ALLOW_SAME_ORIGIN: was removed/);
});

test("EDGE_DEV_OPEN=loopback opens loopback hosts only", async () => {
  const vendorSecrets = Object.fromEntries(Object.entries(sandboxSecrets()).filter(([k]) => k !== "EDGE_ACCESS_KEY"));
  const dev = await startEdge({ vars: { BACKSTORY_BASE_URL: rec.url, USERPILOT_BASE_URL: rec.url, EDGE_DEV_OPEN: "loopback" }, secrets: vendorSecrets });
  edges.push(dev);
  const port = new URL(dev.url).port;
  const ok = await call(`${dev.url}${JOBS}`);
  assert.equal(ok.status, 200, "open on 127.0.0.1");
  for (const host of [`localhost:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`]) {
    rec.clear();
    const r = await raw(dev, `GET ${JOBS} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, host);
  }
  for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`, `10.0.0.1:${port}`, `0.0.0.0:${port}`, `[::ffff:127.0.0.1]:${port}`]) {
    const r = await nothingUpstream(`dev-open Host ${host}`, () =>
      raw(dev, `GET ${JOBS} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nSec-Fetch-Site: same-origin\r\nConnection: close\r\n\r\n`),
    );
    assert.equal(r.status, 503, `${host}: a non-loopback host is not opened`);
  }
  // A page on another site driving a browser at the open dev worker: its POST carries its Origin.
  const csrf = await nothingUpstream("dev-open cross-site POST", () =>
    call(`${dev.url}${JOBS}`, { method: "POST", headers: { Origin: "https://evil.example", "Content-Type": "application/json" }, body: "{}" }),
  );
  assert.equal(csrf.status, 403);
});

test("no secret in any response, log line, KV value or R2 object", async () => {
  // Give KV and R2 something to hold: one scheduled export, and a proxied query.
  await control(sb, "/__sandbox/reset");
  const tick = await fetch(`${keyed.url}/cdn-cgi/handler/scheduled?time=${Date.now()}`);
  assert.equal(tick.status, 200);
  await tick.arrayBuffer();
  const q = await call(`${keyed.url}/api/backstory/v3/beta/insights/export`, { method: "POST", headers: { "X-Exportkit-Key": ACCESS_KEY, "Content-Type": "application/json" }, body: JSON.stringify(QUERY) });
  assert.equal(q.status, 200);

  const stores = [];
  for (const e of edges) {
    const kv = await e.kv();
    for (const { name } of (await kv.list()).keys) stores.push(`KV ${name}=${await kv.get(name)}`);
    const r2 = await e.r2();
    for (const o of (await r2.list()).objects) stores.push(`R2 ${o.key}=${await (await r2.get(o.key)).text()}`);
  }
  assert.ok(stores.some((s) => s.startsWith("R2 exports/query/")), "the export is in R2");
  const r2csv = stores.find((s) => s.startsWith("R2 exports/query/"));
  assert.ok(r2csv.includes(`'=HYPERLINK`) && !/(^|,|\n)=HYPERLINK/.test(r2csv), "the R2 CSV is formula-guarded");
  const logs = edges.flatMap((e) => e.logs);
  assert.ok(seen.length > 100, `${seen.length} responses scanned`);
  for (const [what, texts] of [["responses", seen], ["logs", logs], ["KV and R2", stores]]) {
    for (const text of texts) {
      for (const [name, value] of Object.entries(SECRETS)) {
        assert.ok(!text.includes(value), `${name} appears in ${what}: ${text.slice(0, 200)}`);
      }
      assert.ok(!/access_token|bearer\s+[a-z0-9_-]{10,}/i.test(text), `a bearer token in ${what}`);
    }
  }
  console.log(`# security: ${seen.length} responses, ${logs.length} log chunks, ${stores.length} stored values scanned`);
});
