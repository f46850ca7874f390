// A small static file server (Node standard library only) for the dashboard and its tests.
//
//   import { startStatic } from "./scripts/serve.mjs";
//   const srv = await startStatic({ root: repoRoot, port: 0, config: { baseUrl, clientId, clientSecret } });
//   srv.url  // http://127.0.0.1:PORT
//   await srv.close();
//
// Binds to 127.0.0.1 and answers only requests whose Host is a loopback name (127.0.0.0/8,
// localhost, [::1]): a page on another domain that rebinds its DNS to 127.0.0.1 gets 421, not the
// checkout's files or the demo's /config.json.
//
// Serves files under `root` only (no traversal, no symlinks out of it), with the right MIME types
// (application/wasm for WebAssembly streaming compilation), redirects / to /www/, answers
// /config.json with `config` when one is given, and sends a strict Content-Security-Policy.
//
// Run directly: node scripts/serve.mjs [port]   (serves the repository root)

import { createServer } from "node:http";
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "connect-src 'self' http://127.0.0.1:* http://localhost:*",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".jsonl": "application/x-ndjson; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

function baseHeaders(type) {
  const headers = {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
  };
  if (type.startsWith("text/html")) {
    headers["Content-Security-Policy"] = CSP;
    headers["X-Frame-Options"] = "DENY";
  }
  return headers;
}

function sendText(res, status, text, extra = {}) {
  const body = Buffer.from(text, "utf8");
  res.writeHead(status, { ...baseHeaders("text/plain; charset=utf-8"), "Content-Length": body.length, ...extra });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** Whether a Host header names this machine's loopback interface (any port). */
export function isLocalHost(host) {
  if (typeof host !== "string") return false;
  const m = /^(\[::1\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (!m) return false;
  const name = m[1].toLowerCase();
  if (name === "localhost" || name === "[::1]") return true;
  const ip = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return ip !== null && ip.slice(1).every((p) => Number(p) <= 255);
}

function isInside(root, p) {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

export async function startStatic({ root, port = 0, host = "127.0.0.1", config } = {}) {
  if (!root) throw new Error("startStatic: root is required");
  const realRoot = await realpath(path.resolve(root));

  const server = createServer(async (req, res) => {
    try {
      // DNS rebinding: the browser sends the attacker's host name here. Nothing is served to it.
      if (!isLocalHost(req.headers.host)) return sendText(res, 421, "Misdirected Request: this server answers only to localhost\n");
      if (req.method !== "GET" && req.method !== "HEAD") {
        return sendText(res, 405, "Method Not Allowed\n", { Allow: "GET, HEAD" });
      }
      let pathname;
      try {
        pathname = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
      } catch {
        return sendText(res, 400, "Bad Request\n");
      }
      if (pathname.includes("\0") || pathname.includes("\\")) return sendText(res, 400, "Bad Request\n");

      if (pathname === "/") return sendText(res, 302, "Found: /www/\n", { Location: "/www/" });
      if (pathname === "/config.json" && config !== undefined) {
        const body = Buffer.from(JSON.stringify(config), "utf8");
        res.writeHead(200, { ...baseHeaders(MIME[".json"]), "Content-Length": body.length });
        return res.end(req.method === "HEAD" ? undefined : body);
      }

      // Resolve against the root; refuse anything that leaves it (also through a symlink).
      const segments = pathname.split("/");
      if (segments.some((s) => s === "..")) return sendText(res, 403, "Forbidden\n");
      let file = path.join(realRoot, ...segments);
      if (!isInside(realRoot, file)) return sendText(res, 403, "Forbidden\n");
      let info;
      try {
        file = await realpath(file);
        if (!isInside(realRoot, file)) return sendText(res, 403, "Forbidden\n");
        info = await stat(file);
      } catch {
        return sendText(res, 404, "Not Found\n");
      }
      if (info.isDirectory()) {
        if (!pathname.endsWith("/")) {
          const search = new URL(req.url, "http://localhost").search;
          return sendText(res, 301, "Moved\n", { Location: `${pathname}/${search}` });
        }
        file = path.join(file, "index.html");
        try {
          info = await stat(file);
        } catch {
          return sendText(res, 404, "Not Found\n");
        }
        if (!info.isFile()) return sendText(res, 404, "Not Found\n");
      } else if (!info.isFile()) {
        return sendText(res, 404, "Not Found\n");
      }
      // Dotfiles (.git, .env, ...) are never served.
      if (path.relative(realRoot, file).split(path.sep).some((s) => s.startsWith("."))) {
        return sendText(res, 404, "Not Found\n");
      }

      const type = MIME[path.extname(file).toLowerCase()] || "application/octet-stream";
      res.writeHead(200, { ...baseHeaders(type), "Content-Length": info.size });
      if (req.method === "HEAD") return res.end();
      const stream = createReadStream(file);
      stream.on("error", () => res.destroy());
      stream.pipe(res);
    } catch (err) {
      if (!res.headersSent) sendText(res, 500, "Internal Server Error\n");
      else res.destroy(err);
    }
  });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    url,
    port: addr.port,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

// node scripts/serve.mjs [port]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const port = Number(process.argv[2] || 8080);
  const srv = await startStatic({ root, port });
  console.log(`exportkit static server: ${srv.url}/www/ (root ${root})`);
}
