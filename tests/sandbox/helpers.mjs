// Shared helpers for the sandbox self-tests.
import { SANDBOX_CREDENTIALS } from "../../sandbox/server.mjs";

export const { clientId, clientSecret } = SANDBOX_CREDENTIALS.backstory;
export const UP_KEY = SANDBOX_CREDENTIALS.userpilot.apiKey;

export async function bearer(sb) {
  const r = await fetch(`${sb.url}/v3/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }).toString(),
  });
  if (r.status !== 200) throw new Error(`token ${r.status}`);
  return (await r.json()).access_token;
}

export function control(sb, path, body) {
  return fetch(`${sb.url}/__sandbox/${path}`, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, { timeoutMs = 20000, everyMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await sleep(everyMs);
  }
}
