// The Query panel: build a Backstory Query API export, see the JSON it will send, run it, watch
// its progress, preview every row (sort, filter), download CSV or JSON Lines, copy the request as
// curl, save queries in this browser and share them as links.

import { chartPanel } from "./charts.js";
import { formatBytes, formatDuration, formatInt, h, icon, nextId, replace, select } from "./dom.js";
import {
  defaultState,
  fromWire,
  keyForField,
  newColumn,
  newSort,
  slugsOf,
  toWire,
  unknownSlugs,
} from "./query-model.js";
import { resultPreview } from "./preview.js";
import { createFilterTree } from "./query-filter-tree.js";
import { createJsonEditor } from "./query-json-editor.js";
import { createQueryTools } from "./query-tools.js";
import { dragHandle } from "./reorder.js";
import { createRunController, frameThrottle, runErrorBox } from "./run-controller.js";
import { explainError } from "./run-errors.js";
import { queryFromHash } from "./saved-queries.js";

const DAILY_LIMIT = 10;
const USED_KEY = "exportkit.usedSlugs.v1";
const PHASES = {
  token: "Getting an access token",
  request: "Waiting for the export",
  download: "Receiving the CSV",
  done: "Done",
};

// ------------------------------------------------------------ slug suggestions

function readUsed() {
  try {
    const v = JSON.parse(localStorage.getItem(USED_KEY) || "{}");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}
function rememberUsed(object, slugs) {
  try {
    const all = readUsed();
    const list = Array.isArray(all[object]) ? all[object] : [];
    all[object] = [...new Set([...slugs, ...list])].slice(0, 200);
    localStorage.setItem(USED_KEY, JSON.stringify(all));
  } catch {
    /* storage disabled: suggestions are just not remembered */
  }
}

/** Normalise a /__sandbox/catalog answer (be tolerant of its exact shape) for one object. */
function catalogEntries(catalog, object) {
  if (!catalog || typeof catalog !== "object") return [];
  let list = catalog[object] ?? catalog.objects?.[object] ?? catalog.catalog?.[object];
  if (list && !Array.isArray(list) && typeof list === "object") list = list.columns ?? list.slugs ?? Object.values(list);
  if (!Array.isArray(list)) return [];
  return list
    .map((e) => {
      if (typeof e === "string") return { slug: e };
      if (!e || typeof e.slug !== "string") return null;
      return {
        slug: e.slug,
        label: typeof e.label === "string" ? e.label : undefined,
        timeBased: Boolean(e.timeBased ?? e.time_based),
        periods: Array.isArray(e.periods) ? e.periods : undefined,
      };
    })
    .filter(Boolean);
}

// ------------------------------------------------------------ the panel

export function createQueryPanel({ lib, settings }) {
  const OBJECTS = [...lib.OBJECTS];
  const PERIODS = [...lib.PERIODS];
  const known = (object) => {
    try {
      return (lib.knownSlugs(object) || []).map((k) => ({ slug: k.slug, label: k.label, timeBased: Boolean(k.timeBased) }));
    } catch {
      return [];
    }
  };

  let state = defaultState(OBJECTS[0], known(OBJECTS[0]));
  let pristine = true; // untouched defaults are replaced when the object changes
  let catalog = null;
  let wire = toWire(state, lib.variation);
  let invalidKeys = [];
  let placeholderClient = null;
  let slugInfo = new Map();
  // Queries whose unknown slugs the user has seen named and chose to run anyway.
  const confirmedQueries = new Set();
  let catalogReady = Promise.resolve();

  // ------------------------------------------------------------ static skeleton
  const datalistId = nextId("slugs");
  const datalist = h("datalist", { id: datalistId, "data-testid": "slug-suggestions" });
  const objectId = nextId("q");
  const objectSelect = select(
    {
      id: objectId,
      "data-key": "object",
      "data-testid": "query-object",
      on: { change: (e) => setObject(e.target.value) },
    },
    OBJECTS,
    state.object,
  );
  const columnsList = h("ol", { class: "rows columns", "data-testid": "columns" });
  const filterBox = h("div", { class: "filter-tree", "data-testid": "filters" });
  // Made below, once the validation box it points conditions at exists.
  let filterTree = null;
  const sortList = h("ol", { class: "rows sorts", "data-testid": "sorts" });
  const addColumnBtn = h(
    "button",
    { type: "button", class: "btn", "data-key": "add-column", "data-testid": "add-column", on: { click: () => addColumn() } },
    "+ Add column",
  );
  const addSortBtn = h(
    "button",
    { type: "button", class: "btn", "data-key": "add-sort", "data-testid": "add-sort", on: { click: () => addSort() } },
    "+ Add sort",
  );

  const jsonId = nextId("q");
  const editor = createJsonEditor({ id: jsonId, query: () => wire.query, apply: (value) => applyQuery(value, "Applied to the form.", true) });
  const validationId = nextId("q");
  const validationBox = h("div", { class: "validation", id: validationId, "aria-live": "polite", "data-testid": "validation" });

  const callsLeft = h("p", { class: "calls-left", "data-testid": "calls-left", "aria-live": "polite" });
  const runBtn = h("button", { type: "button", class: "btn btn-primary", "data-testid": "run", on: { click: () => run(false) } }, "Run export");
  const cancelBtn = h("button", { type: "button", class: "btn", disabled: true, "data-testid": "cancel" }, "Cancel");
  const progressBar = h("progress", { class: "progress-bar", "aria-label": "Export progress" });
  const progressText = h("p", { class: "progress-text", "data-testid": "progress-text" });
  const progressBox = h("div", { class: "progress", hidden: true, "data-testid": "progress", role: "status" }, progressBar, progressText);
  const runMessage = h("div", { class: "run-message", "data-testid": "run-message", role: "alert" });
  const resultBox = h("div", { class: "result", "data-testid": "result" });

  const element = h(
    "section",
    { class: "panel panel-query", "aria-labelledby": "query-heading" },
    h("h2", { id: "query-heading" }, "Query API export"),
    h(
      "p",
      { class: "lede" },
      "Export accounts, opportunities or users as CSV. Build the query, check the JSON, then run it: each run spends one of the ",
      String(DAILY_LIMIT),
      " calls the API allows a day, unless the same query ran in the last 10 minutes.",
    ),
    datalist,
    h(
      "div",
      { class: "builder-grid" },
      h(
        "form",
        { class: "builder", "aria-label": "Query builder", novalidate: true, on: { submit: (e) => (e.preventDefault(), run(false)) } },
        h(
          "div",
          { class: "builder-head" },
          h("div", { class: "field" }, h("label", { for: objectId }, "Object"), objectSelect),
          h("button", { type: "button", class: "btn btn-small btn-quiet", "data-testid": "reset-query", on: { click: resetQuery } }, "Reset query"),
        ),
        h(
          "fieldset",
          { class: "block" },
          h("legend", {}, "Columns"),
          h("p", { class: "help" }, "Type a slug (suggestions appear as you type). Time-based metrics take a period; without one the API uses the last 7 days."),
          columnsList,
          addColumnBtn,
        ),
        h(
          "fieldset",
          { class: "block" },
          h("legend", {}, "Filters"),
          h("p", { class: "help" }, "Numbers are sent as numbers; put a value in \"quotes\" to send it as text. For “in list”, separate values with commas."),
          filterBox,
        ),
        h(
          "fieldset",
          { class: "block" },
          h("legend", {}, "Sort"),
          h("p", { class: "help" }, "The first sort decides first. Drag ⠿ to reorder, or focus it and press ↑ ↓ (the arrow buttons do the same)."),
          sortList,
          addSortBtn,
        ),
      ),
      h(
        "div",
        { class: "json-side" },
        h("label", { for: jsonId, class: "json-label" }, "JSON that will be sent"),
        editor.textarea,
        editor.status,
        validationBox,
      ),
    ),
    createQueryTools({
      query: () => wire.query,
      canonical: () => JSON.stringify(validator().validateQuery(wire.query)),
      apply: (q, note) => applyQuery(q, note),
      baseUrl: () => settings.values.baseUrl,
      proxyUrl: () => settings.proxy.backstory,
    }).element,
    h("div", { class: "runbar" }, callsLeft, h("div", { class: "runbar-buttons" }, runBtn, cancelBtn)),
    progressBox,
    runMessage,
    resultBox,
  );

  // One run at a time, Cancel, the buttons and the released preview: as in every panel.
  const runs = createRunController({ runButton: runBtn, cancelButton: cancelBtn, element });

  // ------------------------------------------------------------ suggestions
  function refreshSuggestions() {
    slugInfo = new Map();
    const add = (e, source) => {
      const prev = slugInfo.get(e.slug) || {};
      slugInfo.set(e.slug, {
        slug: e.slug,
        label: prev.label || e.label,
        timeBased: prev.timeBased || e.timeBased || false,
        periods: prev.periods || e.periods,
        source: prev.source || source,
      });
    };
    known(state.object).forEach((e) => add(e, "known"));
    catalogEntries(catalog, state.object).forEach((e) => add(e, "catalog"));
    (readUsed()[state.object] || []).forEach((slug) => typeof slug === "string" && add({ slug }, "used"));
    replace(
      datalist,
      [...slugInfo.values()].map((e) =>
        h("option", { value: e.slug, label: [e.label, e.timeBased ? "time-based" : "", e.source === "used" ? "used before" : ""].filter(Boolean).join(" · ") || e.slug }),
      ),
    );
  }

  let catalogTimer = 0;
  let catalogFor = "";
  let catalogDone = () => {};
  function loadCatalog() {
    clearTimeout(catalogTimer);
    catalogDone();
    // Run waits for this, so the unknown-slug check sees the catalog of the base URL in use.
    catalogReady = new Promise((resolve) => (catalogDone = resolve));
    catalogTimer = setTimeout(async () => {
      const base = settings.values.baseUrl;
      if (!base || base === catalogFor) return catalogDone();
      catalogFor = base;
      catalog = null;
      try {
        const url = new URL(`${base}/__sandbox/catalog`);
        const res = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(5000) });
        if (res.ok) catalog = await res.json();
      } catch {
        catalog = null; // not a sandbox, or not reachable: the known slugs are enough
      }
      if (base === settings.values.baseUrl) {
        refreshSuggestions();
        renderHints();
      }
      catalogDone();
    }, 300);
  }

  const periodName = (p) => p.replaceAll("_", " ");

  /** The line under a slug box: what the slug is, and what the API will make of it. */
  function hintFor(slug, period) {
    slug = slug.trim();
    if (!slug) return { text: "" };
    const info = slugInfo.get(slug);
    if (!info) return { text: "Not a slug this page knows: check the spelling (the API drops unknown columns silently).", warn: true };
    const label = info.label || (info.source === "used" ? "used before" : "");
    if (period === undefined) return { text: label };
    const supported = info.periods;
    if (!info.timeBased) {
      if (period && period !== "custom") return { text: `${label} · not time-based: with a period the API will leave this column out`, warn: true };
      return { text: label };
    }
    if (!period) {
      if (supported && !supported.includes("last_7_days")) {
        return { text: `${label} · needs a period: ${supported.map(periodName).join(", ")}`, warn: true };
      }
      return { text: `${label} · time-based: no period means the last 7 days` };
    }
    if (period !== "custom" && supported && !supported.includes(period)) {
      return { text: `${label} · has no “${periodName(period)}” variation (only ${supported.map(periodName).join(", ")}): the API will leave it out`, warn: true };
    }
    return { text: period === "custom" ? label : `${label} · ${periodName(period)}` };
  }
  let hintFns = [];
  function renderHints() {
    for (const fn of hintFns) fn();
  }

  // ------------------------------------------------------------ state changes
  function changed({ structure = false, focusKey = null, fromJson = false } = {}) {
    pristine = false;
    wire = toWire(state, lib.variation);
    if (structure) renderForm(focusKey);
    else renderHints();
    if (!fromJson) editor.show(wire.query);
    validate();
  }

  function setObject(object) {
    if (object === state.object) return;
    if (pristine) {
      state = defaultState(object, known(object));
    } else {
      state.object = object;
    }
    const wasPristine = pristine;
    refreshSuggestions();
    changed({ structure: true, focusKey: "object" });
    pristine = wasPristine;
  }

  function resetQuery() {
    state = defaultState(state.object, known(state.object));
    changed({ structure: true, focusKey: "object" });
    pristine = true;
  }

  function addColumn() {
    const c = newColumn();
    state.columns.push(c);
    changed({ structure: true, focusKey: `${c.id}:slug` });
  }
  function addSort() {
    const s = newSort();
    state.sort.push(s);
    changed({ structure: true, focusKey: `${s.id}:slug` });
  }
  function move(list, i, delta, keyOf) {
    const j = i + delta;
    if (j < 0 || j >= list.length) return;
    [list[i], list[j]] = [list[j], list[i]];
    changed({ structure: true, focusKey: keyOf(list[j]) });
  }
  /** A drag (or an arrow key on the handle) put item `from` at `to`; the handle keeps the focus. */
  function moveTo(list, from, to) {
    const [item] = list.splice(from, 1);
    list.splice(to, 0, item);
    changed({ structure: true, focusKey: `${item.id}:drag` });
  }

  // ------------------------------------------------------------ rendering the form
  function rowButtons(list, i, noun, keyOf) {
    const item = list[i];
    const n = i + 1;
    return h(
      "div",
      { class: "row-actions" },
      list.length > 1
        ? dragHandle({ index: i, count: list.length, name: `${noun} ${n}`, key: `${item.id}:drag`, testid: `${noun}-drag-${i}`, onMove: (from, to) => moveTo(list, from, to) })
        : null,
      h(
        "button",
        {
          type: "button",
          class: "btn btn-icon",
          title: "Move up",
          disabled: i === 0,
          "data-key": `${item.id}:up`,
          "data-testid": `${noun}-up-${i}`,
          on: { click: () => move(list, i, -1, (x) => keyOf(x, i - 1 === 0 ? "down" : "up")) },
        },
        icon("↑", `Move ${noun} ${n} up`),
      ),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-icon",
          title: "Move down",
          disabled: i === list.length - 1,
          "data-key": `${item.id}:down`,
          "data-testid": `${noun}-down-${i}`,
          on: { click: () => move(list, i, +1, (x) => keyOf(x, i + 1 === list.length - 1 ? "up" : "down")) },
        },
        icon("↓", `Move ${noun} ${n} down`),
      ),
      h(
        "button",
        {
          type: "button",
          class: "btn btn-icon btn-danger",
          title: "Remove",
          "data-key": `${item.id}:remove`,
          "data-testid": `${noun}-remove-${i}`,
          on: {
            click: () => {
              list.splice(i, 1);
              const next = list[i] || list[i - 1];
              changed({ structure: true, focusKey: next ? `${next.id}:slug` : noun === "column" ? "add-column" : "add-sort" });
            },
          },
        },
        icon("✕", `Remove ${noun} ${n}`),
      ),
    );
  }

  function slugInput(item, key, label, testid, withPeriod = false) {
    const id = nextId("q");
    const hint = h("p", { class: "hint", id: `${id}-hint`, "data-testid": `hint-${testid}` });
    const updateHint = () => {
      const { text, warn } = hintFor(item.slug, withPeriod ? item.period : undefined);
      hint.textContent = text;
      hint.classList.toggle("is-warn", Boolean(warn));
    };
    updateHint();
    hintFns.push(updateHint);
    const input = h("input", {
      id,
      type: "text",
      value: item.slug,
      list: datalistId,
      autocomplete: "off",
      autocapitalize: "off",
      spellcheck: "false",
      placeholder: "slug, e.g. ootb_" + state.object + "_name",
      "aria-describedby": `${id}-hint ${validationId}`,
      "data-key": key,
      "data-testid": testid,
      on: {
        input: (e) => {
          item.slug = e.target.value;
          changed();
        },
      },
    });
    return h("div", { class: "field field-slug" }, h("label", { for: id, class: "visually-hidden" }, label), input, hint);
  }

  function renderColumns() {
    replace(
      columnsList,
      state.columns.map((c, i) => {
        const periodId = nextId("q");
        const periodOptions = [["", "no period"], ...PERIODS.map((p) => [p, periodName(p)])];
        if (c.period === "custom") periodOptions.push(["custom", `custom: ${c.customVariation}`]);
        const periodSelect = select(
          {
            id: periodId,
            "data-key": `${c.id}:period`,
            "data-testid": `column-period-${i}`,
            "aria-describedby": validationId,
            on: {
              change: (e) => {
                c.period = e.target.value;
                changed();
              },
            },
          },
          periodOptions,
          c.period,
        );
        return h(
          "li",
          { class: "row", "data-testid": `column-${i}` },
          h("span", { class: "row-num", "aria-hidden": "true" }, String(i + 1)),
          slugInput(c, `${c.id}:slug`, `Column ${i + 1} slug`, `column-slug-${i}`, true),
          h("div", { class: "field field-period" }, h("label", { for: periodId, class: "visually-hidden" }, `Column ${i + 1} time period`), periodSelect),
          rowButtons(state.columns, i, "column", (x, which) => `${x.id}:${which}`),
        );
      }),
    );
  }

  function renderSorts() {
    replace(
      sortList,
      state.sort.map((s, i) => {
        const dirId = nextId("q");
        return h(
          "li",
          { class: "row", "data-testid": `sort-${i}` },
          h("span", { class: "row-num", "aria-hidden": "true" }, String(i + 1)),
          slugInput(s, `${s.id}:slug`, `Sort ${i + 1} by slug`, `sort-slug-${i}`),
          h(
            "div",
            { class: "field field-dir" },
            h("label", { for: dirId, class: "visually-hidden" }, `Sort ${i + 1} direction`),
            select(
              {
                id: dirId,
                "data-key": `${s.id}:direction`,
                "data-testid": `sort-direction-${i}`,
                on: {
                  change: (e) => {
                    s.direction = e.target.value;
                    changed();
                  },
                },
              },
              [
                ["asc", "ascending"],
                ["desc", "descending"],
              ],
              s.direction,
            ),
          ),
          rowButtons(state.sort, i, "sort", (x, which) => `${x.id}:${which}`),
        );
      }),
    );
    if (!state.sort.length) sortList.append(h("li", { class: "empty" }, "No sort: the API's own order."));
  }

  filterTree = createFilterTree({ box: filterBox, root: () => state.filter, changed, slugInput, validationId });

  function renderForm(focusKey) {
    if (![...objectSelect.options].some((o) => o.value === state.object)) {
      objectSelect.append(h("option", { value: state.object }, `${state.object} (unknown)`));
    }
    objectSelect.value = state.object;
    hintFns = [];
    renderColumns();
    filterTree.render();
    renderSorts();
    if (focusKey) {
      const el = element.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (el && !el.disabled) el.focus();
    }
  }

  // ------------------------------------------------------------ the form from JSON (the editor, a saved query, a link)
  /**
   * Shows a wire query in the form (from the editor, a saved query or a shared link). Returns
   * false, with the reason under the editor, when the form cannot show it.
   */
  function applyQuery(parsed, note, fromEditor = false) {
    let next;
    try {
      next = fromWire(parsed, PERIODS);
    } catch (e) {
      const msg = `The form cannot show this: ${e.message}. It keeps the last valid query.`;
      if (fromEditor) editor.fail(msg);
      else editor.note(msg, true);
      return false;
    }
    const objectChanged = next.object !== state.object;
    editor.clearProblem();
    state = next;
    if (objectChanged) refreshSuggestions();
    renderForm(null);
    changed({ fromJson: fromEditor });
    editor.note(note, false);
    return true;
  }
  /** A link made with "Copy share link" opens with its query in the form (never run by itself). */
  function openShared() {
    const shared = queryFromHash(location.hash);
    if (!shared) return;
    if (shared.error) editor.note(`The shared link could not be opened: ${shared.error}.`, true);
    else applyQuery(shared.query, "Opened the query from the shared link: check it, then run it.");
  }
  // ------------------------------------------------------------ validation
  function validator() {
    try {
      return settings.backstory();
    } catch {
      if (!placeholderClient) {
        placeholderClient = new lib.BackstoryClient({
          baseUrl: "http://127.0.0.1",
          clientId: "validation-only",
          clientSecret: "validation-only",
          quotaStore: lib.memoryStore(),
        });
      }
      return placeholderClient;
    }
  }

  /** Validates the current query; shows the error beside the form. Returns the error or null. */
  function validate() {
    for (const key of invalidKeys) {
      const el = element.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (el) el.removeAttribute("aria-invalid");
    }
    invalidKeys = [];
    let err = null;
    try {
      validator().validateQuery(wire.query);
    } catch (e) {
      err = e;
    }
    if (!err) {
      replace(validationBox, h("p", { class: "ok", "data-testid": "validation-ok" }, "✓ The query is valid."));
      validationBox.classList.remove("has-error");
      return null;
    }
    const field = err.field || "";
    const message = String(err.message || err);
    const key = keyForField(wire.fields, field);
    const text = field && !message.includes(field) ? `${field}: ${message}` : message;
    const goTo = key
      ? h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-link",
            on: {
              click: () => element.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus(),
            },
          },
          "Go to field",
        )
      : null;
    replace(
      validationBox,
      h(
        "div",
        { class: "error-box", "data-testid": "validation-error", "data-field": field },
        h("p", {}, h("strong", {}, "Fix before running: "), field ? h("code", { "data-testid": "validation-field" }, field) : null),
        h("p", { "data-testid": "validation-message" }, text),
        goTo,
      ),
    );
    validationBox.classList.add("has-error");
    if (key) {
      const el = element.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (el) {
        el.setAttribute("aria-invalid", "true");
        invalidKeys.push(key);
      }
    }
    return err;
  }

  // ------------------------------------------------------------ quota
  function renderCallsLeft() {
    let n = null;
    try {
      if (!settings.problem()) n = settings.backstory().callsLeftToday();
    } catch {
      n = null;
    }
    callsLeft.classList.toggle("is-low", n !== null && n <= 2);
    if (n === null) {
      replace(callsLeft, `? of ${DAILY_LIMIT} calls left today (fill in the settings)`);
    } else {
      replace(callsLeft, h("strong", { "data-testid": "calls-left-count" }, String(n)), ` of ${DAILY_LIMIT} calls left today`);
    }
  }

  // ------------------------------------------------------------ running
  let startedAt = 0;
  const progress = frameThrottle((q = {}) => {
    const secs = ((performance.now() - startedAt) / 1000).toFixed(1);
    progressText.textContent = `${PHASES[q.phase] || q.phase || "Starting"} · ${formatBytes(q.bytes || 0)} · ${formatInt(q.rows || 0)} rows · ${secs} s`;
    progressText.dataset.phase = q.phase || "";
    if (q.phase === "done") {
      progressBar.max = 1;
      progressBar.value = 1;
    } else {
      progressBar.removeAttribute("value");
    }
  });
  const showProgress = (p) => progress.schedule(p);

  /** Run refused: the editor's text is not the query the form holds. No call is made. */
  function showEditorBlock() {
    const goTo = () => editor.focusProblem();
    replace(
      runMessage,
      h(
        "div",
        { class: "error-box", "data-testid": "run-blocked" },
        h("p", {}, h("strong", {}, "Not run: the JSON editor holds a query that cannot be sent. ")),
        h("p", { "data-testid": "run-blocked-reason" }, editor.problem.text),
        h("p", {}, "Running now would send the last valid query instead, a different one, and spend a call on it. Fix the JSON, or change the form to start again from the last valid query."),
        h("button", { type: "button", class: "btn btn-small", "data-testid": "run-blocked-go", on: { click: goTo } }, "Go to the JSON"),
      ),
    );
  }

  /** Asks before a call is spent on a query naming slugs the page does not know. */
  function confirmUnknown(unknown, key, force, refresh) {
    const back = h(
      "button",
      { type: "button", class: "btn btn-small", "data-testid": "run-confirm-back", on: { click: () => replace(runMessage) } },
      "Check the query first",
    );
    replace(
      runMessage,
      h(
        "div",
        { class: "warn-box", "data-testid": "run-confirm" },
        h(
          "p",
          {},
          h("strong", {}, `${unknown.length === 1 ? "A slug" : `${unknown.length} slugs`} this page does not know: `),
          "the API leaves out a column it does not know without saying so, and the run still spends one of the ",
          String(DAILY_LIMIT),
          " daily calls.",
        ),
        h("ul", {}, unknown.map((s) => h("li", { "data-testid": "run-confirm-slug" }, h("code", {}, s)))),
        h(
          "div",
          { class: "runbar-buttons" },
          h(
            "button",
            {
              type: "button",
              class: "btn",
              "data-testid": "run-confirm-yes",
              on: {
                click: () => {
                  confirmedQueries.add(key);
                  run(force, refresh);
                },
              },
            },
            "Run anyway (spends a call)",
          ),
          back,
        ),
      ),
    );
    back.focus();
  }

  let waitingForCatalog = false;
  async function run(force, refresh = false) {
    // A second click while the first waits for the catalog must not start a second call.
    if (runs.busy || waitingForCatalog) return;
    replace(runMessage);
    if (editor.problem) {
      showEditorBlock();
      return;
    }
    const problem = settings.problem();
    if (problem) {
      replace(runMessage, h("div", { class: "error-box" }, h("p", {}, problem)));
      settings.reveal();
      return;
    }
    const query = wire.query;
    let bs;
    try {
      bs = settings.backstory();
    } catch (e) {
      replace(runMessage, h("div", { class: "error-box" }, h("p", {}, `Could not set up the client: ${e.message}`)));
      return;
    }
    if (validate()) {
      validationBox.querySelector("button")?.focus();
      return;
    }
    waitingForCatalog = true;
    try {
      await catalogReady;
    } finally {
      waitingForCatalog = false;
    }
    // The editor may have changed while the catalog loaded.
    if (editor.problem) return showEditorBlock();
    if (query !== wire.query) return run(force, refresh);
    const key = JSON.stringify(query);
    const unknown = unknownSlugs(state, slugInfo);
    if (unknown.length && !confirmedQueries.has(key)) {
      confirmUnknown(unknown, key, force, refresh);
      return;
    }

    await runs.run(async (signal) => {
      replace(resultBox);
      startedAt = performance.now();
      progressBox.hidden = false;
      progressText.dataset.phase = "";
      showProgress({ phase: "token", bytes: 0, rows: 0 });
      try {
        const res = await bs.query(query, { signal, force, refresh, onProgress: showProgress });
        const seconds = (performance.now() - startedAt) / 1000;
        showProgress({ ...(progress.latest || {}), phase: "done", rows: res.rowCount });
        const missing = new Set((res.missingColumns || []).map((m) => m.slug));
        rememberUsed(query.object, slugsOf(state).filter((s) => !missing.has(s)));
        refreshSuggestions();
        renderHints();
        showResult(res, seconds, query.object);
      } catch (e) {
        progressBox.hidden = true;
        showRunError(e, refresh);
      } finally {
        renderCallsLeft();
      }
    });
  }

  function showRunError(e, refresh) {
    const code = e && e.code;
    const msg = String((e && e.message) || e);
    const box = runErrorBox(e, "run-error");
    switch (code) {
      case "E_ABORTED":
        box.append(h("p", {}, "Cancelled. Nothing was downloaded."));
        break;
      case "E_INVALID_ARGUMENT":
        box.append(h("p", {}, e.field ? `${e.field}: ${msg}` : msg));
        break;
      case "E_QUOTA_EXHAUSTED":
        box.append(
          h("p", {}, `All ${DAILY_LIMIT} calls for today have been used (counted in this browser). The API will most likely refuse another one until tomorrow.`),
          h("button", { type: "button", class: "btn", "data-testid": "run-force", on: { click: () => run(true, refresh) } }, "Try anyway"),
        );
        break;
      case "E_AUTH":
        box.append(
          h("p", {}, "The API refused the credentials. Check the client id and secret in Settings."),
          h("button", { type: "button", class: "btn btn-small", on: { click: () => settings.reveal() } }, "Open settings"),
        );
        break;
      case "E_RATE_LIMITED": {
        const wait = Number.isFinite(e.retryAfterMs) ? ` Try again in ${formatDuration(e.retryAfterMs)}.` : "";
        box.append(h("p", {}, `The API says: too many calls (429).${wait}`));
        break;
      }
      case "E_NETWORK":
        box.append(h("p", {}, `Could not reach the API at ${settings.values.baseUrl}: ${msg}`));
        break;
      default:
        box.append(
          ...explainError(e, {
            service: "Backstory",
            credentials: "client id and secret",
            baseUrl: settings.values.baseUrl,
            openSettings: () => settings.reveal(),
            proxied: !!settings.proxy.backstory,
          }),
        );
    }
    replace(runMessage, box);
  }

  function showResult(res, seconds, object) {
    const header = Array.isArray(res.header) ? res.header : [];
    const rows = Array.isArray(res.rows) ? res.rows : [];
    const total = Number.isFinite(res.rowCount) ? res.rowCount : rows.length;
    const parts = [];

    const summary = h(
      "div",
      { class: "result-head" },
      h(
        "p",
        { class: "result-summary", "data-testid": "result-summary" },
        `${formatInt(total)} rows · ${header.length} columns · ${formatBytes(res.csv ? new Blob([res.csv]).size : 0)} · ${seconds.toFixed(1)} s`,
      ),
      res.fromCache ? h("span", { class: "badge", "data-testid": "from-cache" }, "from cache (no call spent)") : null,
      res.fromCache
        ? h(
            "button",
            { type: "button", class: "btn btn-small", "data-testid": "run-fresh", on: { click: () => run(false, true) } },
            "Fetch fresh data (spends a call)",
          )
        : null,
    );
    parts.push(summary);

    const missing = Array.isArray(res.missingColumns) ? res.missingColumns : [];
    if (missing.length) {
      parts.push(
        h(
          "div",
          { class: "warn-box", role: "alert", "data-testid": "missing-columns" },
          h("p", {}, h("strong", {}, `${missing.length} requested column${missing.length === 1 ? " is" : "s are"} missing from the CSV. `), "The API drops slugs it does not know without saying so: check the spelling, or ask your admin which metrics exist."),
          h(
            "ul",
            {},
            missing.map((m) => h("li", { "data-testid": "missing-column" }, h("code", {}, m.variationId ? `${m.slug} (${m.variationId})` : m.slug))),
          ),
        ),
      );
    }

    const errors = Array.isArray(res.errors) ? res.errors : [];
    if (errors.length) {
      parts.push(
        h(
          "div",
          { class: "warn-box", "data-testid": "row-errors" },
          h("p", {}, h("strong", {}, `${formatInt(errors.length)} row${errors.length === 1 ? "" : "s"} could not be read. `), "They are left out of the preview, the JSON Lines and the guarded CSV; “Keep raw values” downloads the file as received."),
          h(
            "ul",
            {},
            errors.slice(0, 5).map((er) => h("li", {}, `Row ${er.row}: ${er.message}`)),
          ),
        ),
      );
    }

    if (header.length) {
      const preview = resultPreview({
        header,
        rows,
        label: "Result preview",
        download: { rawCsv: typeof res.csv === "string" ? res.csv : null, name: object },
        charts: [(view) => chartPanel({ header, rows, view })],
      });
      runs.keep(preview);
      parts.push(preview.element);
    } else {
      parts.push(h("p", { class: "empty" }, "The CSV has no header."));
    }
    replace(resultBox, parts);
  }

  // ------------------------------------------------------------ wiring
  settings.onChange((field) => {
    if (field === "baseUrl") loadCatalog();
    renderCallsLeft();
    validate();
  });
  window.addEventListener("storage", renderCallsLeft);
  window.addEventListener("focus", renderCallsLeft);

  refreshSuggestions();
  renderForm(null);
  editor.show(wire.query);
  validate();
  renderCallsLeft();
  loadCatalog();
  openShared();
  window.addEventListener("hashchange", openShared);

  return { id: "query", title: "Query", element, onShow: renderCallsLeft };
}
