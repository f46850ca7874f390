// End to end on loopback: one Raw Activity snapshot job in 8 fragments from the sandbox (its own
// process), exported as CSV through BackstoryClient.activities.rows at concurrency 1, 2, 4 and 6,
// each run in a fresh client process so its peak RSS is its own. Beside each run, the same
// fragments fetched with plain fetch() and drained at the same concurrency: what the sandbox can
// serve, so the client's figure can be read against it.
//
//   node bench/e2e.mjs client|fetch URL JOB_ID CONCURRENCY     (a child; prints one JSON line)
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Checksum, MB, peakRss, resetPeakRss, runChild, verdict, x } from "./timing.mjs";

const FRAGMENTS = 8;
const CONCURRENCY = [1, 2, 4, 6];
const RANGE = { startDate: "2023-01-01", endDate: "2023-12-31", exportType: "snapshot" };
// Bytes per record of the sandbox's activities (measured: about 1.54 KB), to size the job.
const RECORD_BYTES = 1540;

async function credentials() {
  const { SANDBOX_CREDENTIALS } = await import("../sandbox/server.mjs");
  return SANDBOX_CREDENTIALS.backstory;
}

/** The exportkit client: CSV batches consumed (rows counted, text checksummed) as they come. */
async function clientChild(url, jobId, concurrency) {
  const ek = await import("../js/index.js");
  await ek.default();
  const { clientId, clientSecret } = await credentials();
  const client = new ek.BackstoryClient({ baseUrl: url, clientId, clientSecret });
  globalThis.gc();
  resetPeakRss();
  const baseline = process.memoryUsage().rss;
  // When each fragment's last batch came: at concurrency 1 fragments are fetched one after
  // another, so the gaps are each fragment's time alone (request, download, flatten).
  const lastBatch = new Map();
  const t0 = performance.now();
  const it = client.activities.rows(jobId, { format: "csv", concurrency });
  let rows = 0;
  const csv = new Checksum();
  for await (const b of it) {
    rows += b.rows;
    csv.add(b.csv);
    lastBatch.set(b.fragment, performance.now());
  }
  const ms = performance.now() - t0;
  const summary = await it.result();
  const ends = [...lastBatch].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
  const fragments = ends.map((t, k) => t - (k ? ends[k - 1] : t0));
  return { ms, records: summary.records, rows, bytes: summary.bytes, errors: summary.errorsTotal, csv: csv.value(), fragments, baseline, peak: peakRss() };
}

/** Plain fetch of every fragment, `concurrency` at a time, bodies drained: the source's limit. */
async function fetchChild(url, jobId, concurrency) {
  const { clientId, clientSecret } = await credentials();
  const tok = await fetch(`${url}/v3/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
  }).then((r) => r.json());
  const headers = { Authorization: `Bearer ${tok.access_token}` };
  const job = await fetch(`${url}/pull/v1/export/activities/jobs/${jobId}`, { headers }).then((r) => r.json());
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < job.fragment) {
      const k = next++;
      const res = await fetch(`${url}/pull/v1/export/activities/jobs/${jobId}/data?fragment=${k}`, { headers });
      if (!res.ok) throw new Error(`fragment ${k}: ${res.status}`);
      for await (const c of res.body) bytes += c.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - t0, bytes };
}

/** The sandbox in its own process (so generating the data does not share the client's core). */
function startSandbox(records) {
  const args = ["--port", "0", "--quiet", "--activities", String(records), "--fragment-records", String(Math.ceil(records / FRAGMENTS)), "--job-speed", "1000"];
  const child = spawn(process.execPath, [fileURLToPath(new URL("../sandbox/server.mjs", import.meta.url)), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`sandbox exited ${code}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve({ url: JSON.parse(line).url, close: () => child.kill() });
    });
  });
}

const SELF = fileURLToPath(import.meta.url);

export async function e2eSection(report, { quick }) {
  const target = (quick ? 16 : 256) * MB;
  const records = Math.round(target / RECORD_BYTES);
  const sb = await startSandbox(records);
  try {
    const ek = await import("../js/index.js");
    await ek.default();
    const { clientId, clientSecret } = await credentials();
    const client = new ek.BackstoryClient({ baseUrl: sb.url, clientId, clientSecret });
    const job = await client.activities.wait(await client.activities.start(RANGE), { pollIntervalMs: 200, pollMaxMs: 500 });
    const truth = await fetch(`${sb.url}/__sandbox/truth/activities?job_id=${job.jobId}&summary=1`).then((r) => r.json());

    const runs = [];
    for (const c of CONCURRENCY) {
      const args = [sb.url, job.jobId, String(c)];
      runs.push({ c, client: await runChild(SELF, ["client", ...args], { nodeArgs: ["--expose-gc"] }), fetch: await runChild(SELF, ["fetch", ...args]) });
    }

    report.section(`End to end: a ${(truth.bytes / MB).toFixed(0)} MB activity export in ${truth.fragments.length} fragments, sandbox on loopback, CSV out`);
    const failures = [];
    const ref = runs[0].client;
    for (const { c, client: r, fetch: f } of runs) {
      if (r.records !== truth.records || r.bytes !== truth.bytes) failures.push(`concurrency ${c}: ${r.records} records / ${r.bytes} bytes, the sandbox served ${truth.records} / ${truth.bytes}`);
      if (r.errors) failures.push(`concurrency ${c}: ${r.errors} data errors`);
      if (r.rows !== ref.rows || JSON.stringify(r.csv) !== JSON.stringify(ref.csv)) failures.push(`concurrency ${c}: CSV ${r.rows} rows ${JSON.stringify(r.csv)}, at concurrency 1 ${ref.rows} rows ${JSON.stringify(ref.csv)}`);
      if (f.bytes !== truth.bytes) failures.push(`concurrency ${c}: plain fetch read ${f.bytes} bytes, not ${truth.bytes}`);
    }
    // Each fragment alone: the concurrency 1 run fetches them one after another.
    const slowestAlone = Math.max(...ref.fragments);
    const rows = runs.map(({ c, client: r, fetch: f }) => [
      String(c),
      (r.ms / 1000).toFixed(2),
      (truth.bytes / MB / (r.ms / 1000)).toFixed(0),
      (truth.bytes / MB / (f.ms / 1000)).toFixed(0),
      x(f.ms / r.ms),
      x(r.ms / slowestAlone),
      (r.baseline / MB).toFixed(0),
      (r.peak / MB).toFixed(0),
      ((r.peak - r.baseline) / MB).toFixed(0),
    ]);
    report.table(["concurrency", "seconds", "client MB/s", "plain fetch MB/s (sandbox limit)", "client ÷ plain fetch", "total ÷ slowest fragment alone", "baseline RSS MB", "peak RSS MB", "peak above baseline MB"], rows);
    const c4 = runs.find((r) => r.c === 4).client;
    const c6 = runs.find((r) => r.c === 6).client;
    report.line(`${truth.records.toLocaleString("en-US")} records, ${ref.rows.toLocaleString("en-US")} CSV rows. MB/s of JSON Lines. The sandbox builds every record as it writes it, on one core (the machine has ${(await import("node:os")).cpus().length}), so both the client and plain fetch are bounded by it: more connections cannot go faster than its generator here. "Slowest fragment alone": the longest gap between two fragments' last batches in the concurrency 1 run, which fetches them one at a time (${(slowestAlone / 1000).toFixed(2)} s).`);
    report.line(`With ${truth.fragments.length} fragments and 4 connections there are at least two rounds, so 2× is the floor where one connection's speed is the limit; where the source is the limit (as here), the total is the sum of all fragments' work whatever the concurrency.`);
    report.goal("parallel fragments: at concurrency 4, total within 1.3× of the slowest single fragment", verdict(c4.ms / slowestAlone, 1.3, { higher: false }));
    report.goal(`end to end peak RSS under 128 MB at concurrency 6 (Node's baseline with exportkit loaded: ${(c6.baseline / MB).toFixed(0)} MB of it)`, verdict(c6.peak / MB, 128, { higher: false, unit: " MB", digits: 0 }));
    report.line();
    report.correctness(failures, "every run delivered exactly the sandbox's records and bytes with no data errors, and the same CSV (rows, bytes, CRC-32) at every concurrency; plain fetch read the same bytes");
  } finally {
    sb.close();
  }
}

if (process.argv[1] === SELF) {
  const [mode, url, jobId, c] = process.argv.slice(2);
  const run = { client: clientChild, fetch: fetchChild }[mode];
  console.log(JSON.stringify(await run(url, jobId, Number(c))));
}
