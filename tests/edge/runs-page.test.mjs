// The Runs view (issue 18) in headless Chromium, served by the worker in workerd against the
// sandbox: a durable activity run shows its windows, records and status as it goes; Cancel stops
// it, Re-run continues it to the end, through the page's session cookie (and its Origin); the list
// route and the run routes answer 401 without a session, and the page goes to /signin.
//
//   node --test tests/edge/runs-page.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser } from "../page/page-helpers.mjs";
import { ACCESS_KEY, control, sandboxSecrets, startEdge, signedInRunsPage, startSandbox, wranglerConfig } from "./helpers.mjs";

const TIMEOUT = 60_000;
const KEY = { "X-Exportkit-Key": ACCESS_KEY };

let sb;
let edge;
let browser;

before(async () => {
  sb = await startSandbox({ seed: 18, activities: 3000, fragmentRecords: 40, jobSpeed: 50 });
  edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50" }, secrets: sandboxSecrets() });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await edge?.close();
  await sb?.close();
});

const signedInPage = () => signedInRunsPage(browser, edge.url, TIMEOUT);

test("without a session the runs routes answer 401 and the Runs view sends a person to /signin", async () => {
  const list = await fetch(`${edge.url}/api/runs`);
  assert.equal(list.status, 401);
  assert.equal(list.headers.get("x-exportkit-sign-in"), "/signin");
  await list.arrayBuffer();
  const cancel = await fetch(`${edge.url}/api/runs/activities/some-run/cancel`, { method: "POST", headers: { Origin: edge.url } });
  assert.equal(cancel.status, 401);
  await cancel.arrayBuffer();
  const resume = await fetch(`${edge.url}/api/runs/activities/some-run/resume`, { method: "POST", headers: { Origin: edge.url } });
  assert.equal(resume.status, 401);
  await resume.arrayBuffer();

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${edge.url}/www/#runs`);
  assert.equal(new URL(page.url()).pathname, "/signin");
  await context.close();
});

test("the schedule route shows the shipped crons and the next tick", async () => {
  const r = await fetch(`${edge.url}/api/runs`, { headers: KEY });
  assert.equal(r.status, 200);
  const body = await r.json();
  const cfg = await wranglerConfig();
  assert.ok(cfg.crons.length > 0);
  assert.deepEqual(body.schedule.crons, cfg.crons, "CRON_SCHEDULE in [vars] is the [triggers] crons");
  assert.ok(Date.parse(body.schedule.next) > Date.now(), "the next tick is ahead");
  assert.deepEqual(body.runs, []);
});

test("a run in the Runs view: its progress, Cancel, then Re-run to the end", async () => {
  // Jobs that do not finish on their own: the run stays running until it is cancelled.
  await control(sb, "/__sandbox/config", { jobSpeed: 0.000001 });
  const started = await fetch(`${edge.url}/api/runs/activities`, {
    method: "POST",
    headers: { ...KEY, "Content-Type": "application/json" },
    body: JSON.stringify({ startDate: "2024-01-01", endDate: "2024-01-28" }),
  });
  assert.equal(started.status, 202, await started.clone().text());
  const { id } = await started.json();

  const { context, page, problems } = await signedInPage();
  const row = page.locator(`[data-testid="run-row"][data-run="${id}"]`);
  await row.waitFor({ timeout: TIMEOUT });
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"] [data-testid="run-windows"]`)?.textContent === "0 / 2", id, { timeout: TIMEOUT });
  assert.match(await page.getByTestId("runs-schedule").textContent(), /Cron: 15 5 \* \* \*.*Next tick: \d{4}-/);
  assert.equal(await row.getAttribute("data-status"), "running");

  // Cancel: a POST with the cookie from the page; the run ends terminated and offers Re-run.
  const [cancelReq] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith(`/api/runs/activities/${id}/cancel`) && r.method() === "POST"),
    row.getByTestId("run-cancel").click(),
  ]);
  assert.equal((await cancelReq.allHeaders()).origin, edge.url, "the page's own Origin goes with the state change");
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"]`)?.dataset.status === "terminated", id, { timeout: TIMEOUT });
  assert.equal(await row.getByTestId("run-cancel").count(), 0);

  // Re-run: the jobs now finish; the run goes on in a new instance and the view follows it.
  await control(sb, "/__sandbox/config", { jobSpeed: 50 });
  // The job the cancelled instance made was made slow: the vendor finishes it now (the new
  // instance adopts it rather than making a second one).
  for (const jobId of sb.sandbox.activities.jobs.keys()) await control(sb, `/__sandbox/jobs/${jobId}/complete`, {});
  await row.getByTestId("run-resume").click();
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"]`)?.dataset.status === "complete", id, { timeout: TIMEOUT });
  assert.equal(await row.getByTestId("run-windows").textContent(), "2 / 2");

  const bucket = await edge.r2();
  const key = (await bucket.list({ prefix: "exports/activities/" })).objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
  const manifest = JSON.parse(await (await bucket.get(key)).text());
  assert.ok(manifest.rows > 0);
  assert.equal(await row.getByTestId("run-records").textContent(), manifest.rows.toLocaleString("en-US"));
  assert.equal(await row.getByTestId("run-watermark").textContent(), "2024-01-01 → 2024-01-28");
  assert.equal(await row.getByTestId("run-failure").textContent(), "");
  assert.deepEqual(problems, []);
  await context.close();
});

test("a failed run shows its failure with the message, and offers Re-run", async () => {
  // The first incremental run needs a start day: its plan step fails for good, with a message.
  const started = await fetch(`${edge.url}/api/runs/activities`, {
    method: "POST",
    headers: { ...KEY, "Content-Type": "application/json" },
    body: JSON.stringify({ incremental: { through: "2024-01-10" } }),
  });
  assert.equal(started.status, 202, await started.clone().text());
  const { id } = await started.json();
  const { context, page, problems } = await signedInPage();
  const row = page.locator(`[data-testid="run-row"][data-run="${id}"]`);
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"]`)?.dataset.status === "errored", id, { timeout: TIMEOUT });
  assert.match(await row.getByTestId("run-failure").textContent(), /needs incremental\.startDate/);
  assert.equal(await row.getByTestId("run-resume").count(), 1);
  assert.equal(await row.getByTestId("run-cancel").count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
  // The failed run gave back the one-at-a-time lease: the next incremental run is not refused.
  const next = await fetch(`${edge.url}/api/runs/activities`, {
    method: "POST",
    headers: { ...KEY, "Content-Type": "application/json" },
    body: JSON.stringify({ incremental: { startDate: "2024-02-01", through: "2024-01-31" } }),
  });
  assert.equal(next.status, 202, await next.clone().text());
  const nextId = (await next.json()).id;
  let status;
  for (const end = Date.now() + TIMEOUT; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    status = await (await fetch(`${edge.url}/api/runs/activities/${nextId}`, { headers: KEY })).json();
    if (["complete", "errored", "terminated"].includes(status.status)) break;
  }
  assert.equal(status.status, "complete", JSON.stringify(status));
});
