// Accessibility check: axe-core (from npm) injected into the dashboard in headless Chromium, the
// Query panel showing a result with its saved-query and share boxes in use, then every other
// panel, in the light and the dark colour scheme, at laptop and phone width. Fails on any serious
// or critical violation on any panel; everything axe found is kept in test-artifacts/a11y.json.
// (Each panel's own test also runs axe on the panel with its result, at laptop and phone width.)
//
//   node --test tests/page/a11y.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { ARTIFACTS, LAPTOP, PHONE, TIMEOUT, assertClean, axe, blocking, describeViolations, fillSettings, openPage, screenshot, setQuery, closePageEnv, startPageEnv } from "./page-helpers.mjs";

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv()));

after(() => closePageEnv({ browser, site, sandbox }));

const QUERY = {
  object: "account",
  columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }, { slug: "ootb_account_engagement_level" }, { slug: "not_a_real_slug" }],
  sort: [{ attribute: { slug: "ootb_account_engagement_level" }, direction: "desc" }],
};

test("accessibility: no serious or critical axe violations on any panel, light, dark and phone", { timeout: 180_000 }, async (t) => {
  const report = {};
  const failures = [];
  const { context, page, problems } = await openPage(browser, site.url);
  await fillSettings(page, sandbox.url);
  await setQuery(page, QUERY);
  // not_a_real_slug: the confirmation that names it is checked by axe, then accepted.
  await page.getByTestId("run").click();
  await page.getByTestId("run-confirm").waitFor({ timeout: TIMEOUT });
  const confirmBox = blocking((await axe(page, "[data-testid='run-confirm']")).violations);
  assert.deepEqual(confirmBox.map((v) => v.id), [], `the unknown-slug confirmation: ${describeViolations(confirmBox)}`);
  await page.getByTestId("run-confirm-yes").click();
  await page.getByTestId("result-summary").waitFor({ timeout: TIMEOUT });
  await page.getByTestId("preview-table").waitFor({ timeout: TIMEOUT });
  await page.getByTestId("missing-columns").waitFor({ timeout: TIMEOUT });
  // Use the features that add content: a sorted, filtered preview, the curl box, a saved query.
  await page.getByTestId("preview-table-sort-1").click();
  await page.getByTestId("preview-table-filter-1").fill("a");
  await page.getByTestId("saved-name").fill("a11y");
  await page.getByTestId("saved-save").click();
  await page.getByTestId("copy-curl").click();
  await page.getByTestId("share-status").filter({ hasText: /Copied|copy it/ }).waitFor({ timeout: TIMEOUT });

  const check = async (key, include) => {
    const { violations, incomplete } = await axe(page, include);
    report[key] = { violations, incomplete };
    t.diagnostic(`${key}: ${violations.length} violation(s) ${violations.map((v) => `${v.id}(${v.impact})`).join(" ")}`);
    // What axe could not decide (contrast of a one-character icon, say) is for a person to look at.
    if (incomplete.length) t.diagnostic(`${key}, for review: ${describeViolations(incomplete)}`);
    if (blocking(violations).length) failures.push(`${key}:\n${describeViolations(blocking(violations))}`);
  };
  for (const [name, colorScheme, viewport] of [
    ["light", "light", LAPTOP],
    ["dark", "dark", LAPTOP],
    ["phone", "light", PHONE],
  ]) {
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize(viewport);
    await page.getByTestId("tab-query").click();
    // The Query panel and everything on screen with it (settings, tabs, footer).
    await check(`query-${name}`, null);
    await screenshot(page, `a11y-query-${name}`, { fullPage: name !== "phone" });
    for (const id of ["activities", "forecasts", "userpilot"]) {
      await page.getByTestId(`tab-${id}`).click();
      await check(`${id}-${name}`, `#panel-${id}`);
      if (name !== "light") await screenshot(page, `a11y-${id}-${name}`, { fullPage: name !== "phone" });
    }
  }
  // The keyboard: the tabs follow the arrow keys (WAI-ARIA tabs), and Tab leaves the tab list
  // for the panel shown.
  await page.getByTestId("tab-query").click();
  await page.getByTestId("tab-query").focus();
  for (const id of ["activities", "forecasts", "userpilot", "query"]) {
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement.id), `tab-${id}`);
    assert.equal(await page.getByTestId(`tab-${id}`).getAttribute("aria-selected"), "true");
    assert.equal(await page.locator(`#panel-${id}`).isVisible(), true);
  }
  await page.keyboard.press("End");
  assert.equal(await page.evaluate(() => document.activeElement.id), "tab-userpilot");
  await page.keyboard.press("Tab");
  assert.ok(await page.evaluate(() => document.querySelector("#panel-userpilot").contains(document.activeElement)), "Tab goes into the panel shown");

  await assertClean(page, problems);
  await context.close();
  await writeFile(path.join(ARTIFACTS, "a11y.json"), `${JSON.stringify(report, null, 2)}\n`);
  assert.deepEqual(failures, [], `serious or critical accessibility violations:\n${failures.join("\n")}`);
});
