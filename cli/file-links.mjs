// Where a presigned file link may point, for the CLI (issue 16, item 4). A link comes from the
// vendor's answer, so a hostile or broken API could aim the CLI at the machine's own services or
// a cloud metadata endpoint (blind SSRF). The rule: https, and every address the name resolves to
// is public. Widened by --allow-file-host HOST / EXPORTKIT_ALLOW_FILE_HOSTS (those hosts, any
// address, http too) or --allow-private-file-links (any address, still https). A link to exactly
// the API base URL's origin is allowed as is: the CLI already talks to that server with the key
// (the sandbox on 127.0.0.1 serves its own files).
//
// The check runs inside the connection's own DNS lookup (node:http's `lookup` option), so the
// address checked is the address connected to: no window for DNS rebinding between a check and
// the fetch. Redirects are followed by hand, each hop under the same rule.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP } from "node:net";
import { Readable } from "node:stream";
import zlib from "node:zlib";
import { ExportError } from "../js/index.js";

const MAX_HOPS = 5;

// Loopback, private, link-local (cloud metadata 169.254.169.254), CGNAT, unique-local and the
// other ranges no vendor serves files from. BlockList also applies the IPv4 ranges to their
// ::ffff:-mapped IPv6 forms.
const BLOCKED = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
]) {
  BLOCKED.addSubnet(net, bits, "ipv4");
}
for (const [net, bits] of [
  ["::", 96], // unspecified, ::1 and the deprecated IPv4-compatible forms
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
]) {
  BLOCKED.addSubnet(net, bits, "ipv6");
}

/** Whether `address` (an IP literal) is one a file link must not reach. */
export function isPrivateAddress(address) {
  const a = address.replace(/^\[|\]$/g, "");
  const family = isIP(a);
  if (family === 0) return true; // not an address at all: refuse rather than guess
  return BLOCKED.check(a, family === 4 ? "ipv4" : "ipv6");
}

/** The hosts EXPORTKIT_ALLOW_FILE_HOSTS and --allow-file-host name (host or host:port each). */
export function allowedHosts(flagValues, env) {
  const out = new Set();
  for (const v of [...(flagValues ?? []), ...String(env?.EXPORTKIT_ALLOW_FILE_HOSTS ?? "").split(",")]) {
    const h = v.trim().toLowerCase();
    if (h) out.add(h);
  }
  return out;
}

function refused(host, why, hint) {
  return new ExportError(`file link to host ${host} refused: ${why}; ${hint}`, { code: "E_INVALID_ARGUMENT", field: "fileLink" });
}

/**
 * The CLI's file-link rule as a `fetchFile(url, init)` for UserpilotClient. `baseUrl`: the API
 * base URL; `allowHosts`: a Set from allowedHosts(); `allowPrivate`: --allow-private-file-links.
 */
export function fileLinkFetch({ baseUrl, allowHosts = new Set(), allowPrivate = false }) {
  const baseOrigin = baseUrl ? new URL(baseUrl).origin : null;
  const hintFor = (host) =>
    `to allow it pass --allow-file-host ${host} (or set EXPORTKIT_ALLOW_FILE_HOSTS=${host})` + (allowPrivate ? "" : ", or --allow-private-file-links for any address over https");

  // What may be fetched at `u`, before any connection: "any" (no address rule), "public", or a
  // refusal thrown.
  function rule(u) {
    const host = u.host.toLowerCase();
    if (u.origin === baseOrigin) return "any";
    if (allowHosts.has(host) || allowHosts.has(u.hostname.toLowerCase())) return "any";
    if (u.protocol !== "https:") throw refused(host, `the link is ${u.protocol.replace(":", "")}, not https`, hintFor(host));
    if (allowPrivate) return "any";
    if (u.username || u.password) throw refused(host, "the link carries a user name or password", hintFor(host));
    const literal = u.hostname.replace(/^\[|\]$/g, "");
    if (isIP(literal) && isPrivateAddress(literal)) throw refused(host, `${literal} is a loopback, private, link-local or reserved address`, hintFor(host));
    return "public";
  }

  // The connection's own lookup: all addresses of the name, each one public, or no connection.
  const checkedLookup = (host) => (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(refused(host, `it resolves to ${bad.address}, a loopback, private, link-local or reserved address`, hintFor(host)));
      if (options && options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };

  function once(u, init, check) {
    const mod = u.protocol === "https:" ? https : u.protocol === "http:" ? http : null;
    if (!mod) return Promise.reject(refused(u.host, `the link is ${u.protocol.replace(":", "")}, not https`, hintFor(u.host)));
    return new Promise((resolve, reject) => {
      const req = mod.request(u, {
        method: init.method || "GET",
        headers: init.headers || {},
        signal: init.signal || undefined,
        agent: false,
        ...(check === "public" ? { lookup: checkedLookup(u.host.toLowerCase()) } : {}),
      });
      req.on("response", resolve);
      req.on("error", reject);
      req.end();
    });
  }

  return async function fetchFile(url, init = {}) {
    let u = new URL(url);
    for (let hop = 0; ; hop++) {
      const check = rule(u);
      const res = await once(u, init, check);
      const status = res.statusCode;
      const location = res.headers.location;
      if (status >= 300 && status <= 399 && location) {
        res.resume();
        if (hop >= MAX_HOPS) throw refused(u.host, `more than ${MAX_HOPS} redirects`, "the link's server keeps redirecting");
        u = new URL(location, u);
        continue;
      }
      return toResponse(res, init);
    }
  };
}

// Node's answer as a fetch Response, decoded as fetch would (Content-Encoding).
function toResponse(res, init) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else if (v !== undefined) headers.set(k, v);
  }
  let stream = res;
  const enc = String(res.headers["content-encoding"] || "").trim().toLowerCase();
  const decoder = enc === "gzip" || enc === "x-gzip" ? zlib.createGunzip() : enc === "deflate" ? zlib.createInflate() : enc === "br" ? zlib.createBrotliDecompress() : null;
  if (decoder) {
    stream = res.pipe(decoder);
    res.on("error", (e) => decoder.destroy(e));
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  const empty = res.statusCode === 204 || res.statusCode === 304 || (init.method || "GET") === "HEAD";
  if (empty) res.resume();
  return new Response(empty ? null : Readable.toWeb(stream), { status: res.statusCode, statusText: res.statusMessage, headers });
}
