// The dev server (scripts/serve.mjs, what `npm start` runs): bound to 127.0.0.1 and deaf to any
// Host that is not a loopback name, so a page whose DNS rebinds to 127.0.0.1 reads nothing, not the
// checkout's files nor the demo's /config.json (which holds the sandbox's credentials).
//
//   node --test tests/security/

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isLocalHost, startStatic } from "../../scripts/serve.mjs";
import { rawRequest } from "../edge/helpers.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CONFIG = { baseUrl: "http://127.0.0.1:1", clientId: "dev-client-id", clientSecret: "dev-client-secret-value" };
let site;

before(async () => {
  site = await startStatic({ root: ROOT, port: 0, config: CONFIG });
});

after(async () => {
  await site?.close();
});

const get = (p, host) => rawRequest(site.url, `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

test("it listens on 127.0.0.1 only", () => {
  assert.equal(site.server.address().address, "127.0.0.1");
  assert.match(site.url, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test("a loopback Host is served", async () => {
  for (const host of [`127.0.0.1:${site.port}`, `localhost:${site.port}`, "localhost", `127.0.0.2:${site.port}`, `[::1]:${site.port}`, `LOCALHOST:${site.port}`]) {
    const r = await get("/config.json", host);
    assert.equal(r.status, 200, host);
    assert.ok(r.text.includes(CONFIG.clientSecret), "the demo's config reaches a local page");
  }
});

test("a foreign Host (DNS rebinding) gets 421 and nothing of the checkout", async () => {
  const hosts = [
    "evil.example",
    `evil.example:${site.port}`,
    `127.0.0.1.nip.io:${site.port}`,
    `localhost.evil.example:${site.port}`,
    `evil.example#@127.0.0.1:${site.port}`,
    `10.0.0.1:${site.port}`,
    `0.0.0.0:${site.port}`,
    `[::ffff:127.0.0.1]:${site.port}`,
    `127.0.0.256:${site.port}`,
    "",
  ];
  for (const host of hosts) {
    for (const p of ["/config.json", "/www/", "/package.json", "/edge/wrangler.toml"]) {
      const r = await get(p, host);
      assert.equal(r.status, 421, `${host} ${p}`);
      assert.ok(!r.text.includes(CONFIG.clientSecret), `${host} ${p}: no config`);
      assert.ok(!r.text.includes('"name"'), `${host} ${p}: no file`);
    }
  }
});

test("isLocalHost: the rule", () => {
  for (const h of ["127.0.0.1", "127.0.0.1:8080", "localhost", "localhost:1", "[::1]", "[::1]:8080", "127.255.255.254:9"]) assert.equal(isLocalHost(h), true, h);
  for (const h of [undefined, "", "evil.example", "127.0.0.1.evil.example", "localhost.", "[::2]:1", "127.0.0.1:8080@evil", "1.2.3.4", "127.0.0.1:99999x"]) {
    assert.equal(isLocalHost(h), false, String(h));
  }
});
