// The package's `workerd` entry (Cloudflare Workers, wrangler, miniflare): the wasm arrives as a
// compiled module import (wrangler's CompiledWasm rule, the default for `*.wasm`): both modules,
// the parse module instantiated synchronously at load (so `init()` resolves at once), the client
// module when the first client is made. workerd cannot fetch a file next to the script, which is
// what the browser entry's `init()` would try.
import parseModule from "../pkg-parse/exportkit_parse_bg.wasm";
import wasmModule from "../pkg/exportkit_bg.wasm";
import initWasm, { initSync } from "./runtime.js";

initSync({ parse: parseModule, client: wasmModule });

export * from "./index.js";

/** Already initialised at import; kept so code written for the other entries runs unchanged. */
export default function init(input) {
  return initWasm(input);
}

export { init };
