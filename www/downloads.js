// The download bar under a preview, the same in every panel: CSV (CSV-injection guard on unless
// "keep raw values" is ticked), JSON Lines, optionally only the rows the preview shows, and the
// request as a curl command without secrets.

import { copyBox } from "./copy-box.js";
import { csvParts, jsonlParts } from "./csv-guard.js";
import { h, isoDate, nextId, saveFile } from "./dom.js";

/**
 * downloadBar({ header, rows, rawCsv?, records?, curl?, name, view?, testid? }) -> element.
 * `rows` is string[][] (not copied). `rawCsv`, when given (a string or Blob parts), is the CSV as
 * received, downloaded as it is when the guard is off. `records()`, when given, returns the JSON
 * Lines of the records as the API sent them (Blob parts), downloaded instead of one object per
 * table row unless only the rows shown are asked for. `curl()` returns the shell command of the
 * run's request (shown with a "Copy as curl" button; it may throw to say why there is none).
 * `view()` returns the row indexes the preview shows, in order, or null for all of them; `name`
 * is the file name's middle part (exportkit-NAME-DATE.csv).
 */
export function downloadBar({ header, rows, rawCsv = null, records = null, curl = null, name, view = null, testid = "download" }) {
  const safe = String(name).replace(/[^a-z0-9_-]+/gi, "_");
  const fileName = (ext) => `exportkit-${safe}-${isoDate()}.${ext}`;
  const rawId = nextId("dl");
  const viewId = nextId("dl");
  const helpId = nextId("dl");
  const keepRaw = h("input", { type: "checkbox", id: rawId, "aria-describedby": helpId, "data-testid": `${testid}-keep-raw` });
  const viewOnly = view ? h("input", { type: "checkbox", id: viewId, "aria-describedby": helpId, "data-testid": `${testid}-view-only` }) : null;
  const order = () => (viewOnly && viewOnly.checked ? view() : null);
  const curlBox = curl ? copyBox({ testid: `${testid}-curl` }) : null;

  function csv() {
    const o = order();
    if (keepRaw.checked && !o && rawCsv !== null) return saveFile(typeof rawCsv === "string" ? [rawCsv] : rawCsv, fileName("csv"), "text/csv;charset=utf-8");
    saveFile(csvParts({ header, rows, order: o, guard: !keepRaw.checked }), fileName("csv"), "text/csv;charset=utf-8");
  }
  function jsonl() {
    const o = order();
    const parts = records && !o ? records() : jsonlParts({ header, rows, order: o });
    saveFile(parts, fileName("jsonl"), "application/x-ndjson;charset=utf-8");
  }
  async function copyCurl() {
    let text;
    try {
      text = await curl();
    } catch (e) {
      curlBox.note(e && e.message ? e.message : String(e));
      return;
    }
    await curlBox.show("curl command (reads the credentials from shell variables)", text);
  }

  return h(
    "div",
    { class: "downloads", role: "group", "aria-label": "Downloads" },
    h(
      "div",
      { class: "downloads-buttons" },
      h("button", { type: "button", class: "btn btn-primary", "data-testid": `${testid}-csv`, on: { click: csv } }, "Download CSV"),
      h("button", { type: "button", class: "btn", "data-testid": `${testid}-jsonl`, on: { click: jsonl } }, "Download JSON Lines"),
      curl ? h("button", { type: "button", class: "btn", "data-testid": `${testid}-curl`, on: { click: copyCurl } }, "Copy as curl") : null,
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
      "“Keep raw values” writes every cell as it came. ",
      records ? "JSON Lines: the records as the API sent them (with “Only the rows shown”: one object per table row)." : "JSON Lines: one object per table row.",
      curl ? " The curl command repeats the request that started this run; the credentials stay in shell variables." : "",
    ),
    curlBox ? curlBox.element : null,
  );
}
