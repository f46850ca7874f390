// Backstory Raw Activity Data API (`client.activities`, issue 3): export jobs, their states, and
// their data as an async iterator of batches. The core plans windows, keeps within the vendor's
// job limits, fetches fragments in parallel and delivers them in order; this file adds the
// JavaScript idioms (options objects, iterators, errors that say what was delivered).
import { headerColumns, invalidArgument, iterate, jobIdOf, optionsObject, paramsText, requireReady, toExportError, wasm } from "./runtime.js";

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

const CHECKPOINT_VERSION = 1;

/** What a checkpoint must match to be continued: the windows (or the one job) and the output. */
function outputOf(o) {
  return { format: o.format ?? "records", explode: o.explode ?? null };
}

const badCheckpoint = (why) => invalidArgument("checkpoint", why);

/**
 * Checks a checkpoint against the export about to run; returns where to go on from. `windows`:
 * the planned windows (null for one job given by id, `jobId`).
 */
function readCheckpoint(ck, { windows, jobId, output }) {
  if (ck === null || typeof ck !== "object" || Array.isArray(ck)) throw badCheckpoint("must be the object an earlier run gave onCheckpoint");
  if (ck.version !== CHECKPOINT_VERSION || ck.api !== "activities") throw badCheckpoint(`is not an activities checkpoint of version ${CHECKPOINT_VERSION}`);
  const n = windows ? windows.length : 1;
  if (JSON.stringify(ck.windows ?? null) !== JSON.stringify(windows)) throw badCheckpoint("is of an export with other parameters (dates, activity type, export type or window days)");
  if (JSON.stringify(ck.output) !== JSON.stringify(output)) throw badCheckpoint("is of an export with another format or explode");
  if (!Array.isArray(ck.jobs) || ck.jobs.length !== n || ck.jobs.some((j) => j !== null && typeof j !== "string")) throw badCheckpoint("does not list one job per window");
  if (jobId !== undefined && ck.jobs[0] !== jobId) throw badCheckpoint(`is of job ${ck.jobs[0]}, not of job ${jobId}`);
  if (!Number.isSafeInteger(ck.window) || ck.window < 0 || ck.window > n) throw badCheckpoint("names no window of this export");
  const dl = ck.download ?? null;
  if (dl !== null && (typeof dl !== "object" || ck.window >= n || dl.job_id !== ck.jobs[ck.window])) throw badCheckpoint("holds a download of another job");
  if (ck.csvHeader !== null && ck.csvHeader !== undefined && typeof ck.csvHeader !== "string") throw badCheckpoint("holds a CSV header that is not text");
  return { jobs: [...ck.jobs], window: ck.window, download: dl, csvHeader: ck.csvHeader ?? null };
}

/** Adds one core download's summary to the run's. */
function mergeSummary(total, s) {
  if (!total) return { ...s, jobs: [...s.jobs], errors: [...s.errors], lateFields: [...s.lateFields], warnings: [...s.warnings] };
  total.jobs.push(...s.jobs);
  for (const k of ["records", "rows", "bytes", "errorsTotal", "retries"]) total[k] += s[k] ?? 0;
  total.errors.push(...s.errors);
  total.lateFields.push(...s.lateFields);
  total.warnings.push(...s.warnings);
  if (!total.header.length) total.header = s.header;
  return total;
}

/**
 * Runs the core downloads of an export as one async iterator of batches, with checkpoints
 * (issue 18). The windows whose job exists are downloaded by job (`activitiesRows`, the one in
 * progress from its saved place), the rest by one `activitiesExport` with the same window
 * boundaries. `onCheckpoint(checkpoint)` runs once every batch the checkpoint covers has been
 * through the caller's loop; `checkpoint` (an earlier one) continues from there.
 * On failure the error carries `delivered`: how far the data got, so nothing is silently lost.
 */
function stream(core, { windows, params, jobId }, opts) {
  const output = outputOf(opts);
  const n = windows ? windows.length : 1;
  const st = opts.checkpoint !== undefined && opts.checkpoint !== null
    ? readCheckpoint(opts.checkpoint, { windows, jobId, output })
    : { jobs: windows ? windows.map(() => null) : [jobId], window: 0, download: null, csvHeader: null };
  const onCheckpoint = opts.onCheckpoint;
  if (onCheckpoint !== undefined && typeof onCheckpoint !== "function") throw invalidArgument("onCheckpoint", "must be a function");
  const delivered = { records: 0, rows: 0, bytes: 0, jobId: null, window: null, fragment: null };
  return iterate(async (push, signal, mark) => {
    const save = () => {
      if (!onCheckpoint) return;
      const ck = { version: CHECKPOINT_VERSION, api: "activities", windows, output, jobs: [...st.jobs], window: st.window, download: st.download, csvHeader: st.csvHeader };
      mark(() => onCheckpoint(ck));
    };
    let summary = null;
    // One core download; `base`: the window of its first batch.
    const one = async (call, base) => {
      let first = true;
      // Thrown from onBatch, which the core reports as that callback's failure: this error says more.
      let mismatch = null;
      const out = await call({
        ...coreOptions(opts),
        // The header already delivered: the rest is written under the same columns.
        csvColumns: output.format === "csv" && st.csvHeader !== null ? headerColumns(st.csvHeader, opts.csvGuard !== false) : undefined,
        signal,
        onProgress: opts.onProgress,
        onJob: (job, w) => {
          const k = base + (w ?? 0);
          if (k < n && st.jobs[k] !== job.jobId) {
            st.jobs[k] = job.jobId;
            save();
          }
          opts.onJob?.(job, k);
        },
        // Only asked for when the caller takes checkpoints (one per chunk delivered).
        onCheckpoint: onCheckpoint && ((text) => {
          const cp = JSON.parse(text);
          const k = st.jobs.indexOf(cp.job_id, base);
          if (k < 0) return;
          st.window = k;
          st.download = cp;
          save();
        }),
        onBatch: (b) => {
          const batch = batchOf(b);
          batch.window = base + (batch.window ?? 0);
          if (batch.kind === "csv" && first) {
            first = false;
            // Each core download starts its CSV with the header; the run has one.
            const nl = batch.csv.indexOf("\n");
            const header = nl < 0 ? batch.csv : batch.csv.slice(0, nl + 1);
            if (st.csvHeader === null) st.csvHeader = header;
            else {
              if (header !== st.csvHeader) {
                mismatch = badCheckpoint(`job ${batch.jobId} gives other CSV columns than those already written; start the export again`);
                throw mismatch;
              }
              batch.csv = batch.csv.slice(header.length);
              if (!batch.csv) return undefined;
            }
          }
          if (batch.kind === "records") delivered.records += batch.records.length;
          else if (batch.kind === "csv") delivered.rows += batch.rows;
          else delivered.bytes += batch.bytes.length;
          delivered.jobId = batch.jobId;
          delivered.window = batch.window;
          delivered.fragment = batch.fragment;
          return push(batch);
        },
      }).catch((e) => {
        throw mismatch ?? e;
      });
      summary = mergeSummary(summary, out);
    };
    try {
      let i = st.window;
      // Windows whose job exists: that job's data (it is never created again).
      for (; i < n && st.jobs[i]; i++) {
        const resumeAt = st.window === i && st.download ? JSON.stringify(st.download) : undefined;
        await one((o) => core.activitiesRows(st.jobs[i], { ...o, checkpoint: resumeAt }), i);
        st.window = i + 1;
        st.download = null;
        save();
      }
      // The rest: one export of the windows left, with the same window boundaries.
      if (i < n) {
        const rest = restParams(params, windows, i);
        await one((o) => core.activitiesExport(rest, o), i);
        st.window = n;
        st.download = null;
        save();
      }
      // A checkpoint taken after the last window: nothing was left to deliver.
      return summary ?? { jobs: [], records: 0, rows: 0, bytes: 0, errors: [], errorsTotal: 0, retries: 0, header: [], lateFields: [], warnings: [] };
    } catch (e) {
      const err = toExportError(e);
      err.delivered = { ...delivered };
      throw err;
    }
  }, opts.signal);
}

/** The export's parameters for its windows from `i` on: the same boundaries, from a later start. */
function restParams(params, windows, i) {
  const p = JSON.parse(params);
  if (i === 0) return params;
  delete p.start_date;
  p.startDate = windows[i].startDate;
  const text = JSON.stringify(p);
  const planned = wasm.BackstoryCore.planActivityExport(text);
  if (JSON.stringify(planned) !== JSON.stringify(windows.slice(i))) {
    throw new Error(`internal: the export from window ${i} plans other windows`);
  }
  return text;
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
    return stream(this.#core, { windows: null, params: null, jobId: id }, o);
  }

  /**
   * Everything in one call: plans windows for a long range, runs their jobs within the vendor's
   * limits (at most 10 queued, 2 running), and yields every window's data in date order, as
   * `rows()` does. Throws at once on bad parameters.
   */
  export(params, opts = {}) {
    const o = optionsObject(opts);
    const text = paramsText(params);
    const windows = this.plan(text);
    return stream(this.#core, { windows, params: text, jobId: undefined }, o);
  }
}
