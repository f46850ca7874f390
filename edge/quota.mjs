// The Query API's 10 calls a day, counted in KV so that every isolate, the proxy and the scheduled
// exports share one count. The stored value is the core's own form (`{"day":N,"used":N}`) and the
// arithmetic is the core's. KV is eventually consistent and has no compare-and-swap, so two calls
// racing in different places can both pass: the count is a guard, the vendor's 429 the last word
// (and a 429 marks the day spent here too).

import { wasm } from "../js/runtime.js";

export const QUOTA_KEY = "quota:backstory-query";
// Long enough to outlive the day it counts; KV drops it afterwards.
const TTL_SECONDS = 2 * 24 * 3600;

export async function loadQuota(kv) {
  return (await kv.get(QUOTA_KEY)) ?? undefined;
}

export function saveQuota(kv, stored) {
  return kv.put(QUOTA_KEY, stored, { expirationTtl: TTL_SECONDS });
}

export function callsLeft(stored) {
  return wasm.BackstoryCore.callsLeft(stored);
}

/** Takes one call: `{ ok: true }`, or `{ ok: false, retryAfterSeconds }` when today is spent. */
export async function takeQueryCall(kv) {
  const stored = await loadQuota(kv);
  if (callsLeft(stored) === 0) {
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((wasm.BackstoryCore.quotaResetsAtMs() - Date.now()) / 1000)) };
  }
  await saveQuota(kv, wasm.BackstoryCore.quotaAfterCall(stored));
  return { ok: true };
}

export function markQueryExhausted(kv) {
  return saveQuota(kv, wasm.BackstoryCore.quotaExhausted());
}
