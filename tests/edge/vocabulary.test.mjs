// One source of vendor vocabulary: the edge worker's allow-list takes job ids and lookup names from
// the Rust providers (through the wasm), so it accepts exactly the job ids the clients accept. The
// clients are asked for real (against the sandbox): an id they refuse fails as E_INVALID_ARGUMENT on
// `jobId` before any request; one they accept reaches the sandbox (which has no such job).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import init, { BackstoryClient, PERIODS, OBJECTS, UserpilotClient, USERPILOT_EVENT_TYPES, USERPILOT_LOOKUPS } from "../../js/node.js";
import { isJobId, vocabulary } from "../../js/vocabulary.js";
import { backstoryRoutes, matchRoute, userpilotRoutes } from "../../edge/routes.mjs";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";
import { UP_EVENT_TYPES, UP_LOOKUPS } from "../../sandbox/data/userpilot.mjs";
import { OBJECTS as SB_OBJECTS, PERIODS as SB_PERIODS } from "../../sandbox/data/query.mjs";

let sb;
before(async () => {
  await init();
  sb = await startSandbox({ port: 0, seed: 3 });
});
after(() => sb?.close());

const IDS = [
  "3f2a_9.c", // a `.` inside: the id the edge refused while the client allowed it
  "v1.2.3",
  "-leading-dash",
  "_leading_underscore",
  "a",
  "x".repeat(128),
  "x".repeat(129),
  "x".repeat(200),
  "x".repeat(201),
  ".hidden",
  "..",
  "a%2eb",
  "a b",
  "é",
];

/** Whether the client lets `id` through its own check (any other outcome means it did). */
async function clientAccepts(call) {
  try {
    await call();
    return true;
  } catch (e) {
    if (e.code === "E_INVALID_ARGUMENT" && e.field === "jobId") return false;
    return true;
  }
}

const edgeAccepts = (routes, path) => Boolean(matchRoute(routes, "GET", path).route);

test("the edge routes exactly the Backstory job ids the client accepts, `.` included", async () => {
  const client = new BackstoryClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.backstory });
  const routes = backstoryRoutes("/v3/beta/forecasting/query");
  const J = "/pull/v1/export/activities/jobs";
  for (const id of IDS) {
    const ok = await clientAccepts(() => client.activities.get(id));
    assert.equal(isJobId("backstory", id), ok, `vocabulary vs client: ${JSON.stringify(id)}`);
    if (!/^[\x21-\x7e]*$/.test(id) || id.includes("%")) continue; // not a path a fetch would send as is
    assert.equal(edgeAccepts(routes, `${J}/${id}`), ok, `edge vs client: ${JSON.stringify(id)}`);
    assert.equal(edgeAccepts(routes, `${J}/${id}/data`), ok, `edge data vs client: ${JSON.stringify(id)}`);
  }
  assert.equal(matchRoute(routes, "GET", `${J}/3f2a_9.c`).path, `${J}/3f2a_9.c`);
});

test("the edge routes exactly the Userpilot job ids the client accepts, up to its own length", async () => {
  const client = new UserpilotClient({ baseUrl: sb.url, ...SANDBOX_CREDENTIALS.userpilot });
  const routes = userpilotRoutes();
  const J = "/api/v1/analytics/exports/jobs";
  for (const id of IDS) {
    const ok = await clientAccepts(() => client.exports.get(id));
    assert.equal(isJobId("userpilot", id), ok, `vocabulary vs client: ${JSON.stringify(id)}`);
    if (!/^[\x21-\x7e]*$/.test(id) || id.includes("%")) continue;
    assert.equal(edgeAccepts(routes, `${J}/${id}`), ok, `edge vs client: ${JSON.stringify(id)}`);
  }
});

test("lookups and lists: the client's constants are the wasm's, the edge routes every lookup, the sandbox agrees", () => {
  const v = vocabulary();
  assert.deepEqual([...USERPILOT_LOOKUPS], v.userpilot.lookups);
  assert.deepEqual([...USERPILOT_EVENT_TYPES], v.userpilot.eventTypes);
  assert.deepEqual([...PERIODS], v.backstory.periods);
  assert.deepEqual([...OBJECTS], v.backstory.objects);
  assert.ok(Object.isFrozen(USERPILOT_LOOKUPS) && Object.isFrozen(v));
  const routes = userpilotRoutes();
  for (const name of v.userpilot.lookups) {
    assert.ok(edgeAccepts(routes, `/api/v1/analytics/exports/lookups/${name}`), name);
  }
  assert.ok(!edgeAccepts(routes, "/api/v1/analytics/exports/lookups/nope"));
  // The sandbox's own copy (the independent oracle) names the same things.
  assert.deepEqual([...UP_LOOKUPS].sort(), [...v.userpilot.lookups].sort());
  assert.deepEqual([...UP_EVENT_TYPES].sort(), [...v.userpilot.eventTypes].sort());
  assert.deepEqual([...SB_PERIODS].sort(), [...v.backstory.periods].sort());
  assert.deepEqual([...SB_OBJECTS].sort(), [...v.backstory.objects].sort());
});
