// The Userpilot panel: an export form (dates, event types, users, companies, a segment picked
// from the segments lookup), a run with job progress and per-file download progress, every event
// in the shared preview (sort, filter, events per day by type) with the downloads and the curl;
// and a browser for the twelve lookups, with cursor pages.

import { recordParts } from "./csv-guard.js";
import { curlRequest } from "./curl.js";
import { dayChart } from "./day-chart.js";
import { formatBytes, formatInt, h, isoDate, nextId, replace, select } from "./dom.js";
import { resultPreview } from "./preview.js";
import { createRunController, runErrorBox } from "./run-controller.js";
import { vocabulary } from "../js/vocabulary.js";
import { explainError } from "./run-errors.js";

/** Events kept in memory for the table and the downloads; past this the page says it was cut. */
const KEEP_MAX = 500_000;
const EXPORTS_PATH = "/api/v1/analytics/exports/";
const EVENT_COLUMNS = ["app_token", "event_type", "event_name", "user_id", "company_id", "source", "inserted_at", "internal_event_id", "metadata"];
const LABELS = {
  identify_user: "Identify user",
  identify_company: "Identify company",
  page_view: "Page view",
  track: "Track (custom event)",
  track_feature: "Feature used",
  interaction: "Interaction (flows, surveys…)",
};

/** Ids typed one per line or separated by commas. */
export function parseIds(text) {
  return [...new Set(String(text).split(/[\n,]/).map((s) => s.trim()).filter(Boolean))];
}

function daysAgo(n) {
  const d = new Date();
  d.setDate(d.getDate() - n);
  return isoDate(d);
}

function cell(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function errorBox(e, settings) {
  const code = e && e.code;
  const msg = String((e && e.message) || e);
  const box = runErrorBox(e, "up-error");
  switch (code) {
    case "E_CONFLICT":
      box.append(
        h("p", {}, `Another export is already running${e.jobId ? ` (job ${e.jobId})` : ""}. Userpilot allows one at a time.`),
        h("p", {}, "Tick “Wait for a running export” to start this one as soon as it ends."),
      );
      break;
    case "E_SETTINGS":
      box.append(h("p", {}, msg));
      break;
    default:
      box.append(
        ...explainError(e, {
          service: "Userpilot",
          credentials: "API key",
          baseUrl: settings.values.userpilotBaseUrl,
          openSettings: () => settings.revealUserpilot(),
          proxied: !!settings.proxy.userpilot,
        }),
      );
  }
  return box;
}

export function createUserpilotPanel({ lib, settings }) {
  const EVENT_TYPES = [...lib.USERPILOT_EVENT_TYPES];
  const LOOKUPS = [...lib.USERPILOT_LOOKUPS];
  const ids = { from: nextId("up"), to: nextId("up"), users: nextId("up"), companies: nextId("up"), segment: nextId("up"), format: nextId("up"), lookup: nextId("up"), limit: nextId("up") };

  // ------------------------------------------------------------ the export form
  const fromInput = h("input", { id: ids.from, type: "date", value: daysAgo(14), required: true, "data-testid": "up-from" });
  const toInput = h("input", { id: ids.to, type: "date", value: daysAgo(1), required: true, "data-testid": "up-to" });
  const typeBoxes = EVENT_TYPES.map((t) =>
    h("input", { type: "checkbox", value: t, checked: true, id: nextId("up-type"), "data-testid": `up-type-${t}` }),
  );
  const usersArea = h("textarea", { id: ids.users, rows: 3, spellcheck: "false", placeholder: "All users", "data-testid": "up-users" });
  const companiesArea = h("textarea", { id: ids.companies, rows: 3, spellcheck: "false", placeholder: "All companies", "data-testid": "up-companies" });
  const seenUsers = h("ul", { class: "chips", "data-testid": "up-seen-users", "aria-label": "Users seen in the last export" });
  const seenCompanies = h("ul", { class: "chips", "data-testid": "up-seen-companies", "aria-label": "Companies seen in the last export" });
  const segmentSelect = select({ id: ids.segment, "data-testid": "up-segment" }, [["", "No segment (everyone)"]], "");
  const segmentNote = h("p", { class: "hint", "data-testid": "up-segment-note" }, "Segments load from the segments lookup.");
  const formatSelect = select({ id: ids.format, "data-testid": "up-format" }, [["json", "JSON Lines"], ["csv", "CSV"]], "json");
  const dedupeBox = h("input", { type: "checkbox", checked: true, id: nextId("up"), "data-testid": "up-dedupe" });
  const exclusionsBox = h("input", { type: "checkbox", id: nextId("up"), "data-testid": "up-exclusions" });
  const waitBox = h("input", { type: "checkbox", id: nextId("up"), "data-testid": "up-wait" });
  const runButton = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "up-run" }, "Start export");
  const cancelButton = h("button", { type: "button", class: "btn", hidden: true, "data-testid": "up-cancel" }, "Cancel");
  const runs = createRunController({ runButton, cancelButton, cancelHides: true });
  const message = h("div", { "data-testid": "up-message", "aria-live": "polite" });
  const progressText = h("p", { class: "progress-text", "data-testid": "up-progress" });
  const progressBar = h("progress", { class: "progress-bar", max: 1, value: 0, "aria-label": "Export progress" });
  const filesList = h("ol", { class: "up-files", "data-testid": "up-files", "aria-label": "Files" });
  const progressBox = h("div", { class: "up-progress", hidden: true }, h("div", { class: "progress", role: "status" }, progressBar, progressText), filesList);
  const resultBox = h("div", { class: "result", "data-testid": "up-result" });
  const paramsPreview = h("pre", { class: "json-preview", "data-testid": "up-params" });

  const checkRow = (box, label) => h("label", { class: "check", for: box.id }, box, " ", label);

  function params() {
    const p = { from: fromInput.value, to: toInput.value, format: formatSelect.value };
    const types = typeBoxes.filter((b) => b.checked).map((b) => b.value);
    if (types.length && types.length < EVENT_TYPES.length) p.eventType = types;
    const users = parseIds(usersArea.value);
    if (users.length) p.userId = users;
    const companies = parseIds(companiesArea.value);
    if (companies.length) p.companyId = companies;
    if (segmentSelect.value) p.segmentId = segmentSelect.value;
    if (exclusionsBox.checked) p.exclusions = true;
    return p;
  }

  /** Validates with the client's own rules; shows the wire body or the error. */
  function validate() {
    const p = params();
    if (!typeBoxes.some((b) => b.checked)) {
      replace(paramsPreview, "Pick at least one event type.");
      return null;
    }
    try {
      const wire = settings.userpilotProblem() ? p : settings.userpilot().exports.validate(p);
      replace(paramsPreview, JSON.stringify(wire, null, 2));
      paramsPreview.classList.remove("invalid");
      return p;
    } catch (e) {
      replace(paramsPreview, e.field ? `${e.field}: ${e.message}` : e.message);
      paramsPreview.classList.add("invalid");
      return null;
    }
  }

  let last = null;

  function showProgress(text, fraction) {
    progressBox.hidden = false;
    replace(progressText, text);
    if (fraction === null) progressBar.removeAttribute("value");
    else progressBar.value = Math.max(0, Math.min(1, fraction));
  }

  /** One line per file of the job: events read from it and whether it is done. */
  function renderFiles(names, counts, done, current) {
    replace(
      filesList,
      names.map((name, k) => {
        const state = k < done ? "done" : k === current ? "reading" : "waiting";
        return h(
          "li",
          { "data-testid": `up-file-${k}`, "data-state": state },
          h("span", { class: "up-file-name" }, name),
          h("span", { class: "badge", "data-state": state }, state),
          h("span", { "data-testid": `up-file-events-${k}` }, `${formatInt(counts[k] || 0)} events`),
        );
      }),
    );
  }

  async function run(e) {
    e?.preventDefault();
    const problem = settings.userpilotProblem();
    if (problem) {
      replace(message, h("div", { class: "error-box", "data-testid": "up-error", "data-code": "E_SETTINGS" }, h("p", {}, problem)));
      settings.revealUserpilot();
      return;
    }
    const p = validate();
    if (!p) {
      replace(message, h("div", { class: "error-box", "data-testid": "up-error", "data-code": "E_INVALID_ARGUMENT" }, h("p", {}, paramsPreview.textContent)));
      return;
    }
    const up = settings.userpilot();
    const wire = up.exports.validate(p);
    await runs.run(async (signal) => {
      replace(message);
      replace(resultBox);
      replace(filesList);
      const started = performance.now();
      const kept = [];
      let header = null;
      let count = 0;
      try {
        showProgress("Starting the export…", null);
        const job = await up.exports.start(p, {
          signal,
          waitForRunning: waitBox.checked,
          onWaiting: (id) => showProgress(`Another export is running${id ? ` (${id})` : ""}; waiting for it to end…`, null),
        });
        showProgress(`Job ${job.jobId} started…`, 0);
        const ready = await up.exports.wait(job.jobId, {
          signal,
          onProgress: (j) => {
            const pr = j.progress;
            showProgress(pr ? `Job ${j.jobId}: ${pr.done} of ${pr.total} partitions` : `Job ${j.jobId}: ${j.status}`, pr && pr.total ? pr.done / pr.total : null);
          },
        });
        const names = ready.presignedUrls.map((f) => f.filename);
        const counts = [];
        let current = 0;
        let done = 0;
        renderFiles(names, counts, done, current);
        const it = up.exports.rows(job.jobId, {
          signal,
          dedupe: dedupeBox.checked,
          onProgress: (pr) => {
            done = pr.filesDone;
            showProgress(
              `Downloading: ${pr.filesDone} of ${pr.filesTotal} files · ${formatInt(pr.records)} events · ${formatBytes(pr.bytes)}`,
              pr.filesTotal ? pr.filesDone / pr.filesTotal : null,
            );
            renderFiles(names, counts, done, current);
          },
        });
        for await (const b of it) {
          current = b.file;
          if (b.format === "json") {
            counts[b.file] = (counts[b.file] || 0) + b.records.length;
            for (const r of b.records) {
              count++;
              if (kept.length < KEEP_MAX) kept.push(r);
            }
          } else {
            header = header ?? b.header;
            counts[b.file] = (counts[b.file] || 0) + b.rows.length;
            for (const r of b.rows) {
              count++;
              if (kept.length < KEEP_MAX) kept.push(r);
            }
          }
        }
        const summary = await it.result();
        renderFiles(names, counts, names.length, -1);
        last = { job, wire, params: p, format: p.format, header, kept, count, summary };
        showProgress(`Done: ${formatInt(count)} events from ${summary.files.length} files · ${formatBytes(summary.bytes)}`, 1);
        showResult((performance.now() - started) / 1000);
        rememberSeen(kept, header);
      } catch (err) {
        progressBox.hidden = err?.code !== "E_ABORTED";
        if (err?.code === "E_ABORTED") showProgress("Cancelled: no further request was made.", 0);
        replace(message, errorBox(err, settings));
      }
    });
  }

  /** Users and companies seen in the last export, offered as one-click picks. */
  function rememberSeen(kept, header) {
    const users = new Set();
    const companies = new Set();
    const ui = header ? header.indexOf("user_id") : -1;
    const ci = header ? header.indexOf("company_id") : -1;
    for (const r of kept.slice(0, 5000)) {
      const u = header ? r[ui] : r.user_id;
      const c = header ? r[ci] : r.company_id;
      if (u) users.add(u);
      if (c) companies.add(c);
    }
    const chips = (list, area) =>
      [...list].slice(0, 12).map((id) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "btn btn-small",
              on: {
                click: () => {
                  area.value = parseIds(`${area.value}\n${id}`).join("\n");
                  validate();
                },
              },
            },
            id,
          ),
        ),
      );
    replace(seenUsers, chips(users, usersArea));
    replace(seenCompanies, chips(companies, companiesArea));
  }

  /** The table's rows: a CSV export's rows as they are, JSON events one column per field. */
  function tableRows() {
    if (last.header) return { header: last.header, rows: last.kept };
    return { header: EVENT_COLUMNS, rows: last.kept.map((r) => EVENT_COLUMNS.map((c) => cell(r[c]))) };
  }

  function curlFor(wire) {
    return curlRequest({
      api: "userpilot",
      baseUrl: settings.values.userpilotBaseUrl,
      proxyUrl: settings.proxy.userpilot,
      path: EXPORTS_PATH,
      body: wire,
      notes: [
        "Userpilot Bulk Data Export: start the export job (the first request of this run).",
        `Then GET ${EXPORTS_PATH}jobs/{job_id} until "status" is "completed", and download each of its "presigned_urls" (gzip).`,
      ],
    });
  }

  function showResult(seconds) {
    const { summary, count, wire, params, kept } = last;
    const parts = [
      h(
        "div",
        { class: "result-head" },
        h(
          "p",
          { class: "result-summary", "data-testid": "up-summary" },
          `${formatInt(count)} events · ${summary.files.length} files` +
            (summary.duplicates ? ` · ${formatInt(summary.duplicates)} duplicates dropped` : "") +
            (summary.renewals ? ` · ${summary.renewals} expired link${summary.renewals === 1 ? "" : "s"} renewed` : "") +
            ` · ${seconds.toFixed(1)} s`,
        ),
      ),
    ];
    if (last.kept.length < count) {
      parts.push(h("div", { class: "warn-box" }, h("p", {}, `Only the first ${formatInt(last.kept.length)} events are kept in this page for the table and the downloads; use the CLI for the whole export.`)));
    }
    if (summary.errors.length) {
      parts.push(
        h(
          "div",
          { class: "warn-box", "data-testid": "up-row-errors" },
          h("p", {}, h("strong", {}, `${formatInt(summary.errors.length)} record(s) could not be read.`)),
          h("ul", {}, summary.errors.slice(0, 5).map((er) => h("li", {}, `${er.filename} line ${er.line}: ${er.message}`))),
        ),
      );
    }
    const { header, rows } = tableRows();
    const col = (name) => header.indexOf(name);
    const preview = resultPreview({
      header,
      rows,
      label: "Events",
      testid: "up-preview",
      download: {
        name: `userpilot-${last.job.jobId}`,
        testid: "up-download",
        records: last.header ? null : () => recordParts(kept),
        curl: () => curlFor(wire),
      },
      charts:
        col("inserted_at") >= 0 && col("event_type") >= 0
          ? [
              (view) =>
                dayChart({
                  rows,
                  view,
                  dayCol: col("inserted_at"),
                  typeCol: col("event_type"),
                  unit: "us",
                  from: params.from,
                  to: params.to,
                  types: EVENT_TYPES.map((t) => [t, LABELS[t] ?? t]),
                  title: "Events per day by type",
                  noun: "events",
                  testid: "up-chart",
                }),
            ]
          : [],
    });
    runs.keep(preview);
    parts.push(preview.element);
    replace(resultBox, parts);
  }

  // ------------------------------------------------------------ segments from the lookup
  let segmentsFor = "";
  async function loadSegments() {
    if (settings.userpilotProblem()) return;
    const key = JSON.stringify([settings.values.userpilotBaseUrl, settings.values.userpilotApiKey]);
    if (key === segmentsFor) return;
    segmentsFor = key;
    try {
      const list = await settings.userpilot().lookups.all("segments", { limit: 200 });
      const current = segmentSelect.value;
      const options = [["", "No segment (everyone)"]].concat(
        list.filter((s) => !s.is_archived).map((s) => [String(s.id), `${s.title}${s.type ? ` (${s.type})` : ""}`]),
      );
      replace(segmentSelect, options.map(([v, l]) => h("option", { value: v, selected: v === current }, l)));
      replace(segmentNote, `${formatInt(options.length - 1)} segments from the segments lookup.`);
    } catch (e) {
      segmentsFor = "";
      replace(segmentNote, `Could not load segments: ${e.message}`);
    }
  }

  // ------------------------------------------------------------ the lookups browser
  const lookupSelect = select({ id: ids.lookup, "data-testid": "up-lookup-name" }, LOOKUPS, "segments");
  const limitInput = h("input", { id: ids.limit, type: "number", min: 1, max: 1000, value: 50, "data-testid": "up-lookup-limit" });
  const lookupMessage = h("div", { "aria-live": "polite", "data-testid": "up-lookup-message" });
  const lookupResult = h("div", { class: "result", "data-testid": "up-lookup-result" });
  const paginated = () => vocabulary().userpilot.paginatedLookups.includes(lookupSelect.value);
  let shownItems = [];
  let nextCursor = null;

  let lookupPreview = null;
  function renderLookup(name, meta) {
    const keys = [];
    for (const item of shownItems) {
      if (item && typeof item === "object") for (const k of Object.keys(item)) if (!keys.includes(k)) keys.push(k);
    }
    const header = keys.length ? keys : ["value"];
    const rows = shownItems.map((item) => (keys.length ? keys.map((k) => cell(item[k])) : [cell(item)]));
    const more = nextCursor
      ? h("button", { type: "button", class: "btn", "data-testid": "up-lookup-next", on: { click: () => loadLookup(false) } }, "Next page")
      : null;
    const items = shownItems;
    lookupPreview?.destroy();
    lookupPreview = resultPreview({
      header,
      rows,
      label: `Lookup ${name}`,
      testid: "up-lookup-table",
      download: { name: `userpilot-${name}`, testid: "up-lookup-download", records: () => recordParts(items) },
    });
    replace(
      lookupResult,
      h("p", { class: "result-summary", "data-testid": "up-lookup-summary" }, `${name}: ${formatInt(shownItems.length)} items shown${meta}`),
      more,
      lookupPreview.element,
    );
  }

  async function loadLookup(fresh, all = false) {
    const problem = settings.userpilotProblem();
    if (problem) {
      replace(lookupMessage, h("div", { class: "error-box" }, h("p", {}, problem)));
      settings.revealUserpilot();
      return;
    }
    const name = lookupSelect.value;
    const up = settings.userpilot();
    replace(lookupMessage, "Loading…");
    try {
      if (fresh) {
        shownItems = [];
        nextCursor = null;
      }
      const limit = paginated() ? Number(limitInput.value) || undefined : undefined;
      if (all) {
        let pages = 0;
        let total = null;
        for await (const p of up.lookups.pages(name, limit ? { limit } : {})) {
          pages++;
          total = p.totalCount ?? total;
          shownItems.push(...p.data);
          replace(lookupMessage, `Page ${pages}: ${formatInt(shownItems.length)} items…`);
        }
        nextCursor = null;
        replace(lookupMessage);
        renderLookup(name, ` · all ${pages} page${pages === 1 ? "" : "s"} walked${total !== null ? ` · total ${formatInt(total)}` : ""}`);
        return;
      }
      const page = await up.lookups.get(name, paginated() ? { limit, ...(nextCursor ? { afterCursor: nextCursor } : {}) } : {});
      shownItems.push(...page.data);
      nextCursor = page.after;
      replace(lookupMessage);
      renderLookup(name, page.totalCount !== null ? ` of ${formatInt(page.totalCount)}` : "");
    } catch (e) {
      replace(lookupMessage, errorBox(e, settings));
    }
  }

  const typeFieldset = h(
    "fieldset",
    { class: "block" },
    h("legend", {}, "Event types"),
    h("div", { class: "checks" }, typeBoxes.map((b) => checkRow(b, LABELS[b.value] ?? b.value))),
    h("p", { class: "hint" }, "All ticked sends none: Userpilot's default is every type."),
  );

  const form = h(
    "form",
    { class: "up-form", "data-testid": "up-form", novalidate: true, on: { submit: run, input: () => validate(), change: () => validate() } },
    h(
      "div",
      { class: "up-grid" },
      h("div", { class: "field" }, h("label", { for: ids.from }, "From"), fromInput),
      h("div", { class: "field" }, h("label", { for: ids.to }, "To (inclusive)"), toInput),
      h("div", { class: "field" }, h("label", { for: ids.format }, "Format"), formatSelect),
      h("div", { class: "field" }, h("label", { for: ids.segment }, "Segment"), segmentSelect, segmentNote),
    ),
    typeFieldset,
    h(
      "div",
      { class: "up-grid" },
      h("div", { class: "field" }, h("label", { for: ids.users }, "User ids (one per line)"), usersArea, seenUsers),
      h("div", { class: "field" }, h("label", { for: ids.companies }, "Company ids (one per line)"), companiesArea, seenCompanies),
    ),
    h(
      "div",
      { class: "checks" },
      checkRow(dedupeBox, "Drop events repeated across files (by internal_event_id)"),
      checkRow(exclusionsBox, "Leave out the users and companies excluded in Userpilot"),
      checkRow(waitBox, "Wait for a running export instead of failing"),
    ),
    h("details", { class: "block" }, h("summary", {}, "Request body"), paramsPreview),
    h("div", { class: "runbar" }, h("div", { class: "runbar-buttons" }, runButton, cancelButton)),
  );

  const element = h(
    "section",
    { class: "panel", "data-testid": "userpilot-panel" },
    h("p", { class: "lede" }, "Export Userpilot analytics events (Bulk Data Export): a job runs on Userpilot's side, then its gzip files are downloaded, decompressed and read in this page."),
    h("h2", {}, "Export"),
    form,
    message,
    progressBox,
    resultBox,
    h("h2", {}, "Lookups"),
    h(
      "div",
      { class: "up-grid" },
      h("div", { class: "field" }, h("label", { for: ids.lookup }, "Lookup"), lookupSelect),
      h("div", { class: "field" }, h("label", { for: ids.limit }, "Page size (paginated lookups)"), limitInput),
    ),
    h(
      "div",
      { class: "runbar-buttons" },
      h("button", { type: "button", class: "btn", "data-testid": "up-lookup-load", on: { click: () => loadLookup(true) } }, "Load"),
      h("button", { type: "button", class: "btn", "data-testid": "up-lookup-all", on: { click: () => loadLookup(true, true) } }, "Load all pages"),
    ),
    lookupMessage,
    lookupResult,
  );

  settings.onChange((field) => {
    if (String(field).startsWith("userpilot")) {
      loadSegments();
      validate();
    }
  });
  validate();

  return {
    id: "userpilot",
    title: "Userpilot",
    element,
    onShow: () => {
      loadSegments();
      validate();
    },
  };
}
