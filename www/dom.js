// Tiny DOM helpers. Everything that may come from data or from the user goes into the page as
// text (text nodes, textContent, attribute values), never as HTML: there is no innerHTML here.

const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "open", "indeterminate"]);

/**
 * h("button", { class: "x", "data-testid": "run", on: { click } }, "Run")
 * Children: strings/numbers become text nodes, null/false are skipped, arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, val] of Object.entries(attrs || {})) {
    if (val === undefined || val === null || val === false) continue;
    if (key === "on") {
      for (const [type, fn] of Object.entries(val)) el.addEventListener(type, fn);
    } else if (key === "class") {
      el.className = Array.isArray(val) ? val.filter(Boolean).join(" ") : val;
    } else if (PROPS.has(key)) {
      el[key] = val;
    } else {
      el.setAttribute(key, val === true ? "" : String(val));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace all children of el with the given children (as text or nodes). */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Build a <select> from [value, label] pairs (or plain strings). */
export function select(attrs, options, current) {
  const el = h("select", attrs);
  for (const o of options) {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    el.append(h("option", { value, selected: value === current }, label));
  }
  return el;
}

let uid = 0;
/** A page-unique id for label/control pairs. */
export function nextId(prefix = "ek") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** Human readable byte count. */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "0 B";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatInt(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/** Local calendar date as yyyy-mm-dd (the user's day, as in a file name). */
export function isoDate(d = new Date()) {
  const p = (x) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** 75918000 -> "21 h 5 min"; 42000 -> "42 s". */
export function formatDuration(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  return m % 60 ? `${hrs} h ${m % 60} min` : `${hrs} h`;
}

/** Offers `parts` (strings or Blobs) as a download named `name`; the object URL is freed after. */
export function saveFile(parts, name, type) {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started by the next task; a minute leaves slow machines room.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Puts `text` on the clipboard. Resolves true when it did; false when the browser refused (no
 * permission, not a secure context), so the caller can show the text to copy by hand.
 */
export async function copyText(text) {
  try {
    if (!navigator.clipboard?.writeText) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * An icon button's content: the symbol for the eye, the words for a screen reader. Words in the
 * content rather than an aria-label, so that the accessible name contains what is visible.
 */
export function icon(symbol, words) {
  return [h("span", { "aria-hidden": "true" }, symbol), h("span", { class: "visually-hidden" }, words)];
}
