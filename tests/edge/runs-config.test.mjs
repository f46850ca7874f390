// KV `config:runs` and the run output options checked in Node (the same modules workerd runs):
// a bad entry or option is refused with the field named. What they do inside workerd is in
// runs-schedule.test.mjs and runs-paged.test.mjs.
//
//   node --test tests/edge/runs-config.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import { extension, outputFormat } from "../../edge/formats.mjs";
import { loadRunsConfig } from "../../edge/runs-config.mjs";

const env = (value) => ({ STATE: { get: async (k) => (k === "config:runs" ? value : null) } });

test("output: JSON Lines by default, CSV and gzip on request, anything else refused by name", () => {
  assert.deepEqual(outputFormat(undefined), { format: "jsonl", gzip: false });
  assert.deepEqual(outputFormat({ format: "csv", gzip: true }), { format: "csv", gzip: true });
  assert.equal(extension(outputFormat({ format: "csv", gzip: true })), ".csv.gz");
  assert.equal(extension(outputFormat({ gzip: true })), ".jsonl.gz");
  assert.equal(extension(outputFormat({})), ".jsonl");
  for (const [bad, msg] of [
    [{ format: "parquet" }, /output\.format/],
    [{ gzip: "yes" }, /output\.gzip/],
    [{ level: 9 }, /output\.level/],
    ["csv", /output must be an object/],
  ]) assert.throws(() => outputFormat(bad), msg);
});

test("config:runs: unset is null (the variables rule), entries are checked for shape with their index named", async () => {
  assert.equal(await loadRunsConfig(env(null)), null);
  assert.deepEqual(await loadRunsConfig(env("[]")), []);
  const ok = await loadRunsConfig(env(JSON.stringify([{ name: "a", api: "query", query: { object: "account" } }, { name: "a", api: "lookups" }])));
  assert.deepEqual(ok, [
    { name: "a", api: "query", query: { object: "account" } },
    { name: "a", api: "lookups", params: {}, output: undefined },
  ]);
  for (const [value, msg] of [
    ["{", /config:runs: is not JSON/],
    ["{}", /must be a JSON array/],
    [JSON.stringify([{ name: "x", api: "sales" }]), /\[0\]\.api must be one of/],
    [JSON.stringify([{ name: "Bad Name", api: "lookups" }]), /\[0\]\.name/],
    [JSON.stringify([{ name: "x", api: "lookups" }, { name: "x", api: "lookups" }]), /\[1\] repeats lookups x/],
    [JSON.stringify([{ name: "x", api: "query" }]), /\[0\]\.query/],
    [JSON.stringify([{ name: "x", api: "forecasts", params: [] }]), /\[0\]\.params/],
    [JSON.stringify([{ name: "x", api: "forecasts", output: { format: "xml" } }]), /\[0\]\.output\.format/],
  ]) await assert.rejects(loadRunsConfig(env(value)), msg);
});
