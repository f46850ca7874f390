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

/**
 * A reader (`{ read, cancel }`, as `ReadableStreamDefaultReader`) of the inflated bytes of a gzip
 * body read from `reader`: the client module's inflater where the runtime has no
 * `DecompressionStream` or the caller passed `nativeGunzip: false` (the client module carries
 * none of its own, issue 19). Bad data rejects with the decoder's `E_DECODE`; a body that ends
 * before its first byte or inside a member rejects with a plain error (a cut connection: the
 * client fetches the file again).
 */
export function gunzipReader(reader) {
  let s = new GunzipStream();
  let raw = 0;
  const free = () => {
    s?.free();
    s = null;
  };
  return {
    async read() {
      for (;;) {
        if (!s) return { done: true, value: undefined };
        let r;
        try {
          r = await reader.read();
        } catch (e) {
          free();
          throw e;
        }
        if (r.done) {
          try {
            if (raw === 0) throw new Error("body ended before its first byte");
            try {
              s.finish();
            } catch (e) {
              throw new Error(e.message);
            }
          } finally {
            free();
          }
          return { done: true, value: undefined };
        }
        raw += r.value.length;
        let out;
        try {
          out = s.push(r.value);
        } catch (e) {
          free();
          throw e;
        }
        if (out.length) return { done: false, value: out };
      }
    },
    cancel(reason) {
      free();
      return reader.cancel(reason);
    },
  };
}
