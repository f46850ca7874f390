// Page test (issue 16 item 2, in Chromium): the wasm client's credentialed requests use
// `redirect: "manual"`, so a browser hands back an opaque redirect (no status, no Location) instead
// of following it. The client turns that into E_REDIRECT, and the second local server the
// redirect names records nothing: not the token exchange's secret, not a Userpilot API key.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";
import { assertClean, launchBrowser, openPage, ROOT } from "../page/page-helpers.mjs";

let sandbox;
let site;
let browser;
let recorder;
const seen = [];

before(async () => {
  sandbox = await startSandbox({ port: 0 });
  site = await startStatic({ root: ROOT, port: 0, config: {} });
  browser = await launchBrowser();
  recorder = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString("utf8")}`);
      res.writeHead(200, { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*", "Content-Type": "application/json" });
      res.end('{"access_token":"x","expires_in":3600}');
    });
  });
  await new Promise((r) => recorder.listen(0, "127.0.0.1", r));
});

after(async () => {
  await browser?.close();
  await site?.close();
  await sandbox?.close();
  await new Promise((r) => recorder.close(r));
});

async function fault(rule) {
  await fetch(`${sandbox.url}/__sandbox/faults/clear`, { method: "POST" });
  const r = await fetch(`${sandbox.url}/__sandbox/faults`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(rule) });
  assert.equal(r.status, 200);
}

test("Chromium: a 307 from the token endpoint and from a Userpilot call fail with E_REDIRECT; the other host sees nothing", async () => {
  const { context, page, problems } = await openPage(browser, site.url);
  const location = `http://127.0.0.1:${recorder.address().port}/steal?X-Amz-Signature=abc`;
  const run = (what) =>
    page.evaluate(
      async ({ what, base, creds }) => {
        const lib = await import("/js/index.js");
        await lib.default();
        try {
          if (what === "backstory") {
            await new lib.BackstoryClient({ baseUrl: base, ...creds.backstory }).query({ object: "account", columns: [{ slug: "ootb_account_name" }] });
          } else {
            await new lib.UserpilotClient({ baseUrl: base, apiKey: creds.userpilot.apiKey }).lookups.get("segments");
          }
          return { ok: true };
        } catch (e) {
          return { name: e.name, code: e.code, message: e.message, host: e.host ?? null, status: e.status ?? null };
        }
      },
      { what, base: sandbox.url, creds: SANDBOX_CREDENTIALS },
    );

  await fault({ scope: "token", fault: "redirect", status: 307, location, every: 1, times: 100 });
  const bs = await run("backstory");
  await fault({ scope: "userpilot.lookup", fault: "redirect", status: 307, location, every: 1, times: 100 });
  const up = await run("userpilot");
  await fetch(`${sandbox.url}/__sandbox/faults/clear`, { method: "POST" });
  for (const r of [bs, up]) {
    assert.equal(r.code, "E_REDIRECT", JSON.stringify(r));
    assert.equal(r.name, "ExportError");
    // The browser hides the Location of an opaque redirect: the message says so without a host.
    assert.match(r.message, /^the server answered with a redirect; exportkit does not follow redirects on requests that carry credentials$/);
    assert.equal(r.host, null);
  }
  assert.deepEqual(seen, [], "the recorder saw nothing");
  await assertClean(page, problems);
  await context.close();
});
