// Command dispatch. Each command lives in its own module and shares cli/io.mjs.
import { parseArgs } from "node:util";
import { toExportError } from "../js/index.js";
import init from "../js/node.js"; // reads the wasm from disk on any Node 20
import { UsageError } from "./io.mjs";
import * as activities from "./activities.mjs";
import * as forecasts from "./forecasts.mjs";
import { QUERY_OPTIONS, QUERY_USAGE, runQuery } from "./query.mjs";
import * as userpilot from "./userpilot.mjs";

// Each command module exports OPTIONS (node:util parseArgs options), USAGE and run(values, io,
// positionals). `allowPositionals` lets a command take words (`userpilot lookup NAME`).
const GUARD_OFF = { "no-csv-guard": { type: "boolean" } };

const COMMANDS = {
  query: { options: QUERY_OPTIONS, usage: QUERY_USAGE, run: runQuery },
  activities: { options: activities.OPTIONS, usage: activities.USAGE, run: activities.run },
  forecasts: { options: forecasts.OPTIONS, usage: forecasts.USAGE, run: forecasts.run },
  userpilot: {
    options: userpilot.OPTIONS,
    get usage() {
      return userpilot.usage();
    },
    run: userpilot.run,
    positionals: true,
  },
};

// The synopsis of every command, taken from its own usage text so the two never disagree.
const SYNOPSES = Object.values(COMMANDS)
  .flatMap((c) => c.usage.split("\n").filter((l) => l.startsWith("exportkit ")))
  .map((l) => `  ${l.replace(/\s*\[.*$/, " [options]")}`);

const USAGE = `exportkit: bulk data exports from Backstory and Userpilot

Usage:
${SYNOPSES.join("\n")}
  exportkit help COMMAND   (every option of a command)

Exit codes: 0 success, 2 bad input, 1 a failed call.`;

export async function main(argv, io) {
  const { stderr, stdout } = io;
  const [command, ...rest] = argv;
  // Before any usage text: lookup names and other vendor vocabulary come from the wasm.
  try {
    await init();
  } catch (e) {
    stderr.write(`exportkit: ${toExportError(e).message}\n`);
    return 1;
  }
  if (!command || command === "help" || command === "--help" || command === "-h") {
    const topic = COMMANDS[rest[0]];
    (command ? stdout : stderr).write(`${topic ? topic.usage : USAGE}\n`);
    return command ? 0 : 2;
  }
  const cmd = COMMANDS[command];
  if (!cmd) {
    stderr.write(`exportkit: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
    return 2;
  }
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { ...cmd.options, ...(cmd.options["raw-cells"] ? GUARD_OFF : {}), help: { type: "boolean", short: "h" } },
      allowPositionals: !!cmd.positionals,
      strict: true,
    }));
  } catch (e) {
    stderr.write(`exportkit ${command}: ${e.message}\n\n${cmd.usage}\n`);
    return 2;
  }
  // One CSV guard rule: on for every CSV the CLI writes, off with --no-csv-guard, which every
  // command that writes CSV takes; --raw-cells, its older name, stays an alias.
  if (values["no-csv-guard"]) values["raw-cells"] = true;
  if (values.help) {
    stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  try {
    await init();
    return await cmd.run(values, { ...io, stdin: io.stdin ?? process.stdin }, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      stderr.write(`exportkit ${command}: ${e.message}\n`);
      return 2;
    }
    const err = toExportError(e);
    const where = err.field ? ` (${err.field})` : "";
    stderr.write(`exportkit ${command}: ${err.code}${where}: ${err.message}\n`);
    return err.code === "E_INVALID_ARGUMENT" ? 2 : 1;
  }
}
