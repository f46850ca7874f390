// gzip: JSON Lines to CSV from the compressed bytes, and inflate alone. exportkit's GunzipStream
// (zlib-rs in wasm) against DecompressionStream, fflate, pako and Node's zlib (native: the
// limit), every runner fed the same 64 KiB chunks of the same gzip file.
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { Gunzip } from "fflate";
import pako from "pako";
import * as exportkit from "../js/index.js";
import { JsonlCsvWriter } from "../js/index.js";
import { csvSummary, JsJsonlCsv, JSONL_CASES } from "./jsonl.mjs";
import { agree, bestOfEach, checksum, chunks, mbps, runnersOf, verdict, x } from "./timing.mjs";

/** `ek`'s GunzipStream (this build's, or another's for bench/ab.mjs) fed 64 KiB chunks. */
export const gunzipStreamOf = (ek) => (gz, onData) => {
  const g = new ek.GunzipStream();
  for (const c of chunks(gz)) onData(g.push(c));
  g.finish();
  g.free();
};

/** Inflaters: each takes the gzip bytes and calls `onData(bytes)` in order; may be async. */
const INFLATERS = {
  "exportkit GunzipStream": gunzipStreamOf(exportkit),
  DecompressionStream: async (gz, onData) => {
    const input = new ReadableStream({
      start(ctrl) {
        for (const c of chunks(gz)) ctrl.enqueue(c);
        ctrl.close();
      },
    });
    for await (const d of input.pipeThrough(new DecompressionStream("gzip"))) onData(d);
  },
  "fflate Gunzip": (gz, onData) => {
    const g = new Gunzip((d) => onData(d));
    let at = 0;
    for (const c of chunks(gz)) g.push(c, (at += c.length) === gz.length);
  },
  "pako Inflate": (gz, onData) => {
    const p = new pako.Inflate();
    p.onData = onData;
    let at = 0;
    for (const c of chunks(gz)) p.push(c, (at += c.length) === gz.length);
    if (p.err) throw new Error(`pako: ${p.msg}`);
  },
  "zlib createGunzip (stream)": async (gz, onData) => {
    for await (const d of Readable.from(chunks(gz), { objectMode: false }).pipe(zlib.createGunzip())) onData(d);
  },
  "zlib gunzipSync (one call)": (gz, onData) => onData(zlib.gunzipSync(gz)),
};

const isZlib = (n) => n.startsWith("zlib");

/** gzip JSON Lines to CSV: an inflater feeding a JSON Lines to CSV writer. */
const GZ_CSV_RUNNERS = {
  "exportkit GunzipStream + JsonlCsvWriter": (gz, opts) => viaWasmWriter(INFLATERS["exportkit GunzipStream"], gz, opts),
  "fflate + JS flattener": (gz, opts) => viaJsFlattener(INFLATERS["fflate Gunzip"], gz, opts),
  "zlib stream + JS flattener (native inflate)": (gz, opts) => viaJsFlattener(INFLATERS["zlib createGunzip (stream)"], gz, opts),
  "DecompressionStream + JsonlCsvWriter": (gz, opts) => viaWasmWriter(INFLATERS.DecompressionStream, gz, opts),
};
// Which runner the goal compares exportkit with.
const GOAL_PEER = "fflate + JS flattener";

async function viaWasmWriter(inflate, gz, opts) {
  const w = new JsonlCsvWriter(opts);
  const out = [];
  await inflate(gz, (d) => out.push(w.push(d)));
  out.push(w.finish());
  const { rows } = w.takeMeta();
  w.free();
  return { rows, out };
}

async function viaJsFlattener(inflate, gz, opts) {
  const p = new JsJsonlCsv(opts);
  const out = [];
  await inflate(gz, (d) => out.push(p.push(d)));
  out.push(p.finish());
  return { rows: p.rowCount, out };
}

/** Sections 3 and 4, over the JSON Lines inputs (and their gzip) from the JSON Lines section. */
export async function gzipSection(report, { inputs, repeats }) {
  const size = inputs.flat.bytes.length;
  report.section(`gzip JSON Lines to flattened CSV (${(size / 2 ** 20).toFixed(0)} MB uncompressed, 64 KiB chunks of the gzip)`);
  const names = Object.keys(GZ_CSV_RUNNERS);
  const failures = [];
  const table = [];
  const ratios = [];
  for (const c of JSONL_CASES) {
    const { bytes, gz } = inputs[c.shape];
    const res = await bestOfEach(runnersOf(names, (n) => GZ_CSV_RUNNERS[n](gz, c.opts)), repeats);
    failures.push(...agree(c.name, Object.fromEntries(names.map((n) => [n, csvSummary(res[n].result)]))));
    // MB/s of JSON Lines (uncompressed) delivered as CSV.
    const speed = (n) => mbps(bytes.length, res[n].ms);
    ratios.push(speed(names[0]) / speed(GOAL_PEER));
    table.push([c.name, ...names.map((n) => speed(n).toFixed(0)), x(speed(names[0]) / speed(GOAL_PEER)), x(speed(names[0]) / speed(names[2]))]);
  }
  report.table(["input", ...names.map((n) => `${n} MB/s`), "exportkit ÷ fflate + JS", "exportkit ÷ zlib + JS"], table);
  report.line("MB/s of uncompressed JSON Lines. `DecompressionStream + JsonlCsvWriter` is the path exportkit's Userpilot client takes where the runtime has `DecompressionStream` (`nativeGunzip`, the default).");
  report.goal("gzip JSON Lines → CSV ≥ 2× fflate + JavaScript (worst input)", verdict(Math.min(...ratios), 2));
  report.line();
  report.correctness(failures, "row counts, CSV bytes and CRC-32 agree across every runner");

  report.section(`Inflate alone (64 KiB chunks of the gzip)`);
  const inames = Object.keys(INFLATERS);
  const ifail = [];
  const itable = [];
  const iratios = { stream: [], sync: [] };
  for (const shape of Object.keys(inputs)) {
    const { bytes, gz } = inputs[shape];
    const truth = checksum([bytes]);
    const inflateAll = async (n) => {
      const out = [];
      await INFLATERS[n](gz, (d) => out.push(d));
      return out;
    };
    const res = await bestOfEach(runnersOf(inames, inflateAll), repeats);
    for (const n of inames) {
      const got = checksum(res[n].result);
      if (got.bytes !== truth.bytes || got.crc32 !== truth.crc32) ifail.push(`${shape}: ${n} gave ${JSON.stringify(got)}, the input is ${JSON.stringify(truth)}`);
    }
    const speed = (n) => mbps(bytes.length, res[n].ms);
    const ek = speed(inames[0]);
    const jsBest = Math.max(speed("fflate Gunzip"), speed("pako Inflate"));
    iratios.stream.push(ek / speed("zlib createGunzip (stream)"));
    iratios.sync.push(ek / speed("zlib gunzipSync (one call)"));
    itable.push([shape, (gz.length / 2 ** 20).toFixed(2), ...inames.map((n) => speed(n).toFixed(0)), x(ek / jsBest), x(ek / speed("DecompressionStream")), x(iratios.stream.at(-1)), x(iratios.sync.at(-1))]);
  }
  report.table(["input", "gzip MB", ...inames.map((n) => `${n} MB/s`), "exportkit ÷ best JS (fflate, pako)", "÷ DecompressionStream", "÷ zlib stream", "÷ zlib one call"], itable);
  report.line("MB/s of output. `DecompressionStream` is native in Node (zlib underneath), as in browsers and workerd.");
  report.goal("wasm inflate ≥ 0.75× Node's zlib, both fed 64 KiB chunks (worst input)", verdict(Math.min(...iratios.stream), 0.75));
  report.goal("wasm inflate ≥ 0.75× Node's zlib in one call (no streaming: the native limit; worst input)", verdict(Math.min(...iratios.sync), 0.75));
  report.line();
  report.correctness(ifail, "every inflater's output has the input's length and CRC-32");
}
