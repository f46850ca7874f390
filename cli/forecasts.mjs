// `exportkit forecasts --forecast-type-id N [--params FILE.json] [--format csv|json] [--out FILE]`
// Every page of a Forecasting Query, written as CSV (the flat table) or JSON (the records).
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BackstoryClient } from "../js/index.js";
import { ForecastCsvWriter } from "../js/forecasts.js";
import { checkOutputPath, openOutput, progressReporter, UsageError } from "./io.mjs";
import { backstoryCredentials } from "./query.mjs";

export const OPTIONS = {
  "forecast-type-id": { type: "string" },
  params: { type: "string", short: "p" },
  "per-page": { type: "string" },
  format: { type: "string", short: "f" },
  out: { type: "string", short: "o" },
  "base-url": { type: "string" },
  path: { type: "string" },
  concurrency: { type: "string" },
  "raw-cells": { type: "boolean" },
  quiet: { type: "boolean" },
};

export const USAGE = `exportkit forecasts --forecast-type-id N [--params FILE.json] [--format csv|json] [--out FILE]
                   [--per-page N] [--base-url URL] [--path PATH] [--concurrency N] [--no-csv-guard] [--quiet]

  Fetches every page of a Backstory Forecasting Query and writes the records.
  --forecast-type-id N  the forecast type (or forecast_type_id in --params)
  --params FILE         the other query parameters as JSON, as the API takes them:
                        {"fiscal_period_id" | "fiscal_period_external_id", "hierarchy_node_id" |
                         "hierarchy_node_ownership_external_id", "include_descendants", "sort":
                         "default" | "hierarchy_level", "page", "per_page", "timeframe":
                         {"snapshots": "latest" | "all", "since": MS, "until": MS}}; "-" reads stdin
  --per-page N          records per request, 1 to 1000 (default: per_page in --params, else 1000)
  --format csv|json     csv (default): one row per node and snapshot, one column per forecast field
                        (fields.<slug>.value); json: the records as the API sent them, one array
  --out FILE            write here (default: stdout); written to FILE.partial, renamed when complete
  --base-url URL        API base (default $BACKSTORY_BASE_URL or https://api.people.ai)
  --path PATH           request path (default /v3/beta/forecasting/query: the vendor does not
                        document it, so this is an assumption you can override)
  --concurrency N       pages in flight at once, 1 to 6 (default 4)
  --no-csv-guard        CSV (alias --raw-cells): keep cells as they are; by default a cell a spreadsheet would run as a
                        formula (starting with = + - @ tab or CR, not a plain number) gets a leading '
  Credentials: BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET.
  If the data changes during the run (the total differs between pages) a warning says so: records
  may then be repeated or missing, and running again gives a consistent set.`;

async function readStream(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

async function readParams(path, stdin) {
  if (!path) return {};
  let text;
  try {
    text = path === "-" ? await readStream(stdin) : await readFile(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --params ${path}: ${e.code || e.message}`);
  }
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--params ${path} is not valid JSON: ${e.message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new UsageError(`--params ${path} must hold a JSON object`);
  return v;
}

/** A flag's number, or its text when it is not one (the core's check then names the field). */
function numberOrText(s) {
  return /^\d+$/.test(s) ? Number(s) : s;
}

/** Puts a flag's value under the wire name, refusing a different value given in --params too. */
function setParam(params, wire, camel, flag, value) {
  for (const k of [wire, camel]) {
    if (params[k] !== undefined && params[k] !== null && params[k] !== value) {
      throw new UsageError(`${flag} ${value} contradicts "${k}": ${JSON.stringify(params[k])} in --params`);
    }
  }
  delete params[camel];
  params[wire] = value;
}

/** A spool file for the CSV's second pass: one line of JSON per page, removed afterwards. */
async function openSpool() {
  const dir = await mkdtemp(join(tmpdir(), "exportkit-forecasts-"));
  const path = join(dir, "pages.jsonl");
  const stream = createWriteStream(path, { mode: 0o600 });
  const failed = new Promise((_, reject) => stream.once("error", reject));
  failed.catch(() => {});
  return {
    write: (line) => (stream.write(`${line}\n`) ? null : Promise.race([new Promise((r) => stream.once("drain", r)), failed])),
    finish: () => new Promise((resolve, reject) => stream.end((e) => (e ? reject(e) : resolve()))),
    lines: () => createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function run(values, { env, stdout, stderr, stdin }) {
  const format = values.format ?? "csv";
  if (format !== "csv" && format !== "json") throw new UsageError(`--format must be csv or json, not ${JSON.stringify(format)}`);
  if (values["raw-cells"] && format !== "csv") throw new UsageError("--raw-cells applies to --format csv");
  const params = await readParams(values.params, stdin);
  if (values["forecast-type-id"] !== undefined) {
    setParam(params, "forecast_type_id", "forecastTypeId", "--forecast-type-id", numberOrText(values["forecast-type-id"]));
  }
  if (values["per-page"] !== undefined) {
    setParam(params, "per_page", "perPage", "--per-page", numberOrText(values["per-page"]));
  } else if (params.per_page === undefined && params.perPage === undefined) {
    params.per_page = 1000;
  }
  const opts = {};
  if (values.path !== undefined) opts.path = values.path;
  if (values.concurrency !== undefined) opts.concurrency = numberOrText(values.concurrency);
  const baseUrl = values["base-url"] || env.BACKSTORY_BASE_URL || "https://api.people.ai";
  const client = new BackstoryClient({ baseUrl, ...backstoryCredentials(env) });
  // Checked before any output is opened or any call made.
  client.forecasts.validate(params);
  await checkOutputPath(values.out);

  const progress = progressReporter(stderr, { quiet: values.quiet });
  const changes = [];
  opts.onTotalChange = (c) => changes.push(c);
  opts.onProgress = (p) => {
    const of = p.pageLast ? ` of ${p.pageLast}` : "";
    progress.update(`exportkit forecasts: page ${p.pages}${of}, ${p.records} records`);
  };
  const out = openOutput(values.out, stdout);
  const spool = format === "csv" ? await openSpool() : null;
  const csv = format === "csv" ? new ForecastCsvWriter({ csvGuard: !values["raw-cells"] }) : null;
  let summary;
  try {
    const pages = client.forecasts.query(params, opts);
    let first = true;
    if (format === "json") await out.write("[");
    for await (const page of pages) {
      if (format === "json") {
        let text = "";
        for (const r of page.records) {
          text += `${first ? "\n" : ",\n"}${JSON.stringify(r)}`;
          first = false;
        }
        if (text) await out.write(text);
      } else {
        const line = JSON.stringify(page.records);
        csv.observe(line);
        await spool.write(line);
      }
    }
    summary = await pages.result();
    if (format === "json") {
      await out.write(first ? "]\n" : "\n]\n");
    } else {
      await spool.finish();
      await out.write(csv.header());
      for await (const line of spool.lines()) {
        if (line) await out.write(csv.rows(line));
      }
    }
    await out.close();
  } catch (e) {
    await out.abort();
    throw e;
  } finally {
    progress.done();
    csv?.free();
    await spool?.remove();
  }
  for (const c of changes) {
    stderr.write(
      `warning: the total changed from ${c.previous} to ${c.current} at page ${c.page}: the data moved during the export, so records may be repeated or missing; run again for a consistent set\n`,
    );
  }
  if (!values.quiet) {
    stderr.write(`exportkit forecasts: ${summary.records} records in ${summary.pages} page(s); total ${summary.totalCount}\n`);
  }
  return 0;
}
