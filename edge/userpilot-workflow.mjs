// Durable Userpilot event exports at the edge (issue 18): one Workflow instance per run, the
// Bulk Data Export job started, waited for and downloaded in durable steps, one export at a time
// per key (the credential's VendorLimits object), events written once (deduplicated by
// internal_event_id across the job's files and across runs, seen-events.mjs) into an R2 multipart
// upload, with a manifest.
//
// R2 layout:
//   exports/userpilot/day=<UTC day the run started>/run=<run id>/events_<from>_<to>.<ext>  (jsonl|csv[.gz])
//   exports/userpilot/day=<...>/run=<run id>/manifest.json
// Incremental runs (`{ incremental: { startDate?, through? } }`) export the days after the
// "userpilot" watermark, which the manifest step moves by compare and set.

import { NonRetryableError } from "cloudflare:workflows";
import { WorkflowEntrypoint } from "cloudflare:workers";
import { UserpilotClient } from "../js/index.js";
import { readConfig } from "./config.mjs";
import { userpilotLimits } from "./limits.mjs";
import { extension, ObjectSink, outputFormat, RecordsEncoder } from "./formats.mjs";
import { SeenEvents } from "./seen-events.mjs";
import { failureKey, incrementalParams, instanceRoute, json, waitForJob } from "./workflows.mjs";

export const USERPILOT_PREFIX = "exports/userpilot";
/** A run's record for the status page (GET /api/runs), beside the activity runs' own. */
export const userpilotRunRecordKey = (runId) => `${USERPILOT_PREFIX}/_runs/${runId}.json`;
const dayCount = (from, to) => Math.max(0, Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1);
const WATERMARK = "userpilot";
const DAY_MS = 86_400_000;
const nextDay = (day) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
const VENDOR_STEP = { retries: { limit: 5, delay: "2 seconds", backoff: "exponential" }, timeout: "30 minutes" };

function client(env) {
  const cfg = readConfig(env);
  return new UserpilotClient({ baseUrl: cfg.userpilotBase, apiKey: env.USERPILOT_API_KEY });
}

/** `{ from, to, eventType? }` or `{ incremental: { startDate?, through? } }`. */
export function userpilotRunParams(body) {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new TypeError("the body must be a JSON object");
  if (body.incremental !== undefined) return { incremental: incrementalParams(body.incremental) };
  const out = { from: body.from, to: body.to };
  if (body.eventType !== undefined) out.eventType = body.eventType;
  for (const k of ["from", "to"]) if (typeof out[k] !== "string") throw new TypeError(`${k} (YYYY-MM-DD) is required`);
  return out;
}

/** The run an instance carries: its own, or the one it resumes (same id, start time, prefix). */
function runOf(event) {
  return { runId: event.payload.runId ?? event.instanceId, startedAt: event.payload.startedAt ?? new Date(event.timestamp).toISOString() };
}

export class UserpilotExport extends WorkflowEntrypoint {
  async run(event, step) {
    // What the run has planned and the vendor job it holds, for a manifest if it fails.
    const ctx = { planned: null, jobId: null };
    try {
      return await this.exportRun(event, step, ctx);
    } catch (e) {
      // The step's own message for the status page: the engine reports only a fatal error.
      const { runId, startedAt } = runOf(event);
      const prefix = `${USERPILOT_PREFIX}/day=${startedAt.slice(0, 10)}/run=${runId}`;
      const failure = { instance: event.instanceId, name: String(e?.name ?? "Error"), message: String(e?.message ?? e).slice(0, 2000), at: new Date().toISOString() };
      await this.env.EXPORTS.put(failureKey(prefix), JSON.stringify(failure)).catch(() => {});
      await this.#failedManifest(event, { runId, startedAt, prefix, ctx, failure }).catch(() => {});
      throw e;
    }
  }

  /**
   * A failed run's manifest: the download step's object if its step file exists (written only
   * once the object is complete in R2), else none; the watermark not moved (before = after). A
   * later /resume of the run writes the complete manifest over it.
   */
  async #failedManifest(event, { runId, startedAt, prefix, ctx, failure }) {
    const output = outputFormat(event.payload.output);
    const objects = [];
    const done = await this.env.EXPORTS.get(`${prefix}/_steps/download.json`);
    if (done) {
      const { days: _days, ...d } = JSON.parse(await done.text());
      const head = await this.env.EXPORTS.head(d.key);
      if (head && head.size === d.bytes) objects.push(d);
    }
    const before = ctx.planned?.watermark ? ctx.planned.watermark.before : null;
    const manifest = {
      run: runId,
      instance: event.instanceId,
      api: "userpilot",
      ...(event.payload.name ? { name: event.payload.name } : {}),
      params: ctx.planned?.params ?? event.payload.params,
      output: { ...output, extension: extension(output) },
      startedAt,
      finishedAt: new Date().toISOString(),
      state: "failed",
      failure: { name: failure.name, message: failure.message },
      watermark: { before, after: before },
      objects,
      rows: objects.reduce((a, o) => a + o.records, 0),
      duplicatesDropped: objects.reduce((a, o) => a + o.duplicates, 0),
      deliveredBefore: objects.reduce((a, o) => a + (o.seenBefore ?? 0), 0),
      bytes: objects.reduce((a, o) => a + o.bytes, 0),
      vendorJobs: [...new Set([...(ctx.jobId ? [ctx.jobId] : []), ...objects.map((o) => o.jobId)])],
    };
    await this.env.EXPORTS.put(`${prefix}/manifest.json`, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
  }

  async exportRun(event, step, ctx = { planned: null, jobId: null }) {
    const { runId, startedAt } = runOf(event);
    const prefix = `${USERPILOT_PREFIX}/day=${startedAt.slice(0, 10)}/run=${runId}`;
    // JSON Lines unless the run asked for CSV and/or gzip (formats.mjs).
    const output = outputFormat(event.payload.output);
    // The credential's limits object: one Userpilot export at a time, and the watermark.
    const limits = () => userpilotLimits(this.env);

    const planned = await step.do("plan", async () => {
      const p = event.payload.params;
      const record = (more) => this.env.EXPORTS.put(userpilotRunRecordKey(runId), JSON.stringify({ runId, api: "userpilot", params: p, output, ...(event.payload.name ? { name: event.payload.name } : {}), startedAt, prefix, instance: event.instanceId, ...more }));
      await record({});
      if (!p.incremental) {
        await record({ days: dayCount(p.from, p.to) });
        return { params: { ...p, format: "json" }, watermark: null };
      }
      const before = await (await limits()).watermark(WATERMARK);
      const from = before ? nextDay(before) : p.incremental.startDate;
      if (!from) throw new NonRetryableError("the first incremental run needs incremental.startDate");
      if (from > p.incremental.through) {
        await record({ days: 0, watermark: { before, after: before } });
        return { params: null, watermark: { before, after: before } };
      }
      await record({ days: dayCount(from, p.incremental.through), watermark: { before, after: p.incremental.through } });
      return { params: { from, to: p.incremental.through, format: "json" }, watermark: { before, after: p.incremental.through } };
    });
    ctx.planned = planned;
    const objects = [];
    if (planned.params) {
      for (let n = 0; ; n++) {
        const { granted } = await step.do(`export slot ${n}`, async () => (await limits()).acquire("userpilotExports", runId));
        if (granted) break;
        await step.sleep(`wait for the export slot ${n}`, Math.min(60_000, (Number(this.env.RUN_SLOT_WAIT_MS) || 5000) * 2 ** Math.min(n, 4)));
      }
      let jobId;
      // The slot is held through the download: two runs over the same days then check their
      // events against each other's in turn (seen-events.mjs), never at the same time.
      try {
        ({ jobId } = await step.do("start job", VENDOR_STEP, async () => {
          const up = client(this.env);
          const l = await limits();
          // A job started since this run took the key's only export slot, claimed by no other
          // run, is the one an earlier attempt started and lost the answer to.
          const since = Date.parse(startedAt) - 60_000;
          for (const j of await up.exports.list()) {
            // A job that ended failed is not adopted: its run would only fail again on it.
            if (j.status === "failed") continue;
            if (Date.parse(j.startTime ?? "") >= since && (await l.claimJob(`userpilot:${j.jobId}`, runId))) return { jobId: j.jobId, adopted: true };
          }
          try {
            const job = await up.exports.start(planned.params);
            await l.claimJob(`userpilot:${job.jobId}`, runId);
            return { jobId: job.jobId, adopted: false };
          } catch (e) {
            // 409: an export is running; ours if nobody else claimed it.
            if (e.code === "E_CONFLICT" && e.jobId && (await l.claimJob(`userpilot:${e.jobId}`, runId))) return { jobId: e.jobId, adopted: true };
            throw e;
          }
        }));
        ctx.jobId = jobId;
        await step.do("wait for job", VENDOR_STEP, async () => {
          const j = await waitForJob(client(this.env).exports, jobId, this.env);
          return { jobId: j.jobId, files: j.presignedUrls.length };
        });
        const key = `${prefix}/events_${planned.params.from}_${planned.params.to}${extension(output)}`;
        const doneKey = `${prefix}/_steps/download.json`;
        objects.push(
          await step.do("download", VENDOR_STEP, async () => {
            // Written by an earlier instance of this run (POST .../resume): not downloaded again.
            const done = await this.env.EXPORTS.get(doneKey);
            if (done) {
              const { days: _days, ...d } = JSON.parse(await done.text());
              if (d.jobId === jobId) return d;
            }
            const sink = await ObjectSink.create(this.env.EXPORTS, key, output);
            // CSV: the events flattened by the project's JSON Lines to CSV writer (metadata.* columns).
            const enc = new RecordsEncoder(output, { csvGuard: readConfig(this.env).csvGuard });
            const seen = new SeenEvents(this.env.EXPORTS, runId);
            let records = 0;
            try {
              // The job's links are asked for again here: a link that expired since the wait step
              // is not used. Repeats are dropped here, across files and runs, by a hash of the id.
              const it = client(this.env).exports.rows(jobId, { dedupe: false });
              for await (const b of it) {
                const kept = [];
                for (const r of b.records) if (await seen.keep(r)) kept.push(r);
                records += kept.length;
                if (kept.length) await sink.write(enc.encode(kept));
              }
              const summary = await it.result();
              await sink.write(enc.end());
              const stored = await sink.finish();
              // Only now that they are in R2 do this run's events count as delivered for later runs.
              const eventDays = await seen.save();
              const result = { key, jobId, records, duplicates: seen.duplicates, seenBefore: seen.seenBefore, eventDays, files: summary.files.length, bytes: stored.bytes, sha256: stored.sha256, parts: stored.parts.length };
              // The status page counts the days done, records and bytes from this step file.
              await this.env.EXPORTS.put(doneKey, JSON.stringify({ ...result, days: dayCount(planned.params.from, planned.params.to) }));
              return result;
            } catch (e) {
              await sink.abort();
              throw e;
            } finally {
              enc.free();
            }
          }),
        );
      } finally {
        await step.do("release export slot", async () => (await limits()).release("userpilotExports", runId));
      }
    }
    return await step.do("manifest", async () => {
      let state = "complete";
      if (planned.watermark && planned.watermark.after !== planned.watermark.before) {
        const moved = await (await limits()).advanceWatermark(WATERMARK, planned.watermark.before, planned.watermark.after);
        if (!moved.advanced && moved.watermark !== planned.watermark.after) state = "superseded";
      }
      const manifest = {
        run: runId,
        api: "userpilot",
        ...(event.payload.name ? { name: event.payload.name } : {}),
        params: planned.params ?? event.payload.params,
        output: { ...output, extension: extension(output) },
        startedAt,
        finishedAt: new Date().toISOString(),
        state,
        watermark: planned.watermark ?? { before: null, after: planned.params.to, from: planned.params.from },
        objects,
        rows: objects.reduce((a, o) => a + o.records, 0),
        duplicatesDropped: objects.reduce((a, o) => a + o.duplicates, 0),
        // Lines of events an earlier run already wrote (an overlapping range, a re-run), dropped.
        deliveredBefore: objects.reduce((a, o) => a + (o.seenBefore ?? 0), 0),
        bytes: objects.reduce((a, o) => a + o.bytes, 0),
        vendorJobs: objects.map((o) => o.jobId),
      };
      const key = `${prefix}/manifest.json`;
      await this.env.EXPORTS.put(key, JSON.stringify(manifest, null, 2), { httpMetadata: { contentType: "application/json" } });
      return { manifest: key, rows: manifest.rows };
    });
  }
}

/**
 * `/api/runs/userpilot` (POST), `/api/runs/userpilot/<id>` (GET), `.../<id>/cancel` (POST),
 * `.../<id>/resume` (POST: the run goes on in a new instance, `<run id>-r<n>`, with the same run
 * id and prefix; its job is adopted and a download already in R2 is not done again).
 */
export async function handleUserpilotRuns(request, env, sub) {
  if (!env.USERPILOT_WORKFLOW) return json(501, { error: "not_configured", message: "the USERPILOT_WORKFLOW binding is not set (see wrangler.toml)" });
  if (sub === "" && request.method === "POST") {
    let params;
    let output;
    try {
      const body = await request.json();
      params = userpilotRunParams(body);
      output = outputFormat(body.output);
      if (!params.incremental) client(env).exports.validate({ ...params, format: "json" });
    } catch (e) {
      return json(400, { error: "invalid_argument", message: e.message, field: e.field });
    }
    const instance = await env.USERPILOT_WORKFLOW.create({ params: { params, output } });
    return json(202, { id: instance.id });
  }
  const m = /^\/([A-Za-z0-9_-]{1,100})(\/cancel|\/resume)?$/.exec(sub);
  if (!m) return json(404, { error: "not_found", message: "no such run route" });
  // A resumed run's instance is `<run id>-r<n>`: the run (and the holder of its slot) is the prefix.
  const runId = m[1].replace(/-r\d+$/, "");
  if (m[2] === "/resume" && request.method === "POST") {
    const rec = await env.EXPORTS.get(userpilotRunRecordKey(runId));
    if (!rec) return json(404, { error: "not_found", message: `no run ${runId}` });
    const record = JSON.parse(await rec.text());
    const id = `${record.runId}-r${Date.now()}`;
    const instance = await env.USERPILOT_WORKFLOW.create({ id, params: { params: record.params, output: record.output, ...(record.name ? { name: record.name } : {}), runId: record.runId, startedAt: record.startedAt } });
    // The status page follows the new instance from now on, before its first step runs.
    await env.EXPORTS.put(userpilotRunRecordKey(record.runId), JSON.stringify({ ...record, instance: instance.id }));
    return json(202, { id: instance.id, run: record.runId });
  }
  // The run's id (the page's Cancel) names the instance carrying it now, a resumed one included.
  let target = m[1];
  if (target === runId) {
    const rec = await env.EXPORTS.get(userpilotRunRecordKey(runId));
    if (rec) target = JSON.parse(await rec.text()).instance ?? target;
  }
  // The key's one export slot is the run's (holder: its id); a cancelled run gives it back.
  const onCancel = env.VENDOR_LIMITS ? async () => (await userpilotLimits(env)).release("userpilotExports", runId) : undefined;
  return instanceRoute(env.USERPILOT_WORKFLOW, target, m[2], request.method, json, { onCancel });
}
