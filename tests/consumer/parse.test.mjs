// `exportkit/parse` as a user installs it (issue 19): the parse module alone, from ESM, CommonJS
// and strict TypeScript. What the process compiles is recorded, so the client module is seen to
// stay out of it.
import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import { BIN, freshProject, removeProjects, sh } from "./helpers.mjs";

after(removeProjects);

// Every exportkit WebAssembly module the program compiles, told apart by their exports (Node
// compiles wasm of its own, its CommonJS lexer: left out).
const RECORD = `const compiled = [];
const W = globalThis.WebAssembly;
const instantiate = W.instantiate;
W.instantiate = async (src, imports) => {
  const r = await instantiate(src, imports);
  const m = r.module ?? src;
  const names = m instanceof W.Module ? W.Module.exports(m).map((e) => e.name) : [];
  if (names.includes("backstorycore_new")) compiled.push("client");
  else if (names.includes("csvstreamparser_new")) compiled.push("parse");
  return r;
};
`;

const PROGRAM = `await init();
const csv = parseCsv("name,amount\\r\\n\\"Smith, J\\",12.5\\r\\n", { header: true });
const flat = jsonlToCsv('{"a":{"b":1}}\\n');
const written = writeCsv([["=SUM(A1)", "x"]]);
let refused = null;
try { parseJsonl("{", { strict: true }); } catch (e) { refused = { isExportError: e instanceof ExportError, code: e.code }; }
const { gzipSync } = await import("node:zlib");
const inflated = new TextDecoder().decode(gunzip(gzipSync("hello")));
console.log(JSON.stringify({ parsed: csv.data, flat: flat.csv, written, refused, inflated, compiled }));
`;

function check(r) {
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.parsed, [["Smith, J", "12.5"]]);
  assert.equal(out.flat, "a.b\r\n1\r\n");
  assert.equal(out.written, "'=SUM(A1),x\r\n");
  assert.deepEqual(out.refused, { isExportError: true, code: "E_DECODE" });
  assert.equal(out.inflated, "hello");
  assert.deepEqual(out.compiled, ["parse"]);
}

test('ESM: import from "exportkit/parse" parses with the parse module alone', async () => {
  const dir = await freshProject("parse-esm", {
    files: { "app.mjs": `${RECORD}const { default: init, parseCsv, jsonlToCsv, parseJsonl, writeCsv, gunzip, ExportError } = await import("exportkit/parse");\n${PROGRAM}` },
  });
  check(await sh("node", ["app.mjs"], { cwd: dir }));
});

test('CommonJS: require("exportkit/parse") gives the same functions', async () => {
  const dir = await freshProject("parse-cjs", {
    type: "commonjs",
    files: { "app.js": `${RECORD}const { init, parseCsv, jsonlToCsv, parseJsonl, writeCsv, gunzip, ExportError } = require("exportkit/parse");\n(async () => {\n${PROGRAM}})().catch((e) => { console.error(e); process.exit(1); });\n` },
  });
  check(await sh("node", ["app.js"], { cwd: dir }));
});

const TS_USE = `import init, { parseCsv, CsvStreamParser, batchRows, jsonlToCsv, GunzipStream, gunzip, ExportError, type BadRecord } from "exportkit/parse";
export async function main(): Promise<number> {
  await init();
  const p = new CsvStreamParser({ header: true });
  const rows: string[][] = [];
  for (const b of p.push(new TextEncoder().encode("a,b\\n1,2\\n"))) rows.push(...batchRows(b));
  const errors: BadRecord[] = parseCsv("a\\n1\\n").errors;
  const g: Uint8Array = gunzip(new Uint8Array(0));
  const s = new GunzipStream();
  let code = "";
  try {
    parseCsv("a\\n\\"1", { strict: true });
  } catch (e) {
    if (e instanceof ExportError) code = e.code;
  }
  return rows.length + errors.length + jsonlToCsv("{}").csv.length + g.length + (s ? 1 : 0) + code.length;
}
`;
const TS_WRONG = `import { parseCsv } from "exportkit/parse";
export const n: number = parseCsv(42).data;
`;

for (const moduleResolution of ["bundler", "node16"]) {
  test(`TypeScript (--strict, no skipLibCheck, ${moduleResolution}): exportkit/parse is typed`, async () => {
    const cfg = (files) =>
      JSON.stringify({ compilerOptions: { strict: true, target: "es2022", module: moduleResolution === "bundler" ? "esnext" : moduleResolution, moduleResolution, noEmit: true, types: [] }, files });
    const dir = await freshProject(`parse-ts-${moduleResolution}`, {
      files: {
        "src/use.ts": TS_USE,
        "src/use-cjs.cts": 'import p = require("exportkit/parse");\nexport const f: typeof p.parseCsv = p.parseCsv;\n',
        "src/wrong.ts": TS_WRONG,
        "tsconfig.json": cfg(moduleResolution === "bundler" ? ["src/use.ts"] : ["src/use.ts", "src/use-cjs.cts"]),
        "tsconfig.wrong.json": cfg(["src/wrong.ts"]),
      },
    });
    const ok = await sh(path.join(BIN, "tsc"), ["-p", "tsconfig.json"], { cwd: dir });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const wrong = await sh(path.join(BIN, "tsc"), ["-p", "tsconfig.wrong.json"], { cwd: dir });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stdout, /src\/wrong\.ts.*error TS2345/);
  });
}
