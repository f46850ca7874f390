// The preview table: the first rows of a result, every cell set as text.

import { formatInt, h } from "./dom.js";

const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * A table of the first `limit` rows. `header` is the CSV header, `rows` arrays of strings.
 * Returns a wrapper element (scrolls on its own, so the page does not on a phone).
 */
export function previewTable({ header, rows, totalRows, limit = 100, testid = "preview-table" }) {
  const shown = rows.slice(0, limit);
  const total = Number.isFinite(totalRows) ? totalRows : rows.length;
  const caption =
    total > shown.length
      ? `First ${formatInt(shown.length)} of ${formatInt(total)} rows`
      : `${formatInt(total)} row${total === 1 ? "" : "s"}`;

  const thead = h(
    "thead",
    {},
    h("tr", {}, h("th", { scope: "col", class: "rownum" }, h("span", { class: "visually-hidden" }, "Row"), "#"), header.map((name) => h("th", { scope: "col" }, name))),
  );
  const tbody = h("tbody");
  shown.forEach((row, i) => {
    const tr = h("tr", {}, h("th", { scope: "row", class: "rownum" }, String(i + 1)));
    for (let c = 0; c < header.length; c += 1) {
      const v = row[c] ?? "";
      // title: the whole value on hover when a long cell is cut short.
      tr.append(h("td", { class: NUMERIC.test(v) ? "num" : null, title: v.length > 40 ? v : null }, v));
    }
    tbody.append(tr);
  });

  const table = h("table", { class: "preview", "data-testid": testid }, h("caption", {}, caption), thead, tbody);
  // tabindex so that keyboard users can scroll a wide table.
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `Preview: ${caption}` }, table);
}
