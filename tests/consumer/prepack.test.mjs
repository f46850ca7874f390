// A tarball without the wasm cannot be made: `npm pack` runs prepack (scripts/build.sh), and the
// package check after the build fails naming the missing file. Both run on a copy of the
// repository's package sources with no pkg/ or pkg-parse/ (an unbuilt clone); either wasm module
// missing stops the package.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ROOT, sh } from "./helpers.mjs";

let clone;
before(async () => {
  clone = await mkdtemp(path.join(tmpdir(), "exportkit-unbuilt-"));
  for (const p of ["package.json", "README.md", "Cargo.toml", "Cargo.lock", ".cargo", "scripts", "js", "cli", "bin", "examples", "src", "crates"]) {
    await cp(path.join(ROOT, p), path.join(clone, p), { recursive: true });
  }
});
after(() => rm(clone, { recursive: true, force: true }));

test("npm pack on an unbuilt clone without the Rust toolchain fails and makes no tarball", async () => {
  const home = path.join(clone, ".home");
  await mkdir(home);
  // HOME elsewhere takes ~/.cargo/bin (wasm-pack) off build.sh's PATH: the build cannot run.
  const PATH = process.env.PATH.split(":").filter((d) => !d.includes(".cargo")).join(":");
  const r = await sh("npm", ["pack", "--pack-destination", clone], { cwd: clone, env: { HOME: home, PATH, npm_config_cache: path.join(home, "npm-cache") } });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /wasm-pack/);
  assert.deepEqual((await readdir(clone)).filter((f) => f.endsWith(".tgz")), []);
});

test("the package check names the missing wasm when a build left no pkg/exportkit_bg.wasm", async () => {
  await mkdir(path.join(clone, "pkg"), { recursive: true });
  await cp(path.join(ROOT, "pkg", "exportkit.js"), path.join(clone, "pkg", "exportkit.js"));
  await cp(path.join(ROOT, "pkg", "exportkit.d.ts"), path.join(clone, "pkg", "exportkit.d.ts"));
  const r = await sh("node", ["scripts/package-files.mjs"], { cwd: clone });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /pkg\/exportkit_bg\.wasm is missing or empty/);

  await writeFile(path.join(clone, "pkg", "exportkit_bg.wasm"), "");
  const empty = await sh("node", ["scripts/package-files.mjs"], { cwd: clone });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /pkg\/exportkit_bg\.wasm is missing or empty/);
});

test("the package check names the missing parse module when a build left the client module alone", async () => {
  await mkdir(path.join(clone, "pkg"), { recursive: true });
  for (const f of ["exportkit.js", "exportkit.d.ts", "exportkit_bg.wasm"]) await cp(path.join(ROOT, "pkg", f), path.join(clone, "pkg", f));
  await mkdir(path.join(clone, "pkg-parse"), { recursive: true });
  await cp(path.join(ROOT, "pkg-parse", "exportkit_parse.js"), path.join(clone, "pkg-parse", "exportkit_parse.js"));
  await cp(path.join(ROOT, "pkg-parse", "exportkit_parse.d.ts"), path.join(clone, "pkg-parse", "exportkit_parse.d.ts"));
  const r = await sh("node", ["scripts/package-files.mjs"], { cwd: clone });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /pkg-parse\/exportkit_parse_bg\.wasm is missing or empty/);

  await writeFile(path.join(clone, "pkg-parse", "exportkit_parse_bg.wasm"), "");
  const empty = await sh("node", ["scripts/package-files.mjs"], { cwd: clone });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /pkg-parse\/exportkit_parse_bg\.wasm is missing or empty/);
});
