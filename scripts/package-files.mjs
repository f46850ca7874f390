// The npm package's files around the wasm build (run by scripts/build.sh, so by `npm pack` too):
//   pkg/exportkit.d.ts   made to type-check under any `lib` (see DISPOSE below)
//   dist/exportkit.cjs   the CommonJS build: js/node.js bundled (Node 20 cannot require() ESM)
//   dist/parse.cjs       the same for `exportkit/parse` (js/parse-node.js)
//   dist/*.d.cts         their types
// Exits non-zero, naming the file, when anything the package ships is missing, so a tarball
// without the wasm cannot be made.
import { readFile, writeFile, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const at = (...p) => path.join(ROOT, ...p);

// wasm-bindgen declares `[Symbol.dispose]()` on every class, which only type-checks when the
// user's `lib` includes esnext.disposable: under TypeScript's default lib a strict build without
// skipLibCheck fails inside our d.ts. Declaring the symbol the way lib.esnext.disposable (and
// @types/node) do merges with theirs when present and stands in when absent, and keeps `using`
// typed for those who have it, which deleting the members would not.
const DISPOSE = `// exportkit: declares Symbol.dispose for programs whose \`lib\` lacks esnext.disposable (scripts/package-files.mjs).
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}
`;

async function need(file) {
  try {
    if ((await stat(at(file))).size > 0) return;
  } catch {}
  console.error(`package: ${file} is missing or empty; run \`bash scripts/build.sh\` (it needs Rust and wasm-pack)`);
  process.exit(1);
}

// Both wasm modules (issue 19): the client module and the parse module.
await need("pkg/exportkit_bg.wasm");
await need("pkg/exportkit.js");
await need("pkg/exportkit.d.ts");
await need("pkg-parse/exportkit_parse_bg.wasm");
await need("pkg-parse/exportkit_parse.js");
await need("pkg-parse/exportkit_parse.d.ts");

async function declareDispose(file) {
  let text = await readFile(at(file), "utf8");
  if (!text.includes("readonly dispose: unique symbol")) {
    text = text.replace(/^(\/\* tslint:disable \*\/\n\/\* eslint-disable \*\/\n)?/, (head) => head + DISPOSE);
    await writeFile(at(file), text);
  }
  return text;
}
const dts = await declareDispose("pkg/exportkit.d.ts");
await declareDispose("pkg-parse/exportkit_parse.d.ts");

// wasm-bindgen lists the snippet module once per imported function under the same key in the
// import object; the values are the same namespace, but every consumer's esbuild/Vite would
// print a duplicate-key warning for each. The first of each key is kept.
async function dedupeSnippets(file) {
  const js = await readFile(at(file), "utf8");
  const seen = new Set();
  const deduped = js
    .split("\n")
    .filter((line) => {
      const m = /^\s*"(\.\/snippets\/[^"]+)": import\d+,$/.exec(line);
      if (!m) return true;
      if (seen.has(m[1])) return false;
      seen.add(m[1]);
      return true;
    })
    .join("\n");
  if (deduped !== js) await writeFile(at(file), deduped);
}
await dedupeSnippets("pkg/exportkit.js");
await dedupeSnippets("pkg-parse/exportkit_parse.js");

await mkdir(at("dist"), { recursive: true });
const { build } = await import("esbuild"); // after the checks: they must speak even where esbuild is absent
// import.meta.url becomes the CommonJS file's own URL: dist/ sits beside js/, so js/node.js's
// `new URL("../pkg/exportkit_bg.wasm", import.meta.url)` still names the package's wasm.
for (const [entry, outfile] of [["js/node.js", "dist/exportkit.cjs"], ["js/parse-node.js", "dist/parse.cjs"]]) await build({
  entryPoints: [at(entry)],
  outfile: at(outfile),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  define: { "import.meta.url": "__exportkit_url" },
  banner: { js: '"use strict";\nconst __exportkit_url = require("node:url").pathToFileURL(__filename).href;' },
});

const indexDts = await readFile(at("js/index.d.ts"), "utf8");
await writeFile(at("dist/exportkit.d.cts"), indexDts.replaceAll('"../pkg/exportkit.js"', '"./exportkit-core.cjs"'));
await writeFile(at("dist/exportkit-core.d.cts"), dts);
const parseDts = await readFile(at("js/parse.d.ts"), "utf8");
await writeFile(at("dist/parse.d.cts"), parseDts.replaceAll('"./index.js"', '"./exportkit.cjs"'));

for (const f of ["pkg/snippets", "pkg-parse/snippets", "dist/parse.cjs", "dist/parse.d.cts", "dist/exportkit.cjs", "dist/exportkit.d.cts", "dist/exportkit-core.d.cts"]) await need(f);
