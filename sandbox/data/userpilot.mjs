import { hash32, rngFor } from "../prng.mjs";
import { DAY_MS, INDUSTRIES, SUBJECTS, companyName, emailFor, personName } from "./common.mjs";

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
