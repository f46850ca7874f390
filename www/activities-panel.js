// The Activities panel: start a Raw Activity Data export, watch each job's state and a progress
// bar per fragment, preview the first records as text, download CSV or JSON Lines.

import { formatBytes, formatInt, h, isoDate, nextId, replace, select } from "./dom.js";

const PREVIEW_RECORDS = 20;
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

export function createActivitiesPanel({ settings }) {
  if (!document.querySelector("link[data-ek='activities-panel']")) {
    document.head.append(h("link", { rel: "stylesheet", href: new URL("./activities-panel.css", import.meta.url).href, "data-ek": "activities-panel" }));
  }
  let controller = null;
  let parts = [];
  let result = null;

  const startInput = h("input", { type: "date", value: daysAgo(14), "data-testid": "act-start", on: { input: replan } });
  const endInput = h("input", { type: "date", value: daysAgo(1), "data-testid": "act-end", on: { input: replan } });
  const typeSelect = select({ "data-testid": "act-type", on: { change: replan } }, [["all", "All"], ["email", "Emails"], ["meeting", "Meetings"], ["call", "Calls"]], "all");
  const exportSelect = select(
    { "data-testid": "act-export-type", on: { change: replan } },
    [
      ["delta", "Delta (any range, 14 days per job)"],
      ["snapshot", "Snapshot (at most a year, one job)"],
    ],
    "delta",
  );
  const formatSelect = select(
    { "data-testid": "act-format", on: { change: () => (explodeBox.hidden = formatSelect.value !== "csv") } },
    [
      ["csv", "CSV (nested fields as columns)"],
      ["jsonl", "JSON Lines (as the API sends them)"],
    ],
    "csv",
  );
  const explodeCheck = h("input", { type: "checkbox", "data-testid": "act-explode" });
  const explodeBox = h("div", { class: "act-explode" }, h("label", { class: "check" }, explodeCheck, "CSV: one row per participant (otherwise participants are one JSON cell)"));
  const concurrencyInput = h("input", { type: "number", min: "1", max: "6", value: "4", "data-testid": "act-concurrency" });

  const planBox = h("div", { class: "validation", "aria-live": "polite", "data-testid": "act-plan" });
  const runBtn = h("button", { type: "button", class: "btn btn-primary", "data-testid": "act-run", on: { click: run } }, "Start export");
  const cancelBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "act-cancel", on: { click: () => controller?.abort() } }, "Cancel");
  const progressText = h("p", { class: "progress-text", "data-testid": "act-progress-text" });
  const jobsList = h("ol", { class: "act-jobs", "data-testid": "act-jobs" });
  const fragList = h("ol", { class: "act-frags", "data-testid": "act-fragments" });
  const progressBox = h(
    "div",
    { class: "act-progress", hidden: true, role: "status", "data-testid": "act-progress" },
    progressText,
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
        field("Format", formatSelect),
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

  function renderJobs(windows, jobs) {
    replace(
      jobsList,
      windows.map((w, i) => {
        const j = jobs[i];
        return h(
          "li",
          { "data-testid": `act-job-${i}` },
          h("span", { class: "row-num" }, String(i + 1)),
          h("span", {}, `${w.startDate} to ${w.endDate}`),
          h("span", { class: "badge", "data-state": j ? j.state : "not started", "data-testid": `act-job-state-${i}` }, j ? j.state : "not started"),
          j ? h("code", { "data-testid": `act-job-id-${i}` }, j.jobId) : null,
        );
      }),
    );
  }

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
      items.push(h("li", { "data-testid": `act-fragment-${k}`, "data-state": state }, h("span", { class: "row-num" }, String(k)), bar, h("span", {}, state)));
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
    const format = formatSelect.value;
    const concurrency = Number(concurrencyInput.value);
    controller = new AbortController();
    const ctrl = controller;
    runBtn.disabled = true;
    cancelBtn.disabled = false;
    progressBox.hidden = false;
    replace(resultBox);
    parts = [];
    result = null;
    const jobs = [];
    const preview = [];
    let head = "";
    const decoder = new TextDecoder();
    renderJobs(windows, jobs);
    replace(fragList);
    const started = performance.now();
    try {
      const it = bs.activities.export(params(), {
        signal: ctrl.signal,
        format,
        explode: format === "csv" && explodeCheck.checked ? "participants" : undefined,
        concurrency,
        onJob: (job, w) => {
          jobs[w] = job;
          renderJobs(windows, jobs);
        },
        onProgress: (p) => {
          progressText.textContent = `${PHASES[p.phase] || p.phase} · jobs ${p.windowsDone}/${p.windows} · ${formatInt(p.rows)} rows · ${formatBytes(p.bytes)}`;
          progressText.dataset.phase = p.phase;
          if (p.phase === "downloading" || p.phase === "done") renderFragments(p);
        },
      });
      for await (const b of it) {
        if (b.kind === "csv") {
          parts.push(b.csv);
          if (head.length < 20000) head += b.csv.slice(0, 20000 - head.length);
        } else {
          // The download keeps the bytes exactly as the API sent them.
          parts.push(b.bytes);
          if (head.length < 200000) head += decoder.decode(b.bytes, { stream: true });
        }
      }
      const summary = await it.result();
      const seconds = (performance.now() - started) / 1000;
      result = { format, summary };
      if (format !== "csv") {
        for (const line of head.split("\n").slice(0, PREVIEW_RECORDS)) {
          try {
            preview.push(JSON.parse(line));
          } catch {
            // A line cut at the preview's end, or one the API sent malformed (listed below).
          }
        }
      }
      showResult(summary, seconds, format === "csv" ? head : preview);
    } catch (e) {
      showError(e);
    } finally {
      if (controller === ctrl) controller = null;
      runBtn.disabled = false;
      cancelBtn.disabled = true;
    }
  }

  function showError(e) {
    const box = h("div", { class: e.code === "E_ABORTED" ? "note-box" : "error-box", "data-testid": "act-error", "data-code": e.code || "" });
    if (e.code === "E_ABORTED") box.append(h("p", {}, "Cancelled."));
    else if (e.code === "E_JOB_FAILED") box.append(h("p", {}, `The API reports job ${e.jobId} as ${e.state}: its data cannot be downloaded. Start the export again.`));
    else if (e.code === "E_AUTH") box.append(h("p", {}, "The API refused the credentials. Check the client id and secret in Settings."));
    else box.append(h("p", {}, `${e.code || "Error"}${e.field ? ` (${e.field})` : ""}: ${e.message}`));
    if (e.delivered && (e.delivered.records || e.delivered.rows)) {
      box.append(h("p", {}, `${formatInt(e.delivered.records || e.delivered.rows)} rows had arrived before it stopped; the download below is not offered for an incomplete export.`));
    }
    replace(message, box);
  }

  function showResult(summary, seconds, preview) {
    const isCsv = result.format === "csv";
    const out = [
      h(
        "div",
        { class: "result-head" },
        h(
          "p",
          { class: "result-summary", "data-testid": "act-summary" },
          `${formatInt(summary.records)} records${isCsv && summary.rows !== summary.records ? ` · ${formatInt(summary.rows)} CSV rows` : ""} · ${summary.jobs.length} job${summary.jobs.length === 1 ? "" : "s"} · ${formatBytes(summary.bytes)} · ${seconds.toFixed(1)} s`,
        ),
        h("button", { type: "button", class: "btn btn-primary", "data-testid": "act-download", on: { click: download } }, isCsv ? "Download CSV" : "Download JSON Lines"),
      ),
    ];
    if (summary.errorsTotal) {
      out.push(
        h(
          "div",
          { class: "warn-box", "data-testid": "act-data-errors" },
          h("p", {}, h("strong", {}, `${formatInt(summary.errorsTotal)} record(s) could not be read and are left out.`)),
          h("ul", {}, summary.errors.slice(0, 5).map((er) => h("li", {}, `Job ${er.jobId}, fragment ${er.fragment}, line ${er.line}: ${er.message}`))),
        ),
      );
    }
    if (summary.lateFields.length) {
      out.push(h("div", { class: "warn-box", "data-testid": "act-late-fields" }, h("p", {}, `Fields that first appeared after the CSV header was written (not in the CSV): ${summary.lateFields.map((l) => l.column).join(", ")}`)));
    }
    const text = isCsv ? preview : preview.map((r) => JSON.stringify(r, null, 2)).join("\n\n");
    out.push(
      h("h3", {}, isCsv ? "Start of the CSV" : `First ${Math.min(PREVIEW_RECORDS, summary.records)} records`),
      h("pre", { class: "json-preview", tabindex: "0", "data-testid": "act-preview" }, text || "(no records)"),
    );
    replace(resultBox, out);
  }

  let lastUrl = null;
  function download() {
    if (!result) return;
    const isCsv = result.format === "csv";
    const blob = new Blob(parts, { type: isCsv ? "text/csv;charset=utf-8" : "application/x-ndjson" });
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(blob);
    const p = params();
    const a = h("a", { href: lastUrl, download: `activities-${p.startDate}-${p.endDate}-${isoDate()}.${isCsv ? "csv" : "jsonl"}`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
  }

  settings.onChange(() => replan());
  replan();
  return { id: "activities", title: "Activities", element, onShow: replan };
}
