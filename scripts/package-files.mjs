// The npm package's files around the wasm build (run by scripts/build.sh, so by `npm pack` too):
//   pkg/exportkit.d.ts   made to type-check under any `lib` (see DISPOSE below)
//   dist/exportkit.cjs   the CommonJS build: js/node.js bundled (Node 20 cannot require() ESM)
//   dist/*.d.cts         its types
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

await need("pkg/exportkit_bg.wasm");
await need("pkg/exportkit.js");
await need("pkg/exportkit.d.ts");

const dtsPath = at("pkg/exportkit.d.ts");
let dts = await readFile(dtsPath, "utf8");
if (!dts.includes("readonly dispose: unique symbol")) {
  dts = dts.replace(/^(\/\* tslint:disable \*\/\n\/\* eslint-disable \*\/\n)?/, (head) => head + DISPOSE);
  await writeFile(dtsPath, dts);
}

// wasm-bindgen lists the snippet module once per imported function under the same key in the
// import object; the values are the same namespace, but every consumer's esbuild/Vite would
// print a duplicate-key warning for each. The first of each key is kept.
const jsPath = at("pkg/exportkit.js");
const js = await readFile(jsPath, "utf8");
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
if (deduped !== js) await writeFile(jsPath, deduped);

await mkdir(at("dist"), { recursive: true });
const { build } = await import("esbuild"); // after the checks: they must speak even where esbuild is absent
// import.meta.url becomes the CommonJS file's own URL: dist/ sits beside js/, so js/node.js's
// `new URL("../pkg/exportkit_bg.wasm", import.meta.url)` still names the package's wasm.
await build({
  entryPoints: [at("js/node.js")],
  outfile: at("dist/exportkit.cjs"),
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

for (const f of ["pkg/snippets", "dist/exportkit.cjs", "dist/exportkit.d.cts", "dist/exportkit-core.d.cts"]) await need(f);
