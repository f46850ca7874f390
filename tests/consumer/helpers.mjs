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
    await mkdir(tmpdir(), { recursive: true });
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
