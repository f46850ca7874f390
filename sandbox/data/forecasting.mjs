import { Rng, hash32, rngFor } from "../prng.mjs";
import { DAY_MS, FIRST_NAMES, personName, sfid } from "./common.mjs";

// Forecasting: a hierarchy of nodes owned by people, calendar-quarter fiscal periods, forecast
// types with their own field sets, and weekly snapshots. Parents' values are the sums of their
// children's, as a roll-up forecast would show.

const NOTES = ["Orbis - 15k", "Commit includes Müller & Søn renewal", 'Pulled "Atlas" deal to next Q', "Upside: 2 deals, 40k", "Risk: budget freeze,\nlegal review pending", "東京 deal slipped", "🚀 best quarter yet", "", "=SUM(A1:A9)", "On track"];

export const FORECAST_TYPES = [
  { id: 10089, name: "Revenue", fields: ["quota", "gap_to_quota", "forecast_call", "closed_won", "commit", "best_case", "open_pipeline"] },
  { id: 10090, name: "New Business", fields: ["quota", "closed_won", "commit", "best_case", "open_pipeline"] },
  { id: 10091, name: "Renewals", fields: ["quota", "closed_won", "commit", "best_case", "churn_risk"] },
];
// Fields only managers (levels 1..3) carry: records then differ in which fields they have.
const MANAGER_ONLY_FIELDS = new Set(["forecast_call", "churn_risk"]);
const WEEK_MS = 7 * DAY_MS;

export class ForecastData {
  constructor({ seed }) {
    this.seed = seed;
    this.nodes = [];
    const r = new Rng(hash32(seed, "forecast-hierarchy"));
    let nextId = 10001;
    const make = (level, parent) => {
      const k = this.nodes.length;
      const node = {
        id: nextId++,
        external_id: sfid("0MI", seed, "fnode", k),
        name: k % 13 === 6 ? `${r.pick(FIRST_NAMES)} ${r.pick(["Müller-Lüdenscheidt", "O'Neil, Jr.", '"Sam" Park', "東"])}` : personName(r),
        level,
        parent_id: parent ? parent.id : null,
        owner_user_id: 400000 + r.int(0, 99999),
        children: [],
      };
      this.nodes.push(node);
      if (parent) parent.children.push(node);
      return node;
    };
    const root = make(1, null);
    const regions = 4;
    for (let a = 0; a < regions; a++) {
      const vp = make(2, root);
      const managers = r.int(2, 4);
      for (let b = 0; b < managers; b++) {
        const m = make(3, vp);
        const reps = r.int(3, 7);
        for (let c = 0; c < reps; c++) make(4, m);
      }
    }
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    this.byExternal = new Map(this.nodes.map((n) => [n.external_id, n]));
    this.periods = [];
    for (let y = 2023; y <= 2030; y++) {
      for (let q = 0; q < 4; q++) {
        const k = this.periods.length;
        const pr = rngFor(seed, "fperiod", k);
        this.periods.push({
          id: pr.uuid(),
          external_id: "0261" + new Rng(hash32(seed, "fperiod-ext", k)).chars(11) + "RAD",
          name: `FY${y} Q${q + 1}`,
          start: Date.UTC(y, q * 3, 1),
          end: Date.UTC(y, q * 3 + 3, 1),
        });
      }
    }
    this.periodById = new Map(this.periods.map((p) => [p.id, p]));
    this.periodByExternal = new Map(this.periods.map((p) => [p.external_id, p]));
    this.types = FORECAST_TYPES;
    this.memo = new Map();
  }

  currentPeriod(nowMs) {
    return this.periods.find((p) => p.start <= nowMs && nowMs < p.end) ?? (nowMs < this.periods[0].start ? this.periods[0] : this.periods[this.periods.length - 1]);
  }

  descendants(node) {
    const out = [];
    const walk = (n) => {
      out.push(n);
      for (const c of n.children) walk(c);
    };
    walk(node);
    return out;
  }

  /** Snapshot times of a period (each the end of a week of the period) that are not in the future. */
  snapshotTimes(period, nowMs) {
    const out = [];
    // The first snapshot closes the week before the quarter: forecasts are submitted ahead of it.
    for (let t = period.start - WEEK_MS; t <= period.end; t += WEEK_MS) {
      if (t > nowMs) break;
      out.push(t);
    }
    return out;
  }

  cadenceId(t) {
    return new Rng(hash32(this.seed, "cadence", Math.floor(t / WEEK_MS))).uuid();
  }

  /** Field values of a node at a snapshot: leaves are drawn, parents sum their children. */
  values(type, period, node, t) {
    const key = `${type.id}|${period.id}|${node.id}|${t}`;
    let v = this.memo.get(key);
    if (v) return v;
    if (node.children.length) {
      v = {};
      for (const c of node.children) {
        const cv = this.values(type, period, c, t);
        for (const f of Object.keys(cv)) v[f] = (v[f] ?? 0) + cv[f];
      }
    } else {
      const base = rngFor(this.seed, `fvals|${type.id}|${period.id}`, node.id);
      const quota = Math.round((50 + base.float() * 250) * 1000);
      const progress = Math.min(1, Math.max(0, (t - period.start) / (period.end - period.start)));
      const wr = rngFor(this.seed, `fweek|${type.id}|${period.id}|${node.id}`, Math.floor(t / WEEK_MS));
      const closed = Math.round(quota * progress * (0.4 + base.float() * 0.8) * (0.9 + wr.float() * 0.2));
      const commit = closed + Math.round(quota * (1 - progress) * (0.2 + wr.float() * 0.4));
      const best = commit + Math.round(quota * (0.1 + wr.float() * 0.5));
      const pipeline = Math.round(best * (1.2 + wr.float()));
      v = { quota, gap_to_quota: quota - closed, forecast_call: Math.round((commit + best) / 2), closed_won: closed, commit, best_case: best, open_pipeline: pipeline, churn_risk: Math.round(quota * wr.float() * 0.15) };
    }
    if (this.memo.size > 500000) this.memo.clear();
    this.memo.set(key, v);
    return v;
  }

  record(type, period, node, t) {
    const vals = this.values(type, period, node, t);
    const r = rngFor(this.seed, `fsub|${type.id}|${period.id}|${node.id}`, Math.floor(t / WEEK_MS));
    const submitted = r.chance(0.85);
    const submitter = node.parent_id && r.chance(0.15) ? this.byId.get(node.parent_id).owner_user_id : node.owner_user_id;
    const fields = {};
    for (const f of type.fields) {
      if (MANAGER_ONLY_FIELDS.has(f) && node.level > 3) continue;
      fields[f] = { value: vals[f] };
    }
    return {
      hierarchy_node_id: node.id,
      hierarchy_node_ownership_external_id: node.external_id,
      hierarchy_node_name: node.name,
      cadence_period_id: this.cadenceId(t),
      submitted_by: submitted ? submitter : null,
      submitted_at: submitted ? t - WEEK_MS + r.int(3600, 6 * 86400) * 1000 : null,
      notes: submitted ? r.pick(NOTES) || null : null,
      fields,
    };
  }
}
