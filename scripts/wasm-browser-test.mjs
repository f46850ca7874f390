// Runs the wasm-bindgen browser tests in Debian's Chromium, driven by playwright-core.
//   node scripts/wasm-browser-test.mjs TEST_WASM [FILTER]
// wasm-bindgen-test-runner serves its test page (NO_HEADLESS mode) and we load it ourselves:
// the runner's own chromedriver session hung here with nothing to show for it, while the same
// page under playwright runs and reports normally. Exit code 0 only on "test result: ok".
//
// The runner's little HTTP server (rouille over tiny_http) sometimes never answers one of the
// five or six module requests Chromium sends at once on keep-alive connections (seen: 4 of 10
// runs stuck on one `snippets/.../inlineN.js`). So the page never talks to it directly: it loads
// from a small proxy here that asks the runner one request at a time, each on a fresh connection,
// with a timeout and a retry. (Playwright's page.route would do the same but, once on, it broke
// the tests' CORS requests to the sandbox.)
import { createServer as createHttpServer, request as httpRequest } from "node:http";
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
const runnerUrl = await new Promise((resolve, reject) => {
  let seen = "";
  runner.stdout.on("data", (c) => {
    seen += c;
    const m = seen.match(/https?:\/\/127\.0\.0\.1:\d+/);
    if (m) resolve(m[0]);
  });
  runner.on("exit", (code) => reject(new Error(`wasm-bindgen-test-runner exited (${code}) before serving: ${seen}`)));
});

// One request at a time, `Connection: close`, retried when the runner goes quiet.
let queue = Promise.resolve();
const proxy = createHttpServer((req, res) => {
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => {
    const job = queue.then(async () => {
      let last;
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const got = await fetchOnce(runnerUrl + req.url, req.method, req.headers, parts.length ? Buffer.concat(parts) : null);
          res.writeHead(got.status, got.headers);
          return res.end(got.body);
        } catch (e) {
          last = e;
        }
      }
      console.error(`the runner did not answer ${req.url}: ${last?.message}`);
      res.writeHead(504);
      res.end();
    });
    queue = job.catch(() => {});
  });
});
const url = await new Promise((resolve) => {
  proxy.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${proxy.address().port}`));
});
function fetchOnce(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const h = { ...headers, connection: "close" };
    delete h["accept-encoding"];
    delete h.host;
    const req = httpRequest(url, { method, headers: h, agent: false, timeout: 10_000 }, (res) => {
      const parts = [];
      res.on("data", (c) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: flat(res.headers), body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}
function flat(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return out;
}

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
  proxy.close();
}
process.exit(code);
