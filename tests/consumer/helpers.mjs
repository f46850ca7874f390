// Shared by the consumer tests: the package as a user gets it. The repository is packed once per
// `node --test` run (`npm pack`, which runs prepack), and each test installs that tarball into a
// fresh temporary project, so what runs is exactly what the tarball holds, never the working tree.

import { execFile } from "node:child_process";
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(ROOT, "node_modules", ".bin");
export { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";

const run = promisify(execFile);

/** Runs a command; resolves with { code, stdout, stderr } whatever the exit code. */
export async function sh(file, args, { cwd = ROOT, env = {}, input } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

// One pack per run: every test file of the run is a child of the same runner process, so the
// runner's pid names the run. The first file to get the lock packs; the others wait for the file.
// The runner's start time goes into the name too, so a reused pid never finds an old tarball.
const runnerStart = (() => {
  try {
    return readFileSync(`/proc/${process.ppid}/stat`, "utf8").split(") ")[1].split(" ")[19];
  } catch {
    return "0";
  }
})();
const RUN_DIR = path.join(tmpdir(), `exportkit-consumer-${process.ppid}-${runnerStart}`);
let tarball = null;

/** The path of the packed `exportkit-<version>.tgz` (packed at most once per run). */
export function packOnce() {
  tarball ??= (async () => {
    const tgz = path.join(RUN_DIR, "exportkit-0.1.0.tgz");
    let mine = false;
    await removeStaleRuns();
    try {
      await mkdir(RUN_DIR);
      mine = true;
    } catch {}
    if (mine) {
      const staging = await mkdtemp(path.join(RUN_DIR, "pack-"));
      const r = await sh("npm", ["pack", "--pack-destination", staging, "--loglevel", "error"], { env: { PATH: `${BIN}:${process.env.PATH}` } });
      if (r.code !== 0) {
        await writeFile(path.join(RUN_DIR, "failed"), r.stderr);
        throw new Error(`npm pack failed:\n${r.stderr}`);
      }
      await rename(path.join(staging, (await readdir(staging))[0]), tgz);
      await rm(staging, { recursive: true, force: true });
      return tgz;
    }
    for (;;) {
      try {
        await stat(tgz);
        return tgz;
      } catch {}
      try {
        await stat(path.join(RUN_DIR, "failed"));
        throw new Error("npm pack failed in another test file of this run");
      } catch (e) {
        if (e.code !== "ENOENT") throw e;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return tarball;
}

// The tarballs of runs whose runner has exited (nothing else removes them: no file of a run
// knows it is the last).
async function removeStaleRuns() {
  for (const name of await readdir(tmpdir())) {
    const m = /^exportkit-consumer-(\d+)-\d+$/.exec(name);
    if (!m || Number(m[1]) === process.ppid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if (e.code === "ESRCH") await rm(path.join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

const projects = [];

/**
 * A fresh project with the tarball installed (`npm install --offline`: the package has no
 * dependencies, so nothing comes from the network). `files` maps paths to contents.
 */
export async function freshProject(name, { type = "module", files = {} } = {}) {
  const tgz = await packOnce();
  const dir = await mkdtemp(path.join(tmpdir(), `exportkit-${name}-`));
  projects.push(dir);
  await writeFile(path.join(dir, "package.json"), JSON.stringify({ name: `consumer-${name}`, version: "1.0.0", private: true, type }, null, 2));
  const r = await sh("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel", "error", tgz], { cwd: dir });
  if (r.code !== 0) throw new Error(`npm install of the tarball failed:\n${r.stderr}`);
  for (const [p, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), text);
  }
  return dir;
}

/** Removes the projects this test file made. */
export async function removeProjects() {
  await Promise.all(projects.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

/** Serves a directory on loopback (a static host, as a user would deploy the bundle). */
export async function serveDir(dir) {
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.join(dir, rel.endsWith("/") ? `${rel}index.html` : rel);
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    try {
      if (!(await stat(file)).isFile()) throw new Error();
    } catch {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

export { run };

// ---------------------------------------------------------------- bundling as users do

/** `vite build` of `dir` (its index.html) into dir/dist; returns the output directory. */
export async function viteBuild(dir) {
  const { build } = await import("vite");
  await build({ root: dir, logLevel: "error", configFile: false, build: { outDir: path.join(dir, "dist"), target: "es2022" } });
  return path.join(dir, "dist");
}

/** esbuild for a page: the recipe the README gives (wasm through the file loader). */
export async function esbuildPage(entry, outdir) {
  const { build } = await import("esbuild");
  return build({ entryPoints: [entry], bundle: true, format: "esm", platform: "browser", target: "es2022", outdir, loader: { ".wasm": "file" }, logLevel: "silent" });
}

/**
 * esbuild for a worker the way wrangler bundles: the workerd, worker and browser conditions,
 * and each .wasm kept as a module of its own for the CompiledWasm rule.
 */
export async function esbuildWorker(entry, outdir) {
  const { build } = await import("esbuild");
  return build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    outdir,
    loader: { ".wasm": "copy" },
    logLevel: "silent",
  });
}

/** The bundled worker (outdir/<name>.js) in workerd through miniflare. */
export async function miniflareWorker(outdir, script, bindings = {}) {
  const { Log, LogLevel, Miniflare } = await import("miniflare");
  return new Miniflare({
    log: new Log(LogLevel.WARN),
    scriptPath: path.join(outdir, script),
    modules: true,
    modulesRoot: outdir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    cf: false, // no fetch of the request.cf placeholder from workers.cloudflare.com
    bindings,
  });
}

/** Opens `url` in a fresh context; collects page errors, console errors and failed responses. */
export async function openInChromium(browser, url, { init } = {}) {
  const context = await browser.newContext();
  const problems = [];
  const wasmRequests = [];
  if (init) await context.addInitScript(init.fn, init.arg);
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    if (r.url().endsWith(".wasm")) wasmRequests.push({ url: r.url(), status: r.status() });
  });
  await page.goto(url);
  return { context, page, problems, wasmRequests };
}
