// "Per day by type" charts: activities per day by type (Activities panel), events per day by type
// (Userpilot panel). Counted from the preview's rows, so the table's filters apply to the chart;
// drawn as stacked SVG bars (svg-chart.js) with the numbers also as a table for screen readers.
//
// The day and type of every row are read once (dayTypeIndex); a filter change only recounts
// integer indexes, which stays quick on a million rows.

import { formatInt, h, replace } from "./dom.js";
import { stackedBars, swatch } from "./svg-chart.js";
import { previewTable } from "./table.js";

const DAY_MS = 86_400_000;
// Okabe-Ito: told apart with the common colour-vision deficiencies. Types past these get grey.
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"];
const OTHER_COLOR = "#6e7781";
const NUMERIC = /^-?\d+(\.\d+)?$/;

/** yyyy-mm-dd -> UTC day number, or NaN. */
export function dayNumber(iso) {
  const ms = Date.parse(`${iso}T00:00:00Z`);
  return Number.isFinite(ms) && /^\d{4}-\d{2}-\d{2}$/.test(iso) ? Math.floor(ms / DAY_MS) : NaN;
}

const dayText = (n) => new Date(n * DAY_MS).toISOString().slice(0, 10);

/**
 * A cell's UTC day number: `unit` says what a number counts ("ms" since the epoch, "us"
 * microseconds); text is read as an ISO date-time (a time without a zone is UTC, as the
 * vendors write it). NaN when the cell holds no time.
 */
export function cellDay(v, unit = "ms") {
  if (v === "" || v === null || v === undefined) return NaN;
  const text = String(v);
  let ms;
  if (NUMERIC.test(text)) ms = unit === "us" ? Number(text) / 1000 : Number(text);
  else ms = Date.parse(/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text) ? `${text}Z` : text);
  return Number.isFinite(ms) ? Math.floor(ms / DAY_MS) : NaN;
}

/**
 * Reads every row's day and type once: { day: Int32Array (day number, or -2^31 when none),
 * type: Uint16Array (index into `types`), types: string[], record: Uint32Array | null }.
 * `record` numbers the records when one record spans several consecutive rows (exploded CSV):
 * a row starts a new record when its `recordCol` differs from the row before.
 */
export function dayTypeIndex(rows, { dayCol, typeCol, recordCol = -1, unit = "ms", knownTypes = [] }) {
  const n = rows.length;
  const day = new Int32Array(n);
  const type = new Uint16Array(n);
  const types = [...knownTypes];
  const typeAt = new Map(types.map((t, i) => [t, i]));
  const record = recordCol >= 0 ? new Uint32Array(n) : null;
  let rec = -1;
  let lastId = null;
  for (let i = 0; i < n; i += 1) {
    const row = rows[i];
    const d = cellDay(row[dayCol], unit);
    day[i] = Number.isFinite(d) ? d : -2147483648;
    const t = row[typeCol] ?? "";
    let k = typeAt.get(t);
    if (k === undefined) {
      k = types.length;
      types.push(t);
      typeAt.set(t, k);
    }
    type[i] = k;
    if (record) {
      const id = row[recordCol] ?? "";
      if (id !== lastId || rec < 0) rec += 1;
      lastId = id;
      record[i] = rec;
    }
  }
  return { day, type, types, record, records: rec + 1 };
}

/**
 * Counts per day and type over the rows in `order` (null: all), days `from`..`to` (day numbers,
 * inclusive). Returns { counts: Uint32Array[days * types] (day-major), outside } where `outside`
 * counts rows with no day or a day out of the range. A record spread over several rows is
 * counted once (on its first row in `order`).
 */
export function countDayType(index, order, from, to) {
  const days = Math.max(0, to - from + 1);
  const nt = index.types.length;
  const counts = new Uint32Array(days * nt);
  const seen = index.record ? new Uint8Array(index.records) : null;
  let outside = 0;
  const n = order ? order.length : index.day.length;
  for (let k = 0; k < n; k += 1) {
    const i = order ? order[k] : k;
    if (seen) {
      const r = index.record[i];
      if (seen[r]) continue;
      seen[r] = 1;
    }
    const d = index.day[i] - from;
    if (d < 0 || d >= days) outside += 1;
    else counts[d * nt + index.type[i]] += 1;
  }
  return { counts, outside };
}

/**
 * dayChart({ rows, view, dayCol, typeCol, recordCol?, unit?, from, to, types, title, noun, testid })
 * -> { element, update() }. `from`/`to`: yyyy-mm-dd (the range asked for, so empty days show);
 * `types`: [[value, label]] in legend order (values seen in the data but not listed follow);
 * `view()`: the row indexes the table shows (null: all). Call update() when the view changes.
 */
export function dayChart({ rows, view, dayCol, typeCol, recordCol = -1, unit = "ms", from, to, types = [], title, noun, testid = "day-chart" }) {
  const labels = new Map(types);
  const index = dayTypeIndex(rows, { dayCol, typeCol, recordCol, unit, knownTypes: types.map((t) => t[0]) });
  const first = dayNumber(from);
  const last = dayNumber(to);
  const series = index.types.map((t, i) => ({ key: t, label: labels.get(t) ?? (t || "(no type)"), color: PALETTE[i] ?? OTHER_COLOR }));
  const categories = [];
  for (let d = first; d <= last; d += 1) categories.push({ key: dayText(d), label: dayText(d) });

  const heading = h("h3", {}, title);
  const summary = h("p", { class: "help", "data-testid": `${testid}-summary` });
  const legend = h("ul", { class: "chart-legend", "data-testid": `${testid}-legend` });
  // Scrolls sideways on a phone rather than shrinking the bars to hairlines: focusable for the keyboard.
  const plot = h("div", { class: "chart-plot", tabindex: "0", role: "group", "aria-label": `${title}: chart` });
  const numbers = h("details", { class: "chart-numbers" }, h("summary", {}, "The numbers per day"));
  const element = h("section", { class: "day-chart", "aria-label": title, "data-testid": testid }, heading, summary, legend, plot, numbers);

  function update() {
    const { counts, outside } = countDayType(index, view(), first, last);
    const nt = index.types.length;
    const totals = new Array(nt).fill(0);
    for (let d = 0; d < categories.length; d += 1) for (let t = 0; t < nt; t += 1) totals[t] += counts[d * nt + t];
    // Only the types this view has: a filtered-out type would be a legend entry with no bars.
    const shown = series.map((sr, t) => ({ ...sr, t, total: totals[t] })).filter((sr) => sr.total > 0);
    const all = totals.reduce((a, b) => a + b, 0);
    const described = shown.map((sr) => `${formatInt(sr.total)} ${sr.label}`).join(", ");
    const label = `${title}, ${from} to ${to}: ${all ? described : `no ${noun}`}`;
    const at = new Map(categories.map((c, d) => [c.key, d]));
    const typeAt = new Map(shown.map((sr) => [sr.key, sr.t]));
    replace(
      plot,
      stackedBars({
        categories,
        series: shown,
        value: (day, type) => counts[at.get(day) * nt + typeAt.get(type)],
        label,
        testid: `${testid}-svg`,
      }),
    );
    replace(
      legend,
      shown.map((sr) => h("li", { "data-series": sr.key }, swatch(sr, "box"), `${sr.label}: ${formatInt(sr.total)}`)),
    );
    summary.textContent =
      `${formatInt(all)} ${noun} over ${formatInt(categories.length)} day${categories.length === 1 ? "" : "s"} (UTC)` +
      (outside ? ` · ${formatInt(outside)} outside these days or without a date, not drawn` : "") +
      (view() ? " · the table's filters apply" : "");
    const header = ["Day", ...shown.map((sr) => sr.label), "Total"];
    const table = categories.map((c, d) => {
      let sum = 0;
      const cells = shown.map((sr) => {
        const v = counts[d * nt + sr.t];
        sum += v;
        return String(v);
      });
      return [c.key, ...cells, String(sum)];
    });
    replace(numbers, h("summary", {}, "The numbers per day"), previewTable({ header, rows: table, limit: 400, testid: `${testid}-table` }));
  }

  update();
  return { element, update };
}
