// Query API records: the catalog of slugs (plain, time-based, expanding) and the accounts,
// opportunities, users and activities it describes, built once per sandbox and cached (a few
// thousand rows).

import { hash32, rngFor } from "../prng.mjs";
import { COUNTRIES, DESCRIPTIONS, INDUSTRIES, SPECIAL_COMPANIES, SUBJECTS, TEAMS, TITLES, companyName, dateBetween, emailFor, isoMs, personName, sfid } from "./common.mjs";

const STAGES = ["Prospecting", "Qualification", "Discovery", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"];
const OPP_TYPES = ["New Business", "Renewal", "Expansion", "Upsell"];
const CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"];

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
