// Userpilot Bulk Data Export API and Lookups (appex.userpilot.io/api/v1/analytics/exports/...).
// Auth is `Authorization: Token KEY`; one export job per app at a time (409); finished jobs list
// presigned URLs to gzip files that this sandbox also serves, with an expiring signature.

import { createHmac, randomBytes, randomUUID } from "node:crypto";
import zlib from "node:zlib";
import { DAY_MS, parseDay, toJson } from "./data/common.mjs";
import { UP_EVENT_TYPES, UP_LOOKUPS, UP_PAGINATED_LOOKUPS, UserpilotData } from "./data/userpilot.mjs";
import { CORS_HEADERS, HttpError, drained, parseJsonBody, readBody, sendJson } from "./http.mjs";
import { safeEqual } from "./backstory-auth.mjs";
import { hash32 } from "./prng.mjs";
import { malformLine } from "./faults.mjs";

export const NOPLAN_KEY = "sandbox-userpilot-noplan";
export const JOB_AVAILABLE_DAYS = 3;
const CSV_COLUMNS = ["app_token", "event_type", "event_name", "user_id", "company_id", "source", "inserted_at", "internal_event_id", "metadata"];
const EMAIL_RE = /^[^\s@"(),:;<>[\]\\]+@[^\s@"(),:;<>[\]\\]+\.[^\s@"(),:;<>[\]\\]+$/;
// The trailing bytes put "+//" into every cursor: a client that does not percent-encode it breaks loudly.
const CURSOR_MAGIC = Buffer.from([0x83, 0x74, 0x00, 0x00, 0x00, 0x03, 0xfb, 0xef, 0xff]);

const MESSAGES = {
  400: ["Bad Request", "The request was invalid or cannot be otherwise served."],
  401: ["Unauthorized", "You are not authorized to perform the requested action."],
  403: ["Unauthorized", "You are not authorized to perform the requested action."],
  404: ["Resource not found", null],
  409: ["Conflict", "The request could not be completed due to a conflict with the current state of the target resource."],
};

/** Userpilot's error envelope: {errors: [{details, error, error_code, message}]}. */
export function upError(status, details, { message, errorCode, field, headers } = {}) {
  const [error, defMessage] = MESSAGES[status] ?? ["Error", "The request failed."];
  const e = { details, error, error_code: errorCode ?? String(status), message: message ?? defMessage };
  if (field) e.field = field;
  return new HttpError(status, { errors: [e] }, headers);
}

const dayIso = (day) => new Date(day * DAY_MS).toISOString().slice(0, 10);
/** 2024-10-06T10:44:50.999504 (microseconds, no zone) as in the documented bodies. */
const microIso = (ms, zone = false) => new Date(ms).toISOString().slice(0, -1) + "000" + (zone ? "Z" : "");

function csvCell(v) {
  if (v === null || v === undefined) return "";
  const s = typeof v === "object" ? toJson(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Validates export parameters; returns normalised ones. */
export function validateExportParams(body, data) {
  const bad = (details, field) => upError(400, details, { field });
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw bad("request body must be a JSON object", "body");
  const p = {};
  for (const f of ["from", "to"]) {
    if (body[f] === undefined || body[f] === null) throw bad(`${f} is required (YYYY-MM-DD)`, f);
    if (parseDay(body[f]) === null) throw bad(`${f} must be a date in YYYY-MM-DD format, got ${JSON.stringify(body[f])}`, f);
    p[f] = body[f];
  }
  if (parseDay(p.to) < parseDay(p.from)) throw bad("to must not be before from", "to");
  const list = (f, check) => {
    const v = body[f];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw bad(`${f} must be an array of strings`, f);
    return v.map((x, i) => {
      if (typeof x === "number" && Number.isFinite(x)) x = String(x);
      if (typeof x !== "string" || x === "") throw bad(`${f}[${i}] must be a non-empty string`, f);
      if (check) check(x, i);
      return x;
    });
  };
  p.emails = list("emails", (x, i) => {
    if (!EMAIL_RE.test(x)) throw bad(`emails[${i}] is not a valid email address`, "emails");
  });
  p.event_type = list("event_type", (x, i) => {
    if (!UP_EVENT_TYPES.includes(x)) throw bad(`event_type[${i}] "${x}" is not a known event type (${UP_EVENT_TYPES.join(", ")})`, "event_type");
  });
  if (p.event_type.length === 0) p.event_type = UP_EVENT_TYPES.slice();
  p.user_id = list("user_id");
  p.company_id = list("company_id");
  if (body.segment_id !== undefined && body.segment_id !== null) {
    const s = typeof body.segment_id === "number" ? String(body.segment_id) : body.segment_id;
    if (typeof s !== "string" || s === "") throw bad("segment_id must be a string", "segment_id");
    if (data && !data.segmentsById.has(s)) throw bad(`segment_id ${s} was not found`, "segment_id");
    p.segment_id = s;
  } else p.segment_id = null;
  p.format = body.format ?? "json";
  if (p.format !== "json" && p.format !== "csv") throw bad('format must be "json" or "csv"', "format");
  p.exclusions = body.exclusions ?? false;
  if (typeof p.exclusions !== "boolean") throw bad("exclusions must be a boolean", "exclusions");
  return p;
}

export class UserpilotApi {
  constructor(sandbox) {
    this.sb = sandbox;
    this.jobs = new Map();
    this.secret = randomBytes(32);
    this._data = null;
  }

  rebuild() {
    this._data = null;
  }

  get data() {
    if (!this._data) this._data = new UserpilotData({ seed: Number(this.sb.config.seed), perDay: Number(this.sb.config.eventsPerDay) });
    return this._data;
  }

  reset() {
    this.jobs.clear();
  }

  summary() {
    const out = { in_progress: 0, completed: 0, failed: 0 };
    for (const j of this.jobs.values()) out[this.refresh(j).status]++;
    return out;
  }

  speed() {
    const s = Number(this.sb.config.jobSpeed);
    return s > 0 ? s : 1;
  }

  /** Returns { key, appToken, plan } for the request's `Token` key or throws 401. */
  auth(req) {
    const m = /^Token\s+(\S+)\s*$/i.exec(String(req.headers.authorization || ""));
    if (!m) throw upError(401, "Missing or malformed Authorization header; expected: Token <API key>");
    if (safeEqual(m[1], this.sb.credentials.userpilot.apiKey)) return { appToken: this.data.appToken, plan: true };
    if (safeEqual(m[1], NOPLAN_KEY)) return { appToken: this.data.noplanAppToken, plan: false };
    throw upError(401, "Invalid API key");
  }

  // -------------------------------------------------------------------------------------------
  // Jobs. Progress is derived from elapsed real time, one partition (a calendar month) at a time.

  partitionMs() {
    return 800 / this.speed();
  }

  refresh(job) {
    if (job.status !== "in_progress") return job;
    const done = Math.min(job.chunks.length, Math.floor((Date.now() - job.createdReal) / job.partitionMs));
    job.completed = done;
    if (job.fate && done >= job.chunks.length - 1) {
      // Injected failure: the job dies while working on its last partition.
      job.status = "failed";
      job.endedMs = this.sb.now();
    } else if (done >= job.chunks.length) {
      job.status = "completed";
      job.endedMs = job.createdMs + job.chunks.length * job.partitionMs;
    }
    return job;
  }

  visible(job) {
    return job.createdMs >= this.sb.now() - JOB_AVAILABLE_DAYS * DAY_MS;
  }

  control(id, action) {
    const job = this.jobs.get(id);
    if (!job) return null;
    this.refresh(job);
    if (job.status === "in_progress") {
      if (action === "complete") {
        job.completed = job.chunks.length;
        job.status = "completed";
      } else job.status = "failed";
      job.endedMs = this.sb.now();
    }
    return this.detail(job);
  }

  elapsed(job) {
    const end = job.status === "in_progress" ? this.sb.now() : job.endedMs;
    const s = Math.max(0, Math.round((end - job.createdMs) / 1000));
    return { elapsed_time: `${s} ${s === 1 ? "second" : "seconds"}`, elapsed_time_seconds: s };
  }

  progress(job) {
    return `${job.completed} out of ${job.chunks.length} partitions`;
  }

  listItem(job) {
    this.refresh(job);
    return {
      ...this.elapsed(job),
      end_time: job.status === "in_progress" ? null : microIso(job.endedMs, true),
      job_id: job.id,
      progress: this.progress(job),
      start_time: microIso(job.createdMs),
      status: this.statusText(job.status),
    };
  }

  /** readings.statusCase: `completed` as documented, or `COMPLETED`. */
  statusText(status) {
    return this.sb.config.readings.statusCase === "upper" ? status.toUpperCase() : status;
  }

  detail(job) {
    this.refresh(job);
    const done = job.status === "completed";
    return {
      app_token: job.appToken,
      completed_chunks: job.chunks.slice(0, job.completed),
      current_chunk: job.chunks[Math.min(job.completed, job.chunks.length - 1)],
      end_time: job.status === "in_progress" ? null : microIso(job.endedMs, true),
      job_id: job.id,
      // readings.presignedUrls: objects {filename, url} as documented, or bare URL strings.
      presigned_urls: done
        ? job.files.map((f) => (this.sb.config.readings.presignedUrls === "strings" ? this.presign(job, f.filename) : { filename: f.filename, url: this.presign(job, f.filename) }))
        : [],
      progress: this.progress(job),
      start_time: microIso(job.createdMs, true),
      status: this.statusText(job.status),
      all_chunks: job.chunks.slice(),
      type: "export",
    };
  }

  /** Monthly partitions (chunks) and weekly files, Monday-aligned, covering [from, to]. */
  plan(fromDay, toDay) {
    const chunks = [];
    const f = new Date(fromDay * DAY_MS);
    let y = f.getUTCFullYear();
    let m = f.getUTCMonth();
    while (Date.UTC(y, m, 1) / DAY_MS <= toDay) {
      chunks.push(new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10));
      if (++m === 12) (m = 0), y++;
    }
    const files = [];
    // 1970-01-01 was a Thursday: day d is a Monday when (d + 3) % 7 === 0.
    let monday = fromDay - ((fromDay + 3) % 7);
    for (; monday <= toDay; monday += 7) {
      files.push({ monday, fromDay: Math.max(fromDay, monday), toDay: Math.min(toDay, monday + 6) });
    }
    return { chunks, files };
  }

  async handleCreate(req, res) {
    const raw = await readBody(req, 256 * 1024);
    const who = this.auth(req);
    if (!who.plan) {
      const status = Number(this.sb.config.noplanStatus) === 401 ? 401 : 403;
      throw upError(status, `Your current plan for application ${who.appToken} does not support the feature you are trying to access.`, { errorCode: "401" });
    }
    const body = parseJsonBody(raw, (m) => upError(400, m, { field: "body" }));
    const params = validateExportParams(body, this.data);
    for (const j of this.jobs.values()) {
      if (j.appToken === who.appToken && this.refresh(j).status === "in_progress") {
        throw upError(409, "There is already an export job in progress, you can only have one export job in progress at a time.");
      }
    }
    const fromDay = parseDay(params.from);
    const toDay = parseDay(params.to);
    const { chunks, files } = this.plan(fromDay, toDay);
    const ext = params.format === "csv" ? "csv.gz" : "json.gz";
    const job = {
      id: randomUUID(),
      appToken: who.appToken,
      params,
      fromDay,
      toDay,
      chunks,
      files: files.map((f) => ({ ...f, filename: `${dayIso(f.monday)}.${ext}` })),
      completed: 0,
      status: "in_progress",
      createdMs: this.sb.now(),
      createdReal: Date.now(),
      partitionMs: this.partitionMs(),
      endedMs: null,
    };
    const fate = req.sandboxFault?.fault;
    if (fate === "fail_job" || fate === "cancel_job") job.fate = "failed";
    this.jobs.set(job.id, job);
    // readings.createStatus (201 documented, 200 seen) and readings.links (relative or absolute).
    const r = this.sb.config.readings;
    const link = `/api/v1/analytics/exports/jobs/${job.id}`;
    sendJson(res, Number(r.createStatus), {
      environment_app_token: who.appToken,
      environment_name: "production",
      job_id: job.id,
      links: r.links === "absolute" ? `${this.sb.url ?? "http://127.0.0.1"}${link}` : link,
      start_time: microIso(job.createdMs),
    });
  }

  async handleList(req, res) {
    req.resume();
    const who = this.auth(req);
    const list = [...this.jobs.values()].filter((j) => j.appToken === who.appToken && this.visible(j)).reverse().map((j) => this.listItem(j));
    sendJson(res, 200, list);
  }

  async handleGet(req, res, id) {
    req.resume();
    const who = this.auth(req);
    const job = this.jobs.get(id);
    if (!job || job.appToken !== who.appToken || !this.visible(job)) {
      throw upError(404, null, { message: `Failed to retrieve job with id ${id} for application ${who.appToken}: job not found` });
    }
    sendJson(res, 200, this.detail(job));
  }

  // -------------------------------------------------------------------------------------------
  // Presigned files.

  amzDate(ms) {
    return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  sign(jobId, filename, date, expires) {
    return createHmac("sha256", this.secret).update(`${jobId}/${filename}\n${date}\n${expires}`).digest("hex");
  }

  presign(job, filename) {
    const date = this.amzDate(this.sb.now());
    const expires = String(Math.max(0, Math.floor(Number(this.sb.config.linkTtlSeconds))));
    const q = new URLSearchParams({
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": "SANDBOXAKIA/userpilot-exports/s3/aws4_request",
      "X-Amz-Date": date,
      "X-Amz-Expires": expires,
      "X-Amz-SignedHeaders": "host",
      "X-Amz-Signature": this.sign(job.id, filename, date, expires),
    });
    return `${this.sb.config.filesOrigin ?? this.sb.url ?? "http://127.0.0.1"}/__files/userpilot/${job.id}/${encodeURIComponent(filename)}?${q}`;
  }

  s3Error(status, code, message) {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${randomBytes(8).toString("hex").toUpperCase()}</RequestId></Error>`;
    return new HttpError(status, xml, { "Content-Type": "application/xml" });
  }

  async handleFile(req, res, jobId, rawName, url) {
    req.resume();
    const filename = decodeURIComponent(rawName);
    const sp = url.searchParams;
    const date = sp.get("X-Amz-Date");
    const expires = sp.get("X-Amz-Expires");
    const sig = sp.get("X-Amz-Signature");
    if (!date || !expires || !sig) throw this.s3Error(403, "AccessDenied", "Query-string authentication requires the Signature, Expires and Date parameters");
    const expected = this.sign(jobId, filename, date, expires);
    if (!safeEqual(sig, expected)) throw this.s3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    const signedAt = m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
    if (!(this.sb.now() <= signedAt + Number(expires) * 1000)) throw this.s3Error(403, "AccessDenied", "Request has expired");
    const job = this.jobs.get(jobId);
    const file = job && this.refresh(job).status === "completed" ? job.files.find((f) => f.filename === filename) : null;
    if (!file || !this.visible(job)) throw this.s3Error(404, "NoSuchKey", "The specified key does not exist.");
    const index = job.files.indexOf(file);
    // readings.emptyFiles: a file with no events is a gzip of nothing (or of the CSV header), or
    // a zero-byte object, as a store may keep an empty partition.
    const zero = this.sb.config.readings.emptyFiles === "zero_bytes" && this.fileEvents(job, index).next().done;
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "application/gzip",
      "Content-Disposition": `attachment; filename="${filename}"`,
      ETag: `"${hash32(job.id, filename).toString(16)}"`,
      ...(zero ? { "Content-Length": "0" } : {}),
    });
    if (req.method === "HEAD" || zero) return res.end();
    await this.streamGzip(res, job, index, req.sandboxFault ?? null);
  }

  // -------------------------------------------------------------------------------------------
  // File contents. A file holds the filtered events of its days; a few events of the previous
  // file's last day are repeated at its start (same internal_event_id), as overlapping partitions
  // deliver them in real exports.

  eventFilter(params) {
    const d = this.data;
    const types = new Set(params.event_type);
    const users = params.user_id.length ? new Set(params.user_id) : null;
    const companies = params.company_id.length ? new Set(params.company_id) : null;
    return (i) => {
      const head = d.head(i);
      if (!types.has(head.type)) return null;
      const user = d.users[head.u];
      if (users && !users.has(user.id)) return null;
      if (params.exclusions && user.excluded) return null;
      if (params.segment_id !== null && !d.inSegment(params.segment_id, head.u)) return null;
      const ev = d.event(i, head);
      if (companies && !companies.has(ev.company_id)) return null;
      return ev;
    };
  }

  *fileEvents(job, index, filter = this.eventFilter(job.params)) {
    const d = this.data;
    const file = job.files[index];
    if (index > 0) {
      const prevLast = job.files[index - 1].toDay;
      const [lo, hi] = d.dayRange(prevLast);
      for (let i = lo; i < hi; i++) {
        if (hash32(d.seed, "up-dup", i) % 10 !== 0) continue;
        const ev = filter(i);
        if (ev) yield ev;
      }
    }
    const lo = d.dayRange(file.fromDay)[0];
    const hi = d.dayRange(file.toDay)[1];
    for (let i = lo; i < hi; i++) {
      const ev = filter(i);
      if (ev) yield ev;
    }
  }

  *fileLines(job, index) {
    const csv = job.params.format === "csv";
    if (csv) yield CSV_COLUMNS.join(",") + "\n";
    // readings.jsonFiles: JSON Lines (FACTS), or one JSON array of the events.
    if (!csv && this.sb.config.readings.jsonFiles === "array") {
      let first = true;
      yield "[";
      for (const ev of this.fileEvents(job, index)) {
        yield (first ? "\n" : ",\n") + toJson(ev);
        first = false;
      }
      yield "\n]\n";
      return;
    }
    for (const ev of this.fileEvents(job, index)) {
      yield csv ? CSV_COLUMNS.map((c) => csvCell(ev[c])).join(",") + "\n" : toJson(ev) + "\n";
    }
  }

  /**
   * Gzips a file's lines into the response as they are generated. `fault` (malformed_line or
   * invalid_utf8) damages the uncompressed data, so the gzip layer itself stays valid.
   */
  async streamGzip(res, job, index, fault) {
    const gz = zlib.createGzip();
    gz.on("data", (chunk) => {
      if (res.destroyed || res.writableEnded) return;
      if (!res.write(chunk)) {
        gz.pause();
        drained(res).then(() => gz.resume());
      }
    });
    const ended = new Promise((resolve) => {
      gz.on("end", resolve);
      gz.on("close", resolve);
    });
    let buf = "";
    let n = 0;
    let bytes = 0;
    const push = async (data) => {
      if (!gz.write(data)) await new Promise((r) => gz.once("drain", r));
    };
    for (let line of this.fileLines(job, index)) {
      if (res.destroyed || res.writableEnded) break;
      n++;
      if (fault?.fault === "malformed_line" && n === fault.line) line = malformLine(line);
      if (fault?.fault === "deep_line" && n === fault.line) line = `${'{"a":'.repeat(fault.depth)}1${"}".repeat(fault.depth)}\n`;
      if (fault?.fault === "huge_line" && n === fault.line) line = `{"huge":"${"x".repeat(Math.max(0, fault.bytes - 12))}"}\n`;
      if (fault?.fault === "invalid_utf8" && bytes <= fault.afterBytes && bytes + line.length > fault.afterBytes) {
        if (buf) await push(buf);
        buf = "";
        const b = Buffer.from(line, "utf8");
        const k = Math.min(b.length - 1, Math.max(0, fault.afterBytes - bytes));
        b[k] = 0xff;
        await push(b);
        bytes += b.length;
        continue;
      }
      bytes += line.length;
      buf += line;
      if (buf.length >= 64 * 1024) {
        await push(buf);
        buf = "";
      }
    }
    if (res.destroyed || res.writableEnded) return gz.destroy();
    if (buf) gz.write(buf);
    gz.end();
    await ended;
    if (!res.destroyed && !res.writableEnded) res.end();
  }

  // -------------------------------------------------------------------------------------------
  // Lookups.

  encodeCursor(name, offset) {
    const json = JSON.stringify({ l: name, o: offset, s: hash32(this.sb.config.seed, "cursor", name, offset) });
    return Buffer.concat([CURSOR_MAGIC, Buffer.from(json)]).toString("base64");
  }

  decodeCursor(name, cursor, field) {
    try {
      const buf = Buffer.from(cursor, "base64");
      if (!buf.subarray(0, CURSOR_MAGIC.length).equals(CURSOR_MAGIC)) throw new Error("magic");
      const j = JSON.parse(buf.subarray(CURSOR_MAGIC.length).toString("utf8"));
      if (j.l !== name || !Number.isInteger(j.o) || j.o < 0 || j.s !== hash32(this.sb.config.seed, "cursor", name, j.o)) throw new Error("mismatch");
      return j.o;
    } catch {
      throw upError(400, `${field} is not a valid cursor for ${name}`, { field });
    }
  }

  async handleLookup(req, res, name, url) {
    req.resume();
    this.auth(req);
    if (!UP_LOOKUPS.includes(name)) throw upError(404, null, { message: `Lookup ${name} not found` });
    const items = this.data.lookups[name];
    // readings.lookupShape: "documented" (arrays, two paginated), "arrays" (every lookup a whole
    // array, no cursor), "pages" (every lookup a {data, metadata} page).
    const shape = this.sb.config.readings.lookupShape;
    if (shape === "arrays") return sendJson(res, 200, items);
    if (!UP_PAGINATED_LOOKUPS.has(name) && shape !== "pages") return sendJson(res, 200, items);
    const sp = url.searchParams;
    if (!UP_PAGINATED_LOOKUPS.has(name)) {
      // "pages" for a lookup the document does not paginate: the whole list in one page.
      const cursor = { after: null, before: null };
      return sendJson(res, 200, { data: items, metadata: { cursor, limit: items.length, total_count: items.length, total_count_cap_exceeded: false } });
    }
    let limit = 50;
    if (sp.has("limit")) {
      const l = sp.get("limit");
      if (!/^\d+$/.test(l) || Number(l) < 1 || Number(l) > 1000) throw upError(400, "limit must be an integer from 1 to 1000", { field: "limit" });
      limit = Number(l);
    }
    if (sp.get("after_cursor") && sp.get("before_cursor")) throw upError(400, "use after_cursor or before_cursor, not both", { field: "before_cursor" });
    let start = 0;
    if (sp.get("after_cursor")) start = this.decodeCursor(name, sp.get("after_cursor"), "after_cursor");
    else if (sp.get("before_cursor")) start = Math.max(0, this.decodeCursor(name, sp.get("before_cursor"), "before_cursor") - limit);
    start = Math.min(start, items.length);
    const end = Math.min(items.length, start + limit);
    // readings.cursorEnd: the last page's `after` is null (documented), "" or missing.
    const cursor = { after: end < items.length ? this.encodeCursor(name, end) : null, before: start > 0 ? this.encodeCursor(name, start) : null };
    if (cursor.after === null) {
      const how = this.sb.config.readings.cursorEnd;
      if (how === "empty") cursor.after = "";
      if (how === "missing") delete cursor.after;
    }
    sendJson(res, 200, {
      data: items.slice(start, end),
      metadata: {
        cursor,
        limit,
        total_count: items.length,
        total_count_cap_exceeded: false,
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // Ground truth.

  /**
   * GET /__sandbox/truth/userpilot/events
   *   ?job_id=ID[&file=NAME][&dedupe=1]  records of the job's files in file order, as JSON Lines
   *   ?job_id=ID&file=NAME&raw=1          the file's exact uncompressed bytes (JSON Lines or CSV)
   *   ?from=..&to=..[&event_type=a,b][&user_id=..][&company_id=..][&segment_id=..][&exclusions=true]
   *                                       the events such an export selects (no repeats), JSON Lines
   *   add &summary=1 for {records, unique, files:[{filename, records}]}
   */
  async handleTruthEvents(req, res, url) {
    req.resume();
    const sp = url.searchParams;
    let job;
    let indices;
    if (sp.get("job_id")) {
      job = this.jobs.get(sp.get("job_id"));
      if (!job) throw new HttpError(404, { error: "not_found", message: "no such job" });
      indices = job.files.map((_, k) => k);
      if (sp.get("file")) {
        const k = job.files.findIndex((f) => f.filename === sp.get("file"));
        if (k < 0) throw new HttpError(404, { error: "not_found", message: "no such file in this job" });
        indices = [k];
      }
    } else {
      const split = (k) => (sp.get(k) ? sp.get(k).split(",").filter(Boolean) : undefined);
      const params = validateExportParams(
        {
          from: sp.get("from"),
          to: sp.get("to"),
          event_type: split("event_type"),
          user_id: split("user_id"),
          company_id: split("company_id"),
          segment_id: sp.get("segment_id") || undefined,
          exclusions: sp.get("exclusions") === "true",
        },
        this.data,
      );
      const fromDay = parseDay(params.from);
      const toDay = parseDay(params.to);
      job = { params, files: [{ fromDay, toDay }], synthetic: true };
      indices = [0];
    }
    if (sp.get("raw") === "1") {
      if (indices.length !== 1 || job.synthetic) throw new HttpError(400, { error: "invalid_request", message: "raw needs job_id and file" });
      res.writeHead(200, { ...CORS_HEADERS, "Content-Type": job.params.format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8" });
      return this.writeLines(res, this.fileLines(job, indices[0]));
    }
    const dedupe = sp.get("dedupe") === "1";
    const self = this;
    function* records() {
      const seen = dedupe ? new Set() : null;
      const filter = self.eventFilter(job.params);
      for (const k of indices) {
        for (const ev of self.fileEvents(job, k, filter)) {
          if (seen) {
            if (seen.has(ev.internal_event_id)) continue;
            seen.add(ev.internal_event_id);
          }
          yield ev;
        }
      }
    }
    if (sp.get("summary") === "1") {
      const ids = new Set();
      let n = 0;
      const files = [];
      const filter = this.eventFilter(job.params);
      for (const k of indices) {
        let c = 0;
        for (const ev of this.fileEvents(job, k, filter)) {
          c++;
          ids.add(ev.internal_event_id);
        }
        n += c;
        files.push({ filename: job.files[k].filename ?? null, records: c });
      }
      return sendJson(res, 200, { records: n, unique: ids.size, files });
    }
    res.writeHead(200, { ...CORS_HEADERS, "Content-Type": "application/x-ndjson; charset=utf-8" });
    const lines = (function* () {
      for (const ev of records()) yield toJson(ev) + "\n";
    })();
    return this.writeLines(res, lines);
  }

  async writeLines(res, lines) {
    let buf = "";
    for (const line of lines) {
      buf += line;
      if (buf.length >= 64 * 1024) {
        if (!res.write(buf)) await drained(res);
        buf = "";
        if (res.destroyed) return;
      }
    }
    res.end(buf);
  }

  handleTruthLookup(req, res, name) {
    req.resume();
    if (!UP_LOOKUPS.includes(name)) throw new HttpError(404, { error: "not_found", message: `lookups: ${UP_LOOKUPS.join(", ")}` });
    sendJson(res, 200, this.data.lookups[name]);
  }
}
