// Shared by the edge tests: the worker in workerd through miniflare, configured from
// edge/wrangler.toml (its module rules, main, compatibility date, bindings and crons), with local
// KV, R2 and assets, talking to a sandbox on loopback; and a recording relay in front of the
// sandbox that shows exactly what the worker sent upstream.

import http from "node:http";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";
import assert from "node:assert/strict";
import { build } from "../../edge/build.mjs";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export { SANDBOX_CREDENTIALS, startSandbox };
export const ACCESS_KEY = "edge-test-access-key-0123456789";

// ---------------------------------------------------------------- wrangler.toml, read as deployed

/** The parts of edge/wrangler.toml the test setup follows (a small reader for this one file). */
export async function wranglerConfig() {
  const text = await readFile(path.join(ROOT, "edge", "wrangler.toml"), "utf8");
  const str = (key) => new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, "m").exec(text)?.[1];
  const rules = [...text.matchAll(/\{\s*type\s*=\s*"(\w+)",\s*globs\s*=\s*\[([^\]]*)\]/g)].map((m) => ({
    type: m[1],
    globs: [...m[2].matchAll(/"([^"]+)"/g)].map((g) => g[1]),
  }));
  const section = (name) => new RegExp(`^\\[\\[?${name.replace(".", "\\.")}\\]\\]?\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, "m").exec(text)?.[1] ?? "";
  const binding = (name) => /binding\s*=\s*"([^"]+)"/.exec(section(name))?.[1];
  const crons = [.../crons\s*=\s*\[([^\]]*)\]/.exec(text)?.[1].matchAll(/"([^"]+)"/g) ?? []].map((m) => m[1]);
  // [vars] as deployed: the plain `NAME = "value"` lines (EXPORT_QUERIES, a table, is left to tests).
  const vars = Object.fromEntries([...section("vars").matchAll(/^([A-Z][A-Z0-9_]*)\s*=\s*"([^"]*)"\s*$/gm)].map((m) => [m[1], m[2]]));
  return {
    vars,
    main: str("main"),
    compatibilityDate: str("compatibility_date"),
    baseDir: str("base_dir"),
    rules,
    r2: binding("r2_buckets"),
    kv: binding("kv_namespaces"),
    assetsBinding: binding("assets"),
    workflows: [...text.matchAll(/^\[\[workflows\]\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/gm)].map((m) => ({
      name: /name\s*=\s*"([^"]+)"/.exec(m[1])?.[1],
      binding: /binding\s*=\s*"([^"]+)"/.exec(m[1])?.[1],
      className: /class_name\s*=\s*"([^"]+)"/.exec(m[1])?.[1],
    })),
    durableObjects: [...text.matchAll(/^\[\[durable_objects\.bindings\]\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/gm)].map((m) => ({
      name: /name\s*=\s*"([^"]+)"/.exec(m[1])?.[1],
      className: /class_name\s*=\s*"([^"]+)"/.exec(m[1])?.[1],
    })),
    crons,
  };
}

function globRegex(glob) {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*" && glob[i + 2] === "/") {
      re += "(?:.*/)?";
      i += 2;
    } else if (c === "*") re += "[^/]*";
    else re += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function walk(dir, base = dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, base)));
    else out.push(path.relative(base, p).split(path.sep).join("/"));
  }
  return out;
}

let staged = null;
/** Stages the worker and the dashboard once per test process, as `wrangler deploy`'s build does. */
async function stage() {
  if (!staged) {
    const dir = await mkdtemp(path.join(tmpdir(), "exportkit-edge-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    staged = await build(dir);
  }
  return staged;
}

/**
 * The modules wrangler would upload: every file of the staged base_dir that a rule's globs match,
 * named relative to it, the entry module first.
 */
export async function workerModules(cfg) {
  const edgeDir = path.join(ROOT, "edge");
  const mainRel = path.relative(path.resolve(edgeDir, cfg.baseDir), path.resolve(edgeDir, cfg.main)).split(path.sep).join("/");
  const root = (await stage()).worker;
  const modules = [];
  for (const f of (await walk(root)).sort()) {
    const rule = cfg.rules.find((r) => r.globs.some((g) => globRegex(g).test(f)));
    if (rule) modules.push({ type: rule.type, path: path.join(root, f), rel: f });
  }
  assert.ok(modules.some((m) => m.rel === mainRel), `wrangler.toml's main (${mainRel}) is among the modules`);
  // workerd takes the first module as the worker's main.
  modules.sort((a, b) => (a.rel === mainRel ? -1 : b.rel === mainRel ? 1 : 0));
  return { root, modules: modules.map(({ type, path: p }) => ({ type, path: p })) };
}

// ---------------------------------------------------------------- the worker

/**
 * Starts the worker. `vars` and `secrets` become bindings (as [vars] and `wrangler secret put`
 * would); `persist` is a directory that keeps KV and R2 across restarts (a "cut-off" test).
 */
export async function startEdge({ vars = {}, secrets = {}, persist, shipped = true } = {}) {
  const cfg = await wranglerConfig();
  // The shipped [vars] first (as `wrangler deploy` would set them), then what the test sets.
  if (shipped) vars = { ...cfg.vars, ...vars };
  const { root, modules } = await workerModules(cfg);
  const logs = [];
  const options = {
    modulesRoot: root,
    modules,
    compatibilityDate: cfg.compatibilityDate,
    bindings: { ...vars, ...secrets },
    kvNamespaces: [cfg.kv],
    r2Buckets: [cfg.r2],
    durableObjects: Object.fromEntries(cfg.durableObjects.map((d) => [d.name, { className: d.className, useSQLite: true }])),
    workflows: Object.fromEntries(cfg.workflows.map((w) => [w.binding, { name: w.name, className: w.className }])),
    assets: {
      directory: (await stage()).assets,
      binding: cfg.assetsBinding,
      routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
    },
    unsafeTriggerHandlers: true,
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio(stdout, stderr) {
      for (const s of [stdout, stderr]) s.on("data", (d) => logs.push(String(d)));
    },
  };
  if (persist) {
    options.kvPersist = path.join(persist, "kv");
    options.r2Persist = path.join(persist, "r2");
    options.workflowsPersist = path.join(persist, "workflows");
    options.durableObjectsPersist = path.join(persist, "do");
  }
  const mf = new Miniflare(options);
  const url = (await mf.ready).href.replace(/\/$/, "");
  return {
    mf,
    url,
    logs,
    cfg,
    kv: () => mf.getKVNamespace(cfg.kv),
    r2: () => mf.getR2Bucket(cfg.r2),
    /** The VendorLimits object of a credential (as limits.mjs names it), to call its methods. */
    limits: async (vendor = "backstory", credential = secrets[vendor === "backstory" ? "BACKSTORY_CLIENT_ID" : "USERPILOT_API_KEY"]) => {
      const ns = await mf.getDurableObjectNamespace(cfg.durableObjects[0].name);
      const name = createHash("sha256").update(`${vendor}:${credential ?? ""}`).digest("hex");
      return ns.get(ns.idFromName(name));
    },
    close: () => mf.dispose(),
  };
}

/**
 * Signs in at the worker's sign-in page as a person would (the form, from the page's own origin)
 * and returns the `Cookie` header value of the session.
 */
export async function signIn(url, key = ACCESS_KEY) {
  const res = await fetch(`${url}/signin`, {
    method: "POST",
    redirect: "manual",
    headers: { Origin: url, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ key, next: "/www/" }).toString(),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 303, "the sign-in page accepted the key");
  const set = res.headers.get("set-cookie");
  assert.match(set, /HttpOnly/);
  return set.split(";")[0];
}

export function sandboxSecrets() {
  return {
    BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId,
    BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret,
    USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey,
    EDGE_ACCESS_KEY: ACCESS_KEY,
  };
}

export async function tempDir(prefix) {
  const d = await mkdtemp(path.join(tmpdir(), prefix));
  return { path: d, remove: () => rm(d, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------- the sandbox

export async function control(sb, p, body) {
  const r = await fetch(`${sb.url}${p}`, {
    method: body !== undefined || p.endsWith("/reset") ? "POST" : "GET",
    headers: body !== undefined ? { "Content-Type": "application/json" } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${p}: ${r.status} ${text}`);
  return r.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

export const truthCsv = (sb, query) => control(sb, "/__sandbox/truth/insights", query);
export const callsToday = async (sb) => (await control(sb, "/__sandbox/state")).queryCallsToday;

/**
 * A relay in front of the sandbox that records every request the worker makes upstream (method,
 * path with query, headers, and the answer's `status` once it comes) and streams everything
 * through unchanged.
 */
export async function startRecorder(target) {
  const t = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, url: req.url, headers: { ...req.headers } };
    seen.push(entry);
    const up = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } },
      (ur) => {
        entry.status = ur.statusCode;
        res.writeHead(ur.statusCode, ur.rawHeaders);
        ur.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    clear: () => void seen.splice(0),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

/** A raw HTTP/1.1 request (paths and headers exactly as written, no client normalisation). */
export function rawRequest(url, text) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    import("node:net").then(({ connect }) => {
      const sock = connect(Number(u.port), u.hostname, () => sock.end(text));
      const chunks = [];
      sock.on("data", (c) => chunks.push(c));
      sock.on("error", reject);
      sock.on("close", () => {
        const all = Buffer.concat(chunks).toString("latin1");
        const statuses = [...all.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
        resolve({ status: statuses[0] ?? 0, statuses, text: all });
      });
    }, reject);
  });
}

/**
 * A new browser context signed in to the worker's dashboard with the access key, on its Runs tab
 * (the runs view is only there behind the worker). `problems` collects page errors.
 */
export async function signedInRunsPage(browser, edgeUrl, timeout = 15_000) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${edgeUrl}/www/`);
  await page.getByTestId("signin-key").waitFor({ timeout });
  await page.getByTestId("signin-key").fill(ACCESS_KEY);
  await page.getByTestId("signin-submit").click();
  await page.waitForURL((u) => u.pathname === "/www/", { timeout });
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout });
  await page.getByTestId("tab-runs").click();
  return { context, page, problems };
}

/** An R2 object's bytes, or null when there is none. */
export async function objectBytes(edge, key) {
  const o = await (await edge.r2()).get(key);
  return o ? Buffer.from(await o.arrayBuffer()) : null;
}

/**
 * Waits for a run (`/api/runs/<api>/<id>`) to complete; a run that errors or is terminated, or
 * does not finish in `timeoutMs`, fails the test with its status. A 404 (the run record not
 * written yet) is asked again. Resolves to the last status.
 */
export async function runFinished(edge, api, id, { timeoutMs = 120_000, headers = { "X-Exportkit-Key": ACCESS_KEY } } = {}) {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const r = await fetch(`${edge.url}/api/runs/${api}/${id}`, { headers });
    if (r.status === 404) {
      await r.arrayBuffer();
      continue;
    }
    if (r.status !== 200) throw new Error(`${api} run ${id}: ${r.status} ${await r.text()}`);
    const s = await r.json();
    if (s.status === "errored" || s.status === "terminated") throw new Error(`${api} run ${id} ${s.status}: ${JSON.stringify(s.error ?? s)}`);
    if (s.status === "complete") return s;
  }
  throw new Error(`${api} run ${id} did not finish in ${timeoutMs} ms`);
}

/** A run's manifest (`exports/<api>/day=<day>/run=<id>/manifest.json`); the test fails if there is none. */
export async function runManifest(edge, api, id) {
  const listed = await (await edge.r2()).list({ prefix: `exports/${api}/day=` });
  const key = listed.objects.map((o) => o.key).find((k) => k.endsWith(`/run=${id}/manifest.json`));
  if (!key) throw new Error(`no manifest for ${api} run ${id}`);
  return JSON.parse(await objectBytes(edge, key));
}

/**
 * RFC 4180 CSV as rows of cells (quoted cells, doubled quotes, CRLF or LF): the tests' own reader,
 * independent of the CSV code under test.
 */
export function csvRows(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** CSV with a header line as `{ header, records }`, each record an object by column name. */
export function csvRecords(text) {
  const [header, ...body] = csvRows(text);
  return { header, records: body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]]))) };
}
