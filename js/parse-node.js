// `exportkit/parse` for Node (ESM; the CommonJS build dist/parse.cjs is this file bundled):
// `init()` reads the parse module from disk.
import { readFile } from "node:fs/promises";
import initParse from "./parse-runtime.js";

export * from "./parse.js";

/** Loads the parse module once: `input` as in js/parse.js, else the package's own file. */
export default function init(input) {
  return initParse(input ?? readFile(new URL("../pkg-parse/exportkit_parse_bg.wasm", import.meta.url)));
}

export { init };
