// Stages what `wrangler deploy` publishes, so that nothing else of the repository goes up:
//   dist/worker/  the worker's modules as workerd loads them: index.mjs (the entry), edge/*.mjs,
//                 js/*.js, pkg/exportkit.js, pkg/snippets/ and pkg/exportkit_bg.wasm, and the same
//                 three of the parse module in pkg-parse/
//                 (wrangler.toml's main, base_dir and rules)
//   dist/public/  the dashboard for the assets binding: www/, js/ and the browser half of pkg/
//                 and pkg-parse/,
//                 laid out as in the repository so the page's imports (`../js/index.js`) hold.
//
//   node edge/build.mjs [OUT_DIR]      default edge/dist

import { cp, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_OUT = path.join(ROOT, "edge", "dist");

// The client module (pkg/) and the parse module (pkg-parse/).
const PKG_FILES = { pkg: ["exportkit.js", "exportkit_bg.wasm"], "pkg-parse": ["exportkit_parse.js", "exportkit_parse_bg.wasm"] };

async function needWasm() {
  for (const [dir, files] of Object.entries(PKG_FILES)) {
    try {
      await stat(path.join(ROOT, dir, files[1]));
    } catch {
      throw new Error(`${dir}/ has no wasm build: run \`bash scripts/build.sh\` first`);
    }
  }
}

async function stagePkg(out) {
  for (const [dir, files] of Object.entries(PKG_FILES)) {
    await mkdir(path.join(out, dir), { recursive: true });
    for (const f of files) await cp(path.join(ROOT, dir, f), path.join(out, dir, f));
    await cp(path.join(ROOT, dir, "snippets"), path.join(out, dir, "snippets"), { recursive: true });
  }
}

const notTypes = (src) => !src.endsWith(".d.ts");

/** The dashboard (assets). */
export async function buildAssets(out) {
  await needWasm();
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await cp(path.join(ROOT, "www"), path.join(out, "www"), { recursive: true });
  await cp(path.join(ROOT, "js"), path.join(out, "js"), { recursive: true, filter: notTypes });
  await stagePkg(out);
  return out;
}

/** The worker's modules. */
export async function buildWorker(out) {
  await needWasm();
  await rm(out, { recursive: true, force: true });
  await mkdir(path.join(out, "edge"), { recursive: true });
  for (const f of await readdir(path.join(ROOT, "edge"))) {
    if (f.endsWith(".mjs") && f !== "build.mjs") await cp(path.join(ROOT, "edge", f), path.join(out, "edge", f));
  }
  await cp(path.join(ROOT, "js"), path.join(out, "js"), { recursive: true, filter: notTypes });
  await stagePkg(out);
  // Wrangler names the entry module by its file name alone, so it sits at the top where every
  // module's relative imports resolve the same way in workerd as in the repository.
  await writeFile(path.join(out, ENTRY), 'export { default, ActivitiesExport, UserpilotExport, PagedExport, VendorLimits } from "./edge/worker.mjs";\n');
  return out;
}

export const ENTRY = "index.mjs";

export async function build(out = DEFAULT_OUT) {
  return { worker: await buildWorker(path.join(out, "worker")), assets: await buildAssets(path.join(out, "public")) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await build(process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_OUT);
  console.log(`staged ${path.relative(process.cwd(), out.worker) || "."} and ${path.relative(process.cwd(), out.assets) || "."}`);
}
