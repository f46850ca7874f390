// The dashboard served by the edge worker (workerd through miniflare), in headless Chromium: the
// page learns from /config.json to use the proxy, shows no credential inputs, runs a Query API
// export through the worker, and no secret appears in any request it makes, in its storage or in
// its DOM.
//
//   node --test tests/edge/

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { launchBrowser } from "../page/page-helpers.mjs";
import { ACCESS_KEY, callsToday, control, ROOT, sandboxSecrets, startEdge, startSandbox, truthCsv } from "./helpers.mjs";

const TIMEOUT = 30_000;
const ARTIFACTS = path.join(ROOT, "test-artifacts");

let sb;
let edge;
let browser;
const secrets = sandboxSecrets();

before(async () => {
  sb = await startSandbox({ jobSpeed: 50 });
  edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, USERPILOT_BASE_URL: sb.url, USERPILOT_FILES_BASE_URL: sb.url }, secrets });
  browser = await launchBrowser();
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await edge?.close();
  await sb?.close();
});

/** Every secret the worker holds, and anything that would betray one. */
function leaks(text) {
  const found = Object.entries(secrets)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => k);
  if (/access_token|bearer\s+[a-z0-9_-]{10,}/i.test(text)) found.push("a bearer token");
  return found;
}

/** Fills in the sign-in form; resolves to the dashboard's response once the page is back there. */
async function signInAtPage(page) {
  await page.getByTestId("signin-key").waitFor({ timeout: TIMEOUT });
  // The sign-in page runs no script and its one style block is allowed by hash: no violation.
  assert.deepEqual(await page.evaluate(() => window.__csp ?? []), [], "no CSP violation on the sign-in page");
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).maxWidth), "448px", "its style applied");
  await page.getByTestId("signin-key").fill(ACCESS_KEY);
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/www/" && r.request().isNavigationRequest(), { timeout: TIMEOUT }),
    page.getByTestId("signin-submit").click(),
  ]);
  await page.waitForURL((u) => u.pathname === "/www/", { timeout: TIMEOUT });
  return response;
}

/** Opens the dashboard through the worker, recording every request and every API answer. */
async function openPage(hash = "") {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const rec = { problems: [], requests: [], bodies: [] };
  page.on("console", (msg) => {
    if (msg.type() === "error") rec.problems.push(`console error: ${msg.text()}`);
  });
  page.on("pageerror", (e) => rec.problems.push(`page error: ${e.message}`));
  page.on("request", (req) => rec.requests.push(req));
  page.on("response", (res) => {
    const u = new URL(res.url());
    if (u.pathname.startsWith("/api/") || u.pathname === "/config.json") {
      rec.bodies.push(res.body().then((b) => ({ url: res.url(), headers: res.headers(), body: b.toString("latin1") }), () => null));
    }
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  // Closed by default: the root sends a person to the sign-in page, and the key, entered once,
  // brings them to the dashboard with a session cookie.
  const first = await page.goto(`${edge.url}/${hash}`);
  assert.equal(first.status(), 200);
  assert.equal(new URL(page.url()).pathname, "/signin", "a person who has not signed in is sent to the sign-in page");
  const response = await signInAtPage(page);
  assert.equal(response.status(), 200);
  assert.equal(new URL(page.url()).pathname, "/www/", "signing in leads to the dashboard");
  assert.match(response.headers()["content-security-policy"], /connect-src 'self'(;|$)/, "the page may talk to this origin only");
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.querySelector("#app-status.error-box"), null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#app-status.error-box").count(), 0, "the dashboard started");
  return { context, page, ...rec };
}

/** No secret in any request the page made, any API answer it read, its storage or its DOM. */
async function assertNoSecrets(page, { requests, bodies, problems }) {
  for (const req of requests) {
    const u = new URL(req.url());
    // The one request that carries the key: the person typing it into the sign-in form.
    if (u.pathname === "/signin" && req.method() === "POST") continue;
    assert.ok(u.origin === edge.url || u.protocol === "data:" || u.protocol === "blob:", `the page talks to its own origin only: ${req.url()}`);
    const headers = await req.allHeaders();
    assert.equal(headers.authorization, undefined, `no Authorization from the page: ${req.url()}`);
    assert.equal(headers["x-exportkit-key"], undefined);
    const sent = `${req.method()} ${req.url()}\n${JSON.stringify(headers)}\n${req.postData() ?? ""}`;
    assert.deepEqual(leaks(sent), [], `request ${req.url()}`);
  }
  for (const b of (await Promise.all(bodies)).filter(Boolean)) {
    assert.deepEqual(leaks(`${JSON.stringify(b.headers)}\n${b.body}`), [], `response ${b.url}`);
  }
  const seen = await page.evaluate(() => {
    const store = (s) => Object.keys(s).map((k) => `${k}=${s.getItem(k)}`).join("\n");
    const values = [...document.querySelectorAll("input, textarea, select")].map((el) => el.value).join("\n");
    return { local: store(localStorage), session: store(sessionStorage), dom: document.documentElement.outerHTML, values, cookies: document.cookie };
  });
  assert.deepEqual(leaks(seen.local), [], "localStorage");
  assert.deepEqual(leaks(seen.session), [], "sessionStorage");
  assert.deepEqual(leaks(seen.dom), [], "the DOM");
  assert.deepEqual(leaks(seen.values), [], "form values");
  assert.equal(seen.cookies, "");
  assert.ok(!seen.dom.includes(sb.url), "the page does not even learn the vendor's host");
  assert.deepEqual(await page.evaluate(() => window.__csp), [], "no Content-Security-Policy violation");
  assert.deepEqual(problems, [], "no console or page errors");
}

test("the dashboard through the worker: a query runs via the proxy and no secret reaches the page", { timeout: 180_000 }, async () => {
  await control(sb, "/__sandbox/reset");
  const opened = await openPage();
  const { context, page, requests, bodies } = opened;

  // Settings: nothing to fill in, no credential input on show.
  if (!(await page.locator("details.settings").evaluate((el) => el.open))) await page.locator("details.settings > summary").click();
  for (const id of ["settings-baseUrl", "settings-clientId", "settings-clientSecret"]) {
    assert.equal(await page.getByTestId(id).isVisible(), false, `${id} is hidden behind the worker`);
  }
  assert.equal(await page.getByTestId("settings-remember").isVisible(), false, "nothing to remember");
  assert.match(await page.getByTestId("settings-summary").textContent(), /Backstory: via this site's edge worker/);

  // A query through the form, run through the proxy.
  const query = { object: "account", columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_industry" }] };
  await page.getByTestId("query-object").selectOption("account");
  await page.getByTestId("reset-query").click();
  while ((await page.locator("[data-testid='columns'] > li").count()) < query.columns.length) await page.getByTestId("add-column").click();
  while ((await page.locator("[data-testid='columns'] > li").count()) > query.columns.length) {
    await page.getByTestId(`column-remove-${query.columns.length}`).click();
  }
  for (const [i, c] of query.columns.entries()) {
    await page.getByTestId(`column-slug-${i}`).fill(c.slug);
    await page.getByTestId(`column-period-${i}`).selectOption("");
  }
  assert.deepEqual(JSON.parse(await page.getByTestId("query-json").inputValue()), query);
  await page.getByTestId("validation-ok").waitFor({ timeout: TIMEOUT });
  await page.getByTestId("run").click();
  await page.getByTestId("result-summary").waitFor({ timeout: TIMEOUT });
  const truth = await truthCsv(sb, query);
  // The file as received (the panel's default guards formula-like cells for spreadsheets).
  if (await page.getByTestId("download-keep-raw").count()) await page.getByTestId("download-keep-raw").check();
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId("download-csv").click()]);
  assert.equal(await readFile(await download.path(), "utf8"), truth, "the CSV from the worker is exactly the sandbox's");
  assert.equal(await callsToday(sb), 1, "one Query API call");
  assert.equal(JSON.parse(await (await edge.limits()).queryQuota()).used, 1, "counted by the worker too");
  await page.screenshot({ path: path.join(ARTIFACTS, "edge-page-query.png"), fullPage: true });

  // No secret anywhere the page can see or send.
  const apiCalls = requests.filter((r) => new URL(r.url()).pathname.startsWith("/api/"));
  assert.ok(apiCalls.some((r) => r.url().endsWith("/api/backstory/v3/beta/insights/export")), "the export went through the proxy");
  const config = JSON.parse((await Promise.all(bodies)).find((b) => b && b.url.endsWith("/config.json")).body);
  assert.deepEqual(config, { proxyUrl: "/api/backstory", userpilotProxyUrl: "/api/userpilot" });
  await assertNoSecrets(page, opened);

  // The session is what lets the page in: the same call without it is refused, whatever it claims.
  const cross = await fetch(`${edge.url}/api/backstory/pull/v1/export/activities/jobs`, { headers: { Origin: edge.url, "Sec-Fetch-Site": "same-origin" } });
  assert.equal(cross.status, 401);
  assert.ok(!(await cross.text()).includes(ACCESS_KEY));

  await context.close();
});

test("every other panel runs through the worker too: Forecasts, a Userpilot export (its files via the worker), a lookup", { timeout: 180_000 }, async () => {
  await control(sb, "/__sandbox/reset");
  const opened = await openPage();
  const { context, page, requests } = opened;

  // Forecasts: a query of the default period, the record count as the sandbox's truth says.
  await page.getByTestId("tab-forecasts").click();
  await page.getByTestId("fc-type").fill("10089");
  await page.getByTestId("fc-per-page").fill("25");
  await page.getByTestId("fc-validation-ok").waitFor({ timeout: TIMEOUT });
  const wire = JSON.parse(await page.getByTestId("fc-json").textContent());
  const fc = await (await fetch(`${sb.url}/__sandbox/truth/forecasting`, { method: "POST", body: JSON.stringify(wire) })).json();
  assert.ok(fc.total > 0);
  await page.getByTestId("fc-run").click();
  await page.getByTestId("fc-summary").waitFor({ timeout: TIMEOUT });
  assert.match(await page.getByTestId("fc-summary").textContent(), new RegExp(`^${fc.total} records`));

  // Userpilot: an export whose presigned files come through /api/userpilot-files/.
  await page.getByTestId("tab-userpilot").click();
  await page.getByTestId("up-from").fill("2024-01-01");
  await page.getByTestId("up-to").fill("2024-01-10");
  const body = JSON.parse(await page.getByTestId("up-params").textContent());
  await page.getByTestId("up-run").click();
  await page.waitForSelector('[data-testid="up-summary"], [data-testid="up-error"]', { timeout: 60_000 });
  assert.equal(await page.getByTestId("up-error").count(), 0, await page.getByTestId("up-result").textContent());
  const q = { from: body.from, to: body.to };
  if (body.event_type) q.event_type = body.event_type.join(",");
  const want = (await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?${new URLSearchParams(q)}`)).text()).split("\n").filter(Boolean);
  assert.ok(want.length > 0);
  assert.match(await page.getByTestId("up-summary").textContent(), new RegExp(`^${want.length.toLocaleString("en-US")} events`));
  assert.ok(requests.some((r) => new URL(r.url()).pathname.startsWith("/api/userpilot-files/")), "the files came through the worker");

  // A lookup.
  const embeds = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/lookups/embeds`)).json();
  await page.getByTestId("up-lookup-name").selectOption("embeds");
  await page.getByTestId("up-lookup-load").click();
  await page.getByTestId("up-lookup-summary").waitFor({ timeout: TIMEOUT });
  assert.match(await page.getByTestId("up-lookup-summary").textContent(), new RegExp(`^embeds: ${embeds.length} items`));
  await page.screenshot({ path: path.join(ARTIFACTS, "edge-page-userpilot.png"), fullPage: true });

  await assertNoSecrets(page, opened);
  await context.close();
});

test("a session that ends while the page is open sends the person to sign in, and back", { timeout: 120_000 }, async () => {
  const { context, page } = await openPage();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "__Host-exportkit_session");
  assert.ok(session, "the session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(session.expires > Date.now() / 1000 && session.expires <= Date.now() / 1000 + 12 * 3600 + 60, "it expires within 12 hours");
  await context.clearCookies();
  // Any call of the page (through the page's fetch, as the panels and the wasm client make them)
  // now meets a 401 marked by the worker.
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/signin", { timeout: TIMEOUT }),
    page.evaluate(() => fetch("/api/userpilot/api/v1/analytics/exports/lookups/embeds").then((r) => r.status)),
  ]);
  assert.equal(new URL(page.url()).searchParams.get("next"), "/www/");
  // A wrong key gets the form again, the key not echoed.
  await page.getByTestId("signin-key").fill("not-the-key-at-all-000");
  await page.getByTestId("signin-submit").click();
  await page.getByTestId("signin-error").waitFor({ timeout: TIMEOUT });
  assert.ok(!(await page.content()).includes("not-the-key-at-all-000"));
  await signInAtPage(page);
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });
  await context.close();
});
