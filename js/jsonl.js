// JSON Lines on their own: one-shot parsing with Papa Parse's result shape, flattening to CSV,
// and the streaming classes (push chunks split anywhere, take batches or CSV text out).
import { bytesOf, requireReady, wasm } from "./parse-runtime.js";
import { StagedStream, textAt, words } from "./staging.js";

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
    p = new JsonlStreamParser(opts);
    const data = [];
    for (const b of [...p.push(bytes), ...p.finish()]) {
      const recs = JSON.parse(b.text);
      for (let i = 0; i < recs.length; i++) data.push(recs[i]);
    }
    const meta = p.takeMeta();
    return { data, errors: meta.errors, meta: { records: meta.records, lines: meta.lines, bytes: meta.bytes } };
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
    w = new JsonlCsvWriter(opts);
    const csv = w.push(bytes) + w.finish();
    const meta = w.takeMeta();
    return { csv, errors: meta.errors, meta: { records: meta.records, rows: meta.rows, header: meta.header, lateFields: meta.lateFields, bytes: meta.bytes } };
  } finally {
    w?.free();
  }
}

/**
 * JSON Lines pushed in chunks split anywhere; records come back in batches `{ text, count,
 * firstLine }`, `text` a JSON array of the batch's records (one `JSON.parse` each). One call into
 * wasm per chunk.
 */
export class JsonlStreamParser extends StagedStream {
  /** `opts`: `{ strict: false, batchRecords: 2048, maxLineBytes: 16 MiB, maxDepth: 128, firstBatchBytes: 64 KiB }`. */
  constructor(opts = {}) {
    super(wasm.JsonlStreamParser, opts);
  }

  /** The batches a descriptor chain describes (layout: src/wasm/jsonl.rs `next_batch`). */
  read(at) {
    const out = [];
    while (at) {
      const [text, len, count, lo, hi, more] = words(at, 6);
      out.push({ count, firstLine: lo + hi * 2 ** 32, text: textAt(text, len) });
      at = more ? this.inner.nextBatch() : 0;
    }
    return out;
  }
}

/**
 * JSON Lines pushed in chunks split anywhere, flattened to CSV text as they complete (see
 * `jsonlToCsv` for the rules). One call into wasm per chunk.
 */
export class JsonlCsvWriter extends StagedStream {
  /** `opts`: `{ strict, batchRecords, maxLineBytes, maxDepth, firstBatchBytes: 1 MiB, columns, explode, discover: true, csvGuard: true }`. */
  constructor(opts = {}) {
    super(wasm.JsonlCsvWriter, opts);
  }

  /** The CSV text of the records completed (layout: src/wasm/jsonl.rs `push_input`); the header comes with the first rows. */
  read(at) {
    const [text, len] = words(at, 2);
    return textAt(text, len);
  }
}
