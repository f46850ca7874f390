// The demo: the sandbox (a local stand-in for the vendors' APIs, with sample data) and the
// dashboard, wired together so that the page opens ready to run, with no credentials to find.
//
//   node scripts/demo.mjs        (npm start builds the wasm first, then runs this)
//
// Ports: the sandbox on 8790 and the page on 8080 when free, any free port otherwise
// (or SANDBOX_PORT / PORT from the environment).

import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { startSandbox, SANDBOX_CREDENTIALS } from "../sandbox/server.mjs";
import { startStatic } from "./serve.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

/** Start on `wanted` if it is free, else on any free port. */
async function startOn(wanted, start) {
  if (wanted && (await portIsFree(wanted))) {
    try {
      return await start(wanted);
    } catch (err) {
      if (err && err.code !== "EADDRINUSE") throw err;
    }
  }
  return start(0);
}

const sandboxPort = Number(process.env.SANDBOX_PORT || 8790);
const pagePort = Number(process.env.PORT || 8080);

if (!existsSync(path.join(root, "pkg"))) {
  console.warn("exportkit demo: pkg/ is missing; build the wasm first (npm start does it). The page will say so.");
}

const sandbox = await startOn(sandboxPort, (port) => startSandbox({ port }));
const creds = SANDBOX_CREDENTIALS.backstory;
const site = await startOn(pagePort, (port) =>
  startStatic({
    root,
    port,
    host: HOST,
    config: {
      baseUrl: sandbox.url,
      clientId: creds.clientId,
      clientSecret: creds.clientSecret,
      userpilotBaseUrl: sandbox.url,
      userpilotApiKey: SANDBOX_CREDENTIALS.userpilot.apiKey,
    },
  }),
);

console.log(`exportkit demo: open ${site.url}/www/  (sandbox at ${sandbox.url})`);
console.log("Press Ctrl-C to stop.");

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([site.close(), sandbox.close()]);
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
