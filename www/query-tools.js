// The Query panel's "Saved queries" and "Share" boxes: save, load and delete queries in this
// browser, copy a share link, copy the request as curl. None of them ever holds a secret.

import { copyBox } from "./copy-box.js";
import { curlCommand } from "./curl.js";
import { h, isoDate, nextId, replace } from "./dom.js";
import { STORE_KEY, deleteSaved, listSaved, loadSaved, saveQuery, shareLink } from "./saved-queries.js";

/**
 * createQueryTools({ query, canonical, apply, baseUrl, proxyUrl }) -> { element }.
 * `query()` is the query as built; `canonical()` the JSON body the client would send (throws
 * when the query is invalid); `apply(query, note)` shows a query in the form; `baseUrl()` the
 * Backstory base URL from the settings; `proxyUrl()` the edge worker's, or "" without one.
 */
export function createQueryTools({ query, canonical, apply, baseUrl, proxyUrl }) {
  const nameId = nextId("qt");
  const listId = nextId("qt");
  const shareId = nextId("qt");
  const nameInput = h("input", { id: nameId, type: "text", autocomplete: "off", maxlength: "80", placeholder: "e.g. Accounts to call this week", "data-testid": "saved-name" });
  const list = h("select", { id: listId, "data-testid": "saved-list" });
  const loadBtn = h("button", { type: "button", class: "btn", "data-testid": "saved-load", on: { click: onLoad } }, "Load");
  const deleteBtn = h("button", { type: "button", class: "btn btn-danger", "data-testid": "saved-delete", on: { click: onDelete } }, "Delete");
  const savedStatus = h("p", { class: "help tools-status", role: "status", "data-testid": "saved-status" });

  const out = copyBox({ testid: "share" });

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

  async function onShareLink() {
    await out.show("Share link (the query only, never the credentials)", shareLink(query()));
  }
  async function onCurl() {
    let body;
    try {
      body = canonical();
    } catch (e) {
      out.note(`Fix the query first: ${e.field ? `${e.field}: ` : ""}${e.message || e}`);
      return;
    }
    const proxy = proxyUrl();
    const base = baseUrl() || "https://api.people.ai";
    const object = String(JSON.parse(body).object).replace(/[^a-z0-9_-]+/gi, "_");
    await out.show("curl command (reads the credentials from shell variables)", curlCommand({ baseUrl: base, proxyUrl: proxy, query: body, out: `exportkit-${object}-${isoDate()}.csv` }));
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
      { class: "tools-block", role: "group", "aria-labelledby": `${shareId}-legend` },
      h("h3", { id: `${shareId}-legend` }, "Share"),
      h("p", { class: "help" }, "A link opens this page with the query filled in; curl repeats the exact request. Neither holds a secret."),
      h(
        "div",
        { class: "tools-row" },
        h("button", { type: "button", class: "btn", "data-testid": "copy-share-link", on: { click: onShareLink } }, "Copy share link"),
        h("button", { type: "button", class: "btn", "data-testid": "copy-curl", on: { click: onCurl } }, "Copy as curl"),
      ),
      out.element,
    ),
  );
  window.addEventListener("storage", (e) => {
    if (e.key === null || e.key === STORE_KEY) renderList();
  });
  return { element };
}
