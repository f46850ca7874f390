import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { jsonl } from "../gen.mjs";
// Build first: (cd bench/inflate-probe && RUSTFLAGS="-C target-feature=+simd128" cargo build --release --target wasm32-unknown-unknown)
const { instance } = await WebAssembly.instantiate(readFileSync(new URL("./target/wasm32-unknown-unknown/release/inflbench.wasm", import.meta.url)));
const w = instance.exports;
function best(fn, n = 9) { let b = Infinity; for (let i = 0; i < n; i++) { const t = performance.now(); fn(); b = Math.min(b, performance.now() - t); } return b; }
for (const [name, raw] of [["flat jsonl 16MB", await jsonl("flat", 16 << 20)], ["flights-200k.json", readFileSync(new URL("../../node_modules/vega-datasets/data/flights-200k.json", import.meta.url))], ["activities 16MB", await jsonl("activities", 16 << 20)]]) {
  const gz = zlib.gzipSync(raw);
  const inp = w.alloc(gz.length); new Uint8Array(w.memory.buffer, inp, gz.length).set(gz);
  const out = w.alloc(raw.length + 16);
  const a = w.zrs(inp, gz.length, out, raw.length + 16), b = w.miniz(inp, gz.length, out, raw.length + 16);
  if (a !== raw.length || b !== raw.length) throw new Error(`bad ${a} ${b} ${raw.length}`);
  const mb = raw.length / 2 ** 20;
  const fns = { zlibGunzipSync: () => zlib.gunzipSync(gz), zlibRsWasm: () => w.zrs(inp, gz.length, out, raw.length + 16), minizOxideWasm: () => w.miniz(inp, gz.length, out, raw.length + 16) };
  const t = { zlibGunzipSync: Infinity, zlibRsWasm: Infinity, minizOxideWasm: Infinity };
  for (let r = 0; r < 15; r++) for (const [k, f] of Object.entries(fns)) { const t0 = performance.now(); f(); t[k] = Math.min(t[k], performance.now() - t0); }
  console.log(name, Object.fromEntries(Object.entries(t).map(([k, v]) => [k, `${(mb / (v / 1000)).toFixed(0)} MB/s`])), `zlib-rs÷gunzipSync ${(t.zlibGunzipSync / t.zlibRsWasm).toFixed(2)} miniz÷gunzipSync ${(t.zlibGunzipSync / t.minizOxideWasm).toFixed(2)}`);
}
