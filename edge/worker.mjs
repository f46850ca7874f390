// exportkit's edge worker (Cloudflare Workers, module syntax): the vendors' secrets live here, the
// dashboard is served from here, its API calls go through the same-origin proxy here, and cron
// triggers run Query API exports into R2 from here.
//
//   /api/backstory/...        proxy to BACKSTORY_BASE_URL (allow-listed endpoints)   proxy.mjs
//   /api/userpilot/...        proxy to USERPILOT_BASE_URL                            proxy.mjs
//   /api/userpilot-files/...  presigned export files on USERPILOT_FILES_BASE_URL     proxy.mjs
//   /config.json, /www/ ...   the dashboard                                          static.mjs
//   /signin, /signout         the sign-in page (key -> session cookie)               signin.mjs
//
// Every route but the sign-in page is closed to a caller who has not authenticated (access.mjs).
//   cron                      scheduled exports into the EXPORTS bucket              scheduled.mjs
//   /api/runs                 the runs and the cron schedule (status page)           runs-list.mjs
//   /api/runs/query           an on-demand Query API export into EXPORTS (POST)      scheduled.mjs
//   /api/runs/activities/...  durable activity export runs (Workflows) into EXPORTS  workflows.mjs
//   /api/runs/userpilot/...   durable Userpilot event export runs into EXPORTS       userpilot-workflow.mjs
//   /api/runs/forecasts/...   durable Forecasting runs (every page) into EXPORTS     paged-workflow.mjs
//   /api/runs/lookups/...     durable Userpilot lookup refreshes into EXPORTS        paged-workflow.mjs

import parseModule from "../pkg-parse/exportkit_parse_bg.wasm";
import wasmModule from "../pkg/exportkit_bg.wasm";
import { initSync } from "../js/index.js";
import { checkAccess, signInAvailable, SIGN_IN_HEADER, SIGN_IN_PATH, SIGN_OUT_PATH } from "./access.mjs";
import { ConfigError, PROXY_PATHS, readConfig } from "./config.mjs";
import { apiHeaders, drain, handleProxy, refusal } from "./proxy.mjs";
import { handleSignIn } from "./signin.mjs";
import { handleQueryRun, runScheduled } from "./scheduled.mjs";
import { serveStatic } from "./static.mjs";
import { handleRuns, scheduleIncrementalRun } from "./workflows.mjs";
import { handleUserpilotRuns } from "./userpilot-workflow.mjs";
import { handleRunsList } from "./runs-list.mjs";
import { handlePagedRuns } from "./paged-workflow.mjs";
import { scheduleConfiguredRuns } from "./run-schedule.mjs";

// Workflow and Durable Object classes are found by name among the main module's exports.
export { ActivitiesExport } from "./workflows.mjs";
export { VendorLimits } from "./limits.mjs";
export { UserpilotExport } from "./userpilot-workflow.mjs";
export { PagedExport } from "./paged-workflow.mjs";

// workerd hands over the module already compiled: no fetch, no compile at request time.
initSync({ parse: parseModule, client: wasmModule });

const PREFIXES = [
  ["userpilotFiles", PROXY_PATHS.userpilotFiles],
  ["userpilot", PROXY_PATHS.userpilot],
  ["backstory", PROXY_PATHS.backstory],
];

const RUNS_PATH = "/api/runs/activities";
const UP_RUNS_PATH = "/api/runs/userpilot";

function plainError(status, code, message, extra = {}) {
  const headers = apiHeaders();
  headers.set("Content-Type", "application/json; charset=utf-8");
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Response(JSON.stringify({ error: code, message }), { status, headers });
}

/** A page a browser navigates to (rather than a script fetching data). */
function isNavigation(request, path) {
  if (request.method !== "GET") return false;
  const mode = request.headers.get("sec-fetch-mode");
  if (mode !== null) return mode === "navigate";
  return path === "/" || path.endsWith("/") || path.endsWith(".html");
}

/** The refusal for a caller who may not come in: a person at a page is sent to sign in. */
function refuse(request, denied, path, vendor) {
  const extra = denied.signIn ? { [SIGN_IN_HEADER]: SIGN_IN_PATH } : {};
  if (denied.signIn && isNavigation(request, path) && !path.startsWith("/api/")) {
    const headers = apiHeaders();
    headers.set("Location", `${SIGN_IN_PATH}?next=${encodeURIComponent(path === "/" ? "/www/" : path)}`);
    return new Response(null, { status: 303, headers });
  }
  if (vendor) return refusal(vendor, denied.status, denied.code, denied.message, extra);
  return plainError(denied.status, denied.code, denied.message, extra);
}

/** The path exactly as sent, before the URL parser resolved `..` or `%2e%2e` in it. */
function rawPath(request) {
  return request.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, "").split(/[?#]/)[0];
}

export default {
  async fetch(request, env) {
    let cfg;
    try {
      cfg = readConfig(env);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(JSON.stringify({ misconfigured: e.variable, reason: e.message }));
      return plainError(500, "misconfigured", `the worker is misconfigured: ${e.message}`);
    }
    const path = new URL(request.url).pathname;
    const raw = rawPath(request);
    // The one page open to everyone, and only where it is offered (key set, no Access).
    if ((path === SIGN_IN_PATH || path === SIGN_OUT_PATH) && signInAvailable(cfg)) return handleSignIn(request, cfg);
    const denied = await checkAccess(request, cfg);
    if (denied) {
      // Read (and drop) up to 1 MiB of a body it will not use first: a client still sending when
      // the answer comes would see a reset instead of the refusal. Nothing of it goes anywhere.
      await drain(request.body);
      const vendor = path.startsWith(PROXY_PATHS.backstory) ? "backstory" : path.startsWith("/api/") ? "userpilot" : null;
      return refuse(request, denied, path, vendor);
    }
    if (path.startsWith("/api/") || raw.startsWith("/api/")) {
      // A path the parser had to normalise was written to look like another one: refuse it.
      if (raw !== path) return plainError(400, "bad_path", "the path must be written plainly (no dot segments, no encoded separators)");
      for (const [vendor, prefix] of PREFIXES) {
        if (path === prefix || path.startsWith(`${prefix}/`)) return handleProxy(request, env, cfg, vendor, path.slice(prefix.length));
      }
      if (path === "/api/runs") return handleRunsList(request, env);
      if (path === "/api/runs/query") return handleQueryRun(request, env, cfg);
      if (path === RUNS_PATH || path.startsWith(`${RUNS_PATH}/`)) return handleRuns(request, env, path.slice(RUNS_PATH.length));
      if (path === UP_RUNS_PATH || path.startsWith(`${UP_RUNS_PATH}/`)) return handleUserpilotRuns(request, env, path.slice(UP_RUNS_PATH.length));
      const paged = /^\/api\/runs\/(forecasts|lookups)(\/.*)?$/.exec(path);
      if (paged) return handlePagedRuns(request, env, paged[1], paged[2] ?? "");
      return plainError(404, "not_found", "no such API");
    }
    return serveStatic(request, env);
  },

  async scheduled(controller, env) {
    // The day's incremental activity run only starts here (a Workflow does the work), so a Query
    // export failing below never keeps it from starting.
    let configured = null;
    try {
      // KV `config:runs` (run-schedule.mjs), when set, says which runs of every API start today.
      configured = await scheduleConfiguredRuns(controller.scheduledTime, env);
      for (const r of configured ?? []) console.log(JSON.stringify({ scheduledRun: r }));
    } catch (e) {
      // A `config:runs` that cannot be read starts nothing (not the schedule it replaced).
      configured = [];
      console.error(JSON.stringify({ scheduledRuns: "not started", reason: String(e?.message ?? e) }));
    }
    try {
      const id = configured === null ? await scheduleIncrementalRun(controller.scheduledTime, env) : null;
      if (id) console.log(JSON.stringify({ incrementalRun: id }));
    } catch (e) {
      console.error(JSON.stringify({ incrementalRun: "not started", reason: String(e?.message ?? e) }));
    }
    await runScheduled(controller, env);
  },
};
