// gzip in the parse module: the streaming decoder (one call into wasm per chunk) and the one-call
// `gunzip` (the whole file in, the whole output out).
import { invalidArgument, optionsObject, requireReady, wasm } from "./parse-runtime.js";
import { bytesAt, StagedStream, words } from "./staging.js";

const GiB = 2 ** 30;

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

/**
 * Inflates a whole gzip file (one or more members) into one `Uint8Array`. The output is sized
 * from the file's trailer and grows when the trailer turns out wrong; past `maxOutputBytes`
 * (default and most 1 GiB: use `GunzipStream` for more) it throws E_DECODE, as it does for
 * corrupt or truncated input, naming the compressed byte where it stopped.
 */
export function gunzip(input, opts) {
  requireReady();
  const { maxOutputBytes = GiB } = optionsObject(opts);
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 1 || maxOutputBytes > GiB) {
    throw invalidArgument("maxOutputBytes", `must be a whole number of bytes from 1 to ${GiB}`);
  }
  const bytes = input instanceof Uint8Array ? input
    : input instanceof ArrayBuffer ? new Uint8Array(input)
    : ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : null;
  if (!bytes) throw invalidArgument("input", "must be a Uint8Array (or another ArrayBuffer view, or an ArrayBuffer)");
  return wasm.gunzipBytes(bytes, maxOutputBytes);
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
