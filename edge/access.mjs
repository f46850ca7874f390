// Who may use the proxy: a caller that presents the access key (scripts, the CLI), or a page served
// by this worker (same origin). The same-origin check stops other sites' pages from using the proxy
// through a visitor's browser; it does not authenticate anyone (any non-browser client can send
// those headers), so a deployment that must keep strangers out puts Cloudflare Access in front or
// sets EDGE_ALLOW_SAME_ORIGIN=false and uses the key.

export const KEY_HEADER = "x-exportkit-key";

const encoder = new TextEncoder();

/** Constant-time equality: both sides are hashed first so neither length nor content leaks through timing. */
export async function sameSecret(a, b) {
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const u = new Uint8Array(x);
  const v = new Uint8Array(y);
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(u, v);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i] ^ v[i];
  return diff === 0;
}

/** The origin the page is served from: the configured public origin, else the request's own. */
export function ownOrigin(request, cfg) {
  return cfg.publicOrigin ?? new URL(request.url).origin;
}

/**
 * A browser request from a page of this origin. Browsers send `Sec-Fetch-Site` on every request
 * and `Origin` on every POST; at least one must be there and neither may say otherwise.
 */
export function isSameOrigin(request, cfg) {
  const site = request.headers.get("sec-fetch-site");
  const origin = request.headers.get("origin");
  if (site === null && origin === null) return false;
  if (site !== null && site !== "same-origin") return false;
  if (origin !== null && origin !== ownOrigin(request, cfg)) return false;
  return true;
}

/** `null` when the caller may go on, else `{ status, code, message }`. */
export async function checkAccess(request, cfg) {
  const key = request.headers.get(KEY_HEADER);
  if (key !== null) {
    // A key that is presented must be right: a wrong one is never rescued by the origin check.
    if (cfg.secrets.accessKey !== null && (await sameSecret(key, cfg.secrets.accessKey))) return null;
    return { status: 401, code: "access_denied", message: "the access key is not valid" };
  }
  if (cfg.allowSameOrigin && isSameOrigin(request, cfg)) return null;
  if (request.headers.get("origin") !== null || request.headers.get("sec-fetch-site") !== null) {
    return { status: 403, code: "cross_origin", message: "this proxy serves its own pages only" };
  }
  return { status: 401, code: "access_denied", message: `send the access key in ${KEY_HEADER}` };
}
