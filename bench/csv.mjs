// CSV to rows: exportkit (packed batches, string[][]) against uDSV, Papa Parse and d3-dsv, in one
// process, on the same bytes. Peers are timed from bytes, TextDecoder included, since a download
// arrives as bytes.
import { csvParseRows } from "d3-dsv";
import Papa from "papaparse";
import { inferSchema, initParser } from "udsv";
import * as exportkit from "../js/index.js";
import { csv, CSV_SHAPES } from "./gen.mjs";
import { agree, bestOfEach, CHUNK, mbps, runnersOf, verdict, x } from "./timing.mjs";

/**
 * The streaming parser fed 64 KiB chunks, counting rows, fields and characters. `ek`: a build's
 * exports (this one's, or another's for bench/ab.mjs). `cells`: make every row a `string[]`
 * (`batchRows`), else take the batches as they are (packed, no cell made).
 */
export const csvCountsOf = (ek, { cells = false } = {}) => (bytes) => {
  const p = new ek.CsvStreamParser({ batchRows: 8192 });
  let rows = 0, fields = 0, chars = 0;
  const take = (batches) => {
    for (const b of batches) {
      if (!cells) {
        rows += b.rowEnds.length;
        fields += b.fieldEnds.length;
        chars += b.fieldEnds.length ? b.fieldEnds[b.fieldEnds.length - 1] : 0;
        continue;
      }
      for (const row of ek.batchRows(b)) {
        rows++;
        fields += row.length;
        for (const f of row) chars += f.length;
      }
    }
  };
  for (let i = 0; i < bytes.length; i += CHUNK) take(p.push(bytes.subarray(i, i + CHUNK)));
  take(p.finish());
  const header = p.header();
  p.free();
  return { rows: rows + 1, fields: fields + header.length, chars: chars + header.join("").length };
};

/** This build's packed batches (no cell made). */
export const packedCounts = csvCountsOf(exportkit);

// Each runner returns { rows, fields, chars } so every parser's output is checked against the others.
export const CSV_RUNNERS = {
  "exportkit packed": packedCounts,
  "exportkit string[][]": csvCountsOf(exportkit, { cells: true }),
  uDSV: (bytes) => {
    const text = new TextDecoder().decode(bytes);
    const schema = inferSchema(text);
    const rows = initParser(schema).stringArrs(text);
    return count([schema.cols.map((c) => c.name), ...rows]);
  },
  "Papa Parse": (bytes) => count(Papa.parse(new TextDecoder().decode(bytes), { skipEmptyLines: true }).data),
  "d3-dsv": (bytes) => count(csvParseRows(new TextDecoder().decode(bytes).replace(/\r\n$/, ""))),
};

function count(rows) {
  let fields = 0, chars = 0;
  for (const row of rows) {
    fields += row.length;
    for (const f of row) chars += f.length;
  }
  return { rows: rows.length, fields, chars };
}

export async function csvSection(report, { size, repeats }) {
  report.section(`CSV to rows (${size / 2 ** 20} MB per shape)`);
  const names = Object.keys(CSV_RUNNERS);
  const peers = names.filter((n) => !n.startsWith("exportkit"));
  const failures = [];
  const rows = [];
  const worst = { packedUdsv: Infinity, packedPapa: Infinity, strings: Infinity };
  for (const shape of Object.keys(CSV_SHAPES)) {
    const bytes = csv(shape, size, 42);
    const res = await bestOfEach(runnersOf(names, (n) => CSV_RUNNERS[n](bytes)), repeats);
    failures.push(...agree(shape, Object.fromEntries(["uDSV", ...names.filter((n) => n !== "uDSV")].map((n) => [n, res[n].result]))));
    const speed = (n) => mbps(bytes.length, res[n].ms);
    const packed = speed("exportkit packed");
    const r = { packedBest: packed / Math.max(...peers.map(speed)), packedUdsv: packed / speed("uDSV"), packedPapa: packed / speed("Papa Parse"), strings: speed("exportkit string[][]") / speed("uDSV") };
    for (const k of Object.keys(worst)) worst[k] = Math.min(worst[k], r[k]);
    rows.push([shape, ...names.map((n) => speed(n).toFixed(0)), x(r.packedBest), x(r.strings)]);
  }
  report.table(["shape", ...names.map((n) => `${n} MB/s`), "packed ÷ best peer", "string[][] ÷ uDSV"], rows);
  report.line("Peers are timed from bytes, `TextDecoder` included; exportkit is fed 64 KiB chunks.");
  report.goal("CSV packed batches ≥ 2× uDSV (worst shape)", verdict(worst.packedUdsv, 2));
  report.goal("CSV packed batches ≥ 3× Papa Parse (worst shape)", verdict(worst.packedPapa, 3));
  report.goal("CSV plain `string[][]` ≥ 1.0× uDSV (worst shape)", verdict(worst.strings, 1));
  report.line();
  report.correctness(failures, "row, field and character counts agree across every parser on every shape");
}
