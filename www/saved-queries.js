// Saved queries (this browser's localStorage) and share links (the query in the URL's hash).
// Both carry the query JSON only: never a base URL, a credential or a token.

export const STORE_KEY = "exportkit.savedQueries.v1";
const MAX_SAVED = 100;
const MAX_NAME = 80;
const MAX_LINK_CHARS = 64 * 1024;
export const SHARE_PREFIX = "#query=";

function readAll() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(v) ? v.filter((e) => e && typeof e.name === "string" && e.query && typeof e.query === "object") : [];
  } catch {
    return [];
  }
}

function writeAll(list) {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(list));
    return true;
  } catch {
    return false; // storage full or disabled
  }
}

/** Saved queries, newest first: [{ name, query, savedAt }]. */
export function listSaved() {
  return readAll().sort((a, b) => String(b.savedAt).localeCompare(String(a.savedAt)));
}

/**
 * Saves (or replaces) `query` under `name`. Returns { ok, replaced, message }: message says
 * why not when ok is false.
 */
export function saveQuery(name, query) {
  const n = String(name || "").trim();
  if (!n) return { ok: false, message: "Give the query a name first." };
  if (n.length > MAX_NAME) return { ok: false, message: `Names are at most ${MAX_NAME} characters.` };
  const list = readAll();
  const replaced = list.some((e) => e.name === n);
  const rest = list.filter((e) => e.name !== n);
  if (rest.length >= MAX_SAVED) return { ok: false, message: `At most ${MAX_SAVED} saved queries: delete one first.` };
  rest.push({ name: n, query, savedAt: new Date().toISOString() });
  if (!writeAll(rest)) return { ok: false, message: "This browser does not let the page store anything." };
  return { ok: true, replaced };
}

export function loadSaved(name) {
  return readAll().find((e) => e.name === name)?.query ?? null;
}

export function deleteSaved(name) {
  const list = readAll();
  const rest = list.filter((e) => e.name !== name);
  return rest.length !== list.length && writeAll(rest);
}

// ---------------------------------------------------------------- share links

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 1) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(b64) {
  const bin = atob(b64.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/** This page's address with the query in its hash (and nothing from the page's own query string). */
export function shareLink(query, page = location) {
  return `${page.origin}${page.pathname}${SHARE_PREFIX}${toBase64Url(JSON.stringify(query))}`;
}

/**
 * The query a hash carries: { query } for "#query=<base64url JSON>", { error } when it cannot
 * be read, null when the hash carries none.
 */
export function queryFromHash(hash) {
  if (!hash.startsWith(SHARE_PREFIX)) return null;
  const payload = hash.slice(SHARE_PREFIX.length);
  if (payload.length > MAX_LINK_CHARS) return { error: "the link is too long" };
  if (!/^[A-Za-z0-9_-]+$/.test(payload)) return { error: "the link is cut short or changed" };
  try {
    const query = JSON.parse(fromBase64Url(payload));
    if (!query || typeof query !== "object" || Array.isArray(query)) return { error: "the link does not hold a query" };
    return { query };
  } catch {
    return { error: "the link is cut short or changed" };
  }
}
