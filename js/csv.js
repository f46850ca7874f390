// CSV on its own: one-shot parsing with Papa Parse's result shape, and the streaming parser.
import { batchRows, bytesOf, ExportError, requireReady, wasm } from "./parse-runtime.js";
import { f64sAt, StagedStream, textAt, u32sAt, words } from "./staging.js";

/**
 * Parses CSV text or bytes in one go, Papa Parse style: `{ data, errors, meta: { fields } }`.
 * For large inputs prefer `CsvStreamParser` and push chunks as they arrive.
 */
export function parseCsv(input, opts = {}) {
  requireReady();
  const bytes = bytesOf(input);
  let p;
  try {
    p = new CsvStreamParser(opts);
    const data = [];
    for (const b of [...p.push(bytes), ...p.finish()]) {
      const r = batchRows(b);
      for (let i = 0; i < r.length; i++) data.push(r[i]);
    }
    const meta = p.takeMeta();
    const fields = p.header();
    return { data, errors: meta.errors, meta: { fields, rows: meta.rows, bytes: meta.bytes } };
  } finally {
    p?.free();
  }
}

/**
 * Reads the named (or 0-based) `columns` of a CSV as numbers, one `Float64Array` each, without
 * building any row's text: NaN where a field is empty or not a number. For charts and sums over
 * large exports. `{ columns: { [name]: Float64Array }, rows, errors }`.
 */
export function parseCsvNumbers(input, opts = {}) {
  requireReady();
  const bytes = bytesOf(input);
  const wanted = opts.columns;
  if (!Array.isArray(wanted) || wanted.length === 0) {
    throw new ExportError("invalid `columns`: must list at least one column name or position", { code: "E_INVALID_ARGUMENT", field: "columns" });
  }
  let p;
  try {
    const { columns: _, ...rest } = opts;
    p = new CsvStreamParser({ batchRows: 65536, ...rest, numericColumns: wanted, text: false });
    const parts = wanted.map(() => []);
    let rows = 0;
    for (const b of [...p.push(bytes), ...p.finish()]) {
      rows += b.rows;
      b.numbers.forEach((col, k) => parts[k].push(col));
    }
    const header = p.header();
    const columns = {};
    wanted.forEach((c, k) => {
      const out = new Float64Array(rows);
      let at = 0;
      for (const part of parts[k]) {
        out.set(part, at);
        at += part.length;
      }
      columns[typeof c === "number" ? (header?.[c] ?? String(c)) : c] = out;
    });
    return { columns, rows, errors: p.takeMeta().errors };
  } finally {
    p?.free();
  }
}

/**
 * CSV pushed in chunks split anywhere; complete rows come back as packed batches `{ text,
 * fieldEnds, rowEnds, firstRow, rows, numbers? }` (see `batchRows`). One call into wasm per chunk.
 */
export class CsvStreamParser extends StagedStream {
  /** `opts`: `{ delimiter: ",", header: true, strict: false, batchRows: 4096, numericColumns: [], text: true, skipEmptyLines: false }`. */
  constructor(opts = {}) {
    super(wasm.CsvStreamParser, opts);
  }

  /** The header's names (`null` before the header or with `header: false`). */
  header() {
    return this.inner.header();
  }

  /** The batches a descriptor chain describes (layout: src/wasm/csv.rs `next_batch`). */
  read(at) {
    const out = [];
    while (at) {
      const head = words(at, 11);
      const [text, textLen, ends, endsLen, rowEnds, rowEndsLen, lo, hi, rows, more, numeric] = head;
      const batch = { text: textAt(text, textLen), fieldEnds: u32sAt(ends, endsLen), rowEnds: u32sAt(rowEnds, rowEndsLen), firstRow: lo + hi * 2 ** 32, rows };
      if (numeric) {
        const cols = words(at + 44, numeric * 2);
        batch.numbers = Array.from({ length: numeric }, (_, k) => f64sAt(cols[2 * k], cols[2 * k + 1]));
      }
      out.push(batch);
      at = more ? this.inner.nextBatch() : 0;
    }
    return out;
  }
}

/**
 * Rows (arrays of cells) as CSV text: RFC 4180, CRLF after every row, fields quoted only when they
 * must be. The CSV-injection guard is on unless `{ csvGuard: false }`: a cell a spreadsheet would
 * run as a formula (it starts with = + - @ tab or CR and is not a plain number like -5) gets a
 * leading apostrophe. `width` pads short rows and cuts long ones. The same writer and rule as every
 * CSV exportkit produces.
 */
export function writeCsv(rows, opts = {}) {
  requireReady();
  if (!Array.isArray(rows)) {
    throw new ExportError("invalid `rows`: must be an array of rows", { code: "E_INVALID_ARGUMENT", field: "rows" });
  }
  return wasm.writeCsvRows(rows, opts);
}

/** Whether a spreadsheet could run `cell` as a formula (the guard's rule). */
export function csvCellIsFormula(cell) {
  requireReady();
  return wasm.csvCellIsFormula(String(cell ?? ""));
}

/** `cell` with a leading apostrophe if it is a formula, else unchanged. */
export function guardCsvCell(cell) {
  requireReady();
  return wasm.guardCsvCell(String(cell ?? ""));
}
