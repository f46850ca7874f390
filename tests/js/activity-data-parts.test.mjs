// client.activities.dataParts(job): the data requests a Completed job's download plans (the units
// of rows()'s `parts`), read from the job's fragmentCount and resultsSize. No request is made.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import init, { BackstoryClient } from "../../js/index.js";
import { SANDBOX_CREDENTIALS } from "./helpers.mjs";

let activities;
before(async () => {
  await init();
  activities = new BackstoryClient({ baseUrl: "http://127.0.0.1:9", ...SANDBOX_CREDENTIALS.backstory }).activities;
});

test("one request per declared fragment", () => {
  assert.equal(activities.dataParts({ fragmentCount: 5, resultsSize: 1234 }), 5);
  assert.equal(activities.dataParts({ fragmentCount: 1 }), 1);
});

test("no fragments and no bytes is no request; no fragments with bytes, or no count, is one", () => {
  assert.equal(activities.dataParts({ fragmentCount: 0, resultsSize: 0 }), 0);
  assert.equal(activities.dataParts({ fragmentCount: 0, resultsSize: 10 }), 1);
  assert.equal(activities.dataParts({ fragmentCount: 0 }), 1);
  assert.equal(activities.dataParts({ resultsSize: 0 }), 1);
  assert.equal(activities.dataParts({}), 1);
});

test("counts that are not whole numbers at or above zero are left out", () => {
  assert.equal(activities.dataParts({ fragmentCount: -3, resultsSize: 0 }), 1);
  assert.equal(activities.dataParts({ fragmentCount: Infinity }), 1);
  assert.equal(activities.dataParts({ fragmentCount: "4" }), 1);
  assert.equal(activities.dataParts({ fragmentCount: 0, resultsSize: NaN }), 1);
});
