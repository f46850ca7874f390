// The worker's settings, read from its bindings and checked. The upstream hosts are fixed here and
// nowhere else: no request can choose where the worker connects. Secrets are read, never echoed:
// an error names the variable, not its value.

export const DEFAULTS = Object.freeze({
  BACKSTORY_BASE_URL: "https://api.people.ai",
  USERPILOT_BASE_URL: "https://appex.userpilot.io",
  // The Forecasting endpoint's path is not in the vendor's public page (an assumption, as in the client).
  BACKSTORY_FORECASTING_PATH: "/v3/beta/forecasting/query",
  MAX_BODY_BYTES: 64 * 1024,
  SESSION_TTL_SECONDS: 12 * 3600,
});

/** Where the page finds the proxy (served as /config.json; never a secret). */
export const PROXY_PATHS = Object.freeze({
  backstory: "/api/backstory",
  userpilot: "/api/userpilot",
  userpilotFiles: "/api/userpilot-files",
});

export class ConfigError extends Error {
  constructor(variable, reason) {
    super(`${variable}: ${reason}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A loopback host name as URL.hostname spells it: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(hostname) {
  const h = String(hostname).toLowerCase();
  if (h === "localhost" || h === "[::1]" || h === "::1") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}

/**
 * Cloudflare Access: both ACCESS_TEAM_DOMAIN and ACCESS_AUD, or neither. The team's keys are
 * published at https://<team domain>/cdn-cgi/access/certs; a loopback team domain (tests, local
 * runs) is reached over http so that a test can serve its own keys.
 */
function accessConfig(env) {
  const team = optionalString(env, "ACCESS_TEAM_DOMAIN");
  const aud = optionalString(env, "ACCESS_AUD");
  if (team === null && aud === null) return null;
  if (team === null) throw new ConfigError("ACCESS_TEAM_DOMAIN", "must be set with ACCESS_AUD (e.g. myteam.cloudflareaccess.com)");
  if (aud === null) throw new ConfigError("ACCESS_AUD", "must be set with ACCESS_TEAM_DOMAIN (the application's Audience tag)");
  let u;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(team) ? team : `https://${team}`);
  } catch {
    throw new ConfigError("ACCESS_TEAM_DOMAIN", "is not a host name");
  }
  if (u.username || u.password || u.search || u.hash || u.pathname !== "/") {
    throw new ConfigError("ACCESS_TEAM_DOMAIN", "must be a bare host name such as myteam.cloudflareaccess.com");
  }
  const loopback = isLoopbackHost(u.hostname);
  if (loopback) u.protocol = "http:";
  else if (u.protocol !== "https:") throw new ConfigError("ACCESS_TEAM_DOMAIN", "must be reached over https");
  return { issuer: u.origin, certsUrl: `${u.origin}/cdn-cgi/access/certs`, aud };
}

/** An upstream base URL: https (http only on loopback, for local runs), no credentials, query or fragment. */
export function upstreamBase(variable, value) {
  let u;
  try {
    u = new URL(String(value));
  } catch {
    throw new ConfigError(variable, "is not a URL");
  }
  if (u.username || u.password) throw new ConfigError(variable, "must not hold credentials");
  if (u.search || u.hash) throw new ConfigError(variable, "must not have a query or fragment");
  if (!(u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname)))) {
    throw new ConfigError(variable, "must be an https:// URL (http:// only for a loopback host)");
  }
  return u.origin + u.pathname.replace(/\/+$/, "");
}

function optionalString(env, name) {
  const v = env[name];
  return typeof v === "string" && v !== "" ? v : null;
}

function positiveInt(env, name, fallback, max) {
  const v = env[name];
  if (v === undefined || v === null || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(name, `must be an integer from 1 to ${max}`);
  return n;
}

function flag(env, name, fallback) {
  const v = env[name];
  if (v === undefined || v === null || v === "") return fallback;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw new ConfigError(name, "must be true or false");
}

/**
 * The checked configuration. Throws ConfigError naming the variable. Secrets are carried as they
 * are (the proxy needs them) inside `secrets`, which nothing serialises.
 */
export function readConfig(env) {
  const forecastingPath = optionalString(env, "BACKSTORY_FORECASTING_PATH") ?? DEFAULTS.BACKSTORY_FORECASTING_PATH;
  if (!/^(\/[A-Za-z0-9_-]+)+$/.test(forecastingPath)) {
    throw new ConfigError("BACKSTORY_FORECASTING_PATH", "must be a plain path such as /v3/beta/forecasting/query");
  }
  const accessKey = optionalString(env, "EDGE_ACCESS_KEY");
  if (accessKey !== null && accessKey.length < 16) throw new ConfigError("EDGE_ACCESS_KEY", "must be at least 16 characters");
  const publicOrigin = optionalString(env, "PUBLIC_ORIGIN");
  let origin = null;
  if (publicOrigin !== null) {
    origin = upstreamBase("PUBLIC_ORIGIN", publicOrigin);
    if (new URL(origin).pathname !== "/") throw new ConfigError("PUBLIC_ORIGIN", "must be an origin without a path");
    origin = new URL(origin).origin;
  }
  const filesBase = optionalString(env, "USERPILOT_FILES_BASE_URL");
  // The same-origin headers are sent by any script, so they no longer let anyone in. The variable
  // is still read so that a deployment expecting it to open the proxy is told, not silently closed.
  const sameOrigin = env.EDGE_ALLOW_SAME_ORIGIN;
  if (sameOrigin !== undefined && sameOrigin !== null && sameOrigin !== "" && sameOrigin !== false && sameOrigin !== "false") {
    throw new ConfigError(
      "EDGE_ALLOW_SAME_ORIGIN",
      "was removed: Sec-Fetch-Site and Origin can be forged, so they never grant access. Delete the variable; people sign in (the sign-in page or Cloudflare Access), scripts send the access key",
    );
  }
  const access = accessConfig(env);
  const devOpen = optionalString(env, "EDGE_DEV_OPEN");
  if (devOpen !== null && devOpen !== "loopback") throw new ConfigError("EDGE_DEV_OPEN", 'must be "loopback" (or unset)');
  return {
    backstoryBase: upstreamBase("BACKSTORY_BASE_URL", optionalString(env, "BACKSTORY_BASE_URL") ?? DEFAULTS.BACKSTORY_BASE_URL),
    userpilotBase: upstreamBase("USERPILOT_BASE_URL", optionalString(env, "USERPILOT_BASE_URL") ?? DEFAULTS.USERPILOT_BASE_URL),
    userpilotFilesBase: filesBase === null ? null : upstreamBase("USERPILOT_FILES_BASE_URL", filesBase),
    forecastingPath,
    maxBodyBytes: positiveInt(env, "MAX_BODY_BYTES", DEFAULTS.MAX_BODY_BYTES, 1024 * 1024),
    publicOrigin: origin,
    access,
    devOpen: devOpen === "loopback",
    sessionTtlSeconds: positiveInt(env, "SESSION_TTL_SECONDS", DEFAULTS.SESSION_TTL_SECONDS, 30 * 24 * 3600),
    csvGuard: flag(env, "CSV_GUARD", true),
    secrets: {
      accessKey,
      backstoryClientId: optionalString(env, "BACKSTORY_CLIENT_ID"),
      backstoryClientSecret: optionalString(env, "BACKSTORY_CLIENT_SECRET"),
      userpilotApiKey: optionalString(env, "USERPILOT_API_KEY"),
    },
  };
}

/** What /config.json tells the page: where the proxy is. No secret, no upstream host. */
export function pageConfig() {
  return { proxyUrl: PROXY_PATHS.backstory, userpilotProxyUrl: PROXY_PATHS.userpilot };
}
