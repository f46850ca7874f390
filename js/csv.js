// CSV on its own: one-shot parsing with Papa Parse's result shape, and the streaming parser.
import { batchRows, ExportError, requireReady, toExportError, wasm } from "./runtime.js";

/**
 * Parses CSV text or bytes in one go, Papa Parse style: `{ data, errors, meta: { fields } }`.
 * For large inputs prefer `CsvStreamParser` and push chunks as they arrive.
 */
export function parseCsv(input, opts = {}) {
  requireReady();
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  if (!(bytes instanceof Uint8Array)) {
    throw new ExportError("invalid `input`: must be a string or a Uint8Array", { code: "E_INVALID_ARGUMENT", field: "input" });
  }
  try {
    const p = new wasm.CsvStreamParser(opts);
    const data = [];
    for (const b of [...p.push(bytes), ...p.finish()]) {
      const r = batchRows(b);
      for (let i = 0; i < r.length; i++) data.push(r[i]);
    }
    const meta = p.takeMeta();
    const fields = p.header();
    p.free();
    return { data, errors: meta.errors, meta: { fields, rows: meta.rows, bytes: meta.bytes } };
  } catch (e) {
    throw toExportError(e);
  }
}

export const CsvStreamParser = wasm.CsvStreamParser;

