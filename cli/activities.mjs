// `exportkit activities --start-date D --end-date D [...]`: a Raw Activity Data export (jobs,
// windows for long ranges, fragments in parallel) written as JSON Lines or CSV.
import { BackstoryClient } from "../js/index.js";
import { existsSync } from "node:fs";
import { checkpointSaver, openResumable, stopOnFailure } from "./checkpoint.mjs";
import { checkOutputPath, formatBytes, progressReporter, UsageError } from "./io.mjs";
import { backstoryCredentials } from "./query.mjs";

export const OPTIONS = {
  "start-date": { type: "string" },
  "end-date": { type: "string" },
  "activity-type": { type: "string" },
  "export-type": { type: "string" },
  format: { type: "string" },
  explode: { type: "string" },
  concurrency: { type: "string" },
  "base-url": { type: "string" },
  out: { type: "string", short: "o" },
  "job-id": { type: "string" },
  "window-days": { type: "string" },
  "max-active-jobs": { type: "string" },
  "poll-interval-ms": { type: "string" },
  strict: { type: "boolean" },
  "raw-cells": { type: "boolean" },
  quiet: { type: "boolean" },
  resume: { type: "boolean" },
};

export const USAGE = `exportkit activities --start-date YYYY-MM-DD --end-date YYYY-MM-DD [options]

  Exports raw activities (emails, meetings, calls) from the Backstory Raw Activity Data API.
  A delta range longer than 14 days runs as consecutive jobs of at most 14 days, within the API's
  limits (10 jobs queued, 2 running); their data is written in date order.

  --start-date D, --end-date D   UTC days, inclusive
  --activity-type T   all (default), email, meeting or call
  --export-type T     delta (default; any range, split into jobs) or snapshot (at most one year)
  --format F          jsonl (default: the records exactly as the API sent them) or csv
                      (nested objects as dotted columns, participants as JSON in one cell)
  --explode FIELD     with --format csv: one row per element of FIELD (participants)
  --no-csv-guard      with --format csv (alias --raw-cells): keep cells as they are; by default a cell a spreadsheet
                      would run as a formula (starting with = + - @ tab or CR, not a plain number)
                      gets a leading '
  --concurrency N     fragments downloaded at once, 1 to 6 (default 4)
  --base-url URL      API base (default $BACKSTORY_BASE_URL or https://api.people.ai)
  --out FILE          write here (default: stdout); written to FILE.partial, renamed when complete,
                      with FILE.exportkit-checkpoint.json saying what is final (the fragment and
                      line reached)
  --resume            with --out: go on from the checkpoint of the same command killed or failed
                      before, with the same vendor jobs, at the fragment and line where it
                      stopped (fragments written are not fetched again), writing no record twice
                      (no checkpoint: start); a checkpoint of other parameters is refused
  --job-id ID         download an existing job instead of starting one (no dates needed)
  --window-days N     days per job for a long delta range (1 to 14, default 14)
  --max-active-jobs N our jobs queued or running at once (1 to 10, default 10)
  --poll-interval-ms N  first wait between job status reads (default 1000; grows to 10 s)
  --strict            fail on the first malformed record instead of reporting it
  --quiet             no progress line
  Credentials: BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET.`;

function intFlag(values, name, lo, hi) {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < lo || n > hi) throw new UsageError(`--${name} must be a whole number from ${lo} to ${hi}`);
  return n;
}

function choice(values, name, allowed) {
  const v = values[name];
  if (v !== undefined && !allowed.includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(", ")}`);
  return v;
}

// The core names parameters as the JavaScript API spells them; say the flag instead.
const FLAG_OF = {
  startDate: "--start-date",
  endDate: "--end-date",
  activityType: "--activity-type",
  exportType: "--export-type",
  windowDays: "--window-days",
  concurrency: "--concurrency",
  explode: "--explode",
};

function progressText(p) {
  const jobs = `jobs ${p.windowsDone}/${p.windows} done${p.jobsActive ? ` (${p.jobsActive} queued or running)` : ""}`;
  const frags = p.fragmentsTotal ? `, fragments ${p.fragmentsDone}/${p.fragmentsTotal}` : "";
  return `exportkit activities: ${p.phase}: ${jobs}${frags}, ${p.rows.toLocaleString("en-US")} rows, ${formatBytes(p.bytes)}`;
}

export async function run(values, { env, stdout, stderr }) {
  const format = choice(values, "format", ["jsonl", "csv"]) ?? "jsonl";
  choice(values, "activity-type", ["all", "email", "meeting", "call"]);
  choice(values, "export-type", ["delta", "snapshot"]);
  if (values.explode !== undefined && format !== "csv") throw new UsageError("--explode needs --format csv");
  if (values["raw-cells"] && format !== "csv") throw new UsageError("--raw-cells needs --format csv");
  const jobId = values["job-id"];
  if (!jobId && (!values["start-date"] || !values["end-date"])) {
    throw new UsageError("--start-date and --end-date are required (or --job-id to download an existing job)");
  }
  const opts = {
    format: format === "csv" ? "csv" : "jsonl",
    explode: values.explode,
    csvGuard: !values["raw-cells"],
    concurrency: intFlag(values, "concurrency", 1, 6),
    maxActiveJobs: intFlag(values, "max-active-jobs", 1, 10),
    pollIntervalMs: intFlag(values, "poll-interval-ms", 10, 600000),
    strict: !!values.strict,
  };
  const params = {
    startDate: values["start-date"],
    endDate: values["end-date"],
    activityType: values["activity-type"],
    exportType: values["export-type"],
    windowDays: intFlag(values, "window-days", 1, 14),
  };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  const baseUrl = values["base-url"] || env.BACKSTORY_BASE_URL || "https://api.people.ai";
  const client = new BackstoryClient({ baseUrl, ...backstoryCredentials(env) });
  if (!jobId) {
    try {
      client.activities.plan(params);
    } catch (e) {
      if (e.code === "E_INVALID_ARGUMENT" && FLAG_OF[e.field]) throw new UsageError(`${FLAG_OF[e.field]}: ${e.message}`);
      throw e;
    }
  }
  // A resumed run keeps FILE.partial; the probe would empty it.
  if (!(values.resume && values.out && existsSync(`${values.out}.partial`))) await checkOutputPath(values.out);
  const windows = jobId ? [{ jobId }] : client.activities.plan(params);
  const out = await openResumable({
    out: values.out,
    resume: !!values.resume,
    command: "activities",
    params: { ...params, jobId, format, explode: values.explode, csvGuard: opts.csvGuard },
    stdout,
  });
  const resumed = out.state;
  if (resumed && (resumed.checkpoint === null || typeof resumed.checkpoint !== "object" || resumed.checkpoint.jobs?.length !== windows.length)) {
    throw new UsageError(`the checkpoint of ${values.out} does not fit this export's ${windows.length} window(s); remove it to start again`);
  }
  const progress = progressReporter(stderr, { quiet: values.quiet });
  opts.onProgress = (p) => {
    progress.update(progressText(p), { force: p.phase === "done" });
  };
  // The API hands a checkpoint over once every batch before it has been written here, so the
  // bytes of FILE.partial and the checkpoint saved with them always agree.
  const saver = checkpointSaver(out);
  if (values.out && values.out !== "-") {
    opts.onCheckpoint = (ck) => saver.offer({ checkpoint: ck }, `${ck.jobs.join(",")} ${ck.window} ${ck.download?.download.head ?? "-"}`);
  }
  if (resumed) opts.checkpoint = resumed.checkpoint;
  let summary;
  try {
    const it = jobId ? client.activities.rows(jobId, opts) : client.activities.export(params, opts);
    for await (const b of it) {
      await out.write(b.kind === "csv" ? Buffer.from(b.csv, "utf8") : Buffer.from(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength));
    }
    summary = await it.result();
    saver.stop();
    await out.close();
  } catch (e) {
    const kept = await stopOnFailure(e, saver, out, values.out);
    if (e.delivered && !values.quiet) {
      const d = e.delivered;
      const where = d.jobId ? ` (last from job ${d.jobId}, fragment ${d.fragment})` : "";
      const note = !values.out ? "" : kept ? `; ${values.out}.partial keeps what is final: the same command with --resume goes on from there` : `; ${values.out} was not written`;
      stderr.write(`exportkit activities: stopped after ${d.records || d.rows} rows, ${formatBytes(d.bytes)} delivered${where}${note}\n`);
    }
    throw e;
  } finally {
    progress.done();
  }
  if (summary.errorsTotal) {
    const e = summary.errors[0];
    stderr.write(`warning: ${summary.errorsTotal} malformed record(s) left out; first in job ${e.jobId} fragment ${e.fragment} line ${e.line}: ${e.message}\n`);
  }
  for (const w of summary.warnings ?? []) stderr.write(`warning: ${w.message} (${w.code})\n`);
  for (const l of summary.lateFields) {
    stderr.write(`warning: field ${l.column} first appeared at line ${l.firstLine}, after the CSV header was written: ${l.count} value(s) not in the CSV\n`);
  }
  if (!values.quiet) {
    const rows = format === "csv" ? `${summary.rows.toLocaleString("en-US")} CSV rows from ` : "";
    stderr.write(`exportkit activities: ${summary.jobs.length} job(s), ${rows}${summary.records.toLocaleString("en-US")} records, ${formatBytes(summary.bytes)}${summary.retries ? `, ${summary.retries} fragment retries` : ""}\n`);
  }
  return 0;
}
