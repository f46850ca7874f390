// The CLI against the sandbox: contents compared with the sandbox's ground truth.
import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { backstoryEnv, control, readCsv, runCli, spreadsheetCell, startSandbox, truthCsv } from "./helpers.mjs";

let sb;
let dir;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 7 });
  dir = await mkdtemp(join(tmpdir(), "exportkit-cli-"));
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const QUERY = {
  object: "opportunity",
  columns: [
    { slug: "ootb_opportunity_name" },
    { slug: "ootb_opportunity_amount" },
    { slug: "ootb_opportunity_close_date" },
    { slug: "no_such_metric" },
  ],
  filter: { $or: [{ attribute: { slug: "ootb_opportunity_amount" }, clause: { $gte: 50000 } }, { attribute: { slug: "ootb_opportunity_name" }, clause: { $in: ["x", "y"] } }] },
  sort: [{ attribute: { slug: "ootb_opportunity_amount" }, direction: "desc" }],
};

async function queryFile(q, name = "q.json") {
  const p = join(dir, name);
  await writeFile(p, typeof q === "string" ? q : JSON.stringify(q));
  return p;
}

test("--no-csv-guard writes the exact CSV to stdout, warns of the dropped column, counts the call", async () => {
  const r = await runCli(["query", "--query", await queryFile(QUERY), "--no-csv-guard"], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  const truth = await truthCsv(sb, QUERY);
  assert.ok(truth.split("\r\n").length > 50, "the fixture has rows");
  assert.equal(r.stdout.toString("utf8"), truth);
  assert.match(r.stderr, /warning: the API left out requested column no_such_metric/);
  assert.match(r.stderr, /9 of 10 calls left today/);
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 1);
});

test("--out writes the file atomically and a query from stdin works (--raw-cells: the old name of --no-csv-guard)", async () => {
  const out = join(dir, "out.csv");
  const r = await runCli(["query", "--query", "-", "--out", out, "--quiet", "--raw-cells"], { env: backstoryEnv(sb), stdin: JSON.stringify(QUERY) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, 0);
  assert.equal(await readFile(out, "utf8"), await truthCsv(sb, QUERY));
  assert.ok(!(await readdir(dir)).some((f) => f.endsWith(".partial")));
});

// Issue 16 item 6: the Query API CSV was written raw, the one CSV exportkit wrote unguarded.
test("by default the CSV is formula-guarded like every other exportkit CSV: the truth's cells, each guarded", async () => {
  const q = { object: "account", columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_id" }] };
  const r = await runCli(["query", "--query", await queryFile(q, "accounts.json"), "--quiet"], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  const truth = readCsv(await truthCsv(sb, q));
  const dangerous = truth.flat().filter((c) => spreadsheetCell(c) !== c);
  assert.ok(dangerous.some((c) => c.startsWith("=HYPERLINK")), "the fixture holds a formula");
  const got = readCsv(r.stdout.toString("utf8"));
  assert.deepEqual(got, truth.map((row) => row.map(spreadsheetCell)));
  assert.ok(!got.flat().some((c) => c.startsWith("=")), "no cell starts a formula");
});

test("a query with no rows still writes its header", async () => {
  const q = { object: "account", columns: [{ slug: "ootb_account_name" }], filter: { attribute: { slug: "ootb_account_name" }, clause: { $in: ["no such account anywhere"] } } };
  const r = await runCli(["query", "--query", await queryFile(q, "none.json"), "--quiet"], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readCsv(r.stdout.toString("utf8")), readCsv(await truthCsv(sb, q)));
});

test("bad input exits 2 with one clear line and spends nothing", async () => {
  const cases = [
    [["query"], /--query FILE.json is required/],
    [["query", "--query", join(dir, "missing.json")], /cannot read --query/],
    [["query", "--query", await queryFile("{nope", "broken.json")], /not valid JSON/],
    [["query", "--query", await queryFile({ object: "account", columns: [] }, "empty.json")], /E_INVALID_ARGUMENT \(columns\)/],
    [["query", "--query", await queryFile({ object: "account", columns: [{ slug: "a" }], sort: [{ attribute: { slug: "a" }, direction: "sideways" }] }, "sort.json")], /sort\[0\]\.direction/],
    [["query", "--query", await queryFile({ object: "acount", columns: [{ slug: "a" }] }, "obj.json")], /\(object\)/],
    [["query", "--bogus-flag"], /Unknown option/],
    [["frobnicate"], /unknown command/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args, { env: backstoryEnv(sb) });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const noCreds = await runCli(["query", "--query", await queryFile(QUERY)], { env: { BACKSTORY_BASE_URL: sb.url } });
  assert.equal(noCreds.code, 2);
  assert.match(noCreds.stderr, /BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET/);
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 0);
});

test("a refused call exits 1 and never prints the secret", async () => {
  const secret = "very-secret-value-123";
  const r = await runCli(["query", "--query", await queryFile(QUERY)], { env: backstoryEnv(sb, { BACKSTORY_CLIENT_SECRET: secret }) });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /E_AUTH/);
  assert.ok(!r.stderr.includes(secret));
  assert.equal(r.stdout.length, 0);
});

test("the eleventh call of the day is refused locally, and --force meets the vendor's 429", async () => {
  const q = await queryFile({ object: "user", columns: [{ slug: "ootb_user_email" }] }, "small.json");
  const env = backstoryEnv(sb, { EXPORTKIT_STATE_DIR: join(dir, "state-quota") });
  for (let i = 0; i < 10; i++) {
    const r = await runCli(["query", "--query", q, "--quiet"], { env });
    assert.equal(r.code, 0, r.stderr);
  }
  const r = await runCli(["query", "--query", q], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /E_QUOTA_EXHAUSTED/);
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 10);
  const forced = await runCli(["query", "--query", q, "--force"], { env });
  assert.equal(forced.code, 1);
  assert.match(forced.stderr, /E_RATE_LIMITED/);
});

test("help exits 0 and names every flag", async () => {
  const r = await runCli(["help", "query"]);
  assert.equal(r.code, 0);
  for (const flag of ["--query", "--base-url", "--out", "--no-csv-guard"]) assert.ok(r.stdout.toString().includes(flag));
});

test("the top-level usage lists every command, and an unknown one gets it with exit 2", async () => {
  const r = await runCli(["help"]);
  assert.equal(r.code, 0);
  for (const cmd of ["query", "activities", "forecasts", "userpilot export", "userpilot lookup", "userpilot jobs"]) {
    assert.match(r.stdout.toString(), new RegExp(`^  exportkit ${cmd} `, "m"), cmd);
  }
  const bad = await runCli(["nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.toString(), /unknown command "nope"[\s\S]*exportkit forecasts/);
});
