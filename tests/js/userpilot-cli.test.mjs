// `exportkit userpilot export|lookup` as a child process against the sandbox.
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { control, readCsv, runCli, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
let dir;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 9, jobSpeed: 40, eventsPerDay: 80 });
  dir = await mkdtemp(join(tmpdir(), "exportkit-up-"));
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const env = (extra = {}) => ({ USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey, ...extra });
const up = (args, extra) => runCli(["userpilot", ...args, "--base-url", sb.url], { env: env(extra) });
const jobOf = (stderr) => /job ([0-9a-f-]{36})/.exec(stderr)?.[1];
const truth = async (q) => (await (await fetch(`${sb.url}/__sandbox/truth/userpilot/events?${new URLSearchParams(q)}`)).text());
const jobsMade = async () => {
  const s = (await control(sb, "/__sandbox/state")).userpilotJobs;
  return s.in_progress + s.completed + s.failed;
};

test("export --format json drops events repeated across files by default (as the page and the JS API); --keep-duplicates keeps them", async () => {
  const out = join(dir, "events.jsonl");
  const r = await up(["export", "--from", "2024-02-05", "--to", "2024-02-25", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const ids = (text) => text.split("\n").filter(Boolean).map((l) => JSON.parse(l).internal_event_id);
  const lines = (await readFile(out, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const want = (await truth({ job_id: jobOf(r.stderr), dedupe: 1 })).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(lines, want);
  assert.equal(new Set(lines.map((l) => l.internal_event_id)).size, lines.length, "each event once");
  const dropped = Number(/(\d+) duplicates dropped/.exec(r.stderr)?.[1]);
  assert.ok(dropped > 0, `the summary counts what was dropped: ${r.stderr}`);
  const k = await up(["export", "--from", "2024-02-05", "--to", "2024-02-25", "--keep-duplicates"]);
  assert.equal(k.code, 0, k.stderr);
  const raw = await truth({ job_id: jobOf(k.stderr) });
  assert.deepEqual(ids(k.stdout.toString("utf8")), ids(raw), "every line as the files hold it");
  assert.equal(ids(raw).length, lines.length + dropped);
  assert.match(k.stderr, /duplicates kept/);
  // --dedupe (the old flag) is still accepted and is the default; with --keep-duplicates it contradicts.
  const d = await up(["export", "--from", "2024-02-05", "--to", "2024-02-25", "--dedupe"]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(ids(d.stdout.toString("utf8")), want.map((l) => l.internal_event_id));
  const both = await up(["export", "--from", "2024-02-05", "--to", "2024-02-25", "--dedupe", "--keep-duplicates"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--dedupe and --keep-duplicates contradict/);
});

test("export --format csv with repeated flags writes one header and every file's rows", async () => {
  const users = await truth({ from: "2024-03-04", to: "2024-03-17", event_type: "page_view" });
  const someUsers = [...new Set(users.split("\n").filter(Boolean).map((l) => JSON.parse(l).user_id))].slice(0, 3);
  const args = ["export", "--from", "2024-03-04", "--to", "2024-03-17", "--event-type", "page_view", "--event-type", "track", "--format", "csv", "--keep-duplicates"];
  for (const u of someUsers) args.push("--user-id", u);
  const r = await up(args);
  assert.equal(r.code, 0, r.stderr);
  const id = jobOf(r.stderr);
  const rows = readCsv(r.stdout.toString("utf8"));
  const files = ["2024-03-04.csv.gz", "2024-03-11.csv.gz"];
  let want = [];
  for (const [k, f] of files.entries()) {
    const [h, ...body] = readCsv(await truth({ job_id: id, file: f, raw: 1 }));
    if (k === 0) want.push(h);
    want = want.concat(body);
  }
  assert.deepEqual(rows, want);
  assert.ok(rows.length > 2);
  assert.ok(rows.slice(1).every((row) => someUsers.includes(row[3]) && ["page_view", "track"].includes(row[1])));
});

test("lookup NAME writes every item, all cursor pages walked", async () => {
  const out = join(dir, "segments.json");
  const r = await up(["lookup", "segments", "--out", out, "--limit", "13"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(await readFile(out, "utf8")), await control(sb, "/__sandbox/truth/userpilot/lookups/segments"));
  const e = await up(["lookup", "embeds"]);
  assert.deepEqual(JSON.parse(e.stdout.toString("utf8")), await control(sb, "/__sandbox/truth/userpilot/lookups/embeds"));
});

test("bad input exits 2 before any call; a failed call exits 1; the key never shows", async () => {
  const bad = [
    [["export", "--from", "2024-01-01"], /--to/],
    [["export", "--from", "2024-01-31", "--to", "2024-01-01"], /\(to\)/],
    [["export", "--from", "2024-01-01", "--to", "2024-01-02", "--event-type", "click"], /eventType\[0\]/],
    [["export", "--from", "2024-01-01", "--to", "2024-01-02", "--format", "xml"], /\(format\)/],
    [["export", "--from", "2024-01-01", "--to", "2024-01-02", "--concurrency", "0"], /concurrency/],
    [["lookup", "nope"], /unknown lookup/],
    [["frobnicate"], /unknown subcommand/],
  ];
  for (const [args, re] of bad) {
    const r = await up(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const nokey = await runCli(["userpilot", "lookup", "flows", "--base-url", sb.url], { env: {} });
  assert.equal(nokey.code, 2);
  assert.match(nokey.stderr, /USERPILOT_API_KEY/);
  assert.equal(await jobsMade(), 0);
  const noplan = await up(["export", "--from", "2024-01-01", "--to", "2024-01-02"], { USERPILOT_API_KEY: "sandbox-userpilot-noplan" });
  assert.equal(noplan.code, 1);
  assert.match(noplan.stderr, /E_AUTH.*does not support the feature/);
  const wrong = await up(["lookup", "flows"], { USERPILOT_API_KEY: "bad-key-SEKRIT" });
  assert.equal(wrong.code, 1);
  assert.ok(!wrong.stderr.includes("SEKRIT"));
});

test("a running job: 409 exits 1 naming it; --wait-for-running waits and exports", async () => {
  const r = await fetch(`${sb.url}/api/v1/analytics/exports/`, {
    method: "POST",
    headers: { Authorization: `Token ${SANDBOX_CREDENTIALS.userpilot.apiKey}`, "Content-Type": "application/json" },
    // 300 monthly partitions: minutes at this job speed, so it is surely running; the test ends it.
    body: JSON.stringify({ from: "2000-01-01", to: "2024-12-31" }),
  });
  const running = (await r.json()).job_id;
  // A rule that never fires, to count the create calls the CLI makes.
  await control(sb, "/__sandbox/faults", { scope: "userpilot.create", fault: "status", status: 500, nth: 1000 });
  const c = await up(["export", "--from", "2024-02-01", "--to", "2024-02-01"]);
  assert.equal(c.code, 1);
  assert.match(c.stderr, new RegExp(`E_CONFLICT.*${running}`));
  const waiting = up(["export", "--from", "2024-02-01", "--to", "2024-02-01", "--wait-for-running"]);
  for (let i = 0; i < 200; i++) {
    const list = await control(sb, "/__sandbox/faults");
    const rules = Array.isArray(list) ? list : (list.rules ?? []);
    if (rules[0]?.seen >= 2) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  await control(sb, `/__sandbox/jobs/${running}/complete`, {});
  const w = await waiting;
  assert.equal(w.code, 0, w.stderr);
  // The id comes from a jobs-list read that can land just after the test completed the job, so
  // it may be absent here; the 409 above already had to name it.
  assert.match(w.stderr, new RegExp(`another export is running( \\(${running}\\))?; waiting for it`));
  assert.ok(w.stdout.length > 0);
});
