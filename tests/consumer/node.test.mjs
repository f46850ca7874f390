// The installed package in Node: as ESM, as CommonJS, its command line, and the package checks
// (publint, @arethetypeswrong/cli) on the very tarball the other tests install.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { BIN, SANDBOX_CREDENTIALS, freshProject, packOnce, removeProjects, sh, startSandbox } from "./helpers.mjs";

let sb;
before(async () => {
  sb = await startSandbox({ port: 0, seed: 7 });
});
after(async () => {
  await sb.close();
  await removeProjects();
});

const env = () => ({
  BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId,
  BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret,
  BACKSTORY_BASE_URL: sb.url,
});

const QUERY = { object: "user", columns: [{ slug: "ootb_user_email" }, { slug: "ootb_user_is_active" }] };

// Both module systems run the same program: a parse, then a real query against the sandbox.
const program = (imports) => `${imports}
await init();
const again = parseCsv("name,amount\\r\\n\\"Smith, J\\",12.5\\r\\n", { header: true });
const bs = new BackstoryClient({ clientId: process.env.BACKSTORY_CLIENT_ID, clientSecret: process.env.BACKSTORY_CLIENT_SECRET, baseUrl: process.env.BACKSTORY_BASE_URL });
const res = await bs.query(${JSON.stringify(QUERY)});
let refused = null;
try { bs.validateQuery({ object: "user", columns: [] }); } catch (e) { refused = { isExportError: e instanceof ExportError, code: e.code }; }
console.log(JSON.stringify({ parsed: again.data, header: res.header, rows: res.rows.length, csv: res.csv, refused }));
`;

async function truthCsv(query) {
  const r = await fetch(`${sb.url}/__sandbox/truth/insights`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(query) });
  return r.text();
}

function checkRun(r, truth) {
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.parsed, [["Smith, J", "12.5"]]);
  assert.deepEqual(out.header, ["ootb_user_email", "ootb_user_is_active"]);
  assert.ok(out.rows > 10, `rows: ${out.rows}`);
  assert.equal(out.csv, truth);
  assert.deepEqual(out.refused, { isExportError: true, code: "E_INVALID_ARGUMENT" });
}

test("ESM: import init and the clients from \"exportkit\", parse and query the sandbox", async () => {
  const dir = await freshProject("esm", {
    files: { "app.mjs": program('import init, { parseCsv, BackstoryClient, ExportError } from "exportkit";') },
  });
  checkRun(await sh("node", ["app.mjs"], { cwd: dir, env: env() }), await truthCsv(QUERY));
});

test("CommonJS: require(\"exportkit\") gives the same API (await init() first)", async () => {
  const dir = await freshProject("cjs", {
    type: "commonjs",
    files: {
      "app.js": `const { init, parseCsv, BackstoryClient, ExportError } = require("exportkit");
const ek = require("exportkit");
if (ek.default !== init) throw new Error("require(...).default is not init");
(async () => {
${program("")}
})().catch((e) => { console.error(e); process.exit(1); });
`,
    },
  });
  checkRun(await sh("node", ["app.js"], { cwd: dir, env: env() }), await truthCsv(QUERY));
});

test("a call before init() is refused with a coded ExportError, in both module systems", async () => {
  const dir = await freshProject("noinit", {
    files: {
      "a.mjs": 'import { parseCsv } from "exportkit";\ntry { parseCsv("a\\n1\\n"); } catch (e) { console.log(e.name, e.code, e.field); }\n',
      "b.cjs": 'const { parseCsv } = require("exportkit");\ntry { parseCsv("a\\n1\\n"); } catch (e) { console.log(e.name, e.code, e.field); }\n',
    },
  });
  for (const f of ["a.mjs", "b.cjs"]) {
    const r = await sh("node", [f], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "ExportError E_INVALID_ARGUMENT init", f);
  }
});

test("npx exportkit --help and one `exportkit query` export against the sandbox", async () => {
  const dir = await freshProject("cli", { files: { "q.json": JSON.stringify(QUERY) } });
  const help = await sh("npx", ["--offline", "exportkit", "--help"], { cwd: dir });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout + help.stderr, /exportkit query --query FILE\.json/);

  const stateEnv = { ...env(), EXPORTKIT_STATE_DIR: path.join(dir, "state") };
  const r = await sh("npx", ["--offline", "exportkit", "query", "--query", "q.json", "--out", "users.csv"], { cwd: dir, env: stateEnv });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(path.join(dir, "users.csv"), "utf8"), await truthCsv(QUERY));
  assert.match(r.stderr, /9 of 10 calls left today/);
});

test("publint --strict and @arethetypeswrong/cli find nothing in the tarball", async () => {
  const tgz = await packOnce();
  // publint reads the installed copy as it is (--pack false): exactly the tarball's files.
  const dir = await freshProject("lint");
  const lint = await sh(path.join(BIN, "publint"), ["run", path.join(dir, "node_modules", "exportkit"), "--strict", "--pack", "false"]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  assert.match(lint.stdout, /All good!/);
  const attw = await sh(path.join(BIN, "attw"), [tgz, "--format", "ascii"]);
  assert.equal(attw.code, 0, attw.stdout + attw.stderr);
  assert.match(attw.stdout, /No problems found/);
});
