// The same-origin proxy: the page's API calls, authorised here with the worker's secrets and sent
// to the configured vendor host. Only allow-listed endpoints, methods and query parameters pass;
// request bodies are small JSON and read with a cap; responses stream through untouched (a whole
// export never sits in the worker's memory); headers pass by allow-list in both directions, so the
// caller's Authorization, cookies and forwarding headers never reach a vendor and the vendor's
// CORS, cookies and auth challenges never reach the page.

import { ownOrigin } from "./access.mjs";
import { PROXY_PATHS } from "./config.mjs";
import { backstoryAuthorization, CredentialsMissing, userpilotAuthorization } from "./credentials.mjs";
import { markQueryExhausted, takeQueryCall } from "./quota.mjs";
import { backstoryRoutes, checkQuery, matchRoute, userpilotRoutes } from "./routes.mjs";

const PASSED_RESPONSE_HEADERS = [
  "content-type",
  "content-length",
  "content-disposition",
  "retry-after",
  "x-total-count",
  "x-page-last",
  "x-limit",
  "x-page",
  "etag",
  "last-modified",
];
const NULL_BODY = new Set([101, 204, 205, 304]);
// A Userpilot job detail is a few KiB; it is the one answer the worker reads (to point its file
// links at this proxy), so it gets a cap.
const JOB_JSON_LIMIT = 1 << 20;
const FILE_SEARCH_LIMIT = 8192;

/** Headers every API answer of the worker carries: never cached, never rendered as a page. */
export function apiHeaders() {
  return new Headers({
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
  });
}

/** An error in the vendor's own envelope, so the clients read it as they read the vendor's. */
export function refusal(vendor, status, code, message, extra = {}) {
  const body =
    vendor === "backstory"
      ? { error: code, message }
      : { errors: [{ details: message, error: code, error_code: String(status), message }] };
  const headers = apiHeaders();
  headers.set("Content-Type", "application/json; charset=utf-8");
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Response(JSON.stringify(body), { status, headers });
}

function passThrough(upstream, body = upstream.body, { dropLength = false } = {}) {
  const headers = apiHeaders();
  for (const name of PASSED_RESPONSE_HEADERS) {
    const v = upstream.headers.get(name);
    if (v !== null) headers.set(name, v);
  }
  // A body the runtime decoded (or one we rewrote) no longer has the upstream's length.
  if (dropLength || upstream.headers.has("content-encoding")) headers.delete("content-length");
  return new Response(NULL_BODY.has(upstream.status) ? null : body, { status: upstream.status, headers });
}

/** Reads a stream whole, or returns null once it passes `limit` bytes (and cancels it). */
export async function readCapped(stream, limit, { drainOnLimit = false } = {}) {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      if (drainOnLimit) {
        reader.releaseLock();
        await drain(stream);
      } else await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// How much of a refused body is read and dropped before answering: a client still sending when the
// answer comes sees a reset instead of the 413. Past this the connection is cut all the same.
const DRAIN_LIMIT = 1 << 20;

export async function drain(stream) {
  if (!stream) return;
  const reader = stream.getReader();
  let n = 0;
  try {
    while (n <= DRAIN_LIMIT) {
      const { done, value } = await reader.read();
      if (done) return;
      n += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing to answer anyway.
  }
}

async function requestBody(request, limit) {
  const declared = request.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= limit)) {
    await drain(request.body);
    return null;
  }
  return readCapped(request.body, limit, { drainOnLimit: true });
}

function fetchUpstream(url, method, body, authorization) {
  const headers = new Headers({ Accept: "*/*" });
  if (authorization) headers.set("Authorization", authorization);
  if (body !== undefined) headers.set("Content-Type", "application/json");
  // Redirects are not followed: the vendor host is fixed, and so is where the worker connects.
  return fetch(url, { method, headers, body, redirect: "manual" });
}

async function sendBackstory(cfg, url, method, body, authorization) {
  let resp = await fetchUpstream(url, method, body, authorization);
  if (resp.status === 401) {
    // The cached token was refused (expired early, revoked): one fresh exchange, one more try.
    await resp.body?.cancel().catch(() => {});
    resp = await fetchUpstream(url, method, body, await backstoryAuthorization(cfg, { refresh: true }));
  }
  return resp;
}

function upstreamFailure(vendor, e) {
  if (e instanceof CredentialsMissing) return refusal(vendor, 503, "not_configured", e.message);
  if (e && e.name === "ExportError" && e.code === "E_AUTH") {
    return refusal(vendor, 502, "upstream_auth_failed", "the vendor refused the worker's credentials");
  }
  // No detail: a network error message could name internal hosts.
  return refusal(vendor, 502, "upstream_unreachable", "the vendor could not be reached");
}

/** A presigned file URL on the configured file host, pointed at this worker's file proxy. */
function proxiedFileUrl(url, cfg, own) {
  let u;
  let base;
  try {
    u = new URL(url);
    base = new URL(cfg.userpilotFilesBase);
  } catch {
    return null;
  }
  const basePath = base.pathname.replace(/\/+$/, "");
  if (u.origin !== base.origin || !u.pathname.startsWith(`${basePath}/`)) return null;
  const rest = u.pathname.slice(basePath.length);
  if (filePathProblem(rest)) return null;
  return `${own}${PROXY_PATHS.userpilotFiles}${rest}${u.search}`;
}

function filePathProblem(path) {
  if (!/^(\/[A-Za-z0-9._~=+@:,-]+)+$/.test(path)) return "the file path holds characters no file link uses";
  if (path.split("/").some((s) => s === "." || s === "..")) return "the file path holds a dot segment";
  return "";
}

async function rewriteJob(upstream, request, cfg) {
  if (!(upstream.headers.get("content-type") ?? "").includes("json")) return passThrough(upstream);
  const bytes = await readCapped(upstream.body, JOB_JSON_LIMIT);
  if (bytes === null) return refusal("userpilot", 502, "upstream_too_large", "the job detail is larger than expected");
  let job;
  try {
    job = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return passThrough(upstream, bytes, { dropLength: true });
  }
  if (job && Array.isArray(job.presigned_urls)) {
    const own = ownOrigin(request, cfg);
    for (const f of job.presigned_urls) {
      if (f && typeof f.url === "string") f.url = proxiedFileUrl(f.url, cfg, own) ?? f.url;
    }
  }
  return passThrough(upstream, JSON.stringify(job), { dropLength: true });
}

async function proxyFile(request, cfg, rest) {
  if (cfg.userpilotFilesBase === null) return refusal("userpilot", 404, "not_found", "the file proxy is not configured (USERPILOT_FILES_BASE_URL)");
  if (request.method !== "GET") return refusal("userpilot", 405, "method_not_allowed", `${request.method} is not allowed here`, { Allow: "GET" });
  const problem = filePathProblem(rest);
  if (problem) return refusal("userpilot", 400, "bad_path", problem);
  const { search } = new URL(request.url);
  if (search.length > FILE_SEARCH_LIMIT) return refusal("userpilot", 414, "uri_too_long", "the file link is too long");
  let upstream;
  try {
    // A presigned link is its own authorisation: the worker adds nothing to it.
    upstream = await fetchUpstream(`${cfg.userpilotFilesBase}${rest}${search}`, "GET", undefined, null);
  } catch (e) {
    return upstreamFailure("userpilot", e);
  }
  return passThrough(upstream);
}

/**
 * Serves `/api/{vendor}/...`. `vendor` is `backstory`, `userpilot` or `userpilotFiles`; `rest` is
 * the path after the prefix.
 */
export async function handleProxy(request, env, cfg, vendor, rest) {
  // The caller was authenticated by the worker (access.mjs) before this is reached.
  const errVendor = vendor === "backstory" ? "backstory" : "userpilot";
  if (vendor === "userpilotFiles") return proxyFile(request, cfg, rest);

  const routes = vendor === "backstory" ? backstoryRoutes(cfg.forecastingPath) : userpilotRoutes();
  const matched = matchRoute(routes, request.method, rest);
  if (matched.status) {
    return refusal(errVendor, matched.status, matched.status === 405 ? "method_not_allowed" : matched.status === 404 ? "not_found" : "bad_path", matched.message, matched.allow ? { Allow: matched.allow } : {});
  }
  const { route, path } = matched;
  const q = checkQuery(route, new URL(request.url).searchParams);
  if (q.status) return refusal(errVendor, q.status, "bad_query", q.message);

  let body;
  if (route.method === "POST") {
    if (!/^application\/json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) {
      return refusal(errVendor, 415, "unsupported_media_type", "send the body as application/json");
    }
    body = await requestBody(request, cfg.maxBodyBytes);
    if (body === null) return refusal(errVendor, 413, "payload_too_large", `request bodies are limited to ${cfg.maxBodyBytes} bytes`);
  }
  // Credentials first: a worker that cannot authorise spends no call of the day.
  let authorization;
  try {
    authorization = vendor === "backstory" ? await backstoryAuthorization(cfg) : userpilotAuthorization(cfg);
  } catch (e) {
    return upstreamFailure(errVendor, e);
  }
  if (route.kind === "query") {
    if (!env.VENDOR_LIMITS) return refusal(errVendor, 503, "not_configured", "the VENDOR_LIMITS Durable Object binding is missing");
    const take = await takeQueryCall(env);
    if (!take.ok) {
      return refusal(errVendor, 429, "rate_limit_exceeded", "the Query API's 10 calls for today are spent (counted by the edge worker)", {
        "Retry-After": String(take.retryAfterSeconds),
      });
    }
  }

  let upstream;
  try {
    upstream =
      vendor === "backstory"
        ? await sendBackstory(cfg, `${cfg.backstoryBase}${path}${q.search}`, route.method, body, authorization)
        : await fetchUpstream(`${cfg.userpilotBase}${path}${q.search}`, route.method, body, authorization);
  } catch (e) {
    return upstreamFailure(errVendor, e);
  }
  if (route.kind === "query" && upstream.status === 429) await markQueryExhausted(env);
  if (route.kind === "job" && cfg.userpilotFilesBase !== null && upstream.ok) return rewriteJob(upstream, request, cfg);
  return passThrough(upstream);
}
