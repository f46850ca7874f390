// exportkit's JavaScript face: the wasm core (pkg/) plus the idioms Rust cannot express well:
// async iterators, result caches, default stores, and errors that are real `ExportError`s.
export { default, initSync, ExportError, toExportError, memoryStore, localStorageStore, batchRows } from "./runtime.js";
export { BackstoryClient, variation, PERIODS, OBJECTS, knownSlugs } from "./backstory.js";
export { parseCsv, CsvStreamParser } from "./csv.js";
export { UserpilotClient } from "./userpilot.js";
