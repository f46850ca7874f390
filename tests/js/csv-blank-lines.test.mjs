// Rows never vanish: a blank value in a one-column CSV is a row at every layer a user sees (the JS
// API, the Query client against the sandbox, the CLI's summary); `skipEmptyLines` drops it only
// when asked. The sandbox's accounts include ~1 in 97 without a name, so a query of the name alone
// is exactly the one-column export with blank lines that lost rows before.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient, CsvStreamParser, parseCsv } from "../../js/index.js";
import { backstoryEnv, control, readCsv, runCli, SANDBOX_CREDENTIALS, startSandbox, truthCsv } from "./helpers.mjs";

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 5 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const NAMES = { object: "account", columns: [{ slug: "ootb_account_name" }] };

test("parseCsv: a blank line in a one-column file is a row; a final newline opens none", () => {
  const r = parseCsv("name\nA\n\nB\n");
  assert.deepEqual(r.data, [["A"], [""], ["B"]]);
  assert.deepEqual(r.errors, []);
  assert.equal(r.meta.rows, 3);
  assert.deepEqual(parseCsv("name\r\nA\r\n\r\n").data, [["A"], [""]]);
  assert.deepEqual(parseCsv("name\nA\n").data, [["A"]]);
  assert.deepEqual(parseCsv("name\nA\n\nB\n", { skipEmptyLines: true }).data, [["A"], ["B"]]);
  assert.deepEqual(parseCsv("a,b\n1,2\n , \n,\n3,4", { skipEmptyLines: "greedy" }).data, [["1", "2"], ["3", "4"]]);
  assert.equal(parseCsv("a,b\n1,2\n , \n", { skipEmptyLines: true }).data.length, 2, "true keeps rows of blank fields");
  assert.throws(() => parseCsv("a", { skipEmptyLines: "yes" }), (e) => e.code === "E_INVALID_ARGUMENT" && e.field === "skipEmptyLines");
});

test("CsvStreamParser: blank lines split across chunks anywhere are rows", () => {
  const text = "name\r\nA\r\n\r\n\r\nB\r\n\r\n";
  const bytes = new TextEncoder().encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    for (const skipEmptyLines of [false, true]) {
      const p = new CsvStreamParser({ skipEmptyLines, batchRows: 2 });
      const rows = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut)), ...p.finish()].reduce((n, b) => n + b.rows, 0);
      p.free();
      assert.equal(rows, skipEmptyLines ? 2 : 5, `cut ${cut}, skipEmptyLines ${skipEmptyLines}`);
    }
  }
});

test("Query client: every account arrives, the nameless ones as blank rows", async () => {
  const truth = await control(sb, "/__sandbox/truth/records?object=account");
  const names = truth.records.map((r) => r.ootb_account_name ?? "");
  const blanks = names.filter((n) => n === "").length;
  assert.ok(blanks > 10, `the sandbox has nameless accounts (${blanks})`);
  const client = new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
  const res = await client.query(NAMES, { batchRows: 100 });
  assert.equal(res.rowCount, names.length);
  assert.deepEqual(res.rows, names.map((n) => [n]));
  assert.equal(readCsv(res.csv).length - 1, names.length, "the raw CSV holds them all too");
  const batches = [];
  const it = client.queryBatches(NAMES, { batchRows: 500 });
  for await (const b of it) batches.push(...b.rows);
  assert.deepEqual(batches, names.map((n) => [n]));
  assert.equal((await it.result()).rowCount, names.length);
  const skipped = await client.query(NAMES, { skipEmptyLines: true, refresh: true });
  assert.equal(skipped.rowCount, names.length - blanks);
  assert.ok(skipped.rows.every(([n]) => n !== ""));
});

test("CLI: the summary counts the blank rows; --skip-empty-lines leaves them out of the count (and, guarded, out of the file)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-blank-"));
  const q = join(dir, "q.json");
  await writeFile(q, JSON.stringify(NAMES));
  const truth = await truthCsv(sb, NAMES);
  const rows = readCsv(truth).length - 1;
  const blanks = readCsv(truth).slice(1).filter((r) => r.length === 1 && r[0] === "").length;
  assert.ok(blanks > 10);
  // --no-csv-guard: the vendor's bytes, so the file can be compared with the truth byte for byte.
  const r = await runCli(["query", "--query", q, "--no-csv-guard"], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString("utf8"), truth);
  assert.match(r.stderr, new RegExp(`exportkit query: ${rows.toLocaleString("en-US").replace(/,/g, ",?")} rows`));
  const s = await runCli(["query", "--query", q, "--skip-empty-lines", "--force", "--no-csv-guard"], { env: backstoryEnv(sb) });
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout.toString("utf8"), truth, "with --no-csv-guard the file is the API's bytes either way");
  assert.match(s.stderr, new RegExp(`exportkit query: ${rows - blanks} rows`));
  // Guarded (the default), the file is written from the rows: every blank record is in it as a
  // row, and --skip-empty-lines leaves them out of the file too.
  const g = await runCli(["query", "--query", q, "--force"], { env: backstoryEnv(sb) });
  assert.equal(g.code, 0, g.stderr);
  const written = readCsv(g.stdout.toString("utf8"));
  assert.equal(written.length - 1, rows);
  assert.equal(written.slice(1).filter((r) => r.length === 1 && r[0] === "").length, blanks);
  const gs = await runCli(["query", "--query", q, "--skip-empty-lines", "--force"], { env: backstoryEnv(sb) });
  assert.equal(gs.code, 0, gs.stderr);
  const kept = readCsv(gs.stdout.toString("utf8"));
  assert.equal(kept.length - 1, rows - blanks);
  assert.ok(kept.slice(1).every((r) => !(r.length === 1 && r[0] === "")));
});
