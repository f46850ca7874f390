// `exportkit userpilot export|lookup|jobs|job`: Userpilot Bulk Data Export and Lookups.
import { UserpilotClient, writeCsv } from "../js/index.js";
import { LOOKUPS } from "../js/userpilot.js";
import { allowedHosts, fileLinkFetch } from "./file-links.mjs";
import { existsSync } from "node:fs";
import { checkpointSaver, openResumable, stopOnFailure } from "./checkpoint.mjs";
import { checkOutputPath, formatBytes, openOutput, progressReporter, UsageError } from "./io.mjs";

export const OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  "event-type": { type: "string", multiple: true },
  "user-id": { type: "string", multiple: true },
  "company-id": { type: "string", multiple: true },
  "segment-id": { type: "string" },
  email: { type: "string", multiple: true },
  exclusions: { type: "boolean" },
  format: { type: "string" },
  out: { type: "string", short: "o" },
  "base-url": { type: "string" },
  dedupe: { type: "boolean" },
  "keep-duplicates": { type: "boolean" },
  flatten: { type: "boolean" },
  "wait-for-running": { type: "boolean" },
  concurrency: { type: "string" },
  limit: { type: "string" },
  strict: { type: "boolean" },
  "raw-cells": { type: "boolean" },
  "allow-file-host": { type: "string", multiple: true },
  "allow-private-file-links": { type: "boolean" },
  quiet: { type: "boolean" },
  resume: { type: "boolean" },
};

// A function: the lookup names come from the wasm (js/vocabulary.js), loaded before any usage is shown.
export const usage = () => `exportkit userpilot export --from YYYY-MM-DD --to YYYY-MM-DD [--event-type T ...] [--user-id ID ...]
                         [--company-id ID ...] [--segment-id ID] [--email ADDR ...] [--exclusions]
                         [--format json|csv] [--out FILE] [--keep-duplicates] [--flatten] [--wait-for-running]
                         [--concurrency N] [--strict] [--no-csv-guard] [--quiet] [--base-url URL]
                         [--allow-file-host HOST ...] [--allow-private-file-links] [--resume]
exportkit userpilot lookup NAME [--out FILE] [--limit N]
exportkit userpilot jobs | job JOB_ID

  export   starts a Bulk Data Export job, waits for it, downloads its gzip files and writes the
           events: JSON Lines for --format json (default), one CSV for --format csv (one header),
           or with --flatten JSON events as CSV (metadata.* columns). Repeat a flag to give several
           values (--event-type track --event-type page_view). Event types: identify_user,
           identify_company, page_view, track, track_feature, interaction.
           Events repeated across files (same internal_event_id) are written once, as the
           dashboard and the JavaScript API do; --keep-duplicates writes every line as the
           files hold it. (--dedupe, the old way to ask for dropping, is still accepted.)
           --wait-for-running waits for a job already running (409) instead of failing.
           --no-csv-guard (CSV output; alias --raw-cells) keeps cells as they are; by default a
           cell a spreadsheet would run as a formula (starting with = + - @ tab or CR, not a plain
           number) gets a leading '.
           The job's presigned file links must be https and resolve only to public addresses
           (not loopback, private, link-local/metadata, CGNAT or unique-local), unless they point
           at the --base-url origin itself. --allow-file-host HOST (repeatable; or
           EXPORTKIT_ALLOW_FILE_HOSTS=HOST,HOST) trusts a host at any address, http included;
           --allow-private-file-links allows any address over https. Each redirect hop is checked.
           With --out, FILE.exportkit-checkpoint.json names the job and says what is final (the
           file and line reached); --resume (same command) goes on with the same job (its links
           are asked for again) from that file and line, without fetching the files before it
           again, writing no event twice; with no checkpoint it simply starts.
  lookup   writes every item of a lookup as a JSON array, all cursor pages walked. Names:
           ${LOOKUPS.join(", ")}.
  jobs     lists the export jobs of the past 3 days; job JOB_ID shows one (JSON).
  --out FILE writes to FILE.partial and renames it when complete (default: stdout).
  The API key comes from USERPILOT_API_KEY; the base URL from --base-url, USERPILOT_BASE_URL or
  https://appex.userpilot.io. Exit codes: 0 success, 2 bad input, 1 a failed call.`;

function client(values, env) {
  const apiKey = env.USERPILOT_API_KEY;
  if (!apiKey) throw new UsageError("set USERPILOT_API_KEY to your Userpilot API key");
  const baseUrl = values["base-url"] || env.USERPILOT_BASE_URL || "https://appex.userpilot.io";
  const fetchFile = fileLinkFetch({
    baseUrl,
    allowHosts: allowedHosts(values["allow-file-host"], env),
    allowPrivate: !!values["allow-private-file-links"],
  });
  return new UserpilotClient({ baseUrl, apiKey, fetchFile });
}

function positiveInt(values, flag, max) {
  const v = values[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > max) throw new UsageError(`--${flag} must be an integer from 1 to ${max}`);
  return n;
}

async function writeAll(out, text) {
  const p = out.write(text);
  if (p) await p;
}

export async function run(values, { env, stdout, stderr }, positionals = []) {
  const [sub, ...args] = positionals;
  if (sub === "export") return runExport(values, env, stdout, stderr, args);
  if (sub === "lookup") return runLookup(values, env, stdout, stderr, args);
  if (sub === "jobs" || sub === "job") return runJobs(sub, values, env, stdout, args);
  throw new UsageError(sub ? `unknown subcommand ${JSON.stringify(sub)}; expected export, lookup, jobs or job` : "say export, lookup, jobs or job");
}

async function runExport(values, env, stdout, stderr, extra) {
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  for (const f of ["from", "to"]) if (!values[f]) throw new UsageError(`--${f} YYYY-MM-DD is required`);
  const params = { from: values.from, to: values.to };
  if (values["event-type"]) params.eventType = values["event-type"];
  if (values["user-id"]) params.userId = values["user-id"];
  if (values["company-id"]) params.companyId = values["company-id"];
  if (values["segment-id"] !== undefined) params.segmentId = values["segment-id"];
  if (values.email) params.emails = values.email;
  if (values.exclusions) params.exclusions = true;
  if (values.format !== undefined) params.format = values.format;
  if (values.flatten && params.format === "csv") throw new UsageError("--flatten applies to --format json (CSV files are already flat)");
  const csvOut = params.format === "csv" || values.flatten;
  if (values["raw-cells"] && !csvOut) throw new UsageError("--no-csv-guard (--raw-cells) applies to CSV output (--format csv or --flatten)");
  const csvGuard = !values["raw-cells"];
  if (values.dedupe && values["keep-duplicates"]) throw new UsageError("--dedupe and --keep-duplicates contradict each other; give one");
  const dedupe = !values["keep-duplicates"];
  const concurrency = positiveInt(values, "concurrency", 6);
  const up = client(values, env);
  // Bad parameters fail here, before any call.
  up.exports.validate(params);
  // A resumed run keeps FILE.partial; the probe would empty it.
  if (!(values.resume && values.out && existsSync(`${values.out}.partial`))) await checkOutputPath(values.out);
  const out = await openResumable({
    out: values.out,
    resume: !!values.resume,
    command: "userpilot export",
    params: { ...params, dedupe, flatten: !!values.flatten, csvGuard },
    stdout,
  });
  const resumed = out.state;
  if (resumed && (typeof resumed.jobId !== "string" || (resumed.checkpoint !== null && typeof resumed.checkpoint !== "object"))) {
    throw new UsageError(`the checkpoint of ${values.out} does not name a Userpilot job; remove it to start again`);
  }
  const progress = progressReporter(stderr, { quiet: values.quiet });
  let jobId = resumed?.jobId;
  // --format csv: the header written (one for the whole output), kept across a resume.
  let header = resumed?.header ?? null;
  const saver = checkpointSaver(out);
  let result;
  try {
    if (!jobId) {
      const job = await up.exports.start(params, {
        waitForRunning: !!values["wait-for-running"],
        onWaiting: (id) => progress.update(`exportkit userpilot: another export is running${id ? ` (${id})` : ""}; waiting for it`, { force: true }),
      });
      jobId = job.jobId;
      // Saved before anything else: a run killed while the job runs goes on with this job.
      await out.save({ jobId, checkpoint: null, header });
      progress.update(`exportkit userpilot: job ${jobId} started`, { force: true });
    } else {
      progress.update(`exportkit userpilot: resuming job ${jobId}${resumed.checkpoint?.download ? ` at file ${resumed.checkpoint.download.download.head + 1}` : ""}`, { force: true });
    }
    await up.exports.wait(jobId, {
      onProgress: (j) => progress.update(`exportkit userpilot: job ${j.jobId} ${j.status}${j.progress ? `, ${j.progress.done} of ${j.progress.total} partitions` : ""}`),
    });
    // The API hands a checkpoint over once every batch before it has been written here; the
    // files before it are not fetched again, the one in progress goes on at its line.
    const it = up.exports.rows(jobId, {
      concurrency,
      dedupe,
      flatten: !!values.flatten,
      csvGuard,
      strict: !!values.strict,
      // Batches of 500 events: a checkpoint inside a file at least that often (a file holds
      // thousands), so a resumed run fetches little of the file in progress again.
      batchRecords: values.out && values.out !== "-" ? 500 : undefined,
      checkpoint: resumed?.checkpoint ?? undefined,
      onCheckpoint: values.out && values.out !== "-" ? (ck) => saver.offer({ jobId, checkpoint: ck, header }, `${ck.download?.download.head ?? "-"}`) : undefined,
      onProgress: (p) => progress.update(`exportkit userpilot: ${p.filesDone}/${p.filesTotal} files, ${p.records} events, ${formatBytes(p.bytes)}`),
    });
    for await (const b of it) {
      let text = "";
      if (b.format === "json") {
        for (const r of b.records) text += JSON.stringify(r) + "\n";
      } else if (b.format === "csv") {
        if (header === null) {
          header = b.header;
          text += writeCsv([header], { csvGuard });
        } else if (b.header.join(",") !== header.join(",")) {
          throw new UsageError(`${b.filename} has a different CSV header than the first file; export it alone`);
        }
        text += writeCsv(b.rows, { csvGuard });
      } else {
        text = b.csv;
      }
      await out.write(Buffer.from(text, "utf8"));
    }
    result = await it.result();
    saver.stop();
    await out.close();
  } catch (e) {
    const kept = await stopOnFailure(e, saver, out, values.out);
    if (kept && !values.quiet) stderr.write(`exportkit userpilot: ${values.out}.partial keeps what is final (job ${jobId}): the same command with --resume goes on from there\n`);
    throw e;
  } finally {
    progress.done();
  }
  if (result.errors.length) {
    const e = result.errors[0];
    stderr.write(`warning: ${result.errors.length} malformed record(s); first in ${e.filename} line ${e.line}: ${e.message}\n`);
  }
  if (!values.quiet) {
    const dups = dedupe ? `, ${result.duplicates} duplicates dropped` : ", duplicates kept";
    stderr.write(`exportkit userpilot: job ${jobId}: ${result.records} events from ${result.files.length} files${dups}\n`);
  }
  return 0;
}

async function runLookup(values, env, stdout, stderr, args) {
  if (args.length !== 1) throw new UsageError(`give one lookup name: ${LOOKUPS.join(", ")}`);
  const name = args[0];
  if (!LOOKUPS.includes(name)) throw new UsageError(`unknown lookup ${JSON.stringify(name)}; expected one of ${LOOKUPS.join(", ")}`);
  const limit = positiveInt(values, "limit", 1000);
  const up = client(values, env);
  await checkOutputPath(values.out);
  const items = await up.lookups.all(name, limit ? { limit } : {});
  const out = openOutput(values.out, stdout);
  try {
    await writeAll(out, JSON.stringify(items, null, 2) + "\n");
    await out.close();
  } catch (e) {
    await out.abort();
    throw e;
  }
  if (!values.quiet) stderr.write(`exportkit userpilot: ${name}: ${items.length} items\n`);
  return 0;
}

async function runJobs(sub, values, env, stdout, args) {
  const up = client(values, env);
  if (sub === "jobs" && args.length) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
  if (sub === "job" && args.length !== 1) throw new UsageError("give one job id");
  // --out was accepted here and ignored; now it is honoured, and checked before the call.
  await checkOutputPath(values.out);
  const answer = sub === "jobs" ? await up.exports.list() : await up.exports.get(args[0]);
  const out = openOutput(values.out, stdout);
  try {
    await writeAll(out, JSON.stringify(answer, null, 2) + "\n");
    await out.close();
  } catch (e) {
    await out.abort();
    throw e;
  }
  return 0;
}
