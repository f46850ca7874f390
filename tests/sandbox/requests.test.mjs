// The sandbox's request log (GET /__sandbox/requests, issue 18): every vendor request in order,
// with its fault scope, path and `fragment` parameter only (never the rest of a query string:
// presigned signatures), control routes left out, emptied by reset.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSandbox } from "../../sandbox/server.mjs";
import { UP_KEY, bearer, control, waitFor } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ port: 0, jobSpeed: 50, fragmentRecords: 200 });
});
after(() => sb.close());

const log = async () => (await fetch(`${sb.url}/__sandbox/requests`)).json();

test("vendor requests are logged in order with scope, path and fragment; reset empties the log", async () => {
  await control(sb, "reset");
  const token = await bearer(sb);
  const J = `${sb.url}/pull/v1/export/activities/jobs`;
  const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const job = await (await fetch(J, { method: "POST", headers: auth, body: JSON.stringify({ start_date: "2024-01-01", end_date: "2024-01-10", activity_type: "all", export_type: "delta", output_format: "JSONLines" }) })).json();
  const id = job.job_id;
  await waitFor(async () => (await (await fetch(`${J}/${id}`, { headers: auth })).json()).state === "Completed");
  await (await fetch(`${J}/${id}/data?fragment=1`, { headers: auth })).arrayBuffer();
  const up = await fetch(`${sb.url}/api/v1/analytics/exports/`, { method: "POST", headers: { Authorization: `Token ${UP_KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ from: "2024-01-01", to: "2024-01-02" }) });
  const upJob = (await up.json()).job_id;
  const done = await waitFor(async () => {
    const j = await (await fetch(`${sb.url}/api/v1/analytics/exports/jobs/${upJob}`, { headers: { Authorization: `Token ${UP_KEY}` } })).json();
    return j.status === "completed" && j;
  });
  const link = Object.values(done.presigned_urls ?? {})[0] ?? done.presigned_urls?.[0];
  const url = typeof link === "string" ? link : link.url;
  assert.ok(new URL(url).search, "the presigned link carries a query string");
  await (await fetch(url)).arrayBuffer();

  const entries = await log();
  const scopes = entries.map((e) => e.scope);
  assert.equal(scopes[0], "token");
  assert.ok(scopes.indexOf("activities.create") < scopes.indexOf("activities.data"));
  const data = entries.find((e) => e.scope === "activities.data");
  assert.deepEqual(data, { method: "GET", scope: "activities.data", path: `/pull/v1/export/activities/jobs/${id}/data`, fragment: "1" });
  const file = entries.find((e) => e.scope === "userpilot.file");
  assert.equal(file.path, new URL(url).pathname);
  assert.doesNotMatch(JSON.stringify(entries), /X-Amz|Signature|signature=/i, "no query string beyond fragment");
  assert.ok(entries.every((e) => !e.path.startsWith("/__sandbox")), "control routes are not logged");

  await control(sb, "reset");
  assert.deepEqual(await log(), []);
});
