// `--resume` (issue 18): the CLI is killed with SIGKILL in the middle of an export (inside a
// fragment or file, or between files), then run again with --resume; the output must be the
// sandbox's truth byte for byte, and the sandbox must show that no vendor job was created twice
// and (its request log) that no fragment or file the checkpoint covers was fetched again.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { backstoryEnv, CLI, control, runCli, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 18, activities: 20000, fragmentRecords: 50, jobSpeed: 50, eventsPerDay: 300 });
});
after(() => sb.close());
beforeEach(() => control(sb, "/__sandbox/reset"));

const FAST = ["--poll-interval-ms", "40", "--quiet"];
const truth = async (q) => Buffer.from(await (await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(q)}`)).arrayBuffer());
const jobCount = async () => Object.values((await control(sb, "/__sandbox/state")).activityJobs).reduce((a, b) => a + b, 0);

async function readJson(path) {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (_) {
    return null;
  }
}

/**
 * Starts the CLI, waits until `ready(checkpoint)` holds for the checkpoint on disk, then kills it
 * with SIGKILL (no handler runs: what is on disk is what a crash leaves). Resolves to the
 * checkpoint seen.
 */
async function killWhen(args, env, out, ready) {
  const stateDir = await mkdtemp(join(tmpdir(), "exportkit-state-"));
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, EXPORTKIT_STATE_DIR: stateDir, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  let ended = null;
  exited.then((e) => (ended = e));
  for (;;) {
    if (ended) assert.fail(`the CLI ended (${JSON.stringify(ended)}) before it could be killed: ${stderr}`);
    const ck = await readJson(`${out}.exportkit-checkpoint.json`);
    if (ck && (await ready(ck))) {
      child.kill("SIGKILL");
      const e = await exited;
      assert.equal(e.signal, "SIGKILL");
      return ck;
    }
    await sleep(20);
  }
}

// The fragments of `jobId` a run asked for, in order, from the sandbox's request log.
const fragmentsOf = (log, jobId) => [...new Set(log.filter((r) => r.scope === "activities.data" && r.path.includes(`/${jobId}/`)).map((r) => r.fragment))];

/**
 * After a kill at checkpoint `ck` (the CLI's state: the API's checkpoint) and a resumed run: the
 * fragments the checkpoint covers (every fragment of the windows before its window, those before
 * the head in its window) were not asked for again.
 */
function assertNotFetchedAgain(first, second, ck) {
  const api = ck.state.checkpoint;
  let covered = 0;
  for (let w = 0; w <= api.window && w < api.jobs.length; w++) {
    const asked = fragmentsOf(first, api.jobs[w]);
    const done = w < api.window ? asked : asked.slice(0, api.download?.download.head ?? 0);
    covered += done.length;
    const again = fragmentsOf(second, api.jobs[w]).filter((f) => done.includes(f));
    assert.deepEqual(again, [], `fragments of job ${api.jobs[w]} delivered before the kill were fetched again`);
  }
  assert.ok(covered > 0, "the checkpoint covered whole fragments");
}

test("activities: killed mid-fragment, --resume goes on at that fragment and line: the truth byte for byte, no second job, no fragment fetched twice", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-resume-"));
  const out = join(dir, "a.jsonl");
  const env = backstoryEnv(sb);
  // One fragment at a time, one job at a time: the 20th fragment request (the second window has
  // begun: the first has about 16) stops part way through its body, so the run is caught inside
  // a fragment of a later window, with windows whose jobs do not exist yet.
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "stall_body", afterBytes: 9000, stallMs: 60000, nth: 20 });
  const args = ["activities", "--start-date", "2024-01-01", "--end-date", "2024-02-15", "--concurrency", "1", "--max-active-jobs", "1", "--out", out, ...FAST];
  const ck = await killWhen(args, env, out, async (c) => c.state?.checkpoint?.download?.lines > 0 && (await control(sb, "/__sandbox/faults"))[0]?.fired >= 1);
  const api = ck.state.checkpoint;
  assert.ok(api.jobs.some((j) => j), "the checkpoint names the vendor jobs");
  assert.ok(api.jobs.some((j) => !j), "a window is still without a job");
  assert.ok(api.window >= 1 && api.download.lines > 0, "caught inside a fragment of a window after the first");
  await assert.rejects(stat(out), "no complete-looking file after a kill");
  const jobsBefore = await jobCount();
  const first = await control(sb, "/__sandbox/requests");
  // What a crash in the middle of a write leaves: bytes past the checkpoint, which --resume cuts off.
  await appendFile(`${out}.partial`, '{"half": "a record cut by the crash');
  await control(sb, "/__sandbox/faults/clear", {});

  const r = await runCli([...args, "--resume"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await readFile(out)).equals(await truth({ start_date: "2024-01-01", end_date: "2024-02-15" })), "the output is the truth byte for byte");
  const state = await control(sb, "/__sandbox/state");
  assert.equal(state.activityJobs.Completed, 4, "one job per window, across both runs");
  assert.equal(await jobCount(), 4);
  assert.ok(jobsBefore >= 1 && jobsBefore < 4);
  assertNotFetchedAgain(first, (await control(sb, "/__sandbox/requests")).slice(first.length), ck);
  assert.deepEqual((await readdir(dir)).sort(), ["a.jsonl"], "no partial file, no checkpoint left");
});

test("activities CSV: killed inside a fragment of a later window, the resumed file equals an uninterrupted run", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-resume-"));
  const env = backstoryEnv(sb);
  const common = ["activities", "--start-date", "2024-03-01", "--end-date", "2024-04-10", "--format", "csv", "--explode", "participants", "--concurrency", "1", ...FAST];
  const whole = await runCli([...common, "--out", join(dir, "whole.csv")], { env });
  assert.equal(whole.code, 0, whole.stderr);
  await control(sb, "/__sandbox/reset");
  const out = join(dir, "r.csv");
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "stall_body", afterBytes: 9000, stallMs: 60000, nth: 20 });
  const ck = await killWhen([...common, "--out", out], env, out, async (c) => c.state?.checkpoint?.download?.lines > 0 && (await control(sb, "/__sandbox/faults"))[0]?.fired >= 1);
  // Inside the second window: the header its job's CSV starts with must not be written again.
  assert.ok(ck.state.checkpoint.window >= 1 && ck.state.checkpoint.download.lines > 0, "caught inside a fragment of a window after the first");
  const jobsBefore = await jobCount();
  const first = await control(sb, "/__sandbox/requests");
  await control(sb, "/__sandbox/faults/clear", {});
  const r = await runCli([...common, "--out", out, "--resume"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await readFile(out)).equals(await readFile(join(dir, "whole.csv"))), "one header, every row once");
  assert.ok(jobsBefore >= 1);
  assert.equal(await jobCount(), 3, "three windows, three jobs, across both runs");
  assertNotFetchedAgain(first, (await control(sb, "/__sandbox/requests")).slice(first.length), ck);
});

test("--resume: no checkpoint simply starts; other parameters are refused naming the checkpoint; stdout cannot resume", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-resume-"));
  const out = join(dir, "a.jsonl");
  const env = backstoryEnv(sb);
  const args = ["activities", "--start-date", "2024-05-01", "--end-date", "2024-05-03", "--out", out, ...FAST];
  let r = await runCli([...args, "--resume"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await readFile(out)).equals(await truth({ start_date: "2024-05-01", end_date: "2024-05-03" })));

  const ckPath = `${out}.exportkit-checkpoint.json`;
  await writeFile(`${out}.partial`, "");
  const { paramsHash } = await import("../../cli/checkpoint.mjs");
  const other = { startDate: "2024-05-01", endDate: "2024-05-04", jobId: undefined, format: "jsonl", explode: undefined, csvGuard: true };
  await writeFile(ckPath, JSON.stringify({ version: 2, paramsHash: paramsHash("activities", other), outputBytes: 0, outputSha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", state: { checkpoint: null } }));
  const jobs = await jobCount();
  r = await runCli([...args, "--resume"], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`checkpoint ${ckPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is of an export with other parameters`));
  assert.equal(await jobCount(), jobs, "no job created");

  r = await runCli(["activities", "--start-date", "2024-05-01", "--end-date", "2024-05-03", "--resume", ...FAST], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--resume needs --out FILE/);
});

for (const [where, fault, caught] of [
  // The third file request never answers: killed between files.
  ["between files", { fault: "stall", nth: 3 }, (c) => c.checkpoint?.download?.download.head >= 2],
  // The third file stops part way through its body: killed inside it, after some of its lines.
  ["inside a file", { fault: "stall_body", afterBytes: 40000, nth: 3 }, (c) => c.checkpoint?.download?.download.head >= 2 && c.checkpoint.download.line > 0],
]) {
  test(`userpilot export: killed ${where}, --resume uses the same job, fetches no earlier file again and writes every event once`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "exportkit-resume-"));
    const env = { USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey, USERPILOT_BASE_URL: sb.url };
    const common = ["userpilot", "export", "--from", "2024-02-01", "--to", "2024-02-20", "--concurrency", "1", "--quiet"];
    const whole = await runCli([...common, "--out", join(dir, "whole.jsonl")], { env });
    assert.equal(whole.code, 0, whole.stderr);
    await control(sb, "/__sandbox/reset");
    const out = join(dir, "u.jsonl");
    await control(sb, "/__sandbox/faults", { scope: "userpilot.file", stallMs: 60000, ...fault });
    const ck = await killWhen([...common, "--out", out], env, out, async (c) => c.state?.jobId && caught(c.state) && (await control(sb, "/__sandbox/faults"))[0]?.fired >= 1);
    assert.ok(ck.state.jobId, "the checkpoint names the job");
    const head = ck.state.checkpoint.download.download.head;
    const first = await control(sb, "/__sandbox/requests");
    await appendFile(`${out}.partial`, '{"internal_event_id": "cut');
    await control(sb, "/__sandbox/faults/clear", {});
    const r = await runCli([...common, "--out", out, "--resume"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(out)).equals(await readFile(join(dir, "whole.jsonl"))), "the same events, each once");
    const jobs = (await control(sb, "/__sandbox/state")).userpilotJobs;
    assert.equal(jobs.completed + jobs.in_progress + jobs.failed, 1, "one Userpilot job across both runs");
    const files = (log) => [...new Set(log.filter((x) => x.scope === "userpilot.file").map((x) => x.path))];
    const done = files(first).slice(0, head);
    assert.equal(done.length, head);
    const again = files((await control(sb, "/__sandbox/requests")).slice(first.length)).filter((f) => done.includes(f));
    assert.deepEqual(again, [], "files delivered before the kill were fetched again");
  });
}

test("a failed call keeps OUT.partial and the checkpoint for --resume; a failed vendor job keeps nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-resume-"));
  const out = join(dir, "a.jsonl");
  const env = backstoryEnv(sb);
  const args = ["activities", "--start-date", "2024-07-01", "--end-date", "2024-07-20", "--concurrency", "1", "--out", out, "--poll-interval-ms", "40"];
  // Every fragment request fails for good (404): the run stops once its job exists.
  await control(sb, "/__sandbox/faults", { scope: "activities.data", fault: "status", status: 404, every: 1 });
  let r = await runCli(args, { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--resume goes on from there|was not written/);
  const kept = (await readdir(dir)).sort();
  assert.deepEqual(kept, ["a.jsonl.exportkit-checkpoint.json", "a.jsonl.partial"], "partial output and checkpoint kept");
  const jobs = await jobCount();
  await control(sb, "/__sandbox/faults/clear", {});
  r = await runCli([...args, "--resume", "--quiet"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await readFile(out)).equals(await truth({ start_date: "2024-07-01", end_date: "2024-07-20" })));
  assert.equal(await jobCount(), jobs, "the resumed run made no job");

  const dir2 = await mkdtemp(join(tmpdir(), "exportkit-resume-"));
  await control(sb, "/__sandbox/faults", { scope: "activities.create", fault: "fail_job", nth: 1 });
  r = await runCli(["activities", "--start-date", "2024-07-01", "--end-date", "2024-07-03", "--out", join(dir2, "x.jsonl"), ...FAST], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /E_JOB_FAILED/);
  assert.deepEqual(await readdir(dir2), [], "a failed job leaves nothing to resume");
});
