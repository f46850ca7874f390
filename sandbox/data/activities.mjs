import { hash32, rngFor } from "../prng.mjs";
import { DAY_MS, SUBJECTS, emailDomain, emailFor, personName, sfid, toJson } from "./common.mjs";

// Raw activities (Raw Activity Data API). A timeline with `perYear` activities per 365 days: day d
// (days since 1970-01-01 UTC) holds the global indices [dayStart(d), dayStart(d + 1)). A date range
// is therefore one contiguous index range and record i can be built alone, so a job of a million
// records is generated as it is written and never held in memory.

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
