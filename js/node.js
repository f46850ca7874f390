// The package's `node` entry (ESM): everything js/index.js exports, with an `init()` that reads
// the wasm from disk (Node's fetch() cannot read a file: URL). The CommonJS build
// (dist/exportkit.cjs, made by scripts/build.sh) is this module bundled.
import { readFile } from "node:fs/promises";
import initWasm from "./runtime.js";

export * from "./index.js";

let loading = null;

/** Loads the WebAssembly module once: `input` as in js/index.js, else the package's own file. */
export default function init(input) {
  if (input !== undefined) return initWasm(input);
  // The file is read once, not on every later `await init()`.
  loading ??= initWasm(readFile(new URL("../pkg/exportkit_bg.wasm", import.meta.url))).catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

export { init };
