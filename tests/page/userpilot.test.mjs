// Page test: the dashboard's Userpilot panel in headless Chromium (playwright-core) against the
// sandbox. Validation before any call, segments picked from the lookup, an export run to the end
// with its download compared to the sandbox's ground truth (JSON Lines and CSV), the 409 both
// ways, the lookups browser with cursor pages, the key kept out of storage, and no console error
// or Content-Security-Policy violation. Screenshot: test-artifacts/page-userpilot.png.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startSandbox, SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const TIMEOUT = 30_000;
const KEY = SANDBOX_CREDENTIALS.userpilot.apiKey;

let sandbox;
let site;
let browser;

before(async () => {
  sandbox = await startSandbox({ port: 0, jobSpeed: 40, eventsPerDay: 60 });
  site = await startStatic({ root: ROOT, port: 0, config: { userpilotBaseUrl: sandbox.url, userpilotApiKey: KEY } });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
    headless: true,
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await sandbox?.close();
});

const sb = async (method, p, body) => {
  const r = await fetch(`${sandbox.url}${p}`, { method, headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined });
  assert.ok(r.ok, `${method} ${p} -> ${r.status}`);
  return r;
};
const truthLines = async (q) => (await (await sb("GET", `/__sandbox/truth/userpilot/events?${new URLSearchParams(q)}`)).text()).split("\n").filter(Boolean);
const jobsMade = async () => {
  const s = (await (await sb("GET", "/__sandbox/state")).json()).userpilotJobs;
  return s.in_progress + s.completed + s.failed;
};

function readCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') (field += '"'), i++;
        else q = false;
      } else field += c;
    } else if (c === '"') q = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      if (c === "\r") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length) row.push(field), rows.push(row);
  return rows;
}

async function openPage() {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    // The browser logs every non-2xx answer; the 409s are the ones this test provokes.
    if (/status of 409/.test(m.text())) return;
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(`${site.url}/www/#userpilot`);
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });
  return { context, page, problems };
}

async function runExport(page) {
  await page.getByTestId("up-run").click();
  await page.waitForSelector('[data-testid="up-summary"], [data-testid="up-error"]', { timeout: TIMEOUT });
}

async function download(page) {
  const [d] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId("up-download").click()]);
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), "utf8") };
}

test("Userpilot panel: validate, pick, export, download, 409, lookups", { timeout: 180_000 }, async () => {
  await sb("POST", "/__sandbox/reset");
  const { context, page, problems } = await openPage();
  await page.getByTestId("tab-userpilot").click();

  // ---------------------------------------------------------- validation before any call
  await page.getByTestId("up-from").fill("2024-02-10");
  await page.getByTestId("up-to").fill("2024-02-01");
  await page.getByTestId("up-run").click();
  const err = page.getByTestId("up-error");
  await err.waitFor({ timeout: TIMEOUT });
  assert.equal(await err.getAttribute("data-code"), "E_INVALID_ARGUMENT");
  assert.match(await err.textContent(), /^to: /);
  assert.equal(await jobsMade(), 0, "no job was started");

  // ---------------------------------------------------------- segments from the lookup
  const segments = await (await sb("GET", "/__sandbox/truth/userpilot/lookups/segments")).json();
  const live = segments.filter((s) => !s.is_archived);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="up-segment"] option').length === n + 1, live.length, { timeout: TIMEOUT });
  const userSegment = live.find((s) => s.type === "user");

  // ---------------------------------------------------------- an export, JSON Lines
  await page.getByTestId("up-from").fill("2024-01-01");
  await page.getByTestId("up-to").fill("2024-01-21");
  await page.getByTestId("up-type-identify_company").uncheck();
  await page.getByTestId("up-type-interaction").uncheck();
  await page.getByTestId("up-segment").selectOption(String(userSegment.id));
  const body = JSON.parse(await page.getByTestId("up-params").textContent());
  assert.deepEqual(body, {
    from: "2024-01-01", to: "2024-01-21", format: "json", segment_id: String(userSegment.id),
    event_type: ["identify_user", "page_view", "track", "track_feature"],
  });
  await runExport(page);
  const summary = await page.getByTestId("up-summary").textContent();
  const want = await truthLines({ from: "2024-01-01", to: "2024-01-21", event_type: body.event_type.join(","), segment_id: userSegment.id });
  assert.ok(want.length > 0);
  assert.match(summary, new RegExp(`^${want.length.toLocaleString("en-US")} events · 3 files`));
  assert.equal(await page.getByTestId("up-preview").locator("tbody tr").count(), Math.min(100, want.length));
  const json = await download(page);
  assert.match(json.name, /^userpilot-[0-9a-f-]{36}\.jsonl$/);
  assert.deepEqual(json.text.split("\n").filter(Boolean).map((l) => JSON.parse(l)), want.map((l) => JSON.parse(l)));
  await page.screenshot({ path: path.join(ARTIFACTS, "page-userpilot.png"), fullPage: true });

  // Users seen in that export can be picked with one click.
  const chip = page.getByTestId("up-seen-users").locator("button").first();
  const chosen = await chip.textContent();
  await chip.click();
  assert.equal(await page.getByTestId("up-users").inputValue(), chosen);
  await page.getByTestId("up-users").fill("");

  // ---------------------------------------------------------- CSV, and the 409 both ways
  const running = await (await fetch(`${sandbox.url}/api/v1/analytics/exports/`, {
    method: "POST",
    headers: { Authorization: `Token ${KEY}`, "Content-Type": "application/json" },
    // 300 monthly partitions: minutes at this job speed; the test ends it once the page waits.
    body: JSON.stringify({ from: "2000-01-01", to: "2024-12-31" }),
  })).json();
  await page.getByTestId("up-segment").selectOption("");
  await page.getByTestId("up-format").selectOption("csv");
  await page.getByTestId("up-from").fill("2024-03-04");
  await page.getByTestId("up-to").fill("2024-03-10");
  await runExport(page);
  const conflict = page.getByTestId("up-error");
  assert.equal(await conflict.getAttribute("data-code"), "E_CONFLICT");
  assert.match(await conflict.textContent(), new RegExp(running.job_id));
  await page.getByTestId("up-wait").check();
  await page.getByTestId("up-run").click();
  await page.waitForFunction(() => /waiting for it to end/.test(document.querySelector('[data-testid="up-progress"]')?.textContent || ""), null, { timeout: TIMEOUT });
  await sb("POST", `/__sandbox/jobs/${running.job_id}/complete`, {});
  await page.waitForSelector('[data-testid="up-summary"], [data-testid="up-error"]', { timeout: TIMEOUT });
  assert.equal(await page.getByTestId("up-error").count(), 0, "waited for the running job, then exported");
  const csv = await download(page);
  const rows = readCsv(csv.text);
  const fileRows = readCsv(await (await sb("GET", `/__sandbox/truth/userpilot/events?${new URLSearchParams({ job_id: /userpilot-(.*)\.csv/.exec(csv.name)[1], file: "2024-03-04.csv.gz", raw: "1" })}`)).text());
  assert.deepEqual(rows, fileRows);

  // ---------------------------------------------------------- the lookups browser
  await page.getByTestId("up-lookup-name").selectOption("events_properties");
  await page.getByTestId("up-lookup-limit").fill("30");
  await page.getByTestId("up-lookup-load").click();
  await page.getByTestId("up-lookup-summary").waitFor();
  assert.match(await page.getByTestId("up-lookup-summary").textContent(), /events_properties: 30 items shown of 140/);
  await page.getByTestId("up-lookup-next").click();
  await page.waitForFunction(() => /60 items/.test(document.querySelector('[data-testid="up-lookup-summary"]')?.textContent || ""), null, { timeout: TIMEOUT });
  await page.getByTestId("up-lookup-all").click();
  await page.waitForFunction(() => /all 5 pages walked/.test(document.querySelector('[data-testid="up-lookup-summary"]')?.textContent || ""), null, { timeout: TIMEOUT });
  assert.equal(await page.getByTestId("up-lookup-table").locator("tbody tr").count(), 140);
  const truthProps = await (await sb("GET", "/__sandbox/truth/userpilot/lookups/events_properties")).json();
  assert.equal(await page.getByTestId("up-lookup-table").locator("tbody tr").last().locator("td").nth(5).textContent(), String(truthProps[139].id));
  await page.getByTestId("up-lookup-name").selectOption("embeds");
  await page.getByTestId("up-lookup-load").click();
  await page.waitForFunction(() => /^embeds: /.test(document.querySelector('[data-testid="up-lookup-summary"]')?.textContent || ""), null, { timeout: TIMEOUT });
  const embeds = await (await sb("GET", "/__sandbox/truth/userpilot/lookups/embeds")).json();
  assert.equal(await page.getByTestId("up-lookup-table").locator("tbody tr").count(), embeds.length);

  // ---------------------------------------------------------- secrets stay in memory
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!stored.includes(KEY), "the key is not in storage unless remembered");

  assert.deepEqual(await page.evaluate(() => window.__csp), []);
  assert.deepEqual(problems, []);
  await context.close();
});
