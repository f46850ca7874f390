// Shared by every client: loading the wasm modules, stores, async iterators. Two modules (issue
// 19): the parse module (js/parse-runtime.js), which `init()` loads, and the client module
// (pkg/: the four vendor clients), instantiated when the first client (or the vendors'
// vocabulary) is needed. Where it can be instantiated synchronously then (Node reads it from
// disk, workerd imports it compiled, or the caller passed a `WebAssembly.Module`) it is not
// fetched or compiled before; elsewhere (a page) `init()` fetches it after the parse module.
import initWasm, * as wasm from "../pkg/exportkit.js";
import initParse, { initParseSync, parseLoaded } from "./parse-runtime.js";
import { ExportError, invalidArgument, toExportError } from "./shared.js";
import { fillVocabulary } from "./vocabulary.js";

export { wasm };
export { batchRows, bytesOf, ExportError, invalidArgument, optionsObject, toExportError } from "./shared.js";

let ready = null;
/** The client instance's raw exports. */
let instance = null;
/** How to get the client module synchronously: a `WebAssembly.Module`, bytes, or a function giving either. */
let syncSource = null;

/** The client module's memory (after it is loaded). */
export const memory = () => instance.memory;

/** Whether the client module is instantiated (js/vocabulary.js fills its lists once it is). */
export const clientLoaded = () => instance !== null;

const CLIENT_URL = () => new URL("../pkg/exportkit_bg.wasm", import.meta.url);

/** Bytes of the package's own client wasm read synchronously, where it is a file (Node). */
function fileSource() {
  const url = CLIENT_URL();
  const fs = url.protocol === "file:" && globalThis.process?.getBuiltinModule?.("fs");
  return fs ? () => fs.readFileSync(url) : null;
}

const isSyncInput = (x) => x instanceof WebAssembly.Module || x instanceof Uint8Array || x instanceof ArrayBuffer;

/**
 * Loads exportkit. `input`: nothing (the package's own files), `{ parse, client }` (each a
 * `WebAssembly.Module`, bytes, a `Response` or a URL; `client` also a function that returns a
 * module or bytes synchronously), or one such value, taken as the client
 * module (`exportkit/exportkit_bg.wasm`, as before the split). Resolves once the parse functions
 * work; the clients work then too (their module loads on first use where that can be done
 * synchronously, else here).
 */
export default function init(input) {
  if (!ready) {
    const parts = input !== undefined && input !== null && typeof input === "object" && ("parse" in input || "client" in input) ? input : { client: input };
    ready = (async () => {
      await initParse(parts.parse === undefined ? undefined : await parts.parse);
      if (instance) return;
      let client = parts.client === undefined ? undefined : await parts.client;
      if (client === undefined) {
        syncSource ??= fileSource();
        if (syncSource) return;
        client = CLIENT_URL();
      } else if (isSyncInput(client) || typeof client === "function") {
        syncSource = client;
        return;
      }
      started(await initWasm({ module_or_path: client }));
    })().catch((e) => {
      ready = null;
      throw e;
    });
  }
  return ready;
}

/** Explicitly loads the client module now (a page that wants it before its first client). */
export async function initClient(input) {
  await init();
  if (instance) return;
  if (input !== undefined) started(await initWasm({ module_or_path: await input }));
  else loadClientSync();
}

/**
 * Synchronous init for runtimes that already hold the compiled modules (workerd). `{ parse,
 * client }`: the parse module instantiated now, the client module on first use. One module alone
 * (the form before the split) is the client module, instantiated now; the parse functions then
 * wait for `init()` or an `initSync({ parse })`.
 */
export function initSync(module) {
  if (module instanceof WebAssembly.Module || isSyncInput(module)) {
    syncSource = module;
    loadClientSync();
  } else {
    if (module?.parse) initParseSync(module.parse);
    if (module?.client) syncSource = module.client;
  }
  if (parseLoaded()) ready = Promise.resolve();
}

function started(exports) {
  instance = exports;
  wasm.registerExportError(ExportError);
  fillVocabulary();
}

function loadClientSync() {
  let src = typeof syncSource === "function" ? syncSource() : syncSource;
  if (src instanceof ArrayBuffer) src = new Uint8Array(src);
  started(wasm.initSync({ module: src }));
}

/** Throws unless `init()` ran; instantiates the client module if it is not yet. */
export function requireReady() {
  if (instance) return;
  if (!ready || !parseLoaded() || !syncSource) throw new ExportError("call `await init()` before using exportkit", { code: "E_INVALID_ARGUMENT", field: "init" });
  loadClientSync();
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

/** Vendor parameters as the JSON text the core reads: an object, or JSON text already. */
export function paramsText(params) {
  if (typeof params === "string") return params;
  if (params === null || typeof params !== "object" || Array.isArray(params)) throw invalidArgument("params", "must be an object");
  return JSON.stringify(params);
}

/** A job's id from the job object a client returned, or the id itself. */
export function jobIdOf(job) {
  const id = typeof job === "string" ? job : job && typeof job === "object" ? job.jobId : undefined;
  if (typeof id !== "string" || id === "") throw invalidArgument("jobId", "pass a job from start() or list(), or its jobId");
  return id;
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
