// Unit tests (Node, no browser) of the dashboard's DOM-free pieces: the CSV writer and its
// injection guard, JSON Lines keys, the preview's sort and filter, the column chart's counts, the
// per-day-by-type counts, the curl commands (quoting run through a real shell, and the Userpilot
// and Raw Activity requests run against the sandbox) and the share link's encoding.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { SANDBOX_CREDENTIALS, startSandbox } from "../../sandbox/server.mjs";
import { readCsv, truthCsv } from "../js/helpers.mjs";
import { columnBars } from "../../www/charts.js";
import { csvParts, guardCell, isDangerous, jsonKeys, jsonlParts, recordParts } from "../../www/csv-guard.js";
import { curlCommand, curlRequest, shellQuote } from "../../www/curl.js";
import { cellDay, countDayType, dayNumber, dayTypeIndex } from "../../www/day-chart.js";
import { queryFromHash, shareLink } from "../../www/saved-queries.js";
import { datesInText, invalidText, vendorWords } from "../../www/run-errors.js";
import { createRunController } from "../../www/run-controller.js";
import { cellMatcher, filterOrder, sortOrder } from "../../www/table.js";

test("the guard: formula starts get an apostrophe, plain numbers and text do not", () => {
  for (const v of ["=1+1", '=HYPERLINK("http://x","y")', "+1 Telecom", "-Minus Holdings", "@Mention Media", "\tTabbed", "\rCR", "-", "+", "=", "-1+2", "--5"]) {
    assert.equal(isDangerous(v), true, JSON.stringify(v));
    assert.equal(guardCell(v), `'${v}`);
  }
  for (const v of ["", "plain", "-12.5", "+3", "42", "1e5", "-.5", " =not first", "a=b", "'quoted"]) {
    assert.equal(isDangerous(v), false, JSON.stringify(v));
    assert.equal(guardCell(v), v);
  }
});

test("the CSV writer re-creates the Query API's file byte for byte, and guards only what it must", async () => {
  const sb = await startSandbox({ port: 0 });
  try {
    const q = { object: "account", columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_description" }, { slug: "ootb_account_annual_revenue" }] };
    const truth = await truthCsv(sb, q);
    const [header, ...rows] = readCsv(truth);
    assert.equal(csvParts({ header, rows, guard: false }).join(""), truth, "unguarded: the same bytes (RFC 4180, CRLF, quotes only where needed)");
    const guarded = readCsv(csvParts({ header, rows }).join(""));
    let n = 0;
    guarded.slice(1).forEach((row, r) =>
      row.forEach((cell, c) => {
        const v = rows[r][c];
        if (/^[=+\-@\t\r]/.test(v) && !/^[-+]?[\d.]+$/.test(v)) {
          n += 1;
          assert.equal(cell, `'${v}`);
        } else assert.equal(cell, v);
      }),
    );
    assert.ok(n > 5, `some cells were guarded (${n})`);
    const order = Uint32Array.from([2, 0]);
    assert.equal(csvParts({ header, rows, order }).join(""), csvParts({ header, rows: [rows[2], rows[0]] }).join(""), "`order` picks the rows");
  } finally {
    await sb.close();
  }
});

test("JSON Lines: one object per row keyed by the header, repeated names made unique", () => {
  assert.deepEqual(jsonKeys(["a", "b", "a", "a_2", "a"]), ["a", "b", "a_2", "a_2_2", "a_3"]);
  const text = jsonlParts({ header: ["id", "name"], rows: [["1", 'Café "x"\n'], ["2"]] }).join("");
  assert.equal(text, '{"id":"1","name":"Café \\"x\\"\\n"}\n{"id":"2","name":""}\n');
  const records = Array.from({ length: 12_001 }, (_, i) => ({ i, nested: { a: [i, "x"] } }));
  const parts = recordParts(records);
  assert.equal(parts.length, 3, "in parts of 5,000 lines");
  assert.deepEqual(parts.join("").split("\n").slice(0, -1).map((l) => JSON.parse(l)), records, "the records as they are, one per line");
});

test("preview sort: numbers as numbers, text case-insensitively, empty last, ties in file order", () => {
  const rows = [["10", "b"], ["9", "B"], ["", "a"], ["x", "c"], ["100", ""], ["9", "A"]];
  assert.deepEqual([...sortOrder(rows, 0, "asc")], [1, 5, 0, 4, 3, 2]);
  assert.deepEqual([...sortOrder(rows, 0, "desc")], [3, 4, 0, 1, 5, 2]);
  assert.deepEqual([...sortOrder(rows, 1, "asc")], [2, 5, 0, 1, 3, 4]);
  const m = cellMatcher(">=10");
  assert.deepEqual([...filterOrder(rows, null, [[0, m]])], [0, 4]);
  assert.deepEqual([...filterOrder(rows, sortOrder(rows, 0, "desc"), [[0, m]])], [4, 0]);
  assert.deepEqual([...filterOrder(rows, null, [[1, cellMatcher("A")]])], [2, 5]);
  assert.equal(cellMatcher("  "), null);
});

test("column chart: histogram of numbers, top values of text, months of dates", () => {
  const nums = Array.from({ length: 100 }, (_, i) => [String(i)]).concat([[""]]);
  const h = columnBars(nums, null, 0);
  assert.equal(h.kind, "number");
  assert.deepEqual(h.bars.map((b) => b[1]), [10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 1]);
  const text = columnBars([["a"], ["b"], ["a"]], null, 0);
  assert.deepEqual(text.bars, [["a", 2], ["b", 1]]);
  const dates = columnBars([["2024-05-02T00:00:00.000Z"], ["2024-04-30T10:00:00.000Z"], ["2024-05-31T00:00:00.000Z"]], Uint32Array.from([0, 1, 2]), 0);
  assert.deepEqual(dates.bars, [["2024-04", 1], ["2024-05", 2]]);
});

test("curl: the query survives the shell's quoting, secrets stay variables", () => {
  const tricky = `O'Reilly & "Sons" $HOME \`x\` \\ ; |`;
  assert.equal(execFileSync("bash", ["--noprofile", "--norc", "-c", `printf %s ${shellQuote(tricky)}`], { encoding: "utf8" }), tricky);
  const query = { object: "account", columns: [{ slug: "ootb_account_name" }], filter: { attribute: { slug: "ootb_account_name" }, clause: { $eq: tricky } } };
  const text = curlCommand({ baseUrl: "https://user:pw@api.example.com/", query });
  assert.ok(!text.includes("user:pw"), "credentials in the base URL are dropped");
  assert.match(text, /'https:\/\/api\.example\.com\/v3\/auth\/tokens'/);
  assert.match(text, /"client_secret=\$BACKSTORY_CLIENT_SECRET"/);
  const body = /--data-raw ('(?:[^']|'\\'')*')/.exec(text)[1];
  assert.deepEqual(JSON.parse(execFileSync("bash", ["--noprofile", "--norc", "-c", `printf %s ${body}`], { encoding: "utf8" })), query);
  const proxied = curlCommand({ proxyUrl: "https://edge.example.com", query });
  assert.ok(!proxied.includes("TOKEN") && !proxied.includes("BACKSTORY_CLIENT"), "behind the edge worker: no token step");
});

test("share links: the query in base64url JSON, read back; damaged links are refused", () => {
  const query = { object: "user", columns: [{ slug: "ootb_user_name" }], filter: { attribute: { slug: "ootb_user_name" }, clause: { $eq: "Zoë 東京 🚀 +/=" } } };
  const link = shareLink(query, { origin: "https://dash.example", pathname: "/www/" });
  assert.match(link, /^https:\/\/dash\.example\/www\/#query=[A-Za-z0-9_-]+$/);
  assert.deepEqual(queryFromHash(link.slice(link.indexOf("#"))), { query });
  assert.equal(queryFromHash("#query"), null);
  assert.equal(queryFromHash("#activities"), null);
  assert.ok(queryFromHash("#query=%%%").error);
  assert.ok(queryFromHash("#query=bm90IGpzb24").error);
  assert.ok(queryFromHash("#query=WzFd").error, "a list is not a query");
});

test("per day by type: days in UTC from ms, µs or ISO text; a record over several rows counts once", () => {
  assert.equal(dayNumber("2024-01-02"), 19724);
  assert.ok(Number.isNaN(dayNumber("2024-1-2")));
  assert.equal(cellDay(String(Date.UTC(2024, 0, 2, 23, 59)), "ms"), 19724);
  assert.equal(cellDay(String(Date.UTC(2024, 0, 2, 0, 0) * 1000 + 5), "us"), 19724);
  assert.equal(cellDay("2024-01-02T23:59:59.999504"), 19724, "a time without a zone is UTC");
  assert.equal(cellDay("2024-01-03T00:30:00+02:00"), 19724);
  assert.ok(Number.isNaN(cellDay("")) && Number.isNaN(cellDay("soon")));
  const ms = (d, h = 12) => String(Date.UTC(2024, 0, d, h));
  // uid, day, type: record "b" is exploded over three rows.
  const rows = [["a", ms(1), "email"], ["b", ms(2), "meeting"], ["b", ms(2), "meeting"], ["b", ms(2), "meeting"], ["c", ms(2), "call"], ["d", "", "email"], ["e", ms(9), "fax"]];
  const index = dayTypeIndex(rows, { dayCol: 1, typeCol: 2, recordCol: 0, knownTypes: ["email", "meeting", "call"] });
  assert.deepEqual(index.types, ["email", "meeting", "call", "fax"], "known types first, others as they come");
  const from = dayNumber("2024-01-01");
  const all = countDayType(index, null, from, from + 2);
  // day-major: [day0: email meeting call fax, day1: ..., day2: ...]
  assert.deepEqual([...all.counts], [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
  assert.equal(all.outside, 2, "no day, and a day past the range");
  // A view (sorted, filtered) that reaches record b through its last row only.
  assert.deepEqual([...countDayType(index, Uint32Array.from([3, 0]), from, from + 2).counts], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const flat = dayTypeIndex(rows, { dayCol: 1, typeCol: 2 });
  assert.equal(countDayType(flat, null, from, from + 2).counts[4 + 1], 3, "without a record column every row counts");
});

test("curl for Userpilot and Raw Activity exports: no secret in the text, and the sandbox accepts them", async (t) => {
  const up = curlRequest({ api: "userpilot", baseUrl: "https://appex.example.com/", path: "/api/v1/analytics/exports/", body: { from: "2024-01-01", to: "2024-01-02" } });
  assert.match(up, /-H "Authorization: Token \$USERPILOT_API_KEY"/);
  const viaEdge = curlRequest({ api: "userpilot", proxyUrl: "https://dash.example/api/userpilot", path: "/api/v1/analytics/exports/", body: {} });
  assert.ok(viaEdge.includes("'https://dash.example/api/userpilot/api/v1/analytics/exports/'") && viaEdge.includes('"x-exportkit-key: $EXPORTKIT_KEY"'));
  assert.ok(!viaEdge.includes("USERPILOT_API_KEY"));
  if (["curl", "jq"].some((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0)) {
    t.diagnostic("curl or jq missing: the commands were not run");
    return;
  }
  const sb = await startSandbox({ port: 0 });
  // Asynchronously: the sandbox answering curl runs in this process.
  const sh = (script, env) =>
    new Promise((resolve) => {
      execFile("bash", ["--noprofile", "--norc", "-e", "-c", script], { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
  try {
    const upCmd = curlRequest({ api: "userpilot", baseUrl: sb.url, path: "/api/v1/analytics/exports/", body: { from: "2024-01-01", to: "2024-01-02", format: "json" } });
    const r1 = await sh(upCmd, { USERPILOT_API_KEY: SANDBOX_CREDENTIALS.userpilot.apiKey });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(JSON.parse(r1.stdout).job_id, /^[0-9a-f-]{36}$/);
    const body = { start_date: "2024-01-01", end_date: "2024-01-02", activity_type: "all", output_format: "JSONLines", export_type: "delta" };
    const actCmd = curlRequest({ api: "backstory", baseUrl: sb.url, path: "/pull/v1/export/activities/jobs", body });
    const r2 = await sh(actCmd, { BACKSTORY_CLIENT_ID: SANDBOX_CREDENTIALS.backstory.clientId, BACKSTORY_CLIENT_SECRET: SANDBOX_CREDENTIALS.backstory.clientSecret });
    assert.equal(r2.code, 0, r2.stderr);
    const job = JSON.parse(r2.stdout);
    assert.deepEqual([job.start_date, job.end_date, job.activity_type, job.export_type], ["2024-01-01", "2024-01-02", "all", "delta"]);
  } finally {
    await sb.close();
  }
});

test("run errors in plain words: the vendor's words once, dates as dates", () => {
  assert.equal(
    vendorWords('authentication refused (HTTP 401): {"error":"invalid_client","error_description":"Client authentication failed"}'),
    "Client authentication failed",
  );
  assert.equal(vendorWords("authentication refused (HTTP 401): Invalid API key"), "Invalid API key");
  assert.equal(vendorWords("HTTP 502: bad gateway"), "bad gateway");
  assert.equal(vendorWords("network error: connection refused"), "connection refused");
  assert.equal(vendorWords("{not json"), "{not json");
  const since = Date.UTC(2024, 5, 1);
  const until = Date.UTC(2024, 4, 1);
  const local = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  assert.equal(datesInText(`(${since} > ${until})`), `(${local(since)} > ${local(until)})`);
  assert.equal(datesInText("page 12 of 345, id 98765432101"), "page 12 of 345, id 98765432101", "other numbers stay");
  const e = { field: "timeframe.since", message: `invalid \`timeframe.since\`: must not be after timeframe.until (${since} > ${until})` };
  assert.equal(invalidText(e), `timeframe.since: must not be after timeframe.until (${local(since)} > ${local(until)})`);
  assert.equal(invalidText({ field: "to", message: "invalid `to`: must not be before `from` (2024-02-09), got 2024-02-05" }), "to: must not be before `from` (2024-02-09), got 2024-02-05");
});

test("the panels' run controller: one run at a time, Cancel aborts it, the buttons follow, the last preview is released", async () => {
  // Buttons as the controller sees them (EventTargets with the two properties it sets); the
  // controller itself is the real module every panel uses.
  const button = (props) => Object.assign(new EventTarget(), { disabled: false, hidden: false, ...props });
  const runButton = button();
  const cancelButton = button({ disabled: true });
  const runs = createRunController({ runButton, cancelButton });
  let signal = null;
  const first = runs.run((s) => {
    signal = s;
    return new Promise((_, reject) => s.addEventListener("abort", () => reject(s.reason)));
  });
  assert.equal(runs.busy, true);
  assert.deepEqual([runButton.disabled, cancelButton.disabled], [true, false]);
  let second = false;
  assert.equal(await runs.run(async () => (second = true)), undefined, "a second run while one is on does nothing");
  assert.equal(second, false);
  cancelButton.dispatchEvent(new Event("click"));
  await assert.rejects(first, { name: "AbortError" });
  assert.equal(signal.aborted, true);
  assert.equal(runs.busy, false);
  assert.deepEqual([runButton.disabled, cancelButton.disabled], [false, true]);

  let destroyed = 0;
  runs.keep({ destroy: () => destroyed++ });
  assert.equal(await runs.run(async () => destroyed), 1, "the previous preview is released before the next run starts");
  assert.equal(await runs.run(async () => destroyed), 1, "and only once");

  const cancel2 = button({ hidden: true });
  const hiding = createRunController({ runButton: button(), cancelButton: cancel2, cancelHides: true });
  await hiding.run(async () => assert.equal(cancel2.hidden, false, "Cancel shows while a run is on"));
  assert.equal(cancel2.hidden, true, "and hides after");
});
