// The Userpilot client: `client.exports` (Bulk Data Export jobs and their files) and
// `client.lookups` (the twelve lookups, with cursor pages as an async iterator).
import { batchRows, csvFields, csvRecords, headerColumns, invalidArgument, iterate, jobIdOf, paramsText, requireReady, toExportError, wasm } from "./runtime.js";
import { gunzipReader } from "./gzip.js";
export { GunzipStream } from "./gzip.js";

const DEFAULT_BASE_URL = "https://appex.userpilot.io";

// From the Rust providers through the wasm (js/vocabulary.js): filled by `init()`.
export { USERPILOT_EVENT_TYPES as EVENT_TYPES, USERPILOT_LOOKUPS as LOOKUPS, USERPILOT_PAGINATED_LOOKUPS as PAGINATED_LOOKUPS } from "./vocabulary.js";




/** Client for Userpilot's Bulk Data Export API and Lookups. */
export class UserpilotClient {
  /**
   * @param {object} options
   * @param {string} [options.baseUrl] default https://appex.userpilot.io
   * @param {string} options.apiKey sent as `Authorization: Token KEY`, only to the API host
   * @param {string} [options.proxyUrl] a proxy that adds the key (then no apiKey here)
   * @param {Function} [options.fetchFile] `(url, init) => Promise<Response>` for presigned file
   *   links only (never a request with the key); the CLI's enforces where links may point
   */
  constructor(options = {}) {
    requireReady();
    if (options === null || typeof options !== "object") throw invalidArgument("options", "must be an object");
    const proxyUrl = options.proxyUrl;
    let core;
    if (proxyUrl !== undefined) {
      if (typeof proxyUrl !== "string") throw invalidArgument("proxyUrl", "must be a string");
      core = wasm.UserpilotCore.viaProxy(proxyUrl);
    } else {
      const baseUrl = options.baseUrl ?? DEFAULT_BASE_URL;
      if (typeof baseUrl !== "string") throw invalidArgument("baseUrl", "must be a string");
      if (typeof options.apiKey !== "string") throw invalidArgument("apiKey", "must be a string");
      core = new wasm.UserpilotCore(baseUrl, options.apiKey);
    }
    const fetchFile = options.fetchFile;
    if (fetchFile !== undefined && typeof fetchFile !== "function") throw invalidArgument("fetchFile", "must be a function");
    this.exports = new ExportsApi(core, fetchFile);
    this.lookups = new LookupsApi(core);
  }
}

class ExportsApi {
  #core;
  #fetchFile;
  constructor(core, fetchFile) {
    this.#core = core;
    this.#fetchFile = fetchFile;
  }

  /** Checks export parameters without a call; returns the body that would be sent. */
  validate(params) {
    return JSON.parse(wasm.UserpilotCore.validateParams(paramsText(params)));
  }

  /**
   * Starts an export job: `{ jobId, environmentAppToken, environmentName, links, startTime }`.
   * A 409 rejects with `E_CONFLICT` (and `jobId` of the running job when known), or with
   * `{ waitForRunning: true }` waits for that job to end and then starts this one.
   */
  async start(params, opts = {}) {
    return this.#core.start(paramsText(params), opts);
  }

  async get(job, opts = {}) {
    return this.#core.get(jobIdOf(job), opts);
  }

  async list(opts = {}) {
    return this.#core.list(opts);
  }

  /** Polls (with backoff) until the job completes; `onProgress(job)` sees every read. */
  async wait(job, opts = {}) {
    return this.#core.wait(jobIdOf(job), opts);
  }

  /**
   * The job's rows in file order, as an async iterator of batches:
   * JSON files `{ format: "json", file, filename, records, firstLine, lastLine }`,
   * CSV files `{ format: "csv", file, filename, header, rows, firstRow }`,
   * with `flatten` `{ format: "csv-text", file, filename, csv, rows }`.
   * `iterator.result()` resolves to the summary (`records`, `duplicates`, `errors`, `files`...).
   * Events repeated across files (same `internal_event_id`) are dropped and counted in
   * `duplicates`; `dedupe: false` keeps them.
   * `onCheckpoint(checkpoint)` runs once every batch the checkpoint covers has been through the
   * caller's loop; `checkpoint` (an earlier one, plain JSON) goes on from there with the same job:
   * the files already delivered are not fetched again, the one in progress goes on at its line.
   * A failure's ExportError carries `delivered`: `{ records, file, filename, line (JSON: the last
   * line handed over), row (CSV: data rows of that file handed over) }`.
   */
  rows(job, opts = {}) {
    const id = jobIdOf(job);
    const { signal, dedupe = true, checkpoint, onCheckpoint, ...rest } = opts;
    if (onCheckpoint !== undefined && typeof onCheckpoint !== "function") throw invalidArgument("onCheckpoint", "must be a function");
    const output = { dedupe: !!dedupe, flatten: !!rest.flatten };
    const st = checkpoint !== undefined && checkpoint !== null ? readCheckpoint(checkpoint, id, output) : { download: null, seenIds: [], csvHeader: null };
    // Events delivered before the checkpoint: the core's duplicate check starts empty, so a
    // repeat of one of them is dropped here. Ids delivered since are kept for later checkpoints.
    const before = output.dedupe && st.seenIds.length ? new Set(st.seenIds) : null;
    const ids = output.dedupe && onCheckpoint ? [...st.seenIds] : null;
    let dropped = 0;
    const delivered = { records: 0, file: null, filename: null, line: null, row: null };
    const note = (b) => {
      delivered.records += b.format === "json" ? b.records.length : b.format === "csv" ? b.rows.length : b.rows;
      delivered.file = b.file;
      delivered.filename = b.filename;
      delivered.line = b.format === "json" ? b.lastLine : null;
      delivered.row = b.format === "csv" ? b.firstRow + b.rows.length : null;
      return b;
    };
    let flatIdColumn = -1;
    let flatHeaderSeen = false;
    // Thrown from a batch callback, which the core reports as that callback's failure.
    let mismatch = null;
    // Drops what was delivered before the checkpoint and notes the ids of what goes out.
    const sift = (b) => {
      if (b.format === "csv-text") {
        let csv = b.csv;
        let head = "";
        if (!flatHeaderSeen) {
          // The first piece of a run starts with the header; a resumed run's was written before.
          flatHeaderSeen = true;
          const recs = csvRecords(csv);
          const header = csv.slice(0, recs.length ? recs[0][1] : csv.length);
          flatIdColumn = csvFields(header).indexOf("internal_event_id");
          if (st.csvHeader === null) head = st.csvHeader = header;
          else if (header !== st.csvHeader) {
            mismatch = invalidArgument("checkpoint", `job ${id} gives other CSV columns than those already written; start the export again`);
            throw mismatch;
          }
          csv = csv.slice(header.length);
        }
        let rows = b.rows;
        if ((before || ids) && flatIdColumn >= 0) {
          let kept = "";
          rows = 0;
          for (const [s0, e0] of csvRecords(csv)) {
            const text = csv.slice(s0, e0);
            const eid = csvFields(text)[flatIdColumn];
            if (before && eid && before.has(normId(eid))) {
              dropped++;
              continue;
            }
            if (ids && eid) ids.push(normId(eid));
            kept += text;
            rows++;
          }
          csv = kept;
        }
        return head || csv ? { ...b, csv: head + csv, rows } : null;
      }
      if (b.format === "json") {
        const records = before ? b.records.filter((r) => !(typeof r?.internal_event_id === "string" && before.has(normId(r.internal_event_id)))) : b.records;
        dropped += b.records.length - records.length;
        if (ids) for (const r of records) if (typeof r?.internal_event_id === "string") ids.push(normId(r.internal_event_id));
        return records.length ? { ...b, records } : null;
      }
      const col = b.header.indexOf("internal_event_id");
      if (col < 0) return b;
      const rows = before ? b.rows.filter((r) => !(r[col] && before.has(normId(r[col])))) : b.rows;
      dropped += b.rows.length - rows.length;
      if (ids) for (const r of rows) if (r[col]) ids.push(normId(r[col]));
      return rows.length ? { ...b, rows } : null;
    };
    return iterate(async (push, sig, mark) => {
      // After an abort, batches are dropped, not handed over: no checkpoint may cover them.
      let dropping = false;
      const give = (make) => (b) => {
        if (sig.aborted) {
          dropping = true;
          return undefined;
        }
        const batch = sift(make(b));
        return batch ? push(note(batch)) : undefined;
      };
      try {
        const out = await this.#core.rows(id, {
          fetchFile: this.#fetchFile,
          ...rest,
          // The client module has no inflater: gzip bodies the runtime cannot inflate go through
          // the parse module's.
          gunzipReader,
          dedupe,
          signal: sig,
          checkpoint: st.download ? JSON.stringify(st.download) : undefined,
          // The header already delivered: the rest is flattened under the same columns.
          flattenColumns: output.flatten && st.csvHeader !== null ? headerColumns(st.csvHeader, rest.csvGuard !== false) : undefined,
          onCheckpoint: onCheckpoint
            ? (text) => {
                if (dropping) return;
                const download = JSON.parse(text);
                const n = ids ? ids.length : 0;
                const csvHeader = st.csvHeader;
                const ck = { version: CHECKPOINT_VERSION, api: "userpilot", jobId: id, output, download, seenIds: [], csvHeader };
                // The ids only grow, so the first `n` are this checkpoint's whenever they are read:
                // copied when read (JSON.stringify reads them), not for every checkpoint handed
                // over, which would cost the run time in the square of its events.
                if (ids) Object.defineProperty(ck, "seenIds", { enumerable: true, get: () => ids.slice(0, n) });
                mark(() => onCheckpoint(ck));
              }
            : undefined,
          onRecords: give((b) => ({ format: "json", file: b.file, filename: b.filename, records: JSON.parse(b.text), firstLine: b.firstLine, lastLine: b.lastLine })),
          onRows: give((b) => ({ format: "csv", file: b.file, filename: b.filename, header: b.header, rows: batchRows(b.batch), firstRow: b.batch.firstRow })),
          onCsv: give((b) => ({ format: "csv-text", file: b.file, filename: b.filename, csv: b.csv, rows: b.rows })),
        });
        if (dropped) {
          out.records -= dropped;
          out.duplicates += dropped;
        }
        return out;
      } catch (e) {
        const err = toExportError(mismatch ?? e);
        err.delivered = { ...delivered };
        throw err;
      }
    }, signal);
  }
}

const CHECKPOINT_VERSION = 1;

/** The core compares 32-digit hex ids as numbers, so case does not make another event. */
const normId = (s) => (s.length === 32 && /^[0-9a-fA-F]+$/.test(s) ? s.toLowerCase() : s);

function readCheckpoint(ck, jobId, output) {
  const bad = (why) => invalidArgument("checkpoint", why);
  if (ck === null || typeof ck !== "object" || Array.isArray(ck)) throw bad("must be the object an earlier run gave onCheckpoint");
  if (ck.version !== CHECKPOINT_VERSION || ck.api !== "userpilot") throw bad(`is not a Userpilot checkpoint of version ${CHECKPOINT_VERSION}`);
  if (ck.jobId !== jobId) throw bad(`is of job ${ck.jobId}, not of job ${jobId}`);
  if (JSON.stringify(ck.output) !== JSON.stringify(output)) throw bad("is of a run with other dedupe or flatten options");
  const download = ck.download ?? null;
  if (download !== null && (typeof download !== "object" || download.job_id !== jobId)) throw bad("holds a download of another job");
  if (!Array.isArray(ck.seenIds) || ck.seenIds.some((x) => typeof x !== "string")) throw bad("seenIds must be a list of event ids");
  if (ck.csvHeader !== null && ck.csvHeader !== undefined && typeof ck.csvHeader !== "string") throw bad("holds a CSV header that is not text");
  return { download, seenIds: ck.seenIds, csvHeader: ck.csvHeader ?? null };
}

class LookupsApi {
  #core;
  constructor(core) {
    this.#core = core;
  }

  /**
   * One call: `{ data, after, before, limit, totalCount, totalCountCapExceeded }`. Paginated
   * lookups take `{ afterCursor, limit }`; the others answer everything at once.
   */
  async get(name, opts = {}) {
    return this.#core.lookup(name, opts);
  }

  /** Walks the cursor pages to the end: an async iterator of pages. */
  pages(name, opts = {}) {
    const { signal, ...rest } = opts;
    return iterate((push, sig) => this.#core.lookupPages(name, { ...rest, signal: sig, onPage: (p) => (sig.aborted ? undefined : push(p)) }), signal);
  }

  /** Every item of a lookup, all pages walked. */
  async all(name, opts = {}) {
    const items = [];
    for await (const p of this.pages(name, opts)) {
      for (const x of p.data) items.push(x);
    }
    return items;
  }
}
