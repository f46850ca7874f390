// Backstory Raw Activity Data API: bulk export jobs under /pull/v1/export/activities/jobs.
// Jobs really do their work while Running: the sandbox walks the job's records to fix fragment
// boundaries and exact byte sizes, so `results_size` and each fragment's Content-Length are true.

import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { ActivityTimeline } from "./data/activities.mjs";
import { DAY_MS, parseDay } from "./data/common.mjs";
import { backstoryError, CORS_HEADERS, HttpError, parseJsonBody, readBody, sendJson, writeInChunks, writeRespecting } from "./http.mjs";
import { Rng, hash32 } from "./prng.mjs";
import { malformLine } from "./faults.mjs";

export const MAX_RUNNING = 2;
export const MAX_QUEUED = 10; // inclusive of running jobs
export const RETENTION_DAYS = 10;
export const MAX_DELTA_DAYS = 14;
const ACTIVITY_TYPES = ["all", "email", "meeting", "call"];
const EXPORT_TYPES = ["delta", "snapshot"];
const OUTPUT_FORMAT = "JSONLines";
const NDJSON = "application/x-ndjson; charset=utf-8";

const bad = (message, field) => backstoryError(400, "invalid_request", message, field);

function fmtTime(ms, how = "z") {
  if (ms === null) return null;
  const iso = new Date(ms).toISOString();
  // readings.jobTimes: the documented `yyyy-MM-ddTHH:mm:ssZ`, no zone, or microseconds.
  if (how === "no_zone") return iso.replace(/\.\d{3}Z$/, "");
  if (how === "micro") return iso.replace(/Z$/, "000Z");
  return iso.replace(/\.\d{3}Z$/, "Z");
}

/** What `results_size` says under readings.resultsSize, or undefined to leave the field out. */
function announcedSize(bytes, how) {
  switch (how) {
    case "no_final_newline": return Math.max(0, bytes - 1);
    // As if it counted compressed bytes: JSON Lines of this kind compress to about a third.
    case "compressed": return Math.floor(bytes / 3);
    case "null": return null;
    case "absent": return undefined;
    case "zero": return 0;
    // More than is there: the export is short, an error under every reading.
    case "over": return bytes + 1000;
    default: return bytes;
  }
}

/** Validates job parameters as the vendor does; returns normalised params and the day range. */
export function validateJobParams(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw bad("request body must be a JSON object", "body");
  const p = {};
  for (const f of ["start_date", "end_date"]) {
    if (body[f] === undefined || body[f] === null) throw bad(`${f} is required (yyyy-MM-dd)`, f);
    if (parseDay(body[f]) === null) throw bad(`${f} must be a date in yyyy-MM-dd format, got ${JSON.stringify(body[f])}`, f);
    p[f] = body[f];
  }
  const startDay = parseDay(p.start_date);
  const endDay = parseDay(p.end_date);
  if (endDay < startDay) throw bad("end_date must not be before start_date", "end_date");
  p.activity_type = body.activity_type ?? "all";
  if (!ACTIVITY_TYPES.includes(p.activity_type)) throw bad(`activity_type must be one of ${ACTIVITY_TYPES.join(", ")}`, "activity_type");
  const fmt = body.output_format ?? OUTPUT_FORMAT;
  if (typeof fmt !== "string" || fmt.toLowerCase() !== OUTPUT_FORMAT.toLowerCase()) throw bad(`output_format must be "${OUTPUT_FORMAT}"`, "output_format");
  p.output_format = OUTPUT_FORMAT;
  p.export_type = body.export_type ?? "delta";
  if (!EXPORT_TYPES.includes(p.export_type)) throw bad(`export_type must be one of ${EXPORT_TYPES.join(", ")}`, "export_type");
  const days = endDay - startDay + 1;
  if (p.export_type === "delta" && days > MAX_DELTA_DAYS) {
    throw bad(`delta exports cover at most ${MAX_DELTA_DAYS} days (start_date..end_date inclusive); this range has ${days}`, "end_date");
  }
  if (p.export_type === "snapshot") {
    // At most one year: end_date must fall before the same calendar day a year after start_date.
    const s = new Date(startDay * DAY_MS);
    const limit = Date.UTC(s.getUTCFullYear() + 1, s.getUTCMonth(), s.getUTCDate()) / DAY_MS;
    if (endDay >= limit) throw bad(`snapshot exports cover at most 1 year (end_date must be before ${new Date(limit * DAY_MS).toISOString().slice(0, 10)})`, "end_date");
  }
  return { params: p, startDay, endDay };
}

export class ActivitiesApi {
  constructor(sandbox) {
    this.sb = sandbox;
    this.jobs = new Map();
    // The sandbox's own record of how close callers came to the limits (GET /__sandbox/state
    // `activityLimits`): the most jobs ever active and running at once, and creations refused.
    this.limits = { peakActive: 0, peakRunning: 0, refused: 0 };
    this.timelineKey = null;
    this.responses = 0;
  }

  get timeline() {
    const c = this.sb.config;
    const key = `${c.seed}|${c.activities}|${c.users}|${c.accounts}`;
    if (this.timelineKey !== key) {
      this._timeline = new ActivityTimeline({ seed: Number(c.seed), perYear: Number(c.activities), queryData: this.sb.queryData });
      this.timelineKey = key;
    }
    return this._timeline;
  }

  reset() {
    for (const j of this.jobs.values()) j.stopped = true;
    this.jobs.clear();
    this.limits = { peakActive: 0, peakRunning: 0, refused: 0 };
  }

  stop() {
    this.reset();
  }

  summary() {
    const out = { Queued: 0, Running: 0, Completed: 0, Failed: 0, Canceled: 0 };
    for (const j of this.jobs.values()) out[j.state]++;
    return out;
  }

  speed() {
    const s = Number(this.sb.config.jobSpeed);
    return s > 0 ? s : 1;
  }

  view(job) {
    const done = job.state === "Completed";
    const r = this.sb.config.readings;
    // readings.stateCase: the state as in the document's table ("Completed"), lower or upper case;
    // "upper" also capitalises the echoed export_type and activity_type ("Delta", "All").
    const state = r.stateCase === "lower" ? job.state.toLowerCase() : r.stateCase === "upper" ? job.state.toUpperCase() : job.state;
    const echo = (x) => (r.stateCase === "upper" ? x[0].toUpperCase() + x.slice(1) : x);
    const t = (ms) => fmtTime(ms, r.jobTimes);
    // readings.fragmentNumbering: "count" (0..fragment-1), "index" (the highest index,
    // 0..fragment; a job with no records says 0 and its fragment 0 is empty), "absent" (no field).
    const n = job.fragments.length;
    const fragment = !done ? null : r.fragmentNumbering === "index" ? Math.max(0, n - 1) : n;
    const view = {
      job_id: job.id,
      state,
      export_type: echo(job.params.export_type),
      output_format: job.params.output_format,
      activity_type: echo(job.params.activity_type),
      start_date: job.params.start_date,
      end_date: job.params.end_date,
      job_created_time: t(job.createdMs),
      job_start_time: t(job.startedMs),
      job_end_time: t(job.endedMs),
      results_size: done ? announcedSize(job.totalBytes, r.resultsSize) : null,
      fragment,
    };
    if (view.results_size === undefined) delete view.results_size;
    if (r.fragmentNumbering === "absent") delete view.fragment;
    return view;
  }

  // -------------------------------------------------------------------------------------------
  // Scheduling: at most MAX_RUNNING jobs Running; the rest wait Queued in creation order.

  pump() {
    const nowReal = Date.now();
    let running = 0;
    for (const j of this.jobs.values()) if (j.state === "Running") running++;
    for (const j of this.jobs.values()) {
      if (running >= MAX_RUNNING) break;
      if (j.state !== "Queued") continue;
      if (j.readyAtReal > nowReal) {
        this.sb.setTimer(() => this.pump(), j.readyAtReal - nowReal);
        break; // keep creation order: later jobs do not overtake this one
      }
      this.start(j);
      running++;
    }
  }

  start(job) {
    this.initRun(job);
    this.work(job);
  }

  initRun(job) {
    job.state = "Running";
    let running = 0;
    for (const j of this.jobs.values()) if (j.state === "Running") running++;
    this.limits.peakRunning = Math.max(this.limits.peakRunning, running);
    job.startedMs = this.sb.now();
    job.startedReal = Date.now();
    job.minEndReal = job.startedReal + (2000 + (job.hi - job.lo) / 50) / this.speed();
    job.cursor = job.lo;
    job.fragLo = job.lo;
    job.fragCount = 0;
    job.fragBytes = 0;
    job.fragments = [];
    job.totalBytes = 0;
    job.records = 0;
  }

  scanKey(job) {
    return `${this.timelineKey}|${job.params.activity_type}|${job.lo}|${job.hi}|${Math.max(1, Number(this.sb.config.fragmentRecords) || 1000)}`;
  }

  /** Remembers a finished scan: a repeated export of the same range then skips the walk (not the minimum run time). */
  rememberScan(job) {
    this.scanCache ??= new Map();
    this.scanCache.set(this.scanKey(job), { fragments: job.fragments, totalBytes: job.totalBytes, records: job.records });
    if (this.scanCache.size > 32) this.scanCache.delete(this.scanCache.keys().next().value);
  }

  /** One time-boxed slice of the job's real work; reschedules itself so the server stays responsive. */
  work(job) {
    if (job.stopped || job.state !== "Running") return;
    const tl = this.timeline;
    const per = Math.max(1, Number(this.sb.config.fragmentRecords) || 1000);
    const type = job.params.activity_type;
    const cached = job.cursor === job.lo ? this.scanCache?.get(this.scanKey(job)) : null;
    if (cached) {
      Object.assign(job, { fragments: cached.fragments, totalBytes: cached.totalBytes, records: cached.records, cursor: job.hi, fragCount: 0 });
    }
    const deadline = Date.now() + 15;
    let i = job.cursor;
    while (i < job.hi) {
      if (tl.matches(i, type)) {
        job.fragBytes += Buffer.byteLength(tl.line(i));
        job.fragCount++;
        if (job.fragCount === per) {
          job.fragments.push({ lo: job.fragLo, hi: i + 1, records: job.fragCount, bytes: job.fragBytes });
          job.totalBytes += job.fragBytes;
          job.records += job.fragCount;
          job.fragLo = i + 1;
          job.fragCount = 0;
          job.fragBytes = 0;
        }
      }
      i++;
      if ((i & 255) === 0 && Date.now() > deadline) break;
    }
    job.cursor = i;
    if (i < job.hi) {
      this.sb.setTimer(() => this.work(job), 0);
      return;
    }
    if (job.fragCount > 0) {
      job.fragments.push({ lo: job.fragLo, hi: job.hi, records: job.fragCount, bytes: job.fragBytes });
      job.totalBytes += job.fragBytes;
      job.records += job.fragCount;
      job.fragCount = 0;
    }
    job.scanned = true;
    if (!cached) this.rememberScan(job);
    const wait = job.minEndReal - Date.now();
    if (wait > 0) this.sb.setTimer(() => this.finish(job, "Completed"), wait);
    else this.finish(job, "Completed");
  }

  finish(job, state) {
    if (job.state !== "Running" && job.state !== "Queued") return;
    // A fault-injected fate replaces natural completion (forced completion from control still wins).
    if (state === "Completed" && job.fate && !job.forced) state = job.fate;
    if (state === "Completed" && !job.scanned) {
      // Forced completion: finish the scan now so sizes stay exact.
      if (job.state === "Queued") this.initRun(job);
      this.workSync(job);
    }
    job.state = state;
    job.endedMs = this.sb.now();
    if (state !== "Completed") job.stopped = true;
    this.pump();
  }

  workSync(job) {
    const tl = this.timeline;
    const per = Math.max(1, Number(this.sb.config.fragmentRecords) || 1000);
    const type = job.params.activity_type;
    for (let i = job.cursor; i < job.hi; i++) {
      if (!tl.matches(i, type)) continue;
      job.fragBytes += Buffer.byteLength(tl.line(i));
      job.fragCount++;
      if (job.fragCount === per) {
        job.fragments.push({ lo: job.fragLo, hi: i + 1, records: job.fragCount, bytes: job.fragBytes });
        job.totalBytes += job.fragBytes;
        job.records += job.fragCount;
        job.fragLo = i + 1;
        job.fragCount = 0;
        job.fragBytes = 0;
      }
    }
    job.cursor = job.hi;
    if (job.fragCount > 0) {
      job.fragments.push({ lo: job.fragLo, hi: job.hi, records: job.fragCount, bytes: job.fragBytes });
      job.totalBytes += job.fragBytes;
      job.records += job.fragCount;
      job.fragCount = 0;
    }
    job.scanned = true;
  }

  /** Control endpoint: fail, cancel or complete a job now. Returns the job view or null. */
  control(id, action) {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.state === "Queued" || job.state === "Running") {
      if (action === "complete") job.forced = true;
      this.finish(job, action === "fail" ? "Failed" : action === "cancel" ? "Canceled" : "Completed");
    }
    return this.view(job);
  }

  // -------------------------------------------------------------------------------------------
  // Vendor endpoints.

  async handleCreate(req, res) {
    const raw = await readBody(req, 64 * 1024);
    this.sb.auth.requireBearer(req);
    const body = parseJsonBody(raw, (m) => bad(m, "body"));
    const { params, startDay, endDay } = validateJobParams(body);
    let active = 0;
    for (const j of this.jobs.values()) if (j.state === "Queued" || j.state === "Running") active++;
    if (active >= MAX_QUEUED) {
      this.limits.refused++;
      throw backstoryError(
        429,
        "too_many_jobs",
        `maximum number of queued export jobs reached (${MAX_QUEUED}, inclusive of ${MAX_RUNNING} running); wait for a job to finish`,
      );
    }
    const [lo, hi] = this.timeline.range(startDay, endDay);
    const job = {
      id: randomUUID(),
      state: "Queued",
      params,
      lo,
      hi,
      createdMs: this.sb.now(),
      startedMs: null,
      endedMs: null,
      readyAtReal: Date.now() + 1000 / this.speed(),
      fragments: [],
      totalBytes: 0,
      records: 0,
      scanned: false,
      stopped: false,
    };
    this.jobs.set(job.id, job);
    this.limits.peakActive = Math.max(this.limits.peakActive, active + 1);
    const fate = req.sandboxFault?.fault;
    if (fate === "fail_job" || fate === "cancel_job") job.fate = fate === "fail_job" ? "Failed" : "Canceled";
    this.pump();
    sendJson(res, 200, this.view(job));
  }

  async handleList(req, res) {
    req.resume();
    this.sb.auth.requireBearer(req);
    const since = this.sb.now() - RETENTION_DAYS * DAY_MS;
    const list = [...this.jobs.values()].filter((j) => j.createdMs >= since).reverse().map((j) => this.view(j));
    // readings.jobList: a bare array, or wrapped as {jobs: [...]} or {data: [...]}.
    const shape = this.sb.config.readings.jobList;
    sendJson(res, 200, shape === "array" ? list : { [shape]: list });
  }

  requireJob(id) {
    const job = this.jobs.get(id);
    if (!job || job.createdMs < this.sb.now() - RETENTION_DAYS * DAY_MS) {
      throw backstoryError(404, "not_found", `job ${id} not found`, "job_id");
    }
    return job;
  }

  async handleGet(req, res, id) {
    req.resume();
    this.sb.auth.requireBearer(req);
    sendJson(res, 200, this.view(this.requireJob(id)));
  }

  async handleData(req, res, id, url, form = "data") {
    req.resume();
    this.sb.auth.requireBearer(req);
    const job = this.requireJob(id);
    // readings.fragmentPath: "both" URL forms, or only the document's URL line (`data`) or only
    // its curl (`fragment`); the other form is a 404 like any unknown route.
    const only = this.sb.config.readings.fragmentPath;
    const hasFragment = url.searchParams.has("fragment");
    if ((only === "data" && form === "fragment") || (only === "fragment" && form === "data" && hasFragment)) {
      throw backstoryError(404, "not_found", `no route ${form}?fragment for this vendor`, "fragment");
    }
    if (job.state !== "Completed") {
      throw backstoryError(409, "job_not_completed", `job ${id} is ${job.state}; data is available once it is Completed`, "job_id");
    }
    if (job.endedMs < this.sb.now() - RETENTION_DAYS * DAY_MS) {
      throw backstoryError(410, "results_expired", `results of job ${id} were retained ${RETENTION_DAYS} days and are gone`, "job_id");
    }
    const parts = this.selectFragments(job, url.searchParams.get("fragment"));
    const bytes = parts.reduce((n, f) => n + f.bytes, 0);
    if (this.sb.config.readings.dataEncoding === "gzip") {
      // HTTP compression (Content-Encoding: gzip, Content-Length of the compressed bytes). The
      // body is built whole to know that length: meant for the small jobs of tests.
      let text = "";
      for (const f of parts) for (let i = f.lo; i < f.hi; i++) if (this.timeline.matches(i, job.params.activity_type)) text += this.timeline.line(i);
      const gz = gzipSync(Buffer.from(text, "utf8"));
      res.writeHead(200, { ...CORS_HEADERS, "Content-Type": NDJSON, "Content-Encoding": "gzip", "Content-Length": String(gz.length), "Cache-Control": "no-store" });
      return res.end(req.method === "HEAD" ? undefined : gz);
    }
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": NDJSON,
      "Content-Length": String(bytes),
      "Cache-Control": "no-store",
    });
    if (req.method === "HEAD") return res.end();
    const fault = req.sandboxFault?.fault === "malformed_line" ? req.sandboxFault : null;
    await this.streamFragments(res, parts, job.params.activity_type, fault ? fault.line : 0);
  }

  selectFragments(job, fragParam) {
    if (fragParam === null) return job.fragments;
    if (!/^\d+$/.test(fragParam)) throw backstoryError(400, "invalid_request", `fragment must be a non-negative integer, got ${JSON.stringify(fragParam)}`, "fragment");
    const k = Number(fragParam);
    // Under the highest-index reading a job with no records still has its (empty) fragment 0.
    if (k === 0 && job.fragments.length === 0 && this.sb.config.readings.fragmentNumbering === "index") return [];
    if (k >= job.fragments.length) {
      throw backstoryError(404, "not_found", `fragment ${k} does not exist; this job has ${job.fragments.length} fragments (0..${job.fragments.length - 1})`, "fragment");
    }
    return [job.fragments[k]];
  }

  /**
   * Streams records of index ranges as JSON Lines, generated on the fly, respecting backpressure.
   * `badLine` (1-based, 0 = none) is made malformed at the same byte length, for fault tests.
   */
  async streamFragments(res, ranges, type, badLine = 0) {
    const tl = this.timeline;
    const fixed = Number(this.sb.config.chunkSize);
    const rng = new Rng(hash32(this.sb.config.seed, "activity-chunks", this.responses++));
    let target = rng.int(16 * 1024, 64 * 1024);
    let buf = "";
    let n = 0;
    const flush = async () => {
      const data = Buffer.from(buf, "utf8");
      buf = "";
      if (Number.isFinite(fixed) && fixed > 0) return writeInChunks(res, data, () => fixed);
      return writeRespecting(res, data);
    };
    for (const f of ranges) {
      for (let i = f.lo; i < f.hi; i++) {
        if (!tl.matches(i, type)) continue;
        const line = tl.line(i);
        buf += ++n === badLine ? malformLine(line) : line;
        if (buf.length >= target) {
          if (!(await flush())) return;
          target = rng.int(16 * 1024, 64 * 1024);
        }
      }
    }
    if (buf.length && !(await flush())) return;
    res.end();
  }

  /**
   * Ground truth: GET /__sandbox/truth/activities?job_id=..[&fragment=N] streams exactly what the
   * data endpoint serves; ?start_date&end_date[&activity_type] streams the records of a range;
   * &summary=1 answers {records, bytes?, fragments?} instead.
   */
  async handleTruth(req, res, url) {
    req.resume();
    const sp = url.searchParams;
    const summary = sp.get("summary") === "1" || sp.get("summary") === "true";
    let ranges;
    let type;
    if (sp.get("job_id")) {
      const job = this.jobs.get(sp.get("job_id"));
      if (!job) throw new HttpError(404, { error: "not_found", message: "no such job" });
      if (!job.scanned) throw new HttpError(409, { error: "job_not_ready", message: `job is ${job.state}; fragments are fixed when it completes` });
      ranges = this.selectFragments(job, sp.get("fragment"));
      type = job.params.activity_type;
      if (summary) {
        return sendJson(res, 200, {
          job_id: job.id,
          records: ranges.reduce((n, f) => n + f.records, 0),
          bytes: ranges.reduce((n, f) => n + f.bytes, 0),
          fragments: job.fragments.map((f) => ({ records: f.records, bytes: f.bytes })),
        });
      }
    } else {
      const body = {};
      for (const k of ["start_date", "end_date", "activity_type", "export_type"]) if (sp.has(k)) body[k] = sp.get(k);
      // Truth by parameters ignores the range limits so tests can ask for any window at once.
      const start = parseDay(body.start_date);
      const end = parseDay(body.end_date);
      if (start === null || end === null || end < start) throw new HttpError(400, { error: "invalid_request", message: "start_date and end_date (yyyy-MM-dd, in order) are required" });
      type = body.activity_type ?? "all";
      if (!ACTIVITY_TYPES.includes(type)) throw new HttpError(400, { error: "invalid_request", message: "bad activity_type" });
      const [lo, hi] = this.timeline.range(start, end);
      ranges = [{ lo, hi }];
      if (summary) {
        let n = 0;
        for (let i = lo; i < hi; i++) if (this.timeline.matches(i, type)) n++;
        return sendJson(res, 200, { records: n });
      }
    }
    res.writeHead(200, { ...CORS_HEADERS, "Content-Type": NDJSON });
    await this.streamFragments(res, ranges, type);
  }
}
