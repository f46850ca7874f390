// Resumable output for `--out FILE` (issue 18): the data goes to FILE.partial, and
// FILE.exportkit-checkpoint.json says which vendor jobs the run uses, how many bytes of
// FILE.partial are final, and the JavaScript API's checkpoint of the download at that point (the
// fragment or file, and the line, it had reached). `--resume` reads it back, cuts FILE.partial to
// that length and goes on from that checkpoint with the same jobs: vendor jobs stay for days, and
// creating them again costs the vendor's job slots and the user's time; fragments and files
// already written are not fetched again.
import { createHash } from "node:crypto";
import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { UsageError } from "./io.mjs";

// 2: the state holds the API's checkpoint (1 held byte offsets into a window read again).
const VERSION = 2;

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
      position: () => null,
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
  let saves = 0;
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
    /** Where the output stands now, for a checkpoint written later (`save(state, at)`). */
    position() {
      return { outputBytes: length, outputSha256: whole.copy().digest("hex") };
    },
    async save(commandState, at = this.position()) {
      if (closed) return;
      const ck = {
        version: VERSION,
        command,
        paramsHash: hash,
        partial,
        outputBytes: at.outputBytes,
        outputSha256: at.outputSha256,
        state: commandState,
        savedAt: new Date().toISOString(),
      };
      const text = `${JSON.stringify(ck)}\n`;
      // Saves are taken in call order; the state is captured at the call, the file written after.
      // A save superseded before its turn is not written (the newer one says more).
      const seq = ++saves;
      pending = pending.then(async () => {
        if (seq !== saves || closed) return;
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
 * Saves the API's checkpoints as `onCheckpoint` hands them over: at once when `key` changes (a
 * job created, a fragment or file finished), otherwise at most once per `intervalMs` (the line
 * reached inside a fragment), the newest one written when the interval is up even if no other
 * comes (a download stalled inside a fragment still gets its place saved). Each checkpoint is
 * saved with the output's length at the moment it was handed over. A save that failed fails the
 * next offer, so the run stops instead of going on with no checkpoint.
 */
export function checkpointSaver(out, intervalMs = 1000) {
  let lastKey = null;
  let lastAt = 0;
  let failure = null;
  let waiting = null;
  let timer = null;
  const write = (state, at) => {
    lastAt = Date.now();
    out.save(state, at).catch((e) => {
      failure ??= e;
    });
  };
  const flush = () => {
    timer = null;
    if (waiting) write(waiting.state, waiting.at);
    waiting = null;
  };
  return {
    offer(state, key) {
      if (failure) throw failure;
      const at = out.position();
      if (key !== lastKey || Date.now() - lastAt >= intervalMs) {
        lastKey = key;
        waiting = null;
        write(state, at);
        return;
      }
      waiting = { state, at };
      if (!timer) {
        timer = setTimeout(flush, Math.max(0, lastAt + intervalMs - Date.now()));
        timer.unref?.();
      }
    },
    /**
     * Nothing more is saved after this: before closing the output (throws a save's failure), or
     * after a failure with `flush` (the newest checkpoint is written first, for --resume).
     */
    stop({ flush: keep = false } = {}) {
      if (timer) clearTimeout(timer);
      timer = null;
      if (keep && waiting && !failure) write(waiting.state, waiting.at);
      waiting = null;
      if (failure && !keep) throw failure;
    },
  };
}

/**
 * An export that failed: the last checkpoint is written, and the partial output kept for
 * `--resume` (or dropped when its job failed or was canceled: that fails again on --resume).
 * A checkpoint the client refused is a usage error naming the files to remove. Resolves to
 * whether the partial output was kept.
 */
export async function stopOnFailure(e, saver, out, outPath) {
  saver.stop({ flush: true });
  const kept = e.code === "E_JOB_FAILED" ? await out.discard() : await out.fail();
  if (e.code === "E_INVALID_ARGUMENT" && e.field === "checkpoint") {
    throw new UsageError(`the checkpoint ${checkpointPath(outPath)} cannot be continued (${e.message}); remove it and ${outPath}.partial to start again`);
  }
  return kept;
}
