// Who may use the worker. Closed unless configured open: every route but the sign-in page refuses a
// caller who has not authenticated, whatever else the request says. The ways in:
//   - the access key in `x-exportkit-key` (scripts, the CLI), compared in constant time;
//   - Cloudflare Access, when ACCESS_TEAM_DOMAIN and ACCESS_AUD are set: the `Cf-Access-Jwt-Assertion`
//     JWT, RS256, checked against the team's published keys, its audience, issuer and times;
//   - otherwise a session cookie from the sign-in page (the key, entered once): HMAC-signed with a
//     key derived from the access key, so rotating the key ends every session; nothing is stored;
//   - EDGE_DEV_OPEN="loopback": open, but only for requests whose URL host is a loopback host.
// `Sec-Fetch-Site` and `Origin` never let anyone in (any script can send them); `Origin` is only
// checked, on state-changing requests, to stop other sites from driving a signed-in browser.

import { isLoopbackHost } from "./config.mjs";

export const KEY_HEADER = "x-exportkit-key";
export const ACCESS_JWT_HEADER = "cf-access-jwt-assertion";
// `__Host-`: the browser keeps it to this host, Secure, Path=/ (no subdomain can set or read it).
export const SESSION_COOKIE = "__Host-exportkit_session";
export const SIGN_IN_PATH = "/signin";
export const SIGN_OUT_PATH = "/signout";
/** Marks a 401 the dashboard answers by going to the sign-in page. */
export const SIGN_IN_HEADER = "x-exportkit-sign-in";
// Clocks differ a little between Cloudflare Access and the worker.
const CLOCK_SKEW_SECONDS = 60;
const JWKS_TTL_MS = 10 * 60 * 1000;
const JWKS_REFETCH_MS = 30 * 1000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

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

/** Whether the worker has any way to authenticate a caller. */
export function isConfigured(cfg) {
  return cfg.secrets.accessKey !== null || cfg.access !== null;
}

/** The sign-in page is offered when the key is set and Cloudflare Access is not (Access signs people in itself). */
export function signInAvailable(cfg) {
  return cfg.secrets.accessKey !== null && cfg.access === null;
}

export function devOpenApplies(request, cfg) {
  return cfg.devOpen && isLoopbackHost(new URL(request.url).hostname);
}

// ---------------------------------------------------------------- base64url

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function jsonPart(text) {
  const bytes = unb64url(text);
  if (bytes === null) return null;
  try {
    const v = JSON.parse(decoder.decode(bytes));
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- sessions

/** The session-signing key, derived from the access key: a new access key ends every session. */
async function sessionKey(accessKey) {
  const root = await crypto.subtle.importKey("raw", encoder.encode(accessKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const derived = await crypto.subtle.sign("HMAC", root, encoder.encode("exportkit edge session v1"));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** A new session token: `v1.<expires, unix seconds>.<nonce>.<HMAC>`. */
export async function createSession(cfg, nowMs = Date.now()) {
  const exp = Math.floor(nowMs / 1000) + cfg.sessionTtlSeconds;
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const body = `v1.${exp}.${nonce}`;
  const sig = await crypto.subtle.sign("HMAC", await sessionKey(cfg.secrets.accessKey), encoder.encode(body));
  return { token: `${body}.${b64url(sig)}`, maxAge: cfg.sessionTtlSeconds };
}

/** Whether `token` is a session this worker signed with its current key and that has not expired. */
export async function verifySession(token, cfg, nowMs = Date.now()) {
  if (cfg.secrets.accessKey === null || typeof token !== "string" || token.length > 256) return false;
  const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return false;
  const sig = unb64url(m[3]);
  if (sig === null) return false;
  const ok = await crypto.subtle.verify("HMAC", await sessionKey(cfg.secrets.accessKey), sig, encoder.encode(`v1.${m[1]}.${m[2]}`));
  if (!ok) return false;
  const now = Math.floor(nowMs / 1000);
  const exp = Number(m[1]);
  // A signed expiry further out than the lifetime allows was not made by this configuration.
  return exp > now && exp - now <= cfg.sessionTtlSeconds;
}

export function sessionCookie(token, maxAge) {
  return `${SESSION_COOKIE}=${token}; Max-Age=${maxAge}; Path=/; HttpOnly; Secure; SameSite=Strict`;
}

export function clearSessionCookie() {
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict`;
}

function cookieValue(request, name) {
  const header = request.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

// ---------------------------------------------------------------- Cloudflare Access

let jwks = { url: null, at: 0, keys: new Map() };

async function loadJwks(url) {
  const res = await fetch(url, { redirect: "manual", headers: { Accept: "application/json" }, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`the Access certs answered ${res.status}`);
  const body = await res.json();
  const keys = new Map();
  for (const jwk of Array.isArray(body && body.keys) ? body.keys : []) {
    if (!jwk || jwk.kty !== "RSA" || typeof jwk.kid !== "string") continue;
    try {
      const { kty, n, e } = jwk;
      keys.set(jwk.kid, await crypto.subtle.importKey("jwk", { kty, n, e, alg: "RS256", ext: true }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]));
    } catch {
      // A key that does not import is skipped; the others still verify.
    }
  }
  jwks = { url, at: Date.now(), keys };
}

/** The team's key for `kid`: from the cache, refetched when stale or when an unknown kid appears (keys rotate). */
async function accessPublicKey(access, kid) {
  const fresh = jwks.url === access.certsUrl && Date.now() - jwks.at < JWKS_TTL_MS;
  if (fresh && jwks.keys.has(kid)) return jwks.keys.get(kid);
  if (!fresh || Date.now() - jwks.at > JWKS_REFETCH_MS) await loadJwks(access.certsUrl);
  return jwks.keys.get(kid) ?? null;
}

/** `null` when `token` is a valid Access JWT for this application, else why not (no token detail). */
export async function accessJwtProblem(token, access, nowMs = Date.now()) {
  if (typeof token !== "string" || token.length > 16384) return "the Access token is malformed";
  const parts = token.split(".");
  if (parts.length !== 3) return "the Access token is malformed";
  const header = jsonPart(parts[0]);
  const claims = jsonPart(parts[1]);
  const sig = unb64url(parts[2]);
  if (header === null || claims === null || sig === null) return "the Access token is malformed";
  // Only what Access signs with: never `none`, never an HMAC an attacker could key with the public key.
  if (header.alg !== "RS256" || typeof header.kid !== "string") return "the Access token is not RS256";
  let key;
  try {
    key = await accessPublicKey(access, header.kid);
  } catch {
    return "the Access signing keys could not be loaded";
  }
  if (key === null) return "the Access token's key is unknown";
  const ok = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, sig, encoder.encode(`${parts[0]}.${parts[1]}`));
  if (!ok) return "the Access token's signature is not valid";
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(access.aud)) return "the Access token is for another application";
  if (claims.iss !== access.issuer) return "the Access token is from another team";
  const now = Math.floor(nowMs / 1000);
  if (typeof claims.exp !== "number" || claims.exp + CLOCK_SKEW_SECONDS <= now) return "the Access token has expired";
  if (claims.nbf !== undefined && !(typeof claims.nbf === "number" && claims.nbf - CLOCK_SKEW_SECONDS <= now)) return "the Access token is not valid yet";
  if (claims.iat !== undefined && !(typeof claims.iat === "number" && claims.iat - CLOCK_SKEW_SECONDS <= now)) return "the Access token was issued in the future";
  return null;
}

// ---------------------------------------------------------------- the check

/** Who the caller is: `{ via }`, or a refusal `{ status, code, message }`. */
export async function authenticate(request, cfg) {
  if (devOpenApplies(request, cfg)) return { via: "dev" };
  if (!isConfigured(cfg)) {
    return {
      status: 503,
      code: "not_configured",
      message: cfg.devOpen
        ? "set EDGE_ACCESS_KEY or ACCESS_TEAM_DOMAIN+ACCESS_AUD (EDGE_DEV_OPEN opens loopback hosts only)"
        : "set EDGE_ACCESS_KEY or ACCESS_TEAM_DOMAIN+ACCESS_AUD",
    };
  }
  const key = request.headers.get(KEY_HEADER);
  if (key !== null) {
    // A key that is presented must be right: a wrong one is never rescued by anything else.
    if (cfg.secrets.accessKey !== null && (await sameSecret(key, cfg.secrets.accessKey))) return { via: "key" };
    return { status: 401, code: "access_denied", message: "the access key is not valid" };
  }
  if (cfg.access !== null) {
    const jwt = request.headers.get(ACCESS_JWT_HEADER);
    if (jwt === null) return { status: 401, code: "access_denied", message: `sign in through Cloudflare Access, or send the access key in ${KEY_HEADER}` };
    const problem = await accessJwtProblem(jwt, cfg.access);
    if (problem) return { status: 401, code: "access_denied", message: problem };
    return { via: "access" };
  }
  const session = cookieValue(request, SESSION_COOKIE);
  if (session !== null) {
    if (await verifySession(session, cfg)) return { via: "session" };
    return { status: 401, code: "session_expired", message: `the session has expired or was ended: sign in again at ${SIGN_IN_PATH}`, signIn: true };
  }
  return { status: 401, code: "access_denied", message: `sign in at ${SIGN_IN_PATH}, or send the access key in ${KEY_HEADER}`, signIn: true };
}

/**
 * A state-changing request must come from this origin: a browser always sends `Origin` there, so
 * one signed in by cookie or Access without it is refused; a script with the key may leave it out.
 */
export function originProblem(request, cfg, via) {
  if (SAFE_METHODS.has(request.method)) return null;
  const origin = request.headers.get("origin");
  if (origin === null) {
    if (via === "session" || via === "access") return { status: 403, code: "cross_origin", message: "a state-changing request must carry this site's Origin" };
    return null;
  }
  if (origin !== ownOrigin(request, cfg)) return { status: 403, code: "cross_origin", message: "this worker serves its own pages only" };
  return null;
}

/** `null` when the caller may go on, else `{ status, code, message, signIn? }`. */
export async function checkAccess(request, cfg) {
  const who = await authenticate(request, cfg);
  if (!who.via) return { ...who, signIn: Boolean(who.signIn) && signInAvailable(cfg) };
  return originProblem(request, cfg, who.via);
}
