// exportkit's JavaScript face: the wasm core (pkg/) plus the idioms Rust cannot express well:
// async iterators, a result cache, default stores, and errors that are real `ExportError`s.
import initWasm, * as wasm from "../pkg/exportkit.js";

let ready = null;

/**
 * Loads the WebAssembly module once. In a page or a worker it fetches `exportkit_bg.wasm` next to
 * the module; in Node it reads the file; `input` may be a `WebAssembly.Module`, bytes or a URL
 * (an edge worker passes its bundled module).
 */
export default function init(input) {
  if (!ready) {
    ready = (async () => {
      if (input !== undefined) return initWasm({ module_or_path: await input });
      if (typeof process !== "undefined" && process.versions && process.versions.node) {
        const { readFile } = await import("node:fs/promises");
        const bytes = await readFile(new URL("../pkg/exportkit_bg.wasm", import.meta.url));
        return initWasm({ module_or_path: bytes });
      }
      return initWasm();
    })().catch((e) => {
      ready = null;
      throw e;
    });
  }
  return ready;
}

/** Synchronous init for runtimes that already hold the compiled module (workerd). */
export function initSync(module) {
  wasm.initSync({ module });
  ready = Promise.resolve();
}

/** The error every exportkit call rejects with. Branch on `code`. */
export class ExportError extends Error {
  constructor(message, props = {}) {
    super(message, props.cause !== undefined ? { cause: props.cause } : undefined);
    this.name = "ExportError";
    this.code = props.code || "E_INTERNAL";
    for (const k of ["status", "field", "retryAfterMs", "line", "column", "resetsAtMs", "limit", "jobId", "state"]) {
      if (props[k] !== undefined) this[k] = props[k];
    }
  }
}

const ERROR_PROPS = ["code", "status", "field", "retryAfterMs", "line", "column", "resetsAtMs", "limit", "jobId", "state"];

/** Turns whatever the core threw into an ExportError (a wasm trap becomes E_INTERNAL). */
export function toExportError(e) {
  if (e instanceof ExportError) return e;
  if (e && e.name === "ExportError" && typeof e.code === "string") {
    const props = {};
    for (const k of ERROR_PROPS) if (e[k] !== undefined) props[k] = e[k];
    return new ExportError(e.message, props);
  }
  if (e && (e.name === "AbortError" || e.name === "TimeoutError")) {
    return new ExportError("aborted", { code: "E_ABORTED", cause: e });
  }
  return new ExportError(`internal error: ${e && e.message ? e.message : String(e)}`, { code: "E_INTERNAL", cause: e });
}

function requireReady() {
  if (!ready) throw new ExportError("call `await init()` before using exportkit", { code: "E_INVALID_ARGUMENT", field: "init" });
}

/** A store that lives as long as the page or process. */
export function memoryStore() {
  const m = new Map();
  return { get: (k) => (m.has(k) ? m.get(k) : null), set: (k, v) => void m.set(k, v) };
}

/** A store over `localStorage` (the page's default for the daily call count; never for secrets). */
export function localStorageStore(storage = globalThis.localStorage) {
  if (!storage) return memoryStore();
  return {
    get: (k) => storage.getItem(k),
    set: (k, v) => {
      try {
        storage.setItem(k, v);
      } catch (_) {
        // Storage full or denied: the count falls back to this session's memory.
      }
    },
  };
}

/** Expands a packed batch from the core into `string[][]`. */
export function batchRows(batch) {
  const { text, fieldEnds, rowEnds } = batch;
  const rows = new Array(rowEnds.length);
  let f = 0;
  let start = 0;
  for (let r = 0; r < rowEnds.length; r++) {
    const end = rowEnds[r];
    const row = new Array(end - f);
    for (let i = 0; f < end; f++, i++) {
      const e = fieldEnds[f];
      row[i] = text.slice(start, e);
      start = e;
    }
    rows[r] = row;
  }
  return rows;
}

// FNV-1a: a short, stable, non-reversible tag so storage keys never hold a client id.
function tag(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * Turns a callback-driven producer into an async iterator with backpressure: the producer's
 * `push(item)` resolves only once the consumer has taken the item. Breaking out of the loop
 * aborts the producer through the signal it is given.
 */
function iterate(produce, outerSignal) {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(outerSignal.reason);
  if (outerSignal) {
    if (outerSignal.aborted) ctrl.abort(outerSignal.reason);
    else outerSignal.addEventListener("abort", onAbort, { once: true });
  }
  const items = [];
  let wake = null;
  let finished = false;
  let failure = null;
  let result;
  const signalWake = () => {
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const push = (item) =>
    new Promise((taken) => {
      items.push({ item, taken });
      signalWake();
    });
  const run = produce(push, ctrl.signal).then(
    (r) => {
      result = r;
      finished = true;
      signalWake();
    },
    (e) => {
      failure = e;
      finished = true;
      signalWake();
    },
  );
  const it = {
    result: () => run.then(() => result),
    async next() {
      for (;;) {
        if (items.length) {
          const { item, taken } = items.shift();
          taken();
          return { value: item, done: false };
        }
        if (finished) {
          if (outerSignal) outerSignal.removeEventListener("abort", onAbort);
          if (failure) throw toExportError(failure);
          return { value: undefined, done: true };
        }
        await new Promise((r) => (wake = r));
      }
    },
    async return() {
      if (!finished) ctrl.abort(new ExportError("iteration stopped", { code: "E_ABORTED" }));
      for (const { taken } of items.splice(0)) taken();
      await run;
      if (outerSignal) outerSignal.removeEventListener("abort", onAbort);
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return it;
}

const DEFAULT_BASE_URL = "https://api.people.ai";

/** Client for the Backstory (formerly People.ai) APIs. */
export class BackstoryClient {
  #core;
  #quotaStore;
  #quotaKey;
  #cacheTtlMs;
  #cache = new Map();

  /**
   * @param {object} options
   * @param {string} [options.baseUrl] default https://api.people.ai
   * @param {string} options.clientId
   * @param {string} options.clientSecret
   * @param {{get(k:string):string|null, set(k:string,v:string):void}} [options.quotaStore] where the daily call count lives
   * @param {number} [options.cacheTtlMs] reuse a result of the same query for this long (0: never)
   */
  constructor(options = {}) {
    requireReady();
    if (options === null || typeof options !== "object") {
      throw new ExportError("invalid `options`: must be an object", { code: "E_INVALID_ARGUMENT", field: "options" });
    }
    const baseUrl = options.baseUrl ?? DEFAULT_BASE_URL;
    for (const k of ["baseUrl", "clientId", "clientSecret"]) {
      const v = k === "baseUrl" ? baseUrl : options[k];
      if (typeof v !== "string") {
        throw new ExportError(`invalid \`${k}\`: must be a string`, { code: "E_INVALID_ARGUMENT", field: k });
      }
    }
    const ttl = options.cacheTtlMs ?? 0;
    if (typeof ttl !== "number" || !(ttl >= 0)) {
      throw new ExportError("invalid `cacheTtlMs`: must be a number >= 0", { code: "E_INVALID_ARGUMENT", field: "cacheTtlMs" });
    }
    try {
      this.#core = new wasm.BackstoryCore(baseUrl, options.clientId, options.clientSecret);
    } catch (e) {
      throw toExportError(e);
    }
    this.#quotaStore = options.quotaStore ?? memoryStore();
    this.#quotaKey = `exportkit:query-quota:${tag(`${baseUrl}\n${options.clientId}`)}`;
    this.#cacheTtlMs = ttl;
  }

  /** Validates a query before any call is spent; returns it in canonical wire form. */
  validateQuery(query) {
    try {
      return JSON.parse(wasm.BackstoryCore.validateQuery(typeof query === "string" ? query : JSON.stringify(query)));
    } catch (e) {
      throw toExportError(e);
    }
  }

  /** Calls left today (of 10), as counted on this side. */
  callsLeftToday() {
    return wasm.BackstoryCore.callsLeft(this.#quotaStore.get(this.#quotaKey) ?? undefined);
  }

  #coreOptions(opts, handlers) {
    return {
      force: !!opts.force,
      strict: !!opts.strict,
      batchRows: opts.batchRows,
      signal: handlers.signal ?? opts.signal,
      quotaLoad: () => this.#quotaStore.get(this.#quotaKey),
      quotaSave: (v) => this.#quotaStore.set(this.#quotaKey, v),
      onProgress: opts.onProgress,
      ...handlers,
    };
  }

  #canonical(query) {
    return wasm.BackstoryCore.validateQuery(typeof query === "string" ? query : JSON.stringify(query));
  }

  /**
   * Runs a Query API export and gathers it: `{ header, rows, csv, rowCount, missingColumns,
   * fromCache, callsLeft, errors }`. Spends one of the day's ten calls unless a cached result of
   * the same query is fresh.
   */
  async query(query, opts = {}) {
    let canonical;
    try {
      canonical = this.#canonical(query);
    } catch (e) {
      throw toExportError(e);
    }
    const ttl = opts.cacheTtlMs ?? this.#cacheTtlMs;
    const hit = this.#cache.get(canonical);
    if (ttl > 0 && hit && Date.now() - hit.at <= ttl && !opts.refresh) {
      if (opts.onProgress) opts.onProgress({ phase: "done", bytes: hit.result.bytes, rows: hit.result.rowCount });
      return { ...hit.result, fromCache: true, callsLeft: this.callsLeftToday() };
    }
    // `collect: false` keeps neither rows nor text: for callers that stream the bytes elsewhere
    // (`onRawChunk`) or consume `onBatch`, so memory stays bounded by the batch size.
    const collect = opts.collect !== false;
    const rows = [];
    const decoder = new TextDecoder();
    let csv = "";
    let out;
    try {
      out = await this.#core.query(
        canonical,
        this.#coreOptions(opts, {
          onBatch: (b) => {
            if (!collect && !opts.onBatch) return;
            const r = batchRows(b);
            if (collect) for (let i = 0; i < r.length; i++) rows.push(r[i]);
            if (opts.onBatch) return opts.onBatch(r);
          },
          onRaw: (bytes) => {
            if (collect) csv += decoder.decode(bytes, { stream: true });
            if (opts.onRawChunk) opts.onRawChunk(bytes);
          },
        }),
      );
    } catch (e) {
      throw toExportError(e);
    }
    if (!collect) return { ...out, fromCache: false };
    csv += decoder.decode();
    const result = { ...out, rows, csv, fromCache: false };
    if (ttl > 0) this.#cache.set(canonical, { at: Date.now(), result });
    return result;
  }

  /**
   * Streams a Query API export as an async iterator of `{ header, rows, missingColumns }`
   * batches; memory stays bounded by the batch size. `iterator.result()` resolves to the summary.
   */
  queryBatches(query, opts = {}) {
    let canonical;
    try {
      canonical = this.#canonical(query);
    } catch (e) {
      throw toExportError(e);
    }
    let header = null;
    let missing = [];
    return iterate(
      (push, signal) =>
        this.#core.query(
          canonical,
          this.#coreOptions(opts, {
            signal,
            onHeader: (h, m) => {
              header = h;
              missing = m;
            },
            onBatch: (b) => push({ header, missingColumns: missing, firstRow: b.firstRow, rows: batchRows(b) }),
          }),
        ),
      opts.signal,
    );
  }
}

/**
 * Parses CSV text or bytes in one go, Papa Parse style: `{ data, errors, meta: { fields } }`.
 * For large inputs prefer `CsvStreamParser` and push chunks as they arrive.
 */
export function parseCsv(input, opts = {}) {
  requireReady();
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  if (!(bytes instanceof Uint8Array)) {
    throw new ExportError("invalid `input`: must be a string or a Uint8Array", { code: "E_INVALID_ARGUMENT", field: "input" });
  }
  try {
    const p = new wasm.CsvStreamParser(opts);
    const data = [];
    for (const b of [...p.push(bytes), ...p.finish()]) {
      const r = batchRows(b);
      for (let i = 0; i < r.length; i++) data.push(r[i]);
    }
    const meta = p.takeMeta();
    const fields = p.header();
    p.free();
    return { data, errors: meta.errors, meta: { fields, rows: meta.rows, bytes: meta.bytes } };
  } catch (e) {
    throw toExportError(e);
  }
}

export const CsvStreamParser = wasm.CsvStreamParser;

export function variation(slug, period) {
  requireReady();
  try {
    return wasm.variation(slug, period);
  } catch (e) {
    throw toExportError(e);
  }
}

export const PERIODS = Object.freeze(["last_7_days", "last_30_days", "last_90_days", "current_quarter", "last_quarter"]);
export const OBJECTS = Object.freeze(["account", "opportunity", "user", "activity"]);

/** The out-of-the-box slugs the client knows for an object: `[{ slug, label, timeBased }]`. */
export function knownSlugs(object) {
  requireReady();
  return wasm.knownSlugs(object);
}
