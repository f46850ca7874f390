// CSV to rows: exportkit (packed batches, string[][]) against uDSV, Papa Parse and d3-dsv, in one
// process, on the same bytes. Peers are timed from bytes, TextDecoder included, since a download
// arrives as bytes.
import { csvParseRows } from "d3-dsv";
import Papa from "papaparse";
import { inferSchema, initParser } from "udsv";
import { batchRows, CsvStreamParser } from "../js/index.js";

const CHUNK = 64 * 1024;

// Each runner returns { rows, fields, chars } so every parser's output is checked against the others.
export const CSV_RUNNERS = {
  "exportkit packed": (bytes) => {
    const p = new CsvStreamParser({ batchRows: 8192 });
    let rows = 0, fields = 0, chars = 0;
    const take = (batches) => {
      for (const b of batches) {
        rows += b.rowEnds.length;
        fields += b.fieldEnds.length;
        chars += b.fieldEnds.length ? b.fieldEnds[b.fieldEnds.length - 1] : 0;
      }
    };
    for (let i = 0; i < bytes.length; i += CHUNK) take(p.push(bytes.subarray(i, i + CHUNK)));
    take(p.finish());
    const header = p.header();
    p.free();
    return { rows: rows + 1, fields: fields + header.length, chars: chars + header.join("").length };
  },
  "exportkit string[][]": (bytes) => {
    const p = new CsvStreamParser({ batchRows: 8192 });
    let rows = 0, fields = 0, chars = 0;
    const take = (batches) => {
      for (const b of batches) {
        for (const row of batchRows(b)) {
          rows++;
          fields += row.length;
          for (const f of row) chars += f.length;
        }
      }
    };
    for (let i = 0; i < bytes.length; i += CHUNK) take(p.push(bytes.subarray(i, i + CHUNK)));
    take(p.finish());
    const header = p.header();
    p.free();
    return { rows: rows + 1, fields: fields + header.length, chars: chars + header.join("").length };
  },
  uDSV: (bytes) => {
    const text = new TextDecoder().decode(bytes);
    const schema = inferSchema(text);
    const rows = initParser(schema).stringArrs(text);
    return count([schema.cols.map((c) => c.name), ...rows]);
  },
  "Papa Parse": (bytes) => count(Papa.parse(new TextDecoder().decode(bytes), { skipEmptyLines: true }).data),
  "d3-dsv": (bytes) => count(csvParseRows(new TextDecoder().decode(bytes).replace(/\r\n$/, ""))),
};

function count(rows) {
  let fields = 0, chars = 0;
  for (const row of rows) {
    fields += row.length;
    for (const f of row) chars += f.length;
  }
  return { rows: rows.length, fields, chars };
}
