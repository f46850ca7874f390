// The dashboard's files (www/, js/, pkg/ from the assets binding) and /config.json, which points
// the page at this worker's proxy. The page is served with a strict Content-Security-Policy whose
// connect-src is this origin only: with the proxy in front, the page talks to nothing else.

import { pageConfig } from "./config.mjs";

export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function secure(headers) {
  headers.set("X-Content-Type-Options", "nosniff");
  // Not no-referrer: under that policy a browser sends `Origin: null` on the page's own POSTs, and
  // the worker checks Origin on every state-changing request. Other origins still get no Referer.
  headers.set("Referrer-Policy", "same-origin");
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  const type = headers.get("content-type") ?? "";
  if (type.startsWith("text/html")) {
    headers.set("Content-Security-Policy", PAGE_CSP);
    headers.set("X-Frame-Options", "DENY");
  }
  return headers;
}

export async function serveStatic(request, env) {
  const url = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: secure(new Headers({ Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" })) });
  }
  if (url.pathname === "/config.json") {
    const headers = secure(new Headers({ "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" }));
    return new Response(request.method === "HEAD" ? null : JSON.stringify(pageConfig()), { headers });
  }
  if (url.pathname === "/" || url.pathname === "/index.html") {
    return new Response(null, { status: 302, headers: secure(new Headers({ Location: "/www/" })) });
  }
  if (!env.ASSETS) return new Response("not found\n", { status: 404, headers: secure(new Headers({ "Content-Type": "text/plain; charset=utf-8" })) });
  const res = await env.ASSETS.fetch(request);
  const out = new Response(res.body, res);
  secure(out.headers);
  return out;
}
