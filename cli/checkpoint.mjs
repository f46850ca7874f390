// Resumable output for `--out FILE` (issue 18): the data goes to FILE.partial, and
// FILE.exportkit-checkpoint.json says, after each fragment or file, which vendor jobs the run uses
// and how many bytes of FILE.partial are final. `--resume` reads it back, cuts FILE.partial to that
// length and goes on with the same jobs: vendor jobs stay for days, and creating them again costs
// the vendor's job slots and the user's time.
import { createHash } from "node:crypto";
import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { UsageError } from "./io.mjs";

const VERSION = 1;

export const checkpointPath = (out) => `${out}.exportkit-checkpoint.json`;

/**
 * The fingerprint of what a command writes: the command and every parameter that changes the
 * output (not --quiet, --concurrency or polling). A checkpoint of other parameters is refused.
 */
export function paramsHash(command, params) {
  const canonical = JSON.stringify([command, Object.keys(params).sort().map((k) => [k, params[k] ?? null])]);
  return createHash("sha256").update(canonical).digest("hex");
}

async function readCheckpoint(path) {
  let text;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return null;
    throw new UsageError(`cannot read the checkpoint ${path} (${e.code || e.message})`);
  }
  let ck;
  try {
    ck = JSON.parse(text);
  } catch (_) {
    throw new UsageError(`the checkpoint ${path} is not JSON; remove it to start again`);
  }
  if (ck?.version !== VERSION || typeof ck.paramsHash !== "string" || !Number.isSafeInteger(ck.outputBytes) || ck.outputBytes < 0 || typeof ck.outputSha256 !== "string") {
    throw new UsageError(`the checkpoint ${path} is not one this exportkit wrote (version ${VERSION}); remove it to start again`);
  }
  return ck;
}

/** SHA-256 of the first `n` bytes of a file, or null when the file is shorter. */
async function prefixHash(path, n) {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    if (e.code === "ENOENT") return null;
    throw e;
  }
  try {
    if ((await fh.stat()).size < n) return null;
    const h = createHash("sha256");
    const buf = Buffer.alloc(1 << 20);
    let at = 0;
    while (at < n) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, n - at), at);
      if (!bytesRead) return null;
      h.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    return h.digest("hex");
  } finally {
    await fh.close();
  }
}

/**
 * Opens `--out` for a resumable export. Resolves to `{ state, write(bytes), save(state), close(),
 * fail() }`: `state` is the command's own part of the checkpoint being resumed (null for a fresh
 * start); `save` writes a checkpoint (atomically) saying that everything written so far is final.
 * Without `--out` (stdout) there is nothing to resume: `--resume` is refused, `save` does nothing.
 */
export async function openResumable({ out, resume, command, params, stdout }) {
  const hash = paramsHash(command, params);
  if (!out || out === "-") {
    if (resume) throw new UsageError("--resume needs --out FILE (standard output cannot be resumed)");
    return {
      state: null,
      write: (chunk) => (stdout.write(chunk) ? undefined : new Promise((r) => stdout.once("drain", r))),
      save: async () => {},
      close: async () => {},
      fail: async () => null,
      discard: async () => null,
    };
  }
  const ckPath = checkpointPath(out);
  const partial = `${out}.partial`;
  let state = null;
  let length = 0;
  const whole = createHash("sha256");
  if (resume) {
    const ck = await readCheckpoint(ckPath);
    if (ck) {
      if (ck.paramsHash !== hash) {
        throw new UsageError(`the checkpoint ${ckPath} is of an export with other parameters; run that command with --resume, or remove the checkpoint to start this one`);
      }
      const have = await prefixHash(partial, ck.outputBytes);
      if (have !== ck.outputSha256) {
        throw new UsageError(`${partial} does not hold the ${ck.outputBytes} bytes the checkpoint ${ckPath} vouches for; remove both to start again`);
      }
      state = ck.state ?? null;
      length = ck.outputBytes;
    }
  }
  // A fresh start truncates; a resume cuts off whatever was written after the last checkpoint
  // (a fragment half written when the process died), so no row is written twice.
  const fh = await open(partial, resume && state ? "r+" : "w", 0o600);
  try {
    await fh.truncate(length);
    if (length) {
      // Feed the kept prefix into the running hash, so later checkpoints cover the whole file.
      const buf = Buffer.alloc(1 << 20);
      for (let at = 0; at < length; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - at), at);
        whole.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
    }
  } catch (e) {
    await fh.close();
    throw e;
  }
  let saved = !!state;
  let closed = false;
  let pending = Promise.resolve();
  return {
    state,
    get bytes() {
      return length;
    },
    async write(chunk) {
      const b = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      if (!b.length) return;
      let at = 0;
      while (at < b.length) {
        const { bytesWritten } = await fh.write(b, at, b.length - at, length + at);
        at += bytesWritten;
      }
      whole.update(b);
      length += b.length;
    },
    async save(commandState) {
      const ck = {
        version: VERSION,
        command,
        paramsHash: hash,
        partial,
        outputBytes: length,
        outputSha256: whole.copy().digest("hex"),
        state: commandState,
        savedAt: new Date().toISOString(),
      };
      const text = `${JSON.stringify(ck, null, 2)}\n`;
      // Saves are taken in call order; the state is captured at the call, the file written after.
      pending = pending.then(async () => {
        const tmp = `${ckPath}.${process.pid}.tmp`;
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, ckPath);
        saved = true;
      });
      return pending;
    },
    async close() {
      closed = true;
      await pending;
      await fh.close();
      await rename(partial, out);
      await rm(ckPath, { force: true });
    },
    /** After a failure --resume cannot get past (a failed vendor job): nothing is kept. */
    async discard() {
      await pending.catch(() => {});
      if (!closed) await fh.close().catch(() => {});
      closed = true;
      await rm(partial, { force: true });
      await rm(ckPath, { force: true });
      return null;
    },
    /** After a failure: keeps FILE.partial and the checkpoint for --resume when there is one. */
    async fail() {
      await pending.catch(() => {});
      if (!closed) await fh.close().catch(() => {});
      closed = true;
      if (!saved) await rm(partial, { force: true });
      return saved ? ckPath : null;
    },
  };
}

/**
 * Skips the first `n` bytes of a stream of chunks while checking that they hash to `sha256`:
 * what a resumed run downloads again must be what it wrote before, or the file would mix two
 * versions of the data.
 */
export function prefixSkipper(n, sha256, what) {
  let left = n;
  const h = createHash("sha256");
  const mismatch = () => new UsageError(`${what} no longer gives the data written before; remove the checkpoint and start again`);
  return {
    skip(b) {
      if (left === 0) return b;
      const take = Math.min(left, b.length);
      h.update(b.subarray(0, take));
      left -= take;
      if (left === 0 && h.digest("hex") !== sha256) throw mismatch();
      return b.subarray(take);
    },
    /** At the end of the stream: it must have given at least the bytes skipped. */
    finish() {
      if (left > 0) throw mismatch();
    },
  };
}

/** A running SHA-256 whose digest can be read at any point. */
export function runningHash() {
  let h = createHash("sha256");
  return {
    update: (b) => h.update(b),
    digest: () => h.copy().digest("hex"),
    reset: () => {
      h = createHash("sha256");
    },
  };
}
