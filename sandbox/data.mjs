// Seeded generators for every record the sandbox serves. Each record is a pure function of
// (seed, kind, index): objects for the Query API are built once per sandbox and cached (a few
// thousand rows), raw activities and Userpilot events are built on demand by index so that a job
// of millions of records never has to exist in memory at once.

import { rngFor, Rng, hash32 } from "./prng.mjs";

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

const FIRST_NAMES = ["James", "Maria", "Zoë", "José", "Åsa", "Søren", "François", "Łukasz", "Ngọc", "Aiko", "Анна", "Mohammed", "Priya", "Chloé", "Jürgen", "Siobhán", 'Robert "Bob"', "Li", "Emma", "Noah", "Olivia", "Liam", "Sofía", "Mateo", "Yuki", "Ingrid", "Kwame", "Fatima", "Björn", "Amélie"];
const LAST_NAMES = ["Smith", "O'Brien", "Müller", "García", "Nguyễn", "Søndergaard", "Kowalski", "李", "佐藤", "Łukasiewicz", "van der Berg", "Johnson", "Okafor", "Dubois", "Rossi", "Fernández", "Kim", "Patel", "Ivanova", "Andersson", "Schmidt", "Brown, Jr.", "Williams", "Tanaka", "Costa"];
const TITLES = ["Account Executive", "Senior Account Executive", "Sales Development Rep", "Regional Director", "VP, Sales", "Solutions Engineer", "Customer Success Manager", "Head of Sales — EMEA", "Chief Revenue Officer"];
const TEAMS = ["Enterprise East", "Enterprise West", "Mid-Market", "SMB", "EMEA", "APAC", "LATAM", "Renewals"];
const INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Education", "Energy", "Telecommunications", "Media & Entertainment", "Government"];
const COUNTRIES = ["United States", "Germany", "Japan", "France", "Côte d'Ivoire", "Türkiye", "Brazil", "India", "United Kingdom", "España", "Sverige", "日本", "Česko"];
const STAGES = ["Prospecting", "Qualification", "Discovery", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"];
const OPP_TYPES = ["New Business", "Renewal", "Expansion", "Upsell"];
const CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"];
const SUBJECTS = [
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
const DESCRIPTIONS = [
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

function companyName(rng, i, allowSpecial = true) {
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

function dateBetween(rng, lo = DATA_EPOCH_START, hi = DATA_EPOCH_END) {
  // Whole seconds: CSV text and epoch-ms filters then agree without sub-second surprises.
  return Math.floor((lo + rng.float() * (hi - lo)) / 1000) * 1000;
}

// ---------------------------------------------------------------------------------------------
// The Query API catalog. Column kinds: plain; time-based (a value per supported period, exposed
// as `{slug}_{period}`); expanding (one requested slug, two CSV columns).

export const PERIODS = ["last_7_days", "last_30_days", "last_90_days", "current_quarter", "last_quarter"];
export const DEFAULT_PERIOD = "last_7_days";
const P_ALL = PERIODS;
const P_ROLLING = ["last_7_days", "last_30_days", "last_90_days"];
const P_QUARTERS = ["current_quarter", "last_quarter"];
const P_NO_WEEK = ["last_30_days", "last_90_days", "current_quarter", "last_quarter"];

const PERIOD_LABELS = {
  last_7_days: "Last 7 Days",
  last_30_days: "Last 30 Days",
  last_90_days: "Last 90 Days",
  current_quarter: "Current Quarter",
  last_quarter: "Last Quarter",
};

function plain(slug, label, type, opts = {}) {
  return { slug, label, type, filterable: opts.filterable !== false, timeBased: false };
}
function metric(slug, label, periods, opts = {}) {
  return { slug, label, type: "number", filterable: true, timeBased: true, periods, rate: opts.rate ?? 1, decimals: opts.decimals ?? 0 };
}
function expanding(slug, label, subs, opts = {}) {
  // baseKey: what the unexpanded slug means in filter and sort; filterable=false means a filter on
  // the bare slug is silently ignored, as observed in public use.
  return { slug, label, type: subs[0].type, filterable: opts.filterable ?? false, baseKey: opts.baseKey ?? subs[subs.length - 1].slug, timeBased: false, expandsTo: subs };
}

export const CATALOG = {
  account: [
    plain("ootb_account_crm_id", "Account CRM ID", "string"),
    plain("ootb_account_name", "Account Name", "string"),
    plain("ootb_account_engagement_level", "Engagement Level", "number"),
    expanding("ootb_account_owner", "Account Owner", [
      { slug: "ootb_account_owner_id", label: "Account Owner ID", type: "string" },
      { slug: "ootb_account_owner_name", label: "Account Owner Name", type: "string" },
    ]),
    plain("ootb_account_industry", "Industry", "string"),
    plain("ootb_account_country", "Billing Country", "string"),
    plain("ootb_account_annual_revenue", "Annual Revenue", "number"),
    plain("ootb_account_employee_count", "Employees", "number"),
    plain("ootb_account_created_date", "Created Date", "date"),
    plain("ootb_account_last_engaged_date", "Last Engaged Date", "date"),
    plain("ootb_account_description", "Description", "string", { filterable: false }),
    metric("ootb_account_count_emails", "Emails", P_ALL, { rate: 6 }),
    metric("ootb_account_count_meetings", "Meetings", P_ALL, { rate: 0.8 }),
    metric("ootb_account_count_calls", "Calls", P_ROLLING, { rate: 1.5 }),
    metric("ootb_account_engaged_people", "Engaged People", P_QUARTERS, { rate: 0.3 }),
  ],
  opportunity: [
    plain("ootb_opportunity_crm_id", "Opportunity CRM ID", "string"),
    plain("ootb_opportunity_name", "Opportunity Name", "string"),
    expanding("ootb_opportunity_account", "Account", [
      { slug: "ootb_opportunity_account_id", label: "Account ID", type: "string" },
      { slug: "ootb_opportunity_account_name", label: "Account Name", type: "string" },
    ]),
    expanding("ootb_opportunity_owner", "Opportunity Owner", [
      { slug: "ootb_opportunity_owner_id", label: "Opportunity Owner ID", type: "string" },
      { slug: "ootb_opportunity_owner_name", label: "Opportunity Owner Name", type: "string" },
    ]),
    expanding(
      "ootb_opportunity_amount",
      "Amount",
      [
        { slug: "ootb_opportunity_amount", label: "Amount", type: "number" },
        { slug: "ootb_opportunity_amount_currency", label: "Amount Currency", type: "string" },
      ],
      { filterable: true, baseKey: "ootb_opportunity_amount" },
    ),
    plain("ootb_opportunity_stage", "Stage", "string"),
    plain("ootb_opportunity_type", "Opportunity Type", "string"),
    plain("ootb_opportunity_probability", "Probability (%)", "number"),
    plain("ootb_opportunity_engagement_level", "Engagement Level", "number"),
    plain("ootb_opportunity_close_date", "Close Date", "date"),
    plain("ootb_opportunity_created_date", "Created Date", "date"),
    plain("ootb_opportunity_next_step", "Next Step", "string", { filterable: false }),
    metric("ootb_opportunity_count_emails", "Emails", P_ALL, { rate: 3 }),
    metric("ootb_opportunity_count_meetings", "Meetings", P_ALL, { rate: 0.5 }),
    metric("ootb_opportunity_people_engaged", "People Engaged", ["last_30_days", "last_90_days"], { rate: 0.2 }),
  ],
  user: [
    plain("ootb_user", "User", "string"),
    plain("ootb_user_crm_id", "User CRM ID", "string"),
    plain("ootb_user_email", "Email", "string"),
    plain("ootb_user_title", "Title", "string"),
    plain("ootb_user_team", "Team", "string"),
    expanding("ootb_user_manager", "Manager", [
      { slug: "ootb_user_manager_id", label: "Manager ID", type: "string" },
      { slug: "ootb_user_manager_name", label: "Manager Name", type: "string" },
    ]),
    plain("ootb_user_is_active", "Active", "string"),
    plain("ootb_user_created_date", "Created Date", "date"),
    metric("ootb_user_external_meetings_matched", "External Meetings", P_ALL, { rate: 1.2 }),
    metric("ootb_user_count_emails_sent", "Emails Sent", P_ALL, { rate: 25 }),
    metric("ootb_user_count_emails_received", "Emails Received", P_ROLLING, { rate: 30 }),
    metric("ootb_user_count_calls", "Calls", P_ALL, { rate: 4 }),
    metric("ootb_user_hours_in_meetings", "Hours in Meetings", P_NO_WEEK, { rate: 1.7, decimals: 1 }),
  ],
  activity: [
    plain("ootb_activity_id", "Activity ID", "string"),
    plain("ootb_activity_type", "Activity Type", "string"),
    plain("ootb_activity_subject", "Subject", "string"),
    plain("ootb_activity_direction", "Direction", "string"),
    plain("ootb_activity_timestamp", "Activity Date", "date"),
    plain("ootb_activity_duration", "Duration (s)", "number"),
    expanding("ootb_activity_account", "Account", [
      { slug: "ootb_activity_account_id", label: "Account ID", type: "string" },
      { slug: "ootb_activity_account_name", label: "Account Name", type: "string" },
    ]),
    expanding("ootb_activity_user", "User", [
      { slug: "ootb_activity_user_id", label: "User ID", type: "string" },
      { slug: "ootb_activity_user_name", label: "User Name", type: "string" },
    ]),
  ],
};

export const OBJECTS = Object.keys(CATALOG);

export function periodLabel(period) {
  return PERIOD_LABELS[period];
}

/** The public description of the catalog (truth endpoint and dashboard autocomplete). */
export function describeCatalog(object) {
  return CATALOG[object].map((c) => {
    const out = { slug: c.slug, label: c.label, type: c.type, timeBased: c.timeBased, filterable: c.filterable };
    if (c.timeBased) {
      out.periods = c.periods.slice();
      out.variations = c.periods.map((p) => ({ variation_id: `${c.slug}_${p}`, period: p, label: `${c.label} (${PERIOD_LABELS[p]})` }));
      out.defaultVariation = c.periods.includes(DEFAULT_PERIOD) ? `${c.slug}_${DEFAULT_PERIOD}` : null;
    }
    if (c.expandsTo) out.expandsTo = c.expandsTo.map((s) => s.slug);
    return out;
  });
}

function metricValues(rng, def) {
  // All five periods are always drawn so a metric's values do not depend on which it supports.
  const daily = rng.float() * def.rate;
  const noise = () => 0.6 + rng.float() * 0.8;
  const round = (v) => (def.decimals ? Math.round(v * 10 ** def.decimals) / 10 ** def.decimals : Math.round(v));
  const v7 = daily * 7 * noise();
  const v30 = v7 + daily * 23 * noise();
  const v90 = v30 + daily * 60 * noise();
  const vals = {
    last_7_days: round(v7),
    last_30_days: round(v30),
    last_90_days: round(v90),
    current_quarter: round(daily * (20 + rng.float() * 70) * noise()),
    last_quarter: round(daily * 91 * noise()),
  };
  return vals;
}

function putMetrics(rec, rng, object) {
  for (const def of CATALOG[object]) {
    if (!def.timeBased) continue;
    const vals = metricValues(rng, def);
    for (const p of def.periods) rec[`${def.slug}_${p}`] = vals[p];
  }
}

// ---------------------------------------------------------------------------------------------
// Query API objects. Dates are stored as epoch ms (filters compare in ms) and rendered as ISO-8601.

function genUsers(seed, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = rngFor(seed, "user", i);
    const name = i % 31 === 7 ? `${SPECIAL_COMPANIES[(i / 31) % SPECIAL_COMPANIES.length | 0].trim() || "X"} Bot` : personName(r);
    const rec = {
      ootb_user: name,
      ootb_user_crm_id: sfid("005", seed, "user", i),
      ootb_user_email: emailFor(name, i, "sandbox.example"),
      ootb_user_title: r.pick(TITLES),
      ootb_user_team: r.pick(TEAMS),
      ootb_user_manager_id: null,
      ootb_user_manager_name: null,
      ootb_user_is_active: r.chance(0.9) ? "Yes" : "No",
      ootb_user_created_date: dateBetween(r),
    };
    if (i > 0) {
      // Managers come from the first tenth of users so there is a real, shallow reporting tree.
      const m = r.int(0, Math.min(i - 1, Math.max(0, Math.floor(n / 10) - 1)));
      {
        rec.ootb_user_manager_id = out[m].ootb_user_crm_id;
        rec.ootb_user_manager_name = out[m].ootb_user;
      }
    }
    putMetrics(rec, r, "user");
    out.push(rec);
  }
  return out;
}

function genAccounts(seed, n, users) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = rngFor(seed, "account", i);
    const owner = users.length ? users[r.int(0, users.length - 1)] : null;
    const created = dateBetween(r);
    const rec = {
      ootb_account_crm_id: sfid("001", seed, "account", i),
      ootb_account_name: i % 97 === 13 ? null : companyName(r, i),
      ootb_account_engagement_level: r.chance(0.03) ? null : r.int(0, 100),
      ootb_account_owner_id: owner ? owner.ootb_user_crm_id : null,
      ootb_account_owner_name: owner ? owner.ootb_user : null,
      ootb_account_industry: r.pick(INDUSTRIES),
      ootb_account_country: r.pick(COUNTRIES),
      ootb_account_annual_revenue: r.chance(0.05) ? null : Math.round(r.float() * 5e8) / 100,
      ootb_account_employee_count: r.int(1, 250000),
      ootb_account_created_date: created,
      ootb_account_last_engaged_date: r.chance(0.1) ? null : dateBetween(r, created),
      ootb_account_description: r.pick(DESCRIPTIONS) || null,
    };
    putMetrics(rec, r, "account");
    out.push(rec);
  }
  return out;
}

function genOpportunities(seed, n, accounts, users) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = rngFor(seed, "opportunity", i);
    const acct = accounts.length ? accounts[r.int(0, accounts.length - 1)] : null;
    const owner = users.length ? users[r.int(0, users.length - 1)] : null;
    const created = dateBetween(r);
    const stage = r.pick(STAGES);
    const type = r.pick(OPP_TYPES);
    const acctName = acct ? acct.ootb_account_name : null;
    const rec = {
      ootb_opportunity_crm_id: sfid("006", seed, "opportunity", i),
      ootb_opportunity_name: `${acctName ?? "Unnamed"} — ${type}${r.chance(0.2) ? ", FY" + r.int(2023, 2026) : ""}`,
      ootb_opportunity_account_id: acct ? acct.ootb_account_crm_id : null,
      ootb_opportunity_account_name: acctName,
      ootb_opportunity_owner_id: owner ? owner.ootb_user_crm_id : null,
      ootb_opportunity_owner_name: owner ? owner.ootb_user : null,
      ootb_opportunity_amount: r.chance(0.04) ? null : Math.round(r.float() * 50000000) / 100,
      ootb_opportunity_amount_currency: r.pick(CURRENCIES),
      ootb_opportunity_stage: stage,
      ootb_opportunity_type: type,
      ootb_opportunity_probability: stage === "Closed Won" ? 100 : stage === "Closed Lost" ? 0 : r.int(5, 95),
      ootb_opportunity_engagement_level: r.int(0, 100),
      ootb_opportunity_close_date: dateBetween(r, created),
      ootb_opportunity_created_date: created,
      ootb_opportunity_next_step: r.pick(DESCRIPTIONS) || null,
    };
    putMetrics(rec, r, "opportunity");
    out.push(rec);
  }
  return out;
}

function genQueryActivities(seed, n, accounts, users) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = rngFor(seed, "qactivity", i);
    const type = r.pick(["email", "meeting", "call"]);
    const acct = accounts.length ? accounts[r.int(0, accounts.length - 1)] : null;
    const user = users.length ? users[r.int(0, users.length - 1)] : null;
    out.push({
      ootb_activity_id: `act_${hash32(seed, "qact-id", i).toString(16).padStart(8, "0")}${i.toString(16)}`,
      ootb_activity_type: type,
      ootb_activity_subject: r.pick(SUBJECTS) || null,
      ootb_activity_direction: r.pick(["inbound", "outbound"]),
      ootb_activity_timestamp: dateBetween(r),
      ootb_activity_duration: type === "email" ? null : r.int(60, 5400),
      ootb_activity_account_id: acct ? acct.ootb_account_crm_id : null,
      ootb_activity_account_name: acct ? acct.ootb_account_name : null,
      ootb_activity_user_id: user ? user.ootb_user_crm_id : null,
      ootb_activity_user_name: user ? user.ootb_user : null,
    });
  }
  return out;
}

/**
 * Lazily built, cached Query API records for one configuration. Generation is deferred to first use
 * so several sandboxes start in milliseconds.
 */
export class QueryData {
  constructor({ seed, accounts, opportunities, users, activityRecords }) {
    this.opts = { seed, accounts, opportunities, users, activityRecords };
    this.cache = new Map();
  }
  records(object) {
    if (this.cache.has(object)) return this.cache.get(object);
    const { seed } = this.opts;
    let recs;
    if (object === "user") recs = genUsers(seed, this.opts.users);
    else if (object === "account") recs = genAccounts(seed, this.opts.accounts, this.records("user"));
    else if (object === "opportunity") recs = genOpportunities(seed, this.opts.opportunities, this.records("account"), this.records("user"));
    else if (object === "activity") recs = genQueryActivities(seed, this.opts.activityRecords, this.records("account"), this.records("user"));
    else throw new Error(`unknown object ${object}`);
    this.cache.set(object, recs);
    return recs;
  }
  /** Records as JSON for the truth endpoint: dates as the ISO text the CSV carries. */
  truth(object) {
    const dateKeys = [];
    for (const c of CATALOG[object]) {
      if (c.type === "date" && !c.expandsTo) dateKeys.push(c.slug);
    }
    return this.records(object).map((r) => {
      const o = { ...r };
      for (const k of dateKeys) o[k] = isoMs(o[k]);
      return o;
    });
  }
}

export const POOLS = { FIRST_NAMES, LAST_NAMES, TITLES, TEAMS, SUBJECTS, DESCRIPTIONS, INDUSTRIES, COUNTRIES };
export { companyName, dateBetween };

// ---------------------------------------------------------------------------------------------
// Raw activities (Raw Activity Data API). A timeline with `perYear` activities per 365 days: day d
// (days since 1970-01-01 UTC) holds the global indices [dayStart(d), dayStart(d + 1)). A date range
// is therefore one contiguous index range and record i can be built alone, so a job of a million
// records is generated as it is written and never held in memory.

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
const ACTIVITY_TYPES_WEIGHTED = ["email", "email", "email", "email", "email", "email", "meeting", "meeting", "meeting", "call", "call"];
const CAMPAIGNS = ["Q1 Webinar Series", "Spring Launch — EMEA", 'Partner "Summit" 2025', "Reactivation, Tier 2", "ABM: 東京", "Renewal Push 🚀"];
const PART_STATUS = ["accepted", "declined", "tentative", "needs_action"];
const CRM_STATUS = ["matched", "matched", "matched", "unmatched", "pending"];

export class ActivityTimeline {
  constructor({ seed, perYear, queryData }) {
    this.seed = seed;
    this.perYear = Math.max(1, Math.floor(perYear));
    this.queryData = queryData;
    // Per-entity parts are cached: a record is then mostly draws and one JSON.stringify.
    this.userParts = new Map();
    this.contactParts = new Map();
    this.domains = new Map();
    this.campaigns = CAMPAIGNS.map((name, c) => ({ id: sfid("701", seed, "campaign", c), name }));
  }
  dayStart(day) {
    return Math.floor((day * this.perYear) / 365);
  }
  dayOf(index) {
    return Math.floor(((index + 1) * 365 - 1) / this.perYear);
  }
  /** Index range [lo, hi) of the UTC days [startDay, endDay] inclusive. */
  range(startDay, endDay) {
    return [this.dayStart(startDay), this.dayStart(endDay + 1)];
  }
  typeOf(index) {
    return ACTIVITY_TYPES_WEIGHTED[hash32(this.seed, "raw-type", index) % ACTIVITY_TYPES_WEIGHTED.length];
  }
  matches(index, activityType) {
    return activityType === "all" || this.typeOf(index) === activityType;
  }
  record(index) {
    const seed = this.seed;
    const r = rngFor(seed, "raw-activity", index);
    const type = this.typeOf(index);
    const day = this.dayOf(index);
    const d0 = this.dayStart(day);
    const count = this.dayStart(day + 1) - d0;
    const pos = index - d0;
    // Monotonic within the day, so index order is time order.
    const timestamp = day * DAY_MS + Math.floor(((pos + r.float() * 0.999) * DAY_MS) / count);
    const ingest = Math.min(timestamp + r.int(30, 3600) * 1000, day * DAY_MS + DAY_MS - 1);
    const users = this.queryData.records("user");
    const accounts = this.queryData.records("account");
    const owner = users[r.int(0, users.length - 1)];
    const accountIdx = accounts.length ? r.int(0, accounts.length - 1) : -1;
    const account = accountIdx >= 0 ? accounts[accountIdx] : null;
    let domain = "example.org";
    if (account) {
      domain = this.domains.get(account.ootb_account_crm_id);
      if (domain === undefined) {
        domain = emailDomain(account.ootb_account_name, account.ootb_account_crm_id);
        this.domains.set(account.ootb_account_crm_id, domain);
      }
    }
    const nExternal = type === "call" ? 1 : r.int(1, 4);
    const nInternal = type === "call" ? 0 : r.int(0, 2);
    const direction = type === "meeting" ? r.pick(["outbound", "inbound", "internal"]) : r.pick(["outbound", "inbound"]);
    const participants = [];
    const ownerRole = type === "email" ? (direction === "inbound" ? "to" : "sender") : type === "meeting" ? "organizer" : direction === "inbound" ? "callee" : "caller";
    participants.push(this.internal(owner, ownerRole, type, r));
    for (let k = 0; k < nInternal; k++) {
      participants.push(this.internal(users[r.int(0, users.length - 1)], type === "email" ? "cc" : "attendee", type, r));
    }
    for (let k = 0; k < nExternal; k++) {
      const role = type === "email" ? (direction === "inbound" && k === 0 ? "sender" : k === 0 ? "to" : "cc") : type === "meeting" ? "attendee" : direction === "inbound" ? "caller" : "callee";
      participants.push(this.external(r, accountIdx, domain, role, type));
    }
    const timed = type !== "email";
    const duration = timed ? (type === "meeting" ? r.pick([900, 1800, 2700, 3600, 5400]) : r.int(20, 2400)) : null;
    const nCampaigns = r.chance(0.7) ? 0 : r.int(1, 2);
    const campaigns = [];
    for (let k = 0; k < nCampaigns; k++) {
      campaigns.push(this.campaigns[r.int(0, CAMPAIGNS.length - 1)]);
    }
    const crm = r.pick(CRM_STATUS);
    const stats =
      type === "email"
        ? { participants_count: participants.length, internal_participants: nInternal + 1, external_participants: nExternal, attachments_count: r.int(0, 3), reply_count: r.int(0, 5), words: r.int(5, 900) }
        : type === "meeting"
          ? { participants_count: participants.length, internal_participants: nInternal + 1, external_participants: nExternal, accepted_count: participants.filter((p) => p.status === "accepted").length, is_recurring: r.chance(0.3) }
          : { participants_count: participants.length, internal_participants: 1, external_participants: 1, talk_ratio: Math.round(r.float() * 100) / 100, recorded: r.chance(0.5) };
    const uid = hash32(seed, "uid-a", index).toString(16).padStart(8, "0") + hash32(seed, "uid-b", index).toString(16).padStart(8, "0") + index.toString(16).padStart(8, "0");
    return {
      uid,
      source_id: type === "email" ? `<${uid.slice(0, 12)}.${index}@mail.${domain}>` : type === "meeting" ? `evt_${uid.slice(4, 24)}` : `call-${uid.slice(8, 28)}`,
      type,
      created: new Date(ingest).toISOString().replace(/\.\d{3}Z$/, "Z"),
      subject: r.pick(SUBJECTS),
      direction,
      timestamp,
      ingest_timestamp: ingest,
      start_time: timed ? timestamp : null,
      end_time: timed ? timestamp + duration * 1000 : null,
      duration,
      stats,
      campaigns,
      crm_status: {
        status: crm,
        account_id: crm === "matched" && account ? account.ootb_account_crm_id : null,
        opportunity_id: crm === "matched" && r.chance(0.5) ? sfid("006", seed, "raw-opp", r.int(0, 99999)) : null,
        synced: crm === "matched",
        synced_at: crm === "matched" ? ingest + r.int(1, 600) * 1000 : null,
      },
      participants,
    };
  }
  line(index) {
    return toJson(this.record(index)) + "\n";
  }
  internal(user, role, type, r) {
    let base = this.userParts.get(user.ootb_user_crm_id);
    if (!base) {
      base = {
        peopleai_id: `pai_u_${user.ootb_user_crm_id.slice(3)}`,
        crm_id: user.ootb_user_crm_id,
        name: user.ootb_user,
        title: user.ootb_user_title,
        email: user.ootb_user_email,
        team: { name: user.ootb_user_team },
      };
      this.userParts.set(user.ootb_user_crm_id, base);
    }
    return { peopleai_id: base.peopleai_id, crm_id: base.crm_id, name: base.name, title: base.title, email: base.email, role, type: "internal", team: base.team, status: type === "meeting" ? r.pick(PART_STATUS) : null };
  }
  external(r, accountIdx, domain, role, type) {
    // Each account has eight contacts, so the cache is bounded by the account count.
    const c = Math.max(0, accountIdx) * 8 + r.int(0, 7);
    let base = this.contactParts.get(c);
    if (!base) {
      const cr = rngFor(this.seed, "contact", c);
      const name = personName(cr);
      const known = cr.chance(0.8);
      base = {
        peopleai_id: `pai_c_${hash32(this.seed, "contact-id", c).toString(16).padStart(8, "0")}`,
        crm_id: known ? sfid("003", this.seed, "contact", c) : null,
        name: cr.chance(0.05) ? null : name,
        title: cr.chance(0.3) ? null : cr.pick(["CFO", "Head of IT", "Procurement Lead", "VP Engineering", "Director, Operations", "CEO & Founder"]),
        email: emailFor(name, c, domain),
      };
      this.contactParts.set(c, base);
    }
    return { peopleai_id: base.peopleai_id, crm_id: base.crm_id, name: base.name, title: base.title, email: base.email, role, type: "external", team: null, status: type === "meeting" ? r.pick(PART_STATUS) : null };
  }
}

function emailDomain(name, fallback) {
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

// ---------------------------------------------------------------------------------------------
// Forecasting: a hierarchy of nodes owned by people, calendar-quarter fiscal periods, forecast
// types with their own field sets, and weekly snapshots. Parents' values are the sums of their
// children's, as a roll-up forecast would show.

const NOTES = ["Orbis - 15k", "Commit includes Müller & Søn renewal", 'Pulled "Atlas" deal to next Q', "Upside: 2 deals, 40k", "Risk: budget freeze,\nlegal review pending", "東京 deal slipped", "🚀 best quarter yet", "", "=SUM(A1:A9)", "On track"];

export const FORECAST_TYPES = [
  { id: 10089, name: "Revenue", fields: ["quota", "gap_to_quota", "forecast_call", "closed_won", "commit", "best_case", "open_pipeline"] },
  { id: 10090, name: "New Business", fields: ["quota", "closed_won", "commit", "best_case", "open_pipeline"] },
  { id: 10091, name: "Renewals", fields: ["quota", "closed_won", "commit", "best_case", "churn_risk"] },
];
// Fields only managers (levels 1..3) carry: records then differ in which fields they have.
const MANAGER_ONLY_FIELDS = new Set(["forecast_call", "churn_risk"]);
const WEEK_MS = 7 * DAY_MS;

export class ForecastData {
  constructor({ seed }) {
    this.seed = seed;
    this.nodes = [];
    const r = new Rng(hash32(seed, "forecast-hierarchy"));
    let nextId = 10001;
    const make = (level, parent) => {
      const k = this.nodes.length;
      const node = {
        id: nextId++,
        external_id: sfid("0MI", seed, "fnode", k),
        name: k % 13 === 6 ? `${r.pick(FIRST_NAMES)} ${r.pick(["Müller-Lüdenscheidt", "O'Neil, Jr.", '"Sam" Park', "東"])}` : personName(r),
        level,
        parent_id: parent ? parent.id : null,
        owner_user_id: 400000 + r.int(0, 99999),
        children: [],
      };
      this.nodes.push(node);
      if (parent) parent.children.push(node);
      return node;
    };
    const root = make(1, null);
    const regions = 4;
    for (let a = 0; a < regions; a++) {
      const vp = make(2, root);
      const managers = r.int(2, 4);
      for (let b = 0; b < managers; b++) {
        const m = make(3, vp);
        const reps = r.int(3, 7);
        for (let c = 0; c < reps; c++) make(4, m);
      }
    }
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    this.byExternal = new Map(this.nodes.map((n) => [n.external_id, n]));
    this.periods = [];
    for (let y = 2023; y <= 2030; y++) {
      for (let q = 0; q < 4; q++) {
        const k = this.periods.length;
        const pr = rngFor(seed, "fperiod", k);
        this.periods.push({
          id: pr.uuid(),
          external_id: "0261" + new Rng(hash32(seed, "fperiod-ext", k)).chars(11) + "RAD",
          name: `FY${y} Q${q + 1}`,
          start: Date.UTC(y, q * 3, 1),
          end: Date.UTC(y, q * 3 + 3, 1),
        });
      }
    }
    this.periodById = new Map(this.periods.map((p) => [p.id, p]));
    this.periodByExternal = new Map(this.periods.map((p) => [p.external_id, p]));
    this.types = FORECAST_TYPES;
    this.memo = new Map();
  }

  currentPeriod(nowMs) {
    return this.periods.find((p) => p.start <= nowMs && nowMs < p.end) ?? (nowMs < this.periods[0].start ? this.periods[0] : this.periods[this.periods.length - 1]);
  }

  descendants(node) {
    const out = [];
    const walk = (n) => {
      out.push(n);
      for (const c of n.children) walk(c);
    };
    walk(node);
    return out;
  }

  /** Snapshot times of a period (each the end of a week of the period) that are not in the future. */
  snapshotTimes(period, nowMs) {
    const out = [];
    // The first snapshot closes the week before the quarter: forecasts are submitted ahead of it.
    for (let t = period.start - WEEK_MS; t <= period.end; t += WEEK_MS) {
      if (t > nowMs) break;
      out.push(t);
    }
    return out;
  }

  cadenceId(t) {
    return new Rng(hash32(this.seed, "cadence", Math.floor(t / WEEK_MS))).uuid();
  }

  /** Field values of a node at a snapshot: leaves are drawn, parents sum their children. */
  values(type, period, node, t) {
    const key = `${type.id}|${period.id}|${node.id}|${t}`;
    let v = this.memo.get(key);
    if (v) return v;
    if (node.children.length) {
      v = {};
      for (const c of node.children) {
        const cv = this.values(type, period, c, t);
        for (const f of Object.keys(cv)) v[f] = (v[f] ?? 0) + cv[f];
      }
    } else {
      const base = rngFor(this.seed, `fvals|${type.id}|${period.id}`, node.id);
      const quota = Math.round((50 + base.float() * 250) * 1000);
      const progress = Math.min(1, Math.max(0, (t - period.start) / (period.end - period.start)));
      const wr = rngFor(this.seed, `fweek|${type.id}|${period.id}|${node.id}`, Math.floor(t / WEEK_MS));
      const closed = Math.round(quota * progress * (0.4 + base.float() * 0.8) * (0.9 + wr.float() * 0.2));
      const commit = closed + Math.round(quota * (1 - progress) * (0.2 + wr.float() * 0.4));
      const best = commit + Math.round(quota * (0.1 + wr.float() * 0.5));
      const pipeline = Math.round(best * (1.2 + wr.float()));
      v = { quota, gap_to_quota: quota - closed, forecast_call: Math.round((commit + best) / 2), closed_won: closed, commit, best_case: best, open_pipeline: pipeline, churn_risk: Math.round(quota * wr.float() * 0.15) };
    }
    if (this.memo.size > 500000) this.memo.clear();
    this.memo.set(key, v);
    return v;
  }

  record(type, period, node, t) {
    const vals = this.values(type, period, node, t);
    const r = rngFor(this.seed, `fsub|${type.id}|${period.id}|${node.id}`, Math.floor(t / WEEK_MS));
    const submitted = r.chance(0.85);
    const submitter = node.parent_id && r.chance(0.15) ? this.byId.get(node.parent_id).owner_user_id : node.owner_user_id;
    const fields = {};
    for (const f of type.fields) {
      if (MANAGER_ONLY_FIELDS.has(f) && node.level > 3) continue;
      fields[f] = { value: vals[f] };
    }
    return {
      hierarchy_node_id: node.id,
      hierarchy_node_ownership_external_id: node.external_id,
      hierarchy_node_name: node.name,
      cadence_period_id: this.cadenceId(t),
      submitted_by: submitted ? submitter : null,
      submitted_at: submitted ? t - WEEK_MS + r.int(3600, 6 * 86400) * 1000 : null,
      notes: submitted ? r.pick(NOTES) || null : null,
      fields,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Userpilot: lookups (the eleven documented plus `embeds`) and events. Events follow the same
// index-addressed timeline idea as raw activities: day d holds indices [d * perDay, (d + 1) * perDay).

export const UP_EVENT_TYPES = ["identify_user", "identify_company", "page_view", "track", "track_feature", "interaction"];
const UP_TYPE_WEIGHTS = ["page_view", "page_view", "page_view", "page_view", "page_view", "page_view", "page_view", "track", "track", "track", "track", "track", "track_feature", "track_feature", "track_feature", "track_feature", "interaction", "interaction", "identify_user", "identify_company"];
const UP_SOURCES = ["web-client", "web-client", "web-client", "server-api", "segment", "hubspot"];
const UP_PAGES = [["/", "Home"], ["/dashboard", "Dashboard"], ["/settings/billing", "Billing — Settings"], ["/reports?range=30d&sort=desc", "Reports"], ["/projects/42/edit", "Edit “Project 42”"], ["/help/faq#export", "FAQ"], ["/über-uns", "Über uns"], ["/検索", "検索"]];
const UP_PLANS = ["free", "starter", "growth", "enterprise"];
const UP_TRACK_EVENTS = ["signed_up", "invoice_paid", "report_exported", "teammate_invited", "integration_connected", "plan_upgraded", "file_uploaded", "search_performed", "comment_posted", "onboarding_completed"];
const UP_FEATURES = ["export_button", "dark_mode_toggle", "filter_panel", "share_link", "bulk_edit", "ai_summary", "calendar_sync", "csv_import"];
const UP_INTERACTIONS = [
  ["flow", ["flow_started", "flow_step_seen", "flow_completed", "flow_dismissed"]],
  ["checklist", ["checklist_seen", "checklist_task_completed", "checklist_completed"]],
  ["survey", ["survey_seen", "survey_answered", "survey_dismissed"]],
  ["banner", ["banner_seen", "banner_clicked"]],
  ["spotlight", ["spotlight_seen", "spotlight_clicked"]],
  ["resource_center", ["resource_center_opened", "resource_center_module_clicked"]],
  ["embed", ["embed_seen"]],
];

function upTime(seed, kind, k) {
  // Inserted-at style timestamps for lookups: fixed window in 2023-2024 so truth is stable.
  const r = rngFor(seed, `up-time-${kind}`, k);
  const ms = Date.UTC(2023, 0, 1) + Math.floor(r.float() * 600 * DAY_MS / 1000) * 1000;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

export class UserpilotData {
  constructor({ seed, perDay }) {
    this.seed = seed;
    this.perDay = Math.max(1, Math.floor(perDay));
    this.appToken = `NX-${hash32(seed, "app-token").toString(16).padStart(8, "0")}`;
    this.noplanAppToken = `NX-${hash32(seed, "app-token-noplan").toString(16).padStart(8, "0")}`;
    // Companies and users. Ids mix shapes, as real integrations send whatever the app uses.
    this.companies = [];
    for (let c = 0; c < 60; c++) {
      const cr = rngFor(seed, "up-company", c);
      this.companies.push({ id: c % 3 === 0 ? String(13162551000 + c * 17) : `comp_${c + 1}`, name: companyName(cr, c * 7 + 5), industry: cr.pick(INDUSTRIES), employees: cr.int(2, 50000), plan: cr.pick(UP_PLANS) });
    }
    this.users = [];
    for (let u = 0; u < 300; u++) {
      const ur = rngFor(seed, "up-user", u);
      const name = personName(ur);
      const company = ur.chance(0.9) ? this.companies[ur.int(0, this.companies.length - 1)] : null;
      const excluded = u % 37 === 11; // internal/test users removed when exclusions is true
      this.users.push({
        id: excluded ? `test_user_${u}` : u % 4 === 0 ? String(123456 + u * 13) : u % 4 === 1 ? `user_${u + 1}` : `usr-${hash32(seed, "upuid", u).toString(36)}`,
        name,
        email: emailFor(name, u, excluded ? "internal.example" : "customer.example"),
        company,
        excluded,
        created_at: upTime(seed, "user-created", u),
      });
    }
    this.lookups = buildLookups(seed);
    this.segmentsById = new Map(this.lookups.segments.map((s) => [String(s.id), s]));
  }

  /** Whether user u belongs to segment s: a quarter of users per segment, deterministic. */
  inSegment(segmentId, u) {
    return hash32(this.seed, "segment-member", segmentId, u) % 4 === 0;
  }

  dayRange(day) {
    return [day * this.perDay, (day + 1) * this.perDay];
  }

  /** Event index -> record. Cheap draws first so filters can skip without building the record. */
  head(i) {
    const r = rngFor(this.seed, "up-event", i);
    const type = r.pick(UP_TYPE_WEIGHTS);
    const u = r.int(0, this.users.length - 1);
    return { r, type, u };
  }

  event(i, head = this.head(i)) {
    const { r, type, u } = head;
    const day = Math.floor(i / this.perDay);
    const k = i - day * this.perDay;
    const micros = day * DAY_MS * 1000 + Math.floor(((k + r.float() * 0.999) * DAY_MS * 1000) / this.perDay);
    const user = this.users[u];
    const source = r.pick(UP_SOURCES);
    let eventName;
    let metadata;
    switch (type) {
      case "page_view": {
        const [path, title] = r.pick(UP_PAGES);
        eventName = "page_view";
        metadata = { url: `https://app.customer.example${path}`, path, title, referrer: r.chance(0.3) ? "https://www.google.com/" : null, screen_width: r.pick([1280, 1440, 1920, 390]) };
        break;
      }
      case "track": {
        eventName = r.pick(UP_TRACK_EVENTS);
        metadata = { plan: r.pick(UP_PLANS), amount: Math.round(r.float() * 100000) / 100, currency: r.pick(["USD", "EUR", "JPY"]), note: r.pick(SUBJECTS) || null };
        break;
      }
      case "track_feature": {
        eventName = r.pick(UP_FEATURES);
        metadata = { feature_id: `feat_${UP_FEATURES.indexOf(eventName) + 1}`, feature_name: eventName.replace(/_/g, " "), element: r.pick(["button", "a", "div", "input"]) };
        break;
      }
      case "interaction": {
        const [kind, names] = r.pick(UP_INTERACTIONS);
        eventName = r.pick(names);
        const pool = this.lookups[kind === "resource_center" ? "resource_center_modules" : kind === "embed" ? "embeds" : `${kind}s`];
        const item = pool[r.int(0, pool.length - 1)];
        metadata = { experience_type: kind, experience_id: item.id, experience_title: item.title, step: r.int(1, 6), locale: r.pick(["en-US", "de-DE", "ja-JP", "fr-FR"]) };
        break;
      }
      case "identify_user": {
        eventName = "identify_user";
        metadata = { email: user.email, name: user.name, created_at: user.created_at, plan: user.company ? user.company.plan : "free", "Favourite café": r.pick(["Müller's", "東京カフェ", "Joe's, Downtown", ""]), logins: r.int(1, 900) };
        break;
      }
      default: {
        eventName = "identify_company";
        const c = user.company;
        metadata = c ? { name: c.name, industry: c.industry, employees: c.employees, plan: c.plan } : { name: null };
      }
    }
    const h1 = hash32(this.seed, "up-iid-1", i).toString(16).padStart(8, "0");
    const h2 = hash32(this.seed, "up-iid-2", i).toString(16).padStart(8, "0");
    const h3 = hash32(this.seed, "up-iid-3", i).toString(16).padStart(8, "0");
    const h4 = hash32(this.seed, "up-iid-4", i).toString(16).padStart(8, "0");
    return {
      app_token: this.appToken,
      event_type: type,
      event_name: eventName,
      user_id: user.id,
      company_id: type === "identify_company" || r.chance(0.95) ? (user.company ? user.company.id : null) : null,
      source,
      inserted_at: micros,
      internal_event_id: h1 + h2 + h3 + h4,
      metadata,
    };
  }
}

function buildLookups(seed) {
  const t = (kind, k) => upTime(seed, kind, k);
  const userProps = [
    ["email", "Email", "string", true], ["name", "Name", "string", true], ["created_at", "Signed up", "date", true], ["plan", "Plan", "string", false],
    ["logins", "Login count", "number", false], ["Favourite café", "Favourite café", "string", false], ["is_admin", "Is admin", "boolean", false],
    ["locale", "Locale", "string", true], ["browser", "Browser", "string", true], ["country", "Country", "string", true], ["mrr", "MRR (USD)", "number", false],
    ["role", "Role", "string", false], ["team_size", "Team size", "number", false], ["last_seen_at", "Last seen", "date", true], ["utm_source", "UTM source", "string", true],
    ["nps_score", "NPS score", "number", false], ["department", "Department, Division", "string", false], ["tags", 'Tags ("labels")', "string", false], ["trial_ends_at", "Trial ends", "date", false],
    ["device", "Device", "string", true], ["os", "Operating system", "string", true], ["referrer", "Referrer", "string", true], ["language", "言語", "string", false],
  ];
  const user_properties = userProps.map(([key, display_name, data_type, auto], k) => ({
    id: String(k + 1), key, display_name, data_type, category: auto ? "auto" : "custom", description: k % 5 === 0 ? `The user's ${display_name.toLowerCase()}` : null, is_auto_property: auto, inserted_at: t("uprop", k), last_seen: t("uprop-seen", k),
  }));
  const companyProps = [["name", "Name", "string"], ["industry", "Industry", "string"], ["employees", "Employees", "number"], ["plan", "Plan", "string"], ["created_at", "Created", "date"], ["mrr", "MRR", "number"], ["country", "Country", "string"], ["renewal_date", "Renewal date", "date"], ["csm", "CSM", "string"], ["health", "Health, overall", "number"], ["segment", "Segment", "string"], ["domain", "Domain", "string"]];
  const company_properties = companyProps.map(([key, display_name, data_type], k) => ({
    id: String(k + 1), key, display_name, data_type, category: k < 2 ? "auto" : "custom", description: null, is_auto_property: k < 2, inserted_at: t("cprop", k), last_seen: t("cprop-seen", k),
  }));
  const features_events = [];
  UP_TRACK_EVENTS.forEach((key, k) => features_events.push({ id: `evt_${k + 1}`, key, display_name: key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()), type: "event", category: k % 2 ? "Billing" : "Engagement", description: k === 3 ? 'Fires when a teammate accepts an "invite"' : null, is_archived: k === 9, inserted_at: t("fe", k) }));
  UP_FEATURES.forEach((key, k) => features_events.push({ id: `feat_${k + 1}`, key, display_name: key.replace(/_/g, " "), type: "feature", category: "Product", description: null, is_archived: false, inserted_at: t("ff", k) }));
  UP_PAGES.forEach(([path, title], k) => features_events.push({ id: `page_${k + 1}`, key: path, display_name: title, type: "page", category: "Pages", description: null, is_archived: false, inserted_at: t("fp", k) }));
  // events_properties: auto properties of all events, then each event's own attributes; 140 rows so
  // the default limit of 50 needs three pages.
  const events_properties = [];
  const autoProps = [["url", "URL"], ["page", "Page"], ["referrer", "Referrer"], ["browser", "Browser"], ["device", "Device"], ["os", "OS"], ["screen_width", "Screen width"], ["locale", "Locale"], ["title", "Title"], ["path", "Path"]];
  autoProps.forEach(([key, display_name], k) => events_properties.push({ category: null, data_type: key === "screen_width" ? "number" : "string", description: null, display_name, event: { display_name: "All events", id: null }, id: String(-(k + 1)), inserted_at: t("ep-auto", k), is_archived: false, is_auto_property: true, key, last_seen: t("ep-auto-seen", k) }));
  const attrs = [["plan", "string"], ["amount", "number"], ["currency", "string"], ["note", "string"], ["feature_id", "string"], ["feature_name", "string"], ["element", "string"], ["experience_id", "string"], ["step", "number"], ["locale", "string"], ["source_campaign", "string"], ["seats", "number"], ["duration_ms", "number"]];
  let epId = 1;
  for (let e = 0; events_properties.length < 140; e++) {
    const fe = features_events[e % features_events.length];
    const [key, data_type] = attrs[e % attrs.length];
    events_properties.push({ category: e % 4 === 0 ? "Custom" : null, data_type, description: e % 9 === 0 ? "Attribute sent with the event, e.g. \"value, unit\"" : null, display_name: key.replace(/_/g, " "), event: { display_name: fe.display_name, id: fe.id }, id: String(epId++), inserted_at: t("ep", e), is_archived: e % 17 === 5, is_auto_property: false, key, last_seen: t("ep-seen", e) });
  }
  const segTitles = ["Power users", "Trialists — week 1", "Churn risk", "Admins", "EMEA, paying", "東京チーム", "NPS detractors", "Never activated", "Enterprise accounts", "Mobile-first"];
  const segments = [];
  for (let s = 0; s < 120; s++) {
    segments.push({ id: 9000 + s, title: `${segTitles[s % segTitles.length]}${s >= segTitles.length ? ` #${Math.floor(s / segTitles.length) + 1}` : ""}`, description: s % 6 === 0 ? 'Users matching "rule set" A, B' : null, type: s % 5 === 4 ? "company" : "user", is_archived: s % 23 === 22, inserted_at: t("seg", s), updated_at: t("seg-up", s) });
  }
  const status = (k) => ["published", "draft", "published", "archived", "published"][k % 5];
  const flows = Array.from({ length: 14 }, (_, k) => ({ id: `flow_${1000 + k}`, title: ["Welcome tour", "Onboarding, part 2", "Feature: \"AI summary\"", "Billing walkthrough", "新機能のご紹介", "Re-engagement 🚀", "Settings tour"][k % 7] + (k >= 7 ? " (v2)" : ""), status: status(k), type: "flow", steps: Array.from({ length: 2 + (k % 4) }, (_, j) => ({ id: `step_${1000 + k}_${j + 1}`, title: `Step ${j + 1}`, type: j === 0 ? "modal" : "tooltip" })), created_at: t("flow", k), updated_at: t("flow-up", k) }));
  const banners = Array.from({ length: 7 }, (_, k) => ({ id: `banner_${200 + k}`, title: ["Scheduled maintenance", "New: dark mode", "Pricing update, effective May 1", "Webinar 🎙️", "Umfrage: Ihre Meinung", "Holiday hours", "Beta program"][k], status: status(k), position: k % 2 ? "top" : "bottom", created_at: t("banner", k), updated_at: t("banner-up", k) }));
  const spotlights = Array.from({ length: 9 }, (_, k) => ({ id: `spot_${300 + k}`, title: `Spotlight ${k + 1}${k === 4 ? ", the \"quoted\" one" : ""}`, type: ["hotspot", "tooltip", "button"][k % 3], status: status(k), created_at: t("spot", k), updated_at: t("spot-up", k) }));
  const surveys = Array.from({ length: 6 }, (_, k) => ({ id: `survey_${400 + k}`, title: ["NPS Q1", "CSAT: support", "Feature feedback", "Churn survey", "満足度調査", "Onboarding, 2 questions"][k], type: ["nps", "csat", "custom", "custom", "csat", "custom"][k], status: status(k), modules: Array.from({ length: 1 + (k % 3) }, (_, j) => ({ id: `q_${400 + k}_${j + 1}`, type: j === 0 ? (k === 0 ? "nps" : "rating") : "open_text", question: j === 0 ? "How likely are you to recommend us to a friend or colleague?" : "What could we do better? (commas, \"quotes\" welcome)" })), created_at: t("survey", k), updated_at: t("survey-up", k) }));
  const resource_center_modules = Array.from({ length: 10 }, (_, k) => ({ id: `rcm_${500 + k}`, title: ["Getting started", "Knowledge base", "Contact support", "What's new", "Video: Überblick", "Keyboard shortcuts", "API docs", "Community", "Status page", "Checklist"][k], type: ["flow", "knowledge_base", "chat", "link", "video", "link", "link", "link", "link", "checklist"][k], resource_center: { id: "rc_1", title: "Help Center" }, status: status(k), created_at: t("rcm", k) }));
  const checklists = Array.from({ length: 5 }, (_, k) => ({ id: `checklist_${600 + k}`, title: ["Get set up", "Invite your team", "Connect data", "Go live ✅", "Admin setup, advanced"][k], status: status(k), tasks: Array.from({ length: 3 + k }, (_, j) => ({ id: `task_${600 + k}_${j + 1}`, title: `Task ${j + 1}${j === 1 ? ": import CSV, XLSX" : ""}`, type: j % 2 ? "flow" : "url" })), created_at: t("cl", k), updated_at: t("cl-up", k) }));
  const embeds = Array.from({ length: 5 }, (_, k) => ({ id: `embed_${700 + k}`, title: ["Pricing table", "Changelog", "Video: “How to”", "Feedback widget", "Roadmap"][k], status: status(k), container: `#embed-${k + 1}`, created_at: t("embed", k), updated_at: t("embed-up", k) }));
  return { user_properties, company_properties, features_events, events_properties, segments, flows, banners, spotlights, surveys, resource_center_modules, checklists, embeds };
}

export const UP_LOOKUPS = ["user_properties", "company_properties", "features_events", "events_properties", "segments", "flows", "banners", "spotlights", "surveys", "resource_center_modules", "checklists", "embeds"];
export const UP_PAGINATED_LOOKUPS = new Set(["events_properties", "segments"]);
