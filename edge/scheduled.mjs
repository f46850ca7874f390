// Scheduled Query API exports: on each cron tick, every configured export that has not run today
// runs with the worker's own credentials and streams its CSV into R2 as
// `exports/query/<yyyy-mm-dd>/<name>.csv`, formula-guarded unless CSV_GUARD is "false".
//
// The Query API allows 10 calls a day and an answer cannot be asked for twice, so each export
// keeps its run in KV (`export:<name>`):
//   running  { day, runId, key, queryTag, uploadId, phase: "calling" | "completing", parts? }
//            (one not updated for EXPORT_RUN_TIMEOUT_SECONDS, default 900, is no longer running)
//   uploaded { day, runId, key, queryTag, bytes, rows }
//   failed   { day, runId, key, queryTag, called, error }
// A tick that finds today's run `running` knows the run was cut off. It resumes what can be
// resumed without the vendor (the object already written, or all parts uploaded and only the
// completion missing) and otherwise records the day as spent: the call went out and its answer is
// lost, and a second call for the same query the same day is never made. A run that failed before
// its call went out (credentials, the day's count) is tried again on the next tick.

import { BackstoryClient, writeCsv } from "../js/index.js";
import { tag } from "../js/runtime.js";
import { ConfigError, readConfig } from "./config.mjs";
import { markQueryExhausted, returnQueryCall, takeQueryCall } from "./quota.mjs";
import { R2StreamWriter } from "./r2-writer.mjs";
import { loadRunsConfig } from "./runs-config.mjs";

export const EXPORTS_CONFIG_KEY = "config:exports";
const STATE_PREFIX = "export:";
const STATE_TTL_SECONDS = 14 * 24 * 3600;
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
// Rows per batch the core hands over: each batch is a point where the upload can push back.
const BATCH_ROWS = 2000;

export function utcDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

export function objectKey(day, name) {
  return `exports/query/${day}/${name}.csv`;
}

/** `[{ name, query }]` from JSON text or an already parsed value; throws ConfigError naming `source`. */
export function parseExports(source, value) {
  let list = value;
  if (typeof value === "string") {
    try {
      list = JSON.parse(value);
    } catch {
      throw new ConfigError(source, "is not JSON");
    }
  }
  if (!Array.isArray(list)) throw new ConfigError(source, "must be a JSON array of { name, query }");
  const names = new Set();
  return list.map((e, i) => {
    if (!e || typeof e !== "object") throw new ConfigError(source, `[${i}] must be an object`);
    if (typeof e.name !== "string" || !NAME.test(e.name)) throw new ConfigError(source, `[${i}].name must match ${NAME}`);
    if (names.has(e.name)) throw new ConfigError(source, `[${i}].name repeats ${e.name}`);
    if (!e.query || typeof e.query !== "object") throw new ConfigError(source, `[${i}].query must be a query object`);
    names.add(e.name);
    return { name: e.name, query: e.query };
  });
}

/** The exports to run: KV `config:exports` when set (changeable without a deploy), else EXPORT_QUERIES. */
export async function loadExports(env) {
  // KV `config:runs`, when set, is the whole schedule (run-schedule.mjs): its Query entries.
  const runs = await loadRunsConfig(env);
  if (runs !== null) return runs.filter((e) => e.api === "query").map(({ name, query }) => ({ name, query }));
  const fromKv = await env.STATE.get(EXPORTS_CONFIG_KEY);
  if (fromKv !== null) return parseExports(`KV ${EXPORTS_CONFIG_KEY}`, fromKv);
  const v = env.EXPORT_QUERIES;
  if (v === undefined || v === null || v === "") return [];
  return parseExports("EXPORT_QUERIES", v);
}

const stateKey = (name) => `${STATE_PREFIX}${name}`;

// A cron invocation runs at most 15 minutes: a `running` state older than that was cut off.
const RUN_TIMEOUT_SECONDS = 15 * 60;

function runTimeoutMs(env) {
  const n = Number(env.EXPORT_RUN_TIMEOUT_SECONDS ?? RUN_TIMEOUT_SECONDS);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError("EXPORT_RUN_TIMEOUT_SECONDS", "must be a number of seconds");
  return n * 1000;
}

async function readState(env, name) {
  const raw = await env.STATE.get(stateKey(name));
  if (raw === null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

function writeState(env, name, state) {
  return env.STATE.put(stateKey(name), JSON.stringify({ ...state, updatedAt: new Date().toISOString() }), {
    expirationTtl: STATE_TTL_SECONDS,
  });
}

function describe(e) {
  const out = { code: (e && e.code) || (e && e.name) || "E_INTERNAL", message: String((e && e.message) || e).slice(0, 300) };
  if (e && Number.isFinite(e.retryAfterSeconds)) out.retryAfterSeconds = e.retryAfterSeconds;
  return out;
}

/** What can be finished of a run that was cut off, without the vendor. Returns the new state or null. */
async function resume(env, st) {
  const head = await env.EXPORTS.head(st.key);
  if (head && head.customMetadata && head.customMetadata.runId === st.runId) {
    return { ...st, state: "uploaded", phase: undefined, parts: undefined, uploadId: undefined, bytes: head.size, resumed: true };
  }
  if (st.phase === "completing" && st.uploadId && Array.isArray(st.parts)) {
    const obj = await env.EXPORTS.resumeMultipartUpload(st.key, st.uploadId).complete(st.parts);
    return { ...st, state: "uploaded", phase: undefined, parts: undefined, uploadId: undefined, bytes: obj.size, resumed: true };
  }
  return null;
}

async function abandon(env, st) {
  if (st.uploadId) await env.EXPORTS.resumeMultipartUpload(st.key, st.uploadId).abort().catch(() => {});
}

/**
 * The export rewritten through the project's one CSV writer, guard on (OWASP CSV injection: a CRM
 * field such as `=HYPERLINK(...)` must not run when the file is opened in a spreadsheet). Cells
 * that are not formulas come out byte for byte as the vendor sent them; memory stays one batch.
 */
async function guardedExport(client, canonical, writer) {
  const encoder = new TextEncoder();
  const batches = client.queryBatches(canonical, { batchRows: BATCH_ROWS });
  let header = null;
  for await (const b of batches) {
    const rows = header === null ? [b.header, ...b.rows] : b.rows;
    header = b.header;
    writer.write(encoder.encode(writeCsv(rows)));
    await writer.ready();
  }
  const out = await batches.result();
  if (header === null && Array.isArray(out.header) && out.header.length) writer.write(encoder.encode(writeCsv([out.header])));
  return out;
}

/** Runs (or resumes, or skips) one export for `day`. Resolves to its final state; never throws. */
export async function runExport(env, cfg, job, day) {
  const { backstoryClientId: clientId, backstoryClientSecret: clientSecret } = cfg.secrets;
  const key = objectKey(day, job.name);
  let client;
  let canonical;
  let taken = false;
  let called = false;
  // A call taken whose request never went out (no token, say) goes back to the day's count.
  const giveBack = async () => {
    if (taken && !called) {
      taken = false;
      await returnQueryCall(env).catch(() => {});
    }
  };
  try {
    if (clientId === null || clientSecret === null) throw new ConfigError("BACKSTORY_CLIENT_ID / BACKSTORY_CLIENT_SECRET", "not set");
    let quota = null;
    let sets = 0;
    const pending = [];
    // The call is taken from the credential's shared count (quota.mjs) before the core runs; the
    // core then sees the count as it was before this call. It calls `set` just before its request
    // goes out (already counted), and once more only when the vendor answers 429 (today spent).
    const quotaStore = {
      get: () => quota,
      set: (_key, v) => {
        quota = v;
        called = true;
        if (++sets > 1) pending.push(markQueryExhausted(env));
      },
    };
    client = new BackstoryClient({ baseUrl: cfg.backstoryBase, clientId, clientSecret, quotaStore });
    canonical = client.validateQuery(job.query);
    const queryTag = tag(JSON.stringify(canonical));

    const prev = await readState(env, job.name);
    if (prev && prev.day === day && prev.queryTag === queryTag) {
      if (prev.state === "uploaded") return { ...prev, skipped: "already uploaded today" };
      if (prev.state === "failed" && prev.called) return { ...prev, skipped: "today's call is spent" };
      if (prev.state === "running") {
        if (Date.now() - Date.parse(prev.updatedAt) < runTimeoutMs(env)) {
          // Another invocation may still be at it (a slow run met by the next tick): leave it be.
          return { ...prev, skipped: "a run is in progress" };
        }
        let done = null;
        try {
          done = await resume(env, prev);
        } catch {
          // The upload could not be finished (aborted, expired): the call is spent all the same.
        }
        if (done) {
          await writeState(env, job.name, done);
          return done;
        }
        // Cut off with the call presumed spent: its answer is gone and today gets no second call.
        await abandon(env, prev);
        const spent = { ...prev, state: "failed", called: true, phase: undefined, parts: undefined, uploadId: undefined, error: { code: "E_CUT_OFF", message: "the run was cut off after its call; the next run is tomorrow" } };
        await writeState(env, job.name, spent);
        return spent;
      }
    } else if (prev && prev.state === "running") {
      await abandon(env, prev);
    }

    // Today's call, from the count the proxy and every other run share.
    const take = await takeQueryCall(env);
    if (!take.ok) {
      throw Object.assign(new Error(`the Query API's 10 calls for today are spent (counted by the edge worker); retry in ${take.retryAfterSeconds} s`), { code: "E_QUOTA_EXHAUSTED", retryAfterSeconds: take.retryAfterSeconds });
    }
    quota = take.before;
    taken = true;
    const runId = crypto.randomUUID();
    const writer = await R2StreamWriter.create(env.EXPORTS, key, {
      httpMetadata: { contentType: "text/csv; charset=utf-8" },
      customMetadata: { runId, name: job.name, day, queryTag },
    });
    let st = { state: "running", phase: "calling", day, runId, key, queryTag, uploadId: writer.uploadId };
    await writeState(env, job.name, st);
    try {
      const out = cfg.csvGuard ? await guardedExport(client, canonical, writer) : await client.query(canonical, {
        collect: false,
        batchRows: BATCH_ROWS,
        onRawChunk: (bytes) => writer.write(bytes),
        onBatch: () => writer.ready(),
      });
      await Promise.all(pending);
      const parts = await writer.finish();
      st = { ...st, phase: "completing", parts };
      await writeState(env, job.name, st);
      await writer.complete(parts);
      st = { state: "uploaded", day, runId, key, queryTag, bytes: writer.bytes, rows: out.rowCount };
      await writeState(env, job.name, st);
      return st;
    } catch (e) {
      await Promise.allSettled(pending);
      await giveBack();
      await writer.abort();
      st = { state: "failed", day, runId, key, queryTag, called, error: describe(e) };
      await writeState(env, job.name, st);
      return st;
    }
  } catch (e) {
    // Before any run started (configuration, credentials, KV or R2 unavailable): nothing was spent.
    await giveBack();
    const st = { state: "failed", day, key, called: false, error: describe(e) };
    await writeState(env, job.name, st).catch(() => {});
    return st;
  }
}

/** The cron handler: each configured export in turn (one upstream connection at a time). */
export async function runScheduled(controller, env) {
  const cfg = readConfig(env);
  const day = utcDay(controller && Number.isFinite(controller.scheduledTime) ? controller.scheduledTime : Date.now());
  const results = [];
  for (const job of await loadExports(env)) {
    const st = await runExport(env, cfg, job, day);
    // One line per export, no secret: what ran, where it went, how it ended.
    console.log(JSON.stringify({ export: job.name, day, state: st.state, key: st.key, bytes: st.bytes, rows: st.rows, skipped: st.skipped, error: st.error }));
    results.push({ name: job.name, ...st });
  }
  return results;
}

/**
 * `POST /api/runs/query` (behind the worker's access check): one Query API export now, run by the
 * cron's own `runExport` (the same daily count in the credential's Durable Object, the same R2 key
 * `exports/query/<day>/<name>.csv`, the same KV state, so GET /api/runs shows it). The body is
 * `{ name }` for a configured export, or `{ name, query }` for another query under a name that is
 * not configured (a configured name keeps its own query: its file is the cron's too). Everything
 * is checked before the vendor is called. Answers 200 with the run's state (`skipped` says why
 * nothing was called: the same query was already exported today), 429 `rate_limit_exceeded` with
 * Retry-After when today's 10 calls are spent, as the proxy does, 409 when a run of it is going or
 * today's call for it is spent, 502 when the export failed.
 */
export async function handleQueryRun(request, env, cfg) {
  const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", ...headers } });
  if (request.method !== "POST") return json(405, { error: "method_not_allowed", message: `${request.method} is not allowed here` }, { Allow: "POST" });
  const invalid = (field, message) => json(400, { error: "invalid_argument", message, field });
  let body;
  try {
    body = await request.json();
  } catch {
    return invalid("body", "the body must be a JSON object { name, query? }");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return invalid("body", "the body must be a JSON object { name, query? }");
  if (typeof body.name !== "string" || !NAME.test(body.name)) return invalid("name", `name must match ${NAME}`);
  let configured;
  try {
    configured = (await loadExports(env)).find((e) => e.name === body.name) ?? null;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return json(500, { error: "misconfigured", message: `the export configuration cannot be read: ${e.message}` });
  }
  let query;
  if (body.query === undefined) {
    if (!configured) return invalid("name", `no configured export is named ${body.name}; send { name, query } to run another query`);
    query = configured.query;
  } else {
    if (configured) return invalid("name", `${body.name} is a configured export with its own query; send { name } alone, or choose another name`);
    if (!body.query || typeof body.query !== "object" || Array.isArray(body.query)) return invalid("query", "query must be a query object");
    try {
      // Only the query's shape is checked here (no credentials are needed or used for that).
      new BackstoryClient({ baseUrl: cfg.backstoryBase, clientId: "-", clientSecret: "-" }).validateQuery(body.query);
    } catch (e) {
      return invalid(e.field ? `query.${e.field}` : "query", e.message);
    }
    query = body.query;
  }
  const day = utcDay(Date.now());
  const st = await runExport(env, cfg, { name: body.name, query }, day);
  console.log(JSON.stringify({ export: body.name, onDemand: true, day, state: st.state, key: st.key, bytes: st.bytes, rows: st.rows, skipped: st.skipped, error: st.error }));
  const out = { name: body.name, day, state: st.state, key: st.key, bytes: st.bytes ?? null, rows: st.rows ?? null, ...(st.skipped ? { skipped: st.skipped } : {}), ...(st.error ? { error: st.error } : {}) };
  if (st.state === "failed" && st.error?.code === "E_QUOTA_EXHAUSTED") {
    const retry = String(st.error.retryAfterSeconds ?? 3600);
    return json(429, { ...out, error: "rate_limit_exceeded", message: st.error.message, code: st.error.code }, { "Retry-After": retry });
  }
  // Nothing called: a run of it is going, or today's call for it went out and its answer is lost.
  if (st.skipped && st.state !== "uploaded") return json(409, { ...out, error: "conflict", message: st.skipped });
  if (st.state === "failed") return json(502, { ...out, error: "export_failed", message: st.error?.message ?? "the export failed", code: st.error?.code });
  return json(200, out);
}
