// Backstory Raw Activity Data API (`client.activities`, issue 3): export jobs, their states, and
// their data as an async iterator of batches. The core plans windows, keeps within the vendor's
// job limits, fetches fragments in parallel and delivers them in order; this file adds the
// JavaScript idioms (options objects, iterators, errors that say what was delivered).
import { iterate, jobIdOf, optionsObject, paramsText, requireReady, toExportError, wasm } from "./runtime.js";

/** The options the core reads (anything else the caller passed stays out of wasm). */
function coreOptions(opts) {
  const out = {};
  for (const k of ["format", "explode", "csvGuard", "concurrency", "readAheadBytes", "batchRecords", "strict", "maxLineBytes", "stallTimeoutMs", "pollIntervalMs", "pollMaxMs", "pollMs", "maxPollMs", "timeoutMs", "maxActiveJobs", "parts"]) {
    if (opts[k] !== undefined) out[k] = opts[k];
  }
  return out;
}

/** A core batch as the iterator yields it: records parsed once, CSV text, or raw bytes. */
function batchOf(b) {
  const where = { jobId: b.jobId, window: b.window, fragment: b.fragment };
  if (b.kind === "records") return { kind: "records", records: JSON.parse(b.text), firstLine: b.firstLine, ...where };
  if (b.kind === "csv") return { kind: "csv", csv: b.text, rows: b.rows, ...where };
  return { kind: "jsonl", bytes: b.bytes, ...where };
}

/**
 * Runs a core download (`activitiesRows` or `activitiesExport`) as an async iterator of batches.
 * On failure the error carries `delivered`: how far the data got, so nothing is silently lost.
 */
function stream(run, opts) {
  const delivered = { records: 0, rows: 0, bytes: 0, jobId: null, window: null, fragment: null };
  return iterate(async (push, signal) => {
    try {
      return await run({
        ...coreOptions(opts),
        signal,
        onProgress: opts.onProgress,
        onJob: opts.onJob,
        onBatch: (b) => {
          const batch = batchOf(b);
          if (batch.kind === "records") delivered.records += batch.records.length;
          else if (batch.kind === "csv") delivered.rows += batch.rows;
          else delivered.bytes += batch.bytes.length;
          delivered.jobId = batch.jobId;
          delivered.window = batch.window;
          delivered.fragment = batch.fragment;
          return push(batch);
        },
      });
    } catch (e) {
      const err = toExportError(e);
      err.delivered = { ...delivered };
      throw err;
    }
  }, opts.signal);
}

export class ActivitiesApi {
  #core;

  constructor(core) {
    this.#core = core;
  }

  /**
   * Checks export parameters (throws an ExportError naming the field, before any call) and returns
   * the jobs the export will run: `[{ startDate, endDate, activityType, exportType }]`. A delta
   * range longer than 14 days becomes consecutive windows of at most 14 days.
   */
  plan(params) {
    requireReady();
    return wasm.BackstoryCore.planActivityExport(paramsText(params));
  }

  /** The CSV columns an export starts with (`explode: "participants"` for one row per participant). */
  columns({ explode } = {}) {
    requireReady();
    return wasm.BackstoryCore.activityColumns(explode ?? undefined);
  }

  /**
   * Starts one export job: `{ startDate, endDate, activityType?: "all"|"email"|"meeting"|"call",
   * exportType?: "delta"|"snapshot" }` (delta at most 14 days, snapshot at most a year).
   */
  async start(params, opts = {}) {
    const o = optionsObject(opts);
    const text = paramsText(params);
    requireReady();
    wasm.BackstoryCore.validateActivityJob(text);
    return this.#core.activitiesStart(text, { signal: o.signal });
  }

  async get(job, opts = {}) {
    const o = optionsObject(opts);
    const id = jobIdOf(job);
    requireReady();
    return this.#core.activitiesGet(id, { signal: o.signal });
  }

  /** The jobs created in the past 10 days. */
  async list(opts = {}) {
    const o = optionsObject(opts);
    requireReady();
    return this.#core.activitiesList({ signal: o.signal });
  }

  /**
   * Polls a job with backoff until it ends; resolves to the Completed job, rejects with
   * `E_JOB_FAILED` (and `jobId`, `state`) for Failed or Canceled. `onProgress({ phase: "waiting",
   * job })` on each state seen.
   */
  async wait(job, opts = {}) {
    const o = optionsObject(opts);
    const id = jobIdOf(job);
    requireReady();
    return this.#core.activitiesWait(id, {
      ...coreOptions(o),
      signal: o.signal,
      onJob: (j) => {
        o.onProgress?.({ phase: j.state === "Completed" ? "done" : "waiting", job: j });
        o.onJob?.(j);
      },
    });
  }

  /**
   * How many data requests a Completed job's download plans: the units of `rows()`'s
   * `parts: [from, to]`, which reads only those (one piece of a job spread over many invocations,
   * in order when the pieces are put together; the job's `resultsSize` is then the caller's to
   * check against the pieces' bytes).
   */
  dataParts(job) {
    requireReady();
    const n = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    return wasm.BackstoryCore.activityDataParts(n(job?.fragmentCount), n(job?.resultsSize));
  }

  /**
   * A job's data as an async iterator of batches, in order of fragment then line, each record
   * exactly once. Waits for the job first if it has not ended. `format`: "records" (default:
   * `{ records }`), "csv" (`{ csv, rows }`, the header in the first batch; `explode:
   * "participants"` for one row per participant; cells a spreadsheet would run as formulas get a
   * leading apostrophe unless `csvGuard: false`) or "jsonl" (`{ bytes }` as they came).
   * `iterator.result()` resolves to the summary `{ jobs, records, rows, bytes, errors, header,
   * lateFields, retries, warnings }`.
   */
  rows(job, opts = {}) {
    const o = optionsObject(opts);
    const id = jobIdOf(job);
    requireReady();
    return stream((coreOpts) => this.#core.activitiesRows(id, coreOpts), o);
  }

  /**
   * Everything in one call: plans windows for a long range, runs their jobs within the vendor's
   * limits (at most 10 queued, 2 running), and yields every window's data in date order, as
   * `rows()` does. Throws at once on bad parameters.
   */
  export(params, opts = {}) {
    const o = optionsObject(opts);
    const text = paramsText(params);
    this.plan(text);
    return stream((coreOpts) => this.#core.activitiesExport(text, coreOpts), o);
  }
}
