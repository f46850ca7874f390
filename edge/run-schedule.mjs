// The entries of KV `config:runs` (runs-config.mjs documents the key) started as Workflow instances,
// one a UTC day each.

import { ConfigError } from "./config.mjs";
import { outputFormat } from "./formats.mjs";
import { pagedRunParams, startPagedRun } from "./paged-workflow.mjs";
import { loadRunsConfig } from "./runs-config.mjs";
import { userpilotRunParams } from "./userpilot-workflow.mjs";
import { runParams } from "./workflows.mjs";

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
