// The Forecasting Query API under every fault that applies to it (statuses with and without
// Retry-After, resets, truncated and stalled bodies, a token expiring mid-run, error bodies,
// invalid UTF-8), on pages fetched several at a time: each run either gathers exactly the
// sandbox's records, in order, or fails with the coded error that says which pages had arrived.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import init, { BackstoryClient } from "../../js/index.js";
import { control, faultMatrix, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
let truth;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 12 });
  truth = (await control(sb, "/__sandbox/truth/forecasting", client().forecasts.validate(PARAMS))).records;
  assert.ok(truth.length > 5 * PARAMS.per_page, `several pages (${truth.length} records)`);
});
const matrix = faultMatrix("forecasting", () => sb);
after(async () => {
  await matrix.report();
  await sb.close();
});

const PARAMS = { forecast_type_id: 10090, per_page: 25, timeframe: { snapshots: "all" } };
const client = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const injected = matrix.injected;

/** Every page through the iterator: exactly the truth, pages in order. */
async function exact(opts = {}) {
  const pages = [];
  const it = client().forecasts.query(PARAMS, { concurrency: 3, ...opts });
  for await (const p of it) pages.push(p);
  assert.deepEqual(pages.map((p) => p.page), pages.map((_, i) => i + 1));
  assert.deepEqual(pages.flatMap((p) => p.records), truth);
  const summary = await it.result();
  assert.equal(summary.complete, true);
  return summary;
}

/** A run that must fail: the code, and `delivered` naming exactly the pages that arrived. */
async function fails(code, opts = {}) {
  const pages = [];
  const e = await (async () => {
    for await (const p of client().forecasts.query(PARAMS, { concurrency: 3, ...opts })) pages.push(p);
  })().then(
    () => assert.fail(`expected ${code}`),
    (x) => x,
  );
  assert.equal(e.name, "ExportError");
  assert.equal(e.code, code, e.message);
  const got = pages.flatMap((p) => p.records);
  assert.deepEqual(e.delivered, { pages: pages.length, records: got.length, page: pages.at(-1)?.page ?? null });
  assert.deepEqual(got, truth.slice(0, got.length), "what arrived is a prefix of the truth");
  return e;
}

for (const ra of [{ retryAfter: 1 }, { retryAfterDate: 1 }, { retryAfter: "0" }, {}]) {
  test(`429 ${JSON.stringify(ra)} on a page is waited out; exact`, () =>
    injected({ scope: "forecasting", fault: "status", status: 429, nth: 3, ...ra }, async () => {
      const t0 = Date.now();
      await exact();
      if (ra.retryAfter === 1) assert.ok(Date.now() - t0 >= 900, "Retry-After was honoured");
    }));
}

test("429 past the Retry-After cap is reported with its wait and what had arrived", () =>
  injected({ scope: "forecasting", fault: "status", status: 429, retryAfter: 3600, nth: 2 }, async () => {
    const e = await fails("E_RATE_LIMITED", { concurrency: 1 });
    assert.equal(e.retryAfterMs, 3_600_000);
    assert.equal(e.delivered.pages, 1);
  }));

for (const status of [500, 502, 503, 504]) {
  test(`${status} on pages and on the token exchange: retried, exact`, async () => {
    await injected({ scope: "forecasting", fault: "status", status, every: 3, times: 2 }, () => exact());
    await injected({ scope: "token", fault: "status", status, nth: 1 }, () => exact());
  });
}

test("a 5xx on every try exhausts the budget: the error names the status and what arrived", () =>
  // The first page's five tries (one and four retries) all fail.
  injected({ scope: "forecasting", fault: "status", status: 503, every: 1, times: 5 }, async () => {
    const e = await fails("E_HTTP", { concurrency: 1 });
    assert.equal(e.status, 503);
    assert.equal(e.delivered.pages, 0);
  }));

test("connection resets and bodies cut short: the page is fetched again; exact", async () => {
  for (const afterBytes of [1, 300, 2000]) {
    await injected([
      { scope: "forecasting", fault: "reset", afterBytes, nth: 2 },
      { scope: "forecasting", fault: "truncate", afterBytes: afterBytes + 100, nth: 4 },
    ], () => exact());
  }
});

test("a stalled answer and a body that stops meet the deadline, saying which pages arrived", async () => {
  for (const rule of [
    { scope: "forecasting", fault: "stall", stallMs: 8000, nth: 3 },
    { scope: "forecasting", fault: "stall_body", afterBytes: 500, stallMs: 8000, nth: 3 },
  ]) {
    await injected(rule, async () => {
      const t0 = Date.now();
      const e = await fails("E_TIMEOUT", { concurrency: 1, timeoutMs: 600 });
      assert.equal(e.delivered.pages, 2);
      assert.ok(Date.now() - t0 < 6000, `${Date.now() - t0} ms`);
    });
  }
});

test("a stall shorter than the deadline is only a delay; exact", () =>
  injected({ scope: "forecasting", fault: "stall_body", afterBytes: 500, stallMs: 300, nth: 2 }, () => exact({ timeoutMs: 5000 })));

test("a token that expires mid-run is replaced; exact", () =>
  injected({ scope: "forecasting", fault: "expire_token", nth: 2 }, () => exact()));

test("a 200 carrying an error body is the vendor's error, with what had arrived", async () => {
  await injected({ scope: "forecasting", fault: "error_body", nth: 3 }, async () => {
    const e = await fails("E_HTTP", { concurrency: 1 });
    assert.equal(e.status, 200);
    assert.match(e.message, /sandbox fault/, "the vendor's words");
    assert.equal(e.delivered.pages, 2);
  });
  // all() keeps nothing of a failed run, but says the same.
  await injected({ scope: "forecasting", fault: "error_body", nth: 3 }, async () => {
    const e = await client().forecasts.all(PARAMS, { concurrency: 1 }).catch((x) => x);
    assert.equal(e.code, "E_HTTP");
    assert.deepEqual(e.delivered, { pages: 2, records: 2 * PARAMS.per_page, page: 2 });
  });
});

test("invalid UTF-8 in a page is a decode error naming the page and position, with what had arrived", () =>
  // A page is one JSON document: there is no line to leave out, and a body that is wrong (not
  // cut short) is not fetched again.
  injected({ scope: "forecasting", fault: "invalid_utf8", afterBytes: 700, nth: 2 }, async () => {
    const e = await fails("E_DECODE", { concurrency: 1 });
    assert.match(e.message, /page 2/);
    assert.equal(e.line, 1);
    assert.equal(e.column, 701);
    assert.equal(e.delivered.pages, 1);
  }));

test("failures at a seeded rate, several seeds: always exact", async () => {
  // Seeds whose draws fire both rules within the run.
  for (const seed of [4, 6, 9, 10, 13]) {
    await injected([
      { scope: "forecasting", fault: "status", status: 503, rate: 0.3, seed, times: 3 },
      { scope: "forecasting", fault: "reset", afterBytes: 150 * seed, rate: 0.3, seed, times: 2 },
    ], () => exact({ concurrency: seed % 3 + 1 }));
  }
});
