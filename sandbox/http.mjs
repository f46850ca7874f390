// Shared HTTP plumbing: CORS, JSON replies and errors, bounded body reading and chunked writing.

import { setImmediate as yieldTick } from "node:timers/promises";

export const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "Authorization, Content-Type",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Expose-Headers": "X-Total-Count, X-Page-Last, X-Limit, X-Page, Retry-After",
  "Access-Control-Max-Age": "600",
};

/** Thrown by handlers; the router turns it into a response so handlers can bail out from any depth. */
export class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(typeof body === "string" ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export function sendJson(res, status, body, headers = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...CORS_HEADERS,
    ...(text ? { "Content-Type": "application/json; charset=utf-8" } : {}),
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res, status, text, contentType, headers = {}) {
  res.writeHead(status, {
    ...CORS_HEADERS,
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res, status, headers = {}) {
  res.writeHead(status, { ...CORS_HEADERS, ...headers });
  res.end();
}

/** Backstory-style JSON error body; `field` names the offending parameter when there is one. */
export function backstoryError(status, code, message, field, headers) {
  const body = { error: code, message };
  if (field !== undefined) body.field = field;
  return new HttpError(status, body, headers);
}

/** Reads the whole request body, refusing anything larger than `limit` bytes with 413. */
export async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) {
      // Keep draining nothing more: the connection is closed after the 413 goes out.
      req.destroy();
      throw new HttpError(413, { error: "payload_too_large", message: `request body exceeds ${limit} bytes` }, { Connection: "close" });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody(buf, makeError) {
  const text = buf.toString("utf8");
  if (text.trim() === "") throw makeError("request body is empty; a JSON object is required");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw makeError(`request body is not valid JSON: ${e.message}`);
  }
}

/** Resolves when the response can take more data (or has closed). */
export function drained(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Writes a buffer as many small writes so clients see bodies split at arbitrary bytes (inside quoted
 * fields, UTF-8 sequences and CRLF pairs). `sizes` yields the next chunk size; a tick between writes
 * keeps Node from coalescing them all into one packet.
 */
export async function writeInChunks(res, buf, sizes) {
  let off = 0;
  while (off < buf.length) {
    if (res.destroyed || res.writableEnded) return false;
    const size = Math.max(1, sizes());
    const ok = res.write(buf.subarray(off, off + size));
    off += size;
    if (!ok) await drained(res);
    else await yieldTick();
  }
  return !res.writableEnded;
}

/** Writes a string or buffer respecting backpressure; for generators that produce large bodies. */
export async function writeRespecting(res, data) {
  if (res.destroyed || res.writableEnded) return false;
  if (!res.write(data)) await drained(res);
  return !res.destroyed && !res.writableEnded;
}

/** Seconds until the next UTC midnight from `nowMs`, at least 1. */
export function secondsUntilUtcMidnight(nowMs) {
  const d = new Date(nowMs);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - nowMs) / 1000));
}

export function utcDay(nowMs) {
  return new Date(nowMs).toISOString().slice(0, 10);
}
