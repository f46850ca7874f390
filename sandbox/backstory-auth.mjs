// Backstory OAuth client-credentials tokens (POST /v3/auth/tokens) and bearer checks shared by the
// Query, Raw Activity and Forecasting APIs.

import { randomBytes, timingSafeEqual } from "node:crypto";
import { HttpError, readBody, sendJson } from "./http.mjs";

export class BackstoryAuth {
  constructor(sandbox) {
    this.sb = sandbox;
    this.tokens = new Map(); // token -> { clientId, expiresAtMs }
  }

  reset() {
    this.tokens.clear();
  }

  /** Forces every issued token to be expired: lets tests exercise refresh in the middle of work. */
  expireAll() {
    const now = this.sb.now();
    for (const t of this.tokens.values()) t.expiresAtMs = Math.min(t.expiresAtMs, now - 1);
    return this.tokens.size;
  }

  async handleToken(req, res) {
    const body = await readBody(req, 64 * 1024);
    const ctype = String(req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
    // readings.tokenEncoding: "any" takes a form body (the document), HTTP Basic or JSON; the
    // others take only their own and answer anything else as such a server would.
    const enc = this.sb.config.readings.tokenEncoding;
    const basic = /^Basic\s+(.+)$/i.exec(String(req.headers.authorization || ""));
    let form;
    if (ctype === "application/json" && (enc === "any" || enc === "json")) {
      let j;
      try {
        j = JSON.parse(body.toString("utf8"));
      } catch {
        throw new HttpError(400, { error: "invalid_request", error_description: "body is not JSON" });
      }
      form = new URLSearchParams();
      for (const k of ["grant_type", "client_id", "client_secret"]) if (typeof j?.[k] === "string") form.set(k, j[k]);
    } else if (ctype === "application/x-www-form-urlencoded" && enc !== "json") {
      form = new URLSearchParams(body.toString("utf8"));
      if (enc === "basic" && !basic) {
        throw new HttpError(401, { error: "invalid_client", error_description: "client authentication must use HTTP Basic" }, { "WWW-Authenticate": 'Basic realm="tokens"' });
      }
      if (enc === "form" && basic) {
        throw new HttpError(400, { error: "invalid_request", error_description: "client credentials must be in the body" });
      }
    } else {
      throw new HttpError(enc === "json" ? 415 : 400, {
        error: "invalid_request",
        error_description: enc === "json" ? "Content-Type must be application/json" : "Content-Type must be application/x-www-form-urlencoded",
      });
    }
    let clientId = enc === "basic" ? null : form.get("client_id");
    let clientSecret = enc === "basic" ? null : form.get("client_secret");
    // RFC 6749 also allows the client to authenticate with HTTP Basic; accept it as real servers do.
    if (basic && clientId === null) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    if (form.get("grant_type") !== "client_credentials") {
      throw new HttpError(401, {
        error: "unsupported_grant_type",
        error_description: "grant_type must be client_credentials",
      });
    }
    const creds = this.sb.credentials.backstory;
    if (!clientId || !clientSecret || !safeEqual(clientId, creds.clientId) || !safeEqual(clientSecret, creds.clientSecret)) {
      throw new HttpError(401, { error: "invalid_client", error_description: "Client authentication failed" });
    }
    const ttl = Math.max(0, Number(this.sb.config.tokenTtlSeconds));
    const now = this.sb.now();
    // Opaque and random: nothing about it can be derived from the credentials.
    const token = randomBytes(32).toString("base64url");
    const expiresAtMs = now + ttl * 1000;
    this.tokens.set(token, { clientId, expiresAtMs });
    this.prune(now);
    const r = this.sb.config.readings;
    const answer = {
      access_token: token,
      token_type: r.tokenType,
      expires_in: r.expiresIn === "string" ? String(ttl) : ttl,
      // The vendor's documented shape: microseconds and no zone designator (it is UTC). Clients are
      // meant to rely on expires_in; this field is informative (readings.expiresIn "absent": the
      // only one).
      expires_at: new Date(expiresAtMs).toISOString().slice(0, -1) + "000",
    };
    if (r.expiresIn === "absent") delete answer.expires_in;
    sendJson(res, 200, answer, { "Cache-Control": "no-store", Pragma: "no-cache" });
  }

  prune(now) {
    if (this.tokens.size < 1000) return;
    for (const [t, v] of this.tokens) if (v.expiresAtMs <= now) this.tokens.delete(t);
  }

  /** Returns the client id behind a valid bearer token or throws the 401 the vendor would send. */
  requireBearer(req) {
    const header = String(req.headers.authorization || "");
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      throw new HttpError(401, { error: "unauthorized", message: "missing bearer token" }, { "WWW-Authenticate": 'Bearer realm="api"' });
    }
    const entry = this.tokens.get(m[1]);
    if (!entry) {
      throw new HttpError(401, { error: "invalid_token", message: "access token is invalid" }, { "WWW-Authenticate": 'Bearer error="invalid_token"' });
    }
    if (entry.expiresAtMs <= this.sb.now()) {
      throw new HttpError(Number(this.sb.config.readings.expiredTokenStatus), { error: "invalid_token", message: "access token has expired" }, {
        "WWW-Authenticate": 'Bearer error="invalid_token", error_description="The access token expired"',
      });
    }
    return entry.clientId;
  }
}

export function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}
