// Unit tests (Node, no browser) of the dashboard's query model: www/query-model.js turns the form's
// state into the Query API's wire JSON and back, and maps validation errors to form controls.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defaultState,
  formatValue,
  fromWire,
  keyForField,
  newColumn,
  newCond,
  newGroup,
  newSort,
  jsonSyntaxError,
  unknownSlugs,
  parseJsonText,
  parseValue,
  prettyJson,
  slugsOf,
  toWire,
} from "../../www/query-model.js";

const PERIODS = ["last_7_days", "last_30_days", "last_90_days", "current_quarter", "last_quarter"];

function sampleState() {
  return {
    object: "account",
    columns: [newColumn("ootb_account_name"), newColumn("ootb_account_count_emails", "last_30_days")],
    filter: newGroup("$and", [
      newCond("ootb_account_engagement_level", "$lte", "50"),
      newGroup("$or", [newCond("ootb_account_industry", "$in", "Retail, \"42\", Software"), newCond("ootb_account_country", "$eq", "India")]),
      newGroup("$and", []), // empty groups are left out
    ]),
    sort: [newSort("ootb_account_name", "desc")],
  };
}

test("toWire writes the vendor's JSON", () => {
  const { query } = toWire(sampleState(), (s, p) => `${s}_${p}`);
  assert.deepEqual(query, {
    object: "account",
    columns: [{ slug: "ootb_account_name" }, { slug: "ootb_account_count_emails", variation_id: "ootb_account_count_emails_last_30_days" }],
    filter: {
      $and: [
        { attribute: { slug: "ootb_account_engagement_level" }, clause: { $lte: 50 } },
        {
          $or: [
            { attribute: { slug: "ootb_account_industry" }, clause: { $in: ["Retail", "42", "Software"] } },
            { attribute: { slug: "ootb_account_country" }, clause: { $eq: "India" } },
          ],
        },
      ],
    },
    sort: [{ attribute: { slug: "ootb_account_name" }, direction: "desc" }],
  });
});

test("a single condition is written bare, an empty filter and sort are left out", () => {
  const one = { object: "user", columns: [newColumn("ootb_user")], filter: newGroup("$or", [newCond("ootb_user_team", "$eq", "EMEA")]), sort: [] };
  assert.deepEqual(toWire(one).query, {
    object: "user",
    columns: [{ slug: "ootb_user" }],
    filter: { attribute: { slug: "ootb_user_team" }, clause: { $eq: "EMEA" } },
  });
  const none = { object: "user", columns: [newColumn("ootb_user")], filter: newGroup("$and", [newGroup("$or", [])]), sort: [] };
  assert.deepEqual(toWire(none).query, { object: "user", columns: [{ slug: "ootb_user" }] });
});

test("fromWire(toWire(x)) gives back the same JSON", () => {
  const { query } = toWire(sampleState());
  const again = toWire(fromWire(structuredClone(query), PERIODS)).query;
  assert.deepEqual(again, query);
  // A variation that is not one of the periods survives as a custom one.
  const custom = { object: "account", columns: [{ slug: "m", variation_id: "m_last_year" }] };
  assert.deepEqual(toWire(fromWire(custom, PERIODS)).query, custom);
});

test("fromWire refuses what the form cannot show, saying where", () => {
  assert.throws(() => fromWire([], PERIODS), /JSON object/);
  assert.throws(() => fromWire({ object: "account", columns: [], extra: 1 }, PERIODS), /unknown key "extra"/);
  assert.throws(() => fromWire({ object: "account", columns: [{}] }, PERIODS), /columns\[0\]/);
  assert.throws(
    () => fromWire({ object: "account", columns: [], filter: { attribute: { slug: "a" }, clause: { $within: 1 } } }, PERIODS),
    /no operator "\$within"/,
  );
  assert.throws(() => fromWire({ object: "account", columns: [], sort: [{ attribute: { slug: "a" }, direction: "up" }] }, PERIODS), /sort\[0\]\.direction/);
});

test("values: numbers as numbers, quoted text as text, lists for $in", () => {
  assert.equal(parseValue("$lte", " 50 "), 50);
  assert.equal(parseValue("$eq", "-1.5e3"), -1500);
  assert.equal(parseValue("$eq", '"50"'), "50");
  assert.equal(parseValue("$eq", "Acme"), "Acme");
  assert.equal(parseValue("$eq", "true"), true);
  assert.deepEqual(parseValue("$in", "1, two,, 3"), [1, "two", 3]);
  for (const v of [50, "50", "Acme", " padded ", true, null, "a,b", ["x", 2, "3"]]) {
    const op = Array.isArray(v) ? "$in" : "$eq";
    assert.deepEqual(parseValue(op, formatValue(v)), v, `round trip of ${JSON.stringify(v)}`);
  }
});

test("a validation error's field finds its form control", () => {
  const state = sampleState();
  const { fields } = toWire(state);
  const [c0, c1] = state.columns;
  const cond = state.filter.children[0];
  const inner = state.filter.children[1].children[1];
  assert.equal(keyForField(fields, "columns[0].slug"), `${c0.id}:slug`);
  assert.equal(keyForField(fields, "columns[1].variation_id"), `${c1.id}:period`);
  assert.equal(keyForField(fields, "filter.$and[0].clause.$lte"), `${cond.id}:value`);
  assert.equal(keyForField(fields, "filter.$and[1].$or[1].attribute.slug"), `${inner.id}:slug`);
  assert.equal(keyForField(fields, "filter/and/1/or/1/attribute/slug"), `${inner.id}:slug`, "other path spellings");
  assert.equal(keyForField(fields, "sort[0].direction"), `${state.sort[0].id}:direction`);
  assert.equal(keyForField(fields, "object"), "object");
  assert.equal(keyForField(fields, "columns"), "add-column");
  assert.equal(keyForField(fields, ""), null);
});

test("prettyJson keeps small objects on one line and stays valid JSON", () => {
  const { query } = toWire(sampleState());
  const text = prettyJson(query);
  assert.deepEqual(JSON.parse(text), query);
  assert.match(text, /\{ "slug": "ootb_account_name" \}/);
  for (const line of text.split("\n")) if (line.includes("{ ")) assert.ok(line.length <= 56, `short enough: ${line}`);
});

test("defaultState and slugsOf", () => {
  const known = [
    { slug: "a", timeBased: false },
    { slug: "m", timeBased: true },
    { slug: "b", timeBased: false },
  ];
  assert.deepEqual(
    defaultState("account", known).columns.map((c) => c.slug),
    ["a", "b"],
  );
  assert.deepEqual(defaultState("account", []).columns.map((c) => c.slug), [""]);
  assert.deepEqual(slugsOf(sampleState()).sort(), [
    "ootb_account_count_emails",
    "ootb_account_country",
    "ootb_account_engagement_level",
    "ootb_account_industry",
    "ootb_account_name",
  ]);
});

test("the editor's JSON: the first mistake with its line and column, whatever the engine's wording", () => {
  const cases = [
    ['{\n  "object": "account"\n  "columns": []\n}', 3, 3, /expected “,” or “}”/],
    ['{"a":', 1, 6, /ends where a value should be/],
    ["[1,,2]", 1, 4, /unexpected “,” where a value should be/],
    ['{"a": "x\n"}', 1, 9, /line break inside a string/],
    ['{"a":1,}', 1, 8, /quoted property name/],
    ["[1] x", 1, 5, /after the end of the JSON/],
    ["", 1, 1, /ends where a value should be/],
    ['"\\q"', 1, 2, /bad escape/],
  ];
  for (const [text, line, column, re] of cases) {
    const { error } = parseJsonText(text);
    assert.ok(error, `${JSON.stringify(text)} is refused`);
    assert.deepEqual([error.line, error.column], [line, column], JSON.stringify(text));
    assert.match(error.text, re);
    assert.match(error.text, new RegExp(`^line ${line}, column ${column}: `));
  }
  // Everything JSON.parse takes, the scanner takes too (else a good query would be blocked).
  for (const text of ['{"a": [1, {"b": null}], "c": -1.5e3, "d": "\\u00e9\\n", "e": true, "f": false}', " 0 ", '"\\/"', "[]", "{}"]) {
    assert.equal(jsonSyntaxError(text), null, text);
    assert.deepEqual(parseJsonText(text).value, JSON.parse(text));
  }
});

test("unknownSlugs: the columns', filters' and sorts' slugs missing from what the page knows", () => {
  const state = fromWire(
    {
      object: "account",
      columns: [{ slug: "ootb_account_name" }, { slug: "typo_slug" }],
      filter: { attribute: { slug: "filter_only" }, clause: { $eq: 1 } },
      sort: [{ attribute: { slug: "ootb_account_name" }, direction: "asc" }],
    },
    ["last_7_days"],
  );
  assert.deepEqual(unknownSlugs(state, new Set(["ootb_account_name"])), ["typo_slug", "filter_only"]);
  assert.deepEqual(unknownSlugs(state, new Map([["ootb_account_name", {}], ["typo_slug", {}], ["filter_only", {}]])), []);
});
