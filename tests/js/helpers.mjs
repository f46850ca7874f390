// Shared by the Node tests: a sandbox per test file, the CLI as a child process.
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(ROOT, "bin", "exportkit.mjs");
export { SANDBOX_CREDENTIALS, startSandbox };

export async function control(sb, path, body) {
  const r = await fetch(`${sb.url}${path}`, {
    method: body !== undefined || path.endsWith("/reset") ? "POST" : "GET",
    headers: body !== undefined ? { "Content-Type": "application/json" } : {},
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return r.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

export const truthCsv = (sb, query) => control(sb, "/__sandbox/truth/insights", query);

/** Runs the CLI; resolves to { code, stdout, stderr } (stdout as a Buffer). */
export async function runCli(args, { env = {}, stdin } = {}) {
  const stateDir = env.EXPORTKIT_STATE_DIR ?? (await mkdtemp(join(tmpdir(), "exportkit-state-")));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, EXPORTKIT_STATE_DIR: stateDir, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), stateDir }));
    child.stdin.end(stdin ?? "");
  });
}

export function backstoryEnv(sb, extra = {}) {
  return {
    BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId,
    BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret,
    BACKSTORY_BASE_URL: sb.url,
    ...extra,
  };
}

/** An independent RFC 4180 reader (not the parser under test) for checking contents. */
export function readCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let q = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else q = false;
      } else field += c;
    } else if (c === '"') {
      q = true;
      started = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
      started = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      if (started || field !== "" || row.length) {
        row.push(field);
        rows.push(row);
      }
      row = [];
      field = "";
      started = false;
    } else {
      field += c;
      started = true;
    }
  }
  if (started || field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
