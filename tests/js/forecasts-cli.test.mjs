// `exportkit forecasts` against the sandbox: CSV and JSON compared with the sandbox's truth,
// every flag, parameters from a file and from stdin, exit codes 0 / 2 / 1.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { backstoryEnv, control, readCsv, runCli, spreadsheetCell, startSandbox } from "./helpers.mjs";

const BASE = ["hierarchy_node_id", "hierarchy_node_ownership_external_id", "hierarchy_node_name", "cadence_period_id", "submitted_by", "submitted_at", "notes"];
let sb;
let dir;
let ref;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 5 });
  dir = await mkdtemp(join(tmpdir(), "exportkit-forecasts-cli-"));
  ref = await control(sb, "/__sandbox/truth/forecasting");
});
after(() => sb.close());

async function file(name, content) {
  const p = join(dir, name);
  await writeFile(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

const truth = (wire) => control(sb, "/__sandbox/truth/forecasting", wire);

/** The CSV rows the issue asks for, built here from the truth, as strings. */
function expectedRows(records, typeId) {
  const order = ref.forecast_types.find((t) => t.id === typeId).fields;
  const present = order.filter((f) => records.some((r) => r.fields[f] !== undefined));
  // Spreadsheet-safe by default: the notes hold formula payloads such as =SUM(A1:A9).
  const text = (v) => (v === null || v === undefined ? "" : spreadsheetCell(String(v)));
  return [
    [...BASE, ...present.map((f) => `fields.${f}.value`)],
    ...records.map((r) => [...BASE.map((k) => text(r[k])), ...present.map((f) => text(r.fields[f]?.value))]),
  ];
}

test("CSV on stdout: one row per node and snapshot, the union of fields, exactly the truth", async () => {
  const r = await runCli(["forecasts", "--forecast-type-id", "10089", "--per-page", "17", "--params", await file("all.json", { timeframe: { snapshots: "all" } })], {
    env: backstoryEnv(sb),
  });
  assert.equal(r.code, 0, r.stderr);
  const t = await truth({ forecast_type_id: 10089, timeframe: { snapshots: "all" } });
  assert.ok(t.total > 17 * 20, "many pages");
  const text = r.stdout.toString("utf8");
  assert.ok(text.endsWith("\r\n") && !/[^\r]\n/.test(text.replace(/"[^"]*"/g, "")), "CRLF line ends outside quoted fields");
  assert.deepEqual(readCsv(text), expectedRows(t.records, 10089));
  assert.match(r.stderr, new RegExp(`${t.total} records in ${Math.ceil(t.total / 17)} page\\(s\\)`));
  assert.doesNotMatch(r.stderr, /warning/);
});

test("JSON to a file with every parameter from --params, the path and concurrency flags", async () => {
  const past = ref.fiscal_periods.find((p) => p.name === "FY2025 Q4");
  const vp = ref.hierarchy.find((n) => n.level === 2);
  const params = {
    per_page: 6,
    fiscal_period_external_id: past.external_id,
    hierarchy_node_ownership_external_id: vp.external_id,
    include_descendants: true,
    sort: "hierarchy_level",
    timeframe: { snapshots: "all", since: past.snapshot_times[3], until: past.snapshot_times[8] },
  };
  const out = join(dir, "out.json");
  const r = await runCli(
    ["forecasts", "--forecast-type-id", "10091", "--params", await file("p.json", params), "--format", "json", "--out", out, "--path", "/v3/beta/forecasting/query", "--concurrency", "2", "--quiet"],
    { env: backstoryEnv(sb) },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, 0);
  assert.equal(r.stderr, "");
  const t = await truth({ forecast_type_id: 10091, ...params });
  assert.ok(t.total > 6 * 5);
  assert.deepEqual(JSON.parse(await readFile(out, "utf8")), t.records);
  assert.ok(!(await readdir(dir)).some((f) => f.endsWith(".partial")));
  // camelCase in the file, from stdin, a start page, and the CSV written to a file.
  const csvOut = join(dir, "out.csv");
  const r2 = await runCli(["forecasts", "--params", "-", "--out", csvOut, "--quiet"], {
    env: backstoryEnv(sb),
    stdin: JSON.stringify({ forecastTypeId: 10090, perPage: 20, page: 2, fiscalPeriodId: past.id }),
  });
  assert.equal(r2.code, 0, r2.stderr);
  const t2 = await truth({ forecast_type_id: 10090, fiscal_period_id: past.id });
  assert.deepEqual(readCsv(await readFile(csvOut, "utf8")), expectedRows(t2.records.slice(20), 10090));
  // An empty result is a header and nothing else, or an empty array.
  const node = ref.hierarchy.find((n) => n.level === 4);
  const empty = { forecast_type_id: 10089, hierarchy_node_id: node.id, timeframe: { snapshots: "all", since: 0, until: 1 } };
  const r3 = await runCli(["forecasts", "--params", await file("e.json", empty), "--format", "json", "--quiet"], { env: backstoryEnv(sb) });
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual(JSON.parse(r3.stdout.toString()), []);
  const r4 = await runCli(["forecasts", "--params", await file("e.json", empty), "--quiet"], { env: backstoryEnv(sb) });
  assert.equal(r4.stdout.toString(), `${BASE.join(",")}\r\n`);
});

test("bad input exits 2 with the field named, before any call", async () => {
  await control(sb, "/__sandbox/faults", { scope: "forecasting", fault: "status", status: 500, nth: 1e9 });
  const cases = [
    [["forecasts"], /E_INVALID_ARGUMENT \(forecast_type_id\)/],
    [["forecasts", "--forecast-type-id", "abc"], /\(forecast_type_id\).*whole number/],
    [["forecasts", "--forecast-type-id", "1", "--per-page", "0"], /\(per_page\)/],
    [["forecasts", "--forecast-type-id", "1", "--per-page", "1001"], /\(per_page\)/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("c.json", { forecast_type_id: 2 })], /contradicts "forecast_type_id"/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("x.json", { fiscal_period_id: "a", fiscal_period_external_id: "b" })], /\(fiscal_period_external_id\)/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("h.json", { hierarchy_node_id: 1, hierarchyNodeOwnershipExternalId: "b" })], /\(hierarchyNodeOwnershipExternalId\)/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("t.json", { timeframe: { since: 1 } })], /\(timeframe\.snapshots\)/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("w.json", { timeframe: { snapshots: "all", since: 2, until: 1 } })], /\(timeframe\.since\)/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("s.json", { sort: "name" })], /\(sort\)/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("u.json", { snapshots: "all" })], /\(snapshots\).*unknown key/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("a.json", [1])], /must hold a JSON object/],
    [["forecasts", "--forecast-type-id", "1", "--params", await file("b.json", "{nope")], /not valid JSON/],
    [["forecasts", "--forecast-type-id", "1", "--params", join(dir, "missing.json")], /cannot read --params/],
    [["forecasts", "--forecast-type-id", "1", "--format", "xml"], /--format must be csv or json/],
    [["forecasts", "--forecast-type-id", "1", "--path", "no/slash"], /\(path\)/],
    [["forecasts", "--forecast-type-id", "1", "--concurrency", "9"], /\(concurrency\)/],
    [["forecasts", "--bogus"], /Unknown option/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args, { env: backstoryEnv(sb) });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(r.stdout.length, 0);
  }
  const noCreds = await runCli(["forecasts", "--forecast-type-id", "10089"], { env: { BACKSTORY_BASE_URL: sb.url } });
  assert.equal(noCreds.code, 2);
  assert.match(noCreds.stderr, /BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET/);
  const rules = await control(sb, "/__sandbox/faults");
  assert.equal((Array.isArray(rules) ? rules : rules.rules)[0].seen, 0, "no call reached the sandbox");
  await control(sb, "/__sandbox/faults/clear", {});
});

test("a failed call exits 1, leaves no partial file and never prints the secret", async () => {
  const out = join(dir, "fail.csv");
  const r = await runCli(["forecasts", "--forecast-type-id", "4242", "--out", out], { env: backstoryEnv(sb) });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /E_HTTP.*404.*forecast_type_id/);
  const other = await runCli(["forecasts", "--forecast-type-id", "10089", "--path", "/v3/elsewhere"], { env: backstoryEnv(sb) });
  assert.equal(other.code, 1);
  assert.match(other.stderr, /HTTP 404/);
  const secret = "cli-secret-987";
  const auth = await runCli(["forecasts", "--forecast-type-id", "10089"], { env: backstoryEnv(sb, { BACKSTORY_CLIENT_SECRET: secret }) });
  assert.equal(auth.code, 1);
  assert.match(auth.stderr, /E_AUTH/);
  assert.ok(!auth.stderr.includes(secret));
  assert.ok(!(await readdir(dir)).some((f) => f.startsWith("fail.csv")));
});

test("help exits 0 and names every flag", async () => {
  const r = await runCli(["help", "forecasts"]);
  assert.equal(r.code, 0);
  for (const flag of ["--forecast-type-id", "--params", "--format", "--out", "--per-page", "--base-url", "--path", "--concurrency"]) {
    assert.ok(r.stdout.toString().includes(flag), flag);
  }
});
