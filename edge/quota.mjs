// The Query API's 10 calls a day per key, counted in the credential's VendorLimits Durable Object
// (limits.mjs) so that every isolate, the dashboard's proxy and the scheduled exports share one
// count and two calls racing anywhere can never both take the last one: the object takes a call
// in one method, its storage read and write with nothing in between. The stored value is the
// core's own form (`{"day":N,"used":N}`) and the arithmetic is the core's. The vendor's 429 stays
// the last word (and spends the day here too).
//
// Before this, the count lived in KV (`quota:backstory-query`), which has no compare-and-swap. A
// worker deployed over that version starts the day's count afresh in the object; the vendor's own
// 429 then stops the day at its real limit.

import { backstoryLimits } from "./limits-stub.mjs";

/** Takes one call: `{ ok: true, before }`, or `{ ok: false, retryAfterSeconds }` when today is spent. */
export async function takeQueryCall(env) {
  return (await backstoryLimits(env)).takeQueryCall();
}

/** Gives back a call taken whose request never went out. */
export async function returnQueryCall(env) {
  return (await backstoryLimits(env)).returnQueryCall();
}

export async function markQueryExhausted(env) {
  return (await backstoryLimits(env)).markQueryExhausted();
}
