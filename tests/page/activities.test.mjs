// Page test: the dashboard's Activities panel in headless Chromium against the sandbox. Plans a
// long range (shown before any call), runs it, watches every job reach Completed and every
// fragment bar fill, checks the preview and both downloads (JSON Lines byte for byte, CSV row for
// row) against the sandbox's ground truth, a validation error without a request, a failed job
// named in the page, and no console error or CSP violation.
//
//   node --test tests/page/activities.test.mjs   (screenshot: test-artifacts/page-activities.png)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startSandbox, SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";
import { readCsv } from "../js/helpers.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const TIMEOUT = 30_000;

let sandbox;
let site;
let browser;

before(async () => {
  sandbox = await startSandbox({ port: 0, seed: 5, activities: 4000, fragmentRecords: 50, jobSpeed: 10 });
  site = await startStatic({ root: ROOT, port: 0, config: {} });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    headless: true,
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await sandbox?.close();
});

const truth = async (q) => (await fetch(`${sandbox.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).text();
const post = (p, body) => fetch(`${sandbox.url}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });

async function openPage() {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || /Content Security Policy/i.test(msg.text())) problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", (req) => requests.push(req.url()));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const response = await page.goto(`${site.url}/www/#activities`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.querySelector("#app-status.error-box"), null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#app-status.error-box").count(), 0, "the dashboard started");
  return { context, page, problems, requests };
}

async function download(page) {
  const [d] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId("act-download").click()]);
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), "utf8") };
}

test("Activities panel: plan, run, job states, fragment bars, preview, downloads, errors", { timeout: 120_000 }, async () => {
  await post("/__sandbox/reset");
  const { context, page, problems, requests } = await openPage();

  const settings = page.locator("details.settings");
  if (!(await settings.evaluate((el) => el.open))) await page.locator("details.settings > summary").click();
  await page.getByTestId("settings-baseUrl").fill(sandbox.url);
  await page.getByTestId("settings-clientId").fill(SANDBOX_CREDENTIALS.backstory.clientId);
  await page.getByTestId("settings-clientSecret").fill(SANDBOX_CREDENTIALS.backstory.clientSecret);
  await page.getByTestId("tab-activities").click();
  assert.equal(await page.getByTestId("tab-activities").getAttribute("aria-selected"), "true");

  // ---------------------------------------------------------- a validation error makes no call
  const before = requests.length;
  await page.getByTestId("act-start").fill("2024-02-10");
  await page.getByTestId("act-end").fill("2024-02-01");
  await page.getByTestId("act-plan-error").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("act-plan-error").getAttribute("data-field"), "endDate");
  await page.getByTestId("act-run").click();
  assert.equal(requests.filter((u, i) => i >= before && /\/pull\/|\/v3\/auth\//.test(u)).length, 0, "no request for an invalid form");

  // ---------------------------------------------------------- JSON Lines over three windows
  await page.getByTestId("act-start").fill("2024-01-01");
  await page.getByTestId("act-end").fill("2024-02-05");
  assert.match(await page.getByTestId("act-plan-text").textContent(), /3 jobs of at most 14 days: 2024-01-01 to 2024-02-05/);
  await page.getByTestId("act-format").selectOption("jsonl");
  await page.getByTestId("act-concurrency").fill("3");
  await page.getByTestId("act-run").click();
  await page.getByTestId("act-summary").waitFor({ timeout: TIMEOUT });
  for (let i = 0; i < 3; i += 1) {
    assert.equal(await page.getByTestId(`act-job-state-${i}`).textContent(), "Completed");
    assert.match(await page.getByTestId(`act-job-id-${i}`).textContent(), /^[0-9a-f-]{36}$/);
  }
  const frags = page.locator("[data-testid^='act-fragment-']");
  assert.ok((await frags.count()) >= 2, "the last job's fragments are listed");
  assert.deepEqual(new Set(await frags.evaluateAll((els) => els.map((e) => e.dataset.state))), new Set(["done"]));
  assert.deepEqual(new Set(await frags.locator("progress").evaluateAll((els) => els.map((e) => e.value))), new Set([1]));
  const jsonl = await truth({ start_date: "2024-01-01", end_date: "2024-02-05" });
  const records = jsonl.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.match(await page.getByTestId("act-summary").textContent(), new RegExp(`^${records.length.toLocaleString("en-US")} records · 3 jobs`));
  const preview = await page.getByTestId("act-preview").textContent();
  assert.ok(preview.includes(`"uid": "${records[0].uid}"`) && preview.includes(records[1].subject), "the preview shows the first records as text");
  const d1 = await download(page);
  assert.match(d1.name, /^activities-2024-01-01-2024-02-05-\d{4}-\d{2}-\d{2}\.jsonl$/);
  assert.equal(d1.text, jsonl, "the JSON Lines download is the truth byte for byte");
  await page.screenshot({ path: path.join(ARTIFACTS, "page-activities.png"), fullPage: true });

  // ---------------------------------------------------------- CSV, one row per participant
  await page.getByTestId("act-start").fill("2024-03-01");
  await page.getByTestId("act-end").fill("2024-03-04");
  await page.getByTestId("act-type").selectOption("meeting");
  await page.getByTestId("act-format").selectOption("csv");
  await page.getByTestId("act-explode").check();
  await page.getByTestId("act-run").click();
  await page.getByTestId("act-summary").filter({ hasText: "CSV rows" }).waitFor({ timeout: TIMEOUT });
  const meetings = (await truth({ start_date: "2024-03-01", end_date: "2024-03-04", activity_type: "meeting" })).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const d2 = await download(page);
  assert.match(d2.name, /\.csv$/);
  const rows = readCsv(d2.text);
  const h = rows[0];
  const [uid, name] = [h.indexOf("uid"), h.indexOf("participants.name")];
  assert.deepEqual(
    rows.slice(1).map((r) => [r[uid], r[name]]),
    meetings.flatMap((m) => m.participants.map((p) => [m.uid, p.name ?? ""])),
  );
  assert.match(await page.getByTestId("act-preview").textContent(), /^uid,source_id,type,/);

  // ---------------------------------------------------------- a failed job is named
  await post("/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 1 });
  await page.getByTestId("act-run").click();
  await page.getByTestId("act-error").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("act-error").getAttribute("data-code"), "E_JOB_FAILED");
  const jobId = await page.getByTestId("act-job-id-0").textContent();
  assert.match(await page.getByTestId("act-error").textContent(), new RegExp(`job ${jobId} as Failed`));
  assert.equal(await page.getByTestId("act-job-state-0").textContent(), "Failed");

  const csp = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual(csp, []);
  assert.deepEqual(problems, []);
  await context.close();
});
