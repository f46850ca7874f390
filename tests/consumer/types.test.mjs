// The installed package's types under `tsc --strict`, TypeScript's default `lib` for the target,
// no skipLibCheck (so the package's own .d.ts files are checked too), with moduleResolution
// `bundler` and `node16` (ESM and CommonJS files). A deliberately wrong file proves the types are
// really resolved and read, not silently `any`.
import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import { BIN, freshProject, removeProjects, sh } from "./helpers.mjs";

after(removeProjects);

const USE = `import init, { BackstoryClient, ExportError, parseCsv, CsvStreamParser, batchRows, variation, type ActivityCheckpoint, type Query, type QueryResult, type UserpilotCheckpoint } from "exportkit";

// Checkpoints (issue 18): what onCheckpoint receives is what checkpoint takes.
export async function resume(bs: BackstoryClient, saved: ActivityCheckpoint | null): Promise<number> {
  let last: ActivityCheckpoint | null = saved;
  const it = bs.activities.export({ startDate: "2024-01-01", endDate: "2024-01-20" }, { checkpoint: saved ?? undefined, onCheckpoint: (c) => (last = c) });
  for await (const b of it) if (b.kind === "records") b.records.length;
  const up: UserpilotCheckpoint | null = null;
  return (last?.window ?? 0) + (last?.download?.download.head ?? 0) + (up === null ? 0 : 1);
}

export async function main(clientId: string, clientSecret: string): Promise<number> {
  await init();
  const bs = new BackstoryClient({ clientId, clientSecret, baseUrl: "http://127.0.0.1:1" });
  const query: Query = {
    object: "user",
    columns: [{ slug: "ootb_user_email" }, { slug: "ootb_user_count_emails_sent", variation_id: variation("ootb_user_count_emails_sent", "last_30_days") }],
  };
  bs.validateQuery(query);
  const parser = new CsvStreamParser({ header: true });
  const rows: string[][] = [];
  for (const batch of parser.push(new TextEncoder().encode("a,b\\n1,2\\n"))) rows.push(...batchRows(batch));
  const { data, errors } = parseCsv("a,b\\n1,2\\n");
  try {
    const res: QueryResult = await bs.query(query);
    return res.rows.length + data.length + errors.length + rows.length;
  } catch (e) {
    if (e instanceof ExportError && e.code === "E_AUTH") return -1;
    throw e;
  }
}
`;

const WRONG = `import { parseCsv } from "exportkit";
export const n: number = parseCsv(42).data;
`;

const CJS_USE = `import ek = require("exportkit");
export async function run(): Promise<string[][]> {
  await ek.init();
  return ek.parseCsv("a\\n1\\n").data;
}
`;

const tsconfig = (moduleResolution, files) =>
  JSON.stringify({
    compilerOptions: {
      strict: true,
      target: "es2022",
      module: moduleResolution === "bundler" ? "esnext" : moduleResolution,
      moduleResolution,
      noEmit: true,
      types: [],
    },
    files,
  });

async function tsc(dir, config) {
  return sh(path.join(BIN, "tsc"), ["-p", config], { cwd: dir });
}

for (const moduleResolution of ["bundler", "node16", "nodenext"]) {
  test(`tsc --strict, default lib, no skipLibCheck, moduleResolution ${moduleResolution}`, async () => {
    const files = { "src/use.ts": USE, "src/wrong.ts": WRONG, "tsconfig.json": tsconfig(moduleResolution, ["src/use.ts"]), "tsconfig.wrong.json": tsconfig(moduleResolution, ["src/wrong.ts"]) };
    if (moduleResolution !== "bundler") {
      files["src/use-cjs.cts"] = CJS_USE;
      files["tsconfig.json"] = tsconfig(moduleResolution, ["src/use.ts", "src/use-cjs.cts"]);
    }
    const dir = await freshProject(`ts-${moduleResolution}`, { files });
    const ok = await tsc(dir, "tsconfig.json");
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const wrong = await tsc(dir, "tsconfig.wrong.json");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stdout, /src\/wrong\.ts.*error TS2345/);
    assert.doesNotMatch(wrong.stdout, /node_modules/, "errors only in the user's file");
  });
}

// pkg/exportkit.d.ts declares Symbol.dispose itself (for the default lib); with lib esnext the
// two declarations must merge without a conflict.
test("with lib esnext too (the Symbol.dispose declaration merges with lib.esnext.disposable)", async () => {
  const files = {
    "src/use.ts": USE,
    "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, target: "es2022", lib: ["esnext", "dom"], module: "esnext", moduleResolution: "bundler", noEmit: true, types: [] }, files: ["src/use.ts"] }),
  };
  const dir = await freshProject("ts-esnext", { files });
  const r = await tsc(dir, "tsconfig.json");
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
