// Switchable faults, so clients can be proven to survive what networks and vendors do. A rule names
// a scope (route family), a fault, and when it fires (the Nth matching request, every Nth, or at a
// seeded rate). Faults that damage a body wrap the response's write/end, so every handler gets
// them without knowing; the few that need the handler's cooperation are passed on req.sandboxFault.

import { backstoryError, CORS_HEADERS, HttpError } from "./http.mjs";
import { upError } from "./userpilot.mjs";
import { Rng, hash32 } from "./prng.mjs";

export const SCOPES = [
  "token",
  "query",
  "activities.create",
  "activities.list",
  "activities.get",
  "activities.data",
  "forecasting",
  "userpilot.create",
  "userpilot.list",
  "userpilot.get",
  "userpilot.lookup",
  "userpilot.file",
];

export const FAULTS = {
  status: "answer with `status` (429, 500, 502, 503, 504, ...) and the vendor's error body; `retryAfter` sets Retry-After (seconds, or any string such as an HTTP-date), `retryAfterDate: S` sends an HTTP-date S seconds ahead",
  reset: "send `afterBytes` bytes of the body, then reset the connection",
  truncate: "send `afterBytes` bytes of the body and end it cleanly (Content-Length removed, so it looks like a short success)",
  stall: "wait `stallMs` before answering",
  stall_body: "send `afterBytes` bytes, then stall `stallMs` before the rest",
  error_body: "answer 200 with an error body instead of data",
  bad_header: "Query API: the CSV header differs from what was asked (labels instead of slugs, last column renamed)",
  malformed_line: "JSON Lines (activity data, Userpilot files): line `line` (1-based, default 2) is malformed, same byte length",
  deep_line: "Userpilot JSON files: line `line` (default 2) is an event nested `depth` levels deep (default 5000)",
  huge_line: "Userpilot JSON files: line `line` (default 2) is an event `bytes` long (default 20 MB)",
  invalid_utf8: "the body carries invalid UTF-8 at byte `afterBytes` (inside the uncompressed data for Userpilot files)",
  expire_token: "every Backstory token expires as this response starts (the next call with it gets 401)",
  expire_link: "a presigned file URL answers 403 expired",
  fail_job: "a job created by this request fails instead of completing",
  cancel_job: "a job created by this request is canceled instead of completing",
  redirect: "answer `status` (301, 302, 303, 307 or 308; default 307) with `Location: location` (an absolute URL), so clients can be proven not to carry credentials across it",
};

const DEFAULT_AFTER = 1000;

export class Faults {
  constructor(sandbox) {
    this.sb = sandbox;
    this.rules = [];
    this.nextId = 1;
  }

  reset() {
    this.rules = [];
  }

  describe() {
    return this.rules.map(({ rng, ...r }) => r);
  }

  /** Adds one rule or {rules: [...]}; returns all rules. */
  add(body) {
    const list = Array.isArray(body?.rules) ? body.rules : [body];
    const added = list.map((r) => this.validate(r));
    this.rules.push(...added);
    return { added: added.map(({ rng, ...r }) => r), rules: this.describe(), scopes: SCOPES, faults: FAULTS };
  }

  validate(r) {
    const bad = (m) => new HttpError(400, { error: "invalid_fault", message: m, scopes: SCOPES, faults: FAULTS });
    if (!r || typeof r !== "object") throw bad("a fault rule must be an object");
    const scope = r.scope ?? "*";
    if (scope !== "*" && !SCOPES.some((s) => s === scope || s.startsWith(scope + "."))) throw bad(`unknown scope ${scope}`);
    if (!FAULTS[r.fault]) throw bad(`unknown fault ${r.fault}`);
    if (r.fault === "status" && !(Number.isInteger(r.status) && r.status >= 400 && r.status <= 599)) throw bad("status fault needs an integer status 400..599");
    if (r.fault === "redirect") {
      if (r.status !== undefined && ![301, 302, 303, 307, 308].includes(r.status)) throw bad("redirect fault needs status 301, 302, 303, 307 or 308");
      if (typeof r.location !== "string" || !URL.canParse(r.location)) throw bad("redirect fault needs an absolute `location` URL");
    }
    const rule = {
      id: this.nextId++,
      scope,
      fault: r.fault,
      status: r.fault === "redirect" ? (r.status ?? 307) : r.status,
      location: r.location,
      retryAfter: r.retryAfter,
      retryAfterDate: r.retryAfterDate,
      afterBytes: Number.isInteger(r.afterBytes) && r.afterBytes >= 0 ? r.afterBytes : DEFAULT_AFTER,
      stallMs: Number.isFinite(r.stallMs) ? r.stallMs : 30000,
      line: Number.isInteger(r.line) && r.line >= 1 ? r.line : 2,
      depth: Number.isInteger(r.depth) && r.depth >= 1 && r.depth <= 1e6 ? r.depth : 5000,
      bytes: Number.isInteger(r.bytes) && r.bytes >= 1 && r.bytes <= 2 ** 28 ? r.bytes : 20 * 2 ** 20,
      nth: r.nth,
      every: r.every,
      rate: r.rate,
      times: r.times ?? (r.rate !== undefined || r.every !== undefined ? Infinity : 1),
      seen: 0,
      fired: 0,
    };
    if (rule.nth === undefined && rule.every === undefined && rule.rate === undefined) rule.nth = 1;
    // A rule's own `seed` fixes which requests a `rate` picks, whatever rules came before it.
    if (Number.isInteger(r.seed)) rule.seed = r.seed;
    rule.rng = new Rng(Number.isInteger(r.seed) ? hash32(r.seed, "fault", scope, r.fault) : hash32(this.sb.config.seed, "fault", rule.id));
    return rule;
  }

  pick(scope) {
    let chosen = null;
    for (const r of this.rules) {
      if (!(r.scope === "*" || r.scope === scope || scope.startsWith(r.scope + "."))) continue;
      r.seen++;
      if (chosen || r.fired >= r.times) continue;
      let fire = false;
      if (r.nth !== undefined) fire = r.seen === r.nth;
      else if (r.every !== undefined) fire = r.seen % r.every === 0;
      else if (r.rate !== undefined) fire = r.rng.float() < r.rate;
      if (fire) {
        r.fired++;
        chosen = r;
      }
    }
    return chosen;
  }

  errorFor(scope, status, message) {
    if (scope.startsWith("userpilot.file")) {
      const code = status === 403 ? "AccessDenied" : status === 503 ? "SlowDown" : status >= 500 ? "InternalError" : "InvalidRequest";
      return new HttpError(status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`, { "Content-Type": "application/xml" });
    }
    if (scope.startsWith("userpilot")) return upError(status, message);
    return backstoryError(status, status === 429 ? "rate_limited" : status >= 500 ? "server_error" : "error", message);
  }

  /** Runs before a vendor handler. Returns true when it answered the request itself. */
  async intercept(scope, req, res) {
    if (this.rules.length === 0) return false;
    const rule = this.pick(scope);
    if (!rule) return false;
    switch (rule.fault) {
      case "status": {
        req.resume();
        const err = this.errorFor(scope, rule.status, `sandbox fault: injected ${rule.status}`);
        if (rule.retryAfterDate !== undefined) err.headers["Retry-After"] = new Date(this.sb.now() + Number(rule.retryAfterDate) * 1000).toUTCString();
        else if (rule.retryAfter !== undefined && rule.retryAfter !== null) err.headers["Retry-After"] = String(rule.retryAfter);
        throw err;
      }
      case "error_body": {
        req.resume();
        const err = this.errorFor(scope, 500, "sandbox fault: an error reported with status 200");
        err.status = 200;
        throw err;
      }
      case "redirect":
        req.resume();
        // With CORS headers, so a page sees the redirect itself (opaque) rather than a CORS failure.
        res.writeHead(rule.status, { ...CORS_HEADERS, Location: rule.location, "Content-Length": "0" });
        res.end();
        return true;
      case "expire_link":
        req.resume();
        throw this.errorFor("userpilot.file", 403, "Request has expired");
      case "stall":
        await new Promise((resolve) => {
          const t = this.sb.setTimer(resolve, rule.stallMs);
          res.on("close", () => {
            this.sb.clearTimer(t);
            resolve();
          });
        });
        if (res.destroyed) return true;
        return false;
      case "expire_token":
        this.onHeaders(res, () => this.sb.auth.expireAll());
        return false;
      case "reset":
      case "truncate":
      case "stall_body":
        this.wrapBody(res, rule);
        return false;
      case "invalid_utf8":
        if (scope === "userpilot.file") req.sandboxFault = rule;
        else this.wrapBody(res, rule);
        return false;
      default:
        // bad_header, malformed_line, fail_job, cancel_job: the handler applies them.
        req.sandboxFault = rule;
        return false;
    }
  }

  onHeaders(res, fn) {
    const orig = res.writeHead;
    res.writeHead = function (...args) {
      const out = orig.apply(this, args);
      fn();
      return out;
    };
  }

  /** Damages the body at byte `afterBytes` of what the handler writes. */
  wrapBody(res, rule) {
    const origWrite = res.write.bind(res);
    const origEnd = res.end.bind(res);
    const origWriteHead = res.writeHead.bind(res);
    const at = rule.afterBytes;
    const sb = this.sb;
    let sent = 0;
    let cut = false;
    let held = null; // stall_body: bytes waiting for the stall to end
    if (rule.fault === "truncate") {
      res.writeHead = (status, ...rest) => {
        const headers = rest.find((x) => x && typeof x === "object");
        if (headers) for (const k of Object.keys(headers)) if (k.toLowerCase() === "content-length") delete headers[k];
        res.removeHeader("Content-Length");
        return origWriteHead(status, ...rest);
      };
    }
    const toBuf = (chunk, enc) => (chunk === undefined || chunk === null ? Buffer.alloc(0) : Buffer.isBuffer(chunk) ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk) : Buffer.from(String(chunk), typeof enc === "string" ? enc : "utf8"));
    const finishCut = (partial) => {
      cut = true;
      if (rule.fault === "truncate") {
        origEnd(partial);
      } else {
        origWrite(partial, () => {
          const s = res.socket;
          if (s && typeof s.resetAndDestroy === "function") s.resetAndDestroy();
          else if (s) s.destroy();
          else res.destroy();
        });
      }
    };
    const handle = (buf, ending) => {
      if (cut) return true;
      if (held) {
        held.push(buf);
        if (ending) held.ending = true;
        return false;
      }
      if (sent + buf.length <= at) {
        sent += buf.length;
        if (ending) return origEnd(buf), true;
        return origWrite(buf);
      }
      const k = at - sent;
      if (rule.fault === "invalid_utf8") {
        const copy = Buffer.from(buf);
        copy[k] = 0xff;
        if (k + 1 < copy.length) copy[k + 1] = 0xfe;
        cut = true; // fires once; later bytes pass untouched
        sent += buf.length;
        res.write = origWrite;
        res.end = origEnd;
        if (ending) return origEnd(copy), true;
        return origWrite(copy);
      }
      if (rule.fault === "stall_body") {
        origWrite(buf.subarray(0, k));
        sent += k;
        held = [buf.subarray(k)];
        if (ending) held.ending = true;
        const t = sb.setTimer(() => {
          const rest = held;
          held = null;
          res.write = origWrite;
          res.end = origEnd;
          for (const b of rest) origWrite(b);
          if (rest.ending) origEnd();
          res.emit("drain");
        }, rule.stallMs);
        res.on("close", () => sb.clearTimer(t));
        return false;
      }
      finishCut(buf.subarray(0, k));
      return true;
    };
    res.write = (chunk, enc, cb) => {
      const r = handle(toBuf(chunk, enc), false);
      if (typeof enc === "function") enc();
      else if (typeof cb === "function") cb();
      return r;
    };
    res.end = (chunk, enc, cb) => {
      if (typeof chunk === "function") (cb = chunk), (chunk = undefined);
      if (typeof enc === "function") (cb = enc), (enc = undefined);
      if (!cut || held) handle(toBuf(chunk, enc), true);
      if (typeof cb === "function") cb();
      return res;
    };
  }
}

/** Same-length corruption of one JSON line: its closing brace becomes a comma. */
export function malformLine(line) {
  const k = line.lastIndexOf("}");
  return k < 0 ? line : line.slice(0, k) + "," + line.slice(k + 1);
}
