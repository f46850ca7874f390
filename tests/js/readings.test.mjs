// Every reading of the vendor documents (issue 15 §3): the wasm client in Node against the sandbox
// under each `readings` switch that matters (sandbox/README.md, "Readings"), contents compared
// exactly with the sandbox's truth endpoints. One sandbox; each case sets its switches and resets.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient, UserpilotClient } from "../../js/index.js";
import { LOOKUPS, PAGINATED_LOOKUPS } from "../../js/userpilot.js";
import { SANDBOX_USERPILOT_NOPLAN_KEY } from "../../sandbox/server.mjs";
import { backstoryEnv, control, runCli, SANDBOX_CREDENTIALS, startSandbox } from "./helpers.mjs";

let sb;
let defaults;
before(async () => {
  await init();
  // Small fragments so a week's job has several; fast jobs.
  sb = await startSandbox({ port: 0, seed: 15, activities: 6000, fragmentRecords: 30, jobSpeed: 40, eventsPerDay: 60 });
  defaults = (await control(sb, "/__sandbox/state")).config.readings;
});
after(() => sb.close());
beforeEach(async () => {
  await control(sb, "/__sandbox/reset");
  await control(sb, "/__sandbox/config", { readings: defaults });
});

const readings = (r) => control(sb, "/__sandbox/config", { readings: r });
const backstory = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const userpilot = (apiKey = SANDBOX_CREDENTIALS.userpilot.apiKey) => new UserpilotClient({ baseUrl: sb.url, apiKey });
const FAST = { pollIntervalMs: 20, pollMaxMs: 100 };

async function gather(it) {
  const batches = [];
  for await (const b of it) batches.push(b);
  return { batches, summary: await it.result() };
}

async function truthText(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/activities?${new URLSearchParams(query)}`);
  assert.equal(r.status, 200);
  return r.text();
}

/** One activities export under the current switches: the raw bytes and the summary. */
async function exportActivities(c, params, progress = []) {
  const it = c.activities.export(params, { ...FAST, format: "jsonl", concurrency: 3, onProgress: (p) => progress.push(p) });
  const { batches, summary } = await gather(it);
  return { bytes: Buffer.concat(batches.map((b) => Buffer.from(b.bytes))), summary };
}

test("activities: fragment numbering x URL form x results_size, with state case and job times", async () => {
  const sizes = ["exact", "no_final_newline", "compressed", "null", "absent", "zero"];
  const cases = [];
  for (const fragmentNumbering of ["count", "index", "absent"]) {
    for (const fragmentPath of ["both", "data", "fragment"]) {
      for (const resultsSize of ["exact", "null"]) cases.push({ fragmentNumbering, fragmentPath, resultsSize });
    }
  }
  for (const fragmentNumbering of ["count", "index"]) {
    for (const resultsSize of sizes) cases.push({ fragmentNumbering, fragmentPath: "both", resultsSize });
  }
  // HTTP compression of the data, with the sizes as they may be announced.
  for (const resultsSize of ["exact", "compressed"]) cases.push({ fragmentNumbering: "count", fragmentPath: "both", resultsSize, dataEncoding: "gzip" });
  const states = ["title", "lower", "upper"];
  const times = ["z", "no_zone", "micro"];
  for (const [i, r] of cases.entries()) {
    const all = { ...r, stateCase: states[i % 3], jobTimes: times[Math.floor(i / 3) % 3] };
    const label = JSON.stringify(all);
    await control(sb, "/__sandbox/reset");
    await readings(all);
    const progress = [];
    const { bytes, summary } = await exportActivities(backstory(), { startDate: "2024-03-04", endDate: "2024-03-10" }, progress);
    const jobId = summary.jobs[0].jobId;
    const truth = await truthText({ job_id: jobId });
    const fragments = (await control(sb, `/__sandbox/truth/activities?job_id=${jobId}&summary=1`)).fragments.length;
    assert.ok(fragments >= 3, `${label}: several fragments (${fragments})`);
    assert.equal(bytes.toString("utf8"), truth, label);
    assert.equal(summary.jobs[0].state, "Completed", label);
    const more = ["no_final_newline", "compressed", "zero"].includes(r.resultsSize);
    assert.deepEqual(summary.warnings.map((w) => w.code), more ? ["W_RESULTS_SIZE"] : [], label);
    if (more) {
      const w = summary.warnings[0];
      assert.equal(w.jobId, jobId);
      assert.equal(w.received, Buffer.byteLength(truth));
      assert.ok(w.resultsSize < w.received, label);
      assert.deepEqual(progress.at(-1).warnings, summary.warnings, `${label}: in the progress too`);
    }
  }
});

test("activities: more than announced is a warning, fewer (results_size over the data) an error", async () => {
  await readings({ resultsSize: "over" });
  await assert.rejects(exportActivities(backstory(), { startDate: "2024-03-04", endDate: "2024-03-10" }), (e) => e.code === "E_NETWORK" && /results_size/.test(e.message));
  // Highest-index numbering with an exact size: the extra fragment is found, no warning.
  await control(sb, "/__sandbox/reset");
  await readings({ resultsSize: "exact", fragmentNumbering: "index" });
  const { bytes, summary } = await exportActivities(backstory(), { startDate: "2024-03-04", endDate: "2024-03-10" });
  assert.equal(bytes.toString("utf8"), await truthText({ job_id: summary.jobs[0].jobId }));
  assert.deepEqual(summary.warnings, []);
});

test("activities CLI: the results_size warning is printed, the data written whole", async () => {
  await readings({ resultsSize: "compressed", fragmentNumbering: "index" });
  const r = await runCli(["activities", "--start-date", "2024-03-04", "--end-date", "2024-03-10", "--poll-interval-ms", "40"], { env: backstoryEnv(sb) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: job \S+: received \d+ bytes of data, more than its results_size \d+ .*\(W_RESULTS_SIZE\)$/m);
  const jobId = /job (\S+): received/.exec(r.stderr)[1];
  assert.equal(r.stdout.toString("utf8"), await truthText({ job_id: jobId }));
});

test("activities: a day with no records under both numberings", async () => {
  // One activity a year: most days have none.
  await control(sb, "/__sandbox/config", { activities: 1 });
  try {
    for (const fragmentNumbering of ["count", "index"]) {
      for (const resultsSize of ["exact", "null"]) {
        await control(sb, "/__sandbox/reset");
        await readings({ fragmentNumbering, resultsSize });
        const { bytes, summary } = await exportActivities(backstory(), { startDate: "2024-03-05", endDate: "2024-03-05" });
        assert.equal(await truthText({ job_id: summary.jobs[0].jobId }), "");
        assert.equal(bytes.length, 0);
        assert.equal(summary.records, 0, `${fragmentNumbering} ${resultsSize}`);
        assert.equal(summary.jobs[0].fragmentCount, 0);
      }
    }
  } finally {
    await control(sb, "/__sandbox/config", { activities: 6000 });
  }
});

test("activities: a create whose answer is lost adopts its job from the list, under every list shape and time format", async () => {
  for (const jobList of ["array", "jobs", "data"]) {
    for (const jobTimes of ["z", "no_zone", "micro"]) {
      const label = `${jobList} ${jobTimes}`;
      await control(sb, "/__sandbox/reset");
      await readings({ jobList, jobTimes });
      const c = backstory();
      const listed = await c.activities.list();
      assert.deepEqual(listed, [], label);
      // The job is made, then the connection drops before its answer.
      await control(sb, "/__sandbox/faults", { scope: "activities.create", fault: "reset", afterBytes: 0, nth: 1 });
      const { bytes, summary } = await exportActivities(c, { startDate: "2024-03-04", endDate: "2024-03-06" });
      const made = Object.values((await control(sb, "/__sandbox/state")).activityJobs).reduce((a, b) => a + b, 0);
      const rules = await control(sb, "/__sandbox/faults");
      assert.equal((Array.isArray(rules) ? rules : rules.rules)[0].fired, 1, `${label}: the answer was lost`);
      assert.equal(made, 1, `${label}: the lost job was adopted, not made twice`);
      assert.equal(bytes.toString("utf8"), await truthText({ job_id: summary.jobs[0].jobId }), label);
      assert.equal((await c.activities.list())[0].jobId, summary.jobs[0].jobId, label);
    }
  }
});

test("token: form, HTTP Basic or JSON; expires_in as text or absent (expires_at); bearer casing; an expired token answered 401 or 403", async () => {
  for (const tokenEncoding of ["any", "form", "basic", "json"]) {
    for (const [expiresIn, tokenType, expiredTokenStatus] of [["number", "bearer", 401], ["string", "Bearer", 403], ["absent", "bearer", 403]]) {
      const label = JSON.stringify({ tokenEncoding, expiresIn, tokenType, expiredTokenStatus });
      await control(sb, "/__sandbox/reset");
      await readings({ tokenEncoding, expiresIn, tokenType, expiredTokenStatus });
      const c = backstory();
      const job = await c.activities.start({ startDate: "2024-03-04", endDate: "2024-03-05" });
      await control(sb, "/__sandbox/tokens/expire", {});
      const got = await c.activities.get(job.jobId);
      assert.equal(got.jobId, job.jobId, label);
      const state = await control(sb, "/__sandbox/state");
      assert.equal(state.tokens, 2, `${label}: one token, one refresh after the expiry`);
    }
  }
  // Wrong credentials stay an auth error under every encoding.
  await readings({ tokenEncoding: "json" });
  const bad = new BackstoryClient({ baseUrl: sb.url, clientId: "nope", clientSecret: "nope" });
  await assert.rejects(bad.activities.list(), (e) => e.code === "E_AUTH" && !e.message.includes("nope"));
});

test("forecasting: all four page headers, X-Total-Count only, X-Page-Last only, none; POST or GET", async () => {
  const c = backstory();
  for (const [i, forecastHeaders] of ["all", "total_only", "last_only", "none"].entries()) {
    const forecastMethod = i % 2 ? "get" : "post";
    await readings({ forecastHeaders, forecastMethod });
    for (const params of [{ forecast_type_id: 10089, per_page: 7 }, { forecast_type_id: 10090, per_page: 1000 }]) {
      const t = await control(sb, "/__sandbox/truth/forecasting", c.forecasts.validate(params));
      // A per_page that divides the total, so the last page is full and "none" must ask one
      // empty page more.
      let div = t.total;
      for (let d = 2; d <= Math.min(1000, t.total); d++) if (t.total % d === 0 && t.total / d >= 2) div = d;
      assert.ok(div >= 1 && div <= 1000, `a per_page dividing ${t.total}`);
      const full = { ...params, per_page: div };
      for (const p of [params, full]) {
        const label = `${forecastHeaders} ${forecastMethod} ${JSON.stringify(p)}`;
        const truth = await control(sb, "/__sandbox/truth/forecasting", c.forecasts.validate(p));
        const pages = [];
        for await (const page of c.forecasts.query(p, { concurrency: 3 })) pages.push(page);
        assert.deepEqual(pages.flatMap((x) => x.records), truth.records, label);
        assert.ok(pages.every((x) => !x.totalChanged), label);
        const all = await c.forecasts.all(p);
        assert.equal(all.records.length, truth.records.length, label);
        assert.equal(all.totalCount, truth.total, label);
      }
    }
    // A vendor serving 50 a page when asked for 1000, said in X-Limit or not at all.
    await readings({ forecastPerPageCap: 50 });
    const p = { forecast_type_id: 10089, per_page: 1000 };
    const truth = await control(sb, "/__sandbox/truth/forecasting", c.forecasts.validate(p));
    assert.ok(truth.total > 50);
    const pages = [];
    for await (const page of c.forecasts.query(p, { concurrency: 3 })) pages.push(page);
    assert.deepEqual(pages.flatMap((x) => x.records), truth.records, `${forecastHeaders} cap 50`);
    assert.equal(pages[0].records.length, 50);
    // Without any header nothing tells the page size: the walk goes on to an empty page instead.
    if (forecastHeaders !== "none") assert.equal(pages[0].limit, 50, `${forecastHeaders} cap 50`);
    await readings({ forecastPerPageCap: 1000 });
  }
});

async function userpilotTruth(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/userpilot/events?${new URLSearchParams(query)}`);
  return (await r.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

test("userpilot: 201 or 200 on create, relative or absolute links, presigned_urls as objects or strings, status case, JSON Lines or a JSON array", async () => {
  const combos = [
    { createStatus: 201, links: "relative", presignedUrls: "objects", statusCase: "lower" },
    { createStatus: 200, links: "absolute", presignedUrls: "strings", statusCase: "upper" },
    { createStatus: 200, links: "relative", presignedUrls: "strings", statusCase: "lower" },
    { createStatus: 201, links: "absolute", presignedUrls: "objects", statusCase: "upper", jsonFiles: "array" },
    { createStatus: 200, links: "relative", presignedUrls: "objects", statusCase: "lower", jsonFiles: "array" },
  ];
  for (const r of combos) {
    const label = JSON.stringify(r);
    await control(sb, "/__sandbox/reset");
    await readings(r);
    const up = userpilot();
    for (const format of ["json", "csv"]) {
      const job = await up.exports.start({ from: "2024-05-06", to: "2024-05-19", format });
      const done = await up.exports.wait(job, { pollMs: 20 });
      assert.equal(done.status, "completed", label);
      const ext = format === "csv" ? "csv.gz" : "json.gz";
      assert.deepEqual(done.presignedUrls.map((f) => f.filename), [`2024-05-06.${ext}`, `2024-05-13.${ext}`], label);
      const { batches, summary } = await gather(up.exports.rows(job.jobId, { batchRecords: 100, dedupe: false }));
      const records = batches.flatMap((b) => b.records);
      const truth = await userpilotTruth({ job_id: job.jobId });
      if (format === "json") assert.deepEqual(records, truth, label);
      else assert.equal(summary.records, truth.length, label);
      assert.equal(summary.files.length, 2, label);
    }
  }
});

test("userpilot: lookups as documented, all arrays or all pages; the last cursor null, empty or missing", async () => {
  const up = userpilot();
  const truths = {};
  for (const name of LOOKUPS) truths[name] = await control(sb, `/__sandbox/truth/userpilot/lookups/${name}`);
  for (const lookupShape of ["documented", "arrays", "pages"]) {
    for (const cursorEnd of ["null", "empty", "missing"]) {
      await readings({ lookupShape, cursorEnd });
      for (const name of LOOKUPS) {
        const opts = PAGINATED_LOOKUPS.includes(name) ? { limit: 33 } : {};
        assert.deepEqual(await up.lookups.all(name, opts), truths[name], `${lookupShape} ${cursorEnd} ${name}`);
      }
    }
  }
});

test("userpilot: an export whose files hold no events, served as a gzip of nothing or as zero bytes", async () => {
  const up = userpilot();
  for (const emptyFiles of ["gzip", "zero_bytes"]) {
    await readings({ emptyFiles });
    for (const format of ["json", "csv"]) {
      for (const nativeGunzip of [false, true]) {
        const label = `${emptyFiles} ${format} nativeGunzip=${nativeGunzip}`;
        await control(sb, "/__sandbox/reset");
        const job = await up.exports.start({ from: "2024-05-06", to: "2024-05-19", userId: ["nobody-at-all"], format });
        await up.exports.wait(job, { pollMs: 20 });
        assert.deepEqual(await userpilotTruth({ job_id: job.jobId }), [], label);
        const { batches, summary } = await gather(up.exports.rows(job.jobId, { nativeGunzip, dedupe: false }));
        assert.equal(batches.flatMap((b) => b.records ?? []).length, 0, label);
        assert.equal(summary.records, 0, label);
        assert.equal(summary.files.length, 2, label);
      }
    }
  }
  // A body cut before its first byte (no Content-Length) is still fetched again, not read as empty.
  await readings({ emptyFiles: "gzip" });
  await control(sb, "/__sandbox/reset");
  const job = await up.exports.start({ from: "2024-05-06", to: "2024-05-19" });
  await up.exports.wait(job, { pollMs: 20 });
  await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "truncate", afterBytes: 0, nth: 1 });
  const { batches } = await gather(up.exports.rows(job.jobId, { concurrency: 1, dedupe: false }));
  assert.deepEqual(batches.flatMap((b) => b.records), await userpilotTruth({ job_id: job.jobId }));
});

test("userpilot: the no-plan key is an auth error whether the vendor says 403 or 401", async () => {
  for (const noplanStatus of [403, 401]) {
    await control(sb, "/__sandbox/config", { noplanStatus });
    await assert.rejects(userpilot(SANDBOX_USERPILOT_NOPLAN_KEY).exports.start({ from: "2024-05-06", to: "2024-05-07" }), (e) => e.code === "E_AUTH" && /does not support the feature/.test(e.message));
  }
  await control(sb, "/__sandbox/config", { noplanStatus: 403 });
});

test("the sandbox refuses an unknown switch or value, naming it", async () => {
  for (const [patch, field] of [[{ nope: 1 }, "readings.nope"], [{ fragmentNumbering: "both" }, "readings.fragmentNumbering"]]) {
    const r = await fetch(`${sb.url}/__sandbox/config`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ readings: patch }) });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).field, field);
  }
});
