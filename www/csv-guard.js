// Writing a result back out: RFC 4180 CSV (with the CSV-injection guard) and JSON Lines.
// Shared by the panels; no DOM here, so it can be tested on its own.
//
// The guard follows OWASP's advice on CSV injection: a cell that a spreadsheet would read as a
// formula (it starts with = + - @ tab or CR) gets a leading apostrophe, which spreadsheets show
// as text. A plain number such as -12.5 or +3 is left alone: it cannot be a formula, and an
// apostrophe would turn every negative amount into text.

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const NEEDS_QUOTES = /[",\r\n]/;
// Rows joined per Blob part: large enough to keep the part count low, small enough that no one
// string grows with the export.
const ROWS_PER_PART = 5000;

/** Would a spreadsheet evaluate this cell? */
export function isDangerous(cell) {
  return FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell);
}

/** The cell a spreadsheet shows as text: unchanged unless it is dangerous. */
export function guardCell(cell) {
  return isDangerous(cell) ? `'${cell}` : cell;
}

/** One field, quoted only when it must be (as the Query API itself writes them). */
export function csvField(cell) {
  const s = cell === null || cell === undefined ? "" : String(cell);
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One record with its CRLF. `guard` applies the injection guard to every cell. */
export function csvLine(cells, width, guard) {
  let out = "";
  for (let c = 0; c < width; c += 1) {
    const v = cells[c] ?? "";
    if (c) out += ",";
    out += csvField(guard ? guardCell(String(v)) : v);
  }
  return `${out}\r\n`;
}

/**
 * The CSV of `header` and `rows` (string[][]; `order`, when given, lists the row indexes to write)
 * as Blob parts: RFC 4180, CRLF after every record, the guard on unless `guard: false`.
 */
export function csvParts({ header, rows, order = null, guard = true }) {
  const width = header.length;
  const n = order ? order.length : rows.length;
  const parts = [csvLine(header, width, guard)];
  for (let start = 0; start < n; start += ROWS_PER_PART) {
    const end = Math.min(n, start + ROWS_PER_PART);
    let chunk = "";
    for (let i = start; i < end; i += 1) chunk += csvLine(rows[order ? order[i] : i], width, guard);
    parts.push(chunk);
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
