// Page test: the Query panel's preview, downloads, saved queries, share links and curl, in
// headless Chromium against a sandbox of 200,000 accounts. Every check compares with the
// sandbox's ground truth (or, for the table alone, with data the test made).
//
//   node --test tests/page/query-features.test.mjs
//
// Screenshots: test-artifacts/screenshots/query-large.png, query-chart.png, query-share.png.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { readCsv, truthCsv } from "../js/helpers.mjs";
import { TIMEOUT, assertClean, fillSettings, openPage, queryJson, runQuery, screenshot, setQuery, closePageEnv, startPageEnv } from "./page-helpers.mjs";

const ACCOUNTS = 200_000;
const SECRETS = [SANDBOX_CREDENTIALS.backstory.clientId, SANDBOX_CREDENTIALS.backstory.clientSecret];

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv({ accounts: ACCOUNTS })));

after(() => closePageEnv({ browser, site, sandbox }));

// ---------------------------------------------------------------- helpers

/** A large CSV -> rows (Papa Parse: independent of the client's parser, and fast). */
function parseBig(text) {
  const out = Papa.parse(text, { newline: "\r\n" });
  assert.deepEqual(out.errors, [], "the CSV parses");
  const rows = out.data;
  if (rows.length && rows.at(-1).length === 1 && rows.at(-1)[0] === "") rows.pop();
  return rows;
}

/** The test's own idea of a cell a spreadsheet would run (OWASP), numbers excepted. */
const dangerous = (v) => /^[=+\-@\t\r]/.test(v) && !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v);

/** Rows on screen: [rownum, ...cells] per tbody row. */
function screenRows(page, testid = "preview-table") {
  return page
    .locator(`[data-testid='${testid}'] tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [tr.querySelector("th").textContent, ...[...tr.querySelectorAll("td")].map((td) => td.textContent)]));
}

async function waitStatus(page, re) {
  await page.waitForFunction(
    (src) => new RegExp(src).test(document.querySelector("[data-testid='preview-table-status']")?.textContent || "") && !document.querySelector("[data-testid='preview-table'][aria-busy]"),
    re.source,
    { timeout: TIMEOUT },
  );
}

async function download(page, testid) {
  const [d] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), page.getByTestId(testid).click()]);
  return { name: d.suggestedFilename(), text: await readFile(await d.path(), "utf8") };
}

/** Indexes of `rows` (data rows, no header) sorted as the preview sorts a number column. */
function numericOrder(rows, col, dir) {
  const sign = dir === "desc" ? -1 : 1;
  return rows
    .map((r, i) => i)
    .sort((a, b) => {
      const x = rows[a][col];
      const y = rows[b][col];
      if ((x === "") !== (y === "")) return x === "" ? 1 : -1;
      const d = x === "" ? 0 : Number(x) - Number(y);
      return d ? sign * d : a - b;
    });
}

// ---------------------------------------------------------------- the tests

const BIG = {
  object: "account",
  columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_engagement_level" }, { slug: "ootb_account_annual_revenue" }],
};

test("Query panel: 200,000 rows previewed, sorted, filtered and downloaded", { timeout: 180_000 }, async (t) => {
  const truthP = truthCsv(sandbox, BIG);
  const { context, page, problems } = await openPage(browser, site.url);
  await fillSettings(page, sandbox.url);
  await setQuery(page, BIG);
  const truth = await truthP; // the sandbox has made its data: the run below times the page
  const started = Date.now();
  await runQuery(page, 120_000);
  t.diagnostic(`run + parse + first paint of ${ACCOUNTS} rows: ${Date.now() - started} ms`);
  const all = parseBig(truth);
  const header = all[0];
  const data = all.slice(1);
  assert.equal(data.length, ACCOUNTS);

  // ------------------------------------------------ smooth: few rows in the DOM, all reachable
  const table = page.getByTestId("preview-table");
  assert.equal(await table.getAttribute("data-row-count"), String(ACCOUNTS), "the table holds every row");
  assert.match(await page.getByTestId("preview-table-status").textContent(), /^200,000 rows$/);
  const inDom = await page.locator("[data-testid='preview-table'] tbody tr").count();
  assert.ok(inDom > 5 && inDom < 200, `only the rows on screen are in the DOM (${inDom})`);
  assert.equal(await table.getAttribute("aria-rowcount"), String(ACCOUNTS + 2));
  assert.deepEqual(await page.locator("[data-testid='preview-table'] thead tr.head-row th").allTextContents(), ["Row#", ...header]);
  assert.deepEqual((await screenRows(page)).slice(0, 5), data.slice(0, 5).map((r, i) => [String(i + 1), ...r]));

  // Keyboard: End shows the last row, Home the first, PageDown a screenful further.
  const scroller = page.getByTestId("preview-table-scroll");
  await scroller.focus();
  await page.keyboard.press("End");
  await page.waitForFunction((n) => document.querySelector("[data-testid='preview-table'] tbody tr:last-child th")?.textContent === String(n), ACCOUNTS, { timeout: TIMEOUT });
  const end = await screenRows(page);
  assert.deepEqual(end.at(-1), [String(ACCOUNTS), ...data.at(-1)], "the last row, cell by cell");
  await screenshot(page, "query-large");
  await page.keyboard.press("Home");
  await page.waitForFunction(() => document.querySelector("[data-testid='preview-table'] tbody tr th")?.textContent === "1", null, { timeout: TIMEOUT });
  await page.keyboard.press("PageDown");
  await page.waitForFunction(() => Number(document.querySelector("[data-testid='preview-table']").dataset.firstRow) > 5, null, { timeout: TIMEOUT });

  // Scrolling with the mouse wheel or the scrollbar: time from scroll to painted rows.
  const frame = await scroller.evaluate(async (el) => {
    const times = [];
    for (let i = 0; i < 40; i += 1) {
      const t0 = performance.now();
      el.scrollTop = ((i * 7919) % 40) * (el.scrollHeight / 40);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { median: times[20], worst: times[39] };
  });
  t.diagnostic(`scroll to painted rows (two frames): median ${frame.median.toFixed(1)} ms, worst ${frame.worst.toFixed(1)} ms`);
  assert.ok(frame.median < 100, `scrolling stays smooth (median ${frame.median} ms for two frames)`);
  const middle = await screenRows(page);
  for (const row of middle) assert.deepEqual(row.slice(1), data[Number(row[0]) - 1], `row ${row[0]} after scrolling`);

  // ------------------------------------------------ sort: numbers as numbers, both ways
  const ENG = 2;
  let t0 = Date.now();
  await page.getByTestId(`preview-table-sort-${ENG}`).click();
  await waitStatus(page, /sorted by ootb_account_engagement_level, ascending/);
  t.diagnostic(`sort ${ACCOUNTS} rows by a number column: ${Date.now() - t0} ms`);
  assert.equal(await page.locator(`[data-testid='preview-table'] thead th[data-col='${ENG}']`).getAttribute("aria-sort"), "ascending");
  const asc = numericOrder(data, ENG, "asc");
  const firstAsc = await screenRows(page);
  assert.deepEqual(firstAsc.map((r) => r[0]), asc.slice(0, firstAsc.length).map((i) => String(i + 1)), "ascending: rows in the expected order");
  await page.getByTestId(`preview-table-sort-${ENG}`).click();
  await waitStatus(page, /sorted by ootb_account_engagement_level, descending/);
  const desc = numericOrder(data, ENG, "desc");
  const firstDesc = await screenRows(page);
  assert.deepEqual(firstDesc.map((r) => r[0]), desc.slice(0, firstDesc.length).map((i) => String(i + 1)), "descending: rows in the expected order");
  // Empty cells come last either way.
  await scroller.focus();
  await page.keyboard.press("End");
  await page.waitForFunction(() => document.querySelector("[data-testid='preview-table'] tbody tr:last-child td:nth-of-type(3)")?.textContent === "", null, { timeout: TIMEOUT });

  // ------------------------------------------------ filter: text and number, combined with the sort
  t0 = Date.now();
  await page.getByTestId("preview-table-filter-1").fill("HOLDINGS");
  await waitStatus(page, /of 200,000 rows match/);
  t.diagnostic(`filter ${ACCOUNTS} rows by text: ${Date.now() - t0} ms (with a 150 ms typing pause)`);
  await page.getByTestId(`preview-table-filter-${ENG}`).fill(">=90");
  const expectFiltered = desc.filter((i) => data[i][1].toLowerCase().includes("holdings") && data[i][ENG] !== "" && Number(data[i][ENG]) >= 90);
  assert.ok(expectFiltered.length > 10, "the filter leaves some rows");
  await page.waitForFunction((n) => document.querySelector("[data-testid='preview-table']").dataset.shownRows === String(n), expectFiltered.length, { timeout: TIMEOUT });
  assert.match(await page.getByTestId("preview-table-status").textContent(), new RegExp(`^${expectFiltered.length.toLocaleString("en-US")} of 200,000 rows match the filters`));
  const filtered = await screenRows(page);
  assert.deepEqual(filtered.map((r) => r[0]), expectFiltered.slice(0, filtered.length).map((i) => String(i + 1)));

  // "Only the rows shown": the CSV of exactly the filtered, sorted rows (guarded).
  await page.getByTestId("download-view-only").check();
  const view = await download(page, "download-csv");
  const viewRows = parseBig(view.text);
  assert.deepEqual(viewRows[0], header);
  assert.deepEqual(
    viewRows.slice(1),
    expectFiltered.map((i) => data[i].map((v) => (dangerous(v) ? `'${v}` : v))),
  );
  await page.getByTestId("download-view-only").uncheck();
  await page.getByTestId("preview-table-filter-1").fill("");
  await page.getByTestId(`preview-table-filter-${ENG}`).fill("");
  await page.getByTestId(`preview-table-sort-${ENG}`).click();
  await waitStatus(page, /^200,000 rows$/);
  assert.equal(await page.locator(`[data-testid='preview-table'] thead th[data-col='${ENG}']`).getAttribute("aria-sort"), "none");

  // ------------------------------------------------ downloads: guarded CSV, raw CSV, JSON Lines
  const guarded = await download(page, "download-csv");
  assert.match(guarded.name, /^exportkit-account-\d{4}-\d{2}-\d{2}\.csv$/);
  assert.ok(guarded.text.endsWith("\r\n") && !/[^\r]\n/.test(guarded.text.replace(/"[^"]*"/g, "")), "CRLF after every record");
  const g = parseBig(guarded.text);
  assert.equal(g.length, all.length, "the guarded CSV has every row");
  let changed = 0;
  const seen = new Set();
  for (let r = 0; r < all.length; r += 1) {
    assert.equal(g[r].length, all[r].length, `row ${r} width`);
    for (let c = 0; c < all[r].length; c += 1) {
      const v = all[r][c];
      if (dangerous(v)) {
        changed += 1;
        seen.add(v);
        if (g[r][c] !== `'${v}`) assert.fail(`row ${r} col ${c}: ${JSON.stringify(g[r][c])} should be ${JSON.stringify(`'${v}`)}`);
      } else if (g[r][c] !== v) assert.fail(`row ${r} col ${c}: ${JSON.stringify(g[r][c])} should be ${JSON.stringify(v)} (unchanged)`);
    }
  }
  for (const name of ['=HYPERLINK("http://example.com","click")', "+1 Telecom", "-Minus Holdings", "@Mention Media", "\tTabbed Start Ltd"]) {
    assert.ok(seen.has(name), `the data holds ${JSON.stringify(name)} and the guard changed it`);
  }
  t.diagnostic(`guarded cells: ${changed}`);

  await page.getByTestId("download-keep-raw").check();
  const raw = await download(page, "download-csv");
  assert.equal(raw.text, truth, "“keep raw values” gives exactly the ground truth");
  await page.getByTestId("download-keep-raw").uncheck();

  const jsonl = await download(page, "download-jsonl");
  assert.match(jsonl.name, /^exportkit-account-\d{4}-\d{2}-\d{2}\.jsonl$/);
  const lines = jsonl.text.split("\n");
  assert.equal(lines.pop(), "", "every line ends with \\n");
  assert.equal(lines.length, ACCOUNTS);
  for (let i = 0; i < lines.length; i += 1) {
    const want = Object.fromEntries(header.map((k, c) => [k, data[i][c]]));
    const got = JSON.parse(lines[i]);
    if (JSON.stringify(got) !== JSON.stringify(want)) assert.deepEqual(got, want, `JSON line ${i + 1}`);
  }

  // ------------------------------------------------ chart a column: counts match the truth
  await page.getByTestId("chart-column").selectOption(String(ENG));
  const bars = await page.locator("[data-testid='chart'] li").evaluateAll((lis) => lis.map((li) => [li.querySelector(".bar-label").textContent, Number(li.dataset.count)]));
  assert.equal(bars.length, 11, "ten ranges and the empty cells");
  assert.equal(bars.reduce((s, b) => s + b[1], 0), ACCOUNTS, "every row is counted once");
  assert.deepEqual(bars.at(-1), ["(empty)", data.filter((r) => r[ENG] === "").length]);
  assert.equal(bars[0][1], data.filter((r) => r[ENG] !== "" && Number(r[ENG]) < 10).length, "0 to under 10");
  await page.getByTestId("chart-column").selectOption("1");
  const top = await page.locator("[data-testid='chart'] li").first().evaluate((li) => [li.querySelector(".bar-label").textContent, Number(li.dataset.count)]);
  const freq = new Map();
  for (const r of data) if (r[1] !== "") freq.set(r[1], (freq.get(r[1]) || 0) + 1);
  assert.equal(top[1], Math.max(...freq.values()), `the most frequent name (${top[0]})`);
  assert.equal(freq.get(top[0]), top[1]);
  await screenshot(page.getByTestId("chart"), "query-chart");

  await assertClean(page, problems);
  await context.close();
});

test("virtualised table: one million rows stay smooth", { timeout: 120_000 }, async (t) => {
  const { context, page, problems } = await openPage(browser, site.url);
  const n = 1_000_000;
  const m = await page.evaluate(async (n) => {
    const { virtualTable } = await import("./table.js");
    // Shared strings keep the page's memory small; the table reads them like any other.
    const names = ["Blue Systems", "=SUM(A1)", "Quantum Labs", "Zürich AG", "東京", "Nova Health", ""];
    const rows = new Array(n);
    for (let i = 0; i < n; i += 1) rows[i] = [names[i % 7], String((i * 7919) % 100003), names[(i * 3) % 7]];
    const t0 = performance.now();
    const vt = virtualTable({ header: ["name", "score", "other"], rows, testid: "million", label: "A million rows" });
    const host = document.createElement("div");
    host.className = "wrap";
    host.append(vt.element);
    document.querySelector("main").prepend(host);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const build = performance.now() - t0;
    const scroller = vt.element.querySelector("[data-testid='million-scroll']");
    const times = [];
    for (let i = 0; i < 60; i += 1) {
      const s = performance.now();
      scroller.scrollTop = ((i * 7919) % 60) * (scroller.scrollHeight / 60);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    let s = performance.now();
    vt.sortBy(1, "desc");
    const sort = performance.now() - s;
    s = performance.now();
    vt.filterColumn(0, "quantum");
    const filter = performance.now() - s;
    const shown = vt.view().length;
    vt.filterColumn(0, "");
    return { build, median: times[30], worst: times[59], sort, filter, shown, scrollHeight: scroller.scrollHeight, domRows: vt.table.tBodies[0].rows.length };
  }, n);
  t.diagnostic(
    `1,000,000 rows: first paint ${m.build.toFixed(0)} ms; scroll median ${m.median.toFixed(1)} ms, worst ${m.worst.toFixed(1)} ms (two frames); ` +
      `numeric sort ${m.sort.toFixed(0)} ms; text filter ${m.filter.toFixed(0)} ms; ${m.domRows} rows in the DOM; scroll height ${m.scrollHeight} px`,
  );
  assert.ok(m.domRows > 5 && m.domRows < 200, `${m.domRows} rows in the DOM`);
  assert.ok(m.scrollHeight <= 15_100_000, "the scroll height stays under the browsers' limits");
  assert.equal(m.shown, Math.ceil((n - 2) / 7), "the filter finds every \"Quantum Labs\" row");
  assert.ok(m.median < 100, `scrolling stays smooth (median ${m.median} ms for two frames)`);

  // The very last row is reachable from the keyboard, and sorted descending by number.
  await page.getByTestId("million-scroll").focus();
  await page.keyboard.press("End");
  await page.waitForFunction(() => document.querySelector("[data-testid='million'] tbody tr:last-child")?.getAttribute("aria-rowindex") === String(1_000_000 + 2), null, { timeout: TIMEOUT });
  const last = await screenRows(page, "million");
  let lastZero = 0; // ties keep file order: the last row with the smallest score (0) comes last
  for (let i = 0; i < n; i += 1) if ((i * 7919) % 100003 === 0) lastZero = i;
  assert.deepEqual(last.at(-1).slice(0, 3).filter((_, k) => k !== 1), [String(lastZero + 1), "0"], "descending by number, ties in file order");
  await assertClean(page, problems);
  await context.close();
});

test("Query panel: saved queries, share link and curl, without secrets", { timeout: 120_000 }, async (t) => {
  const query = {
    object: "account",
    columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_engagement_level" }],
    filter: {
      $and: [
        { attribute: { slug: "ootb_account_engagement_level" }, clause: { $gte: 97 } },
        { attribute: { slug: "ootb_account_industry" }, clause: { $in: ["Software", "Retail"] } },
        { attribute: { slug: "ootb_account_name" }, clause: { $ne: "O'Reilly & Sons" } },
      ],
    },
    sort: [{ attribute: { slug: "ootb_account_name" }, direction: "desc" }],
  };
  const { context, page, problems } = await openPage(browser, site.url, { permissions: ["clipboard-read", "clipboard-write"] });
  await fillSettings(page, sandbox.url);
  await setQuery(page, query);

  // ------------------------------------------------ saved queries
  await page.getByTestId("saved-name").fill("Hot software accounts");
  await page.getByTestId("saved-save").click();
  assert.match(await page.getByTestId("saved-status").textContent(), /Saved “Hot software accounts”/);
  await page.getByTestId("reset-query").click();
  assert.notDeepEqual(await queryJson(page), query);
  await page.getByTestId("saved-list").selectOption("Hot software accounts");
  await page.getByTestId("saved-load").click();
  assert.deepEqual(await queryJson(page), query, "a saved query loads back exactly");
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  for (const s of SECRETS) assert.ok(!storage.includes(s), "nothing stored holds a credential");
  assert.deepEqual(JSON.parse(await page.evaluate(() => localStorage.getItem("exportkit.savedQueries.v1"))).map((e) => [e.name, e.query]), [["Hot software accounts", query]]);

  // ------------------------------------------------ share link: opens with the query, no secret
  await page.getByTestId("copy-share-link").click();
  await page.getByTestId("share-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });
  const link = await page.getByTestId("share-output").inputValue();
  assert.ok(link.startsWith(`${site.url}/www/#query=`), link);
  for (const s of SECRETS) assert.ok(!link.includes(s) && !Buffer.from(link.split("=")[1], "base64url").toString().includes(s), "the link holds no credential");
  if (/Copied/.test(await page.getByTestId("share-status").textContent())) {
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link, "the clipboard holds the link");
  }
  const other = await openPage(browser, site.url, { hash: link.slice(link.indexOf("#")) });
  assert.deepEqual(await queryJson(other.page), query, "the link opens with its query");
  assert.match(await other.page.getByTestId("query-json-status").textContent(), /shared link/);
  assert.equal(await other.page.getByTestId("tab-query").getAttribute("aria-selected"), "true");
  assert.equal(await other.page.evaluate(() => location.hash), "#query", "the address no longer carries the query once it is loaded");
  // A link pasted into an open page (hash change) works too; a damaged one says so.
  await other.page.getByTestId("tab-activities").click();
  await other.page.getByTestId("reset-query").evaluate((el) => el.click());
  await other.page.evaluate((h) => (location.hash = h), link.slice(link.indexOf("#")));
  await other.page.waitForFunction(() => document.querySelector("#tab-query").getAttribute("aria-selected") === "true", null, { timeout: TIMEOUT });
  assert.deepEqual(await queryJson(other.page), query);
  await other.page.evaluate(() => (location.hash = "#query=bm90IGpzb24"));
  await other.page.getByTestId("query-json-status").filter({ hasText: /could not be opened/ }).waitFor({ timeout: TIMEOUT });
  assert.deepEqual(await queryJson(other.page), query, "a damaged link leaves the query alone");
  await assertClean(other.page, other.problems);
  await other.context.close();

  // Deleting removes it.
  await page.getByTestId("saved-delete").click();
  assert.equal(await page.evaluate(() => localStorage.getItem("exportkit.savedQueries.v1")), "[]");
  assert.equal(await page.getByTestId("saved-list").isDisabled(), true);

  // ------------------------------------------------ curl: no secret, and it really works
  await page.getByTestId("copy-curl").click();
  // The status line still says "Copied" from the share link: wait for the output itself.
  await page.waitForFunction(() => document.querySelector('[data-testid="share-output"]')?.value.includes("curl"), null, { timeout: TIMEOUT });
  await page.getByTestId("share-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });
  const curl = await page.getByTestId("share-output").inputValue();
  await screenshot(page, "query-share", { fullPage: true });
  for (const s of SECRETS) assert.ok(!curl.includes(s), "the curl command holds no credential");
  assert.match(curl, /\$BACKSTORY_CLIENT_ID/);
  assert.match(curl, /\$BACKSTORY_CLIENT_SECRET/);
  assert.match(curl, /Authorization: Bearer \$TOKEN/);
  assert.ok(curl.includes(`${sandbox.url}/v3/auth/tokens`) && curl.includes(`${sandbox.url}/v3/beta/insights/export`));
  const hasTools = ["curl", "jq"].every((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status === 0);
  if (!hasTools) {
    t.diagnostic("curl or jq missing: the command was not run");
  } else {
    const dir = await mkdtemp(path.join(tmpdir(), "ek-curl-"));
    try {
      // Asynchronously: the sandbox answering curl runs in this process.
      const r = await new Promise((resolve) => {
        const env = { PATH: process.env.PATH, HOME: dir, BACKSTORY_CLIENT_ID: SECRETS[0], BACKSTORY_CLIENT_SECRET: SECRETS[1] };
        execFile("bash", ["--noprofile", "--norc", "-e", "-c", curl], { cwd: dir, env, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? err.signal : 0, stderr }));
      });
      assert.equal(r.code, 0, `the curl command ran: ${r.stderr}`);
      const file = curl.match(/-o '([^']+)'/)[1];
      const got = await readFile(path.join(dir, file), "utf8");
      const want = await truthCsv(sandbox, query);
      assert.ok(readCsv(want).length > 2, "the query finds some rows");
      assert.equal(got, want, "curl fetched exactly the ground truth");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  await assertClean(page, problems);
  await context.close();
});
