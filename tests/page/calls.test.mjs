// Page test (Chromium via playwright-core, against the sandbox): the dashboard spends the user's
// calls only on purpose, and says plainly why a call failed.
// - The Query panel's JSON editor holding text that does not parse blocks Run (the form keeps the
//   last valid query, a different one): the parse error is shown with its line and column, and
//   the sandbox sees no call and no token request.
// - Slugs the page does not know (not in knownSlugs, the catalogue or earlier runs) are named in a
//   confirmation before the call; backing out makes no call.
// - Forecasts and Userpilot failures read like the Query panel's: plain words, the status once, a
//   way to Settings on refused credentials, dates as dates.
//
//   node --test tests/page/calls.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";
import { assertAccessible, assertClean, countRequests, fillSettings, openPage, screenshot, setQuery, TIMEOUT, closePageEnv, startPageEnv } from "./page-helpers.mjs";

let sandbox, site, browser;

before(async () => ({ sandbox, site, browser } = await startPageEnv({ jobSpeed: 40, eventsPerDay: 20 })));

after(() => closePageEnv({ browser, site, sandbox }));

async function control(method, path, body) {
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${path} -> ${res.status}`);
  return res.status === 204 ? null : res.json();
}
const state = () => control("GET", "/__sandbox/state");

/** The browser logs each refused answer as a console error; those are the ones a test provokes. */
const provoked = (problems, statuses) => {
  const re = new RegExp(`status of (${statuses.join("|")})`);
  const kept = problems.filter((p) => !re.test(p));
  problems.length = 0;
  problems.push(...kept);
};

const KNOWN = {
  object: "account",
  columns: [{ slug: "ootb_account_crm_id" }, { slug: "ootb_account_name" }],
  sort: [{ attribute: { slug: "ootb_account_name" }, direction: "asc" }],
};

test("Query panel: JSON that does not parse blocks Run, with the line and column; nothing is spent", { timeout: 120_000 }, async () => {
  await control("POST", "/__sandbox/reset");
  const { context, page, problems } = await openPage(browser, site.url);
  const sent = countRequests(page, sandbox.url);
  await fillSettings(page, sandbox.url);
  await setQuery(page, KNOWN);

  // A typo on line 4: the form keeps the last valid query, which Run must not send.
  const other = { object: "opportunity", columns: [{ slug: "ootb_opportunity_crm_id" }, { slug: "ootb_opportunity_name" }] };
  const broken = JSON.stringify(other, null, 2).replace('"opportunity",', '"opportunity"');
  await page.getByTestId("query-json").fill(broken);
  assert.equal(await page.getByTestId("query-json").getAttribute("aria-invalid"), "true");
  const status = await page.getByTestId("query-json-status").textContent();
  assert.match(status, /line 3, column 3/, `the editor says where: ${status}`);

  await page.getByTestId("run").click();
  const blocked = page.getByTestId("run-blocked");
  await blocked.waitFor({ timeout: TIMEOUT });
  assert.match(await page.getByTestId("run-blocked-reason").textContent(), /line 3, column 3: expected “,” or “}”/);
  assert.match(await blocked.textContent(), /last valid query instead/);
  // "Go to the JSON" puts the caret at the mistake.
  await page.getByTestId("run-blocked-go").click();
  const caret = await page.getByTestId("query-json").evaluate((el) => [document.activeElement === el, el.value.slice(0, el.selectionStart).split("\n").length]);
  assert.deepEqual(caret, [true, 3], "the editor has the focus, the caret on line 3");
  await assertAccessible(page, "the blocked-run message", "[data-testid='run-blocked']");
  await screenshot(page.getByTestId("run-message"), "query-run-blocked");

  // Enter in the form (its submit) is blocked too.
  await page.getByTestId("query-object").press("Enter");
  await blocked.waitFor({ timeout: TIMEOUT });
  const s = await state();
  assert.equal(s.queryCallsToday, 0, "the sandbox saw no query call");
  assert.equal(s.tokens, 0, "not even a token was asked for");
  assert.deepEqual(sent.filter((r) => !r.includes("/__sandbox/")), [], "no request to the API");

  // Fixed, the query in the editor is the one that runs (known slugs: no question asked).
  await page.getByTestId("query-json").fill(broken.replace('"opportunity"', '"opportunity",'));
  await page.getByTestId("validation-ok").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("query-json").getAttribute("aria-invalid"), null);
  await page.getByTestId("run").click();
  await page.getByTestId("result-summary").waitFor({ timeout: TIMEOUT });
  assert.equal(await page.getByTestId("run-confirm").count(), 0);
  assert.equal((await state()).queryCallsToday, 1);
  const header = await page.locator("[data-testid='preview-table'] thead th").allTextContents();
  assert.deepEqual(header.slice(1), ["ootb_opportunity_crm_id", "ootb_opportunity_name"], "the query in the editor ran, not the last valid one");

  await assertClean(page, problems);
  await context.close();
});

test("Query panel: unknown slugs are named before the call; backing out spends nothing", { timeout: 120_000 }, async () => {
  await control("POST", "/__sandbox/reset");
  const { context, page, problems } = await openPage(browser, site.url);
  await fillSettings(page, sandbox.url);
  const query = {
    object: "account",
    columns: [{ slug: "ootb_account_name" }, { slug: "ootb_acount_industry" }],
    filter: { attribute: { slug: "no_such_filter_slug" }, clause: { $eq: "x" } },
  };
  await setQuery(page, query);
  await page.getByTestId("run").click();
  const confirm = page.getByTestId("run-confirm");
  await confirm.waitFor({ timeout: TIMEOUT });
  assert.deepEqual(await page.getByTestId("run-confirm-slug").allTextContents(), ["ootb_acount_industry", "no_such_filter_slug"]);
  assert.match(await confirm.textContent(), /spends one of the 10 daily calls/);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "run-confirm-back", "the safe choice has the focus");
  await assertAccessible(page, "the unknown-slug confirmation", "[data-testid='run-confirm']");
  await screenshot(confirm, "query-run-confirm");
  await page.getByTestId("run-confirm-back").click();
  assert.equal(await confirm.count(), 0);
  assert.equal((await state()).queryCallsToday, 0, "backing out spends nothing");

  // Fixing the typo leaves one unknown slug: asked again, naming only that one; yes runs it.
  await page.getByTestId("column-slug-1").fill("ootb_account_industry");
  await page.getByTestId("run").click();
  await confirm.waitFor({ timeout: TIMEOUT });
  assert.deepEqual(await page.getByTestId("run-confirm-slug").allTextContents(), ["no_such_filter_slug"]);
  assert.equal((await state()).queryCallsToday, 0);
  await page.getByTestId("run-confirm-yes").click();
  await page.waitForSelector("[data-testid='result-summary'], [data-testid='run-error']", { timeout: TIMEOUT });
  assert.equal((await state()).queryCallsToday, 1, "one call, after the yes");

  provoked(problems, [400]);
  await assertClean(page, problems);
  await context.close();
});

test("Forecasts panel: a refused secret, a 429 and a bad time range read in plain words", { timeout: 120_000 }, async () => {
  await control("POST", "/__sandbox/reset");
  const { context, page, problems } = await openPage(browser, site.url);
  await fillSettings(page, sandbox.url);
  await page.getByTestId("settings-clientSecret").fill("not-the-secret");
  await page.getByTestId("tab-forecasts").click();
  await page.getByTestId("fc-validation-ok").waitFor({ timeout: TIMEOUT });
  await page.getByTestId("fc-run").click();
  const err = page.getByTestId("fc-run-error");
  await err.waitFor({ timeout: TIMEOUT });
  assert.equal(await err.getAttribute("data-code"), "E_AUTH");
  const text = await err.textContent();
  assert.match(text, /Backstory refused the client id and secret \(401\)/);
  assert.match(text, /Client authentication failed/, "the vendor's own words");
  assert.doesNotMatch(text, /HTTP 401[\s\S]*HTTP 401|\(401\)[\s\S]*\(HTTP 401\)/, `the status once: ${text}`);
  assert.doesNotMatch(text, /[{}]|E_AUTH/, `no JSON body, no error code: ${text}`);
  assert.ok(!text.includes("not-the-secret"), "the secret never shows");
  await assertAccessible(page, "the Forecasts error", "[data-testid='fc-run-error']");
  await err.getByTestId("open-settings").click();
  assert.equal(await page.locator("details.settings").evaluate((el) => el.open), true, "Open settings opens them");

  // A 429 says when to try again, in words.
  await page.getByTestId("settings-clientSecret").fill(SANDBOX_CREDENTIALS.backstory.clientSecret);
  await control("POST", "/__sandbox/faults", { scope: "forecasting", fault: "status", status: 429, retryAfter: 120, every: 1 });
  await page.getByTestId("fc-run").click();
  await page.waitForFunction(() => document.querySelector("[data-testid='fc-run-error']")?.dataset.code === "E_RATE_LIMITED", null, { timeout: TIMEOUT });
  assert.match(await err.textContent(), /too many calls \(429\)\. Try again in 2 min/);
  await control("POST", "/__sandbox/faults/clear");

  // Since after until: the message gives the two moments as dates, not epoch milliseconds.
  await page.getByTestId("fc-snapshots").selectOption("all");
  await page.getByTestId("fc-since").fill("2024-06-01T00:00");
  await page.getByTestId("fc-until").fill("2024-05-01T00:00");
  const v = page.getByTestId("fc-validation-error");
  await page.waitForFunction(() => document.querySelector("[data-testid='fc-validation-error']")?.dataset.field === "timeframe.since", null, { timeout: TIMEOUT });
  const vt = await v.textContent();
  const dates = await page.evaluate(() =>
    [new Date("2024-06-01T00:00"), new Date("2024-05-01T00:00")].map((d) => d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })),
  );
  assert.ok(vt.includes(dates[0]) && vt.includes(dates[1]), `dates as dates: ${vt}`);
  assert.doesNotMatch(vt, /\d{13}/, `no epoch milliseconds: ${vt}`);
  assert.doesNotMatch(vt, /invalid `/, `plain words: ${vt}`);

  provoked(problems, [401, 429]);
  await assertClean(page, problems);
  await context.close();
});

test("Userpilot panel: a refused key reads in plain words, status once, with a way to Settings", { timeout: 120_000 }, async () => {
  await control("POST", "/__sandbox/reset");
  const { context, page, problems } = await openPage(browser, site.url);
  const details = page.locator("details.settings");
  if (!(await details.evaluate((el) => el.open))) await page.locator("details.settings > summary").click();
  await page.getByTestId("settings-userpilotBaseUrl").fill(sandbox.url);
  await page.getByTestId("settings-userpilotApiKey").fill("wrong-key-SEKRIT");
  await page.locator("details.settings > summary").click();
  await page.getByTestId("tab-userpilot").click();
  await page.getByTestId("up-from").fill("2024-02-05");
  await page.getByTestId("up-to").fill("2024-02-06");
  await page.getByTestId("up-run").click();
  const err = page.getByTestId("up-error");
  await page.waitForFunction(() => document.querySelector("[data-testid='up-error']")?.dataset.code === "E_AUTH", null, { timeout: TIMEOUT });
  const text = await err.textContent();
  assert.match(text, /Userpilot refused the API key \(401\)\. Userpilot said: “Invalid API key”/);
  assert.equal((text.match(/401/g) || []).length, 1, `the status once: ${text}`);
  assert.ok(!text.includes("SEKRIT"), "the key never shows");
  await assertAccessible(page, "the Userpilot error", "[data-testid='up-error']");
  await err.getByTestId("open-settings").click();
  assert.equal(await details.evaluate((el) => el.open), true);
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "settings-userpilotApiKey", "the key field has the focus");
  await screenshot(err, "userpilot-auth-error");
  const jobs = (await state()).userpilotJobs;
  assert.equal(jobs.in_progress + jobs.completed + jobs.failed, 0);

  provoked(problems, [401]);
  await assertClean(page, problems);
  await context.close();
});
