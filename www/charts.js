// "Chart a column": a bar chart of one column of a preview, for when a glance beats reading.
// Text: the most frequent values. Numbers: a histogram. ISO dates: rows per month. Counted over
// the rows the preview shows (its filters apply). Bars are plain elements with their numbers as
// text, so a screen reader reads the chart as a list.

import { formatInt, h, nextId, replace, select } from "./dom.js";

const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const ISO_DATE = /^(\d{4}-\d{2})-\d{2}([T ]|$)/;
const TOP = 12;
const BINS = 10;

/** What a column holds, judged by its non-empty cells: "number", "date" or "text". */
function kindOf(rows, order, col) {
  let nums = 0;
  let dates = 0;
  let seen = 0;
  const n = order ? order.length : rows.length;
  const step = Math.max(1, Math.floor(n / 2000));
  for (let i = 0; i < n; i += step) {
    const v = rows[order ? order[i] : i][col] ?? "";
    if (v === "") continue;
    seen += 1;
    if (NUMERIC.test(v)) nums += 1;
    else if (ISO_DATE.test(v)) dates += 1;
  }
  if (seen && nums === seen) return "number";
  if (seen && dates === seen) return "date";
  return "text";
}

const fmt = (x) => (Number.isInteger(x) ? formatInt(x) : x.toLocaleString("en-US", { maximumFractionDigits: 2 }));

/**
 * [label, count, summary?] bars for column `col` over the rows in `order` (null: all); summary
 * bars ("N other values", "(empty)") are not values of their own.
 */
export function columnBars(rows, order, col) {
  const n = order ? order.length : rows.length;
  const cell = (i) => rows[order ? order[i] : i][col] ?? "";
  const kind = kindOf(rows, order, col);
  let empty = 0;
  let bars;
  if (kind === "number") {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i += 1) {
      const v = cell(i);
      if (v === "") continue;
      const x = Number(v);
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    const bins = hi > lo ? BINS : 1;
    const width = (hi - lo) / bins || 1;
    const counts = new Array(bins).fill(0);
    for (let i = 0; i < n; i += 1) {
      const v = cell(i);
      if (v === "") empty += 1;
      else counts[Math.min(bins - 1, Math.floor((Number(v) - lo) / width))] += 1;
    }
    bars = counts.map((c, b) => [bins === 1 ? fmt(lo) : `${fmt(lo + b * width)} to ${b === bins - 1 ? fmt(hi) : `under ${fmt(lo + (b + 1) * width)}`}`, c]);
  } else {
    const counts = new Map();
    for (let i = 0; i < n; i += 1) {
      let v = cell(i);
      if (v === "") {
        empty += 1;
        continue;
      }
      if (kind === "date") v = ISO_DATE.exec(v)[1];
      counts.set(v, (counts.get(v) || 0) + 1);
    }
    bars = [...counts];
    if (kind === "date") bars.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    else {
      bars.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const rest = bars.slice(TOP).reduce((s, b) => s + b[1], 0);
      bars = bars.slice(0, TOP);
      if (rest) bars.push([`${formatInt(counts.size - TOP)} other values`, rest, true]);
    }
  }
  if (empty) bars.push(["(empty)", empty, true]);
  return { kind, bars, rows: n };
}

/**
 * chartPanel({ header, rows, view }) -> { element, update() }: a column picker and its chart.
 * `view()` gives the row indexes the preview shows (null: all); call update() when it changes.
 */
export function chartPanel({ header, rows, view, testid = "chart" }) {
  const pickId = nextId("ch");
  const titleId = nextId("ch");
  const picker = select({ id: pickId, "data-testid": `${testid}-column`, on: { change: update } }, [["", "no chart"], ...header.map((name, c) => [String(c), name])], "");
  const title = h("p", { class: "chart-title", id: titleId });
  const list = h("ul", { class: "bars", "aria-labelledby": titleId, "data-testid": testid });
  const body = h("div", { class: "chart-body", hidden: true }, title, list);

  function update() {
    if (picker.value === "") {
      body.hidden = true;
      replace(list);
      return;
    }
    const col = Number(picker.value);
    const { kind, bars, rows: n } = columnBars(rows, view(), col);
    const what = kind === "number" ? "rows per range" : kind === "date" ? "rows per month" : "the most frequent values";
    title.textContent = `${header[col]}: ${what}, over ${formatInt(n)} row${n === 1 ? "" : "s"}`;
    // Scaled to the largest value, so that "other values" does not flatten the rest (it is cut at 100%).
    const max = Math.max(1, ...bars.filter((b) => !b[2]).map((b) => b[1]));
    replace(
      list,
      bars.map(([label, count, summary]) => {
        const bar = h("span", { class: "bar", "aria-hidden": "true" });
        bar.style.width = `${Math.min(1, count / max) * 100}%`;
        const pct = n ? ` (${((count / n) * 100).toFixed(count / n < 0.1 ? 1 : 0)}%)` : "";
        return h(
          "li",
          { class: summary ? "is-summary" : null, "data-count": String(count) },
          h("span", { class: "bar-label", title: label.length > 30 ? label : null }, label),
          h("span", { class: "bar-track" }, bar),
          h("span", { class: "bar-value" }, `${formatInt(count)}${pct}`),
        );
      }),
    );
    body.hidden = false;
  }

  const element = h(
    "div",
    { class: "chart-panel" },
    h("div", { class: "field chart-pick" }, h("label", { for: pickId }, "Chart a column"), picker),
    body,
  );
  return { element, update };
}
