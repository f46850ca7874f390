// One Durable Object per vendor credential (issue 18): the vendor's limits hold across every run
// and every Worker invocation, which no single invocation can see on its own.
//   backstoryJobs      Raw Activity Data jobs queued or running: at most 10 per key (the vendor
//                      runs 2 and queues the rest; an 11th is refused with 429)
//   userpilotExports   one Userpilot Bulk Data Export at a time per key (a second is a 409)
// A holder (a run's window, say) takes a lease and gives it back when its job has ended. A
// lease not given back (a run deleted in the middle) lapses after LEASE_TTL_MS.
import { DurableObject } from "cloudflare:workers";

export const LIMITS = Object.freeze({ backstoryJobs: 10, userpilotExports: 1, activitiesIncremental: 1 });
export const LEASE_TTL_MS = 6 * 3600 * 1000;

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

  async status() {
    const out = {};
    for (const kind of Object.keys(LIMITS)) out[kind] = { held: Object.keys(await this.#leases(kind)).length, limit: LIMITS[kind] };
    return out;
  }
}

/** The limits object of one vendor credential, named by a hash (never the key itself). */
export async function credentialLimits(env, vendor, credential) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${vendor}:${credential ?? ""}`));
  const name = [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
  return env.VENDOR_LIMITS.get(env.VENDOR_LIMITS.idFromName(name));
}

/** The limits object of the worker's Backstory credential. */
export const backstoryLimits = (env) => credentialLimits(env, "backstory", env.BACKSTORY_CLIENT_ID);

/** The limits object of the worker's Userpilot key. */
export const userpilotLimits = (env) => credentialLimits(env, "userpilot", env.USERPILOT_API_KEY);
