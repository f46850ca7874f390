// The installed package bundled for a page by Vite and by esbuild, each bundle served on loopback
// as a static site and loaded in Chromium: the page parses a CSV and queries the sandbox through
// the wasm the bundler emitted.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, SANDBOX_CREDENTIALS, esbuildPage, freshProject, openInChromium, removeProjects, serveDir, startSandbox, viteBuild } from "./helpers.mjs";

let sb;
let browser;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 7 });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
});
after(async () => {
  await browser?.close();
  await sb.close();
  await removeProjects();
});

const QUERY = { object: "user", columns: [{ slug: "ootb_user_email" }, { slug: "ootb_user_is_active" }] };

// The page's program; `load` is how the page gets the wasm (the only line a bundler may need).
const pageMain = ({ imports, load }) => `${imports}
const out = document.getElementById("out");
try {
  ${load}
  const parsed = parseCsv("name,amount\\r\\n\\"Smith, J\\",12.5\\r\\n");
  const cfg = window.EXPORTKIT_TEST;
  const bs = new BackstoryClient({ clientId: cfg.clientId, clientSecret: cfg.clientSecret, baseUrl: cfg.baseUrl });
  const res = await bs.query(${JSON.stringify(QUERY)});
  out.textContent = JSON.stringify({ parsed: parsed.data, header: res.header, csv: res.csv });
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e && e.stack || e) });
}
out.dataset.done = "1";
`;

const INDEX = (script) => `<!doctype html><html><head><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,"></head>
<body><pre id="out"></pre><script type="module" src="${script}"></script></body></html>`;

async function truthCsv(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/insights`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(query) });
  return r.text();
}

/** Loads the served bundle; returns the page's result and every .wasm the page fetched. */
async function runPage(siteUrl) {
  const cfg = { clientId: SANDBOX_CREDENTIALS.backstory.clientId, clientSecret: SANDBOX_CREDENTIALS.backstory.clientSecret, baseUrl: sb.url };
  const { context, page, problems, wasmRequests } = await openInChromium(browser, `${siteUrl}/`, { init: { fn: (c) => (window.EXPORTKIT_TEST = c), arg: cfg } });
  try {
    await page.waitForSelector("#out[data-done]");
    return { out: JSON.parse(await page.textContent("#out")), problems, wasmRequests };
  } finally {
    await context.close();
  }
}

async function checkPage(site) {
  const { out, problems, wasmRequests } = await runPage(site.url);
  assert.equal(out.error, undefined, out.error);
  assert.deepEqual(problems, []);
  assert.deepEqual(out.parsed, [["Smith, J", "12.5"]]);
  assert.deepEqual(out.header, ["ootb_user_email", "ootb_user_is_active"]);
  assert.equal(out.csv, await truthCsv(QUERY));
  // Both wasm modules came from the bundle's own output, each fetched once, the parse module first.
  assert.equal(wasmRequests.length, 2, JSON.stringify(wasmRequests));
  assert.match(wasmRequests[0].url, /exportkit_parse_bg[^/]*\.wasm$/);
  assert.doesNotMatch(wasmRequests[1].url, /exportkit_parse/);
  for (const r of wasmRequests) {
    assert.equal(r.status, 200);
    assert.ok(r.url.startsWith(site.url), r.url);
  }
}

test("Vite: `vite build` of a page importing exportkit; init() finds the wasm Vite emitted", async () => {
  const dir = await freshProject("vite", {
    files: {
      "index.html": INDEX("./main.js"),
      "main.js": pageMain({ imports: 'import init, { parseCsv, BackstoryClient } from "exportkit";', load: "await init();" }),
    },
  });
  const dist = await viteBuild(dir);
  const emitted = await readdir(path.join(dist, "assets"));
  assert.ok(emitted.some((f) => f.endsWith(".wasm")), `Vite emitted: ${emitted.join(", ")}`);
  const site = await serveDir(dist);
  try {
    await checkPage(site);
  } finally {
    await site.close();
  }
});

test("Vite: a page importing exportkit/parse fetches the parse module alone", async () => {
  const dir = await freshProject("vite-parse", {
    files: {
      "index.html": INDEX("./main.js"),
      "main.js": `import init, { parseCsv, jsonlToCsv } from "exportkit/parse";
const out = document.getElementById("out");
try {
  await init();
  out.textContent = JSON.stringify({ parsed: parseCsv("a,b\\n1,2\\n").data, csv: jsonlToCsv('{"x":{"y":1}}\\n').csv });
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e && e.stack || e) });
}
out.dataset.done = "1";
`,
    },
  });
  const site = await serveDir(await viteBuild(dir));
  try {
    const { out, problems, wasmRequests } = await runPage(site.url);
    assert.equal(out.error, undefined, out.error);
    assert.deepEqual(problems, []);
    assert.deepEqual(out.parsed, [["1", "2"]]);
    assert.equal(out.csv, "x.y\r\n1\r\n");
    assert.equal(wasmRequests.length, 1, JSON.stringify(wasmRequests));
    assert.match(wasmRequests[0].url, /exportkit_parse_bg[^/]*\.wasm$/);
  } finally {
    await site.close();
  }
});

test("esbuild: a browser bundle, the wasm modules emitted by the file loader from exportkit/exportkit_bg.wasm and exportkit/exportkit_parse_bg.wasm", async () => {
  const dir = await freshProject("esbuild", {
    files: {
      "public/index.html": INDEX("./main.js"),
      "src/main.js": pageMain({
        imports: 'import init, { parseCsv, BackstoryClient } from "exportkit";\nimport wasmUrl from "exportkit/exportkit_bg.wasm";\nimport parseUrl from "exportkit/exportkit_parse_bg.wasm";',
        load: "await init({ parse: new URL(parseUrl, import.meta.url), client: new URL(wasmUrl, import.meta.url) });",
      }),
    },
  });
  const result = await esbuildPage(path.join(dir, "src", "main.js"), path.join(dir, "public"));
  assert.deepEqual(result.warnings, []);
  const site = await serveDir(path.join(dir, "public"));
  try {
    await checkPage(site);
  } finally {
    await site.close();
  }
});
