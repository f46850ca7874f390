// The Forecasts panel: Backstory Forecasting Query parameters as a form, the JSON it sends, every
// page fetched, the flat table (one row per node and snapshot) in the shared preview with its
// downloads and curl, and a chart per node.

import { recordParts } from "./csv-guard.js";
import { curlRequest } from "./curl.js";
import { formatInt, h, nextId, replace, select } from "./dom.js";
import { byNode, nodeChart, SERIES, snapshotOrder } from "./forecast-chart.js";
import { resultPreview } from "./preview.js";
import { createRunController, runErrorBox } from "./run-controller.js";
import { explainError, invalidText } from "./run-errors.js";
import { swatch } from "./svg-chart.js";

const MAX_CHARTS = 120;
const DEFAULT_PATH = "/v3/beta/forecasting/query";

function ensureStylesheet() {
  if (document.querySelector("link[data-ek='forecast-panel']")) return;
  document.head.append(h("link", { rel: "stylesheet", href: new URL("./forecast-panel.css", import.meta.url).href, "data-ek": "forecast-panel" }));
}

/** "" -> absent; digits -> a number; anything else stays text, so the check names the field. */
function numberish(v) {
  const t = String(v).trim();
  if (t === "") return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

/** A datetime-local value (the user's local time) as epoch milliseconds. */
function localMs(v) {
  if (!v) return undefined;
  const ms = new Date(v).getTime();
  return Number.isFinite(ms) ? ms : v;
}

function cellText(v) {
  return v === null || v === undefined ? "" : String(v);
}

export function createForecastPanel({ lib, settings }) {
  ensureStylesheet();
  let placeholder = null;

  // ------------------------------------------------------------ the form
  const ids = {};
  const field = (key, labelText, control, help) => {
    ids[key] = control.id;
    return h(
      "div",
      { class: "field", "data-field-for": key },
      h("label", { for: control.id }, labelText),
      control,
      help ? h("p", { class: "help" }, help) : null,
      h("p", { class: "field-error", id: `${control.id}-err`, hidden: true }),
    );
  };
  const input = (key, attrs = {}) =>
    h("input", { id: nextId("fc"), autocomplete: "off", spellcheck: "false", "data-testid": `fc-${key}`, on: { input: changed, change: changed }, ...attrs });

  const typeInput = input("type", { type: "text", inputmode: "numeric", value: "10089", required: true });
  const perPageInput = input("per-page", { type: "text", inputmode: "numeric", value: "1000" });
  const pageInput = input("page", { type: "text", inputmode: "numeric", placeholder: "1" });
  const periodKind = select({ id: nextId("fc"), "data-testid": "fc-period-kind", on: { change: changed } }, [["", "Current period"], ["id", "By id"], ["external", "By Salesforce id"]], "");
  const periodInput = input("period", { type: "text", placeholder: "fiscal period id" });
  const nodeKind = select({ id: nextId("fc"), "data-testid": "fc-node-kind", on: { change: changed } }, [["", "All nodes"], ["id", "By node id"], ["external", "By Salesforce id"]], "");
  const nodeInput = input("node", { type: "text", placeholder: "hierarchy node" });
  const descendants = input("descendants", { type: "checkbox" });
  const sortSelect = select({ id: nextId("fc"), "data-testid": "fc-sort", on: { change: changed } }, [["default", "Node name (default)"], ["hierarchy_level", "Hierarchy level"]], "default");
  const snapshotsSelect = select(
    { id: nextId("fc"), "data-testid": "fc-snapshots", on: { change: changed } },
    [["", "Latest (no timeframe)"], ["latest", "Latest in a timeframe"], ["all", "All, over time"]],
    "",
  );
  const sinceInput = input("since", { type: "datetime-local" });
  const untilInput = input("until", { type: "datetime-local" });
  const pathInput = input("path", { type: "text", placeholder: DEFAULT_PATH });
  const concurrencySelect = select({ id: nextId("fc"), "data-testid": "fc-concurrency", on: { change: changed } }, ["1", "2", "3", "4", "5", "6"], "4");

  const jsonView = h("pre", { class: "json fc-json", "data-testid": "fc-json", tabindex: "0", role: "region", "aria-label": "JSON that will be sent" });
  const validationBox = h("div", { class: "validation", "aria-live": "polite", "data-testid": "fc-validation" });
  const runBtn = h("button", { type: "button", class: "btn btn-primary", "data-testid": "fc-run", on: { click: run } }, "Fetch forecasts");
  const cancelBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "fc-cancel" }, "Cancel");
  const runs = createRunController({ runButton: runBtn, cancelButton: cancelBtn });
  const progressBar = h("progress", { class: "progress-bar", "aria-label": "Pages fetched" });
  const progressText = h("p", { class: "progress-text", "data-testid": "fc-progress" });
  const progressBox = h("div", { class: "progress", hidden: true, role: "status" }, progressBar, progressText);
  const runMessage = h("div", { class: "run-message", role: "alert", "data-testid": "fc-run-message" });
  const resultBox = h("div", { class: "result", "data-testid": "fc-result" });

  const timeframeFields = h(
    "div",
    { class: "fc-timeframe" },
    field("since", "Since (your local time)", sinceInput),
    field("until", "Until (your local time)", untilInput),
  );

  const element = h(
    "section",
    { class: "panel panel-forecasts", "aria-labelledby": "fc-heading" },
    h("h2", { id: "fc-heading" }, "Forecasting Query"),
    h(
      "p",
      { class: "lede" },
      "Forecast records across the hierarchy and over time. Every page is fetched (a few at once), then shown as a table with one row per node and snapshot, and as a chart per node.",
    ),
    h(
      "div",
      { class: "builder-grid" },
      h(
        "form",
        { class: "builder fc-form", "aria-label": "Forecast query", novalidate: true, on: { submit: (e) => (e.preventDefault(), run()) } },
        h(
          "div",
          { class: "fc-grid" },
          field("forecast_type_id", "Forecast type id", typeInput),
          field("per_page", "Records per page (1–1000)", perPageInput),
          field("page", "Start at page", pageInput),
          field("sort", "Sort", sortSelect),
        ),
        h(
          "fieldset",
          { class: "block" },
          h("legend", {}, "Fiscal period"),
          h("div", { class: "fc-grid" }, field("period_kind", "Which", periodKind), field("fiscal_period", "Id", periodInput)),
        ),
        h(
          "fieldset",
          { class: "block" },
          h("legend", {}, "Hierarchy"),
          h("div", { class: "fc-grid" }, field("node_kind", "Which", nodeKind), field("hierarchy_node", "Node", nodeInput)),
          h("div", { class: "fc-check" }, descendants, h("label", { for: descendants.id }, "Include descendants")),
        ),
        h(
          "fieldset",
          { class: "block" },
          h("legend", {}, "Snapshots"),
          h("div", { class: "fc-grid" }, field("snapshots", "Snapshots", snapshotsSelect)),
          timeframeFields,
        ),
        h(
          "details",
          { class: "block fc-advanced" },
          h("summary", {}, "Advanced"),
          h(
            "div",
            { class: "fc-grid" },
            field("path", "Request path", pathInput, "The vendor does not document the path; this default is an assumption."),
            field("concurrency", "Pages in flight", concurrencySelect),
          ),
        ),
      ),
      h("div", { class: "json-side" }, h("p", { class: "json-label" }, "JSON that will be sent"), jsonView, validationBox),
    ),
    h("div", { class: "runbar" }, h("p", { class: "help" }, "No daily allowance is documented for this API."), h("div", { class: "runbar-buttons" }, runBtn, cancelBtn)),
    progressBox,
    runMessage,
    resultBox,
  );

  // ------------------------------------------------------------ params
  function params() {
    const p = { forecast_type_id: numberish(typeInput.value), per_page: numberish(perPageInput.value) };
    const page = numberish(pageInput.value);
    if (page !== undefined) p.page = page;
    const period = periodInput.value.trim();
    if (periodKind.value === "id") p.fiscal_period_id = period;
    if (periodKind.value === "external") p.fiscal_period_external_id = period;
    if (nodeKind.value === "id") p.hierarchy_node_id = numberish(nodeInput.value) ?? "";
    if (nodeKind.value === "external") p.hierarchy_node_ownership_external_id = nodeInput.value.trim();
    if (descendants.checked) p.include_descendants = true;
    if (sortSelect.value !== "default") p.sort = sortSelect.value;
    if (snapshotsSelect.value) {
      p.timeframe = { snapshots: snapshotsSelect.value };
      const since = localMs(sinceInput.value);
      const until = localMs(untilInput.value);
      if (since !== undefined) p.timeframe.since = since;
      if (until !== undefined) p.timeframe.until = until;
    }
    for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
    return p;
  }

  function options() {
    const o = { concurrency: Number(concurrencySelect.value) };
    if (pathInput.value.trim()) o.path = pathInput.value.trim();
    return o;
  }

  /** Any client will do for checking parameters (it is a local check): one without secrets. */
  function validator() {
    if (!settings.problem()) return settings.backstory();
    placeholder ??= new lib.BackstoryClient({ baseUrl: "https://example.invalid", clientId: "x", clientSecret: "x", quotaStore: lib.memoryStore() });
    return placeholder;
  }

  const FIELD_KEYS = {
    forecast_type_id: "forecast_type_id",
    per_page: "per_page",
    page: "page",
    fiscal_period_id: "fiscal_period",
    fiscal_period_external_id: "fiscal_period",
    hierarchy_node_id: "hierarchy_node",
    hierarchy_node_ownership_external_id: "hierarchy_node",
    sort: "sort",
    "timeframe.since": "since",
    "timeframe.until": "until",
    "timeframe.snapshots": "snapshots",
    path: "path",
  };

  function markInvalid(errField, message) {
    for (const box of element.querySelectorAll("[data-field-for]")) {
      const key = box.dataset.fieldFor;
      const control = document.getElementById(ids[key]);
      const err = document.getElementById(`${ids[key]}-err`);
      const bad = FIELD_KEYS[errField] === key;
      control?.setAttribute("aria-invalid", String(bad));
      if (bad) control?.setAttribute("aria-describedby", `${ids[key]}-err`);
      else control?.removeAttribute("aria-describedby");
      if (err) {
        err.hidden = !bad;
        err.textContent = bad ? message : "";
      }
    }
  }

  /** Checks the parameters; returns the wire form or null (and shows the problem). */
  function validate() {
    const p = params();
    timeframeFields.hidden = !snapshotsSelect.value;
    periodInput.disabled = !periodKind.value;
    nodeInput.disabled = !nodeKind.value;
    try {
      const wire = validator().forecasts.validate(p);
      jsonView.textContent = JSON.stringify(wire, null, 2);
      replace(validationBox, h("p", { class: "ok", "data-testid": "fc-validation-ok" }, "Parameters are valid."));
      markInvalid(null, "");
      return wire;
    } catch (e) {
      jsonView.textContent = JSON.stringify(p, null, 2);
      const msg = invalidText(e);
      replace(validationBox, h("div", { class: "error-box", "data-testid": "fc-validation-error", "data-field": e?.field ?? "" }, h("p", {}, msg)));
      markInvalid(e?.field, msg);
      return null;
    }
  }

  function changed() {
    validate();
  }

  // ------------------------------------------------------------ running
  function showProgress(p, started) {
    const of = p.pageLast ? ` of ${formatInt(p.pageLast)}` : "";
    progressText.textContent = `Page ${formatInt(p.pages)}${of} · ${formatInt(p.records)} records · ${((performance.now() - started) / 1000).toFixed(1)} s`;
    if (p.pageLast) {
      progressBar.max = p.pageLast;
      progressBar.value = Math.min(p.pages, p.pageLast);
    }
  }

  async function run() {
    replace(runMessage);
    const problem = settings.problem();
    if (problem) {
      replace(runMessage, h("div", { class: "error-box" }, h("p", {}, problem)));
      settings.reveal();
      return;
    }
    const wire = validate();
    if (!wire) return;
    let client;
    try {
      client = settings.backstory();
    } catch (e) {
      replace(runMessage, h("div", { class: "error-box" }, h("p", {}, `Could not set up the client: ${e.message}`)));
      return;
    }
    await runs.run(async (signal) => {
      replace(resultBox);
      progressBox.hidden = false;
      progressText.dataset.state = "running";
      progressBar.removeAttribute("value");
      const started = performance.now();
      showProgress({ pages: 0, records: 0, pageLast: null }, started);
      try {
        const res = await client.forecasts.all(wire, { ...options(), signal, onProgress: (p) => showProgress(p, started) });
        progressText.dataset.state = "done";
        showResult(res, wire, options(), (performance.now() - started) / 1000);
      } catch (e) {
        progressBox.hidden = true;
        const explained = explainError(e, {
          service: "Backstory",
          credentials: "client id and secret",
          baseUrl: settings.values.baseUrl,
          openSettings: () => settings.reveal(),
          proxied: !!settings.proxy.backstory,
        });
        replace(runMessage, runErrorBox(e, "fc-run-error", explained));
      }
    });
  }

  function curlFor(wire, opts) {
    return curlRequest({
      api: "backstory",
      baseUrl: settings.values.baseUrl,
      proxyUrl: settings.proxy.backstory,
      path: opts.path || DEFAULT_PATH,
      body: wire,
      notes: ["Backstory Forecasting Query: the first page of this run (set \"page\" for the next ones)."],
    });
  }

  function showResult(res, wire, opts, seconds) {
    const table = res.table();
    const parts = [
      h(
        "div",
        { class: "result-head" },
        h(
          "p",
          { class: "result-summary", "data-testid": "fc-summary" },
          `${formatInt(res.records.length)} record${res.records.length === 1 ? "" : "s"} · ${formatInt(res.pages)} page${res.pages === 1 ? "" : "s"} · ${table.columns.length} columns · ${seconds.toFixed(1)} s`,
        ),
      ),
    ];
    if (res.totalChanges.length) {
      parts.push(
        h(
          "div",
          { class: "warn-box", role: "alert", "data-testid": "fc-total-changed" },
          h("p", {}, h("strong", {}, "The data changed while the pages were fetched. "), "Records may be repeated or missing: fetch again for a consistent set."),
          h(
            "ul",
            {},
            res.totalChanges.map((c) => h("li", {}, `At page ${c.page}: ${formatInt(c.previous)} → ${formatInt(c.current)} records`)),
          ),
        ),
      );
    }
    if (!res.complete) parts.push(h("p", { class: "note-box" }, "Stopped before the last page."));
    parts.push(h("h3", {}, "Table"));
    if (table.rows.length) {
      const rows = table.rows.map((r) => r.map(cellText));
      const shown = runs.keep(resultPreview({
        header: table.columns,
        rows,
        label: "Forecast records",
        testid: "fc-table",
        download: {
          name: `forecasts-${wire.forecast_type_id}`,
          testid: "fc-download",
          records: () => recordParts(res.records),
          curl: () => curlFor(wire, opts),
        },
      }));
      parts.push(shown.element);
    } else {
      parts.push(h("p", { class: "empty", "data-testid": "fc-empty" }, "No forecast records match these parameters."));
    }
    parts.push(charts(res.records));
    replace(resultBox, parts);
  }

  function charts(records) {
    const nodes = byNode(records);
    const snapshots = snapshotOrder(records);
    const overTime = nodes.some((n) => n.records.length > 1);
    const shown = nodes.slice(0, MAX_CHARTS);
    const legend = h(
      "ul",
      { class: "chart-legend", "aria-label": "Series" },
      SERIES.map((sr) => h("li", {}, swatch(sr), sr.label)),
    );
    const note = overTime
      ? `Each line follows a node over ${snapshots.length} snapshots, ordered by when they were submitted.`
      : "The latest snapshot of each node.";
    return h(
      "section",
      { class: "fc-charts-section", "aria-label": "Charts per node" },
      h("h3", {}, "Charts"),
      h("p", { class: "help" }, note, nodes.length > shown.length ? ` Showing the first ${shown.length} of ${nodes.length} nodes.` : ""),
      legend,
      h(
        "div",
        { class: "fc-charts", "data-testid": "fc-charts" },
        shown.map((n) =>
          h(
            "figure",
            { class: "fc-chart", "data-testid": "fc-chart", "data-node-id": String(n.id), "data-snapshots": String(n.records.length) },
            h("figcaption", {}, n.name, h("span", { class: "fc-node-id" }, ` #${n.id}`)),
            nodeChart(n, snapshots),
          ),
        ),
      ),
    );
  }

  validate();
  return { id: "forecasts", title: "Forecasts", element, onShow: validate };
}
