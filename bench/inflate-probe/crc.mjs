import { readFileSync } from "node:fs";
import zlib from "node:zlib";
const { instance } = await WebAssembly.instantiate(readFileSync(new URL("./target/wasm32-unknown-unknown/release/inflbench.wasm", import.meta.url)));
const w = instance.exports;
const n = 16 << 20; const p = w.alloc(n); const v = new Uint8Array(w.memory.buffer, p, n); for (let i = 0; i < n; i++) v[i] = (i * 2654435761) >>> 24;
if (w.crc_fast(p, n) !== w.crc_zrs(p, n) || (w.crc_fast(p, n) >>> 0) !== (zlib.crc32(v) >>> 0)) throw new Error("crc mismatch");
const t = { crc32fast: Infinity, zlibRsCrc: Infinity };
for (let r = 0; r < 15; r++) { let t0 = performance.now(); w.crc_fast(p, n); t.crc32fast = Math.min(t.crc32fast, performance.now() - t0); t0 = performance.now(); w.crc_zrs(p, n); t.zlibRsCrc = Math.min(t.zlibRsCrc, performance.now() - t0); }
console.log(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, `${Math.round(16 / (v / 1000))} MB/s`])));
