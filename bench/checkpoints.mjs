// What checkpoints cost (issue 18): one activities job and one Userpilot job from an in-process
// sandbox, downloaded with and without `onCheckpoint` (best of 3 each), and how big the last
// checkpoint is as JSON. `node bench/checkpoints.mjs [records]`
import { performance } from "node:perf_hooks";
import init, { BackstoryClient, UserpilotClient } from "../js/index.js";
import { SANDBOX_CREDENTIALS, startSandbox } from "../sandbox/server.mjs";

const RECORDS = Number(process.argv[2] ?? 200000);
await init();
// The activities of one year snapshot: RECORDS records, fragments of 5000.
const sb = await startSandbox({ port: 0, seed: 5, activities: RECORDS, fragmentRecords: 5000, jobSpeed: 100, eventsPerDay: 2000 });
const bs = new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const up = new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });

async function best(run) {
  let ms = Infinity;
  let out;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    out = await run();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, ...out };
}

async function drain(it, onCheckpoint) {
  let n = 0;
  let calls = 0;
  let last = null;
  for await (const b of it(onCheckpoint ? (ck) => ((calls += 1), (last = ck)) : undefined)) n += b.records.length;
  return { n, calls, size: last ? JSON.stringify(last).length : 0 };
}

const job = await bs.activities.start({ startDate: "2023-01-01", endDate: "2023-12-31", exportType: "snapshot" });
await bs.activities.wait(job, { pollIntervalMs: 50 });
const upJob = await up.exports.start({ from: "2024-01-01", to: "2024-01-28" });
await up.exports.wait(upJob, { pollMs: 50 });

const rows = [];
for (const [name, it] of [
  ["activities rows (records)", (onCheckpoint) => bs.activities.rows(job, { onCheckpoint })],
  ["userpilot rows (dedupe)", (onCheckpoint) => up.exports.rows(upJob, { onCheckpoint })],
]) {
  const plain = await best(() => drain(it, false));
  const withCk = await best(() => drain(it, true));
  rows.push(`| ${name} | ${plain.n} | ${plain.ms.toFixed(0)} | ${withCk.ms.toFixed(0)} | ${(((withCk.ms - plain.ms) / plain.ms) * 100).toFixed(1)}% | ${withCk.calls} | ${withCk.size} |`);
}
console.log("| download | records | ms without | ms with onCheckpoint | cost | checkpoints handed over | last checkpoint, JSON bytes |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
sb.close();
