// `exportkit query --query FILE.json [--base-url URL] [--out FILE.csv]`
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BackstoryClient, writeCsv } from "../js/index.js";
import { checkOutputPath, checkStateDir, fileStore, formatBytes, openOutput, progressReporter, stateDir, UsageError } from "./io.mjs";

export const QUERY_OPTIONS = {
  query: { type: "string", short: "q" },
  "base-url": { type: "string" },
  out: { type: "string", short: "o" },
  force: { type: "boolean" },
  strict: { type: "boolean" },
  "skip-empty-lines": { type: "boolean" },
  "raw-cells": { type: "boolean" },
  quiet: { type: "boolean" },
};

export const QUERY_USAGE = `exportkit query --query FILE.json [--base-url URL] [--out FILE.csv] [--force] [--strict] [--no-csv-guard] [--quiet]

  Runs a Backstory Query API export and writes its CSV. A cell a spreadsheet would run as a formula
  (starting with = + - @ tab or CR, not a plain number) gets a leading ', as in every CSV exportkit
  writes (CRM fields are typed by anyone: OWASP "CSV injection").
  --query FILE    the query as JSON ({"object", "columns", "filter", "sort"}); "-" reads stdin
  --base-url URL  API base (default $BACKSTORY_BASE_URL or https://api.people.ai)
  --out FILE      write the CSV here (default: stdout); written to FILE.partial, renamed when complete
  --force         call even when today's 10 calls are counted as spent
  --strict        fail on the first malformed CSV record instead of reporting it
  --skip-empty-lines  leave blank records out (off by default; with --no-csv-guard the file keeps
                  the vendor's bytes and only the row count leaves them out)
  --no-csv-guard  write the CSV exactly as the API sent it, byte for byte (alias --raw-cells)
  Credentials: BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET. The daily call count is kept in
  $EXPORTKIT_STATE_DIR (default ~/.local/state/exportkit).`;

export function backstoryCredentials(env) {
  const clientId = env.BACKSTORY_CLIENT_ID;
  const clientSecret = env.BACKSTORY_CLIENT_SECRET;
  if (!clientId || !clientSecret) {
    throw new UsageError("set BACKSTORY_CLIENT_ID and BACKSTORY_CLIENT_SECRET to your Backstory API key and secret");
  }
  return { clientId, clientSecret };
}

async function readQuery(path, stdin) {
  let text;
  try {
    text = path === "-" ? await readStream(stdin) : await readFile(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --query ${path}: ${e.code || e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--query ${path} is not valid JSON: ${e.message}`);
  }
}

// The parsed rows written again through the one guard every exportkit CSV goes through
// (writeCsv): the vendor's quoting is not kept, its cells are.
async function writeGuarded(batches, out) {
  let header = false;
  const write = async (text) => {
    const p = out.write(text);
    if (p) await p;
  };
  for await (const b of batches) {
    let text = "";
    if (!header && b.header) {
      text += writeCsv([b.header], { csvGuard: true });
      header = true;
    }
    text += writeCsv(b.rows, { csvGuard: true });
    await write(text);
  }
  const result = await batches.result();
  if (!header && result.header) await write(writeCsv([result.header], { csvGuard: true }));
  return result;
}

async function readStream(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

export async function runQuery(values, { env, stdout, stderr, stdin }) {
  if (!values.query) throw new UsageError("--query FILE.json is required");
  const query = await readQuery(values.query, stdin);
  const baseUrl = values["base-url"] || env.BACKSTORY_BASE_URL || "https://api.people.ai";
  const credentials = backstoryCredentials(env);
  // Every local precondition is checked before the call: afterwards it would cost one of 10.
  await checkOutputPath(values.out);
  await checkStateDir(stateDir(env));
  const store = await fileStore(join(stateDir(env), "quota.json"));
  const client = new BackstoryClient({ baseUrl, ...credentials, quotaStore: store });
  client.validateQuery(query);
  const progress = progressReporter(stderr, { quiet: values.quiet });
  const out = openOutput(values.out, stdout);
  let pending = null;
  let result;
  const common = {
    force: !!values.force,
    strict: !!values.strict,
    skipEmptyLines: !!values["skip-empty-lines"],
    onProgress: (p) => {
      progress.update(`exportkit query: ${p.phase} ${p.rows} rows, ${formatBytes(p.bytes)}`, { force: p.phase !== "download" });
    },
  };
  try {
    if (values["raw-cells"]) {
      result = await client.query(query, {
        ...common,
        collect: false,
        onRawChunk: (bytes) => {
          const p = out.write(bytes);
          if (p) pending = p;
        },
      });
      if (pending) await pending;
    } else {
      result = await writeGuarded(client.queryBatches(query, common), out);
    }
    await out.close();
  } catch (e) {
    await out.abort();
    throw e;
  } finally {
    progress.done();
    await store.flush();
  }
  for (const m of result.missingColumns) {
    const what = m.variationId ? `${m.slug} (${m.variationId})` : m.slug;
    stderr.write(`warning: the API left out requested column ${what}: unknown slug or unsupported time period\n`);
  }
  if (result.errors.length) {
    stderr.write(`warning: ${result.errors.length} malformed record(s); first at line ${result.errors[0].line}: ${result.errors[0].message}\n`);
  }
  if (!values.quiet) {
    stderr.write(`exportkit query: ${result.rowCount} rows, ${formatBytes(result.bytes)}; ${result.callsLeft} of 10 calls left today\n`);
  }
  return 0;
}
