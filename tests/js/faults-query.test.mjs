// The Query API under every fault the sandbox can throw: each run either returns the exact CSV
// or fails with the error that says what happened. A call that may have spent one of the day's ten
// is never repeated on the client's own initiative.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient } from "../../js/index.js";
import { control, faultMatrix, SANDBOX_CREDENTIALS, startSandbox, truthCsv } from "./helpers.mjs";

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 11, dailyLimit: 1000 });
});
const matrix = faultMatrix("query", () => sb);
after(async () => {
  await matrix.report();
  await sb.close();
});
beforeEach(() => control(sb, "/__sandbox/reset"));

const QUERY = {
  object: "account",
  columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_industry" }, { slug: "ootb_account_count_emails", variation_id: "ootb_account_count_emails_last_30_days" }],
  sort: [{ attribute: { slug: "ootb_account_name" }, direction: "asc" }],
};
const client = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const rules = matrix.rules;
const injected = matrix.injected;
const calls = async () => (await control(sb, "/__sandbox/state")).queryCallsToday;

async function expectExact(opts = {}) {
  const res = await client().query(QUERY, opts);
  assert.equal(res.csv, await truthCsv(sb, QUERY));
  return res;
}

for (const retryAfter of [7, "0", undefined]) {
  test(`429 on the export (Retry-After ${retryAfter}) is reported, not retried`, () =>
    injected({ scope: "query", fault: "status", status: 429, ...(retryAfter !== undefined ? { retryAfter } : {}) }, async () => {
      const e = await client().query(QUERY).catch((e) => e);
      assert.equal(e.code, "E_RATE_LIMITED");
      assert.equal(e.retryAfterMs, retryAfter === undefined ? undefined : Number(retryAfter) * 1000);
      assert.equal((await rules())[0].seen, 1, "one export request only");
    }));
}

test("429 with an HTTP-date Retry-After gives the wait in ms", () =>
  injected({ scope: "query", fault: "status", status: 429, retryAfterDate: 30 }, async () => {
    const e = await client().query(QUERY).catch((e) => e);
    assert.equal(e.code, "E_RATE_LIMITED");
    assert.ok(e.retryAfterMs > 20_000 && e.retryAfterMs <= 31_000, String(e.retryAfterMs));
  }));

for (const status of [500, 502, 503, 504]) {
  test(`${status} on the export fails once without spending a second call`, () =>
    injected({ scope: "query", fault: "status", status }, async () => {
      const e = await client().query(QUERY).catch((e) => e);
      assert.equal(e.code, "E_HTTP");
      assert.equal(e.status, status);
      assert.equal((await rules())[0].seen, 1);
    }));
  test(`${status} on the token exchange is retried with backoff`, () =>
    injected({ scope: "token", fault: "status", status, times: 2, every: 1 }, async () => {
      await expectExact();
      assert.equal((await rules())[0].seen, 3);
    }));
}

test("429 with Retry-After: 0 on the token exchange is retried at once", () =>
  injected({ scope: "token", fault: "status", status: 429, retryAfter: "0" }, () => expectExact()));

test("a connection reset in the middle of the CSV is a network error", () =>
  injected({ scope: "query", fault: "reset", afterBytes: 3000 }, async () => {
    const e = await client().query(QUERY).catch((e) => e);
    assert.equal(e.code, "E_NETWORK");
  }));

test("a body cut short with a clean end is an error, never a short success", async () => {
  // Cut in the middle of a record: a cut exactly at a record boundary of a chunked body cannot be
  // told from the real end, since the Query API sends no row count.
  const truth = Buffer.from(await truthCsv(sb, QUERY));
  let cut = 3001;
  while (truth[cut - 1] === 0x0a) cut++;
  await injected({ scope: "query", fault: "truncate", afterBytes: cut }, async () => {
    const e = await client().query(QUERY).catch((e) => e);
    assert.equal(e.code, "E_DECODE");
    assert.match(e.message, /cut short/);
    assert.ok(e.line > 1);
  });
});

test("a stalled answer meets the deadline", () =>
  injected({ scope: "query", fault: "stall", stallMs: 5000 }, async () => {
    const t0 = Date.now();
    const e = await client().query(QUERY, { timeoutMs: 600 }).catch((e) => e);
    assert.equal(e.code, "E_TIMEOUT");
    assert.ok(Date.now() - t0 < 3000);
  }));

test("a body that stalls half-way meets the deadline", () =>
  injected({ scope: "query", fault: "stall_body", afterBytes: 2000, stallMs: 5000 }, async () => {
    const e = await client().query(QUERY, { timeoutMs: 800 }).catch((e) => e);
    assert.equal(e.code, "E_TIMEOUT");
  }));

test("a 200 carrying an error body is an error", () =>
  injected({ scope: "query", fault: "error_body" }, async () => {
    const e = await client().query(QUERY).catch((e) => e);
    assert.equal(e.code, "E_HTTP");
    assert.equal(e.status, 200);
  }));

test("a header that differs from the request is reported", () =>
  injected({ scope: "query", fault: "bad_header" }, async () => {
    const res = await client().query(QUERY);
    assert.ok(res.missingColumns.length >= 1, JSON.stringify(res));
    assert.ok(res.unexpectedColumns.length >= 1);
  }));

test("invalid UTF-8 lands in errors[] with its line, or fails in strict mode", async () => {
  await injected({ scope: "query", fault: "invalid_utf8", afterBytes: 4000 }, async () => {
    const res = await client().query(QUERY);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0].code, "InvalidUtf8");
    assert.ok(res.errors[0].line > 1);
    assert.equal(res.rowCount, res.rows.length);
  });
  await injected({ scope: "query", fault: "invalid_utf8", afterBytes: 4000 }, async () => {
    const e = await client().query(QUERY, { strict: true }).catch((e) => e);
    assert.equal(e.code, "E_DECODE");
    assert.ok(e.line > 1);
  });
});

test("a token that expires during a download is replaced for the next call", () =>
  injected({ scope: "query", fault: "expire_token" }, async () => {
    const c = client();
    const a = await c.query(QUERY);
    assert.equal(a.csv, await truthCsv(sb, QUERY));
    const b = await c.query(QUERY);
    assert.equal(b.csv, a.csv);
    assert.equal(await calls(), 2);
  }));

test("token failures at a seeded rate never cost a second export call", async () => {
  // Seeds whose first draw fires, so each run meets at least one failure.
  for (const seed of [2, 4, 5, 7, 9]) {
    await control(sb, "/__sandbox/reset");
    await injected({ scope: "token", fault: "status", status: 503, rate: 0.5, seed, times: 3 }, async () => {
      await expectExact();
      assert.equal(await calls(), 1, `seed ${seed}`);
    });
  }
});
