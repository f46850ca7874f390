// Shared CLI plumbing: usage errors, output sinks, state files, progress lines.
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** A problem with what the user typed: exit code 2. */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = "UsageError";
  }
}

/** Where the daily call count lives between runs. */
export function stateDir(env) {
  if (env.EXPORTKIT_STATE_DIR) return env.EXPORTKIT_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "exportkit");
}

/**
 * A synchronous key-value store over one JSON file, loaded once and written on every change
 * (atomically, through a rename) so two runs a minute apart see each other's counts.
 */
export async function fileStore(path) {
  let data = {};
  try {
    data = JSON.parse(await readFile(path, "utf8"));
    if (data === null || typeof data !== "object") data = {};
  } catch (_) {
    data = {};
  }
  let pending = Promise.resolve();
  return {
    get: (k) => (Object.hasOwn(data, k) ? data[k] : null),
    set: (k, v) => {
      data[k] = v;
      const text = JSON.stringify(data);
      pending = pending.then(async () => {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, path);
      });
    },
    flush: () => pending,
  };
}

/** Opens the output: a file (written to a temporary name, renamed when complete) or stdout. */
export function openOutput(path, stdout) {
  if (!path || path === "-") {
    return {
      write: (chunk) => (stdout.write(chunk) ? null : new Promise((r) => stdout.once("drain", r))),
      close: async () => {},
      abort: async () => {},
    };
  }
  const tmp = `${path}.partial`;
  const stream = createWriteStream(tmp);
  const failed = new Promise((_, reject) => stream.once("error", reject));
  failed.catch(() => {});
  return {
    write: (chunk) => (stream.write(chunk) ? null : Promise.race([new Promise((r) => stream.once("drain", r)), failed])),
    close: async () => {
      await new Promise((resolve, reject) => stream.end((e) => (e ? reject(e) : resolve())));
      await rename(tmp, path);
    },
    abort: async () => {
      stream.destroy();
      const { rm } = await import("node:fs/promises");
      await rm(tmp, { force: true });
    },
  };
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Progress on stderr: a rewritten line on a terminal, a line every few seconds otherwise. */
export function progressReporter(stderr, { quiet = false } = {}) {
  const tty = !!stderr.isTTY;
  let last = 0;
  let lastText = "";
  return {
    update(text, { force = false } = {}) {
      if (quiet || text === lastText) return;
      const now = Date.now();
      if (!force && now - last < (tty ? 100 : 2000)) return;
      last = now;
      lastText = text;
      if (tty) stderr.write(`\r\x1b[2K${text}`);
      else stderr.write(`${text}\n`);
    },
    done() {
      if (tty && !quiet && lastText) stderr.write("\n");
    },
  };
}
