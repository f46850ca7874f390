// The download bar under a preview: CSV (CSV-injection guard on unless "keep raw values" is
// ticked), JSON Lines, optionally only the rows the preview shows. Shared by the panels.

import { csvParts, jsonlParts } from "./csv-guard.js";
import { h, isoDate, nextId, saveFile } from "./dom.js";

/**
 * downloadBar({ header, rows, rawCsv?, name, view?, testid? }) -> element.
 * `rows` is string[][] (not copied); `rawCsv`, when given, is the file as received, downloaded
 * as it is when the guard is off; `view()` returns the row indexes the preview shows, in order,
 * or null for all of them; `name` is the file name's middle part (exportkit-NAME-DATE.csv).
 */
export function downloadBar({ header, rows, rawCsv = null, name, view = null, testid = "download" }) {
  const safe = String(name).replace(/[^a-z0-9_-]+/gi, "_");
  const fileName = (ext) => `exportkit-${safe}-${isoDate()}.${ext}`;
  const rawId = nextId("dl");
  const viewId = nextId("dl");
  const helpId = nextId("dl");
  const keepRaw = h("input", { type: "checkbox", id: rawId, "aria-describedby": helpId, "data-testid": `${testid}-keep-raw` });
  const viewOnly = view ? h("input", { type: "checkbox", id: viewId, "data-testid": `${testid}-view-only` }) : null;
  const order = () => (viewOnly && viewOnly.checked ? view() : null);

  function csv() {
    const o = order();
    if (keepRaw.checked && !o && rawCsv !== null) return saveFile([rawCsv], fileName("csv"), "text/csv;charset=utf-8");
    saveFile(csvParts({ header, rows, order: o, guard: !keepRaw.checked }), fileName("csv"), "text/csv;charset=utf-8");
  }
  function jsonl() {
    saveFile(jsonlParts({ header, rows, order: order() }), fileName("jsonl"), "application/x-ndjson;charset=utf-8");
  }

  return h(
    "div",
    { class: "downloads", role: "group", "aria-label": "Downloads" },
    h(
      "div",
      { class: "downloads-buttons" },
      h("button", { type: "button", class: "btn btn-primary", "data-testid": `${testid}-csv`, on: { click: csv } }, "Download CSV"),
      h("button", { type: "button", class: "btn", "data-testid": `${testid}-jsonl`, on: { click: jsonl } }, "Download JSON Lines"),
    ),
    h(
      "div",
      { class: "downloads-options" },
      h("span", { class: "check" }, keepRaw, h("label", { for: rawId }, "Keep raw values")),
      viewOnly ? h("span", { class: "check" }, viewOnly, h("label", { for: viewId }, "Only the rows shown (filters and sort)")) : null,
    ),
    h(
      "p",
      { class: "help", id: helpId },
      "The CSV guards against formula injection: a cell starting with = + - @, a tab or a carriage return gets a leading ' so that a spreadsheet shows it as text instead of running it. ",
      rawCsv !== null ? "“Keep raw values” gives the file exactly as received." : "“Keep raw values” leaves the cells as they are.",
    ),
  );
}
