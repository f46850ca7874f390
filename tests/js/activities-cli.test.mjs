// `exportkit activities` as a child process against the sandbox: JSON Lines byte for byte, CSV
// with exploded participants, the progress line, usage errors and a failed job.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { backstoryEnv, control, readCsv, runCli, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 11, activities: 5000, fragmentRecords: 40, jobSpeed: 25 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const FAST = ["--poll-interval-ms", "40"];
const truth = async (q) => (await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).text();

test("JSON Lines over several windows are the truth byte for byte, with a progress line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-act-"));
  const out = join(dir, "a.jsonl");
  const r = await runCli(["activities", "--start-date", "2024-01-01", "--end-date", "2024-02-15", "--concurrency", "3", "--out", out, ...FAST], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(out, "utf8"), await truth({ start_date: "2024-01-01", end_date: "2024-02-15" }));
  assert.match(r.stderr, /jobs 4\/4 done, fragments \d+\/\d+, [\d,]+ rows, /);
  assert.match(r.stderr, /4 job\(s\), [\d,]+ records/);
  assert.doesNotMatch(r.stderr, /sandbox-client-secret/);
});

test("CSV with one row per participant, to stdout", async () => {
  const r = await runCli(["activities", "--start-date", "2024-03-01", "--end-date", "2024-03-05", "--activity-type", "meeting", "--format", "csv", "--explode", "participants", "--quiet", ...FAST], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  const rows = readCsv(r.stdout.toString("utf8"));
  const records = (await truth({ start_date: "2024-03-01", end_date: "2024-03-05", activity_type: "meeting" })).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const header = rows[0];
  assert.equal(header[0], "uid");
  assert.ok(header.includes("participants.team.name"));
  const expectedRows = records.flatMap((rec) => (rec.participants.length ? rec.participants : [null]).map((p) => [rec.uid, p ? p.email : ""]));
  const uid = header.indexOf("uid");
  const email = header.indexOf("participants.email");
  assert.deepEqual(rows.slice(1).map((row) => [row[uid], row[email]]), expectedRows);
  assert.equal(r.stderr, "");
});

test("usage errors exit 2 naming the flag; a failed job exits 1 naming the job", async () => {
  const env = backstoryEnv(sb);
  let r = await runCli(["activities", "--start-date", "2024-01-01"], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--end-date/);
  r = await runCli(["activities", "--start-date", "2024-01-01", "--end-date", "2024-13-01"], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--end-date: invalid `endDate`/);
  r = await runCli(["activities", "--start-date", "2024-01-01", "--end-date", "2024-01-02", "--concurrency", "9"], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--concurrency must be a whole number from 1 to 6/);
  r = await runCli(["activities", "--start-date", "2024-01-01", "--end-date", "2024-01-02", "--explode", "participants"], { env });
  assert.equal(r.code, 2);
  r = await runCli(["activities", "--start-date", "2024-01-01", "--end-date", "2025-01-01", "--export-type", "snapshot"], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /at most one year/);
  assert.equal((await control(sb, "/__sandbox/state")).activityJobs.Queued, 0, "no job was created");

  await control(sb, "/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 1 });
  const dir = await mkdtemp(join(tmpdir(), "exportkit-act-"));
  r = await runCli(["activities", "--start-date", "2024-01-01", "--end-date", "2024-01-03", "--out", join(dir, "x.jsonl"), ...FAST], { env });
  assert.equal(r.code, 1);
  const [job] = await (await fetch(`${sb.url}/pull/v1/export/activities/jobs`, { headers: { Authorization: `Bearer ${await token()}` } })).json();
  assert.match(r.stderr, new RegExp(`E_JOB_FAILED: job ${job.job_id} ended in state Failed`));
  await assert.rejects(readFile(join(dir, "x.jsonl")), "no partial file is left as if complete");
});

async function token() {
  const env = backstoryEnv(sb);
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: env.BACKSTORY_CLIENT_ID, client_secret: env.BACKSTORY_CLIENT_SECRET });
  const r = await fetch(`${sb.url}/v3/auth/tokens`, { method: "POST", body });
  return (await r.json()).access_token;
}
