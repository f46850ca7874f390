// gzip in the parse module: the streaming decoder (one call into wasm per chunk).
import { wasm } from "./parse-runtime.js";
import { bytesAt, StagedStream, words } from "./staging.js";

/**
 * gzip (one or more members) pushed in chunks split anywhere; each push returns the bytes it
 * inflated (possibly none). exportkit's own inflater, for runtimes without `DecompressionStream`
 * or to compare. One call into wasm per chunk.
 */
export class GunzipStream extends StagedStream {
  constructor() {
    super(wasm.GunzipStream);
  }

  /** The bytes inflated (layout: src/wasm/gzip.rs `push_input`). */
  read(at) {
    const [bytes, len] = words(at, 2);
    return bytesAt(bytes, len);
  }

  /** Ends the input: a stream that stops anywhere but between members is an error. */
  finish() {
    this.inner.finish();
  }
}

/** gzip bytes (one or more members) inflated in one call: exportkit's own inflater. */
export function gunzip(bytes) {
  const s = new GunzipStream();
  try {
    const out = s.push(bytes);
    s.finish();
    return out;
  } finally {
    s.free();
  }
}
