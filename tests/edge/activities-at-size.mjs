// The edge's durable activity run at size (issue 18): one snapshot job of `records` records in
// `fragments` fragments, run by the ActivitiesExport Workflow in workerd (miniflare, R2 persisted
// to a temporary folder) against the sandbox. The R2 objects and the sandbox's truth are compared
// by SHA-256 of every byte, both streamed. Reports the run's time and workerd's peak resident
// memory (VmHWM of the workerd process, which runs every invocation of the run: an upper bound for
// one invocation). Used by tests/edge/million.test.mjs and bench/edge-activities.mjs.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ACCESS_KEY, sandboxSecrets, startEdge, startSandbox, tempDir } from "./helpers.mjs";

function workerdPids() {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/status`, "utf8");
      if (/^Name:\s*workerd/m.test(st) && Number(/^PPid:\s*(\d+)/m.exec(st)[1]) === process.pid) out.push(Number(d));
    } catch {}
  }
  return out;
}
const kib = (pid, field) => {
  try {
    return Number(new RegExp(`^${field}:\\s*(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
  } catch {
    return 0;
  }
};

async function hashStream(stream) {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const c of stream) {
    h.update(c);
    bytes += c.length;
  }
  return { sha256: h.digest("hex"), bytes };
}


/** `{ records, fragments, bytes, objects, parts, identical, seconds, workerdIdleRssMiB, statusReadsCut, workerdPeakRssMiB }` */
export async function activitiesAtSize(records, fragments, log = (m) => console.error(m)) {
  const sb = await startSandbox({ seed: 7, activities: records, fragmentRecords: Math.ceil(records / fragments), jobSpeed: 1000 });
  const dir = await tempDir("exportkit-edge-bench-");
  const edge = await startEdge({ vars: { BACKSTORY_BASE_URL: sb.url, RUN_POLL_INTERVAL_MS: "200" }, secrets: sandboxSecrets(), persist: dir.path });
  try {
    const [pid] = workerdPids();
    const idleRss = kib(pid, "VmRSS");
    const t0 = performance.now();
    const r = await fetch(`${edge.url}/api/runs/activities`, {
      method: "POST",
      headers: { "X-Exportkit-Key": ACCESS_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ startDate: "2023-01-01", endDate: "2023-12-31", exportType: "snapshot" }),
    });
    const { id } = await r.json();
    let peakRss = 0;
    let statusFailures = 0;
    let status;
    for (;;) {
      peakRss = Math.max(peakRss, kib(pid, "VmRSS"));
      try {
        status = await (await fetch(`${edge.url}/api/runs/activities/${id}`, { headers: { "X-Exportkit-Key": ACCESS_KEY } })).json();
      } catch (e) {
        // The status read shares the isolate with the run; a read cut off is tried again.
        if (++statusFailures > 30) throw e;
        log(`status read failed (${e.cause?.code ?? e.message}); again in 1 s`);
        await sleep(1000);
        continue;
      }
      if (status.status !== "running" && status.status !== "queued") break;
      await sleep(200);
    }
    const seconds = (performance.now() - t0) / 1000;
    const hwm = kib(pid, "VmHWM");
    if (status.status !== "complete") throw new Error(`run ${status.status}: ${JSON.stringify(status.error)}`);
    const bucket = await edge.r2();
    const listed = await bucket.list({ prefix: "exports/activities/day=" });
    const manifest = JSON.parse(await (await bucket.get(listed.objects.find((o) => o.key.endsWith(`/run=${id}/manifest.json`)).key)).text());
    // The window's pieces (one object per step's fragments), in the manifest's order.
    const total = manifest.objects.reduce((a, o) => a + o.bytes, 0);
    log(`run complete in ${seconds.toFixed(1)} s, workerd peak RSS ${Math.round(Math.max(peakRss, hwm) / 1024)} MiB; checking ${total} bytes in ${manifest.objects.length} objects`);
    // Read back in ranges: one get of a multi-GB object through miniflare's proxy is cut off.
    const got = await hashStream(
      (async function* () {
        const step = 64 << 20;
        for (const obj of manifest.objects) {
          for (let offset = 0; offset < obj.bytes; offset += step) {
            // miniflare's proxy sometimes cuts a read, as it does status reads: read the range again.
            for (let tries = 1; ; tries++) {
              try {
                const part = await bucket.get(obj.key, { range: { offset, length: Math.min(step, obj.bytes - offset) } });
                yield Buffer.from(await part.arrayBuffer());
                break;
              } catch (e) {
                if (tries >= 5) throw e;
                log(`read of ${obj.key} at ${offset} cut (${e.cause?.code ?? e.message}); again in 1 s`);
                await sleep(1000);
              }
            }
          }
        }
      })(),
    );
    const want = await hashStream((await fetch(`${sb.url}/__sandbox/truth/activities?start_date=2023-01-01&end_date=2023-12-31&export_type=snapshot`)).body);
    return {
      records: manifest.rows,
      fragments,
      bytes: got.bytes,
      objects: manifest.objects.length,
      parts: manifest.objects.reduce((a, o) => a + o.parts, 0),
      identical: got.sha256 === want.sha256 && got.bytes === want.bytes,
      seconds: Number(seconds.toFixed(1)),
      workerdIdleRssMiB: Math.round(idleRss / 1024),
      statusReadsCut: statusFailures,
      workerdPeakRssMiB: Math.round(Math.max(peakRss, hwm) / 1024),
    };
  } finally {
    await edge.close();
    await sb.close();
    await dir.remove();
  }
}
