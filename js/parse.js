// The `exportkit/parse` entry: CSV, JSON Lines, gzip and the CSV writer, on the parse module
// alone (pkg-parse/). A page or worker that only parses loads this and never the client module.
export { default, default as init, initParseSync as initSync } from "./parse-runtime.js";
export { ExportError, batchRows } from "./shared.js";
export { parseCsv, parseCsvNumbers, CsvStreamParser, writeCsv, csvCellIsFormula, guardCsvCell } from "./csv.js";
export { parseJsonl, jsonlToCsv, JsonlStreamParser, JsonlCsvWriter } from "./jsonl.js";
export { GunzipStream, gunzip } from "./gzip.js";
