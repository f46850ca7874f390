#!/usr/bin/env node
// The sandbox: a local stand-in for the Backstory and Userpilot bulk-export APIs. HTTP routing,
// CORS, control endpoints (/__sandbox/...) and the command line live here; each vendor API is its
// own module. Standard library only, so it runs anywhere Node 20 does with nothing installed.

import http from "node:http";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CORS_HEADERS, HttpError, parseJsonBody, readBody, sendEmpty, sendJson, sendText } from "./http.mjs";
import { BackstoryAuth } from "./backstory-auth.mjs";
import { QueryApi } from "./backstory-query.mjs";
import { ActivitiesApi } from "./backstory-activities.mjs";
import { ForecastingApi } from "./backstory-forecasting.mjs";
import { UserpilotApi } from "./userpilot.mjs";
import { Faults } from "./faults.mjs";
import { QueryData, OBJECTS, describeCatalog } from "./data/query.mjs";

export const SANDBOX_CREDENTIALS = Object.freeze({
  backstory: Object.freeze({ clientId: "sandbox-client-id", clientSecret: "sandbox-client-secret" }),
  userpilot: Object.freeze({ apiKey: "sandbox-userpilot-key" }),
});

/** A valid Userpilot key whose plan lacks the Bulk Data Export feature. */
export const SANDBOX_USERPILOT_NOPLAN_KEY = "sandbox-userpilot-noplan";

export const DEFAULT_OPTIONS = Object.freeze({
  port: 0,
  host: "127.0.0.1",
  seed: 1,
  // Query API object sizes.
  accounts: 3000,
  opportunities: 5000,
  users: 400,
  activityRecords: 2000,
  tokenTtlSeconds: 3600,
  dailyLimit: 10,
  chunkSize: undefined,
  labelHeaders: false,
  jobSpeed: 1,
  // Raw Activity Data API: activities per 365 days of the timeline, and records per fragment.
  activities: 20000,
  fragmentRecords: 1000,
  // Userpilot.
  linkTtlSeconds: 172800,
  // Where presigned file URLs point (an origin); null: this sandbox. Lets tests hand a client links
  // to another host (a recorder, a metadata address) the way a hostile or broken API could.
  filesOrigin: null,
  eventsPerDay: 200,
  noplanStatus: 403,
  // How the vendor reads its own documents where they are ambiguous (issue 15 §3): see READINGS.
  readings: undefined,
  // Shifts the sandbox's clock (quota day, token expiry, retention windows); jobs still run in real time.
  clockOffsetMs: 0,
  log: false,
});

/**
 * Each switch of `readings` and the values it takes; the first is the default (the reading the
 * sandbox served before the switches existed). `POST /__sandbox/config {"readings": {...}}` merges
 * into the current switches; an unknown switch or value is a 400.
 */
export const READINGS = Object.freeze({
  // Raw Activity Data API
  fragmentNumbering: ["count", "index", "absent"],
  fragmentPath: ["both", "data", "fragment"],
  resultsSize: ["exact", "no_final_newline", "compressed", "null", "absent", "zero", "over"],
  stateCase: ["title", "lower", "upper"],
  jobTimes: ["z", "no_zone", "micro"],
  jobList: ["array", "jobs", "data"],
  dataEncoding: ["identity", "gzip"],
  // Backstory auth
  tokenEncoding: ["any", "form", "basic", "json"],
  expiresIn: ["number", "string", "absent"],
  tokenType: ["bearer", "Bearer"],
  expiredTokenStatus: [401, 403],
  // Forecasting
  forecastHeaders: ["all", "total_only", "last_only", "none"],
  forecastMethod: ["post", "get"],
  forecastPerPageCap: [1000, 50],
  // Userpilot
  createStatus: [201, 200],
  links: ["relative", "absolute"],
  presignedUrls: ["objects", "strings"],
  statusCase: ["lower", "upper"],
  cursorEnd: ["null", "empty", "missing"],
  lookupShape: ["documented", "arrays", "pages"],
  emptyFiles: ["gzip", "zero_bytes"],
  jsonFiles: ["lines", "array"],
});

export function defaultReadings() {
  return Object.fromEntries(Object.entries(READINGS).map(([k, v]) => [k, v[0]]));
}

function mergeReadings(current, patch) {
  if (patch === undefined || patch === null) return { ...current };
  if (typeof patch !== "object" || Array.isArray(patch)) {
    throw new HttpError(400, { error: "invalid_config", message: "readings must be an object of switches", field: "readings" });
  }
  const out = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (!Object.hasOwn(READINGS, k)) {
      throw new HttpError(400, { error: "invalid_config", message: `unknown reading "${k}"; known: ${Object.keys(READINGS).join(", ")}`, field: `readings.${k}` });
    }
    if (!READINGS[k].includes(v)) {
      throw new HttpError(400, { error: "invalid_config", message: `readings.${k} must be one of ${READINGS[k].map((x) => JSON.stringify(x)).join(", ")}`, field: `readings.${k}` });
    }
    out[k] = v;
  }
  return out;
}

// Options whose change invalidates generated data.
const DATA_OPTIONS = ["seed", "accounts", "opportunities", "users", "activityRecords", "activities", "fragmentRecords", "eventsPerDay"];

export class Sandbox {
  constructor(options = {}) {
    this.config = { ...DEFAULT_OPTIONS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined && k !== "readings") this.config[k] = v;
    this.config.readings = mergeReadings(defaultReadings(), options.readings);
    this.credentials = SANDBOX_CREDENTIALS;
    this.url = null;
    this.timers = new Set();
    this.auth = new BackstoryAuth(this);
    this.query = new QueryApi(this);
    this.activities = new ActivitiesApi(this);
    this.forecasting = new ForecastingApi(this);
    this.userpilot = new UserpilotApi(this);
    this.faults = new Faults(this);
    this.rebuildData();
    this.routes = this.buildRoutes();
    this.requests = [];
  }

  now() {
    return Date.now() + Number(this.config.clockOffsetMs || 0);
  }

  rebuildData() {
    const c = this.config;
    this.queryData = new QueryData({
      seed: Number(c.seed),
      accounts: Number(c.accounts),
      opportunities: Number(c.opportunities),
      users: Number(c.users),
      activityRecords: Number(c.activityRecords),
    });
    this.forecasting.rebuild();
    this.userpilot.rebuild();
  }

  /** Timers that close() and reset() must cancel so a closed sandbox leaves nothing running. */
  setTimer(fn, ms) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, ms));
    t.unref?.();
    this.timers.add(t);
    return t;
  }

  clearTimer(t) {
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Every vendor request, in arrival order (issue 18: a resumed download must not fetch again
   * what it delivered). Method, scope, path and the `fragment` parameter only: never headers or
   * the rest of a query string (presigned signatures). Bounded, oldest dropped first.
   */
  logRequest(method, scope, url) {
    this.requests.push({ method, scope, path: url.pathname, fragment: url.searchParams.get("fragment") });
    if (this.requests.length > 100000) this.requests.splice(0, this.requests.length - 100000);
  }

  reset() {
    this.requests = [];
    this.clearTimers();
    this.auth.reset();
    this.query.reset();
    this.activities.reset();
    this.forecasting.reset();
    this.userpilot.reset();
    this.faults.reset();
  }

  applyConfig(patch) {
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
      throw new HttpError(400, { error: "invalid_config", message: "body must be a JSON object of options" });
    }
    const allowed = new Set(Object.keys(DEFAULT_OPTIONS));
    for (const k of Object.keys(patch)) {
      if (!allowed.has(k) || k === "port" || k === "host") {
        throw new HttpError(400, { error: "invalid_config", message: `unknown or fixed option "${k}"`, field: k });
      }
    }
    const before = { ...this.config };
    const { readings, ...rest } = patch;
    const merged = mergeReadings(this.config.readings, readings);
    Object.assign(this.config, rest);
    this.config.readings = merged;
    if (DATA_OPTIONS.some((k) => before[k] !== this.config[k])) this.rebuildData();
    return this.publicConfig();
  }

  publicConfig() {
    const { log, ...rest } = this.config;
    return rest;
  }

  state() {
    return {
      now: new Date(this.now()).toISOString(),
      queryCallsToday: this.query.callsToday(),
      dailyLimit: Number(this.config.dailyLimit),
      tokens: this.auth.tokens.size,
      activityJobs: this.activities.summary(),
      activityLimits: { ...this.activities.limits },
      userpilotJobs: this.userpilot.summary(),
      faults: this.faults.describe(),
      config: this.publicConfig(),
    };
  }

  buildRoutes() {
    const q = this.query;
    const a = this.activities;
    const f = this.forecasting;
    const u = this.userpilot;
    const J = "/pull/v1/export/activities/jobs";
    const U = "/api/v1/analytics/exports";
    // [method, pattern, handler(req, res, match, url), fault scope]
    return [
      ["POST", /^\/v3\/auth\/tokens\/?$/, (req, res) => this.auth.handleToken(req, res), "token"],
      ["POST", /^\/v3\/beta\/insights\/export\/?$/, (req, res) => q.handleExport(req, res), "query"],
      ["POST", new RegExp(`^${J}/?$`), (req, res) => a.handleCreate(req, res), "activities.create"],
      ["GET", new RegExp(`^${J}/?$`), (req, res) => a.handleList(req, res), "activities.list"],
      ["GET", new RegExp(`^${J}/([^/]+)/?$`), (req, res, m) => a.handleGet(req, res, m[1]), "activities.get"],
      ["GET", new RegExp(`^${J}/([^/]+)/(data|fragment)/?$`), (req, res, m, url) => a.handleData(req, res, m[1], url, m[2]), "activities.data"],
      ["POST", /^\/v3\/beta\/forecasting\/query\/?$/, (req, res) => f.handleQuery(req, res), "forecasting"],
      ["GET", /^\/v3\/beta\/forecasting\/query\/?$/, (req, res, m, url) => f.handleQuery(req, res, url), "forecasting"],
      ["POST", new RegExp(`^${U}/?$`), (req, res) => u.handleCreate(req, res), "userpilot.create"],
      ["GET", new RegExp(`^${U}/jobs/?$`), (req, res) => u.handleList(req, res), "userpilot.list"],
      ["GET", new RegExp(`^${U}/jobs/([^/]+)/?$`), (req, res, m) => u.handleGet(req, res, m[1]), "userpilot.get"],
      ["GET", new RegExp(`^${U}/lookups/([a-z_]+)/?$`), (req, res, m, url) => u.handleLookup(req, res, m[1], url), "userpilot.lookup"],
      ["GET", /^\/__files\/userpilot\/([^/]+)\/([^/]+)$/, (req, res, m, url) => u.handleFile(req, res, m[1], m[2], url), "userpilot.file"],
      // Control endpoints: no auth, never part of a vendor's surface.
      ["POST", /^\/__sandbox\/reset\/?$/, (req, res) => (this.reset(), sendEmpty(res, 204)), null],
      ["GET", /^\/__sandbox\/state\/?$/, (req, res) => sendJson(res, 200, this.state()), null],
      ["GET", /^\/__sandbox\/requests\/?$/, (req, res) => sendJson(res, 200, this.requests), null],
      ["GET", /^\/__sandbox\/catalog\/?$/, (req, res) => sendJson(res, 200, this.catalog()), null],
      ["POST", /^\/__sandbox\/config\/?$/, async (req, res) => sendJson(res, 200, this.applyConfig(await this.readControlJson(req))), null],
      ["POST", /^\/__sandbox\/clock\/?$/, async (req, res) => sendJson(res, 200, this.moveClock(await this.readControlJson(req))), null],
      ["POST", /^\/__sandbox\/tokens\/expire\/?$/, (req, res) => sendJson(res, 200, { expired: this.auth.expireAll() }), null],
      ["GET", /^\/__sandbox\/truth\/records\/?$/, (req, res, m, url) => this.truthRecords(res, url), null],
      ["POST", /^\/__sandbox\/truth\/insights\/?$/, async (req, res) => this.truthInsights(req, res), null],
      ["GET", /^\/__sandbox\/truth\/activities\/?$/, (req, res, m, url) => a.handleTruth(req, res, url), null],
      ["POST", /^\/__sandbox\/truth\/forecasting\/?$/, async (req, res) => f.handleTruth(req, res), null],
      ["GET", /^\/__sandbox\/truth\/forecasting\/?$/, (req, res) => f.handleTruthAll(req, res), null],
      ["GET", /^\/__sandbox\/truth\/userpilot\/events\/?$/, (req, res, m, url) => u.handleTruthEvents(req, res, url), null],
      ["GET", /^\/__sandbox\/truth\/userpilot\/lookups\/([a-z_]+)\/?$/, (req, res, m) => u.handleTruthLookup(req, res, m[1]), null],
      ["POST", /^\/__sandbox\/jobs\/([^/]+)\/(fail|cancel|complete)\/?$/, (req, res, m) => this.controlJob(res, m[1], m[2]), null],
      ["GET", /^\/__sandbox\/faults\/?$/, (req, res) => sendJson(res, 200, this.faults.describe()), null],
      ["POST", /^\/__sandbox\/faults\/?$/, async (req, res) => sendJson(res, 200, this.faults.add(await this.readControlJson(req))), null],
      ["POST", /^\/__sandbox\/faults\/clear\/?$/, (req, res) => (this.faults.reset(), sendEmpty(res, 204)), null],
    ];
  }

  async readControlJson(req) {
    const buf = await readBody(req, 1 << 20);
    if (buf.length === 0) return {};
    return parseJsonBody(buf, (m) => new HttpError(400, { error: "invalid_json", message: m }));
  }

  moveClock(body) {
    if (typeof body.advanceMs === "number") this.config.clockOffsetMs = Number(this.config.clockOffsetMs || 0) + body.advanceMs;
    else if (typeof body.offsetMs === "number") this.config.clockOffsetMs = body.offsetMs;
    else if (typeof body.set === "string" || typeof body.set === "number") {
      const target = typeof body.set === "number" ? body.set : Date.parse(body.set);
      if (!Number.isFinite(target)) throw new HttpError(400, { error: "invalid_clock", message: "set must be an ISO date or epoch ms" });
      this.config.clockOffsetMs = target - Date.now();
    } else {
      throw new HttpError(400, { error: "invalid_clock", message: "body needs advanceMs, offsetMs or set" });
    }
    return { now: new Date(this.now()).toISOString(), clockOffsetMs: this.config.clockOffsetMs };
  }

  controlJob(res, id, action) {
    const done = this.activities.control(id, action) || this.userpilot.control(id, action);
    if (!done) throw new HttpError(404, { error: "not_found", message: `no job ${id}` });
    sendJson(res, 200, done);
  }

  catalog() {
    const out = {};
    for (const o of OBJECTS) out[o] = describeCatalog(o);
    return out;
  }

  truthRecords(res, url) {
    const object = url.searchParams.get("object");
    if (!OBJECTS.includes(object)) {
      throw new HttpError(400, { error: "invalid_object", message: `object must be one of ${OBJECTS.join(", ")}` });
    }
    sendJson(res, 200, { object, columns: describeCatalog(object), records: this.queryData.truth(object) });
  }

  async truthInsights(req, res) {
    const body = parseJsonBody(await readBody(req, 1 << 20), (m) => new HttpError(400, { error: "invalid_query", message: m, field: "body" }));
    const csv = this.query.truthCsv(body);
    sendText(res, 200, csv, "text/csv; charset=utf-8");
  }

  async handle(req, res) {
    const started = process.hrtime.bigint();
    let url;
    try {
      url = new URL(req.url, "http://sandbox.invalid");
    } catch {
      url = new URL("http://sandbox.invalid/");
    }
    if (this.config.log) {
      res.on("close", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // Only method, path and status: never headers, query strings (presigned signatures) or bodies.
        process.stderr.write(`${new Date().toISOString()} ${req.method} ${url.pathname} ${res.statusCode}${res.writableFinished ? "" : " (aborted)"} ${ms.toFixed(1)}ms\n`);
      });
    }
    try {
      if (req.method === "OPTIONS") {
        req.resume();
        return sendEmpty(res, 204, { "Content-Length": "0" });
      }
      let pathMatched = false;
      for (const [method, pattern, handler, scope] of this.routes) {
        const m = pattern.exec(url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (method !== req.method && !(method === "GET" && req.method === "HEAD")) continue;
        if (scope) this.logRequest(req.method, scope, url);
        if (scope && (await this.faults.intercept(scope, req, res, url))) return;
        await handler(req, res, m, url);
        return;
      }
      req.resume();
      if (pathMatched) throw new HttpError(405, { error: "method_not_allowed", message: `${req.method} is not allowed on ${url.pathname}` }, { Allow: "GET, POST, OPTIONS" });
      throw new HttpError(404, { error: "not_found", message: `no route for ${req.method} ${url.pathname}` });
    } catch (err) {
      this.sendError(res, err);
    }
  }

  sendError(res, err) {
    if (res.headersSent) {
      // Mid-body failure: the only honest signal left is to cut the connection.
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    if (err instanceof HttpError) {
      if (typeof err.body === "string") {
        sendText(res, err.status, err.body, err.headers["Content-Type"] || "text/plain; charset=utf-8", err.headers);
      } else {
        sendJson(res, err.status, err.body, err.headers);
      }
      return;
    }
    process.stderr.write(`sandbox internal error: ${err && err.stack ? err.stack : err}\n`);
    sendJson(res, 500, { error: "internal_error", message: "sandbox internal error" });
  }
}

/**
 * Starts a sandbox on loopback. Several may run at once (port 0 picks a free port).
 * Returns { url, port, close(), state, sandbox }.
 */
export async function startSandbox(options = {}) {
  const sb = new Sandbox(options);
  const server = http.createServer((req, res) => {
    sb.handle(req, res);
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(sb.config.port) || 0, sb.config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  sb.url = `http://${host}:${addr.port}`;
  sb.port = addr.port;
  let closed = false;
  return {
    url: sb.url,
    port: addr.port,
    sandbox: sb,
    get state() {
      return sb.state();
    },
    async close() {
      if (closed) return;
      closed = true;
      sb.clearTimers();
      sb.activities.stop?.();
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Command line.

const FLAGS = {
  "--port": ["port", Number],
  "--host": ["host", String],
  "--seed": ["seed", Number],
  "--accounts": ["accounts", Number],
  "--opportunities": ["opportunities", Number],
  "--users": ["users", Number],
  "--activity-records": ["activityRecords", Number],
  "--token-ttl": ["tokenTtlSeconds", Number],
  "--daily-limit": ["dailyLimit", Number],
  "--chunk-size": ["chunkSize", Number],
  "--job-speed": ["jobSpeed", Number],
  "--activities": ["activities", Number],
  "--fragment-records": ["fragmentRecords", Number],
  "--link-ttl": ["linkTtlSeconds", Number],
  "--events-per-day": ["eventsPerDay", Number],
  "--noplan-status": ["noplanStatus", Number],
};

export function parseArgs(argv) {
  const opts = {};
  let printTruth = null;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline;
    if (arg.startsWith("--") && arg.includes("=")) {
      inline = arg.slice(arg.indexOf("=") + 1);
      arg = arg.slice(0, arg.indexOf("="));
    }
    const take = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--label-headers") opts.labelHeaders = true;
    else if (arg === "--quiet") opts.log = false;
    else if (arg === "--print-truth") printTruth = take();
    else if (arg === "--help" || arg === "-h") opts.help = true;
    else if (FLAGS[arg]) {
      const [key, conv] = FLAGS[arg];
      const v = conv(take());
      if (conv === Number && !Number.isFinite(v)) throw new Error(`${arg} needs a number`);
      opts[key] = v;
    } else throw new Error(`unknown argument ${arg}`);
  }
  return { opts, printTruth };
}

const USAGE = `usage: node sandbox/server.mjs [--port N] [--host H] [--seed N] [--accounts N] [--opportunities N]
  [--users N] [--activity-records N] [--token-ttl S] [--daily-limit N] [--chunk-size BYTES] [--label-headers]
  [--job-speed X] [--activities N] [--fragment-records N] [--link-ttl S] [--events-per-day N] [--noplan-status 401|403]
  [--quiet]
       node sandbox/server.mjs --print-truth QUERY.json [--seed N ...]
`;

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const { opts, printTruth } = parsed;
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  delete opts.help;
  if (printTruth !== null) {
    const sb = new Sandbox(opts);
    let query;
    try {
      query = JSON.parse(readFileSync(printTruth, "utf8"));
    } catch (e) {
      process.stderr.write(`cannot read query ${printTruth}: ${e.message}\n`);
      process.exit(2);
    }
    try {
      process.stdout.write(sb.query.truthCsv(query));
    } catch (e) {
      if (e instanceof HttpError) {
        process.stderr.write(`invalid query: ${e.body.message}\n`);
        process.exit(2);
      }
      throw e;
    }
    return;
  }
  const handle = await startSandbox({ log: true, ...opts });
  process.stdout.write(JSON.stringify({ url: handle.url }) + "\n");
  const stop = async () => {
    await handle.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}

export { CORS_HEADERS };
export { SCOPES as FAULT_SCOPES, FAULTS } from "./faults.mjs";
