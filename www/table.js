// Preview tables, every cell set as text: previewTable (the first rows of a result, plain DOM)
// and virtualTable (every row, only those on screen in the DOM, with sorting and filtering).

import { formatInt, h, nextId } from "./dom.js";

const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * A table of the first `limit` rows. `header` is the CSV header, `rows` arrays of strings.
 * Returns a wrapper element (scrolls on its own, so the page does not on a phone).
 */
export function previewTable({ header, rows, totalRows, limit = 100, testid = "preview-table" }) {
  const shown = rows.slice(0, limit);
  const total = Number.isFinite(totalRows) ? totalRows : rows.length;
  const caption =
    total > shown.length
      ? `First ${formatInt(shown.length)} of ${formatInt(total)} rows`
      : `${formatInt(total)} row${total === 1 ? "" : "s"}`;

  const thead = h(
    "thead",
    {},
    h("tr", {}, h("th", { scope: "col", class: "rownum" }, h("span", { class: "visually-hidden" }, "Row"), "#"), header.map((name) => h("th", { scope: "col" }, name))),
  );
  const tbody = h("tbody");
  shown.forEach((row, i) => {
    const tr = h("tr", {}, h("th", { scope: "row", class: "rownum" }, String(i + 1)));
    for (let c = 0; c < header.length; c += 1) {
      const v = row[c] ?? "";
      // title: the whole value on hover when a long cell is cut short.
      tr.append(h("td", { class: NUMERIC.test(v) ? "num" : null, title: v.length > 40 ? v : null }, v));
    }
    tbody.append(tr);
  });

  const table = h("table", { class: "preview", "data-testid": testid }, h("caption", {}, caption), thead, tbody);
  // tabindex so that keyboard users can scroll a wide table.
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `Preview: ${caption}` }, table);
}

// ---------------------------------------------------------------------------------------------
// The virtualised table: any number of rows, only those on screen in the DOM.
//
// Layout: a scroll container holds a sticky "window" as high as the container (the table with
// its header and just enough pooled rows to fill it) and a spacer that gives the scrollbar its
// length. The scroll position picks the first row shown, so scrolling moves by whole rows, as in a
// spreadsheet. Browsers cap an element's height (Firefox near 17.9 million px), so past
// MAX_SCROLL_PX a pixel of scrollbar stands for more than a row's height: still every row can be
// reached, because a million rows get 15 px each.

const ROW_HEIGHT = 28;
const HEAD_HEIGHT = 70; // both header rows; measured once the table is on screen
const MAX_SCROLL_PX = 15_000_000;
const FALLBACK_ROWS = 20; // rows drawn before the table is on screen (nothing to measure yet)
const FILTER_DELAY_MS = 150;
const NUMERIC_FILTER = /^(>=|<=|>|<|=)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/;

/** Cell text -> the number it is, or NaN. */
function numberOf(v) {
  return NUMERIC.test(v) ? Number(v) : NaN;
}

/**
 * Row indexes of `rows` ordered by column `col`: numbers as numbers and before text, text
 * case-insensitively (by UTF-16 code units: Intl.Collator is three times slower on a million
 * rows), empty cells last in either direction, ties in file order.
 */
export function sortOrder(rows, col, dir) {
  const n = rows.length;
  const kind = new Uint8Array(n); // 0 number, 1 text, 2 empty
  const nums = new Float64Array(n);
  const text = new Array(n);
  for (let i = 0; i < n; i += 1) {
    const v = rows[i][col] ?? "";
    if (v === "") kind[i] = 2;
    else {
      const x = numberOf(v);
      if (Number.isNaN(x)) {
        kind[i] = 1;
        text[i] = v.toLowerCase();
      } else nums[i] = x;
    }
  }
  const sign = dir === "desc" ? -1 : 1;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i += 1) order[i] = i;
  order.sort((a, b) => {
    const ka = kind[a];
    const kb = kind[b];
    if (ka !== kb) return ka === 2 ? 1 : kb === 2 ? -1 : sign * (ka - kb);
    let c = 0;
    if (ka === 0) c = nums[a] - nums[b];
    else if (ka === 1) c = text[a] < text[b] ? -1 : text[a] > text[b] ? 1 : 0;
    return c ? sign * c : a - b;
  });
  return order;
}

/** A column filter's text -> a test on a cell: ">10", "<=5", "=42" compare numbers, else substring. */
export function cellMatcher(query) {
  const q = String(query).trim();
  if (!q) return null;
  const m = NUMERIC_FILTER.exec(q);
  if (m) {
    const x = Number(m[2]);
    const op = m[1];
    return (v) => {
      const y = numberOf(v);
      if (Number.isNaN(y)) return false;
      return op === ">" ? y > x : op === "<" ? y < x : op === ">=" ? y >= x : op === "<=" ? y <= x : y === x;
    };
  }
  const needle = q.toLowerCase();
  return (v) => v.toLowerCase().includes(needle);
}

/** Rows of `base` (or of 0..n-1) that pass every [col, test] pair, in order. */
export function filterOrder(rows, base, tests) {
  const n = base ? base.length : rows.length;
  const out = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < n; i += 1) {
    const r = base ? base[i] : i;
    const row = rows[r];
    let ok = true;
    for (let t = 0; t < tests.length && ok; t += 1) ok = tests[t][1](row[tests[t][0]] ?? "");
    if (ok) out[m++] = r;
  }
  return out.subarray(0, m);
}

/** Column widths in characters, from the header and a sample of rows spread over the data. */
function columnWidths(header, rows) {
  const widths = header.map((name) => Math.max(6, String(name).length + 2));
  const sample = Math.min(rows.length, 400);
  for (let s = 0; s < sample; s += 1) {
    const row = rows[Math.floor((s * rows.length) / sample)];
    for (let c = 0; c < header.length; c += 1) {
      const len = String(row[c] ?? "").length;
      if (len > widths[c]) widths[c] = len;
    }
  }
  return widths.map((w) => Math.min(w, 40));
}

/**
 * A sortable, filterable table over `rows` (string[][]) that keeps only the rows on screen in the
 * DOM: smooth on a million rows. `rows` is read, never copied or changed; sorting and filtering
 * work on an index list. Returns { element, table, view(), scrollToRow(i), sortBy(col, dir),
 * filterColumn(col, text), destroy() }: `view()` gives the row indexes shown, in order (null:
 * all, in file order); `onViewChange()` is called after each sort or filter.
 */
export function virtualTable({ header, rows, testid = "preview-table", label = "Preview", onViewChange = null }) {
  const n = rows.length;
  const statusId = nextId("vt");
  let rowHeight = ROW_HEIGHT;
  let headHeight = HEAD_HEIGHT;
  let sorted = null; // Uint32Array or null (file order)
  let sort = { col: -1, dir: "none" };
  const filters = header.map(() => "");
  let view = null; // Uint32Array or null (= sorted, or file order)
  let first = 0;
  let pool = [];
  let frame = 0;

  const shownCount = () => (view ? view.length : n);
  const rowAt = (k) => (view ? view[k] : sorted ? sorted[k] : k);

  // ---------------------------------------------------------------- header
  const headCells = header.map((name, c) =>
    h(
      "th",
      { scope: "col", "aria-sort": "none", "data-col": String(c) },
      h("button", { type: "button", class: "sort-btn", "data-testid": `${testid}-sort-${c}`, on: { click: () => cycleSort(c) } }, String(name)),
    ),
  );
  const filterCells = header.map((name, c) => {
    const id = nextId("vt");
    let timer = 0;
    const input = h("input", {
      id,
      type: "search",
      class: "col-filter",
      placeholder: "filter",
      autocomplete: "off",
      spellcheck: "false",
      "aria-describedby": statusId,
      "data-testid": `${testid}-filter-${c}`,
      on: {
        input: (e) => {
          clearTimeout(timer);
          const value = e.target.value;
          timer = setTimeout(() => filterColumn(c, value), FILTER_DELAY_MS);
        },
      },
    });
    return h("td", {}, h("label", { for: id, class: "visually-hidden" }, `Filter ${name}`), input);
  });
  const colgroup = h(
    "colgroup",
    {},
    h("col", { class: "rownum-col" }),
    header.map(() => h("col")),
  );
  const widths = columnWidths(header, rows);
  const rownumWidth = Math.max(4, String(n).length + 1);
  colgroup.children[0].style.width = `calc(${rownumWidth}ch + 20px)`;
  widths.forEach((w, c) => (colgroup.children[c + 1].style.width = `calc(${w}ch + 20px)`));

  const thead = h(
    "thead",
    {},
    h("tr", { class: "head-row", "aria-rowindex": "1" }, h("th", { scope: "col", class: "rownum" }, h("span", { class: "visually-hidden" }, "Row"), "#"), headCells),
    h("tr", { class: "filter-row", "aria-rowindex": "2" }, h("td", { class: "rownum" }), filterCells),
  );
  const tbody = h("tbody");
  const table = h("table", { class: "preview vtable-table", "data-testid": testid, "aria-describedby": statusId }, colgroup, thead, tbody);
  table.style.width = `calc(${rownumWidth + widths.reduce((a, b) => a + b, 0)}ch + ${20 * (header.length + 1)}px)`;

  const status = h("p", { class: "vtable-status", id: statusId, "aria-live": "polite", "data-testid": `${testid}-status` });
  const windowEl = h("div", { class: "vtable-window" }, table);
  const spacer = h("div", { class: "vtable-spacer", "aria-hidden": "true" });
  const scroller = h(
    "div",
    {
      class: "table-wrap vtable-scroll",
      tabindex: "0",
      role: "region",
      "aria-label": `${label}: use the arrow keys, Page Up, Page Down, Home and End to scroll`,
      "data-testid": `${testid}-scroll`,
      on: { scroll: schedule, keydown: onKey },
    },
    windowEl,
    spacer,
  );
  const element = h("div", { class: "vtable" }, status, scroller);

  // ---------------------------------------------------------------- geometry
  const viewportHeight = () => scroller.clientHeight || headHeight + FALLBACK_ROWS * rowHeight;
  const fullRows = () => Math.max(1, Math.floor((viewportHeight() - headHeight) / rowHeight));
  const maxFirst = () => Math.max(0, shownCount() - fullRows());
  const contentHeight = () => headHeight + Math.min(shownCount() * rowHeight, MAX_SCROLL_PX);
  const maxScroll = () => Math.max(0, contentHeight() - viewportHeight());

  /** The box is as high as its content up to the stylesheet's max-height, so small results stay small. */
  function sizeBox() {
    scroller.style.height = `${headHeight + Math.min(n, 1000) * rowHeight + 18}px`;
    const vh = viewportHeight();
    windowEl.style.height = `${vh}px`;
    spacer.style.height = `${Math.max(0, contentHeight() - vh)}px`;
  }

  function measure() {
    const hh = thead.getBoundingClientRect().height;
    const tr = tbody.rows[0];
    const rh = tr ? tr.getBoundingClientRect().height : 0;
    if (hh > 0) headHeight = hh;
    if (rh > 0) rowHeight = rh;
  }

  function scrollToRow(i) {
    const mf = maxFirst();
    const k = Math.max(0, Math.min(mf, Math.round(i)));
    scroller.scrollTop = mf ? (k / mf) * maxScroll() : 0;
    render();
  }

  // ---------------------------------------------------------------- rows
  function makeRow() {
    const num = h("th", { scope: "row", class: "rownum" });
    const cells = header.map(() => h("td"));
    return { tr: h("tr", {}, num, cells), num, cells };
  }

  function render() {
    frame = 0;
    const count = shownCount();
    const mf = maxFirst();
    const ms = maxScroll();
    first = ms > 0 ? Math.min(mf, Math.round((scroller.scrollTop / ms) * mf)) : 0;
    const want = Math.min(count - first, fullRows() + 1);
    while (pool.length < want) pool.push(makeRow());
    for (let k = 0; k < want; k += 1) {
      const p = pool[k];
      const r = rowAt(first + k);
      const row = rows[r];
      p.tr.setAttribute("aria-rowindex", String(first + k + 3));
      p.tr.classList.toggle("is-odd", (first + k) % 2 === 1);
      p.num.textContent = String(r + 1);
      for (let c = 0; c < p.cells.length; c += 1) {
        const td = p.cells[c];
        const v = row[c] ?? "";
        if (td.textContent !== v) td.textContent = v;
        td.className = NUMERIC.test(v) ? "num" : "";
        // the whole value on hover when a long cell is cut short
        if (v.length > 40) td.title = v;
        else if (td.hasAttribute("title")) td.removeAttribute("title");
      }
    }
    if (tbody.rows.length !== want) tbody.replaceChildren(...pool.slice(0, want).map((p) => p.tr));
    table.setAttribute("aria-rowcount", String(count + 2));
    table.dataset.rowCount = String(n);
    table.dataset.shownRows = String(count);
    table.dataset.firstRow = String(first);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function describe() {
    const count = shownCount();
    let text = count === n ? `${formatInt(n)} row${n === 1 ? "" : "s"}` : `${formatInt(count)} of ${formatInt(n)} rows match the filters`;
    if (sort.col >= 0) text += ` · sorted by ${header[sort.col]}, ${sort.dir === "asc" ? "ascending" : "descending"}`;
    status.textContent = text;
  }

  function relayout() {
    sizeBox();
    scrollToRow(0);
    describe();
    onViewChange?.();
  }

  // ---------------------------------------------------------------- sort and filter
  function applyFilters() {
    const tests = [];
    filters.forEach((text, c) => {
      const t = cellMatcher(text);
      if (t) tests.push([c, t]);
    });
    view = tests.length ? filterOrder(rows, sorted, tests) : null;
  }

  function sortBy(col, dir) {
    sort = dir === "none" || col < 0 ? { col: -1, dir: "none" } : { col, dir };
    headCells.forEach((th, c) => th.setAttribute("aria-sort", c === sort.col ? (sort.dir === "asc" ? "ascending" : "descending") : "none"));
    sorted = sort.col >= 0 ? sortOrder(rows, sort.col, sort.dir) : null;
    applyFilters();
    relayout();
  }

  function cycleSort(c) {
    const next = sort.col !== c ? "asc" : sort.dir === "asc" ? "desc" : "none";
    if (n > 50_000) {
      // Sorting a large result takes a moment: say so first, then sort on the next frame.
      status.textContent = `Sorting ${formatInt(n)} rows…`;
      table.setAttribute("aria-busy", "true");
      setTimeout(() => {
        sortBy(c, next);
        table.removeAttribute("aria-busy");
      }, 30);
    } else sortBy(c, next);
  }

  function filterColumn(c, text) {
    filters[c] = String(text);
    const input = filterCells[c].querySelector("input");
    if (input.value !== filters[c]) input.value = filters[c];
    applyFilters();
    relayout();
  }

  // ---------------------------------------------------------------- keyboard
  function onKey(e) {
    if (e.target !== scroller && e.target.closest("input, button, select, textarea")) return;
    const page = fullRows();
    const to = {
      ArrowDown: first + 1,
      ArrowUp: first - 1,
      PageDown: first + page,
      PageUp: first - page,
      Home: 0,
      End: maxFirst(),
    }[e.key];
    if (to === undefined || e.altKey || e.metaKey) return;
    e.preventDefault();
    scrollToRow(to);
  }

  // ---------------------------------------------------------------- start
  sizeBox();
  render();
  describe();
  let observer = null;
  if (typeof ResizeObserver === "function") {
    // Fires once the table is on screen, then on every size change: measure, then fill the box.
    // The work waits for the next frame: resizing inside the callback would re-trigger it.
    let pending = 0;
    observer = new ResizeObserver(() => {
      if (pending) return;
      pending = requestAnimationFrame(() => {
        pending = 0;
        if (!scroller.isConnected || !scroller.clientHeight) return;
        measure();
        sizeBox();
        render();
      });
    });
    observer.observe(scroller);
  }

  /** Stops watching the size: call when the table leaves the page, so that `rows` can be freed. */
  function destroy() {
    observer?.disconnect();
    cancelAnimationFrame(frame);
  }

  return { element, table, view: () => view || sorted, scrollToRow, sortBy, filterColumn, destroy };
}
