// Shared by the Node tests: a sandbox per test file, the CLI as a child process.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rename, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(ROOT, "bin", "exportkit.mjs");
export { SANDBOX_CREDENTIALS, startSandbox };

export async function control(sb, path, body) {
  const r = await fetch(`${sb.url}${path}`, {
    method: body !== undefined || path.endsWith("/reset") ? "POST" : "GET",
    headers: body !== undefined ? { "Content-Type": "application/json" } : {},
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return r.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

export const truthCsv = (sb, query) => control(sb, "/__sandbox/truth/insights", query);

/** Runs the CLI; resolves to { code, stdout, stderr } (stdout as a Buffer). */
export async function runCli(args, { env = {}, stdin } = {}) {
  const stateDir = env.EXPORTKIT_STATE_DIR ?? (await mkdtemp(join(tmpdir(), "exportkit-state-")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, EXPORTKIT_STATE_DIR: stateDir, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), stateDir }));
    child.stdin.end(stdin ?? "");
  });
}

export function backstoryEnv(sb, extra = {}) {
  return {
    BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId,
    BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret,
    BACKSTORY_BASE_URL: sb.url,
    ...extra,
  };
}

/** An independent RFC 4180 reader (not the parser under test) for checking contents. */
export function readCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let q = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else q = false;
      } else field += c;
    } else if (c === '"') {
      q = true;
      started = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
      started = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      // A blank line is a record of one empty field (RFC 4180), as in a one-column export.
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      started = false;
    } else {
      field += c;
      started = true;
    }
  }
  if (started || field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/**
 * Runs a batch iterator to its end: `{ batches, summary }`. A failure is rethrown with
 * `batches`: what had arrived before it.
 */
export async function gather(it) {
  const batches = [];
  try {
    for await (const b of it) batches.push(b);
  } catch (e) {
    e.batches = batches;
    throw e;
  }
  return { batches, summary: await it.result() };
}

// ------------------------------------------------------------------------- fault matrices (issue 8)

/** The row a rule counts under in the fault matrix. */
export function faultLabel(rule) {
  if (rule.fault !== "status") return rule.fault;
  if (rule.status !== 429) return String(rule.status);
  if (rule.retryAfterDate !== undefined) return "429 Retry-After HTTP-date";
  if (rule.retryAfter === undefined || rule.retryAfter === null) return "429 no Retry-After";
  return Number(rule.retryAfter) === 0 ? "429 Retry-After: 0" : "429 Retry-After seconds";
}

// Rows in this order, then any others as they come.
const MATRIX_ROWS = [
  "429 Retry-After seconds", "429 Retry-After HTTP-date", "429 Retry-After: 0", "429 no Retry-After",
  "500", "502", "503", "504", "reset", "truncate", "stall", "stall_body", "expire_token", "expire_link",
  "fail_job", "cancel_job", "error_body", "bad_header", "malformed_line", "invalid_utf8",
];
const MATRIX_APIS = ["query", "activities", "forecasting", "userpilot"];
const MATRIX_DIR = join(ROOT, "test-artifacts", "fault-matrix");

/**
 * One API's fault matrix against a sandbox: `injected(rules, check)` installs the rules, runs
 * `check` (which asserts exact contents or the expected error) and requires every rule to have
 * fired. Each rule counts once per run under its fault, however many times it fired (a rule at a
 * rate fires a number of times that depends on request timing; the count must not). `report()`
 * (call it in `after`) prints the tally line and writes this API's column of
 * test-artifacts/fault-matrix.md.
 */
export function faultMatrix(api, sandbox) {
  const rows = new Map();
  const row = (label) => rows.get(label) ?? rows.set(label, { injected: 0, survived: 0 }).get(label);
  const listRules = async () => {
    const r = await control(sandbox(), "/__sandbox/faults");
    return Array.isArray(r) ? r : r.rules;
  };
  return {
    fault: (rule) => control(sandbox(), "/__sandbox/faults", rule),
    clear: () => control(sandbox(), "/__sandbox/faults/clear", {}),
    rules: listRules,
    async injected(rules, check) {
      const list = Array.isArray(rules) ? rules : [rules];
      await control(sandbox(), "/__sandbox/faults/clear", {});
      await control(sandbox(), "/__sandbox/faults", { rules: list });
      let ok = false;
      try {
        const result = await check();
        ok = true;
        return result;
      } finally {
        // A run whose check failed still counts its faults as injected (the test fails anyway).
        const fired = (await listRules()).slice(0, list.length);
        fired.forEach((r, i) => {
          const counts = row(faultLabel(list[i]));
          counts.injected += Math.min(r.fired, 1);
          if (ok) counts.survived += Math.min(r.fired, 1);
        });
        if (ok) fired.forEach((r, i) => assert.ok(r.fired >= 1, `the fault ${JSON.stringify(list[i])} never fired (seen ${r.seen})`));
      }
    },
    async report() {
      const total = [...rows.values()].reduce((a, r) => ({ injected: a.injected + r.injected, survived: a.survived + r.survived }), { injected: 0, survived: 0 });
      console.log(`# ${api} fault matrix: ${total.injected} faults injected, ${total.survived} survived (exact contents or the right error)`);
      await writeMatrix(api, Object.fromEntries(rows));
    },
  };
}

/**
 * A run that must fail (`it` a batch iterator, run by `gather`): resolves to its error once it is
 * checked to be an ExportError with `code` whose `delivered.records` counts the records that
 * arrived before it; that those records are a prefix of `expected` (nothing lost before the
 * failure, nothing repeated), a check skipped only when `expected` is null; and, when
 * `delivered(batches, records)` is given, that `delivered` is exactly what it returns.
 */
export async function failsWithDelivered(it, code, { expected, delivered } = {}) {
  assert.ok(expected !== undefined, "pass `expected` (the truth, or null to skip the prefix check)");
  const e = await gather(it).then(
    () => assert.fail(`expected ${code}`),
    (x) => x,
  );
  assert.equal(e.name, "ExportError");
  assert.equal(e.code, code, e.message);
  const got = e.batches.flatMap((b) => b.records);
  assert.equal(e.delivered.records, got.length, "delivered counts what arrived");
  if (expected) assert.deepEqual(got, expected.slice(0, got.length), "what arrived is a prefix of the truth");
  if (delivered) assert.deepEqual(e.delivered, delivered(e.batches, got));
  return e;
}

/** Writes one API's counts and rebuilds fault-matrix.md from every API's file, under a lock
 * (the test files run in parallel processes). */
async function writeMatrix(api, counts) {
  await mkdir(MATRIX_DIR, { recursive: true });
  await writeFile(join(MATRIX_DIR, `${api}.json`), JSON.stringify(counts, null, 2) + "\n");
  const lock = join(MATRIX_DIR, ".lock");
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      // A lock older than a few seconds was left by a run that died while holding it.
      if (i === 200) await rmdir(lock).catch(() => {});
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    const apis = {};
    for (const f of (await readdir(MATRIX_DIR)).filter((f) => f.endsWith(".json")).sort()) {
      apis[f.slice(0, -5)] = JSON.parse(await readFile(join(MATRIX_DIR, f), "utf8"));
    }
    const cols = [...MATRIX_APIS.filter((a) => apis[a]), ...Object.keys(apis).filter((a) => !MATRIX_APIS.includes(a))];
    const labels = [...MATRIX_ROWS, ...new Set(cols.flatMap((a) => Object.keys(apis[a])))].filter((l, i, all) => all.indexOf(l) === i);
    const cell = (a, l) => (apis[a][l] ? `${apis[a][l].injected} / ${apis[a][l].survived}` : "n/a");
    const sum = (a) => Object.values(apis[a]).reduce((s, r) => [s[0] + r.injected, s[1] + r.survived], [0, 0]);
    const lines = [
      "# Fault matrix (issue 8)",
      "",
      "Faults injected / survived per API, from the last run of each tests/js/faults-*.test.mjs: each fault rule",
      "counts once per run that it fired in (a rule at a seeded rate may fire several times in one run). Survived:",
      "the run yielded exactly the sandbox's ground truth, or failed with the coded ExportError the test expects",
      "(saying what was delivered). n/a: the fault does not apply to that API.",
      "",
      `| fault | ${cols.join(" | ")} |`,
      `|---|${cols.map(() => "---:").join("|")}|`,
      ...labels.map((l) => `| ${l} | ${cols.map((a) => cell(a, l)).join(" | ")} |`),
      `| **total** | ${cols.map((a) => sum(a).join(" / ")).join(" | ")} |`,
      "",
    ];
    const tmp = join(MATRIX_DIR, `.fault-matrix.${process.pid}.md`);
    await writeFile(tmp, lines.join("\n"));
    await rename(tmp, join(ROOT, "test-artifacts", "fault-matrix.md"));
  } finally {
    await rmdir(lock);
  }
}

// ------------------------------------------------------------------------- activity CSV oracle

/** An activity value as a CSV cell, flattened in plain JavaScript (not the code under test). */
export function flatCell(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.some((x) => x !== null && typeof x === "object") ? JSON.stringify(v) : v.map((x) => (x === null ? "" : String(x))).join(";");
  return String(v);
}

/** The value at a dotted path such as `crm_status.account_id`. */
export function valueAt(rec, path) {
  return path.split(".").reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), rec);
}

/**
 * A cell as a spreadsheet-safe CSV holds it (OWASP's CSV-injection advice), written here apart from
 * the code under test: an apostrophe before a cell starting with = + - @ tab or CR, unless the
 * cell is a plain number such as -5 or +1.5e3.
 */
export function spreadsheetCell(v) {
  return /^[=+\-@\t\r]/.test(v) && !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) ? `'${v}` : v;
}

/** The rows an activity CSV with `header` holds for `records` (one row per record). */
export const activityCsvRows = (records, header, { guard = true } = {}) =>
  records.map((r) => header.map((h) => (guard ? spreadsheetCell : String)(flatCell(valueAt(r, h)))));
