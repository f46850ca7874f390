// The edge worker's pure pieces in Node (the same modules workerd runs): the allow-list, the
// configuration checks, the access check, the export list, and the R2 part writer's arithmetic.
// What they do inside workerd is in proxy.test.mjs and scheduled.test.mjs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createSession, originProblem, sameSecret, verifySession } from "../../edge/access.mjs";
import { ConfigError, isLoopbackHost, pageConfig, readConfig, upstreamBase } from "../../edge/config.mjs";
import { safeNext } from "../../edge/signin.mjs";
import { R2StreamWriter } from "../../edge/r2-writer.mjs";
import { backstoryRoutes, checkQuery, matchRoute, pathProblem, userpilotRoutes } from "../../edge/routes.mjs";
// The routes take job ids and lookup names from the wasm (as workerd does after initSync).
import init, { USERPILOT_LOOKUPS } from "../../js/node.js";

await init();
import { objectKey, parseExports, utcDay } from "../../edge/scheduled.mjs";

test("the allow-list: the documented endpoints and nothing else", () => {
  const bs = backstoryRoutes("/v3/beta/forecasting/query");
  const ok = [
    ["POST", "/v3/beta/insights/export", "/v3/beta/insights/export"],
    ["POST", "/pull/v1/export/activities/jobs", "/pull/v1/export/activities/jobs"],
    ["GET", "/pull/v1/export/activities/jobs/", "/pull/v1/export/activities/jobs"],
    ["GET", "/pull/v1/export/activities/jobs/3f2a-99", "/pull/v1/export/activities/jobs/3f2a-99"],
    ["GET", "/pull/v1/export/activities/jobs/3f2a-99/data", "/pull/v1/export/activities/jobs/3f2a-99/data"],
    ["GET", "/pull/v1/export/activities/jobs/-x.2", "/pull/v1/export/activities/jobs/-x.2"],
    ["GET", "/pull/v1/export/activities/jobs/3f2a-99/fragment/", "/pull/v1/export/activities/jobs/3f2a-99/fragment"],
    ["POST", "/v3/beta/forecasting/query", "/v3/beta/forecasting/query"],
  ];
  for (const [m, p, up] of ok) assert.equal(matchRoute(bs, m, p).path, up, `${m} ${p}`);
  const refused = [
    ["POST", "/v3/auth/tokens", 404],
    ["GET", "/v3/beta/insights/export", 405],
    ["DELETE", "/pull/v1/export/activities/jobs/x", 405],
    ["GET", "/pull/v1/export/activities/jobs/x/data/more", 404],
    // The client refuses an id starting with `.`; a leading `-` it accepts, so the edge routes it
    // too (tests/edge/vocabulary.test.mjs holds the two to the same rule).
    ["GET", "/pull/v1/export/activities/jobs/.x", 404],
    ["GET", "/pull/v1/export/activities/jobs/x y", 400],
    ["GET", "/pull/v1/export/activities/jobs/../../v3/auth/tokens", 400],
    ["GET", "/pull/v1/export/activities/jobs/./x", 400],
    ["GET", "//evil.example/pull/v1/export/activities/jobs", 400],
    ["GET", "/pull/v1/export/activities/jobs/%2e%2e", 400],
    ["GET", "pull/v1/export/activities/jobs", 400],
    ["GET", "", 400],
  ];
  for (const [m, p, status] of refused) assert.equal(matchRoute(bs, m, p).status, status, `${m} ${p}`);
  assert.equal(matchRoute(bs, "PUT", "/pull/v1/export/activities/jobs").allow, "POST, GET");

  const up = userpilotRoutes();
  assert.equal(matchRoute(up, "POST", "/api/v1/analytics/exports").path, "/api/v1/analytics/exports/");
  assert.equal(matchRoute(up, "GET", "/api/v1/analytics/exports/jobs").path, "/api/v1/analytics/exports/jobs/");
  assert.equal(matchRoute(up, "GET", "/api/v1/analytics/exports/jobs/86f4dd75-00c8").path, "/api/v1/analytics/exports/jobs/86f4dd75-00c8");
  assert.equal(USERPILOT_LOOKUPS.length, 12);
  for (const name of USERPILOT_LOOKUPS) assert.ok(matchRoute(up, "GET", `/api/v1/analytics/exports/lookups/${name}`).route, name);
  assert.equal(matchRoute(up, "GET", "/api/v1/analytics/exports/lookups/users").status, 404);
  assert.equal(matchRoute(up, "GET", "/api/v1/analytics/exports/lookups/segments_x").status, 404);

  const forecast = backstoryRoutes("/custom/forecast-path");
  assert.equal(matchRoute(forecast, "POST", "/custom/forecast-path").path, "/custom/forecast-path");
  assert.equal(matchRoute(forecast, "POST", "/v3/beta/forecasting/query").status, 404);
});

test("query parameters are rebuilt from the allowed ones, once each, well formed", () => {
  const [lookups] = userpilotRoutes().filter((r) => String(r.pattern).includes("lookups"));
  const cursor = "g3QAAAAD+ZAAC/aWR0AA==";
  assert.deepEqual(checkQuery(lookups, new URLSearchParams(`limit=50&after_cursor=${encodeURIComponent(cursor)}`)), {
    search: `?limit=50&after_cursor=${encodeURIComponent(cursor)}`,
  });
  assert.deepEqual(checkQuery(lookups, new URLSearchParams("")), { search: "" });
  for (const q of ["limit=1&limit=2", "limit=x", "foo=1", "after_cursor=a%0Ab", "before_cursor=", "limit=12345"]) {
    assert.equal(checkQuery(lookups, new URLSearchParams(q)).status, 400, q);
  }
  assert.equal(checkQuery(lookups, new URLSearchParams("__proto__=1")).status, 400);
  assert.equal(checkQuery(lookups, new URLSearchParams("constructor=1")).status, 400);
  assert.equal(pathProblem("/a/b"), "");
});

test("configuration: upstream hosts are https (http only on loopback), secrets are never in errors", () => {
  assert.equal(upstreamBase("X", "https://api.people.ai/"), "https://api.people.ai");
  assert.equal(upstreamBase("X", "http://127.0.0.1:8787/base/"), "http://127.0.0.1:8787/base");
  for (const bad of ["http://api.people.ai", "ftp://x", "https://u:p@x.example", "https://x.example/?a=1", "https://x.example/#f", "not a url", "javascript:alert(1)"]) {
    assert.throws(() => upstreamBase("X", bad), ConfigError, bad);
  }
  const cfg = readConfig({ BACKSTORY_CLIENT_SECRET: "s3cret-value", EDGE_ACCESS_KEY: "k".repeat(16) });
  assert.equal(cfg.backstoryBase, "https://api.people.ai");
  assert.equal(cfg.userpilotBase, "https://appex.userpilot.io");
  assert.equal(cfg.userpilotFilesBase, null);
  assert.equal(cfg.maxBodyBytes, 65536);
  assert.equal(cfg.csvGuard, true, "Query API CSV into R2 is guarded unless CSV_GUARD=false");
  assert.equal(readConfig({ CSV_GUARD: "false" }).csvGuard, false);
  assert.equal(cfg.access, null);
  assert.equal(cfg.devOpen, false);
  assert.equal(cfg.sessionTtlSeconds, 12 * 3600);
  try {
    readConfig({ EDGE_ACCESS_KEY: "short-secret" });
    assert.fail("a short key is refused");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.ok(!e.message.includes("short-secret"), "the message names the variable, not the value");
  }
  assert.throws(() => readConfig({ MAX_BODY_BYTES: "0" }), /MAX_BODY_BYTES/);
  // The old way in is gone: a deployment that still asks for it is told, not quietly opened.
  for (const v of ["true", true, "yes"]) assert.throws(() => readConfig({ EDGE_ALLOW_SAME_ORIGIN: v }), /EDGE_ALLOW_SAME_ORIGIN: was removed/);
  assert.doesNotThrow(() => readConfig({ EDGE_ALLOW_SAME_ORIGIN: "false" }));
  assert.throws(() => readConfig({ EDGE_DEV_OPEN: "true" }), /EDGE_DEV_OPEN/);
  assert.equal(readConfig({ EDGE_DEV_OPEN: "loopback" }).devOpen, true);
  assert.throws(() => readConfig({ ACCESS_TEAM_DOMAIN: "t.cloudflareaccess.com" }), /ACCESS_AUD/);
  assert.throws(() => readConfig({ ACCESS_AUD: "aud" }), /ACCESS_TEAM_DOMAIN/);
  assert.throws(() => readConfig({ ACCESS_TEAM_DOMAIN: "http://t.example", ACCESS_AUD: "a" }), /https/);
  assert.throws(() => readConfig({ ACCESS_TEAM_DOMAIN: "t.example/path", ACCESS_AUD: "a" }), /ACCESS_TEAM_DOMAIN/);
  assert.deepEqual(readConfig({ ACCESS_TEAM_DOMAIN: "t.cloudflareaccess.com", ACCESS_AUD: "a" }).access, {
    issuer: "https://t.cloudflareaccess.com",
    certsUrl: "https://t.cloudflareaccess.com/cdn-cgi/access/certs",
    aud: "a",
  });
  assert.equal(readConfig({ ACCESS_TEAM_DOMAIN: "127.0.0.1:9999", ACCESS_AUD: "a" }).access.certsUrl, "http://127.0.0.1:9999/cdn-cgi/access/certs");
  assert.throws(() => readConfig({ BACKSTORY_FORECASTING_PATH: "/a/../b" }), /BACKSTORY_FORECASTING_PATH/);
  assert.throws(() => readConfig({ PUBLIC_ORIGIN: "https://x.example/path" }), /PUBLIC_ORIGIN/);
  assert.equal(readConfig({ PUBLIC_ORIGIN: "https://x.example" }).publicOrigin, "https://x.example");
  assert.deepEqual(pageConfig(), { proxyUrl: "/api/backstory", userpilotProxyUrl: "/api/userpilot" });
});

test("access: constant-time key comparison, sessions, loopback hosts, Origin on state changes", async () => {
  assert.equal(await sameSecret("a".repeat(20), "a".repeat(20)), true);
  assert.equal(await sameSecret("a".repeat(20), "a".repeat(19) + "b"), false);
  assert.equal(await sameSecret("a", "a".repeat(20)), false);
  assert.equal(await sameSecret("", ""), true);

  const cfg = readConfig({ EDGE_ACCESS_KEY: "k".repeat(20) });
  const now = Date.UTC(2026, 0, 1);
  const { token, maxAge } = await createSession(cfg, now);
  assert.equal(maxAge, 12 * 3600);
  assert.equal(await verifySession(token, cfg, now), true);
  assert.equal(await verifySession(token, cfg, now + 12 * 3600 * 1000 - 1000), true);
  assert.equal(await verifySession(token, cfg, now + 12 * 3600 * 1000), false, "expired");
  assert.equal(await verifySession(token, readConfig({ EDGE_ACCESS_KEY: "j".repeat(20) }), now), false, "a rotated key ends the session");
  const [v, exp, nonce, sig] = token.split(".");
  assert.equal(await verifySession([v, Number(exp) + 3600, nonce, sig].join("."), cfg, now), false, "a changed expiry breaks the signature");
  assert.equal(await verifySession([v, exp, nonce, sig.slice(0, -2) + (sig.endsWith("AA") ? "BA" : "AA")].join("."), cfg, now), false);
  assert.equal(await verifySession("", cfg, now), false);
  assert.equal(await verifySession(token, readConfig({}), now), false, "no key, no session");
  assert.equal(await verifySession(token, { ...cfg, sessionTtlSeconds: 60 }, now), false, "a lifetime beyond the configured one");

  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "[::1]", "LOCALHOST"]) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ["127.0.0.256", "128.0.0.1", "localhost.evil.example", "127.0.0.1.nip.io", "0.0.0.0", "10.0.0.1", "[::ffff:127.0.0.1]"]) {
    assert.equal(isLoopbackHost(h), false, h);
  }

  const req = (method, headers) => new Request("https://edge.example/api/backstory/x", { method, headers });
  assert.equal(originProblem(req("GET", {}), cfg, "session"), null);
  assert.equal(originProblem(req("POST", {}), cfg, "key"), null, "a script with the key needs no Origin");
  assert.equal(originProblem(req("POST", {}), cfg, "session")?.status, 403);
  assert.equal(originProblem(req("POST", {}), cfg, "access")?.status, 403);
  assert.equal(originProblem(req("POST", { Origin: "https://edge.example" }), cfg, "session"), null);
  assert.equal(originProblem(req("POST", { Origin: "https://edge.example.evil.example" }), cfg, "key")?.status, 403);
  assert.equal(originProblem(req("DELETE", { Origin: "http://edge.example" }), cfg, "dev")?.status, 403);
  assert.equal(originProblem(req("POST", { Origin: "https://edge.example" }), { ...cfg, publicOrigin: "https://dash.example" }, "session")?.status, 403);

  assert.equal(safeNext("/www/"), "/www/");
  assert.equal(safeNext("/www/?tab=forecasts"), "/www/?tab=forecasts");
  for (const bad of ["//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)", "/../x", "", null]) assert.equal(safeNext(bad), "/www/", String(bad));
});

test("scheduled exports: names, days and keys", () => {
  assert.equal(utcDay(Date.UTC(2026, 0, 31, 23, 59, 59)), "2026-01-31");
  assert.equal(objectKey("2026-01-31", "accounts"), "exports/query/2026-01-31/accounts.csv");
  const q = { object: "account", columns: [{ slug: "ootb_account_name" }] };
  assert.deepEqual(parseExports("X", JSON.stringify([{ name: "a-1", query: q }])), [{ name: "a-1", query: q }]);
  assert.deepEqual(parseExports("X", [{ name: "a_1", query: q }]), [{ name: "a_1", query: q }]);
  for (const bad of ["{", "{}", [{ name: "../x", query: q }], [{ name: "A", query: q }], [{ name: "a" }], [{ name: "a", query: q }, { name: "a", query: q }]]) {
    assert.throws(() => parseExports("X", bad), ConfigError, JSON.stringify(bad));
  }
});

test("the R2 part writer: equal parts but the last, bytes in order, at most two uploading, errors surface", async () => {
  const PART = 1000;
  const uploaded = new Map();
  let inFlight = 0;
  let peak = 0;
  const upload = {
    uploadId: "u1",
    async uploadPart(n, data) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      uploaded.set(n, Buffer.from(data));
      inFlight--;
      return { partNumber: n, etag: `e${n}` };
    },
  };
  const w = new R2StreamWriter(upload, { partBytes: PART, maxInFlight: 2 });
  const input = Buffer.alloc(7321);
  for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 8)) & 255;
  let at = 0;
  let step = 1;
  while (at < input.length) {
    const n = Math.min(step, input.length - at);
    w.write(new Uint8Array(input.subarray(at, at + n)));
    at += n;
    // Chunks smaller than a part, as in the worker (KiB chunks, 5 MiB parts): one write ships at most one part.
    step = ((step * 3 + 1) % 999) + 1;
    await w.ready();
  }
  const parts = await w.finish();
  assert.deepEqual(parts.map((p) => p.partNumber), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...uploaded.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (let n = 1; n <= 7; n++) assert.equal(uploaded.get(n).length, PART);
  assert.equal(uploaded.get(8).length, 321);
  assert.ok(Buffer.concat([...uploaded.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])).equals(input));
  assert.equal(w.bytes, input.length);
  assert.ok(peak <= 2, `at most two parts in flight (saw ${peak})`);

  const failing = new R2StreamWriter({ uploadId: "u2", uploadPart: async () => Promise.reject(new Error("R2 down")) }, { partBytes: 10 });
  failing.write(new Uint8Array(25));
  await assert.rejects(failing.finish(), /R2 down/);
});
