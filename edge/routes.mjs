// The allow-list: exactly the documented endpoints the clients call, per vendor, with their
// methods and query parameters. The upstream path is rebuilt from a template and checked segments,
// never copied from the request, so nothing a caller sends can reach another path or host.
// The Backstory token endpoint is deliberately absent: the worker exchanges its own credentials.

// Job ids and lookup names come from the clients' own rules (the Rust providers, through the
// wasm's vocabulary; worker.mjs loads the wasm before any route is built), so the worker cannot
// refuse an id the client sends, nor pass one the client would refuse.
import { vocabulary } from "../js/vocabulary.js";

/** A capturing group for one job id of `vendor`, as its client accepts it. */
const jobId = (vendor) => `(${vocabulary()[vendor].jobId.segment})`;

const CURSOR = /^[A-Za-z0-9+/=_-]{1,4096}$/;

function route(method, pattern, upstream, extra = {}) {
  return { method, pattern, upstream, query: {}, ...extra };
}

/** Backstory routes; `forecastingPath` comes from the configuration. */
export function backstoryRoutes(forecastingPath) {
  const J = "/pull/v1/export/activities/jobs";
  const ID = jobId("backstory");
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return [
    route("POST", /^\/v3\/beta\/insights\/export\/?$/, () => "/v3/beta/insights/export", { kind: "query" }),
    route("POST", new RegExp(`^${esc(J)}/?$`), () => J),
    route("GET", new RegExp(`^${esc(J)}/?$`), () => J),
    route("GET", new RegExp(`^${esc(J)}/${ID}/?$`), (m) => `${J}/${m[1]}`),
    route("GET", new RegExp(`^${esc(J)}/${ID}/(data|fragment)/?$`), (m) => `${J}/${m[1]}/${m[2]}`, {
      query: { fragment: /^[0-9]{1,6}$/ },
    }),
    route("POST", new RegExp(`^${esc(forecastingPath)}/?$`), () => forecastingPath),
  ];
}

export function userpilotRoutes() {
  const U = "/api/v1/analytics/exports";
  const ID = jobId("userpilot");
  const lookups = vocabulary().userpilot.lookups;
  return [
    route("POST", /^\/api\/v1\/analytics\/exports\/?$/, () => `${U}/`),
    route("GET", /^\/api\/v1\/analytics\/exports\/jobs\/?$/, () => `${U}/jobs/`),
    route("GET", new RegExp(`^\\/api\\/v1\\/analytics\\/exports\\/jobs\\/${ID}\\/?$`), (m) => `${U}/jobs/${m[1]}`, { kind: "job" }),
    route("GET", new RegExp(`^\\/api\\/v1\\/analytics\\/exports\\/lookups\\/(${lookups.join("|")})\\/?$`), (m) => `${U}/lookups/${m[1]}`, {
      query: { limit: /^[0-9]{1,4}$/, after_cursor: CURSOR, before_cursor: CURSOR },
    }),
  ];
}

/**
 * Characters a vendor path never needs. Refusing them (rather than normalising) means `%2e%2e`,
 * `%2f`, backslashes, `//` and `.` segments are errors, not alternative spellings.
 */
export function pathProblem(path) {
  if (!path.startsWith("/")) return "the path must start with /";
  if (path.length > 512) return "the path is too long";
  if (!/^[A-Za-z0-9_\-/.]*$/.test(path)) return "the path holds characters no endpoint uses";
  if (path.includes("//")) return "the path holds an empty segment";
  if (path.split("/").some((s) => s === "." || s === "..")) return "the path holds a dot segment";
  return "";
}

/**
 * Matches a vendor path (after the proxy prefix) and method. Returns `{ route, path }`, or
 * `{ status, message, allow? }` for a refusal.
 */
export function matchRoute(routes, method, path) {
  const problem = pathProblem(path);
  if (problem) return { status: 400, message: problem };
  const allowed = [];
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    if (r.method === method) return { route: r, path: r.upstream(m) };
    allowed.push(r.method);
  }
  if (allowed.length) return { status: 405, message: `${method} is not allowed here`, allow: allowed.join(", ") };
  return { status: 404, message: "no such endpoint behind this proxy" };
}

/**
 * Rebuilds the query string from the route's allowed parameters, each at most once and matching
 * its pattern. Returns `{ search }` or `{ status, message }`.
 */
export function checkQuery(route, searchParams) {
  const out = new URLSearchParams();
  const seen = new Set();
  for (const [k, v] of searchParams) {
    const pattern = Object.hasOwn(route.query, k) ? route.query[k] : null;
    if (!pattern) return { status: 400, message: `query parameter \`${k}\` is not allowed here` };
    if (seen.has(k)) return { status: 400, message: `query parameter \`${k}\` is repeated` };
    if (!pattern.test(v)) return { status: 400, message: `query parameter \`${k}\` is malformed` };
    seen.add(k);
    out.append(k, v);
  }
  const s = out.toString();
  return { search: s ? `?${s}` : "" };
}
