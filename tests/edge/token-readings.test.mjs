// The edge worker exchanges its own Backstory credentials; a vendor may read that request as a
// form, as HTTP Basic or as JSON (issue 15 §3). The worker follows the same rule as the clients
// (src/core/auth.rs `try_next_encoding`): form first, then Basic, then JSON, each tried once.
//
//   node --test tests/edge/token-readings.test.mjs

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ACCESS_KEY, control, sandboxSecrets, startEdge, startRecorder, startSandbox } from "./helpers.mjs";

let sb;
let rec;

before(async () => {
  sb = await startSandbox({ jobSpeed: 50 });
  rec = await startRecorder(sb.url);
});

after(async () => {
  await rec?.close();
  await sb?.close();
});

for (const [tokenEncoding, exchanges] of [["form", 1], ["basic", 2], ["json", 3]]) {
  test(`a vendor that takes the token request only as ${tokenEncoding}: the proxied call works after ${exchanges} exchange(s)`, async () => {
    await control(sb, "/__sandbox/reset");
    await control(sb, "/__sandbox/config", { readings: { tokenEncoding } });
    rec.clear();
    // A fresh worker: no token cached, no encoding learnt yet.
    const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: rec.url }, secrets: sandboxSecrets() });
    try {
      const res = await fetch(`${edge.url}/api/backstory/pull/v1/export/activities/jobs`, { headers: { "X-Exportkit-Key": ACCESS_KEY } });
      assert.equal(res.status, 200, await res.clone().text());
      const tokens = rec.seen.filter((r) => r.url === "/v3/auth/tokens");
      assert.equal(tokens.length, exchanges, "one exchange per encoding tried");
      const listed = rec.seen.filter((r) => r.url === "/pull/v1/export/activities/jobs");
      assert.equal(listed.length, 1, "the call itself went up once");
      assert.match(listed[0].headers.authorization, /^Bearer /);
    } finally {
      await edge.close();
      await control(sb, "/__sandbox/config", { readings: { tokenEncoding: "any" } });
    }
  });
}
