// Shared by every client: loading the wasm, ExportError, stores, packed batches, async iterators.
import initWasm, * as wasm from "../pkg/exportkit.js";
import { fillVocabulary } from "./vocabulary.js";

export { wasm };

let ready = null;
/** The instance's raw exports (their `memory` is what js/staging.js reads and writes). */
let instance = null;

/** The wasm instance's memory (after init). */
export const memory = () => instance.memory;

/**
 * Loads the WebAssembly module once. `input` may be a `WebAssembly.Module`, bytes, a `Response`
 * or a URL (an edge worker passes its bundled module). Without it the wasm is the file next to
 * the package, named by `new URL(..., import.meta.url)`: the form Vite, webpack and Rollup see,
 * emit and rewrite, and that a page fetches as is. Node's package entry (js/node.js) passes the
 * file's bytes instead; this module itself imports nothing from `node:`, so a browser bundle of
 * it never meets one.
 */
export default function init(input) {
  if (!ready) {
    ready = (async () => {
      if (input !== undefined) return initWasm({ module_or_path: await input });
      const url = new URL("../pkg/exportkit_bg.wasm", import.meta.url);
      // Node reaching this file by path rather than through the package's `node` entry (the
      // repository's own tests do): fetch() cannot read a file: URL, so read it. The builtin is
      // looked up at run time, never imported, so no bundler resolves it.
      const fs = url.protocol === "file:" && globalThis.process?.getBuiltinModule?.("fs/promises");
      return initWasm({ module_or_path: fs ? await fs.readFile(url) : url });
    })().then((exports) => {
      instance = exports;
      registerErrorClass();
      fillVocabulary();
      return exports;
    }).catch((e) => {
      ready = null;
      throw e;
    });
  }
  return ready;
}

/** Synchronous init for runtimes that already hold the compiled module (workerd). */
export function initSync(module) {
  instance = wasm.initSync({ module });
  registerErrorClass();
  fillVocabulary();
  ready = Promise.resolve(instance);
}

// The core throws instances of this module's ExportError (src/wasm/errors.rs builds them through
// the class registered here), so nothing in js/ has to catch and rebuild a core error.
function registerErrorClass() {
  wasm.registerExportError(ExportError);
}

/** The error every exportkit call rejects with. Branch on `code`. */
/** The fields an ExportError may carry besides `code` and `cause` (one list for both uses below). */
const ERROR_FIELDS = ["status", "field", "retryAfterMs", "line", "column", "resetsAtMs", "limit", "jobId", "state", "host", "fragment", "file"];

export class ExportError extends Error {
  constructor(message, props = {}) {
    super(message, props.cause !== undefined ? { cause: props.cause } : undefined);
    this.name = "ExportError";
    this.code = props.code || "E_INTERNAL";
    for (const k of ERROR_FIELDS) {
      if (props[k] !== undefined) this[k] = props[k];
    }
  }
}

const ERROR_PROPS = ["code", ...ERROR_FIELDS];

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

export function requireReady() {
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

/** An E_INVALID_ARGUMENT error naming the field. */
export const invalidArgument = (field, reason) => new ExportError(`invalid \`${field}\`: ${reason}`, { code: "E_INVALID_ARGUMENT", field });

/** Vendor parameters as the JSON text the core reads: an object, or JSON text already. */
export function paramsText(params) {
  if (typeof params === "string") return params;
  if (params === null || typeof params !== "object" || Array.isArray(params)) throw invalidArgument("params", "must be an object");
  return JSON.stringify(params);
}

/** An options argument: absent is `{}`, anything but an object is refused. */
export function optionsObject(opts) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== "object") throw invalidArgument("options", "must be an object");
  return opts;
}

/** A job's id from the job object a client returned, or the id itself. */
export function jobIdOf(job) {
  const id = typeof job === "string" ? job : job && typeof job === "object" ? job.jobId : undefined;
  if (typeof id !== "string" || id === "") throw invalidArgument("jobId", "pass a job from start() or list(), or its jobId");
  return id;
}

/** Input as bytes: a Uint8Array as is, a string as UTF-8. */
export function bytesOf(input) {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  if (!(bytes instanceof Uint8Array)) throw invalidArgument("input", "must be a string or a Uint8Array");
  return bytes;
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
export function tag(s) {
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
 * aborts the producer through the signal it is given. `produce(push, signal, mark)`: `mark(fn)`
 * has `fn` run in order with the items, once the consumer has handled every item before it.
 */
export function iterate(produce, outerSignal) {
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
  // Once the consumer has stopped, a producer still pushing must not wait for a taker that will
  // never come: its pushes resolve at once (and the abort signal tells it to stop).
  let stopped = false;
  const push = (item) =>
    stopped
      ? Promise.resolve()
      : new Promise((taken) => {
          items.push({ item, taken });
          signalWake();
        });
  // A mark (a checkpoint's callback) waits in line with the items: it runs inside the consumer's
  // `next()`, so only once every item pushed before it has been through the consumer's loop body.
  // Marks with no item between them: only the newest runs.
  const mark = (fn) => {
    if (stopped) return;
    const last = items[items.length - 1];
    if (last && last.mark) last.mark = fn;
    else items.push({ mark: fn });
    signalWake();
  };
  const run = produce(push, ctrl.signal, mark).then(
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
          const { item, taken, mark: m } = items.shift();
          if (m) {
            try {
              m();
            } catch (e) {
              // A checkpoint that cannot be kept ends the run: going on would deliver data no
              // checkpoint covers. The caller's exception is the cause, as for any callback.
              const err = e instanceof ExportError ? e : new ExportError(`invalid \`onCheckpoint\`: threw: ${e && e.message ? e.message : String(e)}`, { code: "E_INVALID_ARGUMENT", field: "onCheckpoint", cause: e });
              if (!finished) ctrl.abort(err);
              stopped = true;
              for (const x of items.splice(0)) x.taken?.();
              await run;
              if (outerSignal) outerSignal.removeEventListener("abort", onAbort);
              throw err;
            }
            continue;
          }
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
      stopped = true;
      if (!finished) ctrl.abort(new ExportError("iteration stopped", { code: "E_ABORTED" }));
      for (const { taken } of items.splice(0)) taken?.();
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

/** `[start, end)` of each record of CSV text (a quoted field may hold line ends). */
export function csvRecords(text) {
  const out = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) {
      out.push([start, i + 1]);
      start = i + 1;
    }
  }
  if (start < text.length) out.push([start, text.length]);
  return out;
}

/** The fields of one CSV record, unquoted. */
export function csvFields(rec) {
  const fields = [];
  let cur = "";
  let quoted = false;
  const end = rec.endsWith("\r\n") ? rec.length - 2 : rec.endsWith("\n") ? rec.length - 1 : rec.length;
  for (let i = 0; i < end; i++) {
    const c = rec[i];
    if (quoted) {
      if (c === '"' && rec[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(cur);
      cur = "";
    } else cur += c;
  }
  fields.push(cur);
  return fields;
}

/**
 * The column names of a CSV header line exportkit wrote (a checkpoint keeps the line), the
 * formula guard's leading apostrophe taken off again when `guarded`.
 */
export function headerColumns(line, guarded) {
  return csvFields(line).map((c) => (guarded && /^'[=+\-@\t\r]/.test(c) ? c.slice(1) : c));
}
