// gzip in one call: the whole file in, the whole output out (the streaming class is
// `GunzipStream` in js/userpilot.js).
import { invalidArgument, optionsObject, requireReady, wasm } from "./runtime.js";

const GiB = 2 ** 30;

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
