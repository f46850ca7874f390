// What the cron runs, changeable without a redeploy (issue 18): KV `config:runs` lists the scheduled
// runs of every API. When the key is absent the worker does what it did before it existed: the
// Query exports of `config:exports` / EXPORT_QUERIES, and the incremental activity run of
// ACTIVITIES_INCREMENTAL_START. When it is present it is the whole schedule, read on every tick:
//
//   [
//     { "name": "accounts",  "api": "query",      "query": { "object": "account", "columns": [...] } },
//     { "name": "activity",  "api": "activities", "params": { "incremental": { "startDate": "2024-01-01" } }, "output": { "format": "csv", "gzip": true } },
//     { "name": "events",    "api": "userpilot",  "params": { "incremental": { "startDate": "2024-01-01" } } },
//     { "name": "pipeline",  "api": "forecasts",  "params": { "forecast_type_id": 10089, "per_page": 100 } },
//     { "name": "lookups",   "api": "lookups",    "params": {}, "output": { "format": "jsonl", "gzip": true } }
//   ]
//
// Each entry other than `query` starts one Workflow instance a UTC day, `<api>-<name>-<day>`: a
// second tick the same day finds it and starts nothing. An incremental run's `through` is the day
// before the tick (see incrementalParams). A bad entry is reported and skipped; the others run.

import { ConfigError } from "./config.mjs";
import { outputFormat } from "./formats.mjs";
import { pagedRunParams, startPagedRun } from "./paged-workflow.mjs";
import { userpilotRunParams } from "./userpilot-workflow.mjs";
import { runParams } from "./workflows.mjs";

export const RUNS_CONFIG_KEY = "config:runs";
export const SCHEDULED_APIS = Object.freeze(["query", "activities", "userpilot", "forecasts", "lookups"]);
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The entries of `config:runs` checked for shape (their parameters are checked when they run); null when unset. */
export async function loadRunsConfig(env) {
  const raw = await env.STATE?.get(RUNS_CONFIG_KEY);
  if (raw === null || raw === undefined) return null;
  const source = `KV ${RUNS_CONFIG_KEY}`;
  let list;
  try {
    list = JSON.parse(raw);
  } catch {
    throw new ConfigError(source, "is not JSON");
  }
  if (!Array.isArray(list)) throw new ConfigError(source, "must be a JSON array of { name, api, params?, output? }");
  const seen = new Set();
  return list.map((e, i) => {
    if (!e || typeof e !== "object" || Array.isArray(e)) throw new ConfigError(source, `[${i}] must be an object`);
    if (!SCHEDULED_APIS.includes(e.api)) throw new ConfigError(source, `[${i}].api must be one of ${SCHEDULED_APIS.join(", ")}`);
    if (typeof e.name !== "string" || !NAME.test(e.name)) throw new ConfigError(source, `[${i}].name must match ${NAME}`);
    if (seen.has(`${e.api}/${e.name}`)) throw new ConfigError(source, `[${i}] repeats ${e.api} ${e.name}`);
    seen.add(`${e.api}/${e.name}`);
    if (e.api === "query") {
      if (!e.query || typeof e.query !== "object") throw new ConfigError(source, `[${i}].query must be a query object`);
      return { name: e.name, api: "query", query: e.query };
    }
    if (e.params !== undefined && (typeof e.params !== "object" || e.params === null || Array.isArray(e.params))) throw new ConfigError(source, `[${i}].params must be an object`);
    try {
      outputFormat(e.output, `[${i}].output`);
    } catch (err) {
      throw new ConfigError(source, err.message);
    }
    return { name: e.name, api: e.api, params: e.params ?? {}, output: e.output };
  });
}

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/** An entry's Workflow binding and the payload its instance starts with, for a tick at `now`. */
function launch(env, entry, now) {
  const output = outputFormat(entry.output);
  const p = entry.params;
  // An incremental run exports through the day before the tick, whatever the entry says it starts at.
  const withThrough = (params) => (params.incremental && typeof params.incremental === "object" ? { ...params, incremental: { through: isoDay(now - 86_400_000), ...params.incremental } } : params);
  if (entry.api === "activities") return { binding: env.ACTIVITIES_WORKFLOW, payload: { params: runParams(withThrough(p)), output, name: entry.name } };
  if (entry.api === "userpilot") return { binding: env.USERPILOT_WORKFLOW, payload: { params: userpilotRunParams(withThrough(p)), output, name: entry.name } };
  const run = pagedRunParams(entry.api, { ...p, output: entry.output }, env);
  return { binding: env.PAGED_WORKFLOW, paged: run };
}

/**
 * Starts today's instance of each Workflow entry of `config:runs` (the Query entries are run by
 * scheduled.mjs). Resolves to `[{ name, api, id, started, error? }]`; null when the key is unset.
 */
export async function scheduleConfiguredRuns(scheduledTime, env) {
  const entries = await loadRunsConfig(env);
  if (entries === null) return null;
  const day = isoDay(scheduledTime);
  const out = [];
  for (const entry of entries.filter((e) => e.api !== "query")) {
    const id = `${entry.api}-${entry.name}-${day}`;
    try {
      const { binding, payload, paged } = launch(env, entry, scheduledTime);
      if (!binding) throw new ConfigError(`[${entry.name}]`, `the ${entry.api} Workflow is not bound (see wrangler.toml)`);
      let exists = true;
      try {
        await binding.get(id);
      } catch (_) {
        exists = false;
      }
      if (exists) {
        out.push({ name: entry.name, api: entry.api, id, started: false });
        continue;
      }
      if (paged) await startPagedRun(env, entry.api, { ...paged, name: entry.name }, id);
      else await binding.create({ id, params: payload });
      out.push({ name: entry.name, api: entry.api, id, started: true });
    } catch (e) {
      out.push({ name: entry.name, api: entry.api, id, started: false, error: String(e?.message ?? e).slice(0, 300) });
    }
  }
  return out;
}
