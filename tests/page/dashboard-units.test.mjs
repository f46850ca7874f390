// Unit tests (Node, no browser) of the dashboard's DOM-free pieces: the CSV writer and its
// injection guard, JSON Lines keys, the preview's sort and filter, the column chart's counts, the
// curl command's quoting (run through a real shell) and the share link's encoding.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startSandbox } from "../../sandbox/server.mjs";
import { readCsv, truthCsv } from "../js/helpers.mjs";
import { columnBars } from "../../www/charts.js";
import { csvParts, guardCell, isDangerous, jsonKeys, jsonlParts } from "../../www/csv-guard.js";
import { curlCommand, shellQuote } from "../../www/curl.js";
import { queryFromHash, shareLink } from "../../www/saved-queries.js";
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
