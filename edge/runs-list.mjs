// GET /api/runs (issue 18's status page): every durable run recorded in EXPORTS (activities,
// Userpilot events, Forecasting, lookups) and the scheduled Query exports' KV states, each with the
// status of the instance now carrying it, the windows done (their records and bytes from each
// window's step file), its failure and its watermark; and the cron schedule with the incremental
// setting. Reached only after the worker's access check. Small state only: it reads the run
// records and step files, never an exported object.

import { USERPILOT_PREFIX, userpilotRunRecordKey } from "./userpilot-workflow.mjs";
import { failureKey, json, runRecordKey, RUNS_PREFIX } from "./workflows.mjs";
import { PAGED_APIS, pagedRunRecordKey } from "./paged-workflow.mjs";
import { loadRunsConfig } from "./runs-config.mjs";


// At most this many runs are listed (the newest first), so the page stays quick with a long history.
const MAX_RUNS = 50;

async function readJson(bucket, key) {
  const o = await bucket.get(key);
  if (!o) return null;
  try {
    return JSON.parse(await o.text());
  } catch (_) {
    return null;
  }
}

/** The next time (ISO) a daily `M H * * *` cron fires after `now`; null for any other form. */
export function nextDaily(cron, now) {
  const m = /^(\d{1,2}) (\d{1,2}) \* \* \*$/.exec(cron.trim());
  if (!m) return null;
  const d = new Date(now);
  let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), Number(m[2]), Number(m[1]));
  if (t <= now) t += 86_400_000;
  return new Date(t).toISOString();
}

export function schedule(env, now = Date.now()) {
  const crons = String(env.CRON_SCHEDULE ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  const next = crons.map((c) => nextDaily(c, now)).filter(Boolean).sort()[0] ?? null;
  return { crons, next, activitiesIncrementalStart: env.ACTIVITIES_INCREMENTAL_START || null };
}

// Each API's runs: where its records are, its Workflow binding, and whether a stopped run can be
// continued (each has a resume route).
const APIS = [
  { api: "activities", base: RUNS_PREFIX, binding: "ACTIVITIES_WORKFLOW", key: runRecordKey, resumable: true },
  { api: "userpilot", base: USERPILOT_PREFIX, binding: "USERPILOT_WORKFLOW", key: userpilotRunRecordKey, resumable: true },
  ...Object.entries(PAGED_APIS).map(([api, { prefix }]) => ({ api, base: prefix, binding: "PAGED_WORKFLOW", key: (id) => pagedRunRecordKey(api, id), resumable: true })),
];

async function runSummary(env, rec, kind) {
  const bucket = env.EXPORTS;
  const instanceId = rec.instance ?? rec.runId;
  let st = { status: "unknown" };
  try {
    st = await (await env[kind.binding].get(instanceId)).status();
  } catch (_) {
    // The engine no longer knows the instance (a local engine restarted): its R2 state still shows.
  }
  const steps = (await bucket.list({ prefix: `${rec.prefix}/_steps/` })).objects;
  const done = (await Promise.all(steps.map((o) => readJson(bucket, o.key)))).filter(Boolean);
  const manifest = await readJson(bucket, `${rec.prefix}/manifest.json`);
  // The failing step's message, when the instance that failed is the one carrying the run now.
  const recorded = st.error ? await readJson(bucket, failureKey(rec.prefix)) : null;
  const failed = recorded && recorded.instance === instanceId ? recorded : st.error;
  const p = rec.params ?? {};
  // The fields every API's run has, in the order the Runs view lists them; `own` are its API's.
  const view = (own) => ({
    api: kind.api,
    id: rec.runId,
    instance: instanceId,
    status: st.status ?? "unknown",
    resumable: kind.resumable,
    startedAt: rec.startedAt ?? null,
    finishedAt: manifest?.finishedAt ?? null,
    params: own.params,
    windows: own.windows,
    records: done.reduce((a, x) => a + (Number(x.records) || 0), 0),
    bytes: done.reduce((a, x) => a + (Number(x.bytes) || 0), 0),
    failure: failed ? { name: String(failed.name ?? "Error"), message: String(failed.message ?? "") } : null,
    watermark: own.watermark,
    state: manifest?.state ?? null,
  });
  if (PAGED_APIS[kind.api]) {
    // Forecasting: pages read of the last page the vendor named; lookups: lookups finished of those asked.
    const forecasts = kind.api === "forecasts";
    const last = done.reduce((a, d) => Math.max(a, Number(d.pageLast) || 0), 0);
    return {
      ...view({
        params: p,
        windows: forecasts
          ? { done: done.reduce((a, d) => a + (Number(d.pages) || 0), 0), total: last || null, unit: "pages" }
          : { done: done.filter((d) => !d.next).length, total: Array.isArray(p.lookups) ? p.lookups.length : null, unit: "lookups" },
        watermark: null,
      }),
      name: rec.name ?? null,
      output: rec.output ?? null,
    };
  }
  if (kind.api === "userpilot") {
    // One job, one object: its days are all done once the download step has written its file.
    const d = done[0];
    return view({
      params: p.incremental ? { incremental: p.incremental } : { from: p.from, to: p.to, ...(p.eventType ? { eventType: p.eventType } : {}) },
      windows: { done: d ? Number(d.days) || 0 : 0, total: rec.days ?? null, unit: "days" },
      watermark: manifest?.watermark ?? rec.watermark ?? (p.from ? { before: null, after: p.to, from: p.from } : null),
    });
  }
  return view({
    params: p.incremental ? { incremental: p.incremental } : { startDate: p.startDate, endDate: p.endDate },
    windows: { done: done.length, total: rec.windows ?? null },
    watermark: manifest?.watermark ?? rec.watermark ?? null,
  });
}

export async function handleRunsList(request, env) {
  if (request.method !== "GET") return json(405, { error: "method_not_allowed", message: `${request.method} is not allowed here` });
  if (!env.ACTIVITIES_WORKFLOW || !env.EXPORTS) return json(501, { error: "not_configured", message: "the ACTIVITIES_WORKFLOW and EXPORTS bindings are not set (see wrangler.toml)" });
  const recs = [];
  // An API whose Workflow is not bound (a deployment without Userpilot) simply lists no runs.
  for (const kind of APIS.filter((k) => env[k.binding])) {
    const listed = (await env.EXPORTS.list({ prefix: `${kind.base}/_runs/` })).objects;
    for (const r of await Promise.all(listed.map((o) => readJson(env.EXPORTS, o.key)))) if (r && typeof r.runId === "string" && recordOk(r, kind)) recs.push({ r, kind });
  }
  for (const q of await queryRuns(env)) recs.push({ r: { startedAt: q.startedAt }, query: q });
  recs.sort((a, b) => String(b.r.startedAt).localeCompare(String(a.r.startedAt)));
  const runs = await Promise.all(recs.slice(0, MAX_RUNS).map(({ r, kind, query }) => query ?? runSummary(env, r, kind)));
  const sched = schedule(env);
  try {
    // The runs KV `config:runs` starts on each tick (null: the key is unset, the variables rule).
    const configured = await loadRunsConfig(env);
    sched.configured = configured && configured.map((e) => ({ name: e.name, api: e.api, ...(e.api === "query" ? {} : { output: e.output ?? null }) }));
  } catch (e) {
    sched.configured = null;
    sched.configError = String(e?.message ?? e);
  }
  return json(200, { runs, schedule: sched });
}

// A record is only trusted for the prefix it was written under.
const recordOk = (r, kind) => typeof r.prefix === "string" && r.prefix.startsWith(`${kind.base}/day=`) && kind.key(r.runId).startsWith(`${kind.base}/_runs/`);

const QUERY_STATUS = { uploaded: "complete", running: "running", failed: "errored" };

/**
 * The scheduled Query exports (scheduled.mjs), one row per export: its latest day's run as its KV
 * state (`export:<name>`) tells it. They run in the cron's own invocation, not as a Workflow, so
 * they offer neither Cancel nor Re-run (the next tick retries what can be retried).
 */
async function queryRuns(env) {
  if (!env.STATE) return [];
  const out = [];
  for (const k of (await env.STATE.list({ prefix: "export:" })).keys) {
    let st;
    try {
      st = JSON.parse(await env.STATE.get(k.name));
    } catch (_) {
      continue;
    }
    if (!st || typeof st !== "object") continue;
    const name = k.name.slice("export:".length);
    out.push({
      api: "query",
      id: `${name}-${st.day ?? "unknown"}`,
      name,
      instance: null,
      status: QUERY_STATUS[st.state] ?? "unknown",
      resumable: false,
      cancellable: false,
      startedAt: st.updatedAt ?? null,
      finishedAt: st.state === "running" ? null : (st.updatedAt ?? null),
      params: { name, day: st.day ?? null },
      windows: { done: st.state === "uploaded" ? 1 : 0, total: 1, unit: "exports" },
      records: Number(st.rows) || 0,
      bytes: Number(st.bytes) || 0,
      failure: st.error ? { name: String(st.error.code ?? "Error"), message: String(st.error.message ?? "") } : null,
      watermark: null,
      state: st.state ?? null,
      key: st.key ?? null,
    });
  }
  return out;
}
