// The sign-in page (when the access key is set and Cloudflare Access is not): a plain form, no
// script. The key, entered once, is exchanged for a signed session cookie (see access.mjs); the key
// itself is never stored, logged or echoed, and a wrong one gets the same form back.

import {
  clearSessionCookie,
  createSession,
  ownOrigin,
  sameSecret,
  sessionCookie,
  SIGN_IN_PATH,
} from "./access.mjs";
import { readCapped } from "./proxy.mjs";

const FORM_LIMIT = 4096;
const STYLE =
  "body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}input,button{font:inherit;padding:.4rem}" +
  "input[type=password]{width:100%;box-sizing:border-box}.error{color:#a40000}";

// Its own policy: no script at all, this one style block (by hash), the form posting to this
// origin only. Referrer-Policy same-origin so that the form's POST carries this origin in
// `Origin` (under no-referrer a browser sends "null").
let csp = null;
async function signInCsp() {
  if (csp === null) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(STYLE)));
    const hash = btoa(String.fromCharCode(...digest));
    csp = `default-src 'none'; style-src 'sha256-${hash}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
  }
  return csp;
}

function headers(extra = {}) {
  return new Headers({
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": csp ?? "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    ...extra,
  });
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Where to go after signing in: a plain path of this site, else the dashboard. */
export function safeNext(next) {
  if (typeof next !== "string" || next.length > 512) return "/www/";
  if (!/^\/(?![/\\])[A-Za-z0-9_\-./~%?=&]*$/.test(next) || next.includes("..")) return "/www/";
  return next;
}

function page(next, message, status = 200) {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>Sign in · exportkit</title>
<style>${STYLE}</style></head>
<body><main><h1>exportkit</h1><p>Enter this site's access key to use the dashboard.</p>
${message ? `<p class="error" role="alert" data-testid="signin-error">${escapeHtml(message)}</p>` : ""}
<form method="post" action="${SIGN_IN_PATH}">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<p><label for="key">Access key</label><br><input id="key" name="key" type="password" autocomplete="current-password" required data-testid="signin-key"></p>
<p><button type="submit" data-testid="signin-submit">Sign in</button></p>
</form></main></body></html>`;
  return new Response(html, { status, headers: headers() });
}

async function readForm(request) {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) return null;
  const declared = request.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= FORM_LIMIT)) return null;
  const bytes = await readCapped(request.body, FORM_LIMIT);
  return bytes === null ? null : new URLSearchParams(new TextDecoder().decode(bytes));
}

/** `/signin` (GET: the form; POST: the exchange) and `/signout` (POST); only where `signInAvailable`. */
export async function handleSignIn(request, cfg) {
  await signInCsp();
  const url = new URL(request.url);
  if (url.pathname !== SIGN_IN_PATH) {
    if (request.method !== "POST") return new Response("method not allowed\n", { status: 405, headers: headers({ Allow: "POST", "Content-Type": "text/plain; charset=utf-8" }) });
    if (request.headers.get("origin") !== ownOrigin(request, cfg)) return new Response("cross-origin sign-out refused\n", { status: 403, headers: headers({ "Content-Type": "text/plain; charset=utf-8" }) });
    return new Response(null, { status: 303, headers: headers({ Location: SIGN_IN_PATH, "Set-Cookie": clearSessionCookie() }) });
  }
  if (request.method === "GET" || request.method === "HEAD") return page(safeNext(url.searchParams.get("next") ?? "/www/"), "");
  if (request.method !== "POST") return new Response("method not allowed\n", { status: 405, headers: headers({ Allow: "GET, HEAD, POST", "Content-Type": "text/plain; charset=utf-8" }) });
  // Login CSRF: another site must not sign a visitor into this one.
  if (request.headers.get("origin") !== ownOrigin(request, cfg)) return page("/www/", "Sign in from this site's own page.", 403);
  const form = await readForm(request);
  if (form === null) return page("/www/", "The form could not be read.", 400);
  const next = safeNext(form.get("next") ?? "/www/");
  const key = form.get("key") ?? "";
  if (!(await sameSecret(key, cfg.secrets.accessKey))) return page(next, "That key is not valid.", 401);
  const { token, maxAge } = await createSession(cfg);
  return new Response(null, { status: 303, headers: headers({ Location: next, "Set-Cookie": sessionCookie(token, maxAge) }) });
}
