// Peak memory of a streaming export, one child process per run: a 4 MB seeded pool of input is
// cycled into 64 KiB chunks up to the size asked (so the input costs the same 4 MB at every size)
// and pushed through a parser whose output is consumed and dropped, as a download written to disk
// would be. Peak RSS (the kernel's high-water mark, restarted just before the first chunk) is
// reported above the RSS measured then, after a full GC.
//
//   node --expose-gc bench/memory.mjs RUNNER SIZE      (a child; prints one JSON line)
import { fileURLToPath } from "node:url";
import { csv, jsonl } from "./gen.mjs";
import { CHUNK, MB, peakRss, resetPeakRss, runChild, verdict } from "./timing.mjs";

const POOL = 4 * MB;

/**
 * The input as a stream of about `size` bytes: a header once (CSV), then the pool's records
 * cycled, ending on a record's end.
 */
function* cycled(head, body, size) {
  let sent = head.length;
  if (head.length) yield head;
  while (sent < size) {
    for (let i = 0; i < body.length && sent < size; i += CHUNK) {
      let end = Math.min(i + CHUNK, body.length);
      // The last chunk ends at the end of a line (the body itself ends with one).
      if (sent + end - i >= size) end = body.indexOf(10, i + (size - sent) - 1) + 1;
      sent += end - i;
      yield body.subarray(i, end);
    }
  }
}

async function csvInput(size) {
  const all = csv("mixed", POOL, 11);
  const h = all.indexOf(10) + 1;
  return cycled(all.subarray(0, h), all.subarray(h), size);
}

async function jsonlInput(size) {
  return cycled(new Uint8Array(0), await jsonl("activities", POOL, 11), size);
}

/** Each runner: `input(size)`, then `run(ek, chunks)` consuming everything; returns rows. */
const RUNNERS = {
  "exportkit CsvStreamParser": {
    input: csvInput,
    run(ek, input) {
      const p = new ek.CsvStreamParser({});
      let rows = 0;
      for (const c of input) for (const b of p.push(c)) rows += b.rows;
      for (const b of p.finish()) rows += b.rows;
      p.free();
      return rows;
    },
  },
  "uDSV chunk()": {
    input: csvInput,
    async run(_ek, input) {
      const { initParser, inferSchema } = await import("udsv");
      const dec = new TextDecoder();
      let parser = null;
      let rows = 0;
      const onRow = () => rows++;
      for (const c of input) {
        const text = dec.decode(c, { stream: true });
        parser ??= initParser(inferSchema(text));
        parser.chunk(text, parser.stringArrs, onRow);
      }
      parser.end();
      return rows;
    },
  },
  "exportkit JsonlCsvWriter": {
    input: jsonlInput,
    run(ek, input) {
      const w = new ek.JsonlCsvWriter({});
      let chars = 0;
      for (const c of input) chars += w.push(c).length;
      chars += w.finish().length;
      const { rows } = w.takeMeta();
      w.free();
      return rows;
    },
  },
  "JS flattener": {
    input: jsonlInput,
    async run(_ek, input) {
      const { JsJsonlCsv } = await import("./jsonl.mjs");
      const p = new JsJsonlCsv();
      let chars = 0;
      for (const c of input) chars += p.push(c).length;
      chars += p.finish().length;
      return p.rowCount;
    },
  },
};

async function child(name, size) {
  const ek = await import("../js/index.js");
  await ek.default();
  const r = RUNNERS[name];
  const input = await r.input(size);
  globalThis.gc();
  resetPeakRss();
  const baseline = process.memoryUsage().rss;
  const t0 = performance.now();
  const rows = await r.run(ek, input);
  return { rows, ms: performance.now() - t0, baseline, peak: peakRss() };
}

const SELF = fileURLToPath(import.meta.url);

// Each exportkit runner beside the JavaScript peer doing the same job.
const PAIRS = [
  ["CSV (mixed)", "exportkit CsvStreamParser", "uDSV chunk()"],
  ["JSON Lines → CSV (activities)", "exportkit JsonlCsvWriter", "JS flattener"],
];

export async function memorySection(report, { quick }) {
  const sizes = quick ? [8 * MB, 32 * MB] : [32 * MB, 256 * MB];
  const label = (s) => `${s / MB} MB`;
  report.section(`Peak memory while streaming (${sizes.map(label).join(" and ")}, separate processes)`);
  const rows = [];
  const verdicts = [];
  const failures = [];
  for (const [stream, ...names] of PAIRS) {
    const got = {};
    for (const name of names) {
      const runs = [];
      for (const size of sizes) runs.push(await runChild(SELF, [name, String(size)], { nodeArgs: ["--expose-gc"] }));
      got[name] = { runs, above: runs.map((g) => (g.peak - g.baseline) / MB) };
    }
    const [ek, peer] = names.map((n) => got[n]);
    if (ek.runs[1].rows !== peer.runs[1].rows) failures.push(`${stream}: ${names[0]} gave ${ek.runs[1].rows} rows, ${names[1]} ${peer.runs[1].rows}`);
    for (const name of names) {
      const { runs, above } = got[name];
      const last = runs.at(-1);
      rows.push([stream, name, (last.baseline / MB).toFixed(0), ...above.map((a) => a.toFixed(1)), (above[1] - above[0]).toFixed(1), (sizes[1] / MB / (last.ms / 1000)).toFixed(0), last.rows.toLocaleString("en-US"), name === names[0] ? `${(above[1] / peer.above[1]).toFixed(1)}×` : ""]);
    }
    verdicts.push({ name: names[0], above: ek.above });
  }
  report.table(["stream", "runner", "baseline RSS MB", ...sizes.map((s) => `peak above baseline MB (${label(s)})`), "growth MB", `MB/s (${label(sizes[1])})`, `rows (${label(sizes[1])})`, `peak ÷ peer's (${label(sizes[1])})`], rows);
  report.line("Baseline: RSS after init, the 4 MB input pool and a full GC; peak: the kernel's high-water mark (VmHWM) from there on. Output is consumed and dropped (packed batches counted, CSV text measured).");
  // The bound: 32 MB plus two chunks per connection above the baseline.
  const bound = 32 + (2 * CHUNK) / MB;
  report.line(`The issue's bound for "flat": at most 32 MB plus two 64 KiB chunks (one connection) above the baseline at both sizes; the growth column shows how far from flat the peak is.`);
  for (const v of verdicts) {
    report.goal(`${v.name}: peak stays within 32 MB + two chunks above baseline, ${label(sizes[0])} to ${label(sizes[1])}`, verdict(Math.max(...v.above), bound, { higher: false, unit: " MB", digits: 1 }));
  }
  report.line();
  report.correctness(failures, "each exportkit runner and its peer produced the same number of rows");
}

if (process.argv[1] === SELF) {
  const [name, size] = process.argv.slice(2);
  console.log(JSON.stringify(await child(name, Number(size))));
}
