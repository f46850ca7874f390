// The VendorLimits Durable Object of a vendor credential (limits.mjs), found by name. Apart from
// the class so that modules Node loads too (scheduled.mjs through quota.mjs) need no
// `cloudflare:` import.

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
