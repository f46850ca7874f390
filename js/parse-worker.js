// `exportkit/parse` for workerd: the parse module arrives compiled (wrangler's CompiledWasm rule)
// and is instantiated at import; `init()` resolves at once.
import parseModule from "../pkg-parse/exportkit_parse_bg.wasm";
import initParse, { initParseSync } from "./parse-runtime.js";

initParseSync(parseModule);

export * from "./parse.js";

/** Already initialised at import; kept so code written for the other entries runs unchanged. */
export default function init(input) {
  return initParse(input);
}

export { init };
