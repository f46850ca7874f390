// The Backstory client: the Query API here, the other Backstory APIs as namespaces
// (`client.activities`, `client.forecasts`) sharing one login and token cache.
import { ActivitiesApi } from "./activities.js";
import { ForecastsApi } from "./forecasts.js";
import { batchRows, ExportError, iterate, memoryStore, requireReady, tag, wasm } from "./runtime.js";

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
    const proxyUrl = options.proxyUrl;
    const baseUrl = proxyUrl ?? options.baseUrl ?? DEFAULT_BASE_URL;
    // Behind the edge worker the page holds no secret: the worker adds the credentials.
    const fields = proxyUrl !== undefined ? ["proxyUrl"] : ["baseUrl", "clientId", "clientSecret"];
    for (const k of fields) {
      const v = k === "baseUrl" ? baseUrl : options[k];
      if (typeof v !== "string") {
        throw new ExportError(`invalid \`${k}\`: must be a string`, { code: "E_INVALID_ARGUMENT", field: k });
      }
    }
    const ttl = options.cacheTtlMs ?? 0;
    if (typeof ttl !== "number" || !(ttl >= 0)) {
      throw new ExportError("invalid `cacheTtlMs`: must be a number >= 0", { code: "E_INVALID_ARGUMENT", field: "cacheTtlMs" });
    }
    this.#core =
      proxyUrl !== undefined
        ? wasm.BackstoryCore.viaProxy(proxyUrl)
        : new wasm.BackstoryCore(baseUrl, options.clientId, options.clientSecret);
    this.#quotaStore = options.quotaStore ?? memoryStore();
    this.#quotaKey = `exportkit:query-quota:${tag(`${baseUrl}\n${options.clientId ?? "proxy"}`)}`;
    this.#cacheTtlMs = ttl;
    this.activities = new ActivitiesApi(this.#core);
    this.forecasts = new ForecastsApi(this.#core);
  }

  /** Validates a query before any call is spent; returns it in canonical wire form. */
  validateQuery(query) {
    return JSON.parse(this.#canonical(query));
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
      skipEmptyLines: opts.skipEmptyLines,
      timeoutMs: opts.timeoutMs,
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
    const canonical = this.#canonical(query);
    const ttl = opts.cacheTtlMs ?? this.#cacheTtlMs;
    // Rows kept with skipEmptyLines are not the rows of the same query without it.
    const key = opts.skipEmptyLines ? `${canonical}\n${opts.skipEmptyLines}` : canonical;
    const hit = this.#cache.get(key);
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
    const out = await this.#core.query(
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
    if (!collect) return { ...out, fromCache: false };
    csv += decoder.decode();
    const result = { ...out, rows, csv, fromCache: false };
    if (ttl > 0) this.#cache.set(key, { at: Date.now(), result });
    return result;
  }

  /**
   * Streams a Query API export as an async iterator of `{ header, rows, missingColumns }`
   * batches; memory stays bounded by the batch size. `iterator.result()` resolves to the summary.
   */
  queryBatches(query, opts = {}) {
    const canonical = this.#canonical(query);
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

export function variation(slug, period) {
  requireReady();
  return wasm.variation(slug, period);
}

// From the Rust providers through the wasm (js/vocabulary.js): filled by `init()`.
export { BACKSTORY_PERIODS as PERIODS, BACKSTORY_OBJECTS as OBJECTS } from "./vocabulary.js";

/** The out-of-the-box slugs the client knows for an object: `[{ slug, label, timeBased }]`. */
export function knownSlugs(object) {
  requireReady();
  return wasm.knownSlugs(object);
}
