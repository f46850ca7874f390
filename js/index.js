// exportkit's JavaScript face: the wasm core (pkg/) plus the idioms Rust cannot express well:
// async iterators, result caches, default stores, and errors that are real `ExportError`s.
export { default, default as init, initSync, initClient, ExportError, toExportError, memoryStore, localStorageStore, batchRows } from "./runtime.js";
export { BackstoryClient, variation, PERIODS, OBJECTS, knownSlugs } from "./backstory.js";
export { parseCsv, parseCsvNumbers, CsvStreamParser, writeCsv, csvCellIsFormula, guardCsvCell } from "./csv.js";
export { parseJsonl, jsonlToCsv, JsonlStreamParser, JsonlCsvWriter } from "./jsonl.js";
export { UserpilotClient, GunzipStream, EVENT_TYPES as USERPILOT_EVENT_TYPES, LOOKUPS as USERPILOT_LOOKUPS } from "./userpilot.js";
export { gunzip } from "./gzip.js";
