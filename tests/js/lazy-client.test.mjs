// Issue 19: the client module (the four vendor clients, pkg/) is compiled only when a client is
// made. A process that imports exportkit and only parses never compiles it. Each case runs in a
// fresh Node process that records every module WebAssembly compiles (by its exports), so what is
// observed is the runtime's own compile calls, not exportkit's bookkeeping.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const ENTRY = new URL("../../js/node.js", import.meta.url).href;

// Which module a compile was of: the client module exports its clients' constructors. Node
// compiles wasm of its own (its CommonJS lexer): that is left out.
const PRELUDE = `
const compiled = [];
const record = (m) => {
  const names = WebAssembly.Module.exports(m).map((e) => e.name);
  if (names.includes("backstorycore_new")) compiled.push("client");
  else if (names.includes("csvstreamparser_new")) compiled.push("parse");
};
const W = WebAssembly;
const Module = W.Module;
W.Module = new Proxy(Module, { construct(t, args) { const m = Reflect.construct(t, args); record(m); return m; } });
const compile = W.compile;
W.compile = async (...a) => { const m = await compile(...a); record(m); return m; };
const instantiate = W.instantiate;
W.instantiate = async (src, imports) => {
  const r = await instantiate(src, imports);
  if (r.module) record(r.module);
  return r;
};
const ek = await import(${JSON.stringify(ENTRY)});
`;

async function inChild(body) {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", PRELUDE + body + "\nconsole.log(JSON.stringify(out));"]);
  return JSON.parse(stdout.trim().split("\n").at(-1));
}

test("importing exportkit and parsing compiles the parse module only", async () => {
  const out = await inChild(`
await ek.default();
const gz = (await import("node:zlib")).gzipSync("a,b\\n1,2\\n");
const out = {
  csv: ek.parseCsv("a,b\\n1,2\\n").data,
  jsonl: ek.jsonlToCsv('{"x":1}\\n').csv,
  numbers: Array.from(ek.parseCsvNumbers("n\\n3\\n", { columns: ["n"] }).columns.n),
  gunzip: new TextDecoder().decode(ek.gunzip(gz)),
  written: ek.writeCsv([["=1", "b"]]),
  compiled: [...compiled],
};
`);
  assert.deepEqual(out.csv, [["1", "2"]]);
  assert.equal(out.jsonl, "x\r\n1\r\n");
  assert.deepEqual(out.numbers, [3]);
  assert.equal(out.gunzip, "a,b\n1,2\n");
  assert.equal(out.written, "'=1,b\r\n");
  assert.deepEqual(out.compiled, ["parse"]);
});

test("the client module is compiled when the first client is made, once", async () => {
  const out = await inChild(`
await ek.default();
ek.parseCsv("a\\n1\\n");
const before = [...compiled];
const c = new ek.BackstoryClient({ baseUrl: "https://example.invalid", clientId: "x", clientSecret: "y" });
const u = new ek.UserpilotClient({ apiKey: "k" });
const out = { before, after: [...compiled], calls: c.callsLeftToday(), periods: ek.PERIODS.length > 0 };
`);
  assert.deepEqual(out.before, ["parse"]);
  assert.deepEqual(out.after, ["parse", "client"]);
  assert.equal(out.calls, 10);
  assert.equal(out.periods, true);
});

test("reading the vendors' vocabulary loads the client module too (the lists are never empty after init)", async () => {
  const out = await inChild(`
await ek.default();
const out = { periods: [...ek.PERIODS], lookups: ek.USERPILOT_LOOKUPS.length, compiled: [...compiled] };
`);
  assert.ok(out.periods.includes("last_30_days"), JSON.stringify(out.periods));
  assert.ok(out.lookups > 0);
  assert.deepEqual(out.compiled, ["parse", "client"]);
});
