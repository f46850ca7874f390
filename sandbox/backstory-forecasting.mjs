// Backstory Forecasting Query API (beta). The document names no path; the sandbox serves
// POST /v3/beta/forecasting/query (clients let callers override it). Page-number pagination is
// reported in X-Total-Count / X-Page-Last / X-Limit / X-Page.

import { ForecastData } from "./data/forecasting.mjs";
import { backstoryError, HttpError, parseJsonBody, readBody, sendJson } from "./http.mjs";

const bad = (message, field) => backstoryError(400, "invalid_request", message, field);
const SORTS = ["default", "hierarchy_level"];
const SNAPSHOTS = ["latest", "all"];

const present = (v) => v !== undefined && v !== null;
const isInt = (v) => typeof v === "number" && Number.isInteger(v);

/** Validates a request body; returns normalised parameters. Throws 400s naming the field. */
export function validateForecastParams(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw bad("request body must be a JSON object", "body");
  const p = {};
  if (!present(body.forecast_type_id)) throw bad("forecast_type_id is required", "forecast_type_id");
  if (!isInt(body.forecast_type_id)) throw bad("forecast_type_id must be an integer", "forecast_type_id");
  p.forecast_type_id = body.forecast_type_id;
  if (!present(body.per_page)) throw bad("per_page is required (1..1000)", "per_page");
  if (!isInt(body.per_page) || body.per_page < 1 || body.per_page > 1000) throw bad("per_page must be an integer from 1 to 1000", "per_page");
  p.per_page = body.per_page;
  if (present(body.page)) {
    if (!isInt(body.page) || body.page < 1) throw bad("page must be an integer of at least 1", "page");
    p.page = body.page;
  } else p.page = 1;
  if (present(body.fiscal_period_id) && present(body.fiscal_period_external_id)) {
    throw bad("use either fiscal_period_id or fiscal_period_external_id, not both", "fiscal_period_external_id");
  }
  for (const f of ["fiscal_period_id", "fiscal_period_external_id", "hierarchy_node_ownership_external_id"]) {
    if (present(body[f])) {
      if (typeof body[f] !== "string" || body[f] === "") throw bad(`${f} must be a non-empty string`, f);
      p[f] = body[f];
    }
  }
  if (present(body.hierarchy_node_id) && present(body.hierarchy_node_ownership_external_id)) {
    throw bad("use either hierarchy_node_id or hierarchy_node_ownership_external_id, not both", "hierarchy_node_ownership_external_id");
  }
  if (present(body.hierarchy_node_id)) {
    if (!isInt(body.hierarchy_node_id)) throw bad("hierarchy_node_id must be an integer", "hierarchy_node_id");
    p.hierarchy_node_id = body.hierarchy_node_id;
  }
  if (present(body.include_descendants)) {
    if (typeof body.include_descendants !== "boolean") throw bad("include_descendants must be a boolean", "include_descendants");
    p.include_descendants = body.include_descendants;
  } else p.include_descendants = false;
  if (present(body.sort)) {
    if (!SORTS.includes(body.sort)) throw bad(`sort must be one of ${SORTS.join(", ")}`, "sort");
    p.sort = body.sort;
  } else p.sort = "default";
  if (present(body.timeframe)) {
    const tf = body.timeframe;
    if (typeof tf !== "object" || Array.isArray(tf)) throw bad("timeframe must be an object", "timeframe");
    if (!present(tf.snapshots)) throw bad("timeframe.snapshots is required when timeframe is given (latest or all)", "timeframe.snapshots");
    if (!SNAPSHOTS.includes(tf.snapshots)) throw bad(`timeframe.snapshots must be one of ${SNAPSHOTS.join(", ")}`, "timeframe.snapshots");
    p.timeframe = { snapshots: tf.snapshots };
    for (const f of ["since", "until"]) {
      if (present(tf[f])) {
        if (!isInt(tf[f]) || tf[f] < 0) throw bad(`timeframe.${f} must be a Unix timestamp in milliseconds`, `timeframe.${f}`);
        p.timeframe[f] = tf[f];
      }
    }
    if (present(p.timeframe.since) && present(p.timeframe.until) && p.timeframe.since > p.timeframe.until) {
      throw bad("timeframe.since must not be after timeframe.until", "timeframe.since");
    }
  }
  return p;
}

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function paramsFromQuery(sp) {
  const out = {};
  const value = (v) => {
    try {
      const j = JSON.parse(v);
      return typeof j === "number" || typeof j === "boolean" ? j : v;
    } catch {
      return v;
    }
  };
  for (const [k, v] of sp) {
    const m = /^(\w+)\[(\w+)\]$/.exec(k);
    if (m) (out[m[1]] ??= {})[m[2]] = value(v);
    else out[k] = value(v);
  }
  return out;
}

/** Nulls sort after values (never-submitted records come last among equals). */
function cmpNullable(a, b) {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return cmp(a, b);
}

export class ForecastingApi {
  constructor(sandbox) {
    this.sb = sandbox;
    this.data = null;
  }

  rebuild() {
    this.data = null; // built lazily on first use
  }

  reset() {}

  get fd() {
    if (!this.data) this.data = new ForecastData({ seed: Number(this.sb.config.seed) });
    return this.data;
  }

  /** Every matching record (unpaginated), sorted, plus each one's snapshot time. */
  select(p) {
    const fd = this.fd;
    const type = fd.types.find((t) => t.id === p.forecast_type_id);
    if (!type) throw backstoryError(404, "not_found", `forecast type ${p.forecast_type_id} not found`, "forecast_type_id");
    let period;
    if (p.fiscal_period_id) {
      period = fd.periodById.get(p.fiscal_period_id);
      if (!period) throw backstoryError(404, "not_found", `fiscal period ${p.fiscal_period_id} not found`, "fiscal_period_id");
    } else if (p.fiscal_period_external_id) {
      period = fd.periodByExternal.get(p.fiscal_period_external_id);
      if (!period) throw backstoryError(404, "not_found", `fiscal period ${p.fiscal_period_external_id} not found`, "fiscal_period_external_id");
    } else period = fd.currentPeriod(this.sb.now());
    let nodes = fd.nodes;
    let anchor = null;
    if (p.hierarchy_node_id !== undefined) {
      anchor = fd.byId.get(p.hierarchy_node_id);
      if (!anchor) throw backstoryError(404, "not_found", `hierarchy node ${p.hierarchy_node_id} not found`, "hierarchy_node_id");
    } else if (p.hierarchy_node_ownership_external_id) {
      anchor = fd.byExternal.get(p.hierarchy_node_ownership_external_id);
      if (!anchor) throw backstoryError(404, "not_found", `hierarchy node ${p.hierarchy_node_ownership_external_id} not found`, "hierarchy_node_ownership_external_id");
    }
    if (anchor) nodes = p.include_descendants ? fd.descendants(anchor) : [anchor];
    const tf = p.timeframe ?? { snapshots: "latest" };
    const times = fd.snapshotTimes(period, this.sb.now()).filter((t) => (tf.since === undefined || t >= tf.since) && (tf.until === undefined || t <= tf.until));
    const picked = tf.snapshots === "all" ? times : times.slice(-1);
    const rows = [];
    for (const node of nodes) {
      for (const t of picked) rows.push({ node, t, rec: fd.record(type, period, node, t) });
    }
    rows.sort((a, b) => {
      let c = 0;
      if (p.sort === "hierarchy_level") c = a.node.level - b.node.level;
      return (
        c ||
        cmp(a.node.name, b.node.name) ||
        a.node.id - b.node.id ||
        cmpNullable(a.rec.submitted_by, b.rec.submitted_by) ||
        a.t - b.t
      );
    });
    return { period, type, rows };
  }

  /**
   * POST with a JSON body, or (readings.forecastMethod "get") GET with the parameters in the
   * query string, nested ones as `timeframe[snapshots]=all`; values that read as JSON (numbers,
   * booleans) are taken as such. The method not served answers 405.
   */
  async handleQuery(req, res, url = null) {
    const raw = await readBody(req, 64 * 1024);
    const want = this.sb.config.readings.forecastMethod === "get" ? "GET" : "POST";
    if (req.method !== want) {
      throw new HttpError(405, { error: "method_not_allowed", message: `use ${want}` }, { Allow: want });
    }
    this.sb.auth.requireBearer(req);
    const body = url ? paramsFromQuery(url.searchParams) : parseJsonBody(raw, (m) => bad(m, "body"));
    const p = validateForecastParams(body);
    const { rows } = this.select(p);
    const total = rows.length;
    // readings.forecastPerPageCap: pages hold at most this many, whatever per_page asked.
    const per = Math.min(p.per_page, Number(this.sb.config.readings.forecastPerPageCap));
    const last = Math.max(1, Math.ceil(total / per));
    const page = rows.slice((p.page - 1) * per, p.page * per).map((r) => r.rec);
    const headers = {
      "X-Total-Count": String(total),
      "X-Page-Last": String(last),
      "X-Limit": String(per),
      "X-Page": String(p.page),
    };
    // readings.forecastHeaders: the document lists four headers; a vendor may send fewer.
    const keep = { all: null, total_only: ["X-Total-Count"], last_only: ["X-Page-Last"], none: [] }[this.sb.config.readings.forecastHeaders];
    if (keep) for (const k of Object.keys(headers)) if (!keep.includes(k)) delete headers[k];
    sendJson(res, 200, page, headers);
  }

  /** POST /__sandbox/truth/forecasting: every record a query matches, unpaginated. */
  async handleTruth(req, res) {
    const body = parseJsonBody(await readBody(req, 64 * 1024), (m) => new HttpError(400, { error: "invalid_request", message: m }));
    // per_page is irrelevant to the truth; supply it so callers may omit it.
    const p = validateForecastParams({ per_page: 1000, ...body });
    const { period, type, rows } = this.select(p);
    sendJson(res, 200, {
      forecast_type_id: type.id,
      fiscal_period_id: period.id,
      total: rows.length,
      records: rows.map((r) => r.rec),
      snapshot_at: rows.map((r) => r.t),
      hierarchy_level: rows.map((r) => r.node.level),
    });
  }

  /** GET /__sandbox/truth/forecasting: the reference data (types, periods, hierarchy). */
  handleTruthAll(req, res) {
    req.resume();
    const fd = this.fd;
    const now = this.sb.now();
    const current = fd.currentPeriod(now);
    sendJson(res, 200, {
      forecast_types: fd.types,
      fiscal_periods: fd.periods.map((p) => ({ ...p, current: p === current, snapshot_times: fd.snapshotTimes(p, now) })),
      hierarchy: fd.nodes.map(({ children, ...n }) => ({ ...n, child_ids: children.map((c) => c.id) })),
    });
  }
}
