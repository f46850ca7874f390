// Shared by every bench section: timing, checksums, goal verdicts, child processes and the report.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import zlib from "node:zlib";

export const MB = 1024 * 1024;
const KiB = 1024;
/** The chunk size every streaming runner is fed: what a fetch body typically delivers. */
export const CHUNK = 64 * KiB;

/**
 * Times every runner `repeats` times after one warm-up each (JIT, wasm tier-up), in rounds (each
 * runner once per round), so a burst of load from elsewhere hits all of them alike rather than
 * one runner's whole series. `runners`: { name: () => result (or a promise) }. Returns
 * { name: { ms: best time, result: the last result } }.
 */
export async function bestOfEach(runners, repeats) {
  const out = {};
  for (const [n, fn] of Object.entries(runners)) out[n] = { ms: Infinity, result: await fn() };
  for (let i = 0; i < repeats; i++) {
    for (const [n, fn] of Object.entries(runners)) {
      const t0 = performance.now();
      const result = await fn();
      const ms = performance.now() - t0;
      out[n] = { ms: Math.min(out[n].ms, ms), result };
    }
  }
  return out;
}

/** Each of `names` as a runner calling `run(name)`. */
export const runnersOf = (names, run) => Object.fromEntries(names.map((n) => [n, () => run(n)]));

export const mbps = (bytes, ms) => bytes / MB / (ms / 1000);

/** Splits bytes into `size` views, as a stream would deliver them. */
export function* chunks(bytes, size = CHUNK) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

if (typeof zlib.crc32 !== "function") throw new Error("the benchmarks need Node >= 20.15 (zlib.crc32)");

/** A running checksum of strings or byte arrays taken as one stream (strings as UTF-8). */
export class Checksum {
  crc = 0;
  bytes = 0;
  add(part) {
    this.crc = zlib.crc32(part, this.crc);
    this.bytes += typeof part === "string" ? Buffer.byteLength(part) : part.length;
  }
  value() {
    return { bytes: this.bytes, crc32: (this.crc >>> 0).toString(16).padStart(8, "0") };
  }
}

export function checksum(parts) {
  const c = new Checksum();
  for (const p of parts) c.add(p);
  return c.value();
}

/**
 * Compares every runner's result with the first one's (JSON equality); returns the differences
 * as lines for the report.
 */
export function agree(label, results) {
  const names = Object.keys(results);
  const ref = JSON.stringify(results[names[0]]);
  return names
    .filter((n) => JSON.stringify(results[n]) !== ref)
    .map((n) => `${label}: ${n} gave ${JSON.stringify(results[n])}, ${names[0]} gave ${ref}`);
}

export const x = (r) => `${r.toFixed(2)}×`;

/**
 * A goal verdict: `met` or `not met`, and by how much. `higher`: whether larger values are better.
 * `unit` formats values ("×", " ms", " MB", " KB").
 */
export function verdict(value, target, { higher = true, unit = "×", digits = 2 } = {}) {
  const f = (v) => (unit === "×" ? v.toFixed(digits) + "×" : v.toFixed(digits) + unit);
  const met = higher ? value >= target : value <= target;
  const by = higher ? value / target - 1 : 1 - value / target;
  const pct = `${Math.abs(by * 100).toFixed(0)}%`;
  if (met) return `met (${f(value)}; ${pct} to spare)`;
  return `**not met** (${f(value)} against ${f(target)}: ${pct} ${higher ? "short" : "over"})`;
}

/**
 * Runs `node script args` and resolves to the last line of its stdout parsed as JSON (children
 * report that way so their own logging stays free). Rejects with stderr on a non-zero exit.
 */
export function runChild(script, args = [], { nodeArgs = [], env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${script} ${args.join(" ")} exited ${code}: ${err.trim().slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()));
      } catch (e) {
        reject(new Error(`${script} gave no JSON result: ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
  });
}

/**
 * Peak resident memory of this process, in bytes: the kernel's high-water mark (VmHWM). Not
 * `resourceUsage().maxRSS`: Linux carries a parent's peak over fork and exec into the child's, so
 * a child of a large parent would report the parent's.
 */
export function peakRss() {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
  } catch {
    return process.resourceUsage().maxRSS * 1024;
  }
}

/** Restarts the high-water mark from the current RSS (Linux 4.0+); false where that cannot be done. */
export function resetPeakRss() {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** The Markdown report: sections append lines; correctness failures are collected for the exit code. */
export class Report {
  constructor() {
    this.lines = [];
    this.failures = [];
    this.goals = [];
    /** Measured figures sections leave for later ones (the issue 19 goals table). */
    this.data = {};
  }
  record(key, value) {
    this.data[key] = value;
  }
  /** A goal's verdict line, also listed in the summary at the top of the file. */
  goal(label, verdictText) {
    this.goals.push([label, verdictText]);
    this.line(`- Goal: ${label}: ${verdictText}`);
  }
  line(s = "") {
    this.lines.push(s);
    console.log(s);
  }
  section(title) {
    this.line(`## ${title}`);
    this.line();
  }
  /** A Markdown table: columns of figures right-aligned, text left. */
  table(header, rows) {
    const figure = /^(|[-+]?[\d.,]+(×|%| ms| MB| KB)?)$/;
    const right = header.map((_, i) => i > 0 && rows.every((r) => figure.test(String(r[i] ?? ""))));
    this.line(`| ${header.join(" | ")} |`);
    this.line(`|${right.map((r) => (r ? "---:" : "---")).join("|")}|`);
    for (const r of rows) this.line(`| ${r.join(" | ")} |`);
    this.line();
  }
  /** Records correctness failures (or says all agree). */
  correctness(failures, what) {
    if (failures.length) {
      this.failures.push(...failures);
      this.line(`**Correctness check FAILED** (${what}):`);
      for (const f of failures) this.line(`- ${f}`);
    } else {
      this.line(`Correctness: ${what}.`);
    }
    this.line();
  }
  /** The file: `head` lines, the goals at a glance, then every section. */
  text(head) {
    const summary = ["## Goals at a glance", "", "| goal | verdict |", "|---|---|", ...this.goals.map(([g, v]) => `| ${g} | ${v} |`), ""];
    return [...head, ...summary, ...this.lines].join("\n") + "\n";
  }
}
