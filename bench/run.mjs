// exportkit benchmarks: `npm run bench` writes bench/RESULTS.md. Every speed is a ratio against
// the fastest JavaScript peer measured in the same run on the same bytes, so it holds on a noisy
// machine; every section checks that all runners produced the same rows (counts and checksums).
//
//   npm run bench                      full sizes (32 MB inputs, 256 MB streaming runs): ~8 min
//   npm run bench -- --quick           4 MB inputs, no 256 MB run: about a minute
//   npm run bench -- --only jsonl,gzip some sections, printed only (RESULTS.md is left alone)
//   npm run bench -- --only real,realjsonl --out bench/RESULTS-sizes.md   ... and written there
//   npm run bench -- goals             issue 19's goals table alone: bench/RESULTS-goals.md
//
// One module per section: csv, numbers, jsonl, gzip, latency, memory, e2e, size.
import { writeFileSync } from "node:fs";
import os from "node:os";
import init from "../js/index.js";
import { csvSection } from "./csv.mjs";
import { e2eSection } from "./e2e.mjs";
import { goalsSection } from "./goals.mjs";
import { gzipSection } from "./gzip.mjs";
import { jsonlInputs, jsonlSection } from "./jsonl.mjs";
import { latencySection } from "./latency.mjs";
import { memorySection } from "./memory.mjs";
import { numbersSection } from "./numbers.mjs";
import { realJsonlSection, realSection } from "./real.mjs";
import { sizeSection } from "./size.mjs";
import { MB, Report } from "./timing.mjs";

await init();
let argv = process.argv.slice(2);
// `npm run bench -- goals`: the issue 19 goals (and the sections they are measured in) alone.
if (argv[0] === "goals") argv = ["--only", "goals", "--out", "bench/RESULTS-goals.md", ...argv.slice(1)];
const quick = argv.includes("--quick");
const onlyAt = argv.indexOf("--only");
const only = onlyAt === -1 ? null : new Set((argv[onlyAt + 1] ?? "").split(","));

const opts = {
  quick,
  repeats: quick ? 3 : 5,
  csvSize: (quick ? 4 : 32) * MB,
  jsonlSize: (quick ? 4 : 32) * MB,
  // Issue 19: every size a user meets, not only the large ones.
  realSizes: (quick ? [0.1, 1, 4] : [0.1, 1, 4, 32]).map((m) => Math.round(m * MB)),
};

let inputs = null;
const jsonl = async () => (inputs ??= await jsonlInputs(opts.jsonlSize));

const SECTIONS = {
  real: (r) => realSection(r, { sizes: opts.realSizes, repeats: opts.repeats }),
  realjsonl: (r) => realJsonlSection(r, { sizes: opts.realSizes.slice(0, 3), repeats: opts.repeats }),
  csv: (r) => csvSection(r, { size: opts.csvSize, repeats: opts.repeats }),
  numbers: (r) => numbersSection(r, { size: opts.csvSize, repeats: opts.repeats }),
  jsonl: async (r) => jsonlSection(r, { inputs: await jsonl(), repeats: opts.repeats }),
  gzip: async (r) => gzipSection(r, { inputs: await jsonl(), repeats: opts.repeats }),
  latency: (r) => latencySection(r, opts),
  memory: (r) => memorySection(r, opts),
  e2e: (r) => e2eSection(r, opts),
  size: (r) => sizeSection(r, opts),
  // Last: its table sums up the issue 19 figures measured above (running what is missing).
  goals: (r) => goalsSection(r, opts),
};
if (only) {
  const unknown = [...only].filter((s) => !SECTIONS[s]);
  if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(", ")}; sections: ${Object.keys(SECTIONS).join(", ")}`);
}

const report = new Report();
const t0 = Date.now();
for (const [name, run] of Object.entries(SECTIONS)) {
  if (only && !only.has(name)) continue;
  await run(report);
}

const args = process.argv.slice(2);
const command = `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}`;
const head = [
  "# exportkit benchmark results",
  "",
  `Command: \`${command}\` · ${new Date().toISOString().slice(0, 10)} · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · Node ${process.version} · ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  "",
  `Speeds are the best of ${opts.repeats} runs after a warm-up, the runners taking turns; ratios compare with the fastest JavaScript peer in the same run on the same bytes. ${quick ? "Quick run: small inputs (CSV and JSON Lines 4 MB, memory 8 and 32 MB, end to end 16 MB), so figures carry more noise and fixed costs than the full run's." : "Full run: CSV and JSON Lines 32 MB, memory 32 and 256 MB, end to end 256 MB."}`,
  "",
];
const outAt = argv.indexOf("--out");
if (outAt !== -1) writeFileSync(argv[outAt + 1], report.text(head));
else if (only) console.log("\n(--only: RESULTS.md not written)");
else writeFileSync(new URL("./RESULTS.md", import.meta.url), report.text(head));
if (report.failures.length) {
  console.error(`${report.failures.length} correctness check(s) failed`);
  process.exitCode = 1;
}
