// Forecasting Query API in the sandbox: parameters, validation and pagination headers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSandbox } from "../../sandbox/server.mjs";
import { bearer } from "./helpers.mjs";

let sb;
let tok;
let ref;
const query = (b) =>
  fetch(`${sb.url}/v3/beta/forecasting/query`, { method: "POST", headers: { Authorization: `Bearer ${tok}`, "Content-Type": "application/json" }, body: JSON.stringify(b) });
const truth = (b) => fetch(`${sb.url}/__sandbox/truth/forecasting`, { method: "POST", body: JSON.stringify(b) }).then((r) => r.json());

before(async () => {
  sb = await startSandbox({});
  tok = await bearer(sb);
  ref = await (await fetch(`${sb.url}/__sandbox/truth/forecasting`)).json();
});
after(() => sb.close());

test("all pages concatenate to the truth, headers describe them", async () => {
  const params = { forecast_type_id: 10089, per_page: 7, timeframe: { snapshots: "all" }, sort: "hierarchy_level" };
  const t = await truth(params);
  assert.ok(t.total > 7);
  const got = [];
  let page = 1;
  let last;
  do {
    const r = await query({ ...params, page });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-total-count"), String(t.total));
    assert.equal(r.headers.get("x-limit"), "7");
    assert.equal(r.headers.get("x-page"), String(page));
    last = Number(r.headers.get("x-page-last"));
    got.push(...(await r.json()));
    page++;
  } while (page <= last);
  assert.equal(last, Math.ceil(t.total / 7));
  assert.deepEqual(got, t.records);
  const levels = t.hierarchy_level;
  for (let i = 1; i < levels.length; i++) assert.ok(levels[i - 1] <= levels[i]);
});

test("node selection, descendants, external ids and periods", async () => {
  const vp = ref.hierarchy.find((n) => n.level === 2);
  const only = await (await query({ forecast_type_id: 10089, per_page: 1000, hierarchy_node_id: vp.id })).json();
  assert.ok(only.length <= 1 && only.every((r) => r.hierarchy_node_id === vp.id));
  const desc = await (await query({ forecast_type_id: 10089, per_page: 1000, hierarchy_node_ownership_external_id: vp.external_id, include_descendants: true })).json();
  assert.ok(desc.length > 3);
  const past = ref.fiscal_periods.find((p) => p.name === "FY2024 Q2");
  const a = await (await query({ forecast_type_id: 10090, per_page: 1000, fiscal_period_id: past.id })).json();
  const b = await (await query({ forecast_type_id: 10090, per_page: 1000, fiscal_period_external_id: past.external_id })).json();
  assert.deepEqual(a, b);
  assert.equal(a.length, ref.hierarchy.length);
  const times = past.snapshot_times;
  const win = await (await query({ forecast_type_id: 10090, per_page: 1000, fiscal_period_id: past.id, timeframe: { snapshots: "all", since: times[2], until: times[4] } })).json();
  assert.equal(win.length, ref.hierarchy.length * 3);
});

test("validation errors name the field", async () => {
  const cases = [
    [{ per_page: 10 }, "forecast_type_id"],
    [{ forecast_type_id: 10089 }, "per_page"],
    [{ forecast_type_id: 10089, per_page: 1001 }, "per_page"],
    [{ forecast_type_id: 10089, per_page: 10, page: 0 }, "page"],
    [{ forecast_type_id: 10089, per_page: 10, fiscal_period_id: "x", fiscal_period_external_id: "y" }, "fiscal_period_external_id"],
    [{ forecast_type_id: 10089, per_page: 10, hierarchy_node_id: 1, hierarchy_node_ownership_external_id: "y" }, "hierarchy_node_ownership_external_id"],
    [{ forecast_type_id: 10089, per_page: 10, sort: "name" }, "sort"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { since: 1 } }, "timeframe.snapshots"],
    [{ forecast_type_id: 10089, per_page: 10, timeframe: { snapshots: "all", since: 5, until: 1 } }, "timeframe.since"],
    [{ forecast_type_id: 10089, per_page: 10, include_descendants: "yes" }, "include_descendants"],
  ];
  for (const [b, field] of cases) {
    const r = await query(b);
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.equal((await r.json()).field, field);
  }
  assert.equal((await query({ forecast_type_id: 1, per_page: 10 })).status, 404);
});
