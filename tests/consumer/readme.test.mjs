// The doc test: every ```js and ```sh block of README.md runs exactly as written, in order, in one
// fresh project, against the packed tarball and the sandbox. The block's info string says how:
//   sh          bash -e in the project (`npm install exportkit` reaches a local registry that
//               serves only the packed tarball, so it installs what this run built)
//   sh deploy   skipped by name: it needs a Cloudflare account (wrangler login, deploy)
//   js          saved as an .mjs file and run with node
//   js cjs      saved as a .cjs file and run with node
//   js vite     a page's module: `vite build`, served on loopback, loaded in Chromium
//   js esbuild  a page's module: bundled with the README's esbuild flags, loaded in Chromium
//   js worker   a worker: bundled as wrangler does, run in workerd (miniflare), sent a CSV
// Environment: BACKSTORY_CLIENT_ID/SECRET and BACKSTORY_BASE_URL point at the sandbox.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { readCsv } from "../js/helpers.mjs";
import {
  CHROMIUM_ARGS,
  ROOT,
  SANDBOX_CREDENTIALS,
  esbuildPage,
  esbuildWorker,
  miniflareWorker,
  openInChromium,
  packOnce,
  serveDir,
  sh,
  startSandbox,
  viteBuild,
} from "./helpers.mjs";

const SKIP = { deploy: "needs a Cloudflare account (wrangler login, then deploy to it)" };
const HOW = new Set(["sh", "sh deploy", "js", "js cjs", "js vite", "js esbuild", "js worker"]);

/** The fenced blocks of a Markdown text: { info, code, line }. */
export function fencedBlocks(text) {
  const blocks = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i]);
    blocks.push({ info: open[1].trim(), code: body.join("\n") + "\n", line: start + 1 });
  }
  return blocks;
}

const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
const blocks = fencedBlocks(readme).filter((b) => /^(js|sh)\b/.test(b.info));

let sb;
let registry;
let browser;
let project;
let env;
let cache;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 7 });
  registry = await tarballRegistry(await packOnce());
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
  project = await mkdtemp(path.join(tmpdir(), "exportkit-readme-"));
  cache = await mkdtemp(path.join(tmpdir(), "exportkit-readme-npm-cache-"));
  await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "readme-reader", version: "1.0.0", private: true }, null, 2));
  env = {
    BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId,
    BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret,
    BACKSTORY_BASE_URL: sb.url,
    USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey,
    USERPILOT_BASE_URL: sb.url,
    EXPORTKIT_STATE_DIR: path.join(project, ".state"),
    npm_config_registry: registry.url,
    npm_config_cache: cache,
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
});
after(async () => {
  await browser?.close();
  await registry?.close();
  await sb?.close();
  await rm(project, { recursive: true, force: true });
  await rm(cache, { recursive: true, force: true });
});

/** A registry that knows one package, exportkit, at the packed tarball. */
async function tarballRegistry(tgz) {
  const bytes = await readFile(tgz);
  const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/exportkit") {
      const base = `http://127.0.0.1:${server.address().port}`;
      const manifest = {
        name: "exportkit",
        version: pkg.version,
        bin: pkg.bin,
        engines: pkg.engines,
        dist: {
          tarball: `${base}/exportkit/-/exportkit-${pkg.version}.tgz`,
          integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
          shasum: createHash("sha1").update(bytes).digest("hex"),
        },
      };
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ name: "exportkit", "dist-tags": { latest: pkg.version }, versions: { [pkg.version]: manifest } }));
    } else if (url.pathname === `/exportkit/-/exportkit-${pkg.version}.tgz`) {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      res.end(bytes);
    } else {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end('{"error":"not found"}');
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) };
}

const PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>readme</title><link rel="icon" href="data:,"></head><body><script type="module" src="./main.js"></script></body></html>';

/** Loads a built page and waits for the block to write its result into the body. */
async function runPage(dir) {
  const site = await serveDir(dir);
  const { context, page, problems, wasmRequests } = await openInChromium(browser, `${site.url}/`);
  try {
    await page.waitForFunction(() => document.body.textContent.trim() !== "");
    const text = await page.textContent("body");
    assert.deepEqual(problems, []);
    // A page's init() fetches the parse module, then the client module, once each.
    assert.deepEqual(wasmRequests.map((r) => /exportkit_parse_bg/.test(r.url)), [true, false], JSON.stringify(wasmRequests));
    return text;
  } finally {
    await context.close();
    await site.close();
  }
}

test("README.md has the blocks this test knows how to run", () => {
  assert.ok(blocks.length >= 8, `${blocks.length} blocks`);
  for (const b of blocks) assert.ok(HOW.has(b.info), `README line ${b.line}: no way to run a \`\`\`${b.info} block (add it to tests/consumer/readme.test.mjs)`);
  assert.match(blocks[0].code, /^npm install exportkit$/m, "the first block installs the package");
});

for (const b of blocks) {
  const name = `README line ${b.line} (${b.info})`;
  const tag = b.info.split(/\s+/)[1];
  if (SKIP[tag]) {
    test(name, { skip: SKIP[tag] }, () => {});
    continue;
  }
  test(name, async () => {
    const dir = path.join(project, `block-${b.line}`);
    if (b.info === "sh") {
      const r = await sh("bash", ["-euo", "pipefail", "-c", b.code], { cwd: project, env });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    } else if (b.info === "js" || b.info === "js cjs") {
      const file = path.join(project, `readme-${b.line}.${b.info === "js" ? "mjs" : "cjs"}`);
      await writeFile(file, b.code);
      const r = await sh("node", [file], { cwd: project, env });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stderr, "");
    } else if (b.info === "js vite") {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, "index.html"), PAGE);
      await writeFile(path.join(dir, "main.js"), b.code);
      assert.equal(await runPage(await viteBuild(dir)), '[["Smith","12.5"]]');
    } else if (b.info === "js esbuild") {
      await mkdir(path.join(dir, "public"), { recursive: true });
      await writeFile(path.join(dir, "public", "index.html"), PAGE);
      await writeFile(path.join(dir, "main.js"), b.code);
      const built = await esbuildPage(path.join(dir, "main.js"), path.join(dir, "public"));
      assert.deepEqual(built.warnings, []);
      assert.equal(await runPage(path.join(dir, "public")), '[["Smith","12.5"]]');
    } else if (b.info === "js worker") {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, "worker.js"), b.code);
      await esbuildWorker(path.join(dir, "worker.js"), path.join(dir, "dist"));
      const mf = await miniflareWorker(path.join(dir, "dist"), "worker.js");
      try {
        const r = await mf.dispatchFetch("http://worker.test/", { method: "POST", body: "name,amount\nSmith,12.5\nJones,7\n" });
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { rows: 2 });
      } finally {
        await mf.dispose();
      }
    }
  });
}

test("what the command-line quick start wrote: the shipped example query and the sandbox's CSV", async () => {
  const written = JSON.parse(await readFile(path.join(project, "accounts.json"), "utf8"));
  const shipped = JSON.parse(await readFile(path.join(project, "node_modules", "exportkit", "examples", "accounts.json"), "utf8"));
  assert.deepEqual(written, shipped);
  const truth = await (await fetch(`${sb.url}/__sandbox/truth/insights`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(shipped) })).text();
  // `exportkit query` guards cells a spreadsheet would run as formulas (OWASP CSV injection), so
  // each cell is the API's, or the API's behind a leading ' where it starts with = + - @ tab or CR
  // and is not a plain number. Checked here with an independent reader and rule.
  const formula = (c) => /^[=+\-@\t\r]/.test(c) && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(c);
  const want = readCsv(truth).map((r) => r.map((c) => (formula(c) ? `'${c}` : c)));
  const got = readCsv(await readFile(path.join(project, "accounts.csv"), "utf8"));
  assert.deepEqual(got, want);
  assert.ok(want.length > 1, "the example query returns rows");
});
