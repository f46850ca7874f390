// Shared by the dashboard's page tests: a browser, the page opened with everything that should
// not happen recorded, the settings filled in, a query run, screenshots kept under
// test-artifacts/screenshots/, the axe-core check, and the phone-width check.
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = path.join(ROOT, "test-artifacts");
export const SCREENSHOTS = path.join(ARTIFACTS, "screenshots");
export const TIMEOUT = 30_000;
export const PHONE = { width: 390, height: 844 };
export const LAPTOP = { width: 1280, height: 900 };

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
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
}

/**
 * What a page test file runs against: the sandbox (on a free port, with `sandboxOptions`), the
 * static site serving the dashboard (its `config`, or `config(sandbox)` for one that points at
 * the sandbox) and a browser. For `before`; `closePageEnv` in `after` closes what started.
 */
export async function startPageEnv(sandboxOptions = {}, config = {}) {
  const env = {};
  try {
    env.sandbox = await startSandbox({ port: 0, ...sandboxOptions });
    const siteConfig = typeof config === "function" ? config(env.sandbox) : config;
    env.site = await startStatic({ root: ROOT, port: 0, config: siteConfig });
    env.browser = await launchBrowser();
    return env;
  } catch (e) {
    await closePageEnv(env);
    throw e;
  }
}

export async function closePageEnv({ browser, site, sandbox } = {}) {
  await browser?.close();
  await site?.close();
  await sandbox?.close();
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

/** Saves a screenshot as test-artifacts/screenshots/NAME.png (the test run keeps them). */
export async function screenshot(target, name, options = {}) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await target.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), ...options });
}

const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const BLOCKING = new Set(["serious", "critical"]);

/**
 * Runs axe-core on the page (or on `include`, a CSS selector) and returns { violations,
 * incomplete }, each as { id, impact, help, nodes: [selector...] }. The script goes in through
 * the DevTools protocol, which the page's Content-Security-Policy does not restrict.
 */
export async function axe(page, include = null) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (include) => {
    const res = await window.axe.run(include ? { include: [include] } : document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      resultTypes: ["violations", "incomplete"],
    });
    const brief = (v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 10) });
    return { violations: res.violations.map(brief), incomplete: res.incomplete.map(brief) };
  }, include);
}

export const blocking = (violations) => violations.filter((v) => BLOCKING.has(v.impact));
export const describeViolations = (violations) => violations.map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.join("\n    ")}`).join("\n");

/** Fails on any serious or critical axe violation in `include` (default: the whole page). */
export async function assertAccessible(page, what, include = null) {
  const { violations } = await axe(page, include);
  const bad = blocking(violations);
  assert.deepEqual(bad.map((v) => v.id), [], `${what}: serious or critical accessibility violations:\n${describeViolations(bad)}`);
  return violations;
}

/**
 * At phone width: the page does not scroll sideways and every visible control has an accessible
 * name; a screenshot of `include` (or the page) is kept. The viewport is put back afterwards.
 * (axe at phone width runs in a11y.test.mjs, on every panel.)
 */
export async function assertPhoneReady(page, name, include = null) {
  const before = page.viewportSize();
  await page.setViewportSize(PHONE);
  try {
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name}: the page does not scroll sideways at phone width (overflow ${overflow}px)`);
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => el.getClientRects().length > 0)
        .filter((el) => {
          const labels = el.labels ? [...el.labels].map((l) => l.textContent.trim()).join("") : "";
          return !(labels || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim()));
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    assert.deepEqual(unlabeled, [], `${name}: every control has a label`);
    await screenshot(include ? page.locator(include) : page, `${name}-phone`);
  } finally {
    await page.setViewportSize(before);
  }
}

/** Requests the page makes to `origin`, counted (a cancelled run must make no more). */
export function countRequests(page, origin) {
  const seen = [];
  page.on("request", (req) => {
    if (req.url().startsWith(origin)) seen.push(`${req.method()} ${req.url()}`);
  });
  return seen;
}

/** Waits `ms` and asserts that `seen` (from countRequests) did not grow meanwhile. */
export async function assertNoMoreRequests(page, seen, ms, what) {
  const at = seen.length;
  await page.waitForTimeout(ms);
  assert.deepEqual(seen.slice(at), [], `${what}: no request after Cancel`);
}
