// Every command checks what it can check locally (where the output goes, where the call count is
// kept) before it spends anything: a bad --out used to cost a Query API call (1 of 10 a day) and
// then crash with a stack trace. Each run below must exit 2 with one line naming the flag, and no
// request may reach the API: the sandbox's own counters, and a recording server standing in for an
// API that must not be called, say so.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { backstoryEnv, control, runCli, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
let dir;
let recorder;
let recorderUrl;
const seen = [];
before(async () => {
  sb = await startSandbox({ port: 0, seed: 3, jobSpeed: 40, eventsPerDay: 20 });
  dir = await mkdtemp(join(tmpdir(), "exportkit-preflight-"));
  recorder = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(500, { "content-type": "application/json" }).end('{"error":"must not be called"}');
  });
  await new Promise((r) => recorder.listen(0, "127.0.0.1", r));
  recorderUrl = `http://127.0.0.1:${recorder.address().port}`;
});
after(async () => {
  await sb.close();
  await new Promise((r) => recorder.close(r));
});
beforeEach(async () => {
  await control(sb, "/__sandbox/reset");
  seen.length = 0;
});

const BAD_OUTS = () => [
  [join(dir, "no", "such", "dir", "x.csv"), /--out \S+: the folder \S+ does not exist/],
  [dir, /--out \S+ is a directory/],
  [join("/etc/passwd", "x.csv"), /--out \S+: \S+ is not a folder/],
];

/** One line on stderr, naming the flag, no stack trace. */
function assertOneLine(r, re, what) {
  assert.equal(r.code, 2, `${what}: exit 2, got ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, re, what);
  assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${what}: no stack trace`);
  assert.equal(r.stdout.length, 0, `${what}: nothing on stdout`);
}

test("query: a bad --out or an unwritable state folder exits 2 before the call is spent", async () => {
  const q = join(dir, "q.json");
  await writeFile(q, JSON.stringify({ object: "user", columns: [{ slug: "ootb_user_email" }] }));
  for (const [out, re] of BAD_OUTS()) {
    const r = await runCli(["query", "--query", q, "--out", out], { env: backstoryEnv(sb) });
    assertOneLine(r, re, `query --out ${out}`);
  }
  const state = await runCli(["query", "--query", q], { env: backstoryEnv(sb, { EXPORTKIT_STATE_DIR: "/etc/passwd/exportkit" }) });
  assertOneLine(state, /cannot write the call count in \/etc\/passwd\/exportkit .*EXPORTKIT_STATE_DIR/, "unwritable state folder");
  const s = await control(sb, "/__sandbox/state");
  assert.equal(s.queryCallsToday, 0, "no Query API call spent");
  assert.equal(s.tokens, 0, "not even a token asked for");
  // The same run with a good --out spends exactly one call, and leaves no .partial behind.
  const good = await runCli(["query", "--query", q, "--out", join(dir, "users.csv"), "--quiet"], { env: backstoryEnv(sb) });
  assert.equal(good.code, 0, good.stderr);
  assert.equal((await control(sb, "/__sandbox/state")).queryCallsToday, 1);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith(".partial")), []);
});

test("activities, forecasts, userpilot export and lookup: a bad --out exits 2 and calls nothing", async () => {
  const bs = backstoryEnv(sb, { BACKSTORY_BASE_URL: recorderUrl });
  const up = { USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey, USERPILOT_BASE_URL: recorderUrl };
  const commands = [
    [["activities", "--start-date", "2024-01-01", "--end-date", "2024-01-03"], bs],
    [["forecasts", "--forecast-type-id", "10090"], bs],
    [["userpilot", "export", "--from", "2024-02-05", "--to", "2024-02-06"], up],
    [["userpilot", "lookup", "segments"], up],
    [["userpilot", "jobs"], up],
    [["userpilot", "job", "00000000-0000-0000-0000-000000000000"], up],
  ];
  for (const [args, env] of commands) {
    for (const [out, re] of BAD_OUTS()) {
      const r = await runCli([...args, "--out", out], { env });
      assertOneLine(r, re, `${args.slice(0, 2).join(" ")} --out ${out}`);
    }
  }
  assert.deepEqual(seen, [], "no request reached the API");
});

test("the output check does not get in the way: --out - and a new file in an existing folder work", async () => {
  const env = { USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey };
  const out = join(dir, "segments.json");
  const r = await runCli(["userpilot", "lookup", "segments", "--base-url", sb.url, "--out", out, "--quiet"], { env });
  assert.equal(r.code, 0, r.stderr);
  const toStdout = await runCli(["userpilot", "lookup", "segments", "--base-url", sb.url, "--out", "-", "--quiet"], { env });
  assert.equal(toStdout.code, 0, toStdout.stderr);
  assert.ok(Array.isArray(JSON.parse(toStdout.stdout.toString("utf8"))));
  // userpilot jobs used to ignore --out; it writes there now.
  const jobsOut = join(dir, "jobs.json");
  const jobs = await runCli(["userpilot", "jobs", "--base-url", sb.url, "--out", jobsOut], { env });
  assert.equal(jobs.code, 0, jobs.stderr);
  assert.equal(jobs.stdout.length, 0);
  assert.ok(Array.isArray(JSON.parse(await readFile(jobsOut, "utf8"))));
});
