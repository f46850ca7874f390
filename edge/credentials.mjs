// The vendors' credentials as the worker uses them. Backstory: the core's own token exchange and
// cache (one `BackstoryCore` per isolate, its token kept in wasm memory until a tenth of its
// `expires_in` before expiry). The token is never written to KV or anywhere else: a fresh isolate
// exchanges again, which costs one small request and no Query API call.
// Userpilot: the key as a fixed header.

import { wasm } from "../js/runtime.js";

let backstory = null;

export class CredentialsMissing extends Error {
  constructor(variables) {
    super(`${variables} not set on the worker`);
    this.name = "CredentialsMissing";
  }
}

function backstoryCore(cfg) {
  const { backstoryClientId: id, backstoryClientSecret: secret } = cfg.secrets;
  if (id === null || secret === null) throw new CredentialsMissing("BACKSTORY_CLIENT_ID / BACKSTORY_CLIENT_SECRET are");
  if (!backstory || backstory.base !== cfg.backstoryBase || backstory.id !== id || backstory.secret !== secret) {
    backstory = { base: cfg.backstoryBase, id, secret, core: new wasm.BackstoryCore(cfg.backstoryBase, id, secret) };
  }
  return backstory.core;
}

/** `Authorization` for a Backstory call; `refresh` after the vendor refused the cached token. */
export async function backstoryAuthorization(cfg, { refresh = false, signal } = {}) {
  const { token } = await backstoryCore(cfg).accessToken({ refresh, signal });
  return `Bearer ${token}`;
}

export function userpilotAuthorization(cfg) {
  if (cfg.secrets.userpilotApiKey === null) throw new CredentialsMissing("USERPILOT_API_KEY is");
  return `Token ${cfg.secrets.userpilotApiKey}`;
}
