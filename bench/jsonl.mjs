// JSON Lines: to flattened CSV (exportkit JsonlCsvWriter against a plain JavaScript flattener and
// JSON.parse + Papa.unparse) and to records (JsonlStreamParser against JSON.parse per line), fed
// 64 KiB chunks of the same bytes. The JavaScript flattener is written here to be fair: one
// JSON.parse per line, a direct walk, cells joined once per row; it writes exactly the CSV the
// exportkit writer does (same columns, order, quoting), so the checksums must agree.
import Papa from "papaparse";
import * as exportkit from "../js/index.js";
import { JsonlStreamParser } from "../js/index.js";
import { gzip, jsonl, JSONL_SHAPES } from "./gen.mjs";
import { agree, bestOfEach, checksum, chunks, mbps, runnersOf, verdict, x } from "./timing.mjs";

// exportkit's JSON Lines batch (crates/exportkit-parse/src/parse/jsonl.rs defaults): its CSV header holds the fields seen
// in the first one, so the JavaScript flattener fixes its header from the same records.
const BATCH_RECORDS = 2048;
const BATCH_TEXT_CAP = 4 << 20;

/**
 * Records to CSV rows with exportkit's rules: nested objects as dotted columns, arrays of scalars
 * joined with ";", other arrays as their JSON text, null as an empty cell; or one row per element
 * of the `explode` array. Columns: those found in the first batch, in order of appearance.
 */
export class JsFlattener {
  constructor({ explode } = {}) {
    this.explode = explode;
    this.columns = [];
    this.index = new Map();
    this.prefixes = new Set();
    this.discovering = false;
    this.late = 0;
  }

  /** Fixes the header from the first batch's records. */
  discover(records) {
    this.discovering = true;
    for (const r of records) {
      const row = [];
      const arr = this.walk(r, "", row, false);
      if (Array.isArray(arr)) for (const el of arr) this.walk(el, this.explode, row, true);
    }
    this.discovering = false;
  }

  /** Appends the record's rows (arrays of strings) to `out`; returns how many. */
  rows(record, out) {
    const n = this.columns.length;
    const base = new Array(n).fill("");
    const arr = this.walk(record, "", base, false);
    if (!Array.isArray(arr) || arr.length === 0) {
      out.push(base);
      return 1;
    }
    for (const el of arr) {
      const row = base.slice();
      this.walk(el, this.explode, row, true);
      out.push(row);
    }
    return arr.length;
  }

  add(path) {
    let at = path.indexOf(".");
    while (at !== -1) {
      this.prefixes.add(path.slice(0, at));
      at = path.indexOf(".", at + 1);
    }
    this.index.set(path, this.columns.length);
    this.columns.push(path);
  }

  set(path, text, row) {
    let i = this.index.get(path);
    if (i === undefined) {
      if (!this.discovering) return void this.late++;
      this.add(path);
      i = this.columns.length - 1;
    }
    row[i] = text;
  }

  /** Walks a value into `row`; returns the array to explode when it meets it. */
  walk(v, path, row, inElem) {
    if (v === null) {
      if (this.discovering && !this.index.has(path) && !this.prefixes.has(path)) this.add(path);
      return undefined;
    }
    switch (typeof v) {
      case "string":
        return void this.set(path, v, row);
      case "number":
        return void this.set(path, String(v), row);
      case "boolean":
        return void this.set(path, v ? "true" : "false", row);
    }
    if (Array.isArray(v)) {
      if (!inElem && path === this.explode) return v;
      let scalars = true;
      for (const e of v) if (e !== null && typeof e === "object") scalars = false;
      return void this.set(path, scalars ? v.map((e) => (e === null ? "" : String(e))).join(";") : JSON.stringify(v), row);
    }
    let found;
    for (const k in v) {
      const got = this.walk(v[k], path ? `${path}.${k}` : k, row, inElem);
      if (got !== undefined) found = got;
    }
    return found;
  }
}

const NEEDS_QUOTES = /[",\r\n]/;
// Measured fastest of the plain ways (template + replaceAll, split/join, string +=): a regex
// replace per quoted cell and one join per row and per batch.
const csvField = (c) => (NEEDS_QUOTES.test(c) ? '"' + c.replace(/"/g, '""') + '"' : c);

/**
 * JSON Lines bytes to CSV text, chunk by chunk: TextDecoder, lines, JSON.parse, flatten, and
 * `write(rows, header)` to turn rows into CSV text (plain JavaScript by default, or Papa.unparse).
 */
export class JsJsonlCsv {
  constructor({ explode, write = writePlain } = {}) {
    this.flat = new JsFlattener({ explode });
    this.write = write;
    this.decoder = new TextDecoder();
    this.rest = "";
    this.first = [];
    this.firstBytes = 0;
    this.fixed = false;
    this.rowCount = 0;
  }
  push(chunk) {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const end = text.lastIndexOf("\n");
    if (end === -1) {
      this.rest = text;
      return "";
    }
    this.rest = text.slice(end + 1);
    return this.lines(text, end);
  }
  finish() {
    const text = this.rest + this.decoder.decode();
    this.rest = "";
    let out = this.lines(text, text.length);
    if (!this.fixed) out += this.fix();
    return out;
  }
  lines(text, end) {
    const rows = [];
    for (let at = 0; at < end; ) {
      let nl = text.indexOf("\n", at);
      if (nl === -1 || nl > end) nl = end;
      const line = text.slice(at, nl).trim();
      at = nl + 1;
      if (!line) continue;
      const rec = JSON.parse(line);
      if (this.fixed) {
        this.rowCount += this.flat.rows(rec, rows);
        continue;
      }
      this.first.push(rec);
      this.firstBytes += line.length;
      if (this.first.length >= BATCH_RECORDS || this.firstBytes >= BATCH_TEXT_CAP) return this.fix() + this.lines(text.slice(at), end - at);
    }
    return rows.length ? this.write(rows, null) : "";
  }
  /** The first batch: fix the header from it, then write it. */
  fix() {
    this.fixed = true;
    this.flat.discover(this.first);
    const rows = [];
    for (const r of this.first) this.rowCount += this.flat.rows(r, rows);
    this.first = [];
    return this.write(rows, this.flat.columns);
  }
}

const writePlain = (rows, header) => {
  const lines = header ? [header.map(csvField).join(",")] : [];
  for (const r of rows) lines.push(r.map(csvField).join(","));
  lines.push("");
  return lines.join("\r\n");
};
const writePapa = (rows, header) =>
  (header ? Papa.unparse([header]) + "\r\n" : "") + (rows.length ? Papa.unparse(rows, { newline: "\r\n" }) + "\r\n" : "");

/** `ek`'s JsonlCsvWriter (this build's, or another's for bench/ab.mjs) fed 64 KiB chunks: `{ rows, out }`. */
export const jsonlCsvOf = (ek) => (bytes, opts) => {
  const w = new ek.JsonlCsvWriter(opts);
  const out = [];
  for (const c of chunks(bytes)) out.push(w.push(c));
  out.push(w.finish());
  const { rows } = w.takeMeta();
  w.free();
  return { rows, out };
};

/**
 * Each runner streams 64 KiB chunks and returns `{ rows, out }`: the CSV's row count and text as
 * produced (checksummed after the timing, so no runner pays for it).
 */
export const JSONL_CSV_RUNNERS = {
  "exportkit JsonlCsvWriter": jsonlCsvOf(exportkit),
  "JS flattener": (bytes, opts) => jsPipeline(bytes, opts),
  "JSON.parse + Papa.unparse": (bytes, opts) => jsPipeline(bytes, { ...opts, write: writePapa }),
};

/** What the correctness check compares: row count, CSV bytes and CRC-32. */
export const csvSummary = ({ rows, out }) => ({ rows, ...checksum(out) });

function jsPipeline(bytes, opts) {
  const p = new JsJsonlCsv(opts);
  const out = [];
  for (const c of chunks(bytes)) out.push(p.push(c));
  out.push(p.finish());
  return { rows: p.rowCount, out };
}

/** JSON Lines to records (objects), each runner returning the record count and a field checksum. */
const RECORD_RUNNERS = {
  "exportkit JsonlStreamParser": (bytes) => {
    const p = new JsonlStreamParser({});
    let records = 0;
    let keys = 0;
    const take = (batches) => {
      for (const b of batches) {
        const recs = JSON.parse(b.text);
        records += recs.length;
        for (const r of recs) keys += Object.keys(r).length;
      }
    };
    for (const c of chunks(bytes)) take(p.push(c));
    take(p.finish());
    p.free();
    return { records, keys };
  },
  "JSON.parse per line": (bytes) => {
    const dec = new TextDecoder();
    let rest = "";
    let records = 0;
    let keys = 0;
    const lines = (text) => {
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        records++;
        keys += Object.keys(JSON.parse(line)).length;
      }
    };
    for (const c of chunks(bytes)) {
      const text = rest + dec.decode(c, { stream: true });
      const end = text.lastIndexOf("\n");
      if (end === -1) rest = text;
      else {
        lines(text.slice(0, end));
        rest = text.slice(end + 1);
      }
    }
    lines(rest + dec.decode());
    return { records, keys };
  },
};

// The JavaScript runners write cells as they are, so exportkit does too (`csvGuard: false`): the
// same work on both sides, and the same bytes out for the checksum.
export const JSONL_CASES = [
  { name: "flat", shape: "flat", opts: { csvGuard: false } },
  { name: "activities (nested)", shape: "activities", opts: { csvGuard: false } },
  { name: "activities, explode participants", shape: "activities", opts: { explode: "participants", csvGuard: false } },
];

/** The JSON Lines inputs of this section and the gzip one: `{ flat, activities }`, each `{ bytes, gz }`. */
export async function jsonlInputs(size) {
  const inputs = {};
  for (const shape of JSONL_SHAPES) {
    const bytes = await jsonl(shape, size, 42);
    inputs[shape] = { bytes, gz: gzip(bytes) };
  }
  return inputs;
}

/** The JSON Lines inputs, then JSON Lines to CSV and to records. */
export async function jsonlSection(report, { inputs, repeats }) {
  const size = inputs.flat.bytes.length;
  report.section(`JSON Lines inputs (seeded, bench/gen.mjs)`);
  const rows = [];
  for (const [shape, { bytes, gz }] of Object.entries(inputs)) {
    const lines = bytes.reduce((n, b) => n + (b === 10), 0);
    rows.push([shape, lines.toLocaleString("en-US"), (bytes.length / lines).toFixed(0), (bytes.length / 2 ** 20).toFixed(1), (gz.length / 2 ** 20).toFixed(2), (bytes.length / gz.length).toFixed(1)]);
  }
  report.table(["shape", "records", "bytes/record", "MB", "gzip MB", "ratio"], rows);
  report.line("`flat`: Userpilot-event-like records of 13 scalar fields. `activities`: the sandbox's Raw Activity records (sandbox/data.mjs: nested `stats`, `crm_status`, `campaigns[]`, `participants[]` of objects).");
  report.line();

  report.section(`JSON Lines to flattened CSV (${(size / 2 ** 20).toFixed(0)} MB, 64 KiB chunks)`);
  report.line("`JS flattener`: written in bench/jsonl.mjs to exportkit's rules (dotted columns, arrays of scalars joined with `;`, arrays of objects as JSON), one `JSON.parse` per line; its CSV is byte for byte exportkit's.");
  report.line();
  const names = Object.keys(JSONL_CSV_RUNNERS);
  const failures = [];
  const table = [];
  const ratios = [];
  for (const c of JSONL_CASES) {
    const { bytes } = inputs[c.shape];
    const res = await bestOfEach(runnersOf(names, (n) => JSONL_CSV_RUNNERS[n](bytes, c.opts)), repeats);
    failures.push(...agree(c.name, Object.fromEntries(names.map((n) => [n, csvSummary(res[n].result)]))));
    const speed = (n) => mbps(bytes.length, res[n].ms);
    const best = Math.max(...names.slice(1).map(speed));
    ratios.push(speed(names[0]) / best);
    table.push([c.name, ...names.map((n) => speed(n).toFixed(0)), res[names[0]].result.rows.toLocaleString("en-US"), x(speed(names[0]) / best)]);
  }
  report.table(["input", ...names.map((n) => `${n} MB/s`), "CSV rows", "exportkit ÷ best JS"], table);
  report.goal("JSON Lines → CSV ≥ 2.5× the best JavaScript path (worst input)", verdict(Math.min(...ratios), 2.5));
  report.line();
  report.correctness(failures, "row counts, CSV byte counts and CRC-32 of the CSV text agree across every runner");

  report.section(`JSON Lines to records (${(size / 2 ** 20).toFixed(0)} MB, 64 KiB chunks)`);
  const rnames = Object.keys(RECORD_RUNNERS);
  const rfail = [];
  const rtable = [];
  for (const shape of ["flat", "activities"]) {
    const { bytes } = inputs[shape];
    const res = await bestOfEach(runnersOf(rnames, (n) => RECORD_RUNNERS[n](bytes)), repeats);
    rfail.push(...agree(shape, Object.fromEntries(rnames.map((n) => [n, res[n].result]))));
    const speed = (n) => mbps(bytes.length, res[n].ms);
    rtable.push([shape, ...rnames.map((n) => speed(n).toFixed(0)), x(speed(rnames[0]) / speed(rnames[1]))]);
  }
  report.table(["input", ...rnames.map((n) => `${n} MB/s`), "exportkit ÷ JSON.parse"], rtable);
  report.line("No goal: the records still come out of one `JSON.parse` per batch, so this shows what the split and validation in wasm cost or save.");
  report.line();
  report.correctness(rfail, "record counts and top-level key counts agree");
}
