// CSV to typed numeric columns: exportkit (CsvStreamParser with numericColumns and text: false,
// and parseCsvNumbers) against uDSV's typed mode, on the same bytes. Each runner returns the
// wanted columns as arrays of numbers; the check compares row counts, per-column sums and NaN counts.
import { inferSchema, initParser } from "udsv";
import { CsvStreamParser, parseCsvNumbers } from "../js/index.js";
import { csv } from "./gen.mjs";
import { agree, bestOfEach, chunks, mbps, runnersOf, verdict, x } from "./timing.mjs";

// The numeric columns of each shape (gen.mjs: `mixed` has an int and a float in every four).
const CASES = {
  mixed: [0, 1, 4, 5, 8, 9],
  wide: Array.from({ length: 200 }, (_, i) => i),
};

const uDSV = (onlyNumeric) => (bytes, cols) => {
  const text = new TextDecoder().decode(bytes);
  const schema = inferSchema(text);
  // Fairer to uDSV: no Date or boolean parsing of columns nobody asked for.
  if (onlyNumeric) schema.cols.forEach((c, i) => !cols.includes(i) && (c.type = "s"));
  const all = initParser(schema).typedCols(text);
  return cols.map((i) => all[i]);
};

const RUNNERS = {
  "exportkit CsvStreamParser (numericColumns, text: false)": (bytes, cols) => {
    const p = new CsvStreamParser({ numericColumns: cols, text: false, batchRows: 65536 });
    const parts = cols.map(() => []);
    const take = (batches) => {
      for (const b of batches) b.numbers.forEach((col, k) => parts[k].push(col));
    };
    for (const c of chunks(bytes)) take(p.push(c));
    take(p.finish());
    p.free();
    return parts;
  },
  "exportkit parseCsvNumbers": (bytes, cols) => Object.values(parseCsvNumbers(bytes, { columns: cols }).columns),
  "uDSV typedCols": uDSV(false),
  "uDSV typedCols (other columns as strings)": uDSV(true),
};

/** Rows, per-column sum and NaN count, whether a column came as one array or as parts. */
function summary(columns) {
  return columns.map((col) => {
    let n = 0;
    let sum = 0;
    let nan = 0;
    for (const part of Array.isArray(col) && ArrayBuffer.isView(col[0]) ? col : [col]) {
      for (const v of part) {
        n++;
        if (Number.isNaN(v)) nan++;
        else sum += v;
      }
    }
    return { n, sum, nan };
  });
}

export async function numbersSection(report, { size, repeats }) {
  report.section(`CSV to typed numeric columns (${size / 2 ** 20} MB per shape)`);
  const names = Object.keys(RUNNERS);
  const failures = [];
  const rows = [];
  const ratios = [];
  for (const [shape, cols] of Object.entries(CASES)) {
    const bytes = csv(shape, size, 42);
    const res = await bestOfEach(runnersOf(names, (n) => RUNNERS[n](bytes, cols)), repeats);
    failures.push(...agree(shape, Object.fromEntries(names.map((n) => [n, summary(res[n].result)]))));
    const speed = (n) => mbps(bytes.length, res[n].ms);
    const ek = Math.max(speed(names[0]), speed(names[1]));
    const peer = Math.max(speed(names[2]), speed(names[3]));
    ratios.push(ek / peer);
    rows.push([shape, String(cols.length), ...names.map((n) => speed(n).toFixed(0)), x(ek / peer)]);
  }
  report.table(["shape", "numeric columns", ...names.map((n) => `${n} MB/s`), "best exportkit ÷ best uDSV"], rows);
  report.line("uDSV gives plain arrays of numbers, exportkit Float64Arrays; the better of each side's two ways is compared.");
  report.goal("typed numeric columns ≥ 3× uDSV's typed mode (worst shape)", verdict(Math.min(...ratios), 3));
  report.line();
  report.correctness(failures, "row counts, per-column sums and NaN counts agree across every runner");
}
