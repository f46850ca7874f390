// Issue 18's size test at the edge: a one-year snapshot of exactly 1,000,000 activity records
// (about 1.5 GB of JSON Lines) in 40 fragments, run by the ActivitiesExport Workflow in workerd
// against the sandbox, lands in R2 byte-identical to the sandbox's truth (SHA-256 of every byte,
// both sides streamed). The run's time and workerd's peak memory are reported as diagnostics, not
// asserted (a timed assertion would measure the machine).
//
//   node --test tests/edge/million.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { activitiesAtSize } from "./activities-at-size.mjs";

test("a million-record activity snapshot in 40 fragments lands in R2 identical to the truth", { timeout: 20 * 60_000 }, async (t) => {
  const r = await activitiesAtSize(1_000_000, 40, (m) => t.diagnostic(m));
  t.diagnostic(`${r.records} records, ${r.bytes} bytes in ${r.objects} objects (${r.parts} parts), ${r.seconds} s, workerd peak RSS ${r.workerdPeakRssMiB} MiB (idle ${r.workerdIdleRssMiB} MiB)`);
  assert.equal(r.records, 1_000_000);
  assert.ok(r.objects >= 5, `the fragments spread over several pieces (${r.objects} objects)`);
  assert.equal(r.identical, true, "R2 holds exactly the truth's bytes, in order");
});
