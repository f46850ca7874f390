// A `timeoutMs` deadline must hold through garbage collection. Node's `AbortSignal.any` holds
// its sources weakly, and `AbortSignal.timeout`'s signal is held weakly by its own timer: a
// collection during the run took the timeout signal and the deadline never came (CI saw a
// forecasts run wait out an 8 s stall under `timeoutMs: 600`). These runs collect garbage every
// few milliseconds while the sandbox holds an answer back, and must still end on time.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import init, { BackstoryClient } from "../../js/index.js";
import { control, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 21, dailyLimit: 1000 });
});
after(() => sb.close());

const client = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const FORECASTS = { forecast_type_id: 10090, per_page: 25, timeframe: { snapshots: "all" } };
const QUERY = { object: "account", columns: [{ slug: "ootb_account_name" }] };
const STALL_MS = 8000;

/** Runs `run` under the fault while collecting garbage; returns its error and how long it took. */
async function underGc(rule, run) {
  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { rules: [rule] });
  const collector = setInterval(gc, 5);
  const t0 = Date.now();
  try {
    const e = await run().then(() => assert.fail("expected E_TIMEOUT"), (x) => x);
    return { e, ms: Date.now() - t0 };
  } finally {
    clearInterval(collector);
    const [fired] = await control(sb, "/__sandbox/faults").then((r) => (Array.isArray(r) ? r : r.rules));
    assert.ok(fired.fired >= 1, "the stall happened");
    await control(sb, "/__sandbox/faults/clear", {});
  }
}

for (const fault of ["stall", "stall_body"]) {
  const rule = { scope: "forecasting", fault, afterBytes: 500, stallMs: STALL_MS, nth: 2 };

  test(`forecasts.query: a ${fault} meets timeoutMs while garbage is collected`, async () => {
    const pages = [];
    const { e, ms } = await underGc(rule, async () => {
      for await (const p of client().forecasts.query(FORECASTS, { concurrency: 1, timeoutMs: 700 })) pages.push(p);
    });
    assert.equal(e.code, "E_TIMEOUT", e.message);
    assert.equal(pages.length, 1, "the page before the stall arrived");
    assert.ok(ms < STALL_MS / 2, `ended after ${ms} ms, not at the end of the stall`);
  });

  test(`forecasts.all: a ${fault} meets timeoutMs while garbage is collected`, async () => {
    const { e, ms } = await underGc(rule, () => client().forecasts.all(FORECASTS, { concurrency: 1, timeoutMs: 700 }));
    assert.equal(e.code, "E_TIMEOUT", e.message);
    assert.ok(ms < STALL_MS / 2, `ended after ${ms} ms`);
  });
}

test("query: a stalled export meets timeoutMs while garbage is collected", async () => {
  const { e, ms } = await underGc({ scope: "query", fault: "stall", stallMs: STALL_MS }, () =>
    client().query(QUERY, { timeoutMs: 700 }),
  );
  assert.equal(e.code, "E_TIMEOUT", e.message);
  assert.ok(ms < STALL_MS / 2, `ended after ${ms} ms`);
});
