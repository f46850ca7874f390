// Size and start-up: the release wasm raw and gzipped, what each crate costs in it, the JS
// libraries it is measured against, and the time to get it running in Node and in workerd.
//
// Per crate: the wasm-pack build leaves target/wasm32-unknown-unknown/release/exportkit.wasm with
// its `name` section. It is put through the release's own steps (wasm-bindgen, then wasm-opt with
// the flags in Cargo.toml) with `-g` so the names survive; then every code-section body is
// charged to the crate its function's (mangled) name starts with. The result lands in
// target/bench-size/, keyed by the input's hash.
//
//   node bench/size.mjs instantiate      (a child; prints one JSON line)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { runChild, verdict } from "./timing.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RELEASE = path.join(ROOT, "pkg/exportkit_bg.wasm");
const PARSE_RELEASE = path.join(ROOT, "pkg-parse/exportkit_parse_bg.wasm");
/** Issue 19's budgets, gzip -9 bytes (tests/consumer/size-budget.test.mjs holds the same). */
export const BUDGETS = { parse: 60 * 1000, client: 160 * 1000 };
const NAMED = path.join(ROOT, "target/wasm32-unknown-unknown/release/exportkit.wasm");
const KB = 1000;
const gz = (b) => gzipSync(b, { level: 9 }).length;

// ---------------------------------------------------------------- reading a wasm module

/** Sections of a wasm binary: code bodies (function index → bytes), names, data size. */
export function readWasm(bytes) {
  let p = 8;
  const leb = () => {
    let r = 0;
    let s = 0;
    let b;
    do {
      b = bytes[p++];
      r += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80);
    return r;
  };
  const str = () => {
    const n = leb();
    const s = Buffer.from(bytes.subarray(p, p + n)).toString("utf8");
    p += n;
    return s;
  };
  const out = { importedFuncs: 0, bodies: [], names: new Map(), sections: new Map() };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    const end = p + size;
    let key = id;
    if (id === 0) {
      key = str();
      if (key === "name") {
        while (p < end) {
          const sub = bytes[p++];
          const subEnd = leb() + p;
          if (sub === 1) for (let n = leb(); n > 0; n--) out.names.set(leb(), str());
          p = subEnd;
        }
      }
    } else if (id === 2) {
      const limits = () => (bytes[p++] & 1 ? (leb(), leb()) : leb());
      for (let n = leb(); n > 0; n--) {
        str();
        str();
        const kind = bytes[p++];
        if (kind === 0) {
          leb();
          out.importedFuncs++;
        } else if (kind === 1) {
          p++;
          limits();
        } else if (kind === 2) limits();
        else p += 2; // a global: value type, mutability
      }
    } else if (id === 10) {
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        out.bodies.push(bytes.subarray(p, p + len));
        p += len;
      }
    }
    out.sections.set(key, (out.sections.get(key) ?? 0) + size);
    p = end;
  }
  return out;
}

// ---------------------------------------------------------------- names to crates

const LEGACY_ESCAPES = { $LT$: "<", $GT$: ">", $RF$: "&", $BP$: "*", $C$: ",", $SP$: "@", $u20$: " ", $u27$: "'", $u5b$: "[", $u5d$: "]", $u7b$: "{", $u7d$: "}", $u7e$: "~" };

/** A legacy (`_ZN...E`) symbol as a Rust path, hash dropped. */
function demangleLegacy(sym) {
  const parts = [];
  let p = sym.indexOf("_ZN") + 3;
  while (p < sym.length && sym[p] !== "E") {
    const m = /^\d+/.exec(sym.slice(p));
    if (!m) break;
    p += m[0].length;
    parts.push(sym.slice(p, p + Number(m[0])));
    p += Number(m[0]);
  }
  if (/^h[0-9a-f]{16}$/.test(parts.at(-1) ?? "")) parts.pop();
  return parts
    .map((s) => s.replace(/^_\$/, "$").replace(/\$[A-Za-z0-9]+\$/g, (e) => LEGACY_ESCAPES[e] ?? e).replaceAll("..", "::"))
    .join("::");
}

/** The crate a v0 (`_R...`) symbol is defined in: its first crate-root (`C`) component. */
function v0Crate(sym) {
  const re = /C(?:s[0-9A-Za-z]*_)?(\d+)/g;
  for (let m; (m = re.exec(sym)); ) {
    const name = sym.slice(m.index + m[0].length, m.index + m[0].length + Number(m[1]));
    if (/^[A-Za-z_]\w*$/.test(name)) return name;
  }
  return null;
}

const BUILTINS = /^(memcpy|memmove|memset|memcmp|bcmp|__(mul|div|udiv|mod|umod|ashl|ashr|lshr)[a-z]*\d+|__(float|fix)\w+|__(add|sub|mul|div)[sdt]f3|__(eq|ne|lt|le|gt|ge|unord)[sdt]f2|__extend\w+|__trunc\w+)$/;

/** The first crate named in a Rust path (drop glue: the dropped type's crate). */
function crateOfPath(p) {
  const inner = /^core::ptr::drop_in_place<(.*)>$/.exec(p);
  const crate = /([A-Za-z_]\w*)::/.exec(inner ? inner[1] : p)?.[1];
  // Methods of primitive types (`<u64>::_fmt`, `<[u8]>::starts_with`) live in core.
  if (!crate) return /^<[^>]*>::/.test(p) ? "core" : "other";
  return crate === "__rustc" ? "std" : crate;
}

/** Which crate a function name (mangled, or demangled as wasm-bindgen leaves it) belongs to. */
export function crateOf(name) {
  // binaryen prefixes functions it merged or outlined; the original name follows.
  const sym = name.replace(/^byn\$[^$]*\$/, "");
  if (sym.includes("_ZN")) return crateOfPath(demangleLegacy(sym));
  if (sym.startsWith("_R")) {
    const c = v0Crate(sym);
    return c === "___rustc" ? "std" : (c ?? "other");
  }
  // Demangled: `a::b::c::h0123...`, crates of v0 symbols with their `[hash]`.
  if (sym.includes("::")) return crateOfPath(sym.replace(/\[[0-9a-f]+\]/g, "").replace(/::h[0-9a-f]{16}$/, ""));
  // wasm-bindgen's own adapters and its shims around exports.
  if (/^__wbindgen|^__wbg_(?!\w+_free_)|^__externref| shim$| -> /.test(sym)) return "wasm_bindgen";
  if (/^__wbg_\w+_free_|^[a-z0-9]+_[A-Za-z0-9]+_[0-9a-f]{16}$|^[A-Za-z0-9]+_[0-9a-f]{16}$|^[a-z0-9]+_[A-Za-z0-9]+$/.test(sym)) return "exportkit";
  if (BUILTINS.test(sym)) return "compiler_builtins";
  if (/^__r[dg]l_|^__rust_/.test(sym)) return "std";
  return "other";
}

/** Code bytes per crate: { crate: { bytes, gzip, functions } }, biggest first. */
export function costPerCrate(wasm) {
  const per = new Map();
  wasm.bodies.forEach((body, i) => {
    const name = wasm.names.get(wasm.importedFuncs + i) ?? "";
    const crate = name ? crateOf(name) : "(unnamed)";
    const c = per.get(crate) ?? { bytes: 0, functions: 0, bodies: [] };
    c.bytes += body.length;
    c.functions++;
    c.bodies.push(body);
    per.set(crate, c);
  });
  return [...per]
    .map(([crate, c]) => ({ crate, bytes: c.bytes, functions: c.functions, gzip: gz(Buffer.concat(c.bodies)) }))
    .sort((a, b) => b.bytes - a.bytes);
}

// ---------------------------------------------------------------- the named, optimized build

function tool(name) {
  for (const dir of [path.join(ROOT, "node_modules/.bin"), path.join(os.homedir(), ".cargo/bin")]) {
    if (existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return name; // on PATH, or the call fails and says so
}

/** The wasm-opt flags the release uses (Cargo.toml, [package.metadata.wasm-pack.profile.release]). */
function releaseOptFlags() {
  const toml = readFileSync(path.join(ROOT, "Cargo.toml"), "utf8");
  const m = /\[package\.metadata\.wasm-pack\.profile\.release\][^[]*?wasm-opt\s*=\s*\[([^\]]*)\]/.exec(toml);
  return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((g) => g[1]) : ["-O"];
}

/** The release build again, names kept. Returns the path of the named, optimized wasm. */
function namedRelease() {
  if (!existsSync(NAMED)) {
    execFileSync("cargo", ["build", "--lib", "--release", "--target", "wasm32-unknown-unknown"], { cwd: ROOT, stdio: "inherit" });
  }
  const input = readFileSync(NAMED);
  const flags = releaseOptFlags();
  const key = createHash("sha256").update(input).update(flags.join(" ")).digest("hex").slice(0, 16);
  const cache = path.join(ROOT, "target/bench-size");
  const dir = path.join(cache, key);
  const out = path.join(dir, "exportkit_named.wasm");
  if (!existsSync(out)) {
    // One build's worth at a time: older keys are of sources that are gone.
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync(tool("wasm-bindgen"), [NAMED, "--out-dir", dir, "--target", "web", "--no-typescript"], { stdio: "inherit" });
    execFileSync(tool("wasm-opt"), [path.join(dir, "exportkit_bg.wasm"), ...flags, "-g", "-o", out], { stdio: "inherit" });
  }
  return out;
}

// ---------------------------------------------------------------- start-up

/** `how`: "init" (the async `init(module)`) or "initSync" (what the edge worker calls). */
async function instantiateChild(how) {
  const bytes = readFileSync(RELEASE);
  const ek = await import("../js/index.js");
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const t1 = performance.now();
  // Both modules: the parse module from its file, the client module instantiated at once.
  if (how === "initSync") ek.initSync(module);
  else {
    await ek.default({ parse: readFileSync(PARSE_RELEASE), client: module });
    await ek.initClient();
  }
  const t2 = performance.now();
  return { compileMs: t1 - t0, initMs: t2 - t1 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * workerd through miniflare: the edge worker's staging (edge/build.mjs) with a bench entry beside
 * it that initialises exportkit only when asked, so its cost can be told apart from the rest.
 * Time inside a worker stands still between I/O, so everything is timed from Node.
 */
async function workerdTimes(runs) {
  const { Miniflare, Log, LogLevel } = await import("miniflare");
  const { buildWorker } = await import("../edge/build.mjs");
  const { writeFile, rm, mkdtemp } = await import("node:fs/promises");
  const dir = await mkdtemp(path.join(os.tmpdir(), "exportkit-bench-"));
  try {
    await buildWorker(dir);
    await writeFile(
      path.join(dir, "bench-wasm.mjs"),
      `import wasmModule from "./pkg/exportkit_bg.wasm";
import { initSync } from "./js/index.js";
const stubs = () => {
  const imports = {};
  for (const i of WebAssembly.Module.imports(wasmModule)) (imports[i.module] ??= {})[i.name] = () => { throw new Error("stub"); };
  return imports;
};
export default {
  fetch(req) {
    const u = new URL(req.url);
    if (u.pathname === "/init") initSync(wasmModule);
    if (u.pathname === "/instantiate") for (let n = Number(u.searchParams.get("n")); n > 0; n--) new WebAssembly.Instance(wasmModule, stubs());
    return new Response("ok");
  },
};
`,
    );
    await writeFile(path.join(dir, "bench-plain.mjs"), `export default { fetch() { return new Response("ok"); } };\n`);
    const files = [];
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/^(js\/[^/]+\.js|pkg\/exportkit\.js|pkg\/snippets\/.+\.js|pkg-parse\/exportkit_parse\.js|pkg-parse\/snippets\/.+\.js)$/.test(path.relative(dir, p).split(path.sep).join("/"))) files.push({ type: "ESModule", path: p });
      }
    };
    walk(dir);
    const withWasm = [{ type: "ESModule", path: path.join(dir, "bench-wasm.mjs") }, ...files, { type: "CompiledWasm", path: path.join(dir, "pkg/exportkit_bg.wasm") }];
    const plain = [{ type: "ESModule", path: path.join(dir, "bench-plain.mjs") }];
    const start = async (modules) => {
      const t0 = performance.now();
      const mf = new Miniflare({ modulesRoot: dir, modules, compatibilityDate: "2025-09-01", log: new Log(LogLevel.NONE) });
      const url = await mf.ready;
      const t1 = performance.now();
      const rtt = async (p) => {
        const t = performance.now();
        await (await mf.dispatchFetch(new URL(p, url))).text();
        return performance.now() - t;
      };
      await rtt("/");
      return { mf, ms: t1 - t0, rtt };
    };
    const res = { startWasm: [], startPlain: [], init: [], instantiate: [] };
    const N = 20;
    // The first workerd start of a process also loads the binary: not part of either figure.
    await (await start(plain)).mf.dispose();
    for (let i = 0; i < runs; i++) {
      const p = await start(plain);
      res.startPlain.push(p.ms);
      await p.mf.dispose();
      const w = await start(withWasm);
      res.startWasm.push(w.ms);
      const initRtt = await w.rtt("/init");
      const noop = Math.min(await w.rtt("/"), await w.rtt("/"), await w.rtt("/"));
      res.init.push(initRtt - noop);
      res.instantiate.push(((await w.rtt(`/instantiate?n=${N}`)) - noop) / N);
      await w.mf.dispose();
    }
    return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v)]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the section

const PEERS = [
  ["uDSV", "udsv/dist/uDSV.iife.min.js"],
  ["Papa Parse", "papaparse/papaparse.min.js"],
  ["d3-dsv", "d3-dsv/dist/d3-dsv.min.js"],
  ["fflate (whole library)", "fflate/umd/index.js"],
  ["pako (inflate only)", "pako/dist/pako_inflate.min.js"],
];

const SELF = fileURLToPath(import.meta.url);

export async function sizeSection(report, { quick }) {
  const release = readFileSync(RELEASE);
  const parseRelease = readFileSync(PARSE_RELEASE);
  const parseGz = gz(parseRelease);
  const glue = ["pkg/exportkit.js", "pkg-parse/exportkit_parse.js", ...readdirSync(path.join(ROOT, "js")).filter((f) => f.endsWith(".js")).map((f) => `js/${f}`)].map((f) => readFileSync(path.join(ROOT, f)));
  const wasmGz = gz(release);
  report.section("Size");
  report.table(
    ["file", "raw KB", "gzip -9 KB"],
    [
      ["pkg-parse/exportkit_parse_bg.wasm (parse module, release)", (parseRelease.length / KB).toFixed(1), (parseGz / KB).toFixed(1)],
      ["pkg/exportkit_bg.wasm (client module, release)", (release.length / KB).toFixed(1), (wasmGz / KB).toFixed(1)],
      ["JS glue (pkg/exportkit.js + pkg-parse/exportkit_parse.js + js/*.js, unminified)", (glue.reduce((n, b) => n + b.length, 0) / KB).toFixed(1), (gz(Buffer.concat(glue)) / KB).toFixed(1)],
      ...PEERS.map(([n, f]) => {
        const b = readFileSync(path.join(ROOT, "node_modules", f));
        return [`${n}: ${f} (minified)`, (b.length / KB).toFixed(1), (gz(b) / KB).toFixed(1)];
      }),
    ],
  );
  report.line("KB = 1000 bytes. exportkit carries four API clients besides the parsers; the peers are parsers or inflaters only.");
  // Issue 19: a page that only parses loads the parse module; the client module comes with the first client.
  report.goal(`the parse module under ${BUDGETS.parse / KB} KB gzipped`, verdict(parseGz / KB, BUDGETS.parse / KB, { higher: false, unit: " KB", digits: 1 }));
  report.goal(`the client module under ${BUDGETS.client / KB} KB gzipped`, verdict(wasmGz / KB, BUDGETS.client / KB, { higher: false, unit: " KB", digits: 1 }));
  report.line();

  let named;
  try {
    named = readWasm(readFileSync(namedRelease()));
  } catch (e) {
    report.line(`Per-crate costs not measured: ${e.message}`);
    report.line();
  }
  if (named) {
    const rel = readWasm(release);
    const code = named.bodies.reduce((n, b) => n + b.length, 0);
    const drift = Math.abs(code / (rel.sections.get(10) ?? code) - 1);
    const costs = costPerCrate(named);
    report.section("What each crate costs (code section of the client module's release build, names kept)");
    report.table(
      ["crate", "functions", "code KB", "share of code", "its code alone, gzip KB"],
      [
        ...costs.map((c) => [c.crate, String(c.functions), (c.bytes / KB).toFixed(1), `${((c.bytes / code) * 100).toFixed(1)}%`, (c.gzip / KB).toFixed(1)]),
        ["data segments (static strings, tables; all crates)", "", ((named.sections.get(11) ?? 0) / KB).toFixed(1), "", ""],
      ],
    );
    report.line(
      `Code section: ${(code / KB).toFixed(1)} KB in the named build, ${((rel.sections.get(10) ?? 0) / KB).toFixed(1)} KB in pkg/ (the same steps: wasm-bindgen, wasm-opt ${releaseOptFlags().join(" ")}, plus -g). A function is charged to the crate its symbol names first (drop glue to the type's crate); generics of core and alloc instantiated for other crates' types stay with core and alloc, and after LTO and wasm-opt inlining, code lands in its caller's function, so the split is close, not exact.${drift > 0.01 ? ` **The named build differs from pkg/ by ${(drift * 100).toFixed(1)}%: they come from different sources; \`bash scripts/build.sh\` rebuilds both.**` : ""}`,
    );
    report.line();
  }

  report.section("Start-up");
  const node = { init: [], initSync: [] };
  for (let i = 0; i < (quick ? 3 : 5); i++) for (const how of Object.keys(node)) node[how].push(await runChild(SELF, ["instantiate", how]));
  const wd = await workerdTimes(quick ? 2 : 5);
  const nodeMs = (how, k) => median(node[how].map((r) => r[k])).toFixed(1);
  report.table(
    ["runtime", "step", "ms"],
    [
      [`Node ${process.version}`, "WebAssembly.compile (the client module's release bytes)", nodeMs("init", "compileMs")],
      [`Node ${process.version}`, "then exportkit's async init({ parse: bytes, client: module }) and initClient() (compiles the parse module too)", nodeMs("init", "initMs")],
      [`Node ${process.version}`, "then exportkit's initSync(module) (the client module alone)", nodeMs("initSync", "initMs")],
      ["workerd (miniflare)", "worker start-up with the wasm module and the JS glue, minus a one-line worker's", (wd.startWasm - wd.startPlain).toFixed(0)],
      ["workerd (miniflare)", "initSync(compiled module), first request (round trip minus an empty request's)", wd.init.toFixed(1)],
      ["workerd (miniflare)", "new WebAssembly.Instance of the compiled module (stub imports, mean of 20)", wd.instantiate.toFixed(2)],
    ],
  );
  const asyncExtra = median(node.init.map((r) => r.initMs)) - median(node.initSync.map((r) => r.initMs));
  report.line(`Node: median of ${node.init.length} fresh processes each; the async \`init\` (which also compiles the parse module from its bytes) takes ${asyncExtra.toFixed(0)} ms longer than \`initSync\` of the compiled client module. workerd compiles a CompiledWasm module when it loads the worker, so its compile is inside the start-up difference; the edge worker calls initSync at module load. No goal is set for these.`);
  report.line();
}

if (process.argv[1] === SELF && process.argv[2] === "instantiate") {
  console.log(JSON.stringify(await instantiateChild(process.argv[3])));
}
