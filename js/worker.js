// The package's `workerd` entry (Cloudflare Workers, wrangler, miniflare): the wasm arrives as a
// compiled module import (wrangler's CompiledWasm rule, the default for `*.wasm`), so it is
// instantiated synchronously at load and `init()` resolves at once. workerd cannot fetch a file
// next to the script, which is what the browser entry's `init()` would try.
import wasmModule from "../pkg/exportkit_bg.wasm";
import initWasm, { initSync } from "./runtime.js";

initSync(wasmModule);

export * from "./index.js";

/** Already initialised at import; kept so code written for the other entries runs unchanged. */
export default function init(input) {
  return initWasm(input);
}

export { init };
