// Types for `exportkit/parse` (js/parse.js): the parse functions as the root entry declares them.
export {
  ExportError, ExportErrorCode, BadRecord, batchRows, PackedBatch, CsvOptions, CsvGuardOptions, CsvStreamParser,
  parseCsv, parseCsvNumbers, writeCsv, csvCellIsFormula, guardCsvCell,
  JsonlOptions, JsonlCsvOptions, parseJsonl, jsonlToCsv, JsonlStreamParser, JsonlCsvWriter,
  GunzipStream, gunzip,
} from "./index.js";

/** Loads the parse module once: a `WebAssembly.Module`, bytes, a `Response` or a URL, else the package's own file. */
export default function init(input?: WebAssembly.Module | BufferSource | URL | string | Promise<unknown>): Promise<unknown>;
export { init };
/** workerd: the compiled parse module. */
export function initSync(module: WebAssembly.Module | BufferSource): void;
