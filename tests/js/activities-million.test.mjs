// Issue 3's size test: one snapshot job of exactly 1,000,000 activity records (about 1.5 GB of
// JSON Lines in 8 fragments) exported by `exportkit activities` at concurrency 4, compared with the
// sandbox's ground truth by record count and SHA-256 of every byte. Neither side is held in memory:
// both streams are hashed as they arrive. Time and peak memory at concurrency 1 and 4 are measured
// by scripts/activities-million.sh (/usr/bin/time -v), not here.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { backstoryEnv, CLI, startSandbox } from "./helpers.mjs";

const RECORDS = 1_000_000;
const FRAGMENTS = 8;
const RANGE = { start_date: "2023-01-01", end_date: "2023-12-31" };

let sb;
before(async () => {
  // `activities` is the count per 365 days, so the year 2023 holds exactly RECORDS records.
  sb = await startSandbox({ port: 0, seed: 7, activities: RECORDS, fragmentRecords: RECORDS / FRAGMENTS, jobSpeed: 1000 });
});
after(() => sb.close());

/** Counts lines and hashes bytes of a stream of Buffers/Uint8Arrays. */
async function digest(chunks) {
  const hash = createHash("sha256");
  let lines = 0;
  let bytes = 0;
  for await (const c of chunks) {
    hash.update(c);
    bytes += c.length;
    for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
  }
  return { lines, bytes, sha256: hash.digest("hex") };
}

test("a million-record job through the CLI at concurrency 4 is the truth, every byte", { timeout: 600_000 }, async () => {
  const truthRes = await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(RANGE)}`);
  assert.equal(truthRes.status, 200);
  const truth = await digest(truthRes.body);
  assert.equal(truth.lines, RECORDS, "the sandbox's truth holds the records asked for");

  const child = spawn(
    process.execPath,
    [CLI, "activities", "--start-date", RANGE.start_date, "--end-date", RANGE.end_date, "--export-type", "snapshot", "--format", "jsonl", "--concurrency", "4", "--poll-interval-ms", "200", "--quiet"],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...backstoryEnv(sb) }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on("close", resolve));
  const got = await digest(child.stdout);
  assert.equal(await exited, 0, stderr);
  assert.equal(got.lines, RECORDS);
  assert.equal(got.bytes, truth.bytes);
  assert.equal(got.sha256, truth.sha256);
  assert.equal(stderr, "");
});
