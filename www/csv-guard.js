// Writing a result back out: RFC 4180 CSV (with the CSV-injection guard) and JSON Lines.
// Shared by the panels; no DOM here, so it can be tested on its own.
//
// The CSV writer and the guard's rule are the wasm build's (crates/exportkit-parse/src/parse/csv_write.rs), the same as
// every CSV exportkit writes, so the page and the exports can never disagree: OWASP's advice on
// CSV injection, a cell a spreadsheet would run as a formula (it starts with = + - @ tab or CR)
// gets a leading apostrophe, which spreadsheets show as text; a plain number such as -12.5 or +3
// is left alone, since an apostrophe would turn every negative amount into text.

import init, { csvCellIsFormula, guardCsvCell, writeCsv } from "../js/index.js";

// The page loads the wasm before any panel; this makes the module usable on its own too.
await init();

// Rows joined per Blob part: large enough to keep the part count low, small enough that no one
// string grows with the export.
const ROWS_PER_PART = 5000;

/** Would a spreadsheet evaluate this cell? */
export const isDangerous = (cell) => csvCellIsFormula(cell);

/** The cell a spreadsheet shows as text: unchanged unless it is dangerous. */
export const guardCell = (cell) => guardCsvCell(cell);

/**
 * The CSV of `header` and `rows` (string[][]; `order`, when given, lists the row indexes to write)
 * as Blob parts: RFC 4180, CRLF after every record, the guard on unless `guard: false`. Rows are
 * cut or padded to the header's width.
 */
export function csvParts({ header, rows, order = null, guard = true }) {
  const opts = { width: header.length, csvGuard: guard };
  const n = order ? order.length : rows.length;
  const parts = [writeCsv([header], opts)];
  for (let start = 0; start < n; start += ROWS_PER_PART) {
    const end = Math.min(n, start + ROWS_PER_PART);
    const chunk = order ? Array.from(order.subarray ? order.subarray(start, end) : order.slice(start, end), (i) => rows[i]) : rows.slice(start, end);
    parts.push(writeCsv(chunk, opts));
  }
  return parts;
}

/** Keys for a JSON object per row: the header, with repeated names made unique (name_2, ...). */
export function jsonKeys(header) {
  const used = new Set();
  return header.map((name) => {
    let key = String(name);
    for (let k = 2; used.has(key); k += 1) key = `${name}_${k}`;
    used.add(key);
    return key;
  });
}

/** JSON Lines as Blob parts: one object per row keyed by the header, every value a string. */
export function jsonlParts({ header, rows, order = null }) {
  const keys = jsonKeys(header);
  const n = order ? order.length : rows.length;
  const parts = [];
  for (let start = 0; start < n; start += ROWS_PER_PART) {
    const end = Math.min(n, start + ROWS_PER_PART);
    let chunk = "";
    for (let i = start; i < end; i += 1) {
      const row = rows[order ? order[i] : i];
      const obj = {};
      for (let c = 0; c < keys.length; c += 1) obj[keys[c]] = row[c] ?? "";
      chunk += `${JSON.stringify(obj)}\n`;
    }
    parts.push(chunk);
  }
  return parts;
}

/** JSON Lines of `records` as they are (the API's own objects), as Blob parts. */
export function recordParts(records) {
  const parts = [];
  for (let start = 0; start < records.length; start += ROWS_PER_PART) {
    let chunk = "";
    const end = Math.min(records.length, start + ROWS_PER_PART);
    for (let i = start; i < end; i += 1) chunk += `${JSON.stringify(records[i])}\n`;
    parts.push(chunk);
  }
  return parts;
}
