// Forecast charts as inline SVG (drawn with svg-chart.js: data only ever goes in as text).
//
// One chart per hierarchy node: bars of quota, commit, best case and closed won for one snapshot,
// or lines of them over the snapshots when several were asked for (`timeframe.snapshots: "all"`).

import { axes as chartAxes, full, niceMax, s } from "./svg-chart.js";

export const SERIES = [
  { slug: "quota", label: "Quota", color: "#6e7781", dash: "5 4" },
  { slug: "commit", label: "Commit", color: "#0b5cad" },
  { slug: "best_case", label: "Best case", color: "#8250df" },
  { slug: "closed_won", label: "Closed won", color: "#1a7f37" },
];

const W = 320;
const H = 176;
const M = { top: 10, right: 12, bottom: 26, left: 52 };

function value(record, slug) {
  const v = record.fields?.[slug]?.value;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * Orders the snapshots (cadence periods) of a result in time. Records carry no snapshot time, only
 * `cadence_period_id` and `submitted_at`; submissions for a snapshot happen in the week before
 * it, so the earliest submission of each cadence orders them. Cadences nobody submitted go last,
 * in the order they first appear. Returns `[{ id, at }]` (`at`: earliest submission or null).
 */
export function snapshotOrder(records) {
  const first = new Map();
  records.forEach((r, i) => {
    const id = r.cadence_period_id ?? "";
    const at = typeof r.submitted_at === "number" ? r.submitted_at : null;
    const cur = first.get(id);
    if (!cur) first.set(id, { id, at, seen: i });
    else if (at !== null && (cur.at === null || at < cur.at)) cur.at = at;
  });
  return [...first.values()]
    .sort((a, b) => (a.at === null) - (b.at === null) || (a.at ?? 0) - (b.at ?? 0) || a.seen - b.seen)
    .map(({ id, at }) => ({ id, at }));
}

/**
 * Groups records by node, in the order nodes first appear: `[{ id, name, records }]`, each node's
 * records ordered by snapshot (see `snapshotOrder`).
 */
export function byNode(records) {
  const order = new Map(snapshotOrder(records).map((c, i) => [c.id, i]));
  const nodes = new Map();
  for (const r of records) {
    const id = r.hierarchy_node_id;
    if (!nodes.has(id)) nodes.set(id, { id, name: r.hierarchy_node_name ?? String(id), records: [] });
    nodes.get(id).records.push(r);
  }
  for (const n of nodes.values()) n.records.sort((a, b) => order.get(a.cadence_period_id ?? "") - order.get(b.cadence_period_id ?? ""));
  return [...nodes.values()];
}

function shortDate(ms) {
  return new Date(ms).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
}

const BOX = { width: W, height: H, margin: M };
const axes = (max, xLabels) => chartAxes(BOX, max, xLabels);

/**
 * The SVG chart of one node. `snapshots`: the result's ordered snapshots (`snapshotOrder`), so
 * every node's x axis means the same weeks. Lines when the node has several snapshots, else bars.
 */
export function nodeChart(node, snapshots) {
  const series = SERIES.filter((sr) => node.records.some((r) => value(r, sr.slug) !== null));
  const max = niceMax(Math.max(0, ...node.records.flatMap((r) => series.map((sr) => value(r, sr.slug) ?? 0))));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const y = (v) => M.top + plotH * (1 - v / max);
  const lines = node.records.length > 1;
  const label = `${node.name}: ${series.map((sr) => sr.label.toLowerCase()).join(", ")}${lines ? ` over ${node.records.length} snapshots` : ""}`;
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": label,
    class: "chart-svg",
    "data-testid": "fc-chart-svg",
    "data-mode": lines ? "lines" : "bars",
  });
  svg.append(s("title", {}, label));
  if (lines) {
    const index = new Map(snapshots.map((c, i) => [c.id, i]));
    const span = Math.max(1, snapshots.length - 1);
    const x = (r) => M.left + (plotW * (index.get(r.cadence_period_id ?? "") ?? 0)) / span;
    const first = snapshots[0];
    const last = snapshots[snapshots.length - 1];
    const xLabels = [];
    if (first?.at != null) xLabels.push({ x: M.left, text: shortDate(first.at), anchor: "start" });
    if (last?.at != null && snapshots.length > 1) xLabels.push({ x: W - M.right, text: shortDate(last.at), anchor: "end" });
    svg.append(axes(max, xLabels));
    for (const sr of series) {
      const pts = node.records.filter((r) => value(r, sr.slug) !== null);
      const g = s("g", { class: "fc-series", "data-series": sr.slug, "data-points": pts.length });
      g.append(
        s("polyline", {
          points: pts.map((r) => `${x(r).toFixed(1)},${y(value(r, sr.slug)).toFixed(1)}`).join(" "),
          fill: "none",
          stroke: sr.color,
          "stroke-width": 2,
          "stroke-dasharray": sr.dash,
          "stroke-linejoin": "round",
        }),
      );
      for (const r of pts) {
        const when = r.submitted_at != null ? ` (submitted ${shortDate(r.submitted_at)})` : "";
        g.append(
          s("circle", { cx: x(r).toFixed(1), cy: y(value(r, sr.slug)).toFixed(1), r: 2.5, fill: sr.color }, s("title", {}, `${sr.label}: ${full.format(value(r, sr.slug))}${when}`)),
        );
      }
      svg.append(g);
    }
  } else {
    svg.append(axes(max, []));
    const r = node.records[0];
    const slot = plotW / Math.max(1, series.length);
    series.forEach((sr, i) => {
      const v = value(r, sr.slug);
      const bx = M.left + slot * i + slot * 0.2;
      svg.append(
        s(
          "g",
          { class: "fc-series", "data-series": sr.slug, "data-points": 1 },
          s("rect", { x: bx.toFixed(1), y: y(v).toFixed(1), width: (slot * 0.6).toFixed(1), height: (M.top + plotH - y(v)).toFixed(1), fill: sr.color, rx: 2 }, s("title", {}, `${sr.label}: ${full.format(v)}`)),
          s("text", { x: (bx + slot * 0.3).toFixed(1), y: H - 8, "text-anchor": "middle", class: "chart-tick" }, sr.label),
        ),
      );
    });
  }
  return svg;
}
