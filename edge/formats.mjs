// Output formats of the durable runs (issue 18): JSON Lines or CSV, optionally gzip, chosen per run.
// An object's bytes go through one sink: gzip (CompressionStream, in workerd) when asked, then an
// R2 multipart upload, with the SHA-256 of the bytes as stored, so a warehouse can check what it
// reads against the manifest. Memory stays a few parts whatever the object's size.

import { JsonlCsvWriter } from "../js/index.js";
import { R2StreamWriter } from "./r2-writer.mjs";

export const FORMATS = Object.freeze({
  jsonl: { ext: "jsonl", contentType: "application/x-ndjson" },
  csv: { ext: "csv", contentType: "text/csv; charset=utf-8" },
});

/**
 * `{ format?: "jsonl" | "csv", gzip?: boolean }` checked, with defaults (JSON Lines, no gzip).
 * Throws a TypeError naming the field.
 */
export function outputFormat(spec, field = "output") {
  if (spec === undefined || spec === null) return { format: "jsonl", gzip: false };
  if (typeof spec !== "object" || Array.isArray(spec)) throw new TypeError(`${field} must be an object { format: "jsonl" | "csv", gzip?: boolean }`);
  for (const k of Object.keys(spec)) if (k !== "format" && k !== "gzip") throw new TypeError(`${field}.${k} is not an output option (format, gzip)`);
  const format = spec.format ?? "jsonl";
  if (!Object.hasOwn(FORMATS, format)) throw new TypeError(`${field}.format must be "jsonl" or "csv"`);
  if (spec.gzip !== undefined && typeof spec.gzip !== "boolean") throw new TypeError(`${field}.gzip must be true or false`);
  return { format, gzip: spec.gzip === true };
}

/** The object name's ending for a format: `.jsonl`, `.csv`, `.jsonl.gz`, `.csv.gz`. */
export const extension = (out) => `.${FORMATS[out.format].ext}${out.gzip ? ".gz" : ""}`;

const hex = (buf) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, "0")).join("");

/**
 * One R2 object written in the run's format. `write(bytes)` takes the object's uncompressed bytes
 * (and waits while the upload is behind); `finish()` completes the upload and resolves to
 * `{ bytes (as stored), rawBytes, sha256 (of the stored bytes), parts }`; `abort()` drops it.
 */
export class ObjectSink {
  #writer;
  #digest = new crypto.DigestStream("SHA-256");
  #hash;
  #gz = null;
  #pump = null;
  rawBytes = 0;

  constructor(writer, gzip) {
    this.#writer = writer;
    this.#hash = this.#digest.getWriter();
    if (gzip) {
      const cs = new CompressionStream("gzip");
      this.#gz = cs.writable.getWriter();
      const reader = cs.readable.getReader();
      // Compressed bytes go on to R2 as they come out, so neither side holds the whole object.
      this.#pump = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          await this.#store(value);
        }
      })();
      // A failure is seen by write()/finish(); this keeps it from being an unhandled rejection.
      this.#pump.catch(() => {});
    }
  }

  static async create(bucket, key, out, customMetadata) {
    const httpMetadata = { contentType: FORMATS[out.format].contentType, ...(out.gzip ? { contentEncoding: "gzip" } : {}) };
    return new ObjectSink(await R2StreamWriter.create(bucket, key, { httpMetadata, ...(customMetadata ? { customMetadata } : {}) }), out.gzip);
  }

  async #store(bytes) {
    this.#writer.write(bytes);
    await this.#hash.write(bytes);
    await this.#writer.ready();
  }

  async write(bytes) {
    if (!bytes || bytes.byteLength === 0) return;
    this.rawBytes += bytes.byteLength;
    if (!this.#gz) return this.#store(bytes);
    await this.#gz.ready;
    // Not awaited alone: the compressor's promise settles only once the pump has read its output.
    await Promise.race([this.#gz.write(bytes), this.#pump.then(() => {
      throw new Error("the gzip stream ended early");
    })]);
  }

  async finish() {
    if (this.#gz) {
      await this.#gz.close();
      await this.#pump;
    }
    const parts = await this.#writer.finish();
    await this.#writer.complete(parts);
    await this.#hash.close();
    return { bytes: this.#writer.bytes, rawBytes: this.rawBytes, sha256: hex(await this.#digest.digest), parts: parts.map((p) => p.etag) };
  }

  async abort() {
    if (this.#gz) await this.#gz.abort().catch(() => {});
    await this.#writer.abort();
  }
}

const enc = new TextEncoder();
export const utf8 = (s) => enc.encode(s);

/** JSON records as JSON Lines bytes. */
export function jsonLines(records) {
  let text = "";
  for (const r of records) text += `${JSON.stringify(r)}\n`;
  return utf8(text);
}

/**
 * JSON records into the run's format, batch by batch: JSON Lines as they are, or CSV flattened by
 * the project's one JSON Lines to CSV writer (nested fields as dotted columns, the header from the
 * first batch, formula cells guarded unless `csvGuard` is false). `free()` when done.
 */
export class RecordsEncoder {
  #csv = null;
  constructor(out, { csvGuard = true } = {}) {
    if (out.format === "csv") this.#csv = new JsonlCsvWriter({ csvGuard });
  }
  encode(records) {
    const lines = jsonLines(records);
    return this.#csv ? utf8(this.#csv.push(lines)) : lines;
  }
  end() {
    return this.#csv ? utf8(this.#csv.finish()) : new Uint8Array(0);
  }
  free() {
    this.#csv?.free();
    this.#csv = null;
  }
}
