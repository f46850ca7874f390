// The package's `node` entry (ESM): everything js/index.js exports, with an `init()` that reads
// the wasm from disk (Node's fetch() cannot read a file: URL): the parse module at once, the
// client module synchronously when the first client is made. The CommonJS build
// (dist/exportkit.cjs, made by scripts/build.sh) is this module bundled.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import initWasm from "./runtime.js";

export * from "./index.js";

/** Loads exportkit once: `input` as in js/index.js, else the package's own files. */
export default function init(input) {
  if (input !== undefined) return initWasm(input);
  // The file is read once, not on every later `await init()`.
  loading ??= initWasm({
    parse: readFile(new URL("../pkg-parse/exportkit_parse_bg.wasm", import.meta.url)),
    client: () => readFileSync(new URL("../pkg/exportkit_bg.wasm", import.meta.url)),
  }).catch((e) => {
    loading = null;
    throw e;
  });
  return loading;
}

let loading = null;

export { init };
