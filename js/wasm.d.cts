// Types for `exportkit/exportkit_bg.wasm`: the compiled core as the importing tool hands it over,
// a URL string from a bundler's file/asset loader (esbuild `--loader:.wasm=file`, Vite `?url`) or
// a `WebAssembly.Module` under workerd's CompiledWasm rule. Either is what `init()` takes.
declare const wasm: string | WebAssembly.Module;
export default wasm;
