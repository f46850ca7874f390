// The Query panel's "Saved queries" and "Share" boxes: save, load and delete queries in this
// browser, copy a share link, copy the request as curl. None of them ever holds a secret.

import { curlCommand } from "./curl.js";
import { copyText, h, isoDate, nextId, replace } from "./dom.js";
import { STORE_KEY, deleteSaved, listSaved, loadSaved, saveQuery, shareLink } from "./saved-queries.js";

let proxyUrlPromise = null;
/** The edge worker's URL when the page runs behind it (its /config.json says so), else "". */
function proxyUrl() {
  proxyUrlPromise ??= fetch(new URL("/config.json", location.href), { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : {}))
    .then((c) => (c && typeof c.proxyUrl === "string" ? c.proxyUrl : ""))
    .catch(() => "");
  return proxyUrlPromise;
}

/**
 * createQueryTools({ query, canonical, apply, baseUrl }) -> { element }.
 * `query()` is the query as built; `canonical()` the JSON body the client would send (throws
 * when the query is invalid); `apply(query, note)` shows a query in the form; `baseUrl()` the
 * Backstory base URL from the settings.
 */
export function createQueryTools({ query, canonical, apply, baseUrl }) {
  const nameId = nextId("qt");
  const listId = nextId("qt");
  const outId = nextId("qt");
  const nameInput = h("input", { id: nameId, type: "text", autocomplete: "off", maxlength: "80", placeholder: "e.g. Accounts to call this week", "data-testid": "saved-name" });
  const list = h("select", { id: listId, "data-testid": "saved-list" });
  const loadBtn = h("button", { type: "button", class: "btn", "data-testid": "saved-load", on: { click: onLoad } }, "Load");
  const deleteBtn = h("button", { type: "button", class: "btn btn-danger", "data-testid": "saved-delete", on: { click: onDelete } }, "Delete");
  const savedStatus = h("p", { class: "help tools-status", role: "status", "data-testid": "saved-status" });

  const outLabel = h("label", { for: outId });
  const out = h("textarea", { id: outId, class: "share-out", readonly: true, rows: "3", spellcheck: "false", "data-testid": "share-output" });
  const outStatus = h("p", { class: "help tools-status", role: "status", "data-testid": "share-status" });
  const outBox = h("div", { class: "field share-box", hidden: true }, outLabel, out, outStatus);

  function renderList(selected = list.value) {
    const saved = listSaved();
    replace(
      list,
      saved.length ? saved.map((e) => h("option", { value: e.name, selected: e.name === selected }, e.name)) : h("option", { value: "" }, "No saved queries yet"),
    );
    list.disabled = loadBtn.disabled = deleteBtn.disabled = !saved.length;
  }

  function onSave(e) {
    e?.preventDefault();
    const name = nameInput.value.trim();
    const r = saveQuery(name, query());
    savedStatus.classList.toggle("is-error", !r.ok);
    if (!r.ok) {
      savedStatus.textContent = r.message;
      nameInput.focus();
      return;
    }
    savedStatus.textContent = r.replaced ? `Replaced “${name}”.` : `Saved “${name}” in this browser.`;
    renderList(name);
  }
  function onLoad() {
    const q = loadSaved(list.value);
    savedStatus.classList.remove("is-error");
    if (!q) {
      savedStatus.textContent = "That query is no longer saved.";
      renderList();
      return;
    }
    if (apply(q, `Loaded “${list.value}”.`)) savedStatus.textContent = `Loaded “${list.value}”.`;
  }
  function onDelete() {
    const name = list.value;
    if (name && deleteSaved(name)) savedStatus.textContent = `Deleted “${name}”.`;
    renderList();
  }

  async function show(label, text) {
    outLabel.textContent = label;
    out.value = text;
    out.rows = Math.min(16, text.split("\n").length + 1);
    outBox.hidden = false;
    outStatus.textContent = "Copying…";
    const copied = await copyText(text);
    outStatus.textContent = copied ? "Copied to the clipboard." : "The browser did not let the page copy: the text is selected, copy it with Ctrl+C (⌘C).";
    if (!copied) {
      out.focus();
      out.select();
    }
  }
  async function onShareLink() {
    await show("Share link (the query only, never the credentials)", shareLink(query()));
  }
  async function onCurl() {
    let body;
    try {
      body = canonical();
    } catch (e) {
      outBox.hidden = false;
      outStatus.textContent = `Fix the query first: ${e.field ? `${e.field}: ` : ""}${e.message || e}`;
      return;
    }
    const proxy = await proxyUrl();
    const base = baseUrl() || "https://api.people.ai";
    const object = String(JSON.parse(body).object).replace(/[^a-z0-9_-]+/gi, "_");
    await show("curl command (reads the credentials from shell variables)", curlCommand({ baseUrl: base, proxyUrl: proxy, query: body, out: `exportkit-${object}-${isoDate()}.csv` }));
  }

  renderList();
  const element = h(
    "div",
    { class: "query-tools" },
    h(
      "form",
      { class: "tools-block", "aria-labelledby": `${nameId}-legend`, novalidate: true, on: { submit: onSave } },
      h("h3", { id: `${nameId}-legend` }, "Saved queries"),
      h("p", { class: "help" }, "Kept in this browser only, never with the credentials."),
      h("div", { class: "field" }, h("label", { for: nameId }, "Name"), h("div", { class: "tools-row" }, nameInput, h("button", { type: "submit", class: "btn", "data-testid": "saved-save" }, "Save"))),
      h("div", { class: "field" }, h("label", { for: listId }, "Saved"), h("div", { class: "tools-row" }, list, loadBtn, deleteBtn)),
      savedStatus,
    ),
    h(
      "div",
      { class: "tools-block", role: "group", "aria-labelledby": `${outId}-legend` },
      h("h3", { id: `${outId}-legend` }, "Share"),
      h("p", { class: "help" }, "A link opens this page with the query filled in; curl repeats the exact request. Neither holds a secret."),
      h(
        "div",
        { class: "tools-row" },
        h("button", { type: "button", class: "btn", "data-testid": "copy-share-link", on: { click: onShareLink } }, "Copy share link"),
        h("button", { type: "button", class: "btn", "data-testid": "copy-curl", on: { click: onCurl } }, "Copy as curl"),
      ),
      outBox,
    ),
  );
  window.addEventListener("storage", (e) => {
    if (e.key === null || e.key === STORE_KEY) renderList();
  });
  return { element };
}
