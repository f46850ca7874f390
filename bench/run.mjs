// exportkit benchmarks: `npm run bench` (add `-- --quick` for 1 MB inputs). Every figure is a
// ratio against the fastest JavaScript peer measured in the same run on the same bytes, so it
// holds on a noisy machine. Writes bench/RESULTS.md.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import init from "../js/index.js";
import { CSV_RUNNERS } from "./csv.mjs";
import { csv, CSV_SHAPES } from "./gen.mjs";

await init();
const quick = process.argv.includes("--quick");
const MB = 1024 * 1024;
const size = quick ? 1 * MB : 32 * MB;
const repeats = quick ? 3 : 5;

function time(fn) {
  fn(); // warm-up (JIT, wasm tier-up)
  let best = Infinity;
  let result;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    result = fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result };
}

const lines = [];
const out = (s = "") => {
  lines.push(s);
  console.log(s);
};

out("# exportkit benchmark results");
out();
out(`Command: \`npm run bench${quick ? " -- --quick" : ""}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · Node ${process.version}`);
out();
out(`Best of ${repeats} runs after a warm-up. Ratios compare with the fastest JavaScript peer in the same run.`);
out();
out(`## CSV to rows (${size / MB} MB per shape)`);
out();
const names = Object.keys(CSV_RUNNERS);
out(`| shape | ${names.map((n) => `${n} MB/s`).join(" | ")} | packed ÷ best peer | string[][] ÷ uDSV |`);
out(`|---|${names.map(() => "---:").join("|")}|---:|---:|`);
const failures = [];
for (const shape of Object.keys(CSV_SHAPES)) {
  const bytes = csv(shape, size, 42);
  const res = {};
  for (const n of names) res[n] = time(() => CSV_RUNNERS[n](bytes));
  const ref = JSON.stringify(res["uDSV"].result);
  for (const n of names) {
    if (JSON.stringify(res[n].result) !== ref) failures.push(`${shape}: ${n} gave ${JSON.stringify(res[n].result)}, uDSV ${ref}`);
  }
  const mbps = (n) => bytes.length / MB / (res[n].ms / 1000);
  const peers = names.filter((n) => !n.startsWith("exportkit"));
  const best = Math.max(...peers.map(mbps));
  out(`| ${shape} | ${names.map((n) => mbps(n).toFixed(0)).join(" | ")} | ${(mbps("exportkit packed") / best).toFixed(2)}× | ${(mbps("exportkit string[][]") / mbps("uDSV")).toFixed(2)}× |`);
}
out();
if (failures.length) {
  out("**Correctness check FAILED** (row, field and character counts must agree across parsers):");
  for (const f of failures) out(`- ${f}`);
} else {
  out("Correctness: row, field and character counts agree across every parser on every shape.");
}
writeFileSync(new URL("./RESULTS.md", import.meta.url), lines.join("\n") + "\n");
if (failures.length) process.exitCode = 1;
