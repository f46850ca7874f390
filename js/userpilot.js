// The Userpilot client: `client.exports` (Bulk Data Export jobs and their files) and
// `client.lookups` (the twelve lookups, with cursor pages as an async iterator).
import { batchRows, invalidArgument, iterate, jobIdOf, paramsText, requireReady, toExportError, wasm } from "./runtime.js";
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
   * A failure's ExportError carries `delivered`: `{ records, file, filename, line (JSON: the last
   * line handed over), row (CSV: data rows of that file handed over) }`.
   */
  rows(job, opts = {}) {
    const id = jobIdOf(job);
    // Files of one job overlap; an analyst counting events expects each once, so repeats are
    // dropped unless `dedupe: false` asks for every line as the vendor sent it. The CLI and the
    // dashboard share this default.
    const { signal, dedupe = true, ...rest } = opts;
    // What has been handed over, for the error if the run fails: nothing silently lost.
    const delivered = { records: 0, file: null, filename: null, line: null, row: null };
    const note = (b) => {
      delivered.records += b.format === "json" ? b.records.length : b.format === "csv" ? b.rows.length : b.rows;
      delivered.file = b.file;
      delivered.filename = b.filename;
      delivered.line = b.format === "json" ? b.lastLine : null;
      delivered.row = b.format === "csv" ? b.firstRow + b.rows.length : null;
      return b;
    };
    return iterate(async (push, sig) => {
      // Once the loop is left nobody takes another batch: hand none over, let the core stop.
      const give = (make) => (b) => (sig.aborted ? undefined : push(note(make(b))));
      try {
        return await this.#core.rows(id, {
          fetchFile: this.#fetchFile,
          ...rest,
          dedupe,
          signal: sig,
          onRecords: give((b) => ({ format: "json", file: b.file, filename: b.filename, records: JSON.parse(b.text), firstLine: b.firstLine, lastLine: b.lastLine })),
          onRows: give((b) => ({ format: "csv", file: b.file, filename: b.filename, header: b.header, rows: batchRows(b.batch), firstRow: b.batch.firstRow })),
          onCsv: give((b) => ({ format: "csv-text", file: b.file, filename: b.filename, csv: b.csv, rows: b.rows })),
        });
      } catch (e) {
        const err = toExportError(e);
        err.delivered = { ...delivered };
        throw err;
      }
    }, signal);
  }
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
