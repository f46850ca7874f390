// The Activities panel: start a Raw Activity Data export, watch each job (state, records, bytes)
// and each fragment (bytes, a bar), then see every row in the shared preview (sort, filter,
// activities per day by type) and download CSV, JSON Lines (as the API sent them) or the curl.
//
// The export runs as JSON Lines, kept byte for byte for the download; the page flattens the
// same bytes to CSV with the client's own writer (the columns `format: "csv"` would give) and
// reads that CSV into the table.

import { curlRequest } from "./curl.js";
import { dayChart } from "./day-chart.js";
import { formatBytes, formatInt, h, nextId, replace, select } from "./dom.js";
import { resultPreview } from "./preview.js";
import { createRunController, frameThrottle, runErrorBox } from "./run-controller.js";
import { vocabulary } from "../js/vocabulary.js";

/** Rows kept for the table, its chart and the guarded CSV; the raw downloads keep everything. */
const TABLE_MAX = 500_000;
const JOBS_PATH = "/pull/v1/export/activities/jobs";
// Words for the vendor's activity and export types; the types themselves come from the client
// (js/vocabulary.js), so a type the client accepts is offered and one it refuses is not.
const TYPE_LABELS = { all: "All", email: "Emails", meeting: "Meetings", call: "Calls" };
const EXPORT_LABELS = {
  delta: "Delta (any range, 14 days per job)",
  snapshot: "Snapshot (at most a year, one job)",
};
const labelled = (names, labels) => names.map((n) => [n, labels[n] ?? n]);
const PHASES = {
  creating: "Starting jobs",
  waiting: "Waiting for the API to prepare the data",
  downloading: "Downloading",
  done: "Done",
};

function daysAgo(n) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

function field(label, control, help) {
  const id = control.id || nextId("act");
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, help ? h("p", { class: "help" }, help) : null);
}

export function createActivitiesPanel({ lib, settings }) {
  if (!document.querySelector("link[data-ek='activities-panel']")) {
    document.head.append(h("link", { rel: "stylesheet", href: new URL("./activities-panel.css", import.meta.url).href, "data-ek": "activities-panel" }));
  }
  const startInput = h("input", { type: "date", value: daysAgo(14), "data-testid": "act-start", on: { input: replan } });
  const endInput = h("input", { type: "date", value: daysAgo(1), "data-testid": "act-end", on: { input: replan } });
  const { activityTypes, exportTypes } = vocabulary().backstory;
  const typeSelect = select({ "data-testid": "act-type", on: { change: replan } }, labelled(activityTypes, TYPE_LABELS), "all");
  const exportSelect = select(
    { "data-testid": "act-export-type", on: { change: replan } },
    labelled(exportTypes, EXPORT_LABELS),
    "delta",
  );
  const explodeCheck = h("input", { type: "checkbox", id: nextId("act"), "data-testid": "act-explode" });
  const explodeBox = h(
    "div",
    { class: "act-explode check" },
    explodeCheck,
    h("label", { for: explodeCheck.id }, "Table and CSV: one row per participant (otherwise a participants column holds them as JSON)"),
  );
  const concurrencyInput = h("input", { type: "number", min: "1", max: "6", value: "4", "data-testid": "act-concurrency" });

  const planBox = h("div", { class: "validation", "aria-live": "polite", "data-testid": "act-plan" });
  const runBtn = h("button", { type: "button", class: "btn btn-primary", "data-testid": "act-run", on: { click: run } }, "Start export");
  const cancelBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "act-cancel" }, "Cancel");
  const runs = createRunController({ runButton: runBtn, cancelButton: cancelBtn });
  const progressBar = h("progress", { class: "progress-bar", "aria-label": "Jobs done" });
  const progressText = h("p", { class: "progress-text", "data-testid": "act-progress-text" });
  const jobsList = h("ol", { class: "act-jobs", "data-testid": "act-jobs" });
  const fragList = h("ol", { class: "act-frags", "data-testid": "act-fragments" });
  const progressBox = h(
    "div",
    { class: "act-progress", hidden: true, "data-testid": "act-progress" },
    h("div", { class: "progress", role: "status" }, progressBar, progressText),
    h("div", {}, h("h3", {}, "Jobs"), jobsList),
    h("div", {}, h("h3", {}, "Fragments of the job being downloaded"), fragList),
  );
  const message = h("div", { class: "run-message", role: "alert", "data-testid": "act-message" });
  const resultBox = h("div", { class: "result", "data-testid": "act-result" });

  const element = h(
    "section",
    { class: "panel panel-activities", "aria-labelledby": "act-heading" },
    h("h2", { id: "act-heading" }, "Raw activity export"),
    h(
      "p",
      { class: "lede" },
      "Export emails, meetings and calls for a date range (UTC days). The API prepares each export as a job; a long delta range runs as several jobs of at most 14 days, at most 10 queued at once, and their data arrives in date order.",
    ),
    h(
      "form",
      { class: "builder", "aria-label": "Activity export", novalidate: true, on: { submit: (e) => (e.preventDefault(), run()) } },
      h(
        "div",
        { class: "up-grid" },
        field("Start date", startInput),
        field("End date", endInput),
        field("Activity type", typeSelect),
        field("Export type", exportSelect),
        field("Fragments at once", concurrencyInput, "1 to 6"),
      ),
      explodeBox,
      planBox,
    ),
    h("div", { class: "runbar" }, h("div", { class: "runbar-buttons" }, runBtn, cancelBtn)),
    progressBox,
    message,
    resultBox,
  );

  function params() {
    return { startDate: startInput.value, endDate: endInput.value, activityType: typeSelect.value, exportType: exportSelect.value };
  }

  function client() {
    const problem = settings.problem();
    if (problem) throw Object.assign(new Error(problem), { settings: true });
    return settings.backstory();
  }

  /** Shows the jobs the export will run, or what is wrong with the form (before any call). */
  function replan() {
    let bs;
    try {
      bs = client();
    } catch {
      replace(planBox);
      return null;
    }
    try {
      const windows = bs.activities.plan(params());
      const first = windows[0];
      const last = windows[windows.length - 1];
      replace(
        planBox,
        h(
          "p",
          { class: "help", "data-testid": "act-plan-text" },
          windows.length === 1 ? `One job: ${first.startDate} to ${first.endDate}.` : `${windows.length} jobs of at most 14 days: ${first.startDate} to ${last.endDate}.`,
        ),
      );
      return windows;
    } catch (e) {
      replace(planBox, h("p", { class: "field-error", "data-testid": "act-plan-error", "data-field": e.field || "" }, e.message));
      return null;
    }
  }

  /** One line per job: its window, state, id, and the records and bytes downloaded from it. */
  function renderJobs(windows, jobs, stats) {
    replace(
      jobsList,
      windows.map((w, i) => {
        const j = jobs[i];
        const st = stats[i];
        return h(
          "li",
          { "data-testid": `act-job-${i}` },
          h("span", { class: "row-num" }, String(i + 1)),
          h("span", {}, `${w.startDate} to ${w.endDate}`),
          h("span", { class: "badge", "data-state": j ? j.state : "not started", "data-testid": `act-job-state-${i}` }, j ? j.state : "not started"),
          h("span", { class: "act-job-size", "data-testid": `act-job-size-${i}` }, st.bytes ? `${formatInt(st.records)} records · ${formatBytes(st.bytes)}` : ""),
          j ? h("code", { "data-testid": `act-job-id-${i}` }, j.jobId) : null,
        );
      }),
    );
  }

  /** One bar per fragment of the job being downloaded, with the bytes read from it. */
  function renderFragments(p) {
    const total = p.fragmentsTotal || 0;
    const size = p.resultsSize && total ? p.resultsSize / total : 0;
    const live = new Map((p.fragments || []).map((f) => [f.index, f]));
    const items = [];
    for (let k = 0; k < total; k += 1) {
      const f = live.get(k);
      const done = k < p.fragmentsDone;
      const bar = h("progress", { class: "progress-bar", max: "1", "aria-label": `Fragment ${k}` });
      bar.value = done ? 1 : f && size ? Math.min(1, f.bytes / size) : 0;
      const state = done ? "done" : f ? f.state : "waiting";
      const bytes = f ? ` · ${formatBytes(f.bytes)}` : "";
      items.push(h("li", { "data-testid": `act-fragment-${k}`, "data-state": state }, h("span", { class: "row-num" }, String(k)), bar, h("span", {}, `${state}${bytes}`)));
    }
    replace(fragList, items);
  }

  async function run() {
    replace(message);
    let bs;
    try {
      bs = client();
    } catch (e) {
      replace(message, h("div", { class: "error-box" }, h("p", {}, e.message)));
      if (e.settings) settings.reveal();
      return;
    }
    const windows = replan();
    if (!windows) return;
    const asked = params();
    const explode = explodeCheck.checked ? "participants" : undefined;
    const concurrency = Number(concurrencyInput.value);
    await runs.run(async (signal) => {
      progressBox.hidden = false;
      replace(resultBox);
      const jobs = [];
      const stats = windows.map(() => ({ records: 0, bytes: 0 }));
      const raw = []; // the JSON Lines as received
      const csvText = []; // the same records flattened, unguarded
      const rows = [];
      let last = { records: 0, bytes: 0 };
      const progress = frameThrottle((p) => {
        progressText.textContent = `${PHASES[p.phase] || p.phase} · jobs ${p.windowsDone}/${p.windows} · ${formatInt(p.records)} records · ${formatBytes(p.bytes)}`;
        progressText.dataset.phase = p.phase;
        progressBar.max = p.windows || 1;
        progressBar.value = p.phase === "done" ? progressBar.max : p.windowsDone;
        renderJobs(windows, jobs, stats);
        if (p.phase === "downloading" || p.phase === "done") renderFragments(p);
      });
      renderJobs(windows, jobs, stats);
      replace(fragList);
      progressText.textContent = PHASES.creating;
      progressText.dataset.phase = "creating";
      progressBar.removeAttribute("value");
      // Cells as they came: the table shows them so, and the download bar guards the CSV itself.
      const writer = new lib.JsonlCsvWriter({ columns: bs.activities.columns({ explode }), explode, csvGuard: false });
      const parser = new lib.CsvStreamParser({ header: true });
      const encoder = new TextEncoder();
      const keep = (batches) => {
        for (const b of batches) {
          if (rows.length >= TABLE_MAX) return;
          for (const r of lib.batchRows(b)) if (rows.length < TABLE_MAX) rows.push(r);
        }
      };
      const flatten = (text) => {
        if (!text) return;
        csvText.push(text);
        if (rows.length < TABLE_MAX) keep(parser.push(encoder.encode(text)));
      };
      const started = performance.now();
      try {
        const it = bs.activities.export(asked, {
          signal,
          format: "jsonl",
          concurrency,
          onJob: (job, w) => {
            jobs[w] = job;
            if (!progress.scheduled) renderJobs(windows, jobs, stats);
          },
          onProgress: (p) => {
            // The totals run over the whole export: what they grew by belongs to the job downloading.
            if (p.window >= 0 && p.window < stats.length) {
              stats[p.window].records += p.records - last.records;
              stats[p.window].bytes += p.bytes - last.bytes;
            }
            last = { records: p.records, bytes: p.bytes };
            progress.schedule(p);
          },
        });
        for await (const b of it) {
          raw.push(b.bytes);
          flatten(writer.push(b.bytes));
        }
        flatten(writer.finish());
        if (rows.length < TABLE_MAX) keep(parser.finish());
        const summary = await it.result();
        const flat = writer.takeMeta();
        progress.flush();
        showResult({ summary, seconds: (performance.now() - started) / 1000, asked, windows, explode, header: parser.header() || flat.header, rows, raw, csvText, lateFields: flat.lateFields, flatRows: flat.rows });
      } catch (e) {
        showError(e);
      } finally {
        progress.stop();
        writer.free();
        parser.free();
      }
    });
  }

  function showError(e) {
    const box = runErrorBox(e, "act-error");
    if (e.code === "E_ABORTED") box.append(h("p", {}, "Cancelled: no further request was made."));
    else if (e.code === "E_JOB_FAILED") box.append(h("p", {}, `The API reports job ${e.jobId} as ${e.state}: its data cannot be downloaded. Start the export again.`));
    else if (e.code === "E_AUTH") box.append(h("p", {}, "The API refused the credentials. Check the client id and secret in Settings."));
    else box.append(h("p", {}, `${e.code || "Error"}${e.field ? ` (${e.field})` : ""}: ${e.message}`));
    if (e.delivered && e.delivered.bytes) {
      box.append(h("p", {}, `${formatBytes(e.delivered.bytes)} had arrived before it stopped; nothing is offered for download from an incomplete export.`));
    }
    replace(message, box);
  }

  /** The request that starts the export's first job, for the shell. */
  function curlFor(asked, windows) {
    const w = windows[0];
    const body = { start_date: w.startDate, end_date: w.endDate, activity_type: w.activityType, output_format: "JSONLines", export_type: w.exportType };
    const notes = ["Backstory Raw Activity Data: start an export job (the first request of this run)."];
    if (windows.length > 1) notes.push(`This run had ${windows.length} jobs (${asked.startDate} to ${asked.endDate} in windows of at most 14 days); repeat with each window's dates.`);
    notes.push(`Then GET ${JOBS_PATH}/{job_id} until "state" is "Completed", and GET ${JOBS_PATH}/{job_id}/data?fragment=N for N from 0 to "fragment" - 1.`);
    return curlRequest({ api: "backstory", baseUrl: settings.values.baseUrl, proxyUrl: settings.proxy.backstory, path: JOBS_PATH, body, notes });
  }

  function showResult({ summary, seconds, asked, windows, explode, header, rows, raw, csvText, lateFields, flatRows }) {
    const out = [
      h(
        "div",
        { class: "result-head" },
        h(
          "p",
          { class: "result-summary", "data-testid": "act-summary" },
          `${formatInt(summary.records)} records${flatRows !== summary.records ? ` · ${formatInt(flatRows)} table rows` : ""} · ${summary.jobs.length} job${summary.jobs.length === 1 ? "" : "s"} · ${formatBytes(summary.bytes)} · ${seconds.toFixed(1)} s`,
        ),
      ),
    ];
    if (summary.errorsTotal) {
      out.push(
        h(
          "div",
          { class: "warn-box", "data-testid": "act-data-errors" },
          h("p", {}, h("strong", {}, `${formatInt(summary.errorsTotal)} record(s) could not be read and are left out of the table and the CSV.`)),
          h("ul", {}, summary.errors.slice(0, 5).map((er) => h("li", {}, `Job ${er.jobId}, fragment ${er.fragment}, line ${er.line}: ${er.message}`))),
        ),
      );
    }
    // More bytes than the job's results_size announced: every line arrived whole, so this is a
    // note about the vendor's count, not missing data (fewer bytes fails the run instead).
    if (summary.warnings?.length) {
      out.push(
        h(
          "div",
          { class: "warn-box", "data-testid": "act-warnings" },
          h("p", {}, h("strong", {}, "The vendor sent more data than its job said it would. Every record arrived whole; nothing is missing.")),
          h("ul", {}, summary.warnings.slice(0, 5).map((w) => h("li", { "data-code": w.code }, `Job ${w.jobId}: ${w.message}`))),
        ),
      );
    }
    if (lateFields.length) {
      out.push(h("div", { class: "warn-box", "data-testid": "act-late-fields" }, h("p", {}, `Fields that first appeared after the CSV header was written (not in the table or the CSV; they are in the JSON Lines): ${lateFields.map((l) => l.column).join(", ")}`)));
    }
    if (flatRows > rows.length) {
      out.push(
        h(
          "div",
          { class: "warn-box", "data-testid": "act-table-cut" },
          h("p", {}, `The table, its chart and the guarded CSV hold the first ${formatInt(rows.length)} of ${formatInt(flatRows)} rows. “Keep raw values” and JSON Lines download everything.`),
        ),
      );
    }
    const col = (name) => header.indexOf(name);
    const preview = resultPreview({
      header,
      rows,
      label: "Activities",
      testid: "act-table",
      download: {
        name: `activities-${asked.startDate}-${asked.endDate}`,
        testid: "act-download",
        rawCsv: csvText,
        records: () => raw,
        curl: () => curlFor(asked, windows),
      },
      charts:
        col("timestamp") >= 0 && col("type") >= 0
          ? [
              (view) =>
                dayChart({
                  rows,
                  view,
                  dayCol: col("timestamp"),
                  typeCol: col("type"),
                  recordCol: explode ? col("uid") : -1,
                  from: asked.startDate,
                  to: asked.endDate,
                  types: labelled(activityTypes, TYPE_LABELS).filter(([t]) => t !== "all"),
                  title: "Activities per day by type",
                  noun: "activities",
                  testid: "act-chart",
                }),
            ]
          : [],
    });
    runs.keep(preview);
    out.push(preview.element);
    replace(resultBox, out);
  }

  settings.onChange(() => replan());
  replan();
  return { id: "activities", title: "Activities", element, onShow: replan };
}
