// Page test: the dashboard's Activities panel in headless Chromium against the sandbox. Plans a
// long range (shown before any call), runs it, watches every job reach Completed with its own
// records count and every fragment bar fill, checks the table, the chart of activities per day by
// type and every download (JSON Lines byte for byte, CSV row for row, guarded by default) against
// the sandbox's ground truth, Cancel that really stops the requests, a validation error without a
// request, a failed job named in the page, axe-core at laptop and phone width, and no console
// error or CSP violation.
//
//   node --test tests/page/activities.test.mjs   (screenshots: test-artifacts/screenshots/activities*.png)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { activityCsvRows, readCsv } from "../js/helpers.mjs";
import {
  ROOT,
  TIMEOUT,
  assertAccessible,
  assertClean,
  assertNoMoreRequests,
  assertPhoneReady,
  countRequests,
  fillSettings,
  openPage,
  screenshot,
  closePageEnv,
  startPageEnv,
} from "./page-helpers.mjs";

const DAY_MS = 86_400_000;
const TYPE_LABELS = { email: "Emails", meeting: "Meetings", call: "Calls" };

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv({ seed: 5, activities: 4000, fragmentRecords: 50, jobSpeed: 10 })));

after(() => closePageEnv({ browser, site, sandbox }));

const truth = async (q) => (await fetch(`${sandbox.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).text();
const records = (jsonl) => jsonl.split("\n").filter(Boolean).map((l) => JSON.parse(l));
const post = (p, body) => fetch(`${sandbox.url}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
const day = (ms) => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

async function download(page, testid) {
  const [d] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId(testid).click()]);
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), "utf8") };
}

/** The chart's bars as [day, type, count], sorted; and what the truth says they should be. */
async function chartBars(page) {
  const bars = await page.locator("[data-testid='act-chart-svg'] rect[data-category]").evaluateAll((rs) => rs.map((r) => [r.dataset.category, r.dataset.series, Number(r.dataset.count)]));
  return bars.sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1));
}
function truthBars(recs) {
  const m = new Map();
  for (const r of recs) {
    const k = `${day(r.timestamp)}|${r.type}`;
    m.set(k, (m.get(k) || 0) + 1);
  }
  return [...m].map(([k, n]) => [...k.split("|"), n]).sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1));
}

/** Rows on screen in the table: the cells of column `name`. */
async function screenColumn(page, name) {
  const header = await page.locator("[data-testid='act-table'] thead tr.head-row th").allTextContents();
  const c = header.indexOf(name);
  assert.ok(c > 0, `the table has a ${name} column`);
  return page.locator("[data-testid='act-table'] tbody tr").evaluateAll((trs, c) => trs.map((tr) => tr.children[c].textContent), c);
}

test("Activities panel: plan, run, per-job and per-fragment progress, table, chart, downloads, cancel, errors", { timeout: 120_000 }, async () => {
  await post("/__sandbox/reset");
  const { context, page, problems } = await openPage(browser, site.url, { hash: "#activities" });
  const requests = countRequests(page, sandbox.url);
  await fillSettings(page, sandbox.url);
  await page.getByTestId("tab-activities").click();
  assert.equal(await page.getByTestId("tab-activities").getAttribute("aria-selected"), "true");

  // ---------------------------------------------------------- a validation error makes no call
  const apiCalls = () => requests.filter((r) => /\/pull\/|\/v3\/auth\//.test(r)).length;
  const before = apiCalls();
  await page.getByTestId("act-start").fill("2024-02-10");
  await page.getByTestId("act-end").fill("2024-02-01");
  await page.getByTestId("act-plan-error").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("act-plan-error").getAttribute("data-field"), "endDate");
  await page.getByTestId("act-run").click();
  assert.equal(apiCalls(), before, "no request for an invalid form");

  // ---------------------------------------------------------- three windows
  await page.getByTestId("act-start").fill("2024-01-01");
  await page.getByTestId("act-end").fill("2024-02-05");
  assert.match(await page.getByTestId("act-plan-text").textContent(), /3 jobs of at most 14 days: 2024-01-01 to 2024-02-05/);
  await page.getByTestId("act-concurrency").fill("3");
  await page.getByTestId("act-run").click();
  await page.getByTestId("act-summary").waitFor({ timeout: TIMEOUT });
  const jsonl = await truth({ start_date: "2024-01-01", end_date: "2024-02-05" });
  const recs = records(jsonl);
  const windows = [["2024-01-01", "2024-01-14"], ["2024-01-15", "2024-01-28"], ["2024-01-29", "2024-02-05"]];
  for (const [i, [from, to]] of windows.entries()) {
    assert.equal(await page.getByTestId(`act-job-state-${i}`).textContent(), "Completed");
    assert.match(await page.getByTestId(`act-job-id-${i}`).textContent(), /^[0-9a-f-]{36}$/);
    const n = recs.filter((r) => day(r.timestamp) >= from && day(r.timestamp) <= to).length;
    assert.match(await page.getByTestId(`act-job-size-${i}`).textContent(), new RegExp(`^${n.toLocaleString("en-US")} records · \\d`), `job ${i}: its own records and bytes`);
  }
  const frags = page.locator("[data-testid^='act-fragment-']");
  assert.ok((await frags.count()) >= 2, "the last job's fragments are listed");
  assert.deepEqual(new Set(await frags.evaluateAll((els) => els.map((e) => e.dataset.state))), new Set(["done"]));
  assert.deepEqual(new Set(await frags.locator("progress").evaluateAll((els) => els.map((e) => e.value))), new Set([1]));
  assert.match(await page.getByTestId("act-summary").textContent(), new RegExp(`^${recs.length.toLocaleString("en-US")} records · 3 jobs`));

  // The table holds every record (only the rows on screen are in the DOM), in file order.
  assert.equal(await page.getByTestId("act-table").getAttribute("data-row-count"), String(recs.length));
  const inDom = await page.locator("[data-testid='act-table'] tbody tr").count();
  assert.ok(inDom >= 10 && inDom < 60, `only the visible rows are in the DOM (${inDom})`);
  assert.deepEqual(await screenColumn(page, "uid"), recs.slice(0, inDom).map((r) => r.uid));

  // The chart: one bar segment per day and type, counts as the truth says.
  assert.deepEqual(await chartBars(page), truthBars(recs), "activities per day by type");
  const legend = await page.locator("[data-testid='act-chart-legend'] li").allTextContents();
  const perType = (t) => recs.filter((r) => r.type === t).length;
  assert.deepEqual(legend, Object.keys(TYPE_LABELS).filter(perType).map((t) => `${TYPE_LABELS[t]}: ${perType(t).toLocaleString("en-US")}`));
  assert.match(await page.getByTestId("act-chart-svg").getAttribute("aria-label"), /^Activities per day by type, 2024-01-01 to 2024-02-05: /);
  // It follows the table's filters: only meetings.
  const typeCol = (await page.locator("[data-testid='act-table'] thead tr.head-row th").allTextContents()).indexOf("type") - 1;
  await page.getByTestId(`act-table-filter-${typeCol}`).fill("meeting");
  await page.waitForFunction(() => !document.querySelector("[data-testid='act-chart-svg'] rect[data-series='email']"), null, { timeout: TIMEOUT });
  assert.deepEqual(await chartBars(page), truthBars(recs.filter((r) => r.type === "meeting")));
  await page.getByTestId(`act-table-filter-${typeCol}`).fill("");
  await page.waitForFunction(() => !!document.querySelector("[data-testid='act-chart-svg'] rect[data-series='email']"), null, { timeout: TIMEOUT });

  // Downloads: JSON Lines as the API sent them; CSV guarded by default, raw on request.
  const d1 = await download(page, "act-download-jsonl");
  assert.match(d1.name, /^exportkit-activities-2024-01-01-2024-02-05-\d{4}-\d{2}-\d{2}\.jsonl$/);
  assert.equal(d1.text, jsonl, "the JSON Lines download is the truth byte for byte");
  const [header, ...rawRows] = readCsv((await download(page, "act-download-csv")).text);
  assert.deepEqual(header.slice(0, 3), ["uid", "source_id", "type"]);
  const expected = activityCsvRows(recs, header, { guard: false });
  const guard = (v) => (/^[=+\-@\t\r]/.test(v) && !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) ? `'${v}` : v);
  assert.deepEqual(rawRows, expected.map((r) => r.map(guard)), "the CSV is the truth, guarded");
  await page.getByTestId("act-download-keep-raw").check();
  assert.deepEqual(readCsv((await download(page, "act-download-csv")).text).slice(1), expected, "keep raw values: the truth as it is");
  await page.getByTestId("act-download-keep-raw").uncheck();

  // curl: the request that started the first job, no secret in it.
  await page.getByTestId("act-download-curl").click();
  await page.getByTestId("act-download-curl-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });
  const curl = await page.getByTestId("act-download-curl-output").inputValue();
  assert.ok(curl.includes(`'${sandbox.url}/pull/v1/export/activities/jobs'`), curl);
  assert.ok(curl.includes(`'{"start_date":"2024-01-01","end_date":"2024-01-14","activity_type":"all","output_format":"JSONLines","export_type":"delta"}'`), curl);
  assert.match(curl, /\$BACKSTORY_CLIENT_SECRET/);
  const secret = await page.getByTestId("settings-clientSecret").inputValue();
  assert.ok(!curl.includes(secret), "no secret in the curl command");

  await screenshot(page, "activities", { fullPage: true });
  await page.locator("[data-testid='act-chart']").screenshot({ path: `${ROOT}/test-artifacts/screenshots/activities-chart.png` });
  await assertAccessible(page, "Activities panel with a result", "#panel-activities");
  await assertPhoneReady(page, "activities", "#panel-activities");

  // ---------------------------------------------------------- one row per participant
  await page.getByTestId("act-start").fill("2024-03-01");
  await page.getByTestId("act-end").fill("2024-03-04");
  await page.getByTestId("act-type").selectOption("meeting");
  await page.getByTestId("act-explode").check();
  await page.getByTestId("act-run").click();
  await page.getByTestId("act-summary").filter({ hasText: "table rows" }).waitFor({ timeout: TIMEOUT });
  const meetings = records(await truth({ start_date: "2024-03-01", end_date: "2024-03-04", activity_type: "meeting" }));
  await page.getByTestId("act-download-keep-raw").check();
  const rows = readCsv((await download(page, "act-download-csv")).text);
  const h = rows[0];
  const [uid, name] = [h.indexOf("uid"), h.indexOf("participants.name")];
  assert.deepEqual(
    rows.slice(1).map((r) => [r[uid], r[name]]),
    meetings.flatMap((m) => m.participants.map((p) => [m.uid, p.name ?? ""])),
  );
  // The chart counts meetings, not participants.
  assert.deepEqual(await chartBars(page), truthBars(meetings));

  // ---------------------------------------------------------- a failed job is named
  await page.getByTestId("act-start").fill("2024-03-01");
  await page.getByTestId("act-end").fill("2024-03-04");
  await post("/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 1 });
  await page.getByTestId("act-run").click();
  await page.waitForFunction(() => document.querySelector("[data-testid='act-error']")?.dataset.code === "E_JOB_FAILED", null, { timeout: TIMEOUT });
  const jobId = await page.getByTestId("act-job-id-0").textContent();
  assert.match(await page.getByTestId("act-error").textContent(), new RegExp(`job ${jobId} as Failed`));
  assert.equal(await page.getByTestId("act-job-state-0").textContent(), "Failed");

  // ---------------------------------------------------------- Cancel stops the requests
  // Last: the sandbox's slow jobs are left running.
  await post("/__sandbox/config", { jobSpeed: 0.05 });
  await page.getByTestId("act-type").selectOption("all");
  await page.getByTestId("act-start").fill("2024-04-01");
  await page.getByTestId("act-end").fill("2024-05-10");
  // Cancel just after the first read of a job's state: the client's next read would come 1.5 s
  // later (reads start 1 s apart and grow by half), so the silence below is the cancel's doing.
  const polls = () => requests.filter((r) => /^GET .*\/activities\/jobs\/[^/]+$/.test(r)).length;
  const polled = polls();
  await page.getByTestId("act-run").click();
  for (const end = Date.now() + TIMEOUT; polls() === polled && Date.now() < end; ) await page.waitForTimeout(20);
  assert.ok(polls() > polled, "the page reads the job's state while it waits");
  await page.getByTestId("act-cancel").click();
  await page.getByTestId("act-error").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("act-error").getAttribute("data-code"), "E_ABORTED");
  assert.equal(await page.getByTestId("act-run").isEnabled(), true);
  await assertNoMoreRequests(page, requests, 2000, "Activities");

  await assertClean(page, problems);
  await context.close();
});
