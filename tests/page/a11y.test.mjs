// Accessibility check: axe-core (from npm) injected into the dashboard in headless Chromium,
// the Query panel showing a result, its saved-query and share boxes in use, in the light and the
// dark colour scheme, at laptop and phone width. Fails on any serious or critical violation
// there. The other panels are checked too and their findings reported (as diagnostics, and in
// test-artifacts/a11y.json) without failing this test: their own tests own them.
//
//   node --test tests/page/a11y.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { startSandbox } from "../../sandbox/server.mjs";
import { startStatic } from "../../scripts/serve.mjs";
import { ARTIFACTS, ROOT, TIMEOUT, assertClean, fillSettings, launchBrowser, openPage, runQuery, setQuery } from "./page-helpers.mjs";

const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const BLOCKING = new Set(["serious", "critical"]);

let sandbox;
let site;
let browser;

before(async () => {
  sandbox = await startSandbox({ port: 0 });
  site = await startStatic({ root: ROOT, port: 0, config: {} });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await sandbox?.close();
});

/**
 * Runs axe on the page (or on `include`, a CSS selector) and returns the violations, each as
 * { id, impact, help, nodes: [selector...] }. The script goes in through the DevTools protocol,
 * which the page's Content-Security-Policy does not restrict: the page itself stays as strict.
 */
async function axe(page, include = null) {
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

const blocking = (violations) => violations.filter((v) => BLOCKING.has(v.impact));
const describe = (violations) => violations.map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.join("\n    ")}`).join("\n");

const QUERY = {
  object: "account",
  columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_engagement_level" }, { slug: "not_a_real_slug" }],
  sort: [{ attribute: { slug: "ootb_account_engagement_level" }, direction: "desc" }],
};

test("accessibility: no serious or critical axe violations on the Query panel with a result", { timeout: 180_000 }, async (t) => {
  const report = {};
  const failures = [];
  const { context, page, problems } = await openPage(browser, site.url);
  await fillSettings(page, sandbox.url);
  await setQuery(page, QUERY);
  await runQuery(page);
  await page.getByTestId("missing-columns").waitFor({ timeout: TIMEOUT });
  // Use the features that add content: a sorted, filtered preview, the curl box, a saved query.
  await page.getByTestId("preview-table-sort-1").click();
  await page.getByTestId("preview-table-filter-1").fill("a");
  await page.getByTestId("saved-name").fill("a11y");
  await page.getByTestId("saved-save").click();
  await page.getByTestId("copy-curl").click();
  await page.getByTestId("share-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });

  for (const [name, colorScheme, viewport] of [
    ["light", "light", { width: 1280, height: 900 }],
    ["dark", "dark", { width: 1280, height: 900 }],
    ["phone", "light", { width: 390, height: 844 }],
  ]) {
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize(viewport);
    await page.getByTestId("tab-query").click();
    // The Query panel and everything on screen with it (settings, tabs).
    const { violations: found, incomplete } = await axe(page);
    report[`query-${name}`] = { violations: found, incomplete };
    t.diagnostic(`query panel, ${name}: ${found.length} violation(s) ${found.map((v) => `${v.id}(${v.impact})`).join(" ")}`);
    // What axe could not decide (contrast of a one-character icon, say) is for a person to look at.
    if (incomplete.length) t.diagnostic(`query panel, ${name}, for review: ${describe(incomplete)}`);
    if (blocking(found).length) failures.push(`${name}:\n${describe(blocking(found))}`);
    await page.screenshot({ path: path.join(ARTIFACTS, `page-a11y-${name}.png`), fullPage: name !== "phone" });

    // The other panels (once): reported, not failed here.
    if (name === "light") {
      for (const id of ["activities", "forecasts", "userpilot"]) {
        await page.getByTestId(`tab-${id}`).click();
        const { violations: other } = await axe(page, `#panel-${id}`);
        report[`${id}-${name}`] = other;
        if (other.length) t.diagnostic(`${id} panel, ${name} (not failed here): ${describe(other)}`);
      }
    }
  }
  await assertClean(page, problems);
  await context.close();
  await writeFile(path.join(ARTIFACTS, "a11y.json"), `${JSON.stringify(report, null, 2)}\n`);
  assert.deepEqual(failures, [], `serious or critical accessibility violations:\n${failures.join("\n")}`);
});
