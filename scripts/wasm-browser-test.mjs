// Runs the wasm-bindgen browser tests in Debian's Chromium, driven by playwright-core.
//   node scripts/wasm-browser-test.mjs TEST_WASM [FILTER]
// wasm-bindgen-test-runner serves its test page (NO_HEADLESS mode) and we load it ourselves:
// the runner's own chromedriver session hung here with nothing to show for it, while the same
// page under playwright runs and reports normally. Exit code 0 only on "test result: ok".
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

const [wasm, ...filter] = process.argv.slice(2);
if (!wasm) {
  console.error("usage: node scripts/wasm-browser-test.mjs TEST_WASM [FILTER]");
  process.exit(2);
}
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const runner = spawn("wasm-bindgen-test-runner", [wasm, ...filter], {
  env: { ...process.env, NO_HEADLESS: "1", WASM_BINDGEN_TEST_ADDRESS: `127.0.0.1:${port}` },
  stdio: ["ignore", "pipe", "inherit"],
});
const url = await new Promise((resolve, reject) => {
  let seen = "";
  runner.stdout.on("data", (c) => {
    seen += c;
    const m = seen.match(/https?:\/\/127\.0\.0\.1:\d+/);
    if (m) resolve(m[0]);
  });
  runner.on("exit", (code) => reject(new Error(`wasm-bindgen-test-runner exited (${code}) before serving: ${seen}`)));
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let code = 1;
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  // The runner's page runs every test in a module script, so "load" fires only at the end.
  await page.goto(url, { waitUntil: "commit" });
  const deadline = Date.now() + 10 * 60 * 1000;
  let text = "";
  while (Date.now() < deadline) {
    text = await page.evaluate(() => document.getElementById("output")?.textContent ?? document.body.innerText);
    if (/test result: (ok|FAILED)/.test(text)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(text.trim());
  code = /test result: ok\./.test(text) ? 0 : 1;
} finally {
  await browser.close();
  runner.kill();
}
process.exit(code);
