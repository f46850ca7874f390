// Issue 16 item 4: the CLI fetched presigned file links wherever they pointed (blind SSRF). Now a
// link must be https and resolve only to public addresses, unless it is the API base URL's own
// origin (the sandbox serves its files there); --allow-file-host / EXPORTKIT_ALLOW_FILE_HOSTS /
// --allow-private-file-links widen the rule, and the refusal names them. The sandbox's
// `filesOrigin` aims its presigned links elsewhere, the way a hostile API could; a recording
// server on another loopback port proves nothing reached a refused target.
import assert from "node:assert/strict";
import http from "node:http";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { allowedHosts, fileLinkFetch, isPrivateAddress } from "../../cli/file-links.mjs";
import { control, runCli, SANDBOX_CREDENTIALS, startSandbox } from "../js/helpers.mjs";

let sb;
let recorder;
let seen = [];

before(async () => {
  sb = await startSandbox({ port: 0, seed: 3, jobSpeed: 80, eventsPerDay: 20 });
  recorder = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    req.resume();
    res.writeHead(200, { "Content-Type": "application/gzip" });
    res.end();
  });
  await new Promise((r) => recorder.listen(0, "127.0.0.1", r));
});
after(async () => {
  await sb.close();
  await new Promise((r) => recorder.close(r));
});
beforeEach(async () => {
  await control(sb, "/__sandbox/reset");
  seen = [];
});
afterEach(() => control(sb, "/__sandbox/config", { filesOrigin: null }));

const apiKey = SANDBOX_CREDENTIALS.userpilot.apiKey;
const env = (extra = {}) => ({ USERPILOT_API_KEY: apiKey, USERPILOT_BASE_URL: sb.url, ...extra });
const sbPort = () => new URL(sb.url).port;
const recPort = () => recorder.address().port;
const exportArgs = (...more) => ["userpilot", "export", "--from", "2024-03-04", "--to", "2024-03-05", "--quiet", ...more];

function assertRefused(r, host, what) {
  assert.equal(r.code, 2, `${what}: ${r.stderr}`);
  assert.match(r.stderr, /E_INVALID_ARGUMENT \(fileLink\)/, what);
  assert.ok(r.stderr.includes(`file link to host ${host} refused`), `${what}: ${r.stderr}`);
  assert.ok(r.stderr.includes(`--allow-file-host ${host}`) && r.stderr.includes("EXPORTKIT_ALLOW_FILE_HOSTS"), `${what}: the refusal says how to widen the rule: ${r.stderr}`);
  assert.ok(!r.stderr.includes("X-Amz-Signature") && !r.stderr.includes(apiKey), `${what}: no signature, no key: ${r.stderr}`);
}

test("the address rule: loopback, private, link-local, CGNAT, unique-local, mapped and unspecified are refused; public ones pass", () => {
  const refusedAddrs = ["127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:a9fe:a9fe", "::ffff:10.0.0.1", "[::1]", "not-an-address"];
  const publicAddrs = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255", "192.169.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"];
  for (const a of refusedAddrs) assert.equal(isPrivateAddress(a), true, a);
  for (const a of publicAddrs) assert.equal(isPrivateAddress(a), false, a);
  assert.deepEqual([...allowedHosts(["A.example:8443"], { EXPORTKIT_ALLOW_FILE_HOSTS: " b.example , ,c.example" })], ["a.example:8443", "b.example", "c.example"]);
});

test("the library hook refuses before connecting: literal metadata and private addresses, http, and names that resolve to loopback", async () => {
  const f = fileLinkFetch({ baseUrl: sb.url });
  const cases = [
    [`https://169.254.169.254/latest/meta-data/?X-Amz-Signature=1`, "169.254.169.254"],
    [`https://10.0.0.1/x.gz`, "10.0.0.1"],
    [`https://127.0.0.1:${recPort()}/x.gz`, `127.0.0.1:${recPort()}`],
    [`https://[::ffff:127.0.0.1]:${recPort()}/x.gz`, `[::ffff:7f00:1]:${recPort()}`],
    [`http://127.0.0.1:${recPort()}/x.gz`, `127.0.0.1:${recPort()}`],
    [`https://localhost:${recPort()}/x.gz`, `localhost:${recPort()}`],
  ];
  for (const [url, host] of cases) {
    await assert.rejects(f(url, { method: "GET", headers: {} }), (e) => {
      assert.equal(e.code, "E_INVALID_ARGUMENT");
      assert.equal(e.field, "fileLink");
      assert.ok(e.message.startsWith(`file link to host ${host} refused`), `${url}: ${e.message}`);
      assert.ok(!e.message.includes("X-Amz"), e.message);
      return true;
    });
  }
  assert.deepEqual(seen, [], "nothing reached the recorder");
});

for (const [label, origin, host] of [
  ["http://127.0.0.1:<recorder>", () => `http://127.0.0.1:${recPort()}`, () => `127.0.0.1:${recPort()}`],
  ["https://127.0.0.1:<recorder>", () => `https://127.0.0.1:${recPort()}`, () => `127.0.0.1:${recPort()}`],
  ["https://169.254.169.254", () => "https://169.254.169.254", () => "169.254.169.254"],
  ["https://10.0.0.1", () => "https://10.0.0.1", () => "10.0.0.1"],
  ["https://localhost:<recorder>", () => `https://localhost:${recPort()}`, () => `localhost:${recPort()}`],
]) {
  test(`CLI: presigned links to ${label} are refused while the API is the loopback sandbox; nothing reaches them`, async () => {
    await control(sb, "/__sandbox/config", { filesOrigin: origin() });
    const r = await runCli(exportArgs(), { env: env() });
    assertRefused(r, host(), origin());
    assert.equal(r.stdout.length, 0);
    assert.deepEqual(seen, []);
  });
}

test("CLI: each redirect hop is checked: the sandbox's own file link redirecting to another loopback port or to the metadata address is refused", async () => {
  for (const [location, host] of [
    [`http://127.0.0.1:${recPort()}/x.gz?X-Amz-Signature=2`, `127.0.0.1:${recPort()}`],
    ["https://169.254.169.254/latest/meta-data/", "169.254.169.254"],
  ]) {
    await control(sb, "/__sandbox/faults/clear", {});
    await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "redirect", status: 307, location, every: 1, times: 100 });
    const r = await runCli(exportArgs(), { env: env() });
    assertRefused(r, host, location);
  }
  assert.deepEqual(seen, []);
});

test("CLI: the base URL's own origin is exempt, and the flag or the variable widens the rule to a named host", async () => {
  const plain = await runCli(exportArgs(), { env: env() });
  assert.equal(plain.code, 0, plain.stderr);
  const events = plain.stdout.toString("utf8").split("\n").filter(Boolean).length;
  assert.ok(events > 0);

  // The same sandbox under another name: not the base URL's origin, and http.
  const other = `localhost:${sbPort()}`;
  await control(sb, "/__sandbox/config", { filesOrigin: `http://${other}` });
  assertRefused(await runCli(exportArgs(), { env: env() }), other, "no widening");
  const priv = await runCli(exportArgs("--allow-private-file-links"), { env: env() });
  assert.equal(priv.code, 2);
  assert.match(priv.stderr, /the link is http, not https/, "--allow-private-file-links still wants https");
  for (const [args, extraEnv] of [
    [["--allow-file-host", other], {}],
    [[], { EXPORTKIT_ALLOW_FILE_HOSTS: `example.org,${other}` }],
  ]) {
    const ok = await runCli(exportArgs(...args), { env: env(extraEnv) });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.toString("utf8").split("\n").filter(Boolean).length, events);
  }
});

test("CLI: an allowed file host gets a bare GET: never the API key", async () => {
  const host = `127.0.0.1:${recPort()}`;
  await control(sb, "/__sandbox/config", { filesOrigin: `http://${host}` });
  await runCli(exportArgs("--allow-file-host", host), { env: env() });
  assert.ok(seen.length > 0, "the allowed host was reached");
  for (const s of seen) {
    assert.equal(s.method, "GET");
    assert.equal(s.headers.authorization, undefined);
    assert.ok(!JSON.stringify(s).includes(apiKey));
  }
});
