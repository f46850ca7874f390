// Durable runs of the two paged APIs (issue 18): Backstory Forecasting (page-number pagination in
// headers) and the Userpilot lookups (a daily refresh; two of them walk a cursor). One Workflow,
// `PagedExport`, serves both: no vendor job to create or wait for, only pages to read, so each
// durable step reads a run of pages (`pagesPerStep`) and writes them as one R2 object. A step's
// result is small (its key, counts, checksum, where the next step starts); a retried step writes
// its object again under the same key (the failed attempt's upload is aborted), and a step that
// finished is never run again, so no page is ever in R2 twice.
//
// R2 layout:
//   exports/forecasts/day=<UTC day the run started>/run=<run id>/pages-<first>-<last>.<ext>
//   exports/lookups/day=<...>/run=<run id>/lookup=<name>/part-<n>.<ext>
//   exports/<api>/day=<...>/run=<run id>/manifest.json
// <ext>: jsonl or csv, .gz added when the run asks for gzip (formats.mjs).

import { NonRetryableError } from "cloudflare:workflows";
import { WorkflowEntrypoint } from "cloudflare:workers";
import { BackstoryClient, UserpilotClient } from "../js/index.js";
import { USERPILOT_LOOKUPS, USERPILOT_PAGINATED_LOOKUPS } from "../js/vocabulary.js";
import { readConfig } from "./config.mjs";
import { extension, ObjectSink, outputFormat, RecordsEncoder } from "./formats.mjs";
import { failureKey, instanceRoute, json } from "./workflows.mjs";

export const PAGED_APIS = Object.freeze({
  forecasts: { prefix: "exports/forecasts", unit: "pages" },
  lookups: { prefix: "exports/lookups", unit: "lookups" },
});

export const pagedRunRecordKey = (api, runId) => `${PAGED_APIS[api].prefix}/_runs/${runId}.json`;
const runPrefix = (api, day, runId) => `${PAGED_APIS[api].prefix}/day=${day}/run=${runId}`;

const VENDOR_STEP = { retries: { limit: 5, delay: "2 seconds", backoff: "exponential" }, timeout: "30 minutes" };
const pad = (n) => String(n).padStart(5, "0");
const DEFAULT_PAGES_PER_STEP = 10;
// The paginated lookups' page size: the vendor's most (fewest calls for a full refresh).
const LOOKUP_PAGE_LIMIT = 1000;

function pagesPerStep(v) {
  if (v === undefined) return DEFAULT_PAGES_PER_STEP;
  if (!Number.isInteger(v) || v < 1 || v > 100) throw new TypeError("pagesPerStep must be an integer from 1 to 100");
  return v;
}

/**
 * A run's parameters from a request body or a schedule entry, checked before the run starts:
 *   forecasts: `{ ...the Forecasting query (forecast_type_id, per_page, ...), pagesPerStep?, output? }`
 *   lookups:   `{ lookups?: [names] (default: all twelve), pageSize? (paginated lookups, default
 *              1000), pagesPerStep?, output? }`
 * Resolves to `{ params, output }`; throws a TypeError (or the client's ExportError) naming the field.
 */
export function pagedRunParams(api, body, env) {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new TypeError("the body must be a JSON object");
  const { output, pagesPerStep: per, name: _name, ...rest } = body;
  const out = outputFormat(output);
  if (api === "forecasts") {
    // Checked by the client's own rules (the wasm core), so the run cannot start with a query the
    // vendor would refuse; stored as the caller wrote it.
    backstory(env).forecasts.validate(rest);
    if (rest.page !== undefined) throw new TypeError("page is chosen by the run (every page is read); leave it out");
    return { params: { query: rest, pagesPerStep: pagesPerStep(per) }, output: out };
  }
  const { lookups, pageSize, ...other } = rest;
  const extra = Object.keys(other);
  if (extra.length) throw new TypeError(`${extra[0]} is not a lookups run parameter (lookups, pageSize, pagesPerStep, output)`);
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= LOOKUP_PAGE_LIMIT)) throw new TypeError(`pageSize must be an integer from 1 to ${LOOKUP_PAGE_LIMIT}`);
  let names = [...USERPILOT_LOOKUPS];
  if (lookups !== undefined) {
    if (!Array.isArray(lookups) || lookups.length === 0) throw new TypeError("lookups must be a non-empty array of lookup names");
    for (const n of lookups) if (!USERPILOT_LOOKUPS.includes(n)) throw new TypeError(`lookups: unknown lookup ${JSON.stringify(n)}; expected one of ${USERPILOT_LOOKUPS.join(", ")}`);
    names = [...new Set(lookups)];
  }
  return { params: { lookups: names, pageSize: pageSize ?? LOOKUP_PAGE_LIMIT, pagesPerStep: pagesPerStep(per) }, output: out };
}

function backstory(env) {
  const cfg = readConfig(env);
  return new BackstoryClient({ baseUrl: cfg.backstoryBase, clientId: env.BACKSTORY_CLIENT_ID, clientSecret: env.BACKSTORY_CLIENT_SECRET });
}

function userpilot(env) {
  const cfg = readConfig(env);
  return new UserpilotClient({ baseUrl: cfg.userpilotBase, apiKey: env.USERPILOT_API_KEY });
}

// A vendor answer that will not change on a retry (a 4xx other than 408, 409, 425 and 429: a bad
// query, a refused key) ends the run at once instead of after the step's retries. 5xx, resets
// and timeouts are the client's to retry first, then the step's.
const PERMANENT = (status) => Number.isInteger(status) && status >= 400 && status < 500 && ![408, 409, 425, 429].includes(status);
async function vendorStep(fn) {
  try {
    return await fn();
  } catch (e) {
    if (PERMANENT(e?.status)) throw new NonRetryableError(`${e.code ?? e.name ?? "Error"}: ${e.message}`);
    throw e;
  }
}

export class PagedExport extends WorkflowEntrypoint {
  async run(event, step) {
    const { api } = event.payload;
    const runId = event.payload.runId ?? event.instanceId;
    const startedAt = event.payload.startedAt ?? new Date(event.timestamp).toISOString();
    const prefix = runPrefix(api, startedAt.slice(0, 10), runId);
    const objects = [];
    try {
      return await this.exportRun(event, step, { api, runId, startedAt, prefix, objects });
    } catch (e) {
      // What the run delivered before it failed, and the failing step's own message (the engine
      // reports only a fatal error). Secrets never reach an error message.
      const failure = { instance: event.instanceId, name: String(e?.name ?? "Error"), message: String(e?.message ?? e).slice(0, 2000), at: new Date().toISOString() };
      await this.env.EXPORTS.put(failureKey(prefix), JSON.stringify(failure)).catch(() => {});
      await this.#manifest(event, { api, runId, startedAt, prefix, objects, state: "failed", failure }).catch(() => {});
      throw e;
    }
  }

  async #manifest(event, { api, runId, startedAt, prefix, objects, state, failure }) {
    const { params, output, name } = event.payload;
    const manifest = {
      run: runId,
      instance: event.instanceId,
      api,
      ...(name ? { name } : {}),
      params,
      output: { ...output, extension: extension(output) },
      startedAt,
      finishedAt: new Date().toISOString(),
      state,
      ...(failure ? { failure: { name: failure.name, message: failure.message } } : {}),
      objects,
      rows: objects.reduce((a, o) => a + o.records, 0),
      bytes: objects.reduce((a, o) => a + o.bytes, 0),
      pages: objects.reduce((a, o) => a + o.pages, 0),
      vendorJobs: [],
      watermark: null,
    };
    const key = `${prefix}/manifest.json`;
    await this.env.EXPORTS.put(key, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
    return { manifest: key, rows: manifest.rows, bytes: manifest.bytes, objects: objects.length, pages: manifest.pages };
  }

  async exportRun(event, step, ctx) {
    const { api, runId, startedAt, prefix, objects } = ctx;
    const { params, output, name } = event.payload;
    await step.do("plan", async () => {
      await this.env.EXPORTS.put(pagedRunRecordKey(api, runId), JSON.stringify({ runId, api, name: name ?? null, params, output, startedAt, prefix, instance: event.instanceId }));
      return { planned: true };
    });
    const per = params.pagesPerStep;
    const cfg = readConfig(this.env);
    // One object: the records of `read(write)` in the run's format; the step's small result.
    const writeObject = async (key, read) => {
      const sink = await ObjectSink.create(this.env.EXPORTS, key, output, { run: runId });
      const enc = new RecordsEncoder(output, { csvGuard: cfg.csvGuard });
      try {
        let records = 0;
        const info = await read(async (batch) => {
          records += batch.length;
          await sink.write(enc.encode(batch));
        });
        await sink.write(enc.end());
        const stored = await sink.finish();
        return { key, records, bytes: stored.bytes, rawBytes: stored.rawBytes, sha256: stored.sha256, parts: stored.parts.length, ...info };
      } catch (e) {
        await sink.abort();
        throw e;
      } finally {
        enc.free();
      }
    };
    // Each finished object leaves a small step file: the status page counts progress from them,
    // and a run resumed in a new instance (POST .../resume) finds the objects already written
    // there instead of reading their pages again.
    const stepFile = (key) => `${prefix}/_steps/${key.slice(prefix.length + 1).replace(/\//g, "_")}.json`;
    const once = async (key, read) => {
      const had = await this.env.EXPORTS.get(stepFile(key));
      if (had) {
        try {
          const o = JSON.parse(await had.text());
          if (o.key === key && (await this.env.EXPORTS.head(key))?.size === o.bytes) return o;
        } catch (_) {
          // Unreadable: written again below.
        }
      }
      const o = await writeObject(key, read);
      await this.env.EXPORTS.put(stepFile(key), JSON.stringify(o));
      return o;
    };

    if (api === "forecasts") {
      for (let first = 1; ; ) {
        const o = await step.do(`pages from ${first}`, VENDOR_STEP, () => vendorStep(async () => {
          let last = first - 1;
          let totalChanged = false;
          // The object's name says its pages; the last page is known once they are read, so the
          // records go to a key named by the pages asked for (the same on every attempt).
          const key = `${prefix}/pages-${pad(first)}-${pad(first + per - 1)}${extension(output)}`;
          return once(key, async (write) => {
            const it = backstory(this.env).forecasts.query({ ...params.query, page: first }, { path: cfg.forecastingPath, maxPages: per, concurrency: 1 });
            for await (const p of it) {
              last = p.page;
              totalChanged ||= p.totalChanged;
              await write(p.records);
            }
            const s = await it.result();
            return { pages: last - first + 1, firstPage: first, lastPage: last, pageLast: s.pageLast ?? null, totalCount: s.totalCount ?? null, complete: Boolean(s.complete), totalChanged };
          });
        }));
        objects.push(o);
        if (o.complete || o.pages < per) break;
        first = o.lastPage + 1;
      }
    } else {
      for (const lookup of params.lookups) {
        const paginated = USERPILOT_PAGINATED_LOOKUPS.includes(lookup);
        let cursor = null;
        for (let n = 1; ; n++) {
          const from = cursor;
          const o = await step.do(`lookup ${lookup} part ${n}`, VENDOR_STEP, () => vendorStep(async () => {
            const up = userpilot(this.env);
            const key = `${prefix}/lookup=${lookup}/part-${pad(n)}${extension(output)}`;
            return once(key, async (write) => {
              let after = from;
              let pages = 0;
              let totalCount = null;
              do {
                const r = await up.lookups.get(lookup, paginated ? { limit: params.pageSize ?? LOOKUP_PAGE_LIMIT, ...(after ? { afterCursor: after } : {}) } : {});
                pages += 1;
                totalCount = r.totalCount ?? totalCount;
                await write(r.data ?? []);
                // An answer with no records ends the walk even if the vendor sent a cursor.
                after = paginated && (r.data ?? []).length > 0 ? (r.after ?? null) : null;
              } while (after && pages < per);
              return { lookup, part: n, pages, totalCount, next: after };
            });
          }));
          objects.push(o);
          if (!o.next) break;
          cursor = o.next;
        }
      }
    }
    return await step.do("manifest", () => this.#manifest(event, { ...ctx, state: "complete" }));
  }
}

/** Starts a run; resolves to its instance id. `id` (optional) makes a scheduled run once a day. */
export async function startPagedRun(env, api, { params, output, name }, id) {
  const payload = { api, params, output, ...(name ? { name } : {}) };
  const instance = await env.PAGED_WORKFLOW.create(id ? { id, params: payload } : { params: payload });
  return instance.id;
}

/**
 * `/api/runs/forecasts` and `/api/runs/lookups` (POST: start a run, see `pagedRunParams`),
 * `.../<id>` (GET: its status), `.../<id>/cancel` (POST), `.../<id>/resume` (POST: the run goes on
 * in a new instance). Reached only after the access check.
 */
export async function handlePagedRuns(request, env, api, sub) {
  if (!env.PAGED_WORKFLOW || !env.EXPORTS) return json(501, { error: "not_configured", message: "the PAGED_WORKFLOW and EXPORTS bindings are not set (see wrangler.toml)" });
  if (sub === "" && request.method === "POST") {
    let run;
    try {
      run = pagedRunParams(api, await request.json(), env);
    } catch (e) {
      return json(400, { error: "invalid_argument", message: e.message, field: e.field });
    }
    return json(202, { id: await startPagedRun(env, api, run) });
  }
  const m = /^\/([A-Za-z0-9_-]{1,100})(\/cancel|\/resume)?$/.exec(sub);
  if (!m) return json(404, { error: "not_found", message: "no such run route" });
  if (m[2] === "/resume" && request.method === "POST") {
    // The run goes on in a new instance: same id, prefix and parameters; the objects it finds
    // written (their step files) are kept, the rest are read.
    const rec = await env.EXPORTS.get(pagedRunRecordKey(api, m[1]));
    if (!rec) return json(404, { error: "not_found", message: `no ${api} run ${m[1]}` });
    const record = JSON.parse(await rec.text());
    const instance = await env.PAGED_WORKFLOW.create({ params: { api, params: record.params, output: record.output, ...(record.name ? { name: record.name } : {}), runId: record.runId, startedAt: record.startedAt } });
    await env.EXPORTS.put(pagedRunRecordKey(api, record.runId), JSON.stringify({ ...record, instance: instance.id }));
    return json(202, { id: instance.id, run: record.runId });
  }
  return instanceRoute(env.PAGED_WORKFLOW, m[1], m[2], request.method, json);
}
