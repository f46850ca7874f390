// Bytes of unknown total length into one R2 object, streaming: a multipart upload of fixed-size
// parts (R2 wants every part but the last of one size, at least 5 MiB), at most `maxInFlight`
// parts uploading at once when the producer awaits `ready()` between writes smaller than a part.
// Memory stays at (maxInFlight + 1) parts whatever the object's size.

export const PART_BYTES = 5 * 1024 * 1024;

export class R2StreamWriter {
  #upload;
  #partBytes;
  #maxInFlight;
  #buf = null;
  #fill = 0;
  #next = 1;
  #parts = [];
  #inFlight = new Set();
  #error = null;
  bytes = 0;

  constructor(upload, { partBytes = PART_BYTES, maxInFlight = 2 } = {}) {
    this.#upload = upload;
    this.#partBytes = partBytes;
    this.#maxInFlight = maxInFlight;
  }

  static async create(bucket, key, options) {
    return new R2StreamWriter(await bucket.createMultipartUpload(key, options));
  }

  get uploadId() {
    return this.#upload.uploadId;
  }

  /** Copies `chunk` in; a full part starts uploading at once. Never waits: see `ready()`. */
  write(chunk) {
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.#buf === null) this.#buf = new Uint8Array(this.#partBytes);
      const n = Math.min(chunk.byteLength - at, this.#partBytes - this.#fill);
      this.#buf.set(chunk.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
      if (this.#fill === this.#partBytes) this.#ship();
    }
    this.bytes += chunk.byteLength;
  }

  #ship() {
    const number = this.#next++;
    const data = this.#fill === this.#partBytes ? this.#buf : this.#buf.slice(0, this.#fill);
    this.#buf = null;
    this.#fill = 0;
    const p = this.#upload
      .uploadPart(number, data)
      .then(
        (part) => {
          this.#parts.push({ partNumber: part.partNumber, etag: part.etag });
        },
        (e) => {
          this.#error ??= e;
        },
      )
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Resolves once fewer than `maxInFlight` parts are uploading: the producer's backpressure. */
  async ready() {
    while (this.#inFlight.size >= this.#maxInFlight) await Promise.race(this.#inFlight);
    if (this.#error) throw this.#error;
  }

  /** Uploads what is left; resolves to the parts in order (what `complete` needs). */
  async finish() {
    if (this.#fill > 0 || this.#next === 1) {
      if (this.#buf === null) this.#buf = new Uint8Array(0);
      this.#ship();
    }
    await Promise.all(this.#inFlight);
    if (this.#error) throw this.#error;
    return [...this.#parts].sort((a, b) => a.partNumber - b.partNumber);
  }

  complete(parts) {
    return this.#upload.complete(parts);
  }

  async abort() {
    await Promise.allSettled(this.#inFlight);
    await this.#upload.abort().catch(() => {});
  }
}
