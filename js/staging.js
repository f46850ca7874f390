// One call per chunk across the JS/wasm boundary (the Rust half is src/wasm/staging.rs): a
// stream's chunk is copied into a buffer in wasm memory, one call processes it and returns the
// address of a descriptor (u32 words: addresses and lengths of what it produced), and the
// results are copied out of wasm memory here. The glue wasm-bindgen writes for a bytes argument
// and an object result would cost three to eight calls per chunk instead.
import { invalidArgument, memory, requireReady } from "./parse-runtime.js";

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const INITIAL_INPUT = 64 * 1024;

/** `n` descriptor words at `at` (a view: read them before the stream's next call). */
export const words = (at, n) => new Uint32Array(memory().buffer, at, n);
/** UTF-8 text in wasm memory as a string. */
export const textAt = (at, len) => decoder.decode(new Uint8Array(memory().buffer, at, len));
/** Copies of typed data in wasm memory. */
export const bytesAt = (at, len) => new Uint8Array(memory().buffer, at, len).slice();
export const u32sAt = (at, len) => new Uint32Array(memory().buffer, at, len).slice();
export const f64sAt = (at, len) => new Float64Array(memory().buffer, at, len).slice();

/**
 * The JavaScript face of a wasm stream class with `inputBuffer(len)`, `pushInput(len)` and
 * `finishInput()`: `push(chunk)` and `finish()` return what a subclass's `read(at)` makes of the
 * descriptor those return.
 */
export class StagedStream {
  #cap = 0;
  #at = 0;

  constructor(WasmClass, opts) {
    requireReady();
    this.inner = new WasmClass(opts);
    // Room for a 64 KiB chunk from the start: pushes of that size then make one call each.
    this.#at = this.inner.inputBuffer(INITIAL_INPUT);
    this.#cap = INITIAL_INPUT;
  }

  /** Feeds a chunk (bytes split anywhere); returns what it completed. */
  push(chunk) {
    return this.read(this.pushChunk(chunk));
  }

  /** Ends the input; returns what was left. */
  finish() {
    return this.read(this.finishInput());
  }

  /** Counts and errors so far; errors are handed over once. */
  takeMeta() {
    return this.inner.takeMeta();
  }

  /** Copies `chunk` into the stream's input buffer and processes it: one call. */
  pushChunk(chunk) {
    const bytes = chunk instanceof Uint8Array ? chunk
      : chunk instanceof ArrayBuffer ? new Uint8Array(chunk)
      : ArrayBuffer.isView(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : null;
    if (!bytes) throw invalidArgument("chunk", "must be a Uint8Array (or another ArrayBuffer view, or an ArrayBuffer)");
    if (bytes.length > this.#cap) {
      // Grown rarely: the buffer keeps its size, and its address, until a bigger chunk comes.
      this.#at = this.inner.inputBuffer(bytes.length);
      this.#cap = bytes.length;
    }
    new Uint8Array(memory().buffer, this.#at, bytes.length).set(bytes);
    return this.inner.pushInput(bytes.length);
  }

  finishInput() {
    return this.inner.finishInput();
  }

  free() {
    this.inner.free();
  }

  [Symbol.dispose]() {
    this.free();
  }
}
