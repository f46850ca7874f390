// The Runs view (issue 18): the durable activity runs the edge worker keeps, their windows,
// records, bytes, failures and watermark, and the next cron tick. Shown only behind the worker
// (its /config.json names the proxy). Cancel and Re-run post to the worker's run routes with the
// page's session cookie; the worker checks the cookie and the Origin. Everything is text.

import { formatBytes, formatInt, h, replace } from "./dom.js";

const ACTIVE = new Set(["queued", "running", "waiting", "paused", "waitingForPause"]);
const REFRESH_MS = 1500;
const IDLE_REFRESH_MS = 5000;

async function api(path, method = "GET") {
  const res = await fetch(path, { method, headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" });
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    // Not JSON: the status line says enough.
  }
  if (!res.ok) throw new Error(body?.message ? `${body.message} (HTTP ${res.status})` : `HTTP ${res.status}`);
  return body;
}

export function createRunsPanel() {
  const message = h("div", { class: "runs-message", role: "status", "data-testid": "runs-message" });
  const scheduleEl = h("p", { class: "hint", "data-testid": "runs-schedule" });
  const body = h("tbody", { "data-testid": "runs-rows" });
  const refreshButton = h("button", { type: "button", class: "btn", "data-testid": "runs-refresh", on: { click: () => refresh() } }, "Refresh");
  const table = h(
    "table",
    { class: "preview runs-table", "aria-label": "Export runs" },
    h("thead", {}, h("tr", {}, ["API", "Run", "Status", "Windows", "Records", "Bytes", "Watermark", "Failure", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const element = h("section", { class: "panel", "data-testid": "runs-panel" }, h("h2", {}, "Runs"), scheduleEl, h("div", { class: "actions" }, refreshButton), message, h("div", { class: "table-wrap" }, table));

  let timer = null;
  let shown = false;

  const watermarkText = (w) => {
    if (!w) return "—";
    if (w.from) return `${w.from} → ${w.after}`;
    return `${w.before ?? "none"} → ${w.after ?? "none"}`;
  };

  async function act(run, what) {
    replace(message);
    try {
      const r = await api(`/api/runs/${encodeURIComponent(run.api)}/${encodeURIComponent(run.id)}/${what}`, "POST");
      replace(message, h("p", { "data-testid": "runs-done" }, what === "cancel" ? `Run ${run.id} cancelled.` : `Run ${r?.run ?? run.id} goes on in instance ${r?.id ?? "?"}.`));
    } catch (e) {
      replace(message, h("p", { class: "error-box", "data-testid": "runs-error" }, `${what === "cancel" ? "Cancel" : "Re-run"} failed: ${e.message}`));
    }
    await refresh();
  }

  function row(run) {
    const active = ACTIVE.has(run.status);
    const windows = run.windows.total === null ? `${run.windows.done}` : `${run.windows.done} / ${run.windows.total}`;
    return h(
      "tr",
      { "data-testid": "run-row", "data-run": run.id, "data-status": run.status },
      h("td", {}, run.api),
      h("td", { class: "mono" }, run.id),
      h("td", { "data-testid": "run-status" }, h("span", { class: "badge", "data-state": run.status }, run.status)),
      h("td", { "data-testid": "run-windows" }, windows),
      h("td", { "data-testid": "run-records" }, formatInt(run.records)),
      h("td", { "data-testid": "run-bytes" }, formatBytes(run.bytes)),
      h("td", { "data-testid": "run-watermark" }, watermarkText(run.watermark)),
      h("td", { "data-testid": "run-failure" }, run.failure ? `${run.failure.name}: ${run.failure.message}` : ""),
      h(
        "td",
        {},
        // A scheduled Query export runs inside the cron's invocation: nothing to cancel.
        active && run.cancellable !== false ? h("button", { type: "button", class: "btn", "data-testid": "run-cancel", on: { click: () => act(run, "cancel") } }, "Cancel") : null,
        // Only an API with a resume route (every API but the Query exports) offers Re-run.
        !active && run.status !== "complete" && run.resumable !== false ? h("button", { type: "button", class: "btn", "data-testid": "run-resume", on: { click: () => act(run, "resume") } }, "Re-run") : null,
      ),
    );
  }

  async function refresh() {
    clearTimeout(timer);
    timer = null;
    let data;
    try {
      data = await api("/api/runs");
    } catch (e) {
      replace(body);
      replace(message, h("p", { class: "error-box", "data-testid": "runs-error" }, `The runs could not be read: ${e.message}`));
      return;
    }
    // A click or a timer may have started another refresh meanwhile: only one timer runs.
    clearTimeout(timer);
    const s = data.schedule ?? {};
    replace(
      scheduleEl,
      s.crons?.length ? `Cron: ${s.crons.join(", ")} (UTC). Next tick: ${s.next ?? "—"}.` : "No cron schedule is configured.",
      " ",
      Array.isArray(s.configured)
        ? s.configured.length
          ? `Each tick starts (KV config:runs): ${s.configured.map((e) => `${e.name} (${e.api})`).join(", ")}.`
          : "KV config:runs lists no runs."
        : s.activitiesIncrementalStart
          ? `Daily incremental activity runs from ${s.activitiesIncrementalStart}.`
          : "No daily incremental activity run is set.",
    );
    replace(body, data.runs.length ? data.runs.map(row) : h("tr", {}, h("td", { colspan: 9, "data-testid": "runs-empty" }, "No runs yet.")));
    // Follow the runs while the view is open: quickly while one moves, and slower otherwise, so
    // a run started elsewhere (the cron, a script) appears on its own.
    if (shown) timer = setTimeout(refresh, data.runs.some((r) => ACTIVE.has(r.status)) ? REFRESH_MS : IDLE_REFRESH_MS);
  }

  return {
    id: "runs",
    title: "Runs",
    element,
    onShow() {
      shown = true;
      refresh();
    },
    onHide() {
      shown = false;
      clearTimeout(timer);
    },
  };
}
