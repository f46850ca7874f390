// What the parse module (js/parse-runtime.js) and the client module (js/runtime.js) share, with
// no import of either module's glue: ExportError and the small helpers around input and batches.

/** The error every exportkit call rejects with. Branch on `code`. */
/** The fields an ExportError may carry besides `code` and `cause` (one list for both uses below). */
const ERROR_FIELDS = ["status", "field", "retryAfterMs", "line", "column", "resetsAtMs", "limit", "jobId", "state", "host", "fragment", "file"];

export class ExportError extends Error {
  constructor(message, props = {}) {
    super(message, props.cause !== undefined ? { cause: props.cause } : undefined);
    this.name = "ExportError";
    this.code = props.code || "E_INTERNAL";
    for (const k of ERROR_FIELDS) {
      if (props[k] !== undefined) this[k] = props[k];
    }
  }
}

const ERROR_PROPS = ["code", ...ERROR_FIELDS];

/** Turns whatever the core threw into an ExportError (a wasm trap becomes E_INTERNAL). */
export function toExportError(e) {
  if (e instanceof ExportError) return e;
  if (e && e.name === "ExportError" && typeof e.code === "string") {
    const props = {};
    for (const k of ERROR_PROPS) if (e[k] !== undefined) props[k] = e[k];
    return new ExportError(e.message, props);
  }
  if (e && (e.name === "AbortError" || e.name === "TimeoutError")) {
    return new ExportError("aborted", { code: "E_ABORTED", cause: e });
  }
  return new ExportError(`internal error: ${e && e.message ? e.message : String(e)}`, { code: "E_INTERNAL", cause: e });
}

/** An E_INVALID_ARGUMENT error naming the field. */
export const invalidArgument = (field, reason) => new ExportError(`invalid \`${field}\`: ${reason}`, { code: "E_INVALID_ARGUMENT", field });

/** An options argument: absent is `{}`, anything but an object is refused. */
export function optionsObject(opts) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== "object") throw invalidArgument("options", "must be an object");
  return opts;
}

/** Input as bytes: a Uint8Array as is, a string as UTF-8. */
export function bytesOf(input) {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  if (!(bytes instanceof Uint8Array)) throw invalidArgument("input", "must be a string or a Uint8Array");
  return bytes;
}

/** Expands a packed batch from the core into `string[][]`. */
export function batchRows(batch) {
  const { text, fieldEnds, rowEnds } = batch;
  const rows = new Array(rowEnds.length);
  let f = 0;
  let start = 0;
  for (let r = 0; r < rowEnds.length; r++) {
    const end = rowEnds[r];
    const row = new Array(end - f);
    for (let i = 0; f < end; f++, i++) {
      const e = fieldEnds[f];
      row[i] = text.slice(start, e);
      start = e;
    }
    rows[r] = row;
  }
  return rows;
}
