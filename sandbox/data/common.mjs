// What every vendor's generator shares: the name and text pools, ids, dates and fast JSON text.
// Each vendor's records are in its own module here (query, activities, forecasting, userpilot);
// sandbox/data.mjs re-exports them all. Every record is a pure function of (seed, kind, index).

import { hash32, Rng } from "../prng.mjs";

// ---------------------------------------------------------------------------------------------
// Pools. The awkward entries are deliberate: CSV and JSON clients must survive commas, quotes,
// CR/LF inside fields, multibyte UTF-8 (incl. 4-byte emoji), leading spaces and formula prefixes.

export const SPECIAL_COMPANIES = [
  "Acme, Inc.",
  'The "Best" Widgets Co',
  "Müller & Søn",
  "東京トレーディング株式会社",
  "Rocket 🚀 Labs",
  "Line\nBreak Ltd",
  "Carriage\r\nReturn LLC",
  'Café "Le Monde", SARL',
  "  Leading Spaces Corp",
  "Trailing Spaces Inc  ",
  '=HYPERLINK("http://example.com","click")',
  "+1 Telecom",
  "-Minus Holdings",
  "@Mention Media",
  "\tTabbed Start Ltd",
  "Ünïcödé GmbH",
  "Zürich Versicherungs-AG",
  "Đặng & Cộng sự",
  "שלום Technologies",
  "شركة المستقبل",
  "O'Reilly & Sons",
  "Ελληνική Εταιρεία Α.Ε.",
  '"',
  ",",
  '""',
  "Ends with quote\"",
  "👩‍💻 Family Emoji Co",
  "Łódź Software Sp. z o.o.",
];

const COMPANY_A = ["Blue", "Global", "North", "Quantum", "Silver", "Bright", "Pioneer", "Summit", "Vertex", "Harbor", "Cedar", "Orbit", "Nimbus", "Atlas", "Evergreen", "Iron", "Lumen", "Nova", "Prairie", "Red"];
const COMPANY_B = ["Systems", "Analytics", "Holdings", "Labs", "Dynamics", "Networks", "Logistics", "Health", "Energy", "Foods", "Robotics", "Finance", "Media", "Retail", "Software", "Partners"];
const COMPANY_SUFFIX = ["Inc.", ", Inc.", "LLC", "GmbH", "Ltd", "S.A.", "K.K.", "AB", "", "plc", ", LLC", "B.V."];

export const FIRST_NAMES = ["James", "Maria", "Zoë", "José", "Åsa", "Søren", "François", "Łukasz", "Ngọc", "Aiko", "Анна", "Mohammed", "Priya", "Chloé", "Jürgen", "Siobhán", 'Robert "Bob"', "Li", "Emma", "Noah", "Olivia", "Liam", "Sofía", "Mateo", "Yuki", "Ingrid", "Kwame", "Fatima", "Björn", "Amélie"];
const LAST_NAMES = ["Smith", "O'Brien", "Müller", "García", "Nguyễn", "Søndergaard", "Kowalski", "李", "佐藤", "Łukasiewicz", "van der Berg", "Johnson", "Okafor", "Dubois", "Rossi", "Fernández", "Kim", "Patel", "Ivanova", "Andersson", "Schmidt", "Brown, Jr.", "Williams", "Tanaka", "Costa"];
export const TITLES = ["Account Executive", "Senior Account Executive", "Sales Development Rep", "Regional Director", "VP, Sales", "Solutions Engineer", "Customer Success Manager", "Head of Sales — EMEA", "Chief Revenue Officer"];
export const TEAMS = ["Enterprise East", "Enterprise West", "Mid-Market", "SMB", "EMEA", "APAC", "LATAM", "Renewals"];
export const INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Education", "Energy", "Telecommunications", "Media & Entertainment", "Government"];
export const COUNTRIES = ["United States", "Germany", "Japan", "France", "Côte d'Ivoire", "Türkiye", "Brazil", "India", "United Kingdom", "España", "Sverige", "日本", "Česko"];
export const SUBJECTS = [
  "Quick question",
  "Re: Pricing, terms and next steps",
  'Follow-up on "Q3 plan"',
  "Intro call 📞",
  "Kick-off: Müller & Søn",
  "Agenda:\n1. Recap\n2. Demo",
  "見積もりについて",
  "Renewal — 2025",
  "",
  "=cmd|' /C calc'!A0",
  "Weekly sync",
  "Contract redlines (v3)",
  "Lunch? 🍕",
  "Re: Re: Fwd: security questionnaire",
];
export const DESCRIPTIONS = [
  "Key account.",
  'Customer said: "we need SSO, SCIM, and audit logs"',
  "Multi-line note:\r\nline two\r\nline three",
  "Expansion likely in H2; champion is the VP, Ops.",
  "Ünïcödé notes — naïve café façade 🚀",
  "",
  "@risk: budget freeze",
  "=1+1",
  "Contains a lone \"quote",
  "東京オフィスと大阪オフィス",
];

// Dates of generated Query API records live in a fixed window so truth never depends on today.
export const DATA_EPOCH_START = Date.UTC(2023, 0, 1);
export const DATA_EPOCH_END = Date.UTC(2025, 11, 31, 23, 59, 59);

export function isoMs(ms) {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

export function companyName(rng, i, allowSpecial = true) {
  if (allowSpecial && i % 23 === 5) return SPECIAL_COMPANIES[Math.floor(i / 23) % SPECIAL_COMPANIES.length];
  const sfx = rng.pick(COMPANY_SUFFIX);
  const base = `${rng.pick(COMPANY_A)} ${rng.pick(COMPANY_B)}`;
  if (sfx === "") return base;
  return sfx.startsWith(",") ? base + sfx : `${base} ${sfx}`;
}

export function personName(rng) {
  return `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
}

/** ASCII local part from a display name; empty results fall back to the index. */
export function emailFor(name, i, domain = "example.com") {
  const ascii = name
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ".")
    .replace(/^\.+|\.+$/g, "");
  return `${ascii || "user"}.${i}@${domain}`;
}

/** 18-character Salesforce-style id with a given 3-char key prefix. */
export function sfid(prefix, seed, tag, i) {
  const r = new Rng(hash32(seed, "sfid", tag, i));
  return prefix + r.chars(15);
}

export function dateBetween(rng, lo = DATA_EPOCH_START, hi = DATA_EPOCH_END) {
  // Whole seconds: CSV text and epoch-ms filters then agree without sub-second surprises.
  return Math.floor((lo + rng.float() * (hi - lo)) / 1000) * 1000;
}

export const POOLS = { FIRST_NAMES, LAST_NAMES, TITLES, TEAMS, SUBJECTS, DESCRIPTIONS, INDUSTRIES, COUNTRIES };

/** One day in milliseconds; the activity and event timelines count whole UTC days. */
export const DAY_MS = 86400000;

/** `yyyy-MM-dd` as whole days since the epoch (UTC), or null if it is not a real calendar date. */
export function parseDay(s) {
  if (typeof s !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
  const [y, m, d] = s.split("-").map(Number);
  const ms = Date.UTC(y, m - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) return null;
  return ms / DAY_MS;
}

/** A company's name as an e-mail domain (ASCII letters and digits), else one made from `fallback`. */
export function emailDomain(name, fallback) {
  const d = String(name ?? "")
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "")
    .slice(0, 20);
  return `${d || fallback.toLowerCase().slice(3, 11)}.example`;
}

/**
 * JSON text identical to JSON.stringify for plain data (strings, finite numbers, booleans, null,
 * arrays, objects); measured about twice as fast on the records here, which matters for jobs of
 * millions of lines.
 */
export function toJson(v) {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "boolean":
      return v ? "true" : "false";
  }
  if (Array.isArray(v)) {
    let s = "[";
    for (let i = 0; i < v.length; i++) {
      if (i) s += ",";
      s += toJson(v[i]);
    }
    return s + "]";
  }
  let s = "{";
  let first = true;
  for (const k in v) {
    if (v[k] === undefined) continue;
    if (!first) s += ",";
    first = false;
    s += JSON.stringify(k) + ":" + toJson(v[k]);
  }
  return s + "}";
}
