// Shared by the dashboard's feature and accessibility page tests: a browser, the page opened
// with everything that should not happen recorded, the settings filled in, a query run.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = path.join(ROOT, "test-artifacts");
export const TIMEOUT = 30_000;

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export async function launchBrowser() {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
}

/**
 * Opens the dashboard (`hash` appended to its address) in a fresh context; `problems` collects
 * console errors, page errors, failed requests and CSP violations.
 */
export async function openPage(browser, siteUrl, { viewport = { width: 1280, height: 900 }, hash = "", colorScheme = "light", permissions = [] } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, viewport, colorScheme });
  if (permissions.length) await context.grantPermissions(permissions, { origin: siteUrl });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || /Content Security Policy/i.test(msg.text())) problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    // A streamed answer read to its end is sometimes reported as ERR_ABORTED: not a failure.
    if (req.failure()?.errorText !== "net::ERR_ABORTED") problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`);
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
  });
  const response = await page.goto(`${siteUrl}/www/${hash}`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.querySelector("#app-status.error-box"), null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#app-status.error-box").count(), 0, "the dashboard started");
  return { context, page, problems };
}

export async function assertClean(page, problems) {
  const csp = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual(csp, [], `no Content-Security-Policy violations:\n${csp.join("\n")}`);
  assert.deepEqual(problems, [], `no console errors, page errors or failed requests:\n${problems.join("\n")}`);
}

/** Fills the Backstory settings with the sandbox's address and credentials. */
export async function fillSettings(page, sandboxUrl) {
  const details = page.locator("details.settings");
  if (!(await details.evaluate((el) => el.open))) await page.locator("details.settings > summary").click();
  await page.getByTestId("settings-baseUrl").fill(sandboxUrl);
  await page.getByTestId("settings-clientId").fill(SANDBOX_CREDENTIALS.backstory.clientId);
  await page.getByTestId("settings-clientSecret").fill(SANDBOX_CREDENTIALS.backstory.clientSecret);
}

/** Puts `query` into the JSON editor (the form follows) and waits until it is valid. */
export async function setQuery(page, query) {
  await page.getByTestId("query-json").fill(JSON.stringify(query, null, 2));
  await page.getByTestId("validation-ok").waitFor({ timeout: TIMEOUT });
}

export async function queryJson(page) {
  return JSON.parse(await page.getByTestId("query-json").inputValue());
}

/** Runs the query in the editor and waits for the preview. */
export async function runQuery(page, timeout = TIMEOUT) {
  await page.getByTestId("run").click();
  await page.getByTestId("result-summary").waitFor({ timeout });
  await page.getByTestId("preview-table").waitFor({ timeout });
}
