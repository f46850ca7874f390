// What the cron runs, changeable without a redeploy (issue 18), read here and started by
// run-schedule.mjs (kept apart so that scheduled.mjs stays free of the Workflow modules): KV `config:runs` lists the scheduled
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
