// Durable Raw Activity Data exports at the edge (issue 18): one Cloudflare Workflow instance per
// run. Each vendor job is created, waited for and downloaded in its own durable step, and every
// step returns only small state (ids, keys, counts, checksums, part etags), so a crash, a deploy or
// a retried step resumes at the step, not at the start, and the vendor job is never created twice.
//
// R2 layout (Hive-style partitions a warehouse reads as columns):
//   exports/activities/day=<UTC day the run started>/run=<run id>/window-<i>_<start>_<end>.part-<g>.<ext>
//   exports/activities/day=<...>/run=<run id>/manifest.json
// <ext>: jsonl (default) or csv, .gz added for gzip (the run's `output`, formats.mjs).
// A window's job is downloaded in pieces of its fragments, each piece its own step and its own
// object (downloadWindow), streamed through an R2 multipart upload (5 MiB parts): nothing is held
// whole. The window's data is its pieces in order (the manifest lists them; a CSV piece carries
// its own header line). A retried piece writes its whole object again under the same key (the
// unfinished upload of the failed attempt is aborted), so a row is never in R2 twice.

import { NonRetryableError } from "cloudflare:workflows";
import { WorkflowEntrypoint } from "cloudflare:workers";
import { BackstoryClient } from "../js/index.js";
import { readConfig } from "./config.mjs";
import { backstoryLimits } from "./limits.mjs";
import { extension, ObjectSink, outputFormat, utf8 } from "./formats.mjs";

/** A JSON answer of the run routes, never cached. */
export const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" } });

export const RUNS_PREFIX = "exports/activities";
export const ACTIVITIES_WATERMARK = "activities";

/** Where a run's parameters are kept, so that a new instance can continue it. */
export const runRecordKey = (runId) => `${RUNS_PREFIX}/_runs/${runId}.json`;

export function runPrefix(day, runId) {
  return `${RUNS_PREFIX}/day=${day}/run=${runId}`;
}

const DAY_MS = 86_400_000;
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const nextDay = (day) => isoDay(Date.parse(`${day}T00:00:00Z`) + DAY_MS);

/**
 * An incremental run: `{ incremental: { startDate?, through? } }`. It exports the days after the
 * watermark (or from `startDate`, the first run) through `through` (default: yesterday, UTC).
 */
export function incrementalParams(inc, now = Date.now()) {
  if (!inc || typeof inc !== "object" || Array.isArray(inc)) throw new TypeError("incremental must be an object { startDate?, through? }");
  const out = { through: inc.through ?? isoDay(now - DAY_MS) };
  if (inc.startDate !== undefined) out.startDate = inc.startDate;
  for (const k of ["through", "startDate"]) {
    if (out[k] !== undefined && (typeof out[k] !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(out[k]))) throw new TypeError(`incremental.${k} must be YYYY-MM-DD`);
  }
  if (inc.activityType !== undefined) out.activityType = inc.activityType;
  return out;
}

/** The export parameters a run accepts (anything else is refused before the run starts). */
export function runParams(body) {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new TypeError("the body must be a JSON object");
  if (body.incremental !== undefined) return { incremental: incrementalParams(body.incremental) };
  const out = {};
  for (const k of ["startDate", "endDate", "activityType", "exportType", "windowDays"]) {
    if (body[k] !== undefined) out[k] = body[k];
  }
  for (const k of ["startDate", "endDate"]) {
    if (typeof out[k] !== "string") throw new TypeError(`${k} (YYYY-MM-DD) is required`);
  }
  return out;
}

function client(env) {
  const cfg = readConfig(env);
  return new BackstoryClient({ baseUrl: cfg.backstoryBase, clientId: env.BACKSTORY_CLIENT_ID, clientSecret: env.BACKSTORY_CLIENT_SECRET });
}

// Steps that talk to the vendor retry with backoff; a job's create step adopts a job the vendor
// made for an attempt whose answer was lost, so its retries never make a second job.
const VENDOR_STEP = { retries: { limit: 5, delay: "2 seconds", backoff: "exponential" }, timeout: "30 minutes" };

const sameWindow = (j, w) => j.startDate === w.startDate && j.endDate === w.endDate && (j.activityType ?? "all") === w.activityType && (j.exportType ?? "delta") === w.exportType;

/**
 * Waits for a vendor job (`api`: the client's `activities`, or Userpilot's `exports`) inside a
 * step. A job that ended Failed or Canceled stays so: asking again will not change that, so the
 * step fails for good instead of being retried.
 */
export async function waitForJob(api, jobId, env) {
  try {
    return await api.wait(jobId, { pollIntervalMs: Number(env.RUN_POLL_INTERVAL_MS) || 5000 });
  } catch (e) {
    if (e?.code === "E_JOB_FAILED") throw new NonRetryableError(String(e.message));
    throw e;
  }
}

/** Where a run's last failure is kept: the engine reports a failed step only as a fatal error. */
export const failureKey = (prefix) => `${prefix}/_failure.json`;

export class ActivitiesExport extends WorkflowEntrypoint {
  async run(event, step) {
    // What the run has planned and which vendor jobs it holds, for a manifest if it fails.
    const ctx = { planned: null, jobs: [] };
    try {
      return await this.exportRun(event, step, ctx);
    } catch (e) {
      // The step's own message, for the status page (secrets never reach an error message).
      const runId = event.payload.runId ?? event.instanceId;
      const startedAt = event.payload.startedAt ?? new Date(event.timestamp).toISOString();
      const prefix = runPrefix(startedAt.slice(0, 10), runId);
      const failure = { instance: event.instanceId, name: String(e?.name ?? "Error"), message: String(e?.message ?? e).slice(0, 2000), at: new Date().toISOString() };
      await this.env.EXPORTS.put(failureKey(prefix), JSON.stringify(failure)).catch(() => {});
      // A failed run still says what it delivered: the pieces complete in R2, nothing else. A
      // later /resume of the run writes the complete manifest over this one.
      await this.#failedManifest(event, { runId, startedAt, prefix, ctx, failure }).catch(() => {});
      // A failed incremental run gives the one-at-a-time lease back now (its watermark has not
      // moved, so the next run covers its days), rather than blocking every later incremental run
      // until the lease lapses. A run that never got the lease gives back nothing.
      if (event.payload.params?.incremental && this.env.VENDOR_LIMITS) await (await backstoryLimits(this.env)).release("activitiesIncremental", runId).catch(() => {});
      throw e;
    }
  }

  /**
   * A window's data, spread over steps (Workflow fan-out): its job's fragments in pieces of
   * RUN_FRAGMENTS_PER_STEP (default 8), RUN_PARALLEL_STEPS (default 2) pieces at once, each piece
   * its own durable step writing its own R2 object. A step over its CPU limit, a crash or a
   * restart costs that piece, not the window. One object per piece rather than one multipart
   * upload per window: R2 wants every part but the last of one size and at least 5 MiB, which
   * pieces of any size cannot promise, and a part cannot outlive the step that buffered it.
   * Resolves to the pieces in fragment order.
   */
  async downloadWindow(step, { prefix, i, w, job, output }) {
    const doneKey = `${prefix}/_steps/window-${i}.json`;
    const parts = client(this.env).activities.dataParts(job);
    const per = Math.max(1, Math.floor(Number(this.env.RUN_FRAGMENTS_PER_STEP) || 8));
    // Each piece reads up to 4 fragments at once and uploads up to 2 parts: two pieces stay
    // within the 6 connections of an invocation (and the vendor sees at most 8 reads).
    const parallel = Math.max(1, Math.min(4, Math.floor(Number(this.env.RUN_PARALLEL_STEPS) || 2)));
    const pieces = [];
    for (let a = 0; a < parts; a += per) pieces.push([a, Math.min(parts, a + per)]);
    // A job with no data: one empty piece (the window's object says so).
    if (!pieces.length) pieces.push([0, parts]);
    const base = `${prefix}/window-${i}_${w.startDate}_${w.endDate}`;
    const piece = (g) =>
      step.do(`window ${i}: fragments ${pieces[g][0]}-${pieces[g][1]}`, VENDOR_STEP, async () => {
        const marker = `${prefix}/_pieces/window-${i}/${g}.json`;
        // Written by an earlier instance of this run (POST .../resume): not downloaded again.
        const done = await this.env.EXPORTS.get(marker);
        if (done) {
          const d = JSON.parse(await done.text());
          if (d.jobId === job.jobId) return d;
        }
        const key = `${base}.part-${String(g).padStart(4, "0")}${extension(output)}`;
        const sink = await ObjectSink.create(this.env.EXPORTS, key, output);
        let result;
        try {
          // CSV through the client's own flattening (formula cells guarded unless CSV_GUARD is false).
          const csv = output.format === "csv";
          const it = client(this.env).activities.rows(job.jobId, csv ? { format: "csv", csvGuard: readConfig(this.env).csvGuard, parts: pieces[g] } : { format: "jsonl", parts: pieces[g] });
          for await (const b of it) {
            // Backpressure: the sink waits while the upload is behind (a few parts in memory).
            await sink.write(csv ? utf8(b.csv) : b.bytes);
          }
          const summary = await it.result();
          const stored = await sink.finish();
          // `dataBytes`: the vendor's bytes (what results_size counts), whatever the stored format.
          result = { key, jobId: job.jobId, window: w, fragments: pieces[g], records: summary.records, dataBytes: summary.bytes, bytes: stored.bytes, sha256: stored.sha256, parts: stored.parts.length };
        } catch (e) {
          await sink.abort();
          throw e;
        }
        await this.env.EXPORTS.put(marker, JSON.stringify(result));
        return result;
      });
    const out = [];
    for (let g = 0; g < pieces.length; g += parallel) {
      out.push(...(await Promise.all(pieces.slice(g, g + parallel).map((_, k) => piece(g + k)))));
    }
    // The pieces together must hold what the job announced (each piece alone cannot tell).
    const dataBytes = out.reduce((a, o) => a + (o.dataBytes ?? o.bytes), 0);
    if (Number.isFinite(job.resultsSize) && dataBytes < job.resultsSize) {
      throw new NonRetryableError(`job ${job.jobId}: received ${dataBytes} bytes of data but the job reported results_size ${job.resultsSize}`);
    }
    const bytes = out.reduce((a, o) => a + o.bytes, 0);
    // The status page counts a window done, its records and bytes, from this file.
    await step.do(`window ${i}: done`, async () => {
      await this.env.EXPORTS.put(doneKey, JSON.stringify({ jobId: job.jobId, window: w, records: out.reduce((a, o) => a + o.records, 0), bytes, objects: out.map((o) => o.key) }));
    });
    return out;
  }

  /**
   * The manifest of a failed run: the pieces whose _pieces/ marker exists (a marker is written
   * only after its object is complete) and whose object is still there, in window and piece
   * order; the watermark not moved (before = after).
   */
  async #failedManifest(event, { runId, startedAt, prefix, ctx, failure }) {
    const { params } = event.payload;
    const output = outputFormat(event.payload.output);
    const markers = [];
    const markerPrefix = `${prefix}/_pieces/`;
    let cursor;
    do {
      const page = await this.env.EXPORTS.list({ prefix: markerPrefix, cursor });
      for (const o of page.objects) {
        const m = /^window-(\d+)\/(\d+)\.json$/.exec(o.key.slice(markerPrefix.length));
        if (m) markers.push({ key: o.key, i: Number(m[1]), g: Number(m[2]) });
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    markers.sort((a, b) => a.i - b.i || a.g - b.g);
    const objects = [];
    for (const mk of markers) {
      const body = await this.env.EXPORTS.get(mk.key);
      if (!body) continue;
      const d = JSON.parse(await body.text());
      const head = await this.env.EXPORTS.head(d.key);
      if (!head || head.size !== d.bytes) continue;
      objects.push(d);
    }
    const planned = ctx.planned;
    const before = planned?.watermark ? planned.watermark.before : null;
    const manifest = {
      run: runId,
      instance: event.instanceId,
      api: "activities",
      ...(event.payload.name ? { name: event.payload.name } : {}),
      params: planned?.params ?? params,
      output: { ...output, extension: extension(output) },
      startedAt,
      finishedAt: new Date().toISOString(),
      state: "failed",
      failure: { name: failure.name, message: failure.message },
      watermark: { before, after: before },
      objects: objects.map(({ key, jobId, window, fragments, records, bytes, sha256, parts }) => ({ key, jobId, window, fragments, records, bytes, sha256, parts })),
      windows: windowsOf(objects),
      rows: objects.reduce((a, o) => a + o.records, 0),
      bytes: objects.reduce((a, o) => a + o.bytes, 0),
      // Every job the run created or adopted, a failed one included, then any a delivered piece
      // names (an earlier instance's).
      vendorJobs: [...new Set([...ctx.jobs, ...objects.map((o) => o.jobId)])],
    };
    await this.env.EXPORTS.put(`${prefix}/manifest.json`, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
  }

  async exportRun(event, step, ctx = { planned: null, jobs: [] }) {
    const { params } = event.payload;
    // JSON Lines unless the run asked for CSV and/or gzip (formats.mjs).
    const output = outputFormat(event.payload.output);
    // A run continued by a new instance (POST .../<id>/resume) keeps its id, day and start time,
    // so it writes under the same prefix and adopts the jobs the first instance made.
    const runId = event.payload.runId ?? event.instanceId;
    const startedAt = event.payload.startedAt ?? new Date(event.timestamp).toISOString();
    const day = startedAt.slice(0, 10);
    const prefix = runPrefix(day, runId);
    const startedMs = Date.parse(startedAt);

    // An incremental run turns the watermark into dates here, once: the step's result is what
    // every retry and every later step sees.
    const planned = await step.do("plan", async () => {
      // The instance now carrying the run (a resumed run has a new one) for the status page.
      const record = (more) => this.env.EXPORTS.put(runRecordKey(runId), JSON.stringify({ runId, params, output, ...(event.payload.name ? { name: event.payload.name } : {}), startedAt, prefix, instance: event.instanceId, ...more }));
      await record({});
      if (!params.incremental) {
        const windows = client(this.env).activities.plan(params);
        await record({ windows: windows.length });
        return { params, windows, watermark: null };
      }
      const inc = params.incremental;
      const limits = await backstoryLimits(this.env);
      // One incremental run at a time: two reading the same watermark would export the same days.
      if (!(await limits.acquire("activitiesIncremental", runId)).granted) throw new NonRetryableError("another incremental activities run is going; try again when it ends");
      const before = await limits.watermark(ACTIVITIES_WATERMARK);
      const startDate = before ? nextDay(before) : inc.startDate;
      // A run that ends here gives the one-at-a-time lease back at once: held, it would refuse
      // every later incremental run until it lapsed (LEASE_TTL_MS).
      if (!startDate) {
        await limits.release("activitiesIncremental", runId);
        throw new NonRetryableError("the first incremental run needs incremental.startDate");
      }
      if (startDate > inc.through) {
        await limits.release("activitiesIncremental", runId);
        return { params: null, windows: [], watermark: { before, after: before } };
      }
      const p = { startDate, endDate: inc.through, exportType: "delta", ...(inc.activityType ? { activityType: inc.activityType } : {}) };
      const windows = client(this.env).activities.plan(p);
      await record({ windows: windows.length, watermark: { before, after: inc.through } });
      return { params: p, windows, watermark: { before, after: inc.through } };
    });
    ctx.planned = planned;
    const windows = planned.windows;
    const objects = [];
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i];
      // A job slot from the credential's Durable Object first: at most 10 of this key's jobs queued
      // or running across every run. Waiting is a durable sleep, not a busy step.
      const holder = `${runId}/window-${i}`;
      if (this.env.VENDOR_LIMITS) {
        for (let n = 0; ; n++) {
          const { granted } = await step.do(`window ${i}: job slot ${n}`, async () => (await backstoryLimits(this.env)).acquire("backstoryJobs", holder));
          if (granted) break;
          await step.sleep(`window ${i}: wait for a job slot ${n}`, Math.min(60_000, (Number(this.env.RUN_SLOT_WAIT_MS) || 5000) * 2 ** Math.min(n, 4)));
        }
      }
      const release = () => (this.env.VENDOR_LIMITS ? step.do(`window ${i}: release job slot`, async () => (await backstoryLimits(this.env)).release("backstoryJobs", holder)) : null);
      let jobId;
      let job;
      try {
        ({ jobId } = await step.do(`window ${i}: create job`, VENDOR_STEP, async () => {
          const c = client(this.env);
          // An earlier attempt of this step (or an earlier instance of this run) may have created
          // the job and died before its result was saved: a job of the same window created since
          // the run began is that job.
          const mine = (await c.activities.list()).filter((j) => sameWindow(j, w) && j.state !== "Failed" && j.state !== "Canceled" && Date.parse(j.createdTime ?? "") >= startedMs - 60_000);
          const taken = new Set(objects.map((o) => o.jobId));
          const limits = this.env.VENDOR_LIMITS ? await backstoryLimits(this.env) : null;
          for (const j of mine) {
            if (taken.has(j.jobId)) continue;
            // Another run of the same window made it: not ours (its data would be right, but that
            // run would lose track of what it started).
            if (limits && !(await limits.claimJob(j.jobId, holder))) continue;
            return { jobId: j.jobId, adopted: true };
          }
          const job = await c.activities.start(w);
          await limits?.claimJob(job.jobId, holder);
          return { jobId: job.jobId, adopted: false };
        }));
        ctx.jobs.push(jobId);
        job = await step.do(`window ${i}: wait for job`, VENDOR_STEP, async () => {
          const j = await waitForJob(client(this.env).activities, jobId, this.env);
          return { jobId: j.jobId, resultsSize: j.resultsSize, fragmentCount: j.fragmentCount };
        });
      } finally {
        // The job has ended (or will never run): its slot goes back, failure or not.
        await release();
      }
      objects.push(...(await this.downloadWindow(step, { prefix, i, w, job, output })));
    }
    return await step.do("manifest", async () => {
      let state = "complete";
      if (planned.watermark) {
        const limits = await backstoryLimits(this.env);
        if (planned.watermark.after !== planned.watermark.before) {
          const moved = await limits.advanceWatermark(ACTIVITIES_WATERMARK, planned.watermark.before, planned.watermark.after);
          // Already moved by an earlier attempt of this step: the same move, nothing to do.
          if (!moved.advanced && moved.watermark !== planned.watermark.after) state = "superseded";
        }
        await limits.release("activitiesIncremental", runId);
      }
      const manifest = {
        run: runId,
        instance: event.instanceId,
        api: "activities",
        ...(event.payload.name ? { name: event.payload.name } : {}),
        params: planned.params ?? params,
        output: { ...output, extension: extension(output) },
        startedAt,
        finishedAt: new Date().toISOString(),
        state,
        // The last day delivered before and after this run (incremental runs); a plain run says
        // the days it covered.
        watermark: planned.watermark ?? { before: null, after: params.endDate, from: params.startDate },
        // One object per piece of a window (fragments [from, to) of its job), in order: a window's
        // data is its objects put together.
        objects: objects.map(({ key, jobId, window, fragments, records, bytes, sha256, parts }) => ({ key, jobId, window, fragments, records, bytes, sha256, parts })),
        windows: windowsOf(objects),
        rows: objects.reduce((a, o) => a + o.records, 0),
        bytes: objects.reduce((a, o) => a + o.bytes, 0),
        vendorJobs: [...new Set(objects.map((o) => o.jobId))],
      };
      const key = `${prefix}/manifest.json`;
      await this.env.EXPORTS.put(key, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
      return { manifest: key, rows: manifest.rows, bytes: manifest.bytes, objects: objects.length };
    });
  }
}

/** Each window once, in order, with its job and its pieces' totals. */
function windowsOf(objects) {
  const out = [];
  for (const o of objects) {
    const last = out[out.length - 1];
    if (last && last.jobId === o.jobId) {
      last.records += o.records;
      last.bytes += o.bytes;
      last.objects++;
    } else out.push({ window: o.window, jobId: o.jobId, records: o.records, bytes: o.bytes, objects: 1 });
  }
  return out;
}

/**
 * The cron's daily incremental run, when `ACTIVITIES_INCREMENTAL_START` (the first day) is set: one
 * instance per UTC day (`activities-incremental-<day>`), through the day before; a second tick the
 * same day finds it there and starts nothing. Resolves to the instance id, or null.
 */
export async function scheduleIncrementalRun(scheduledTime, env) {
  const start = env.ACTIVITIES_INCREMENTAL_START;
  if (!start || !env.ACTIVITIES_WORKFLOW) return null;
  const id = `activities-incremental-${isoDay(scheduledTime)}`;
  const params = { incremental: incrementalParams({ startDate: start }, scheduledTime) };
  try {
    await env.ACTIVITIES_WORKFLOW.get(id);
    return null;
  } catch (_) {
    // Not there yet: this tick starts it.
  }
  await env.ACTIVITIES_WORKFLOW.create({ id, params: { params } });
  return id;
}

/**
 * `/api/runs/activities` (POST: start a run with `{ startDate, endDate, activityType?, exportType?,
 * windowDays? }`, or an incremental one with `{ incremental: { startDate?, through? } }`), `/api/runs/activities/<id>` (GET: its status), `/api/runs/activities/<id>/cancel`
 * (POST), `/api/runs/activities/<id>/resume` (POST: the run goes on in a new instance). Reached only after the worker's access check.
 */
export async function handleRuns(request, env, sub) {
  if (!env.ACTIVITIES_WORKFLOW) return json(501, { error: "not_configured", message: "the ACTIVITIES_WORKFLOW binding is not set (see wrangler.toml)" });
  if (sub === "" && request.method === "POST") {
    let params;
    let output;
    try {
      const body = await request.json();
      params = runParams(body);
      output = outputFormat(body.output);
      if (!params.incremental) client(env).activities.plan(params);
    } catch (e) {
      return json(400, { error: "invalid_argument", message: e.message, field: e.field });
    }
    const instance = await env.ACTIVITIES_WORKFLOW.create({ params: { params, output } });
    return json(202, { id: instance.id });
  }
  const m = /^\/([A-Za-z0-9_-]{1,100})(\/cancel|\/resume)?$/.exec(sub);
  if (!m) return json(404, { error: "not_found", message: "no such run route" });
  if (m[2] === "/resume" && request.method === "POST") {
    // A run whose instance is gone or stuck (an errored instance, a local engine restarted under
    // it) goes on in a new instance: same id, same prefix, the same vendor jobs adopted, windows
    // already in R2 not downloaded again.
    const rec = await env.EXPORTS.get(runRecordKey(m[1]));
    if (!rec) return json(404, { error: "not_found", message: `no run ${m[1]}` });
    const record = JSON.parse(await rec.text());
    const { runId, params, startedAt, output, name } = record;
    const instance = await env.ACTIVITIES_WORKFLOW.create({ params: { params, runId, startedAt, output, ...(name ? { name } : {}) } });
    // The status page follows the new instance from now on, before its first step runs.
    await env.EXPORTS.put(runRecordKey(runId), JSON.stringify({ ...record, instance: instance.id }));
    return json(202, { id: instance.id, run: runId });
  }
  // A run's id (the page's Cancel) names the instance carrying it now, a resumed one included.
  const rec = await env.EXPORTS.get(runRecordKey(m[1]));
  const target = rec ? (JSON.parse(await rec.text()).instance ?? m[1]) : m[1];
  // A terminated instance runs no `finally`: its job slots and its incremental lease go back here.
  const onCancel =
    rec && env.VENDOR_LIMITS
      ? async () => {
          const limits = await backstoryLimits(env);
          await limits.releaseAll("backstoryJobs", m[1]);
          await limits.release("activitiesIncremental", m[1]);
        }
      : undefined;
  return instanceRoute(env.ACTIVITIES_WORKFLOW, target, m[2], request.method, json, { onCancel });
}

/**
 * A run instance's own routes, the same for every kind of run: GET its status, POST `/cancel` to
 * terminate it (then `onCancel`); anything else is 405. `binding` is the Workflow binding, `json`
 * the caller's answer.
 */
export async function instanceRoute(binding, id, action, method, json, { onCancel } = {}) {
  let instance;
  try {
    instance = await binding.get(id);
  } catch (_) {
    return json(404, { error: "not_found", message: `no run ${id}` });
  }
  if (action === "/cancel" && method === "POST") {
    await instance.terminate();
    // A terminated instance runs no `finally`: what it held in the credential's Durable Object is
    // given back here, or the next run would wait for the lease to lapse.
    if (onCancel) await onCancel();
    return json(200, { id, status: "terminated" });
  }
  if (!action && method === "GET") return json(200, { id, ...(await instance.status()) });
  return json(405, { error: "method_not_allowed", message: `${method} is not allowed here` });
}

