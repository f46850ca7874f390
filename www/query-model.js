// The query builder's state and its conversion to and from the Query API's wire JSON.
// Pure functions (no DOM), so that the form and the JSON editor can both be the source of truth.
//
// State:
//   { object, columns: [{ id, slug, period, customVariation }],
//     filter: Group, sort: [{ id, slug, direction }] }
//   Group = { id, kind: "group", join: "$and" | "$or", children: (Group | Cond)[] }
//   Cond  = { id, kind: "cond", slug, op, value /* the text the user typed */ }

export const OPERATORS = [
  ["$eq", "= equals"],
  ["$ne", "≠ not equal"],
  ["$gt", "> greater than"],
  ["$gte", "≥ at least"],
  ["$lt", "< less than"],
  ["$lte", "≤ at most"],
  ["$in", "in list"],
];
const OP_SET = new Set(OPERATORS.map(([op]) => op));

let seq = 0;
export const newId = () => `n${++seq}`;

export const newColumn = (slug = "", period = "") => ({ id: newId(), slug, period, customVariation: "" });
export const newCond = (slug = "", op = "$eq", value = "") => ({ id: newId(), kind: "cond", slug, op, value });
export const newGroup = (join = "$and", children = []) => ({ id: newId(), kind: "group", join, children });
export const newSort = (slug = "", direction = "asc") => ({ id: newId(), slug, direction });

/** The starting query for an object: a few of its known non-time-based slugs, no filter, no sort. */
export function defaultState(object, known = []) {
  const plain = known.filter((k) => !k.timeBased).slice(0, 3);
  const cols = plain.length ? plain.map((k) => newColumn(k.slug)) : [newColumn()];
  return { object, columns: cols, filter: newGroup("$and"), sort: [] };
}

// ---------------------------------------------------------------- values

const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Text typed into a value box -> JSON value: numbers as numbers, "quoted" as strings. */
export function parseScalar(text) {
  const t = String(text).trim();
  if (NUMBER_RE.test(t)) return Number(t);
  if (t === "true") return true;
  if (t === "false") return false;
  if (t === "null") return null;
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    try {
      return JSON.parse(t);
    } catch {
      return t.slice(1, -1);
    }
  }
  return t;
}

export function parseValue(op, text) {
  if (op === "$in") {
    return String(text)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map(parseScalar);
  }
  return parseScalar(text);
}

/** JSON value -> the text that parseValue turns back into the same value. */
export function formatValue(v) {
  if (Array.isArray(v)) return v.map(formatScalar).join(", ");
  return formatScalar(v);
}
function formatScalar(v) {
  if (typeof v === "string") {
    const t = v.trim();
    const ambiguous = t !== v || NUMBER_RE.test(t) || ["true", "false", "null"].includes(t) || v.includes(",") || v.startsWith('"');
    return ambiguous ? JSON.stringify(v) : v;
  }
  if (v === null) return "null";
  if (typeof v === "object") throw new Error("a filter value must be a number, a string or a list of them");
  return String(v);
}

// ---------------------------------------------------------------- to wire

function isEmptyGroup(g) {
  return g.children.every((c) => c.kind === "group" && isEmptyGroup(c));
}

/**
 * State -> { query, fields }. `fields` maps each wire path ("columns[1].variation_id",
 * "filter.$and[0].attribute.slug", ...) to the key of the form control that produced it, so that a
 * validation error naming a field can be shown beside that control.
 * A group with a single child is written as that child (same meaning, simpler JSON, as in the
 * vendor's example); empty groups are left out, and so is an empty filter.
 */
export function toWire(state, variation = defaultVariation) {
  const fields = [{ path: "object", key: "object" }, { path: "columns", key: "add-column" }];
  const columns = state.columns.map((c, i) => {
    const col = { slug: c.slug.trim() };
    fields.push({ path: `columns[${i}].slug`, key: `${c.id}:slug` });
    fields.push({ path: `columns[${i}]`, key: `${c.id}:slug` });
    const vid = columnVariation(c, variation);
    if (vid) {
      col.variation_id = vid;
      fields.push({ path: `columns[${i}].variation_id`, key: `${c.id}:period` });
    }
    return col;
  });
  const query = { object: state.object, columns };

  const emit = (node, path) => {
    if (node.kind === "cond") {
      fields.push({ path, key: `${node.id}:slug` });
      fields.push({ path: `${path}.attribute`, key: `${node.id}:slug` });
      fields.push({ path: `${path}.clause`, key: `${node.id}:op` });
      fields.push({ path: `${path}.clause.${node.op}`, key: `${node.id}:value` });
      return { attribute: { slug: node.slug.trim() }, clause: { [node.op]: parseValue(node.op, node.value) } };
    }
    const kids = node.children.filter((c) => !(c.kind === "group" && isEmptyGroup(c)));
    if (kids.length === 1) return emit(kids[0], path);
    fields.push({ path, key: `${node.id}:join` });
    return { [node.join]: kids.map((k, i) => emit(k, `${path}.${node.join}[${i}]`)) };
  };
  if (!isEmptyGroup(state.filter)) {
    fields.push({ path: "filter", key: `${state.filter.id}:join` });
    query.filter = emit(state.filter, "filter");
  }

  if (state.sort.length) {
    query.sort = state.sort.map((s, i) => {
      fields.push({ path: `sort[${i}]`, key: `${s.id}:slug` });
      fields.push({ path: `sort[${i}].attribute.slug`, key: `${s.id}:slug` });
      fields.push({ path: `sort[${i}].attribute`, key: `${s.id}:slug` });
      fields.push({ path: `sort[${i}].direction`, key: `${s.id}:direction` });
      return { attribute: { slug: s.slug.trim() }, direction: s.direction };
    });
  }
  return { query, fields };
}

function defaultVariation(slug, period) {
  return `${slug}_${period}`;
}

function columnVariation(c, variation) {
  if (c.period === "custom") return c.customVariation || undefined;
  if (!c.period) return undefined;
  const slug = c.slug.trim();
  if (!slug) return `_${c.period}`; // left for the validator to reject with a field name
  try {
    return variation(slug, c.period);
  } catch {
    return `${slug}_${c.period}`;
  }
}

// ---------------------------------------------------------------- from wire

/** Wire JSON (as typed in the editor) -> state. Throws an Error saying what it cannot show. */
export function fromWire(q, periods) {
  if (!q || typeof q !== "object" || Array.isArray(q)) throw new Error("the query must be a JSON object");
  const known = new Set(["object", "columns", "filter", "sort"]);
  for (const k of Object.keys(q)) if (!known.has(k)) throw new Error(`unknown key "${k}"`);
  if (typeof q.object !== "string") throw new Error('"object" must be a string');
  if (!Array.isArray(q.columns)) throw new Error('"columns" must be a list');
  const columns = q.columns.map((c, i) => {
    if (!c || typeof c !== "object" || typeof c.slug !== "string") throw new Error(`columns[${i}] needs a "slug" string`);
    const col = newColumn(c.slug);
    if (c.variation_id !== undefined) {
      if (typeof c.variation_id !== "string") throw new Error(`columns[${i}].variation_id must be a string`);
      const p = periods.find((p) => c.variation_id === `${c.slug}_${p}`);
      if (p) col.period = p;
      else {
        col.period = "custom";
        col.customVariation = c.variation_id;
      }
    }
    return col;
  });

  const node = (f, path) => {
    if (!f || typeof f !== "object" || Array.isArray(f)) throw new Error(`${path} must be an object`);
    const keys = Object.keys(f);
    if (keys.length === 1 && (keys[0] === "$and" || keys[0] === "$or")) {
      const list = f[keys[0]];
      if (!Array.isArray(list)) throw new Error(`${path}.${keys[0]} must be a list`);
      return newGroup(keys[0], list.map((x, i) => node(x, `${path}.${keys[0]}[${i}]`)));
    }
    if ("attribute" in f && "clause" in f && keys.length === 2) {
      const slug = f.attribute && f.attribute.slug;
      if (typeof slug !== "string") throw new Error(`${path}.attribute.slug must be a string`);
      const ck = f.clause && typeof f.clause === "object" ? Object.keys(f.clause) : [];
      if (ck.length !== 1) throw new Error(`${path}.clause must have exactly one operator`);
      if (!OP_SET.has(ck[0])) throw new Error(`${path}.clause: the form has no operator "${ck[0]}"`);
      return newCond(slug, ck[0], formatValue(f.clause[ck[0]]));
    }
    throw new Error(`${path} must be {"$and": [...]}, {"$or": [...]} or {"attribute": ..., "clause": ...}`);
  };
  let filter = newGroup("$and");
  if (q.filter !== undefined) {
    const n = node(q.filter, "filter");
    filter = n.kind === "group" ? n : newGroup("$and", [n]);
  }

  let sort = [];
  if (q.sort !== undefined) {
    if (!Array.isArray(q.sort)) throw new Error('"sort" must be a list');
    sort = q.sort.map((s, i) => {
      const slug = s && s.attribute && s.attribute.slug;
      if (typeof slug !== "string") throw new Error(`sort[${i}].attribute.slug must be a string`);
      if (s.direction !== "asc" && s.direction !== "desc") throw new Error(`sort[${i}].direction must be "asc" or "desc"`);
      return newSort(slug, s.direction);
    });
  }
  return { object: q.object, columns, filter, sort };
}

// ---------------------------------------------------------------- errors -> controls

const norm = (p) =>
  String(p)
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/[/]/g, ".")
    .replace(/\$/g, "")
    .replace(/^\.+/, "")
    .toLowerCase()
    .split(".")
    .filter(Boolean);

/** The form control key for an error's field path: the longest known path that prefixes it. */
export function keyForField(fields, field) {
  if (!field) return null;
  const want = norm(field);
  let best = null;
  let bestLen = -1;
  for (const f of fields) {
    const have = norm(f.path);
    if (have.length > want.length || have.length <= bestLen) continue;
    if (have.every((seg, i) => seg === want[i])) {
      best = f.key;
      bestLen = have.length;
    }
  }
  return best;
}

/** Walk the filter tree: find a node and its parent by id. */
export function findNode(group, id, parent = null) {
  if (group.id === id) return { node: group, parent };
  for (const c of group.children) {
    if (c.id === id) return { node: c, parent: group };
    if (c.kind === "group") {
      const r = findNode(c, id, group);
      if (r) return r;
    }
  }
  return null;
}

/** Every slug the query mentions (for "slugs you have used" autocomplete). */
export function slugsOf(state) {
  const out = new Set(state.columns.map((c) => c.slug.trim()));
  const walk = (g) => g.children.forEach((c) => (c.kind === "group" ? walk(c) : out.add(c.slug.trim())));
  walk(state.filter);
  state.sort.forEach((s) => out.add(s.slug.trim()));
  out.delete("");
  return [...out];
}

/**
 * JSON.stringify with two-space indentation, but objects and lists that fit in `width` characters
 * stay on one line: `{ "slug": "ootb_account_name" }` instead of three lines.
 */
export function prettyJson(value, width = 56) {
  // `used`: characters already on the line before this value (indentation and key).
  const fmt = (v, indent, used) => {
    const flat = oneLine(v);
    if (v === null || typeof v !== "object" || used + flat.length + 1 <= width) return flat;
    const inner = indent + "  ";
    if (Array.isArray(v)) {
      if (!v.length) return "[]";
      return `[\n${v.map((x) => inner + fmt(x, inner, inner.length)).join(",\n")}\n${indent}]`;
    }
    const keys = Object.keys(v);
    if (!keys.length) return "{}";
    return `{\n${keys
      .map((k) => {
        const head = `${inner}${JSON.stringify(k)}: `;
        return head + fmt(v[k], inner, head.length);
      })
      .join(",\n")}\n${indent}}`;
  };
  const oneLine = (v) => {
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(oneLine).join(", ")}]`;
    const keys = Object.keys(v);
    return keys.length ? `{ ${keys.map((k) => `${JSON.stringify(k)}: ${oneLine(v[k])}`).join(", ")} }` : "{}";
  };
  return fmt(value, "", 0);
}

/**
 * Where JSON text first goes wrong: `{ offset, reason }`, or null when it is valid. Engines word
 * JSON.parse errors differently and some give no position at all, so the page finds it itself.
 */
export function jsonSyntaxError(text) {
  let i = 0;
  const fail = (reason) => {
    throw { offset: i, reason };
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const what = () => (i >= text.length ? "the end of the text" : `“${text[i]}”`);
  const literal = (word) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${what()}`);
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') return void i++;
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail("a bad escape in a string");
      } else if (c < " ") fail(c === "\n" ? "a line break inside a string (a missing closing quote?)" : "a control character inside a string");
      else i++;
    }
    fail("a string without its closing quote");
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail(`unexpected ${what()}`);
    i += m[0].length;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    fail(i >= text.length ? "the text ends where a value should be" : `unexpected ${what()} where a value should be`);
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === "}") return void i++;
    for (;;) {
      ws();
      if (text[i] !== '"') fail(`expected a quoted property name, found ${what()}`);
      string();
      ws();
      if (text[i] !== ":") fail(`expected “:” after the property name, found ${what()}`);
      i++;
      value();
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") return void i++;
      fail(`expected “,” or “}”, found ${what()}`);
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === "]") return void i++;
    for (;;) {
      value();
      ws();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") return void i++;
      fail(`expected “,” or “]”, found ${what()}`);
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${what()} after the end of the JSON`);
    return null;
  } catch (e) {
    if (e && typeof e.offset === "number") return e;
    throw e;
  }
}

/**
 * Parses the JSON editor's text: `{ value }`, or `{ error: { message, line, column, text } }`
 * with a 1-based line and column of the first mistake.
 */
export function parseJsonText(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const found = jsonSyntaxError(text);
    if (!found) {
      const message = String(e && e.message ? e.message : e);
      return { error: { message, line: null, column: null, text: message } };
    }
    const lines = text.slice(0, found.offset).split("\n");
    const line = lines.length;
    const column = lines[lines.length - 1].length + 1;
    return { error: { message: found.reason, line, column, offset: found.offset, text: `line ${line}, column ${column}: ${found.reason}` } };
  }
}

/** The slugs of `state` (columns, filter, sort) that `known` (a Map or Set of slugs) lacks. */
export function unknownSlugs(state, known) {
  return slugsOf(state).filter((s) => !known.has(s));
}
