// The CSV-injection guard (issue 8, OWASP): one rule in the Rust CSV writer, on by default on every
// path that writes CSV (activities, forecasts, Userpilot flattened and CSV files, JSON Lines to CSV,
// the dashboard's downloads), off with `csvGuard: false` / `--raw-cells`. The expected cells come
// from `spreadsheetCell` in helpers.mjs, written apart from the code under test, applied to the
// raw output, which is itself checked against the sandbox's truth.
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import init, { BackstoryClient, UserpilotClient, csvCellIsFormula, guardCsvCell, jsonlToCsv, writeCsv } from "../../js/index.js";
import { ForecastCsvWriter } from "../../js/forecasts.js";
import { activityCsvRows, backstoryEnv, control, readCsv, runCli, SANDBOX_CREDENTIALS, spreadsheetCell, startSandbox } from "./helpers.mjs";

let sb;
let dir;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 9, activities: 3000, fragmentRecords: 100, jobSpeed: 80, eventsPerDay: 40 });
  dir = await mkdtemp(join(tmpdir(), "exportkit-csv-guard-"));
});
after(() => sb.close());

const FAST = { pollIntervalMs: 20, pollMaxMs: 100 };
const RANGE = { startDate: "2024-02-01", endDate: "2024-02-28" };
const backstory = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const userpilot = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });
const guarded = (rows) => rows.map((r) => r.map(spreadsheetCell));
const dangerous = (rows) => rows.flat().filter((c) => spreadsheetCell(c) !== c).length;

async function csvOf(it) {
  let text = "";
  for await (const b of it) text += b.csv;
  return text;
}

test("the rule: each leading character, plain numbers left alone, raw on request", () => {
  const formulas = ["=1+1", "+1 Telecom", "-Minus Holdings", "@SUM(A1)", "\tTabbed", "\rCR", "=", "+", "-", "@", "--5", "-1+2", "-5 ", "+1e", "=cmd|' /C calc'!A0"];
  const safe = ["", "plain", "-5", "+1", "-12.5", "+3", "42", "1e5", "-1E-3", "-.5", "5.", " =not first", "a=b", "'quoted"];
  for (const v of formulas) {
    assert.equal(csvCellIsFormula(v), true, JSON.stringify(v));
    assert.equal(guardCsvCell(v), `'${v}`);
    assert.equal(spreadsheetCell(v), `'${v}`, "the test's own rule agrees");
  }
  for (const v of safe) {
    assert.equal(csvCellIsFormula(v), false, JSON.stringify(v));
    assert.equal(guardCsvCell(v), v);
    assert.equal(spreadsheetCell(v), v);
  }
  const rows = [formulas, safe];
  assert.deepEqual(readCsv(writeCsv(rows)), guarded(rows));
  assert.deepEqual(readCsv(writeCsv(rows, { csvGuard: false })), rows);
  assert.equal(writeCsv([["=a", "b,c", null, 5, -5]]), "'=a,\"b,c\",,5,-5\r\n");
  assert.equal(writeCsv([["a"], ["b", "c", "d"]], { width: 2 }), "a,\r\nb,c\r\n");
  assert.throws(() => writeCsv([["a"]], { csvGuard: "no" }), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "csvGuard");
  assert.throws(() => writeCsv(["a"]), (e) => e.field === "rows[0]");
});

test("the dashboard's CSV module is the same writer and rule", async () => {
  const page = await import("../../www/csv-guard.js");
  for (const v of ["=x", "-5", "-x", "@a", "\tt", "ok", "+1"]) {
    assert.equal(page.isDangerous(v), csvCellIsFormula(v));
    assert.equal(page.guardCell(v), guardCsvCell(v));
  }
  const header = ["a", "b"];
  const rows = [["=1", "-2"], ["x"], ["@y", "z", "extra"]];
  assert.equal(page.csvParts({ header, rows }).join(""), writeCsv([header, ...rows], { width: 2 }));
  assert.equal(page.csvParts({ header, rows, guard: false, order: Uint32Array.from([2, 0]) }).join(""), writeCsv([header, rows[2], rows[0]], { width: 2, csvGuard: false }));
});

test("activities CSV: guarded by default, raw on request, both exactly the truth's records", async () => {
  const truth = (await (await fetch(`${sb.url}/__sandbox/truth/activities?start_date=2024-02-01&end_date=2024-02-28`)).text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const raw = readCsv(await csvOf(backstory().activities.export(RANGE, { ...FAST, format: "csv", csvGuard: false })));
  assert.deepEqual(raw.slice(1), activityCsvRows(truth, raw[0], { guard: false }));
  assert.ok(dangerous(raw) > 0, "the data holds formula payloads");
  const safe = readCsv(await csvOf(backstory().activities.export(RANGE, { ...FAST, format: "csv" })));
  assert.deepEqual(safe, guarded(raw));
  await assert.rejects(csvOf(backstory().activities.export(RANGE, { format: "csv", csvGuard: 1 })), (e) => e.field === "csvGuard");
});

test("forecasts CSV (one shot and the streaming writer): guarded by default, raw on request", async () => {
  const res = await backstory().forecasts.all({ forecast_type_id: 10089, per_page: 200, timeframe: { snapshots: "all" } });
  const raw = readCsv(res.toCsv({ csvGuard: false }));
  assert.ok(dangerous(raw) > 0, "the notes hold formula payloads");
  assert.deepEqual(readCsv(res.toCsv()), guarded(raw));
  for (const [opts, want] of [[undefined, guarded(raw)], [{ csvGuard: false }, raw]]) {
    const w = new ForecastCsvWriter(opts);
    w.observe(res.records);
    assert.deepEqual(readCsv(w.header() + w.rows(res.records)), want);
    w.free();
  }
});

test("Userpilot flattened events and JSON Lines to CSV: guarded by default, raw on request", async () => {
  const up = userpilot();
  const job = await up.exports.wait((await up.exports.start({ from: "2024-03-04", to: "2024-03-17", eventType: ["track"] })).jobId, { pollMs: 20 });
  const flat = async (opts) => readCsv(await csvOf(up.exports.rows(job.jobId, { flatten: true, dedupe: false, ...opts })));
  const raw = await flat({ csvGuard: false });
  assert.ok(dangerous(raw) > 0, "metadata.note holds formula payloads");
  assert.deepEqual(await flat({}), guarded(raw));
  const lines = await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?job_id=${job.jobId}`)).text();
  const viaJsonl = jsonlToCsv(lines, { csvGuard: false });
  assert.deepEqual(readCsv(viaJsonl.csv), raw, "the same flattening as the export's");
  assert.deepEqual(readCsv(jsonlToCsv(lines).csv), guarded(raw));
});

test("CLI: --raw-cells keeps cells raw for activities, forecasts and Userpilot; the default guards", async () => {
  const activities = async (...extra) => {
    const r = await runCli(["activities", "--start-date", RANGE.startDate, "--end-date", RANGE.endDate, "--format", "csv", "--poll-interval-ms", "20", "--quiet", ...extra], { env: backstoryEnv(sb) });
    assert.equal(r.code, 0, r.stderr);
    return readCsv(r.stdout.toString("utf8"));
  };
  const aRaw = await activities("--raw-cells");
  assert.ok(dangerous(aRaw) > 0);
  assert.deepEqual(await activities(), guarded(aRaw));

  const forecasts = async (...extra) => {
    const r = await runCli(["forecasts", "--forecast-type-id", "10089", "--quiet", ...extra], { env: backstoryEnv(sb) });
    assert.equal(r.code, 0, r.stderr);
    return readCsv(r.stdout.toString("utf8"));
  };
  const fRaw = await forecasts("--raw-cells");
  assert.deepEqual(await forecasts(), guarded(fRaw));

  const upEnv = { USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey, USERPILOT_BASE_URL: sb.url };
  const upExport = async (...extra) => {
    const out = join(dir, `up-${extra.join("")}.csv`);
    const r = await runCli(["userpilot", "export", "--from", "2024-03-04", "--to", "2024-03-10", "--event-type", "track", "--out", out, "--quiet", "--wait-for-running", ...extra], { env: upEnv });
    assert.equal(r.code, 0, r.stderr);
    return readCsv(await readFile(out, "utf8"));
  };
  const flatRaw = await upExport("--flatten", "--raw-cells");
  assert.ok(dangerous(flatRaw) > 0);
  assert.deepEqual(await upExport("--flatten"), guarded(flatRaw));
  // CSV files, re-written through the same writer: each row as the file holds it, one header. The
  // sandbox's files hold no formula cell (metadata is JSON text), so this shows nothing else moves.
  const csvRaw = await upExport("--format", "csv", "--raw-cells");
  assert.equal(csvRaw[0][0], "app_token");
  assert.deepEqual(await upExport("--format", "csv"), guarded(csvRaw));

  for (const args of [["activities", "--start-date", "2024-01-01", "--end-date", "2024-01-02", "--raw-cells"], ["forecasts", "--forecast-type-id", "10089", "--format", "json", "--raw-cells"]]) {
    const r = await runCli(args, { env: backstoryEnv(sb) });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--raw-cells/);
  }
  const r = await runCli(["userpilot", "export", "--from", "2024-03-04", "--to", "2024-03-10", "--raw-cells"], { env: upEnv });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--raw-cells\) applies to CSV output/);
});
