// The settings section: where the APIs are and the credentials to call them with.
// Defaults: GET /config.json on the page's own origin (the demo server supplies the sandbox's
// values), then what this device remembers (only if the user ticked "remember"), then ?baseUrl=.
// Secrets stay in memory unless "remember on this device" is ticked.
// Credentials belong to the base URL they came with (issue 16 item 3): a link whose ?baseUrl=
// (or ?userpilotBaseUrl=) names another API opens with no secret filled in and says why, so a
// link from someone else cannot send this browser's remembered secret to a host of their choice.

import { h, nextId, replace } from "./dom.js";

const STORAGE_KEY = "exportkit.settings.v1";
const FIELDS = ["baseUrl", "clientId", "clientSecret"];
// Userpilot's settings live beside Backstory's, under the same remember-or-memory rule.
const UP_FIELDS = ["userpilotBaseUrl", "userpilotApiKey"];
const UP_DEFAULT_BASE_URL = "https://appex.userpilot.io";

async function fetchConfig() {
  try {
    const res = await fetch(new URL("/config.json", location.href), { cache: "no-store" });
    if (!res.ok) return {};
    const cfg = await res.json();
    return cfg && typeof cfg === "object" ? cfg : {};
  } catch {
    return {};
  }
}

function readRemembered() {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw);
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}

/** Is this a usable http(s) base URL? Returns an error message or "". */
export function baseUrlProblem(value) {
  if (!value) return "Enter the API's base URL, e.g. https://api.people.ai";
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") return "The base URL must start with http:// or https://";
    if (u.username || u.password) return "Do not put credentials in the URL";
    return "";
  } catch {
    return "This is not a valid URL";
  }
}

/** A base URL as compared for the credentials rule: origin and path, no trailing slash. */
export function sameBaseUrl(a, b) {
  const norm = (v) => {
    const t = String(v ?? "").trim();
    try {
      const u = new URL(t);
      return (u.origin + u.pathname).replace(/\/+$/, "");
    } catch {
      return t.replace(/\/+$/, "");
    }
  };
  return norm(a) === norm(b);
}

/**
 * Applies a link's base URL for one vendor: the secrets that came with another base URL (from
 * this device or /config.json) are not filled in. Returns the host whose credentials were held
 * back, or "".
 */
export function applyLinkBaseUrl(values, baseField, secretFields, linked) {
  if (!linked || sameBaseUrl(linked, values[baseField])) return "";
  const had = secretFields.some((f) => values[f]);
  const from = values[baseField];
  values[baseField] = linked;
  if (!had) return "";
  for (const f of secretFields) values[f] = "";
  try {
    return new URL(from).host || from;
  } catch {
    return from || "another address";
  }
}

export async function createSettings({ lib }) {
  const config = await fetchConfig();
  const remembered = readRemembered();
  const params = new URLSearchParams(location.search);
  const values = { baseUrl: "", clientId: "", clientSecret: "", userpilotBaseUrl: UP_DEFAULT_BASE_URL, userpilotApiKey: "", remember: false };
  for (const f of [...FIELDS, ...UP_FIELDS]) if (typeof config[f] === "string") values[f] = config[f];
  if (remembered) {
    for (const f of [...FIELDS, ...UP_FIELDS]) if (typeof remembered[f] === "string") values[f] = remembered[f];
    values.remember = true;
  }
  const heldBack = [];
  const bsFrom = applyLinkBaseUrl(values, "baseUrl", ["clientId", "clientSecret"], params.get("baseUrl"));
  if (bsFrom) heldBack.push({ vendor: "Backstory", from: bsFrom, to: values.baseUrl });
  const upFrom = applyLinkBaseUrl(values, "userpilotBaseUrl", ["userpilotApiKey"], params.get("userpilotBaseUrl"));
  if (upFrom) heldBack.push({ vendor: "Userpilot", from: upFrom, to: values.userpilotBaseUrl });
  // What this device remembers stays as it is (for its own base URL) until the user ticks
  // "remember" again with the new values: a link never erases or overwrites it.
  let storageHeld = heldBack.length > 0 && values.remember;
  if (storageHeld) values.remember = false;
  values.baseUrl = values.baseUrl.replace(/\/+$/, "");
  values.userpilotBaseUrl = values.userpilotBaseUrl.replace(/\/+$/, "");
  // Behind the edge worker (its /config.json names the proxy) the page holds no credentials at all.
  const proxy = typeof config.proxyUrl === "string" ? config.proxyUrl : "";
  const upProxy = typeof config.userpilotProxyUrl === "string" ? config.userpilotProxyUrl : "";

  const listeners = new Set();
  let client = null;
  let clientKey = "";
  let upClient = null;
  let upClientKey = "";

  const persist = () => {
    if (storageHeld && !values.remember) return;
    storageHeld = false;
    try {
      if (values.remember) {
        localStorage.setItem(
          STORAGE_KEY,
          JSON.stringify({
            baseUrl: values.baseUrl,
            clientId: values.clientId,
            clientSecret: values.clientSecret,
            userpilotBaseUrl: values.userpilotBaseUrl,
            userpilotApiKey: values.userpilotApiKey,
          }),
        );
      } else {
        localStorage.removeItem(STORAGE_KEY);
      }
    } catch {
      /* storage may be disabled: then nothing is remembered */
    }
  };

  // ------------------------------------------------------------ the form
  const ids = {
    baseUrl: nextId("set"),
    clientId: nextId("set"),
    clientSecret: nextId("set"),
    userpilotBaseUrl: nextId("set"),
    userpilotApiKey: nextId("set"),
    remember: nextId("set"),
  };
  const summaryText = h("span", { class: "settings-summary", "data-testid": "settings-summary" });
  const baseUrlError = h("p", { class: "field-error", id: `${ids.baseUrl}-err`, role: "alert", hidden: true });
  const upBaseUrlError = h("p", { class: "field-error", id: `${ids.userpilotBaseUrl}-err`, role: "alert", hidden: true });

  const input = (field, attrs) =>
    h("input", {
      id: ids[field],
      name: field,
      value: values[field],
      autocomplete: "off",
      spellcheck: "false",
      "data-testid": `settings-${field}`,
      on: { input: (e) => update(field, e.target.value) },
      ...attrs,
    });

  const baseUrlInput = input("baseUrl", { type: "url", inputmode: "url", "aria-describedby": `${ids.baseUrl}-help ${ids.baseUrl}-err` });
  const secretInput = input("clientSecret", { type: "password", autocomplete: "new-password" });
  const showSecret = h(
    "button",
    {
      type: "button",
      class: "btn btn-small",
      "aria-pressed": "false",
      "aria-controls": ids.clientSecret,
      "data-testid": "settings-show-secret",
      on: {
        click: () => {
          const show = secretInput.type === "password";
          secretInput.type = show ? "text" : "password";
          showSecret.setAttribute("aria-pressed", String(show));
          showSecret.textContent = show ? "Hide" : "Show";
        },
      },
    },
    "Show",
  );
  const upBaseUrlInput = input("userpilotBaseUrl", {
    type: "url",
    inputmode: "url",
    "aria-describedby": `${ids.userpilotBaseUrl}-help ${ids.userpilotBaseUrl}-err`,
  });
  const upKeyInput = input("userpilotApiKey", { type: "password", autocomplete: "new-password" });
  const showUpKey = h(
    "button",
    {
      type: "button",
      class: "btn btn-small",
      "aria-pressed": "false",
      "aria-controls": ids.userpilotApiKey,
      "data-testid": "settings-show-userpilot-key",
      on: {
        click: () => {
          const show = upKeyInput.type === "password";
          upKeyInput.type = show ? "text" : "password";
          showUpKey.setAttribute("aria-pressed", String(show));
          showUpKey.textContent = show ? "Hide" : "Show";
        },
      },
    },
    "Show",
  );
  const rememberBox = h("input", {
    type: "checkbox",
    id: ids.remember,
    checked: values.remember,
    "aria-describedby": `${ids.remember}-help`,
    "data-testid": "settings-remember",
    on: { change: (e) => update("remember", e.target.checked) },
  });

  const hostOf = (u) => {
    try {
      return new URL(u).host || u;
    } catch {
      return u;
    }
  };
  const linkNotice = h(
    "div",
    { class: "warn-box", role: "status", "data-testid": "settings-link-notice", hidden: heldBack.length === 0 },
    ...heldBack.map(({ vendor, from, to }) =>
      h(
        "p",
        {},
        `This link points ${vendor} at ${hostOf(to)}. The ${vendor} credentials known to this page belong to ${from}, so they were not filled in: ` +
          `a link must not send them to another host. Enter credentials for ${hostOf(to)} if you trust it, or open the page without the link's base URL to use ${from}.`,
      ),
    ),
  );

  const details = h(
    "details",
    { class: "settings", id: "settings", open: heldBack.length > 0 || !(values.baseUrl && values.clientId && values.clientSecret) },
    h("summary", {}, h("span", { class: "settings-title" }, "Settings"), " ", summaryText),
    linkNotice,
    h(
      "form",
      { class: "settings-form", autocomplete: "off", on: { submit: (e) => e.preventDefault() } },
      h(
        "fieldset",
        {},
        h("legend", {}, "Backstory"),
        h(
          "div",
          { class: "field field-wide" },
          h("label", { for: ids.baseUrl }, "Base URL"),
          baseUrlInput,
          h("p", { class: "help", id: `${ids.baseUrl}-help` }, "The vendor's API (https://api.people.ai), a local sandbox, or your own proxy."),
          baseUrlError,
        ),
        h("div", { class: "field" }, h("label", { for: ids.clientId }, "Client id (API key)"), input("clientId", { type: "text" })),
        h(
          "div",
          { class: "field" },
          h("label", { for: ids.clientSecret }, "Client secret (API secret)"),
          h("div", { class: "input-with-button" }, secretInput, showSecret),
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Userpilot"),
        h(
          "div",
          { class: "field field-wide" },
          h("label", { for: ids.userpilotBaseUrl }, "Base URL"),
          upBaseUrlInput,
          h("p", { class: "help", id: `${ids.userpilotBaseUrl}-help` }, "Userpilot's API (https://appex.userpilot.io), a local sandbox, or your own proxy."),
          upBaseUrlError,
        ),
        h(
          "div",
          { class: "field" },
          h("label", { for: ids.userpilotApiKey }, "API key"),
          h("div", { class: "input-with-button" }, upKeyInput, showUpKey),
        ),
      ),
      h(
        "div",
        { class: "remember" },
        rememberBox,
        h("label", { for: ids.remember }, "Remember on this device"),
        h(
          "p",
          { class: "help", id: `${ids.remember}-help` },
          "Unticked (the default), the client id, secret and Userpilot key live only in this tab's memory and are gone when you reload or close it. " +
            "Ticked, they are saved unencrypted in this browser's local storage for this site: anyone using this browser profile, " +
            "and any script running on this site, can read them. Untick to erase them from this device.",
        ),
      ),
    ),
  );

  function renderSummary() {
    const problem = baseUrlProblem(values.baseUrl);
    baseUrlError.hidden = !problem || !values.baseUrl;
    baseUrlError.textContent = problem;
    baseUrlInput.setAttribute("aria-invalid", String(Boolean(problem && values.baseUrl)));
    let host = "no base URL";
    if (!problem) host = new URL(values.baseUrl).host;
    const creds = values.clientId && values.clientSecret ? "credentials set" : "credentials missing";
    const where = values.remember ? "remembered on this device" : "in memory only";
    const upProblem = baseUrlProblem(values.userpilotBaseUrl);
    upBaseUrlError.hidden = !upProblem || !values.userpilotBaseUrl;
    upBaseUrlError.textContent = upProblem;
    upBaseUrlInput.setAttribute("aria-invalid", String(Boolean(upProblem && values.userpilotBaseUrl)));
    const upHost = upProblem ? "no base URL" : new URL(values.userpilotBaseUrl).host;
    const upKey = values.userpilotApiKey ? "key set" : "key missing";
    replace(summaryText, `— Backstory: ${host} · ${creds} · Userpilot: ${upHost} · ${upKey} (${where})`);
    if (proxy || upProxy) {
      const bs = proxy ? "Backstory: via this site's edge worker" : `Backstory: ${host} · ${creds}`;
      const up = upProxy ? "Userpilot: via this site's edge worker" : `Userpilot: ${upHost} · ${upKey}`;
      replace(summaryText, `— ${bs} · ${up}`);
    }
  }

  function update(field, value) {
    values[field] = field === "baseUrl" || field === "userpilotBaseUrl" ? String(value).trim().replace(/\/+$/, "") : value;
    persist();
    renderSummary();
    for (const fn of listeners) fn(field);
  }

  renderSummary();
  if (values.remember) persist();

  /** Hides a vendor's inputs: the edge worker holds its credentials. */
  function behindProxy(inputEl, name) {
    const fieldset = inputEl.closest("fieldset");
    // `.field` sets its own display, which would outrank the `hidden` attribute alone.
    for (const el of fieldset.querySelectorAll(".field")) {
      el.hidden = true;
      el.style.display = "none";
    }
    fieldset.append(
      h("p", { class: "help", "data-testid": `settings-proxy-${name.toLowerCase()}` }, `${name} calls go through this site's edge worker, which holds the credentials: nothing to enter here.`),
    );
  }
  if (proxy) behindProxy(baseUrlInput, "Backstory");
  if (upProxy) behindProxy(upBaseUrlInput, "Userpilot");
  if (proxy && upProxy) {
    // Nothing left to remember.
    const remember = rememberBox.closest(".remember");
    remember.hidden = true;
    remember.style.display = "none";
  }
  if (proxy) details.open = false;

  // Absolute, for text shown to people (a curl command); the clients take the path as it is.
  const absolute = (u) => (u ? new URL(u, location.href).href.replace(/\/+$/, "") : "");
  const proxyUrls = Object.freeze({ backstory: absolute(proxy), userpilot: absolute(upProxy) });

  return {
    element: details,
    get values() {
      return { ...values };
    },
    /** The edge worker's URLs from /config.json ("" for a vendor the page calls directly). */
    get proxy() {
      return proxyUrls;
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** Open the settings and focus the first missing field. */
    reveal() {
      details.open = true;
      const missing = FIELDS.find((f) => !values[f] || (f === "baseUrl" && baseUrlProblem(values[f])));
      document.getElementById(ids[missing || "baseUrl"]).focus();
    },
    /** What is missing before a call can be made ("" when nothing is). */
    problem() {
      if (proxy) return "";
      const p = baseUrlProblem(values.baseUrl);
      if (p) return p;
      if (!values.clientId) return "Enter the client id in Settings.";
      if (!values.clientSecret) return "Enter the client secret in Settings.";
      return "";
    },
    /** What is missing before a Userpilot call can be made ("" when nothing is). */
    userpilotProblem() {
      if (upProxy) return "";
      const p = baseUrlProblem(values.userpilotBaseUrl);
      if (p) return `Userpilot: ${p}`;
      if (!values.userpilotApiKey) return "Enter the Userpilot API key in Settings.";
      return "";
    },
    /** Open the settings at the first missing Userpilot field. */
    revealUserpilot() {
      details.open = true;
      const missing = baseUrlProblem(values.userpilotBaseUrl) ? "userpilotBaseUrl" : "userpilotApiKey";
      document.getElementById(ids[missing]).focus();
    },
    /** The Userpilot client for the current settings (one per distinct settings). */
    userpilot() {
      if (upProxy) {
        if (!upClient || upClientKey !== upProxy) {
          upClient = new lib.UserpilotClient({ proxyUrl: upProxy });
          upClientKey = upProxy;
        }
        return upClient;
      }
      const p = this.userpilotProblem();
      if (p) throw Object.assign(new Error(p), { code: "E_SETTINGS" });
      const key = JSON.stringify([values.userpilotBaseUrl, values.userpilotApiKey]);
      if (!upClient || key !== upClientKey) {
        upClient = new lib.UserpilotClient({ baseUrl: values.userpilotBaseUrl, apiKey: values.userpilotApiKey });
        upClientKey = key;
      }
      return upClient;
    },
    /**
     * The Backstory client for the current settings. One instance per distinct settings, so that
     * its result cache survives between runs. Throws if the settings are incomplete.
     */
    backstory() {
      if (proxy) {
        if (!client || clientKey !== proxy) {
          client = new lib.BackstoryClient({ proxyUrl: proxy, quotaStore: lib.localStorageStore(), cacheTtlMs: 10 * 60 * 1000 });
          clientKey = proxy;
        }
        return client;
      }
      const p = this.problem();
      if (p) throw Object.assign(new Error(p), { code: "E_SETTINGS" });
      const key = JSON.stringify([values.baseUrl, values.clientId, values.clientSecret]);
      if (!client || key !== clientKey) {
        // The old client is not freed here: a run may still be using it.
        client = new lib.BackstoryClient({
          baseUrl: values.baseUrl,
          clientId: values.clientId,
          clientSecret: values.clientSecret,
          quotaStore: lib.localStorageStore(),
          cacheTtlMs: 10 * 60 * 1000,
        });
        clientKey = key;
      }
      return client;
    },
  };
}
