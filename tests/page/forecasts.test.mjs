// Page test: the dashboard's Forecasts panel in headless Chromium against the sandbox. Fills the
// form, checks the JSON it will send, runs it, and checks the table, the download and that a chart
// is drawn for exactly the nodes the query selects (lines over snapshots, or bars for the latest),
// plus a validation error that makes no call, and no console error or CSP violation.
//
// The table is the shared virtualised preview; its downloads (CSV guarded by default, JSON Lines
// of the records as sent) and its curl are checked too, with axe-core at laptop and phone width.
//
//   node --test tests/page/forecasts.test.mjs   (screenshots: test-artifacts/screenshots/forecasts*.png)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { readCsv } from "../js/helpers.mjs";
import { TIMEOUT, assertAccessible, assertPhoneReady, fillSettings, screenshot, closePageEnv, startPageEnv } from "./page-helpers.mjs";

const BASE = ["hierarchy_node_id", "hierarchy_node_ownership_external_id", "hierarchy_node_name", "cadence_period_id", "submitted_by", "submitted_at", "notes"];
const CHART_SERIES = ["quota", "commit", "best_case", "closed_won"];

let sandbox, site, browser;
let ref;

before(async () => {
  ({ sandbox, site, browser } = await startPageEnv({ seed: 4 }));
  ref = await (await fetch(`${sandbox.url}/__sandbox/truth/forecasting`)).json();
});

after(() => closePageEnv({ browser, site, sandbox }));

const truth = async (wire) =>
  (await fetch(`${sandbox.url}/__sandbox/truth/forecasting`, { method: "POST", body: JSON.stringify(wire) })).json();

function expectedRows(records, typeId) {
  const order = ref.forecast_types.find((t) => t.id === typeId).fields;
  const present = order.filter((f) => records.some((r) => r.fields[f] !== undefined));
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  return [
    [...BASE, ...present.map((f) => `fields.${f}.value`)],
    ...records.map((r) => [...BASE.map((k) => text(r[k])), ...present.map((f) => text(r.fields[f]?.value))]),
  ];
}

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
  const response = await page.goto(`${site.url}/www/#forecasts`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.querySelector("#app-status.error-box"), null, { timeout: TIMEOUT });
  assert.equal(await page.locator("#app-status.error-box").count(), 0, "the dashboard started");
  return { context, page, problems, requests };
}

async function chartsOnPage(page) {
  return page.locator("[data-testid='fc-chart']").evaluateAll((figs) =>
    figs.map((f) => {
      const svg = f.querySelector("svg");
      return {
        node: Number(f.dataset.nodeId),
        snapshots: Number(f.dataset.snapshots),
        caption: f.querySelector("figcaption").textContent,
        mode: svg.dataset.mode,
        isSvg: svg.namespaceURI === "http://www.w3.org/2000/svg",
        series: [...svg.querySelectorAll("[data-series]")].map((g) => ({
          slug: g.dataset.series,
          points: Number(g.dataset.points),
          polyline: g.querySelector("polyline")?.getAttribute("points").trim().split(/\s+/).length ?? 0,
          bars: g.querySelectorAll("rect").length,
        })),
      };
    }),
  );
}

test("Forecasts panel: form, JSON, run, table, download, a chart per node, validation", { timeout: 120_000 }, async () => {
  const { context, page, problems, requests } = await openPage();

  // ---------------------------------------------------------- settings and tab
  await fillSettings(page, sandbox.url);
  await page.getByTestId("tab-forecasts").click();
  assert.equal(await page.getByTestId("tab-forecasts").getAttribute("aria-selected"), "true");

  // ---------------------------------------------------------- a subtree over time
  const period = ref.fiscal_periods.find((p) => p.name === "FY2024 Q2");
  const vp = ref.hierarchy.find((n) => n.level === 2);
  await page.getByTestId("fc-type").fill("10090");
  await page.getByTestId("fc-per-page").fill("7");
  await page.getByTestId("fc-period-kind").selectOption("id");
  await page.getByTestId("fc-period").fill(period.id);
  await page.getByTestId("fc-node-kind").selectOption("id");
  await page.getByTestId("fc-node").fill(String(vp.id));
  await page.getByTestId("fc-descendants").check();
  await page.getByTestId("fc-sort").selectOption("hierarchy_level");
  await page.getByTestId("fc-snapshots").selectOption("all");
  // since: a local date-time in the form is epoch ms on the wire.
  await page.getByTestId("fc-since").fill("2024-04-01T00:00");
  const since = await page.evaluate(() => new Date("2024-04-01T00:00").getTime());
  const wire = {
    fiscal_period_id: period.id,
    forecast_type_id: 10090,
    hierarchy_node_id: vp.id,
    include_descendants: true,
    per_page: 7,
    sort: "hierarchy_level",
    timeframe: { snapshots: "all", since },
  };
  await page.getByTestId("fc-validation-ok").waitFor({ timeout: TIMEOUT });
  assert.deepEqual(JSON.parse(await page.getByTestId("fc-json").textContent()), wire, "the JSON shown is what the form says");

  const t = await truth(wire);
  const subtree = new Set();
  const walk = (id) => {
    subtree.add(id);
    for (const c of ref.hierarchy.find((n) => n.id === id).child_ids) walk(c);
  };
  walk(vp.id);
  const snapshotCount = period.snapshot_times.filter((x) => x >= since).length;
  assert.ok(snapshotCount > 3 && t.total === subtree.size * snapshotCount, "the fixture: every subtree node at every snapshot since");

  await page.getByTestId("fc-run").click();
  await page.getByTestId("fc-summary").waitFor({ timeout: TIMEOUT });
  assert.match(await page.getByTestId("fc-summary").textContent(), new RegExp(`^${t.total} records · ${Math.ceil(t.total / 7)} pages`));
  assert.match(await page.getByTestId("fc-progress").textContent(), new RegExp(`${t.total} records`));
  assert.equal(await page.getByTestId("fc-total-changed").count(), 0);

  // The table: header and first rows as the truth says, every cell as text.
  const want = expectedRows(t.records, 10090);
  const header = await page.locator("[data-testid='fc-table'] thead th").allTextContents();
  assert.deepEqual(header.slice(1), want[0]);
  const firstRows = await page.locator("[data-testid='fc-table'] tbody tr").evaluateAll((trs) =>
    trs.slice(0, 15).map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
  );
  assert.deepEqual(firstRows, want.slice(1, 16));
  assert.equal(await page.locator("[data-testid='fc-table'] tbody td *").count(), 0, "cells are text only");
  assert.equal(await page.getByTestId("fc-table").getAttribute("data-row-count"), String(t.total), "every record is in the table");

  // The charts: one per node of the subtree, each following that node over every snapshot.
  const charts = await chartsOnPage(page);
  assert.deepEqual(new Set(charts.map((c) => c.node)), subtree, "a chart for exactly the selected nodes");
  assert.equal(charts.length, subtree.size, "one chart each");
  for (const c of charts) {
    const node = ref.hierarchy.find((n) => n.id === c.node);
    assert.ok(c.isSvg && c.mode === "lines", `node ${c.node}: an SVG line chart`);
    assert.ok(c.caption.startsWith(node.name), `caption names the node: ${c.caption}`);
    assert.equal(c.snapshots, snapshotCount);
    assert.deepEqual(c.series.map((s) => s.slug), CHART_SERIES);
    for (const s of c.series) assert.ok(s.points === snapshotCount && s.polyline === snapshotCount, `node ${c.node} ${s.slug}: ${JSON.stringify(s)}`);
  }
  // The lines are drawn from the data: the top chart's quota points match the node's values.
  const root = charts[0].node;
  const quotas = t.records.filter((r) => r.hierarchy_node_id === root).map((r) => r.fields.quota.value);
  const titles = await page.locator(`[data-node-id='${root}'] [data-series='quota'] circle title`).allTextContents();
  assert.deepEqual(
    titles.map((x) => Number(/Quota: ([\d,.]+)/.exec(x)[1].replaceAll(",", ""))).sort((a, b) => a - b),
    [...quotas].sort((a, b) => a - b),
  );
  await screenshot(page, "forecasts");
  await screenshot(page.locator(".fc-charts-section"), "forecasts-charts");

  // Downloads: the table as CSV (guarded by default: the cells a spreadsheet would run get a '),
  // exactly the truth with "keep raw values"; JSON Lines are the records as the API sent them.
  const download = async (testid) => {
    const [d] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId(testid).click()]);
    return { name: d.suggestedFilename(), text: await readFile(await d.path(), "utf8") };
  };
  const guard = (v) => (/^[=+\-@\t\r]/.test(v) && !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) ? `'${v}` : v);
  const guarded = await download("fc-download-csv");
  assert.match(guarded.name, /^exportkit-forecasts-10090-\d{4}-\d\d-\d\d\.csv$/);
  assert.deepEqual(readCsv(guarded.text), [want[0], ...want.slice(1).map((r) => r.map(guard))]);
  await page.getByTestId("fc-download-keep-raw").check();
  assert.deepEqual(readCsv((await download("fc-download-csv")).text), want);
  const lines = (await download("fc-download-jsonl")).text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(lines, t.records);
  await page.getByTestId("fc-download-curl").click();
  await page.getByTestId("fc-download-curl-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });
  const curl = await page.getByTestId("fc-download-curl-output").inputValue();
  assert.ok(curl.includes(`'${sandbox.url}/v3/beta/forecasting/query'`), curl);
  assert.deepEqual(JSON.parse(/--data-raw '([^']*)'/.exec(curl)[1]), wire, "curl sends the JSON shown");
  assert.ok(!curl.includes(SANDBOX_CREDENTIALS.backstory.clientSecret) && curl.includes("Authorization: Bearer $TOKEN"));
  await assertAccessible(page, "Forecasts panel with a result", "#panel-forecasts");
  await assertPhoneReady(page, "forecasts", "#panel-forecasts");

  // ---------------------------------------------------------- one node, latest: bars
  const rep = ref.hierarchy.find((n) => n.level === 4);
  await page.getByTestId("fc-per-page").fill("1000");
  await page.getByTestId("fc-period-kind").selectOption("");
  await page.getByTestId("fc-node-kind").selectOption("external");
  await page.getByTestId("fc-node").fill(rep.external_id);
  await page.getByTestId("fc-descendants").uncheck();
  await page.getByTestId("fc-snapshots").selectOption("");
  await page.getByTestId("fc-type").fill("10089");
  await page.getByTestId("fc-validation-ok").waitFor({ timeout: TIMEOUT });
  const wire2 = JSON.parse(await page.getByTestId("fc-json").textContent());
  assert.deepEqual(wire2, { forecast_type_id: 10089, hierarchy_node_ownership_external_id: rep.external_id, per_page: 1000, sort: "hierarchy_level" });
  const t2 = await truth(wire2);
  assert.equal(t2.total, 1);
  await page.getByTestId("fc-run").click();
  await page.waitForFunction(() => document.querySelector("[data-testid='fc-summary']")?.textContent.startsWith("1 record ·"), null, { timeout: TIMEOUT });
  const one = await chartsOnPage(page);
  assert.equal(one.length, 1);
  assert.equal(one[0].node, rep.id);
  assert.equal(one[0].mode, "bars");
  assert.deepEqual(one[0].series.map((s) => [s.slug, s.bars]), CHART_SERIES.map((s) => [s, 1]));

  // ---------------------------------------------------------- Cancel stops the requests
  // The first page is held at the network until Cancel; after it, no page is asked for.
  let release;
  const held = new Promise((r) => (release = r));
  let reached = false;
  await page.route("**/forecasting/query", async (route) => {
    reached = true;
    await held;
    await route.abort().catch(() => {});
  });
  const asked = () => requests.filter((u) => u.includes("/forecasting/")).length;
  await page.getByTestId("fc-run").click();
  await page.waitForFunction(() => !document.querySelector("[data-testid='fc-cancel']").disabled, null, { timeout: TIMEOUT });
  for (const end = Date.now() + TIMEOUT; !reached && Date.now() < end; ) await page.waitForTimeout(20);
  assert.ok(reached, "the first page was asked for");
  const sent = asked();
  await page.getByTestId("fc-cancel").click();
  await page.waitForFunction(() => document.querySelector("[data-testid='fc-run-error']")?.dataset.code === "E_ABORTED", null, { timeout: TIMEOUT });
  release();
  await page.waitForTimeout(500);
  assert.equal(asked(), sent, "no request after Cancel");
  await page.unroute("**/forecasting/query");

  // ---------------------------------------------------------- validation: no call
  const before = requests.filter((u) => u.includes("/forecasting/")).length;
  await page.getByTestId("fc-per-page").fill("0");
  const err = page.getByTestId("fc-validation-error");
  await err.waitFor({ timeout: TIMEOUT });
  assert.equal(await err.getAttribute("data-field"), "per_page");
  assert.equal(await page.getByTestId("fc-per-page").getAttribute("aria-invalid"), "true");
  await page.getByTestId("fc-run").click();
  await page.waitForTimeout(300);
  assert.equal(requests.filter((u) => u.includes("/forecasting/")).length, before, "an invalid query makes no call");
  await page.getByTestId("fc-per-page").fill("10");
  await page.getByTestId("fc-snapshots").selectOption("all");
  await page.getByTestId("fc-since").fill("2024-06-01T00:00");
  await page.getByTestId("fc-until").fill("2024-05-01T00:00");
  await page.waitForFunction(() => document.querySelector("[data-testid='fc-validation-error']")?.dataset.field === "timeframe.since", null, { timeout: TIMEOUT });

  // ---------------------------------------------------------- clean
  const csp = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual(csp, [], "no Content-Security-Policy violations");
  assert.deepEqual(problems, [], "no console errors");
  await context.close();
});
