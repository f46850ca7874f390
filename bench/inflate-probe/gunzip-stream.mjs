import zlib from "node:zlib";
import init, { GunzipStream } from "../../js/index.js";
import { jsonl } from "../gen.mjs";
await init();
const CH = 65536;
const out = {};
for (const shape of ["flat", "activities"]) {
  const raw = await jsonl(shape, 16 << 20); const gz = zlib.gzipSync(raw);
  const fns = {
    gunzipStream64k: () => { const g = new GunzipStream(); let n = 0; for (let i = 0; i < gz.length; i += CH) n += g.push(gz.subarray(i, i + CH)).length; g.finish(); g.free(); return n; },
    gunzipStreamOneCall: () => { const g = new GunzipStream(); let n = g.push(gz).length; g.finish(); g.free(); return n; },
    zlibGunzipSync: () => zlib.gunzipSync(gz).length,
  };
  const t = {};
  for (const k in fns) { fns[k](); t[k] = Infinity; }
  for (let r = 0; r < 11; r++) for (const [k, f] of Object.entries(fns)) { const t0 = performance.now(); f(); t[k] = Math.min(t[k], performance.now() - t0); }
  const mb = raw.length / 2 ** 20;
  out[shape] = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(mb / (v / 1000))]));
  out[shape].oneCallRatio = (t.zlibGunzipSync / t.gunzipStreamOneCall).toFixed(2);
}
console.log(process.argv[2], JSON.stringify(out));
