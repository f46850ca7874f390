// One Durable Object per vendor credential (issue 18): the vendor's limits hold across every run
// and every Worker invocation, which no single invocation can see on its own.
//   backstoryJobs      Raw Activity Data jobs queued or running: at most 10 per key (the vendor
//                      runs 2 and queues the rest; an 11th is refused with 429)
//   userpilotExports   one Userpilot Bulk Data Export at a time per key (a second is a 409)
//   query:quota        the Query API's 10 calls a day per key, in the core's stored form
//                      (`{"day":N,"used":N}`): the scheduled exports and the dashboard's proxy take
//                      a call here, one at a time (a Durable Object runs one method's storage
//                      read and write without another in between, which KV cannot do)
// A holder (a run's window, say) takes a lease and gives it back when its job has ended. A
// lease not given back (a run deleted in the middle) lapses after LEASE_TTL_MS.
import { DurableObject } from "cloudflare:workers";
import { wasm } from "../js/runtime.js";

export const LIMITS = Object.freeze({ backstoryJobs: 10, userpilotExports: 1, activitiesIncremental: 1 });
export const LEASE_TTL_MS = 6 * 3600 * 1000;
const QUERY_QUOTA = "query:quota";

function parseQuota(stored) {
  try {
    const q = JSON.parse(stored);
    return Number.isInteger(q?.day) && Number.isInteger(q?.used) ? q : null;
  } catch {
    return null;
  }
}

export class VendorLimits extends DurableObject {
  async #leases(kind) {
    if (!Object.hasOwn(LIMITS, kind)) throw new RangeError(`unknown limit ${kind}`);
    const leases = (await this.ctx.storage.get(kind)) ?? {};
    const now = Date.now();
    for (const [h, at] of Object.entries(leases)) if (now - at > LEASE_TTL_MS) delete leases[h];
    return leases;
  }

  /** `{ granted, held, limit }`; asking again for a lease already held is granted (a retried step). */
  async acquire(kind, holder) {
    const leases = await this.#leases(kind);
    const limit = LIMITS[kind];
    if (!leases[holder]) {
      if (Object.keys(leases).length >= limit) return { granted: false, held: Object.keys(leases).length, limit };
      leases[holder] = Date.now();
      await this.ctx.storage.put(kind, leases);
    }
    return { granted: true, held: Object.keys(leases).length, limit };
  }

  async release(kind, holder) {
    const leases = await this.#leases(kind);
    delete leases[holder];
    await this.ctx.storage.put(kind, leases);
    return { held: Object.keys(leases).length };
  }

  /** Gives back every lease of `kind` held by `holder` or by one of its parts (`holder/...`). */
  async releaseAll(kind, holder) {
    const leases = await this.#leases(kind);
    for (const h of Object.keys(leases)) if (h === holder || h.startsWith(`${holder}/`)) delete leases[h];
    await this.ctx.storage.put(kind, leases);
    return { held: Object.keys(leases).length };
  }

  /**
   * Marks a vendor job as `holder`'s; false when another holder has it. A step that lost the
   * answer to its create call adopts a job of its window only if no other run claimed it.
   */
  async claimJob(jobId, holder) {
    const key = `job:${jobId}`;
    const had = await this.ctx.storage.get(key);
    if (had && had.holder !== holder) return false;
    if (!had) await this.ctx.storage.put(key, { holder, at: Date.now() });
    return true;
  }

  /** The last day an incremental export delivered (YYYY-MM-DD), or null before the first run. */
  async watermark(name) {
    return (await this.ctx.storage.get(`watermark:${name}`)) ?? null;
  }

  /**
   * Moves a watermark from `from` to `to`, only if it still is `from` (compare and set): two runs
   * can never both claim the same days, so the deltas have no overlap and no gap.
   */
  async advanceWatermark(name, from, to) {
    const key = `watermark:${name}`;
    const now = (await this.ctx.storage.get(key)) ?? null;
    if (now !== from) return { advanced: false, watermark: now };
    await this.ctx.storage.put(key, to);
    return { advanced: true, watermark: to };
  }

  /**
   * Takes one of today's Query API calls: `{ ok: true, before }` (`before`, the count before this
   * call, is what the core checks against), or `{ ok: false, retryAfterSeconds }` when today is
   * spent. The arithmetic is the core's.
   */
  async takeQueryCall() {
    const stored = (await this.ctx.storage.get(QUERY_QUOTA)) ?? undefined;
    if (wasm.BackstoryCore.callsLeft(stored) === 0) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((wasm.BackstoryCore.quotaResetsAtMs() - Date.now()) / 1000)) };
    }
    await this.ctx.storage.put(QUERY_QUOTA, wasm.BackstoryCore.quotaAfterCall(stored));
    return { ok: true, before: stored ?? null };
  }

  /** A call taken whose request never went out (no token, say) goes back. */
  async returnQueryCall() {
    const q = parseQuota(await this.ctx.storage.get(QUERY_QUOTA));
    if (!q || q.used < 1 || q.day !== parseQuota(wasm.BackstoryCore.quotaAfterCall(undefined)).day) return;
    await this.ctx.storage.put(QUERY_QUOTA, JSON.stringify({ ...q, used: q.used - 1 }));
  }

  /** The vendor said 429: today is spent here too. */
  async markQueryExhausted() {
    await this.ctx.storage.put(QUERY_QUOTA, wasm.BackstoryCore.quotaExhausted());
  }

  /**
   * The day's count as stored (null before the first call). `set` overwrites it: for an operator
   * whose vendor limit changed, and for the tests.
   */
  async queryQuota(set) {
    if (set !== undefined) {
      if (set === null) await this.ctx.storage.delete(QUERY_QUOTA);
      else await this.ctx.storage.put(QUERY_QUOTA, typeof set === "string" ? set : JSON.stringify(set));
    }
    return (await this.ctx.storage.get(QUERY_QUOTA)) ?? null;
  }

  async status() {
    const out = {};
    for (const kind of Object.keys(LIMITS)) out[kind] = { held: Object.keys(await this.#leases(kind)).length, limit: LIMITS[kind] };
    return out;
  }
}

// Where the credential's object is found lives apart (limits-stub.mjs): modules that Node also
// loads (the scheduled exports' Query API count) reach it without this class's runtime import.
export { backstoryLimits, credentialLimits, userpilotLimits } from "./limits-stub.mjs";
