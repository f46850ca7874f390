// Page test: the dashboard's Userpilot panel in headless Chromium (playwright-core) against the
// sandbox. Validation before any call, segments picked from the lookup, an export run to the end
// with per-file progress, its table, its chart of events per day by type and its downloads
// compared to the sandbox's ground truth (JSON Lines and CSV), the curl without the key, the 409
// both ways, the lookups browser with cursor pages, Cancel that really stops the requests, the
// key kept out of storage, axe-core at laptop and phone width, and no console error or
// Content-Security-Policy violation. Screenshots: test-artifacts/screenshots/userpilot*.png.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { readCsv } from "../js/helpers.mjs";
import { ROOT, TIMEOUT, assertAccessible, assertNoMoreRequests, assertPhoneReady, countRequests, screenshot, closePageEnv, startPageEnv } from "./page-helpers.mjs";

const KEY = SANDBOX_CREDENTIALS.userpilot.apiKey;
const DAY_MS = 86_400_000;

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv({ jobSpeed: 40, eventsPerDay: 60 }, (sandbox) => ({ userpilotBaseUrl: sandbox.url, userpilotApiKey: KEY }))));

after(() => closePageEnv({ browser, site, sandbox }));

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

async function download(page, testid) {
  const [d] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId(testid).click()]);
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), "utf8") };
}

const byDayType = (a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1);
/** The chart's bar segments as [day, type, count]. */
async function chartBars(page) {
  const bars = await page.locator("[data-testid='up-chart-svg'] rect[data-category]").evaluateAll((rs) => rs.map((r) => [r.dataset.category, r.dataset.series, Number(r.dataset.count)]));
  return bars.sort(byDayType);
}
/** What the truth says the bars are: events per UTC day of inserted_at (microseconds) and type. */
function truthBars(events) {
  const m = new Map();
  for (const e of events) {
    const k = `${new Date(Math.floor(e.inserted_at / 1000 / DAY_MS) * DAY_MS).toISOString().slice(0, 10)}|${e.event_type}`;
    m.set(k, (m.get(k) || 0) + 1);
  }
  return [...m].map(([k, n]) => [...k.split("|"), n]).sort(byDayType);
}

test("Userpilot panel: validate, pick, export, per-file progress, table, chart, downloads, curl, 409, lookups, cancel", { timeout: 180_000 }, async () => {
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
  // Per file: every file done, their events adding up to the whole.
  const fileEvents = await page.locator("[data-testid^='up-file-events-']").allTextContents();
  assert.equal(fileEvents.length, 3);
  assert.equal(fileEvents.reduce((s, x) => s + Number(x.replace(/\D/g, "")), 0), want.length);
  assert.deepEqual(new Set(await page.locator("[data-testid='up-files'] li").evaluateAll((ls) => ls.map((l) => l.dataset.state))), new Set(["done"]));
  // The table holds every event (only those on screen in the DOM), in the order they came.
  const events = want.map((l) => JSON.parse(l));
  assert.equal(await page.getByTestId("up-preview").getAttribute("data-row-count"), String(want.length));
  const ids = await page.locator("[data-testid='up-preview'] tbody tr").evaluateAll((trs) => trs.map((tr) => tr.children[8].textContent));
  assert.ok(ids.length >= 10 && ids.length < 60, `only the visible rows are in the DOM (${ids.length})`);
  assert.deepEqual(ids, events.slice(0, ids.length).map((e) => e.internal_event_id));
  // The chart: events per day by type, as the truth says.
  assert.deepEqual(await chartBars(page), truthBars(events), "events per day by type");
  assert.deepEqual(
    await page.locator("[data-testid='up-chart-legend'] li").evaluateAll((ls) => ls.map((l) => l.dataset.series)),
    body.event_type.filter((ty) => events.some((e) => e.event_type === ty)),
  );
  const json = await download(page, "up-download-jsonl");
  assert.match(json.name, /^exportkit-userpilot-[0-9a-f-]{36}-\d{4}-\d{2}-\d{2}\.jsonl$/);
  assert.deepEqual(json.text.split("\n").filter(Boolean).map((l) => JSON.parse(l)), events);
  // curl: the request that started the job, the key left to the shell.
  await page.getByTestId("up-download-curl").click();
  await page.getByTestId("up-download-curl-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });
  const curl = await page.getByTestId("up-download-curl-output").inputValue();
  assert.ok(curl.includes(`'${sandbox.url}/api/v1/analytics/exports/'`) && curl.includes(`--data-raw '${JSON.stringify(body)}'`), curl);
  assert.ok(curl.includes("Authorization: Token $USERPILOT_API_KEY") && !curl.includes(KEY), "the key stays a shell variable");
  await screenshot(page, "userpilot", { fullPage: true });
  await page.getByTestId("up-chart").screenshot({ path: `${ROOT}/test-artifacts/screenshots/userpilot-chart.png` });
  await assertAccessible(page, "Userpilot panel with a result", "#panel-userpilot");
  await assertPhoneReady(page, "userpilot", "#panel-userpilot");

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
  await page.getByTestId("up-download-keep-raw").check();
  const csv = await download(page, "up-download-csv");
  const rows = readCsv(csv.text);
  const jobId = /^exportkit-userpilot-(.+)-\d{4}-\d{2}-\d{2}\.csv$/.exec(csv.name)[1];
  const fileRows = readCsv(await (await sb("GET", `/__sandbox/truth/userpilot/events?${new URLSearchParams({ job_id: jobId, file: "2024-03-04.csv.gz", raw: "1" })}`)).text());
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
  assert.equal(await page.getByTestId("up-lookup-table").getAttribute("data-row-count"), "140");
  const truthProps = await (await sb("GET", "/__sandbox/truth/userpilot/lookups/events_properties")).json();
  // The last item, reached with the keyboard (End) in the virtualised table.
  await page.getByTestId("up-lookup-table-scroll").focus();
  await page.keyboard.press("End");
  await page.waitForFunction(() => document.querySelector("[data-testid='up-lookup-table'] tbody tr:last-child th")?.textContent === "140", null, { timeout: TIMEOUT });
  assert.equal(await page.getByTestId("up-lookup-table").locator("tbody tr").last().locator("td").nth(5).textContent(), String(truthProps[139].id));
  await page.getByTestId("up-lookup-name").selectOption("embeds");
  await page.getByTestId("up-lookup-load").click();
  await page.waitForFunction(() => /^embeds: /.test(document.querySelector('[data-testid="up-lookup-summary"]')?.textContent || ""), null, { timeout: TIMEOUT });
  const embeds = await (await sb("GET", "/__sandbox/truth/userpilot/lookups/embeds")).json();
  assert.equal(await page.getByTestId("up-lookup-table").getAttribute("data-row-count"), String(embeds.length));

  // ---------------------------------------------------------- Cancel stops the requests
  const requests = countRequests(page, sandbox.url);
  await page.getByTestId("up-format").selectOption("json");
  await page.getByTestId("up-from").fill("2001-01-01");
  await page.getByTestId("up-to").fill("2024-12-31");
  await page.getByTestId("up-run").click();
  await page.waitForFunction(() => /partitions/.test(document.querySelector('[data-testid="up-progress"]')?.textContent || ""), null, { timeout: TIMEOUT });
  await page.getByTestId("up-cancel").click();
  await page.waitForFunction(() => document.querySelector('[data-testid="up-error"]')?.dataset.code === "E_ABORTED", null, { timeout: TIMEOUT });
  assert.equal(await page.getByTestId("up-run").isEnabled(), true);
  // The job is read about every second at first: two seconds of silence means the page stopped.
  await assertNoMoreRequests(page, requests, 2000, "Userpilot");

  // ---------------------------------------------------------- secrets stay in memory
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!stored.includes(KEY), "the key is not in storage unless remembered");

  assert.deepEqual(await page.evaluate(() => window.__csp), []);
  assert.deepEqual(problems, []);
  await context.close();
});
