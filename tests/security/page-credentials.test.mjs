// Page test (issue 16 item 3): remembered credentials belong to the base URL they were entered
// for. Before, the dashboard honoured ?baseUrl= from a link while filling in the secret this
// browser remembered, so a link from someone else sent the client secret to their host. Here the
// credentials are remembered for the sandbox, then the page is opened with ?baseUrl= naming a
// recording server on another loopback port: no secret is filled in, a notice says why, a run
// reaches nothing, and the remembered credentials are still there for the sandbox.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";
import { fillSettings, launchBrowser, openPage, ROOT, setQuery, TIMEOUT } from "../page/page-helpers.mjs";

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
      seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${Buffer.concat(chunks).toString("utf8")}`);
      // Answers as a permissive API would, so a request the page makes is never blocked by CORS.
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

const QUERY = { object: "account", columns: [{ slug: "ootb_account_name" }] };

test("a link's ?baseUrl= to another host opens with no secret filled in, says why, and the run sends the secret nowhere", async () => {
  const { context, page } = await openPage(browser, site.url);
  await fillSettings(page, sandbox.url);
  await page.getByTestId("settings-userpilotBaseUrl").fill(sandbox.url);
  await page.getByTestId("settings-userpilotApiKey").fill(SANDBOX_CREDENTIALS.userpilot.apiKey);
  await page.getByTestId("settings-remember").check();
  const stored = await page.evaluate(() => localStorage.getItem("exportkit.settings.v1"));
  assert.ok(stored.includes(SANDBOX_CREDENTIALS.backstory.clientSecret), "remembered for the sandbox");

  const evil = `http://127.0.0.1:${recorder.address().port}`;
  const linked = await context.newPage();
  await linked.goto(`${site.url}/www/?baseUrl=${encodeURIComponent(evil)}&userpilotBaseUrl=${encodeURIComponent(evil + "/")}#query`);
  await linked.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });

  assert.equal(await linked.getByTestId("settings-baseUrl").inputValue(), evil);
  assert.equal(await linked.getByTestId("settings-clientId").inputValue(), "");
  assert.equal(await linked.getByTestId("settings-clientSecret").inputValue(), "");
  assert.equal(await linked.getByTestId("settings-userpilotApiKey").inputValue(), "");
  const notice = linked.getByTestId("settings-link-notice");
  assert.ok(await notice.isVisible(), "the notice is shown");
  const text = await notice.textContent();
  const sandboxHost = new URL(sandbox.url).host;
  assert.match(text, new RegExp(`Backstory at 127\\.0\\.0\\.1:${recorder.address().port}`));
  assert.ok(text.includes(`belong to ${sandboxHost}`), text);
  assert.match(text, /Userpilot/);
  assert.ok(!text.includes(SANDBOX_CREDENTIALS.backstory.clientSecret));

  // A run: the page asks for credentials instead of calling anything.
  await setQuery(linked, QUERY);
  await linked.getByTestId("run").click();
  await linked.waitForTimeout(500);
  const secrets = [SANDBOX_CREDENTIALS.backstory.clientSecret, SANDBOX_CREDENTIALS.backstory.clientId, SANDBOX_CREDENTIALS.userpilot.apiKey];
  for (const s of seen) for (const secret of secrets) assert.ok(!s.includes(secret), `the recorder saw a credential: ${s}`);
  // The page may read the sandbox catalog there (a GET with no credential); nothing else.
  for (const s of seen) assert.match(s, /^GET \/__sandbox\/catalog /, `only the credential-free catalog read: ${s}`);
  for (const s of seen) assert.ok(!/authorization/i.test(s), s);

  // Typing into the form in the linked tab does not erase what this device remembers.
  await linked.getByTestId("settings-clientId").fill("someone-else");
  assert.equal(await linked.evaluate(() => localStorage.getItem("exportkit.settings.v1")), stored);

  // Opened without the link (or with the same base URL, trailing slash and all), the remembered
  // credentials are filled in as before and there is no notice.
  for (const q of ["", `?baseUrl=${encodeURIComponent(sandbox.url + "/")}`]) {
    const own = await context.newPage();
    await own.goto(`${site.url}/www/${q}`);
    await own.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });
    assert.equal(await own.getByTestId("settings-clientSecret").inputValue(), SANDBOX_CREDENTIALS.backstory.clientSecret, q);
    assert.equal(await own.getByTestId("settings-link-notice").isVisible(), false, q);
    await own.close();
  }

  // The query's share link carries the query only: no credential, no base URL.
  const page2 = await context.newPage();
  await page2.goto(`${site.url}/www/#query`);
  await page2.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });
  await setQuery(page2, QUERY);
  await page2.getByTestId("copy-share-link").click();
  await page2.getByTestId("share-output").waitFor({ timeout: TIMEOUT });
  const share = await page2.getByTestId("share-output").inputValue();
  assert.ok(share.startsWith(`${site.url}/www/#query=`), share);
  for (const secret of secrets) assert.ok(!share.includes(secret));
  await context.close();
});

test("credentials from /config.json are bound to its base URL the same way", async () => {
  const cfgSite = await startStatic({ root: ROOT, port: 0, config: { baseUrl: sandbox.url, ...SANDBOX_CREDENTIALS.backstory } });
  try {
    const evil = `http://127.0.0.1:${recorder.address().port}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${cfgSite.url}/www/?baseUrl=${encodeURIComponent(evil)}`);
    await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });
    assert.equal(await page.getByTestId("settings-clientSecret").inputValue(), "");
    assert.ok(await page.getByTestId("settings-link-notice").isVisible());
    await context.close();
  } finally {
    await cfgSite.close();
  }
  for (const s of seen) assert.ok(!s.includes(SANDBOX_CREDENTIALS.backstory.clientSecret), s);
});
