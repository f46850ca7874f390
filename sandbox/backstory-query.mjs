// Backstory Query API: POST /v3/beta/insights/export. Validates a query the way the vendor does,
// applies filter and sort to the generated records and streams CSV. Invalid slugs are silently
// dropped (documented), so the only way a client can notice is by comparing CSV headers.

import { isoMs } from "./data/common.mjs";
import { CATALOG, OBJECTS, PERIODS, DEFAULT_PERIOD, periodLabel } from "./data/query.mjs";
import { backstoryError, parseJsonBody, readBody, secondsUntilUtcMidnight, utcDay, writeInChunks, CORS_HEADERS } from "./http.mjs";
import { Rng, hash32 } from "./prng.mjs";

const OPERATORS = new Set(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in"]);

const bad = (message, field) => backstoryError(400, "invalid_query", message, field);

function typeName(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Catalog indexes, built once per object.

const catalogIndex = new Map();

function indexFor(object) {
  if (catalogIndex.has(object)) return catalogIndex.get(object);
  const columns = new Map();
  const attributes = new Map(); // slug -> { key, type, filterable }
  for (const def of CATALOG[object]) {
    columns.set(def.slug, def);
    if (def.timeBased) {
      for (const p of def.periods) attributes.set(`${def.slug}_${p}`, { key: `${def.slug}_${p}`, type: "number", filterable: true });
      // The bare slug means the default 7-day variation; null when the metric has none.
      const key = def.periods.includes(DEFAULT_PERIOD) ? `${def.slug}_${DEFAULT_PERIOD}` : null;
      attributes.set(def.slug, { key, type: "number", filterable: true, metric: def });
    } else if (def.expandsTo) {
      const baseSub = def.expandsTo.find((s) => s.slug === def.baseKey);
      attributes.set(def.slug, { key: def.baseKey, type: baseSub.type, filterable: def.filterable });
      for (const s of def.expandsTo) if (!attributes.has(s.slug)) attributes.set(s.slug, { key: s.slug, type: s.type, filterable: true });
    } else {
      attributes.set(def.slug, { key: def.slug, type: def.type, filterable: def.filterable });
    }
  }
  const idx = { columns, attributes };
  catalogIndex.set(object, idx);
  return idx;
}

/** Resolves a filter/sort attribute to a record key, or null when the vendor would ignore it. */
function resolveAttribute(idx, attr) {
  const a = idx.attributes.get(attr.slug);
  if (!a) return null;
  if (a.metric && attr.variation_id !== undefined && attr.variation_id !== null) {
    const v = idx.attributes.get(attr.variation_id);
    if (!v || !attr.variation_id.startsWith(`${attr.slug}_`)) return null;
    return v;
  }
  if (!a.key) return null;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Validation and compilation.

function validateAttribute(attr, field) {
  if (!isPlainObject(attr)) throw bad(`${field} must be an object like {"slug": "..."}`, field);
  if (typeof attr.slug !== "string" || attr.slug === "") throw bad(`${field}.slug must be a non-empty string`, `${field}.slug`);
  if (attr.variation_id !== undefined && attr.variation_id !== null && typeof attr.variation_id !== "string") {
    throw bad(`${field}.variation_id must be a string`, `${field}.variation_id`);
  }
}

function coerce(value, type, field, op) {
  if (value === null) {
    if (op === "$eq" || op === "$ne" || op === "$in") return null;
    throw bad(`${field}: ${op} does not accept null`, field);
  }
  if (type === "number") {
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
    throw bad(`${field}: expected a number, got ${typeName(value)}`, field);
  }
  if (type === "date") {
    // Dates compare as epoch milliseconds; ISO-8601 text is accepted too.
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string") {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) return ms;
    }
    throw bad(`${field}: expected a date as epoch milliseconds, got ${typeName(value)}`, field);
  }
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw bad(`${field}: expected a string, got ${typeName(value)}`, field);
}

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compiles a filter node into a predicate over records. Returns null for a node the vendor ignores
 * (unknown or non-filterable slug, or a group whose every member is ignored): such filters match all.
 */
function compileFilter(idx, node, field) {
  if (!isPlainObject(node)) throw bad(`${field} must be an object, got ${typeName(node)}`, field);
  const keys = Object.keys(node);
  if (keys.length === 1 && (keys[0] === "$and" || keys[0] === "$or")) {
    const op = keys[0];
    const list = node[op];
    if (!Array.isArray(list) || list.length === 0) throw bad(`${field}.${op} must be a non-empty array of filters`, `${field}.${op}`);
    const parts = list.map((child, i) => compileFilter(idx, child, `${field}.${op}[${i}]`)).filter(Boolean);
    if (parts.length === 0) return null;
    if (op === "$and") return (r) => parts.every((p) => p(r));
    return (r) => parts.some((p) => p(r));
  }
  const unknown = keys.filter((k) => k !== "attribute" && k !== "clause");
  if (unknown.length) {
    const ops = unknown.filter((k) => k.startsWith("$"));
    if (ops.length) throw bad(`${field}: unknown logical operator ${ops[0]} (use $and or $or)`, field);
    throw bad(`${field}: unexpected key "${unknown[0]}" (a filter is {attribute, clause} or {$and: [...]} or {$or: [...]})`, field);
  }
  if (!("attribute" in node)) throw bad(`${field}.attribute is required`, `${field}.attribute`);
  if (!("clause" in node)) throw bad(`${field}.clause is required`, `${field}.clause`);
  validateAttribute(node.attribute, `${field}.attribute`);
  const clause = node.clause;
  if (!isPlainObject(clause)) throw bad(`${field}.clause must be an object like {"$eq": value}`, `${field}.clause`);
  const ops = Object.keys(clause);
  if (ops.length === 0) throw bad(`${field}.clause must contain an operator`, `${field}.clause`);
  for (const op of ops) {
    if (!OPERATORS.has(op)) throw bad(`${field}.clause: unknown operator ${op} (supported: ${[...OPERATORS].join(" ")})`, `${field}.clause.${op}`);
    if (op === "$in" && !Array.isArray(clause[op])) throw bad(`${field}.clause.$in must be an array`, `${field}.clause.$in`);
    if (op !== "$in" && (Array.isArray(clause[op]) || isPlainObject(clause[op]))) {
      throw bad(`${field}.clause.${op} must be a single value, got ${typeName(clause[op])}`, `${field}.clause.${op}`);
    }
  }
  const attr = resolveAttribute(idx, node.attribute);
  if (!attr || !attr.filterable) return null; // silently ignored, as the vendor does
  const key = attr.key;
  const tests = ops.map((op) => {
    const f = `${field}.clause.${op}`;
    if (op === "$in") {
      const set = clause[op].map((v, i) => coerce(v, attr.type, `${f}[${i}]`, op));
      return (v) => set.some((x) => x === v);
    }
    const x = coerce(clause[op], attr.type, f, op);
    switch (op) {
      case "$eq":
        return (v) => v === x;
      case "$ne":
        return (v) => v !== x;
      case "$gt":
        return (v) => v !== null && v > x;
      case "$gte":
        return (v) => v !== null && v >= x;
      case "$lt":
        return (v) => v !== null && v < x;
      default:
        return (v) => v !== null && v <= x;
    }
  });
  return (r) => {
    const v = r[key] === undefined ? null : r[key];
    return tests.every((t) => t(v));
  };
}

function compileSort(idx, sort) {
  if (sort === undefined || sort === null) return [];
  if (!Array.isArray(sort)) throw bad(`sort must be an array of {attribute, direction}`, "sort");
  const keys = [];
  sort.forEach((s, i) => {
    const f = `sort[${i}]`;
    if (!isPlainObject(s)) throw bad(`${f} must be an object`, f);
    validateAttribute(s.attribute, `${f}.attribute`);
    const dir = s.direction === undefined || s.direction === null ? "asc" : s.direction;
    if (dir !== "asc" && dir !== "desc") throw bad(`${f}.direction must be "asc" or "desc", got ${JSON.stringify(s.direction)}`, `${f}.direction`);
    const attr = resolveAttribute(idx, s.attribute);
    if (attr) keys.push({ key: attr.key, sign: dir === "asc" ? 1 : -1 });
  });
  return keys;
}

function resolveColumns(object, columns, labelHeaders) {
  const idx = indexFor(object);
  const out = [];
  for (const col of columns) {
    const def = idx.columns.get(col.slug);
    if (!def) continue;
    const vid = col.variation_id === null ? undefined : col.variation_id;
    if (def.timeBased) {
      let period;
      if (vid === undefined) period = DEFAULT_PERIOD;
      else if (vid.startsWith(`${def.slug}_`)) period = vid.slice(def.slug.length + 1);
      if (!period || !PERIODS.includes(period) || !def.periods.includes(period)) continue;
      const key = `${def.slug}_${period}`;
      out.push({ key, header: labelHeaders ? `${def.label} (${periodLabel(period)})` : key, type: "number" });
    } else if (vid !== undefined) {
      continue; // a variation of a metric that has none is an unknown variation
    } else if (def.expandsTo) {
      for (const s of def.expandsTo) out.push({ key: s.slug, header: labelHeaders ? s.label : s.slug, type: s.type });
    } else {
      out.push({ key: def.slug, header: labelHeaders ? def.label : def.slug, type: def.type });
    }
  }
  return out;
}

/** Checks the query's shape and returns a plan; throws 400s naming the offending field. */
export function planQuery(query, { labelHeaders = false } = {}) {
  if (!isPlainObject(query)) throw bad(`request body must be a JSON object, got ${typeName(query)}`, "body");
  if (query.object === undefined || query.object === null) throw bad(`object is required (one of ${OBJECTS.join(", ")})`, "object");
  if (typeof query.object !== "string") throw bad(`object must be a string`, "object");
  if (!OBJECTS.includes(query.object)) throw bad(`unknown object "${query.object}" (one of ${OBJECTS.join(", ")})`, "object");
  if (query.columns === undefined || query.columns === null) throw bad("columns is required", "columns");
  if (!Array.isArray(query.columns)) throw bad("columns must be an array", "columns");
  if (query.columns.length === 0) throw bad("columns must not be empty", "columns");
  query.columns.forEach((c, i) => {
    const f = `columns[${i}]`;
    if (!isPlainObject(c)) throw bad(`${f} must be an object like {"slug": "..."}`, f);
    if (typeof c.slug !== "string" || c.slug === "") throw bad(`${f}.slug must be a non-empty string`, `${f}.slug`);
    if (c.variation_id !== undefined && c.variation_id !== null && typeof c.variation_id !== "string") {
      throw bad(`${f}.variation_id must be a string`, `${f}.variation_id`);
    }
  });
  const idx = indexFor(query.object);
  const predicate = query.filter === undefined || query.filter === null ? null : compileFilter(idx, query.filter, "filter");
  const sortKeys = compileSort(idx, query.sort);
  const columns = resolveColumns(query.object, query.columns, labelHeaders);
  return { object: query.object, predicate, sortKeys, columns };
}

function sortRecords(records, sortKeys) {
  if (sortKeys.length === 0) return records;
  // Null sorts as the largest value (nulls last ascending, first descending); ties keep generation
  // order because Array.prototype.sort is stable.
  return records.slice().sort((a, b) => {
    for (const { key, sign } of sortKeys) {
      const x = a[key] ?? null;
      const y = b[key] ?? null;
      let c;
      if (x === null && y === null) c = 0;
      else if (x === null) c = 1;
      else if (y === null) c = -1;
      else c = compare(x, y);
      if (c !== 0) return c * sign;
    }
    return 0;
  });
}

export function csvField(value) {
  if (value === null || value === undefined) return "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function renderCell(rec, col) {
  const v = rec[col.key];
  if (v === null || v === undefined) return "";
  return csvField(col.type === "date" ? isoMs(v) : v);
}

/** Runs a planned query against a QueryData and returns the complete CSV text. */
export function runPlan(data, plan) {
  let recs = data.records(plan.object);
  if (plan.predicate) recs = recs.filter(plan.predicate);
  recs = sortRecords(recs, plan.sortKeys);
  const lines = [plan.columns.map((c) => csvField(c.header)).join(",")];
  for (const r of recs) lines.push(plan.columns.map((c) => renderCell(r, c)).join(","));
  return { csv: lines.join("\r\n") + "\r\n", rows: recs.length };
}

export class QueryApi {
  constructor(sandbox) {
    this.sb = sandbox;
    this.calls = new Map(); // clientId -> { day, count }
    this.responses = 0;
  }

  reset() {
    this.calls.clear();
  }

  callsToday(clientId = this.sb.credentials.backstory.clientId) {
    const c = this.calls.get(clientId);
    return c && c.day === utcDay(this.sb.now()) ? c.count : 0;
  }

  /** Ground truth for tests: the CSV a query would produce, without auth or quota. */
  truthCsv(query) {
    const plan = planQuery(query, { labelHeaders: this.sb.config.labelHeaders });
    return runPlan(this.sb.queryData, plan).csv;
  }

  async handleExport(req, res) {
    const raw = await readBody(req, 1 << 20);
    const clientId = this.sb.auth.requireBearer(req);
    const now = this.sb.now();
    const day = utcDay(now);
    let c = this.calls.get(clientId);
    if (!c || c.day !== day) {
      c = { day, count: 0 };
      this.calls.set(clientId, c);
    }
    const limit = Number(this.sb.config.dailyLimit);
    if (c.count >= limit) {
      const retry = secondsUntilUtcMidnight(now);
      throw backstoryError(429, "rate_limit_exceeded", `daily limit of ${limit} Query API calls reached; resets at 00:00 UTC`, undefined, {
        "Retry-After": String(retry),
      });
    }
    // Counted once authenticated, whether or not the query turns out valid: the call was spent.
    c.count++;
    const query = parseJsonBody(raw, (m) => bad(m, "body"));
    const badHeader = req.sandboxFault?.fault === "bad_header";
    const plan = planQuery(query, { labelHeaders: this.sb.config.labelHeaders || badHeader });
    if (badHeader && plan.columns.length) {
      const last = plan.columns[plan.columns.length - 1];
      plan.columns[plan.columns.length - 1] = { ...last, header: `${last.header} (renamed)` };
    }
    const { csv } = runPlan(this.sb.queryData, plan);
    const buf = Buffer.from(csv, "utf8");
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${plan.object}-export.csv"`,
      "Cache-Control": "no-store",
    });
    await writeInChunks(res, buf, this.chunkSizer());
    res.end();
  }

  /** Chunk sizes for one response: fixed when configured, else seeded and varied (1 B .. 4 KiB). */
  chunkSizer() {
    const fixed = Number(this.sb.config.chunkSize);
    if (Number.isFinite(fixed) && fixed > 0) return () => fixed;
    const rng = new Rng(hash32(this.sb.config.seed, "chunks", this.responses++));
    return () => (rng.chance(0.2) ? rng.int(1, 16) : rng.int(64, 4096));
  }
}
