// exportkit against another build of exportkit, in one process, runs interleaved: the way to tell
// whether a change made the hot paths slower. Two full `npm run bench` runs of one build differ
// by up to 15% on a ratio (each peer's speed moves as well), so they cannot show a 3% change;
// here both builds parse the same bytes, round after round, and only exportkit is compared.
//
//   node bench/ab.mjs <other checkout>/js/index.js [--name LABEL] [--size MB] [--rounds N] [--out FILE]
//
// The other checkout must be built, e.g. for the commit before a change:
//   git worktree add /tmp/base <rev> && cp -a node_modules /tmp/base/ && (cd /tmp/base && bash scripts/build.sh) Every pair of runs must give
// the same rows, fields and characters (or the same CSV bytes), else the comparison stops.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { csv, CSV_SHAPES, gzip, jsonl, JSONL_SHAPES } from "./gen.mjs";
import { csvCountsOf } from "./csv.mjs";
import { gunzipStreamOf } from "./gzip.mjs";
import { csvSummary, jsonlCsvOf } from "./jsonl.mjs";
import { checksum, CHUNK, mbps } from "./timing.mjs";

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const otherPath = args.find((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1].startsWith("--")));
if (!otherPath) {
  console.error("usage: node bench/ab.mjs <other checkout>/js/index.js [--size MB] [--rounds N] [--out FILE]");
  process.exit(2);
}
const SIZE = Number(flag("--size", 8)) * 2 ** 20;
const ROUNDS = Number(flag("--rounds", 15));
// Best-of-ROUNDS comparisons per input, of which the median ratio is reported: one best-of on
// 30 ms runs still moves by ±5% now and then (a collection, a tier-up landing in one build's turn).
const RUNS = Number(flag("--runs", 3));
const OUT = flag("--out", "bench/RESULTS-ab.md");
const NAME = flag("--name", "the other build");

const builds = {
  other: await import(pathToFileURL(resolve(otherPath)).href),
  this: await import("../js/index.js"),
};
for (const b of Object.values(builds)) await b.default();

// What each path runs, from one build's exports (the same runners as the bench's own sections),
// and what of its result must agree between the builds.
const PATHS = {
  "CSV packed batches": { of: (ek) => csvCountsOf(ek) },
  "CSV string[][]": { of: (ek) => csvCountsOf(ek, { cells: true }) },
  "JSON Lines → CSV": { of: (ek, opts) => (bytes) => jsonlCsvOf(ek)(bytes, { csvGuard: false, ...opts }), same: csvSummary },
  "GunzipStream (64 KiB chunks)": {
    of: (ek) => (gz) => {
      const out = [];
      gunzipStreamOf(ek)(gz, (d) => out.push(d));
      return out;
    },
    same: checksum,
  },
};

const inputs = [];
for (const shape of Object.keys(CSV_SHAPES)) {
  const bytes = csv(shape, SIZE, 42);
  inputs.push({ path: "CSV packed batches", input: shape, bytes });
  inputs.push({ path: "CSV string[][]", input: shape, bytes });
}
for (const shape of JSONL_SHAPES) {
  const bytes = await jsonl(shape, SIZE, 42);
  inputs.push({ path: "JSON Lines → CSV", input: shape, bytes });
  if (shape === "activities") inputs.push({ path: "JSON Lines → CSV", input: "activities, explode participants", bytes, opts: { explode: "participants" } });
  inputs.push({ path: "GunzipStream (64 KiB chunks)", input: `${shape} (gzip)`, bytes: gzip(bytes), plain: bytes.length });
}

/** Best of `ROUNDS` for each build, the builds taking turns (which goes first alternates). */
function compare(fns, bytes, same = (r) => r) {
  const names = Object.keys(fns);
  const best = Object.fromEntries(names.map((n) => [n, Infinity]));
  const results = Object.fromEntries(names.map((n) => [n, JSON.stringify(same(fns[n](bytes)))]));
  if (results.this !== results.other) throw new Error(`the builds disagree: this ${results.this}, other ${results.other}`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of r % 2 ? [...names].reverse() : names) {
      const t0 = performance.now();
      fns[n](bytes);
      best[n] = Math.min(best[n], performance.now() - t0);
    }
  }
  return best;
}

const t0 = performance.now();
const rows = [];
for (const { path, input, bytes, plain, opts } of inputs) {
  const fns = Object.fromEntries(Object.entries(builds).map(([n, ek]) => [n, PATHS[path].of(ek, opts)]));
  const size = plain ?? bytes.length;
  const runs = [];
  for (let k = 0; k < RUNS; k++) {
    const best = compare(fns, bytes, PATHS[path].same);
    runs.push({ other: mbps(size, best.other), this: mbps(size, best.this), ratio: best.other / best.this });
  }
  runs.sort((a, b) => a.ratio - b.ratio);
  const row = { path, input, ...runs[Math.floor(runs.length / 2)], spread: [runs[0].ratio, runs.at(-1).ratio] };
  rows.push(row);
  console.log(`${path.padEnd(30)} ${input.padEnd(34)} other ${row.other.toFixed(0).padStart(5)} MB/s  this ${row.this.toFixed(0).padStart(5)} MB/s  ${row.ratio.toFixed(3)}× (${row.spread.map((r) => r.toFixed(3)).join("–")})`);
}
const secs = ((performance.now() - t0) / 1000).toFixed(0);

const byPath = {};
for (const r of rows) (byPath[r.path] ??= []).push(r.ratio);
const geo = (xs) => Math.exp(xs.reduce((a, v) => a + Math.log(v), 0) / xs.length);
const lines = [
  "# exportkit against another build (bench/ab.mjs)",
  "",
  `Command: \`node bench/ab.mjs ${otherPath} --name ${NAME} --size ${SIZE / 2 ** 20} --rounds ${ROUNDS}\` · ${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${secs} s`,
  "",
  `Both builds in one process on the same bytes (${SIZE / 2 ** 20} MB per input, fed in ${CHUNK / 1024} KiB chunks), best of ${ROUNDS} rounds taking turns, ${RUNS} times, the median ratio reported with the range of the ${RUNS}; each pair of runs gave the same rows, fields and characters or the same output bytes. Other: ${NAME}. Ratio: this build ÷ the other (above 1: this one is faster).`,
  "",
  "| path | input | other MB/s | this MB/s | this ÷ other | range |",
  "|---|---|---:|---:|---:|---:|",
  ...rows.map((r) => `| ${r.path} | ${r.input} | ${r.other.toFixed(0)} | ${r.this.toFixed(0)} | ${r.ratio.toFixed(3)}× | ${r.spread.map((v) => v.toFixed(3)).join("–")} |`),
  "",
  "| path | worst | geometric mean |",
  "|---|---:|---:|",
  ...Object.entries(byPath).map(([p, xs]) => `| ${p} | ${Math.min(...xs).toFixed(3)}× | ${geo(xs).toFixed(3)}× |`),
  "",
];
writeFileSync(OUT, lines.join("\n"));
console.log(`\n${lines.slice(-Object.keys(byPath).length - 3).join("\n")}\nwritten to ${OUT}`);
