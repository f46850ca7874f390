// Backstory Forecasting Query API (`client.forecasts`, issue 4): the pages of a query as an async
// iterator, everything gathered, and the records as a flat table or CSV. The core fetches pages
// with a bounded number in flight and hands them over in order; this file adds the JavaScript
// idioms (iterators, objects) around it.
import { invalidArgument, iterate, optionsObject, paramsText, requireReady, toExportError, wasm } from "./runtime.js";

/** Parameters checked and in the vendor's wire form, or an ExportError naming the field. */
export function validateForecastParams(params) {
  requireReady();
  return JSON.parse(wasm.BackstoryCore.validateForecastParams(paramsText(params)));
}

// Records cross into the core a page at a time: V8 first runs WebAssembly unoptimised and swaps
// in optimised code between calls, so one huge call runs slow throughout (24 s against 3 s for
// 100k records, measured); it also keeps each string crossing small.
const CHUNK = 1000;

function pushRecords(t, records, keep) {
  if (!Array.isArray(records)) {
    throw invalidArgument("records", "must be an array of forecast records");
  }
  for (let i = 0; i < records.length || i === 0; i += CHUNK) t.push(JSON.stringify(records.slice(i, i + CHUNK)), keep);
}

function withTable(fn, opts) {
  requireReady();
  const t = new wasm.ForecastTable(opts);
  try {
    return fn(t);
  } finally {
    t.free();
  }
}

/**
 * Forecast records as a table: one row per record (a node at a snapshot), the record's own
 * properties, then one column per forecast field (`fields.<slug>.value`) over the union of the
 * fields of all records, `null` where a record lacks one. `{ columns: string[], rows: any[][] }`.
 */
export function forecastTable(records) {
  return withTable((t) => {
    pushRecords(t, records, true);
    return JSON.parse(t.toJson());
  });
}

/**
 * The same table as CSV text (RFC 4180, CRLF line ends, empty cells for null). Cells a spreadsheet
 * would run as formulas get a leading apostrophe unless `{ csvGuard: false }`.
 */
export function forecastCsv(records, opts) {
  return withTable((t) => {
    pushRecords(t, records, true);
    return t.toCsv();
  }, opts);
}

/**
 * CSV in bounded memory for callers that cannot hold every record: `observe(records)` each page
 * as it arrives (only the columns are kept), then `header()` and `rows(records)` for each page in
 * a second pass (from wherever the caller spooled them). Records may be given as an array or as
 * its JSON text. `free()` when done.
 */
export class ForecastCsvWriter {
  #t;
  /** `opts`: `{ csvGuard: true }` (false: cells as they are). */
  constructor(opts) {
    requireReady();
    this.#t = new wasm.ForecastTable(opts);
  }

  observe(records) {
    if (typeof records === "string") this.#t.push(records, false);
    else pushRecords(this.#t, records, false);
  }
  columns() {
    return this.#t.columns();
  }
  header() {
    return this.#t.csvHeader();
  }
  rows(records) {
    return this.#t.csvRows(typeof records === "string" ? records : JSON.stringify(records));
  }
  free() {
    this.#t?.free();
    this.#t = null;
  }
}

/** A run's failure as an ExportError that says which pages had been handed over. */
async function failingWith(run, delivered) {
  try {
    return await run;
  } catch (e) {
    const err = toExportError(e);
    err.delivered = { ...delivered };
    throw err;
  }
}

function toPage(p, firstTotal) {
  return {
    page: p.page,
    pageLast: p.pageLast,
    totalCount: p.totalCount,
    limit: p.limit,
    records: JSON.parse(p.body),
    // The data moved since the first page: records may repeat or be missing across pages.
    totalChanged: firstTotal !== null && p.totalCount !== null && p.totalCount !== firstTotal,
  };
}

export class ForecastsApi {
  #core;
  constructor(core) {
    this.#core = core;
  }

  /** Checks parameters before any call; returns them in wire form (snake_case). */
  validate(params) {
    return validateForecastParams(params);
  }

  /** Checks the parameters now; returns `(onPage, signal) => Promise<summary>`. */
  #prepare(params, opts) {
    const body = wasm.BackstoryCore.validateForecastParams(paramsText(params));
    return (onPage, signal) =>
      this.#core.forecastQuery(body, {
        path: opts.path,
        concurrency: opts.concurrency,
        maxPages: opts.maxPages,
        signal,
        timeoutMs: opts.timeoutMs,
        onProgress: opts.onProgress,
        onTotalChange: opts.onTotalChange,
        onPage,
      });
  }

  /**
   * Every page of a query, in order, as an async iterator of `{ page, pageLast, totalCount,
   * limit, records, totalChanged }`. Later pages are fetched while you handle the current one
   * (`concurrency`, default 4, at most 6). Parameters are checked before any call: a bad one
   * throws here. `iterator.result()` resolves to `{ pages, records, totalCount, pageLast,
   * totalChanges, complete }`. Options: `{ signal, timeoutMs, path, concurrency, maxPages,
   * onProgress, onTotalChange }`.
   */
  query(params, opts) {
    const o = optionsObject(opts);
    const start = this.#prepare(params, o);
    let firstTotal = null;
    const delivered = { pages: 0, records: 0, page: null };
    return iterate(
      (push, signal) =>
        failingWith(
          start((p) => {
            if (firstTotal === null) firstTotal = p.totalCount;
            const page = toPage(p, firstTotal);
            delivered.pages += 1;
            delivered.records += page.records.length;
            delivered.page = page.page;
            return push(page);
          }, signal),
          delivered,
        ),
      o.signal,
    );
  }

  /**
   * Gathers every record: `{ records, pages, totalCount, pageLast, totalChanges, complete,
   * table(), toCsv() }`. `totalChanges` lists each change of the total between pages (then
   * records may repeat or be missing: run again for a consistent set).
   */
  async all(params, opts) {
    const o = optionsObject(opts);
    const records = [];
    const delivered = { pages: 0, records: 0, page: null };
    const start = this.#prepare(params, o);
    const summary = await failingWith(
      start((p) => {
        const page = JSON.parse(p.body);
        for (let i = 0; i < page.length; i++) records.push(page[i]);
        delivered.pages += 1;
        delivered.records += page.length;
        delivered.page = p.page;
      }, o.signal),
      delivered,
    );
    return {
      records,
      pages: summary.pages,
      totalCount: summary.totalCount,
      pageLast: summary.pageLast,
      totalChanges: summary.totalChanges,
      complete: summary.complete,
      table: () => forecastTable(records),
      toCsv: (csvOpts) => forecastCsv(records, csvOpts),
    };
  }

  /** The flat table of any records (see `forecastTable`). */
  table(records) {
    return forecastTable(records);
  }

  /** CSV of any records (see `forecastCsv`); `{ csvGuard: false }` keeps cells raw. */
  toCsv(records, opts) {
    return forecastCsv(records, opts);
  }
}
