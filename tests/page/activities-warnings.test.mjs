// Page test: a vendor whose results_size counts fewer bytes than it sends (issue 15 §3, one reading
// of "Result size in bytes"). The export completes with every record, and the Activities panel says
// so in a warning instead of failing or staying silent.
//
//   node --test tests/page/activities-warnings.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TIMEOUT, assertClean, fillSettings, openPage, closePageEnv, startPageEnv } from "./page-helpers.mjs";

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv({ seed: 7, activities: 4000, fragmentRecords: 40, jobSpeed: 20 })));

after(() => closePageEnv({ browser, site, sandbox }));

const post = (p, body) => fetch(`${sandbox.url}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
const truthCount = async (q) =>
  (await (await fetch(`${sandbox.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).text()).split("\n").filter(Boolean).length;

for (const resultsSize of ["exact", "no_final_newline"]) {
  test(`Activities panel: results_size read as "${resultsSize}": every record, and a warning only when more bytes came`, { timeout: 90_000 }, async () => {
    assert.ok((await post("/__sandbox/reset")).ok);
    assert.ok((await post("/__sandbox/config", { readings: { resultsSize } })).ok);
    const { context, page, problems } = await openPage(browser, site.url, { hash: "#activities" });
    await fillSettings(page, sandbox.url);
    await page.getByTestId("tab-activities").click();
    await page.getByTestId("act-start").fill("2024-03-01");
    await page.getByTestId("act-end").fill("2024-03-10");
    await page.getByTestId("act-run").click();
    await page.getByTestId("act-summary").waitFor({ timeout: TIMEOUT });
    const n = await truthCount({ start_date: "2024-03-01", end_date: "2024-03-10" });
    assert.ok(n > 40, "more than one fragment of records");
    assert.match(await page.getByTestId("act-summary").textContent(), new RegExp(`^${n.toLocaleString("en-US")} records`));
    const warnings = page.getByTestId("act-warnings");
    if (resultsSize === "exact") {
      assert.equal(await warnings.count(), 0, "no warning when the count is right");
    } else {
      assert.match(await warnings.textContent(), /more data than its job said/);
      assert.deepEqual(await warnings.locator("li").evaluateAll((lis) => lis.map((li) => li.dataset.code)), ["W_RESULTS_SIZE"]);
      // The sizes disagree, so the client asks for one fragment past the count (the other reading
      // of `fragment`) and the vendor answers 404: the browser logs that one probe, nothing else.
      const probe = "console error: Failed to load resource: the server responded with a status of 404 (Not Found)";
      assert.equal(problems.filter((p) => p === probe).length, 1, "exactly one probe past the last fragment");
      problems.splice(0, problems.length, ...problems.filter((p) => p !== probe));
    }
    await assertClean(page, problems);
    await context.close();
  });
}
