// Page test (Chromium via playwright-core): the dashboard loads the parse module first and the
// client module after it (issue 19), each once, and both from the page's own origin.
//
//   node --test tests/page/wasm-modules.test.mjs
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStatic } from "../../scripts/serve.mjs";
import { launchBrowser, ROOT, TIMEOUT } from "./page-helpers.mjs";

let site;
let browser;

before(async () => {
  site = await startStatic({ root: ROOT, port: 0, config: {} });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

test("the dashboard fetches the parse module, then the client module, once each", async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const wasm = [];
    page.on("response", (r) => {
      if (new URL(r.url()).pathname.endsWith(".wasm")) wasm.push({ path: new URL(r.url()).pathname, status: r.status(), at: wasm.length });
    });
    await page.goto(`${site.url}/www/`);
    await page.waitForFunction(() => document.body.dataset.ready === "true" || document.querySelector("#app-status.error-box"), null, { timeout: TIMEOUT });
    assert.equal(await page.locator("#app-status.error-box").count(), 0, "the dashboard started");
    assert.deepEqual(
      wasm.map((w) => [w.path, w.status]),
      [
        ["/pkg-parse/exportkit_parse_bg.wasm", 200],
        ["/pkg/exportkit_bg.wasm", 200],
      ],
    );
  } finally {
    await context.close();
  }
});
