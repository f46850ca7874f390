// The installed package in a Cloudflare Worker: the worker imports "exportkit", is bundled the
// way wrangler bundles (esbuild with the workerd, worker and browser conditions; the .wasm kept as
// a separate module that the CompiledWasm rule turns into a WebAssembly.Module) and runs in
// workerd through miniflare, parsing a CSV and querying the sandbox.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { SANDBOX_CREDENTIALS, esbuildWorker, freshProject, miniflareWorker, removeProjects, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 7 });
});
after(async () => {
  await sb.close();
  await removeProjects();
});

const QUERY = { object: "user", columns: [{ slug: "ootb_user_email" }, { slug: "ootb_user_is_active" }] };

const WORKER = `import init, { parseCsv, BackstoryClient } from "exportkit";

export default {
  async fetch(request, env) {
    await init(); // already done at import under workerd; harmless
    const parsed = parseCsv(await request.text());
    const bs = new BackstoryClient({ clientId: env.BACKSTORY_CLIENT_ID, clientSecret: env.BACKSTORY_CLIENT_SECRET, baseUrl: env.BACKSTORY_BASE_URL });
    const res = await bs.query(${JSON.stringify(QUERY)});
    return Response.json({ parsed: parsed.data, header: res.header, csv: res.csv });
  },
};
`;

test("workerd (miniflare): a worker importing exportkit parses and queries the sandbox", async () => {
  const dir = await freshProject("worker", { files: { "src/index.js": WORKER } });
  const out = path.join(dir, "dist");
  await esbuildWorker(path.join(dir, "src", "index.js"), out);
  const mf = await miniflareWorker(out, "index.js", {
    BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId,
    BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret,
    BACKSTORY_BASE_URL: sb.url,
  });
  try {
    const r = await mf.dispatchFetch("http://worker.test/", { method: "POST", body: "name,amount\r\n\"Smith, J\",12.5\r\n" });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const body = JSON.parse(text);
    assert.deepEqual(body.parsed, [["Smith, J", "12.5"]]);
    assert.deepEqual(body.header, ["ootb_user_email", "ootb_user_is_active"]);
    const truth = await (await fetch(`${sb.url}/__sandbox/truth/insights`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(QUERY) })).text();
    assert.equal(body.csv, truth);
  } finally {
    await mf.dispose();
  }
});

test("workerd (miniflare): a worker importing exportkit/parse carries and runs the parse module alone", async () => {
  const dir = await freshProject("worker-parse", {
    files: {
      "src/index.js": `import { parseCsv, jsonlToCsv } from "exportkit/parse";

export default {
  async fetch(request) {
    const text = await request.text();
    return Response.json({ parsed: parseCsv(text).data, csv: jsonlToCsv('{"a":{"b":2}}\\n').csv });
  },
};
`,
    },
  });
  const out = path.join(dir, "dist");
  await esbuildWorker(path.join(dir, "src", "index.js"), out);
  // What the bundle uploads: the parse module's wasm and not the client module's.
  const wasm = (await readdir(out)).filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, wasm.join(", "));
  assert.match(wasm[0], /^exportkit_parse_bg/);
  const mf = await miniflareWorker(out, "index.js");
  try {
    const r = await mf.dispatchFetch("http://worker.test/", { method: "POST", body: "a,b\r\n1,2\r\n" });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.deepEqual(JSON.parse(text), { parsed: [["1", "2"]], csv: "a.b\r\n2\r\n" });
  } finally {
    await mf.dispose();
  }
});
