// Loading the parse module (pkg-parse/: CSV, JSON Lines, gzip, the CSV writer). A page that only
// parses loads this module and never the client module (pkg/): `exportkit/parse` is built on
// this file alone, and the root entry's `init()` loads it first (js/runtime.js).
import initWasm, * as wasm from "../pkg-parse/exportkit_parse.js";
import { ExportError } from "./shared.js";

export { wasm };
export { batchRows, bytesOf, ExportError, invalidArgument, optionsObject, toExportError } from "./shared.js";

let ready = null;
/** The instance's raw exports (their `memory` is what js/staging.js reads and writes). */
let instance = null;

/** The parse module's memory (after init). */
export const memory = () => instance.memory;

/** Whether the parse module is instantiated. */
export const parseLoaded = () => instance !== null;

/**
 * Loads the parse module once. `input` may be a `WebAssembly.Module`, bytes, a `Response` or a
 * URL; without it, the file next to the package (`new URL(..., import.meta.url)`, the form
 * bundlers see and emit), read from disk when that is a file: URL (Node reaching the file by path).
 */
export default function initParse(input) {
  if (!ready) {
    ready = (async () => {
      if (input !== undefined) return initWasm({ module_or_path: await input });
      const url = new URL("../pkg-parse/exportkit_parse_bg.wasm", import.meta.url);
      // Looked up at run time, never imported, so no bundler resolves it.
      const fs = url.protocol === "file:" && globalThis.process?.getBuiltinModule?.("fs/promises");
      return initWasm({ module_or_path: fs ? await fs.readFile(url) : url });
    })().then((exports) => {
      instance = exports;
      wasm.registerExportError(ExportError);
      return exports;
    }).catch((e) => {
      ready = null;
      throw e;
    });
  }
  return ready;
}

/** Synchronous init for runtimes that already hold the compiled module (workerd). */
export function initParseSync(module) {
  if (instance) return instance;
  instance = wasm.initSync({ module });
  wasm.registerExportError(ExportError);
  ready = Promise.resolve(instance);
  return instance;
}

export function requireReady() {
  if (!instance) throw new ExportError("call `await init()` before using exportkit", { code: "E_INVALID_ARGUMENT", field: "init" });
}
