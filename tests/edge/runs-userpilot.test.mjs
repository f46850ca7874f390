// Userpilot runs in the Runs view (issue 18), in headless Chromium, served by the worker in
// workerd against the sandbox: a run shows its days, records and status; Cancel posts to the
// Userpilot run route and stops it; a stopped Userpilot run offers Re-run (its resume route), a
// finished one does not; a finished run shows the manifest's records and its watermark.
//
//   node --test tests/edge/runs-userpilot.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser } from "../page/page-helpers.mjs";
import { ACCESS_KEY, control, sandboxSecrets, startEdge, signedInRunsPage, startSandbox } from "./helpers.mjs";

const TIMEOUT = 60_000;
const KEY = { "X-Exportkit-Key": ACCESS_KEY };

let sb;
let edge;
let browser;

before(async () => {
  sb = await startSandbox({ seed: 19, eventsPerDay: 60, jobSpeed: 50 });
  edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, USERPILOT_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "50", RUN_SLOT_WAIT_MS: "100" }, secrets: sandboxSecrets() });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await edge?.close();
  await sb?.close();
});

const signedInPage = () => signedInRunsPage(browser, edge.url, TIMEOUT);

async function startRun(body) {
  const r = await fetch(`${edge.url}/api/runs/userpilot`, { method: "POST", headers: { ...KEY, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(r.status, 202, await r.clone().text());
  return (await r.json()).id;
}

test("a finished Userpilot run shows all its days, the manifest's records and its watermark", async () => {
  const id = await startRun({ from: "2024-04-01", to: "2024-04-03" });
  const { context, page, problems } = await signedInPage();
  const row = page.locator(`[data-testid="run-row"][data-run="${id}"]`);
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"]`)?.dataset.status === "complete", id, { timeout: TIMEOUT });
  assert.equal(await row.getByTestId("run-windows").textContent(), "3 / 3");
  const bucket = await edge.r2();
  const key = (await bucket.list({ prefix: "exports/userpilot/day=" })).objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
  const manifest = JSON.parse(await (await bucket.get(key)).text());
  assert.ok(manifest.rows > 0);
  assert.equal(await row.getByTestId("run-records").textContent(), manifest.rows.toLocaleString("en-US"));
  assert.equal(await row.getByTestId("run-watermark").textContent(), "2024-04-01 → 2024-04-03");
  assert.equal(await row.getByTestId("run-failure").textContent(), "");
  assert.equal(await row.getByTestId("run-resume").count(), 0);
  const list = await (await fetch(`${edge.url}/api/runs`, { headers: KEY })).json();
  const run = list.runs.find((r) => r.id === id);
  assert.equal(run.api, "userpilot");
  assert.equal(run.bytes, manifest.bytes);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a failed Userpilot run shows the failing step's message", async () => {
  const id = await startRun({ incremental: { through: "2024-01-10" } });
  const { context, page, problems } = await signedInPage();
  const row = page.locator(`[data-testid="run-row"][data-run="${id}"]`);
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"]`)?.dataset.status === "errored", id, { timeout: TIMEOUT });
  assert.match(await row.getByTestId("run-failure").textContent(), /needs incremental\.startDate/);
  assert.equal(await row.getByTestId("run-resume").count(), 1, "a stopped Userpilot run can go on (POST .../resume)");
  assert.deepEqual(problems, []);
  await context.close();
});

// Last: a cancelled instance holds the key's one export slot until its lease lapses.
test("a Userpilot run in the Runs view: its days while it runs, Cancel on its own route, then Re-run offered", async () => {
  // A job that does not finish on its own: the run stays running until it is cancelled.
  await control(sb, "/__sandbox/config", { jobSpeed: 0.000001 });
  const id = await startRun({ from: "2024-03-01", to: "2024-03-05" });
  const { context, page, problems } = await signedInPage();
  const row = page.locator(`[data-testid="run-row"][data-run="${id}"]`);
  await row.waitFor({ timeout: TIMEOUT });
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"] [data-testid="run-windows"]`)?.textContent === "0 / 5", id, { timeout: TIMEOUT });
  assert.equal(await row.locator("td").first().textContent(), "userpilot");
  assert.equal(await row.getAttribute("data-status"), "running");

  const [cancelReq] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith(`/api/runs/userpilot/${id}/cancel`) && r.method() === "POST"),
    row.getByTestId("run-cancel").click(),
  ]);
  assert.equal((await cancelReq.allHeaders()).origin, edge.url);
  await page.waitForFunction((id) => document.querySelector(`[data-run="${id}"]`)?.dataset.status === "terminated", id, { timeout: TIMEOUT });
  assert.equal(await row.getByTestId("run-cancel").count(), 0);
  assert.equal(await row.getByTestId("run-resume").count(), 1, "a cancelled Userpilot run can go on");
  assert.equal(await page.getByTestId("runs-error").count(), 0);
  assert.deepEqual(problems, []);
  await context.close();

  // Cancel gave the key's one export slot back: the next run goes ahead (once the vendor's own job
  // is done) instead of waiting hours for the lease to lapse.
  // (The sandbox's job of the cancelled run would hold the vendor's own one-at-a-time rule: the
  // vendor is reset, so only our Durable Object's slot could hold the next run back.)
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/config", { jobSpeed: 50 });
  const next = await startRun({ from: "2024-03-01", to: "2024-03-02" });
  let status;
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    status = await (await fetch(`${edge.url}/api/runs/userpilot/${next}`, { headers: KEY })).json();
    if (["complete", "errored", "terminated"].includes(status.status)) break;
  }
  assert.equal(status.status, "complete", JSON.stringify(status));
});
