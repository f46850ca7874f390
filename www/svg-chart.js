// The pieces every chart of the dashboard draws with: SVG built node by node with createElementNS
// (never from markup, so nothing from the data can become an element: names and numbers only ever
// go in as text), a "nice" axis maximum, the y axis with its grid lines, legend swatches, and
// stacked bars over categories (days). Used by forecast-chart.js and day-chart.js.

export const NS = "http://www.w3.org/2000/svg";

/** An SVG element: attributes skip null/undefined/false, children are nodes or text. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null && v !== false) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const full = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
export const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** The smallest round number (1, 1.2, 1.5, 2, 2.5 ... times a power of ten) at or above `v`. */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * Grid lines at 0, half and the top with their values, and text labels under the plot.
 * `box`: { width, height, margin: { top, right, bottom, left } }; `xLabels`: [{ x, text, anchor }].
 */
export function axes(box, max, xLabels = [], integers = false) {
  const { width, height, margin: m } = box;
  const plotH = height - m.top - m.bottom;
  const g = s("g", { class: "chart-axes" });
  for (const f of [0, 0.5, 1]) {
    const y = m.top + plotH * (1 - f);
    const v = max * f;
    // Counts have no half: the middle line of a small integer axis would read "0.5".
    const label = integers && !Number.isInteger(v) ? null : compact.format(v);
    g.append(s("line", { x1: m.left, x2: width - m.right, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": f === 0 ? 0.5 : 0.15 }));
    if (label !== null) g.append(s("text", { x: m.left - 6, y: y + 4, "text-anchor": "end", class: "chart-tick" }, label));
  }
  for (const { x, text, anchor } of xLabels) g.append(s("text", { x, y: height - 8, "text-anchor": anchor, class: "chart-tick" }, text));
  return g;
}

/** A legend swatch: a tiny SVG, since the page's policy allows no style attributes in markup. */
export function swatch({ color, dash }, shape = "line") {
  return s(
    "svg",
    { viewBox: "0 0 18 10", width: 18, height: 10, "aria-hidden": "true", class: "chart-swatch" },
    shape === "box"
      ? s("rect", { x: 2, y: 0, width: 14, height: 10, rx: 2, fill: color })
      : s("line", { x1: 0, x2: 18, y1: 5, y2: 5, stroke: color, "stroke-width": 3, "stroke-dasharray": dash }),
  );
}

/**
 * Stacked bars, one per category (e.g. a day), one segment per series with a count there.
 * `categories`: [{ key, label }]; `series`: [{ key, label, color }]; `value(catKey, seriesKey)`.
 * Every segment is a <rect> carrying data-category, data-series and data-count, with a <title>
 * ("2024-01-03 · Email: 12") for the mouse; the caller labels the whole SVG for screen readers.
 */
export function stackedBars({ categories, series, value, label, width = 640, height = 200, testid = null }) {
  const box = { width, height, margin: { top: 10, right: 10, bottom: 24, left: 44 } };
  const m = box.margin;
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  let top = 0;
  for (const c of categories) {
    let sum = 0;
    for (const sr of series) sum += value(c.key, sr.key);
    if (sum > top) top = sum;
  }
  const max = niceMax(top);
  const y = (v) => (plotH * v) / max;
  const slot = plotW / Math.max(1, categories.length);
  const gap = slot > 4 ? Math.min(slot * 0.2, 4) : 0;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart-svg", "data-testid": testid });
  // The first and the last category, and up to five between, under the middle of their bars.
  const n = categories.length;
  const step = Math.max(1, Math.ceil(n / 6));
  const xLabels = [];
  for (let i = 0; i < n; i += step) {
    if (i > 0 && n - 1 - i < step) break;
    xLabels.push(i === 0 ? { x: m.left, text: categories[0].label, anchor: "start" } : { x: m.left + slot * (i + 0.5), text: categories[i].label, anchor: "middle" });
  }
  if (n > 1) xLabels.push({ x: width - m.right, text: categories[n - 1].label, anchor: "end" });
  for (const l of xLabels) if (l.anchor === "middle") svg.append(s("line", { x1: l.x, x2: l.x, y1: m.top + plotH, y2: m.top + plotH + 4, stroke: "currentColor", "stroke-opacity": 0.5 }));
  svg.prepend(s("title", {}, label), axes(box, max, xLabels, true));
  const bars = s("g", { class: "chart-bars" });
  categories.forEach((c, i) => {
    let base = m.top + plotH;
    for (const sr of series) {
      const v = value(c.key, sr.key);
      if (!v) continue;
      const hgt = y(v);
      base -= hgt;
      bars.append(
        s(
          "rect",
          {
            x: (m.left + slot * i + gap / 2).toFixed(2),
            y: base.toFixed(2),
            width: Math.max(0.5, slot - gap).toFixed(2),
            height: hgt.toFixed(2),
            fill: sr.color,
            "data-category": c.key,
            "data-series": sr.key,
            "data-count": v,
          },
          s("title", {}, `${c.label} · ${sr.label}: ${full.format(v)}`),
        ),
      );
    }
  });
  svg.append(bars);
  return svg;
}
