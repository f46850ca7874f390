// A result as every panel shows it: the download bar, the charts (which follow the table's sort
// and filters), and the virtualised table of every row.

import { downloadBar } from "./downloads.js";
import { h } from "./dom.js";
import { virtualTable } from "./table.js";

/**
 * resultPreview({ header, rows, label, testid, download, charts }) -> { element, table, destroy() }.
 * `download`: downloadBar's options other than header, rows and view (name, rawCsv, records,
 * curl, testid). `charts`: functions of the table's `view` returning { element, update() }.
 */
export function resultPreview({ header, rows, label = "Preview", testid = "preview-table", download, charts = [] }) {
  const made = [];
  const table = virtualTable({ header, rows, label, testid, onViewChange: () => made.forEach((c) => c.update()) });
  for (const make of charts) made.push(make(table.view));
  const bar = downloadBar({ ...download, header, rows, view: table.view });
  const element = h("div", { class: "result-preview" }, bar, made.map((c) => c.element), table.element);
  return { element, table, destroy: table.destroy };
}
