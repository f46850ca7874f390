// Page test: the dashboard's Query panel in headless Chromium (playwright-core) against the sandbox.
// Builds a query through the form, checks the JSON it shows, runs it, checks the missing-column
// warning, the preview and the downloaded file against the sandbox's ground truth, the quota
// counter, the cache, a validation error without any network call, sorts reordered by drag and
// by the keyboard, Cancel, nothing secret in storage, and that the page raised no console error
// and no Content-Security-Policy violation. Then the phone width, and the footer (and the curl)
// when the site says it sits behind the edge worker.
//
//   node --test tests/page/
//
// Screenshots go to test-artifacts/screenshots/ (query.png, query-phone.png).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";
import { readCsv } from "../js/helpers.mjs";
import { fillSettings, ROOT, screenshot, TIMEOUT, closePageEnv, startPageEnv } from "./page-helpers.mjs";

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv()));

after(() => closePageEnv({ browser, site, sandbox }));

// ---------------------------------------------------------------- helpers

async function sandboxJson(method, p, body) {
  const res = await fetch(`${sandbox.url}${p}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${p} -> ${res.status}`);
  return res;
}

async function truthCsv(query) {
  const res = await sandboxJson("POST", "/__sandbox/truth/insights", query);
  return res.text();
}

function localIsoDate(d = new Date()) {
  const p = (x) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Opens the dashboard in a fresh context and records everything that should not happen. */
async function openPage({ viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, viewport });
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || /Content Security Policy/i.test(msg.text())) {
      problems.push(`console ${msg.type()}: ${msg.text()} (${msg.location().url})`);
    }
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", (req) => requests.push({ method: req.method(), url: req.url() }));
  const pending = [];
  page.on("requestfailed", (req) => {
    // Chromium sometimes reports a streamed response that the page read to its end as
    // net::ERR_ABORTED; that one got its answer and is no failure. Anything else is one,
    // except the request of a run the test cancels on purpose (problems.expectAbort).
    const text = req.failure()?.errorText || "";
    pending.push(
      (async () => {
        const res = text === "net::ERR_ABORTED" ? await req.response().catch(() => null) : null;
        if (problems.expectAbort?.(req)) return;
        if (!res || res.status() >= 400) problems.push(`request failed: ${req.method()} ${req.url()} ${text}`);
      })(),
    );
  });
  problems.settle = () => Promise.all(pending);
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const response = await page.goto(`${site.url}/www/`);
  assert.equal(response.status(), 200);
  const csp = response.headers()["content-security-policy"] || "";
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  await page.waitForFunction(
    () => document.body.dataset.ready === "true" || document.querySelector("#app-status.error-box"),
    null,
    { timeout: TIMEOUT },
  );
  const failed = await page.locator("#app-status.error-box").count();
  assert.equal(failed, 0, `the dashboard started: ${failed ? await page.locator("#app-status").textContent() : ""}`);
  return { context, page, problems, requests };
}

async function assertClean(page, problems) {
  await problems.settle();
  const csp = await page.evaluate(() => window.__cspViolations);
  assert.deepEqual(csp, [], `no Content-Security-Policy violations:\n${csp.join("\n")}`);
  assert.deepEqual([...problems], [], `no console errors, page errors or failed requests:\n${problems.join("\n")}`);
}

async function callsLeft(page) {
  const text = await page.getByTestId("calls-left").textContent();
  const m = /(\d+) of 10 calls left today/.exec(text);
  assert.ok(m, `calls-left text: ${text}`);
  return Number(m[1]);
}

async function setColumn(page, i, slug, period = "") {
  await page.getByTestId(`column-slug-${i}`).fill(slug);
  await page.getByTestId(`column-period-${i}`).selectOption(period);
}

async function pageJson(page) {
  return JSON.parse(await page.getByTestId("query-json").inputValue());
}

// ---------------------------------------------------------------- the test

test("Query panel: build, run, preview, download, quota, cache, validation", { timeout: 180_000 }, async () => {
  await sandboxJson("POST", "/__sandbox/reset");

  // Pick data-dependent pieces from the sandbox itself, never hard-coded results.
  const catalog = await (await sandboxJson("GET", "/__sandbox/catalog")).json();
  const accountCatalog = catalog.account;
  assert.ok(Array.isArray(accountCatalog), "catalog lists account slugs");
  const metric = accountCatalog.find((c) => c.timeBased && (!c.periods || c.periods.includes("last_30_days")));
  assert.ok(metric, "the catalog has a time-based account metric with a last_30_days variation");
  const sample = readCsv(await truthCsv({ object: "account", columns: [{ slug: "ootb_account_industry" }, { slug: "ootb_account_country" }] }));
  const industry = sample[1][0];
  const country = sample.find((r, i) => i > 0 && r[0] !== industry)[1];

  const { context, page, problems, requests } = await openPage();

  // ---------------------------------------------------------- settings
  await fillSettings(page, sandbox.url);
  assert.equal(await page.getByTestId("settings-remember").isChecked(), false, "remember is off by default");
  assert.equal(await page.evaluate(() => localStorage.getItem("exportkit.settings.v1")), null, "no secret stored unless asked");
  await page.getByLabel("Client secret (API secret)").evaluate((el) => el.type).then((t) => assert.equal(t, "password"));

  const leftBefore = await callsLeft(page);
  assert.equal(leftBefore, 10);

  // ---------------------------------------------------------- build the query
  await page.getByTestId("query-object").selectOption("account");
  await page.getByTestId("reset-query").click();
  const wanted = [
    ["ootb_account_crm_id", ""],
    ["ootb_account_name", ""],
    [metric.slug, "last_30_days"],
    ["ootb_account_engagement_level", ""],
    ["not_a_real_slug", ""],
  ];
  while ((await page.locator("[data-testid='columns'] > li").count()) < wanted.length) {
    await page.getByTestId("add-column").click();
  }
  while ((await page.locator("[data-testid='columns'] > li").count()) > wanted.length) {
    await page.getByTestId(`column-remove-${wanted.length}`).click();
  }
  for (const [i, [slug, period]] of wanted.entries()) await setColumn(page, i, slug, period);
  // Move the invalid slug up one place and back, through the buttons.
  await page.getByTestId("column-up-4").click();
  assert.equal(await page.getByTestId("column-slug-3").inputValue(), "not_a_real_slug");
  await page.getByTestId("column-down-3").click();
  assert.equal(await page.getByTestId("column-slug-4").inputValue(), "not_a_real_slug");

  // Autocomplete knows the sandbox's catalog (merged into the datalist).
  await page.waitForFunction((slug) => [...document.querySelectorAll("datalist option")].some((o) => o.value === slug), "ootb_account_owner", {
    timeout: TIMEOUT,
  });

  // Filter: engagement <= 50 AND (industry in [..] OR country = ..)
  await page.getByTestId("f-join").selectOption("$and");
  await page.getByTestId("f-add-condition").click();
  await page.getByTestId("f-0-slug").fill("ootb_account_engagement_level");
  await page.getByTestId("f-0-op").selectOption("$lte");
  await page.getByTestId("f-0-value").fill("50");
  await page.getByTestId("f-add-group").click();
  await page.getByTestId("f-1-join").selectOption("$or");
  await page.getByTestId("f-1-0-slug").fill("ootb_account_industry");
  await page.getByTestId("f-1-0-op").selectOption("$in");
  await page.getByTestId("f-1-0-value").fill(`${industry}, No Such Industry`);
  await page.getByTestId("f-1-add-condition").click();
  await page.getByTestId("f-1-1-slug").fill("ootb_account_country");
  await page.getByTestId("f-1-1-op").selectOption("$eq");
  await page.getByTestId("f-1-1-value").fill(country);

  // Sorts: name desc, then engagement asc; then move engagement to the top.
  await page.getByTestId("add-sort").click();
  await page.getByTestId("sort-slug-0").fill("ootb_account_name");
  await page.getByTestId("sort-direction-0").selectOption("desc");
  await page.getByTestId("add-sort").click();
  await page.getByTestId("sort-slug-1").fill("ootb_account_engagement_level");
  await page.getByTestId("sort-up-1").click();
  // The same by drag (the pointer) and by the keyboard on the drag handle, which keeps the focus.
  await page.getByTestId("sort-drag-1").dragTo(page.getByTestId("sort-0"), { targetPosition: { x: 20, y: 2 } });
  assert.equal(await page.getByTestId("sort-slug-0").inputValue(), "ootb_account_name", "dragged to the top");
  await page.getByTestId("sort-drag-0").focus();
  await page.keyboard.press("ArrowDown");
  assert.equal(await page.getByTestId("sort-slug-0").inputValue(), "ootb_account_engagement_level", "moved down with the arrow key");
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), "sort-drag-1", "the handle keeps the focus");

  const expected = {
    object: "account",
    columns: [
      { slug: "ootb_account_crm_id" },
      { slug: "ootb_account_name" },
      { slug: metric.slug, variation_id: `${metric.slug}_last_30_days` },
      { slug: "ootb_account_engagement_level" },
      { slug: "not_a_real_slug" },
    ],
    filter: {
      $and: [
        { attribute: { slug: "ootb_account_engagement_level" }, clause: { $lte: 50 } },
        {
          $or: [
            { attribute: { slug: "ootb_account_industry" }, clause: { $in: [industry, "No Such Industry"] } },
            { attribute: { slug: "ootb_account_country" }, clause: { $eq: country } },
          ],
        },
      ],
    },
    sort: [
      { attribute: { slug: "ootb_account_engagement_level" }, direction: "asc" },
      { attribute: { slug: "ootb_account_name" }, direction: "desc" },
    ],
  };
  const shown = await pageJson(page);
  assert.deepEqual(shown, expected, "the JSON shown is the query built");
  await page.getByTestId("validation-ok").waitFor({ timeout: TIMEOUT });

  // The JSON editor works the other way too: an edit shows in the form.
  const edited = structuredClone(shown);
  edited.sort[1].direction = "asc";
  await page.getByTestId("query-json").fill(JSON.stringify(edited, null, 2));
  assert.equal(await page.getByTestId("sort-direction-1").inputValue(), "asc");
  await page.getByTestId("sort-direction-1").selectOption("desc");
  assert.deepEqual(await pageJson(page), expected);

  // The truth for exactly the query the page shows.
  const truth = await truthCsv(shown);
  const truthRows = readCsv(truth);
  assert.ok(truthRows.length > 2, "the filter leaves some rows (else the check would be weak)");
  assert.ok(!truthRows[0].includes("not_a_real_slug"), "the sandbox drops the unknown slug");

  // ---------------------------------------------------------- run
  // The page does not know not_a_real_slug: it asks, naming it, before any call is spent.
  await page.getByTestId("run").click();
  await page.getByTestId("run-confirm").waitFor({ timeout: TIMEOUT });
  assert.deepEqual(await page.getByTestId("run-confirm-slug").allTextContents(), ["not_a_real_slug"]);
  assert.equal(requests.filter((r) => r.url.includes("/insights/export") || r.url.includes("/auth/tokens")).length, 0, "nothing sent before the confirmation");
  assert.equal((await (await sandboxJson("GET", "/__sandbox/state")).json()).queryCallsToday, 0);
  await page.getByTestId("run-confirm-yes").click();
  await page.getByTestId("result-summary").waitFor({ timeout: TIMEOUT });
  await page.waitForFunction(() => document.querySelector("[data-testid='progress-text']")?.dataset.phase === "done", null, { timeout: TIMEOUT });
  const progress = await page.getByTestId("progress-text").textContent();
  assert.match(progress, new RegExp(`${(truthRows.length - 1).toLocaleString("en-US")} rows`), `progress shows the row count: ${progress}`);
  assert.equal(await page.getByTestId("from-cache").count(), 0, "the first run is not from cache");

  const warning = await page.getByTestId("missing-columns").textContent();
  assert.match(warning, /not_a_real_slug/, "the warning names the invalid slug");
  assert.equal(await page.getByTestId("missing-column").count(), 1, "only the invalid slug is missing");

  // Preview: header and first rows equal the truth, cell by cell (as text).
  const header = await page.locator("[data-testid='preview-table'] thead th").allTextContents();
  assert.deepEqual(header.slice(1), truthRows[0]);
  const firstRows = await page.locator("[data-testid='preview-table'] tbody tr").evaluateAll((trs) =>
    trs.slice(0, 10).map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
  );
  assert.deepEqual(firstRows, truthRows.slice(1, 11));
  // Data goes in as text: no cell holds an element (the data has quotes, <, &, emoji, newlines).
  assert.equal(await page.locator("[data-testid='preview-table'] tbody td *").count(), 0);
  // The preview holds every row (virtualised: only those on screen are in the DOM).
  assert.equal(await page.getByTestId("preview-table").getAttribute("data-row-count"), String(truthRows.length - 1));
  const previewCount = await page.locator("[data-testid='preview-table'] tbody tr").count();
  assert.ok(previewCount >= Math.min(10, truthRows.length - 1) && previewCount <= truthRows.length - 1, `rows in the DOM: ${previewCount}`);

  // Nothing secret in this browser's storage (remember is off).
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  assert.ok(!storage.includes(SANDBOX_CREDENTIALS.backstory.clientSecret) && !storage.includes(SANDBOX_CREDENTIALS.backstory.clientId), "no credential stored");

  // Calls left went down by one.
  assert.equal(await callsLeft(page), leftBefore - 1);

  await screenshot(page, "query", { fullPage: true });

  // ---------------------------------------------------------- download (raw: the file as received)
  await page.getByTestId("download-keep-raw").check();
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId("download-csv").click()]);
  assert.equal(download.suggestedFilename(), `exportkit-account-${localIsoDate()}.csv`);
  const file = await readFile(await download.path(), "utf8");
  assert.equal(file, truth, "the downloaded CSV is exactly the sandbox's ground truth");

  // ---------------------------------------------------------- same query again: from cache
  // (confirmed once, this query is not asked about again)
  const exportCalls = () => requests.filter((r) => r.url.startsWith(sandbox.url) && r.url.includes("/insights/export")).length;
  const callsBefore = exportCalls();
  assert.equal(callsBefore, 1);
  await page.getByTestId("run").click();
  await page.getByTestId("from-cache").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("from-cache").textContent(), "from cache (no call spent)");
  assert.equal(exportCalls(), callsBefore, "no export request for a cached result");
  assert.equal(await callsLeft(page), leftBefore - 1, "a cached result spends no call");

  // ---------------------------------------------------------- validation error, no network
  const before = requests.length;
  await page.getByTestId("add-column").click();
  const err = page.getByTestId("validation-error");
  await err.waitFor({ timeout: TIMEOUT });
  const field = await err.getAttribute("data-field");
  assert.match(field, /^columns\[5\]/, `the error names the empty column: ${field}`);
  assert.match(await err.textContent(), /columns\[5\]/);
  assert.equal(await page.getByTestId("column-slug-5").getAttribute("aria-invalid"), "true", "the empty slug is marked invalid");
  await page.getByTestId("run").click();
  await page.waitForTimeout(300);
  assert.equal(requests.length, before, "an invalid query makes no network call");
  assert.equal(await callsLeft(page), leftBefore - 1);
  await page.getByTestId("column-remove-5").click();
  await page.getByTestId("validation-ok").waitFor({ timeout: TIMEOUT });

  // ---------------------------------------------------------- cancel aborts the request
  // A different query (not cached), held at the network until Cancel is clicked.
  await page.getByTestId("sort-direction-1").selectOption("asc");
  let release;
  const held = new Promise((r) => (release = r));
  let heldRoute = null;
  await page.route("**/insights/export", async (route) => {
    heldRoute = route;
    await held;
    await route.abort().catch(() => {});
  });
  problems.expectAbort = (req) => req.url().includes("/insights/export");
  await page.getByTestId("run").click();
  await page.getByTestId("run-confirm-yes").click(); // a different query: asked again
  await page.waitForFunction(() => !!document.querySelector("[data-testid='cancel']:not([disabled])"), null, { timeout: TIMEOUT });
  await page.waitForFunction(() => document.querySelector("[data-testid='progress-text']")?.dataset.phase === "request", null, { timeout: TIMEOUT });
  assert.ok(heldRoute, "the export request reached the network");
  await page.getByTestId("cancel").click();
  const cancelled = page.getByTestId("run-error");
  await cancelled.waitFor({ timeout: TIMEOUT });
  assert.equal(await cancelled.getAttribute("data-code"), "E_ABORTED");
  assert.equal(await page.getByTestId("run").isEnabled(), true, "Run is usable again");
  assert.equal(await page.getByTestId("cancel").isDisabled(), true);
  release();
  await page.unroute("**/insights/export");
  await problems.settle();
  problems.expectAbort = null;

  // ---------------------------------------------------------- remember on this device
  await page.getByTestId("settings-remember").check();
  const stored = JSON.parse(await page.evaluate(() => localStorage.getItem("exportkit.settings.v1")));
  assert.equal(stored.clientId, SANDBOX_CREDENTIALS.backstory.clientId);
  await page.getByTestId("settings-remember").uncheck();
  assert.equal(await page.evaluate(() => localStorage.getItem("exportkit.settings.v1")), null, "unticking erases them");

  await assertClean(page, problems);
  await context.close();
});

test("Query panel: usable at phone width, every control labelled", { timeout: 120_000 }, async () => {
  const { context, page, problems } = await openPage({ viewport: { width: 390, height: 844 } });
  // No horizontal scrolling of the page itself at phone width.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page does not scroll sideways (overflow ${overflow}px)`);
  // Every form control has an accessible name.
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => !el.closest("[hidden]"))
      .filter((el) => {
        const labels = el.labels ? [...el.labels].map((l) => l.textContent.trim()).join("") : "";
        return !(labels || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim()));
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  assert.deepEqual(unlabeled, [], "every control has a label");
  await screenshot(page, "query-phone", { fullPage: true });
  await assertClean(page, problems);
  await context.close();
});

test("the footer says where calls go, directly or through the edge worker; curl follows", { timeout: 60_000 }, async () => {
  const direct = await openPage();
  assert.match(await direct.page.getByTestId("footer-note").textContent(), /straight from your browser to the base URL in Settings/);
  await assertClean(direct.page, direct.problems);
  await direct.context.close();

  // A site whose /config.json names the edge worker (as the worker's own does).
  const edgeSite = await startStatic({ root: ROOT, port: 0, config: { proxyUrl: "/api/backstory", userpilotProxyUrl: "/api/userpilot" } });
  try {
    const context = await browser.newContext({ permissions: [] });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${edgeSite.url}/www/`);
    await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: TIMEOUT });
    const footer = await page.getByTestId("footer-note").textContent();
    assert.match(footer, /to this site's edge worker, which adds the credentials/);
    assert.doesNotMatch(footer, /straight from your browser/);
    await page.getByTestId("copy-curl").click();
    await page.waitForFunction(() => document.querySelector("[data-testid='share-output']")?.value.includes("curl"), null, { timeout: TIMEOUT });
    const curl = await page.getByTestId("share-output").inputValue();
    assert.ok(curl.includes(`'${edgeSite.url}/api/backstory/v3/beta/insights/export'`), curl);
    assert.match(curl, /x-exportkit-key: \$EXPORTKIT_KEY/);
    assert.doesNotMatch(curl, /TOKEN=|BACKSTORY_CLIENT/);
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await edgeSite.close();
  }
});
