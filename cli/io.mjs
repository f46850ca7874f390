// Shared CLI plumbing: usage errors, output sinks, state files, progress lines.
import { createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve as resolvePath } from "node:path";

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

/**
 * Proves, before any call is spent, that `--flag PATH` can be written: the file it will be
 * written through (PATH.partial) is created and removed again. A run that fails here costs the
 * user nothing; the same failure after the call would cost one of the day's calls.
 */
export async function checkOutputPath(path, flag = "--out") {
  if (!path || path === "-") return;
  const dir = dirname(resolvePath(path));
  let st = null;
  try {
    st = await stat(path);
  } catch (e) {
    if (e.code !== "ENOENT" && e.code !== "ENOTDIR") throw new UsageError(`${flag} ${path}: cannot use it (${e.code || e.message})`);
  }
  if (st?.isDirectory()) throw new UsageError(`${flag} ${path} is a directory; give a file name`);
  let d = null;
  try {
    d = await stat(dir);
  } catch (e) {
    if (e.code !== "ENOENT" && e.code !== "ENOTDIR") throw new UsageError(`${flag} ${path}: cannot use ${dir} (${e.code || e.message})`);
  }
  if (!d) throw new UsageError(`${flag} ${path}: the folder ${dir} does not exist`);
  if (!d.isDirectory()) throw new UsageError(`${flag} ${path}: ${dir} is not a folder`);
  const tmp = `${path}.partial`;
  try {
    const fh = await open(tmp, "w", 0o600);
    await fh.close();
    await rm(tmp, { force: true });
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot write there (${e.code || e.message})`);
  }
}

/**
 * Proves, before any call, that the state folder (the daily call count) can be written: a count
 * that cannot be saved after the call would crash the run and forget the spent call.
 */
export async function checkStateDir(dir) {
  try {
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.probe.${process.pid}`);
    const fh = await open(probe, "w", 0o600);
    await fh.close();
    await rm(probe, { force: true });
  } catch (e) {
    throw new UsageError(`cannot write the call count in ${dir} (${e.code || e.message}): set EXPORTKIT_STATE_DIR to a writable folder`);
  }
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
  // A write after the first error emits another one; the first is reported through `failed`.
  stream.on("error", () => {});
  return {
    write: (chunk) => (stream.write(chunk) ? null : Promise.race([new Promise((r) => stream.once("drain", r)), failed])),
    close: async () => {
      await Promise.race([new Promise((resolve, reject) => stream.end((e) => (e ? reject(e) : resolve()))), failed]);
      await rename(tmp, path);
    },
    abort: async () => {
      stream.destroy();
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
