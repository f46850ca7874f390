// JSON Lines on their own: one-shot parsing with Papa Parse's result shape, flattening to CSV,
// and the streaming classes (push chunks split anywhere, take batches or CSV text out).
import { bytesOf, requireReady, toExportError, wasm } from "./runtime.js";

/**
 * Parses JSON Lines in one go: `{ data: records[], errors: [{ line, column, message }], meta }`.
 * A malformed line is left out and reported (or throws with `strict: true`); blank lines are
 * skipped. For large inputs prefer `JsonlStreamParser`.
 */
export function parseJsonl(input, opts = {}) {
  requireReady();
  const bytes = bytesOf(input);
  let p;
  try {
    p = new wasm.JsonlStreamParser(opts);
    const data = [];
    for (const b of [...p.push(bytes), ...p.finish()]) {
      const recs = JSON.parse(b.text);
      for (let i = 0; i < recs.length; i++) data.push(recs[i]);
    }
    const meta = p.takeMeta();
    return { data, errors: meta.errors, meta: { records: meta.records, lines: meta.lines, bytes: meta.bytes } };
  } catch (e) {
    throw toExportError(e);
  } finally {
    p?.free();
  }
}

/**
 * Flattens JSON Lines to CSV in one go: nested objects as dotted columns, arrays of scalars joined
 * with ";", arrays of objects as JSON in one cell or, with `explode: "path"`, one row per element.
 * `columns` are written first; fields found in the first batch follow. Cells a spreadsheet would
 * run as formulas get a leading apostrophe unless `csvGuard: false`. Returns `{ csv, errors,
 * meta: { records, rows, header, lateFields } }`.
 */
export function jsonlToCsv(input, opts = {}) {
  requireReady();
  const bytes = bytesOf(input);
  let w;
  try {
    w = new wasm.JsonlCsvWriter(opts);
    const csv = w.push(bytes) + w.finish();
    const meta = w.takeMeta();
    return { csv, errors: meta.errors, meta: { records: meta.records, rows: meta.rows, header: meta.header, lateFields: meta.lateFields, bytes: meta.bytes } };
  } catch (e) {
    throw toExportError(e);
  } finally {
    w?.free();
  }
}

export const JsonlStreamParser = wasm.JsonlStreamParser;
export const JsonlCsvWriter = wasm.JsonlCsvWriter;
