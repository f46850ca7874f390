// Issue 16 item 2: no credential crosses a redirect. Every credentialed endpoint (token exchange,
// Query export, activities job calls and data, forecasting, Userpilot jobs and lookups) answers a
// 301/302/303/307/308 to a second local server that records whatever reaches it. The call must
// fail with E_REDIRECT naming only the Location host, and the recorder must have seen nothing.
// Before the fix, fetch followed: a 307 from the token endpoint re-sent the client secret.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, beforeEach, test } from "node:test";
import init, { BackstoryClient, UserpilotClient } from "../../js/index.js";
import { backstoryEnv, control, runCli, SANDBOX_CREDENTIALS, startSandbox } from "../js/helpers.mjs";

let sb;
let recorder;
let seen = [];
let job; // a completed activities job, for the data endpoint
let upJob; // a completed Userpilot job

before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 5, activities: 2000, fragmentRecords: 100, jobSpeed: 80, eventsPerDay: 20 });
  recorder = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((r) => recorder.listen(0, "127.0.0.1", r));
  const bs = backstory();
  job = await bs.activities.wait(await bs.activities.start({ startDate: "2024-06-01", endDate: "2024-06-03" }), FAST);
  const up = userpilot();
  upJob = await up.exports.wait(await up.exports.start({ from: "2024-03-04", to: "2024-03-05" }), { pollMs: 20, maxPollMs: 100 });
});
after(async () => {
  await sb.close();
  await new Promise((r) => recorder.close(r));
});
beforeEach(async () => {
  await control(sb, "/__sandbox/faults/clear", {});
  seen = [];
});

const FAST = { pollIntervalMs: 20, pollMaxMs: 100 };
const backstory = () => new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
const userpilot = () => new UserpilotClient({ baseUrl: sb.url, apiKey: SANDBOX_CREDENTIALS.userpilot.apiKey });
const recorderHost = () => `127.0.0.1:${recorder.address().port}`;
// A Location with a path and a signature-like query: neither may appear in the error.
const location = () => `http://${recorderHost()}/steal/here?X-Amz-Signature=deadbeefcafe`;

async function drain(it) {
  for await (const _ of it);
  return it.result();
}

const CALLS = {
  token: () => backstory().query({ object: "account", columns: [{ slug: "ootb_account_name" }] }),
  query: () => backstory().query({ object: "account", columns: [{ slug: "ootb_account_name" }] }),
  "activities.create": () => backstory().activities.start({ startDate: "2024-06-01", endDate: "2024-06-02" }),
  "activities.list": () => backstory().activities.list(),
  "activities.get": () => backstory().activities.get(job),
  "activities.data": () => drain(backstory().activities.rows(job, { format: "jsonl" })),
  forecasting: () => drain(backstory().forecasts.query({ forecast_type_id: 10089, per_page: 50 })),
  "userpilot.create": () => userpilot().exports.start({ from: "2024-03-06", to: "2024-03-07" }),
  "userpilot.list": () => userpilot().exports.list(),
  "userpilot.get": () => userpilot().exports.get(upJob),
  "userpilot.lookup": () => userpilot().lookups.get("segments"),
};
const STATUSES = [301, 302, 303, 307, 308];

function assertRedirectError(e, status, what) {
  assert.equal(e.name, "ExportError", `${what}: ${e.stack}`);
  assert.equal(e.code, "E_REDIRECT", `${what}: ${e.code} ${e.message}`);
  assert.equal(e.host, recorderHost(), what);
  assert.equal(e.status, status, what);
  assert.ok(e.message.includes(recorderHost()), `${what}: ${e.message}`);
  assert.ok(!e.message.includes("steal") && !e.message.includes("deadbeef"), `${what}: the Location's path and query stay out: ${e.message}`);
  assert.match(e.message, /does not follow redirects on requests that carry credentials/);
}

let k = 0;
for (const [scope, call] of Object.entries(CALLS)) {
  test(`JS API: a redirect from ${scope} fails with E_REDIRECT and nothing reaches the other host`, async () => {
    const statuses = scope === "token" || scope === "query" ? STATUSES : [STATUSES[k++ % STATUSES.length]];
    for (const status of statuses) {
      await control(sb, "/__sandbox/faults/clear", {});
      await control(sb, "/__sandbox/faults", { scope, fault: "redirect", status, location: location(), times: 100, every: 1 });
      const e = await call().then(
        () => assert.fail(`${scope} ${status}: the call succeeded`),
        (err) => err,
      );
      assertRedirectError(e, status, `${scope} ${status}`);
    }
    assert.deepEqual(seen, [], "the recorder saw nothing");
  });
}

test("CLI: a 307 from the token endpoint and a 308 from a Userpilot lookup fail with E_REDIRECT; no secret anywhere", async () => {
  const secret = SANDBOX_CREDENTIALS.backstory.clientSecret;
  await control(sb, "/__sandbox/faults", { scope: "token", fault: "redirect", status: 307, location: location(), times: 100, every: 1 });
  const { writeFile, mkdtemp } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = await mkdtemp(join(tmpdir(), "exportkit-redirect-"));
  const q = join(dir, "q.json");
  await writeFile(q, JSON.stringify({ object: "account", columns: [{ slug: "ootb_account_name" }] }));
  const r = await runCli(["query", "--query", q], { env: backstoryEnv(sb) });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`E_REDIRECT: the server answered with a redirect \\(HTTP 307\\) to host ${recorderHost().replace(/\./g, "\\.")}`));
  assert.ok(!r.stderr.includes(secret) && !r.stdout.toString().includes(secret));

  await control(sb, "/__sandbox/faults/clear", {});
  await control(sb, "/__sandbox/faults", { scope: "userpilot.lookup", fault: "redirect", status: 308, location: location(), times: 100, every: 1 });
  const apiKey = SANDBOX_CREDENTIALS.userpilot.apiKey;
  const u = await runCli(["userpilot", "lookup", "segments"], { env: { USERPILOT_API_KEY: apiKey, USERPILOT_BASE_URL: sb.url } });
  assert.equal(u.code, 1, u.stderr);
  assert.match(u.stderr, /E_REDIRECT/);
  assert.ok(u.stderr.includes(recorderHost()));
  assert.ok(!u.stderr.includes(apiKey));
  assert.deepEqual(seen, [], "the recorder saw nothing");
});

test("a presigned file link carries no secret: its redirect is followed (within the runtime's rules) and the rows arrive", async () => {
  // The sandbox's own file endpoint redirects once to the same file on the same host: allowed,
  // since the request holds no credential. The rows must all arrive.
  const up = userpilot();
  const fresh = await up.exports.get(upJob);
  const direct = await drain(up.exports.rows(fresh));
  const file = new URL(fresh.presignedUrls[0].url);
  await control(sb, "/__sandbox/faults", { scope: "userpilot.file", fault: "redirect", status: 302, location: file.href, nth: 1 });
  const again = await drain(userpilot().exports.rows(fresh));
  assert.equal(again.records, direct.records);
  assert.ok(direct.records > 0);
  assert.deepEqual(seen, []);
});
