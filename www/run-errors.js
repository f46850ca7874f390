// A failed call in plain words, the same in every panel: what happened, what to do, a way to the
// settings when the credentials were refused. The core's messages are written for logs ("HTTP 401",
// the vendor's JSON body, epoch milliseconds); the page shows the vendor's own words once, the
// status once, and dates as dates.

import { formatDuration, h } from "./dom.js";

/** Epoch milliseconds (13 digits, years 2001 to 2286) in `text` as local dates and times. */
export function datesInText(text) {
  return String(text ?? "").replace(/\b1\d{12}\b/g, (n) => formatDateTime(Number(n)));
}

export function formatDateTime(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/**
 * The vendor's words from a core error message, without the prefixes the core adds
 * ("authentication refused (HTTP 401): ", "HTTP 500: ", "network error: ") and, for a JSON body,
 * just its description.
 */
export function vendorWords(message) {
  const text = String(message ?? "")
    .replace(/^authentication refused \(HTTP \d+\):?\s*/i, "")
    .replace(/^HTTP \d+:?\s*/i, "")
    .replace(/^network error:\s*/i, "")
    .trim();
  if (text.startsWith("{")) {
    try {
      const body = JSON.parse(text);
      for (const k of ["error_description", "message", "detail", "error"]) {
        if (typeof body?.[k] === "string" && body[k]) return body[k];
      }
    } catch {
      // not JSON after all: show it as it is
    }
  }
  return text;
}

/** "timeframe.since: must not be after timeframe.until (1 May 2024, 00:00 > ...)" */
export function invalidText(e) {
  const field = e?.field || "";
  let msg = String(e?.message ?? e ?? "");
  if (field) msg = msg.replace(`invalid \`${field}\`: `, "");
  msg = datesInText(msg);
  return field && !msg.includes(field) ? `${field}: ${msg}` : msg;
}

/**
 * The paragraphs (and the settings button) that explain `e`. `service`: "Backstory" or
 * "Userpilot"; `credentials`: what the user typed ("client id and secret", "API key");
 * `baseUrl`: where the page called; `openSettings`: opens them; `proxied`: the edge worker holds
 * the credentials.
 */
export function explainError(e, { service, credentials, baseUrl, openSettings, proxied = false }) {
  const code = e?.code;
  const status = Number.isFinite(e?.status) ? e.status : null;
  const words = vendorWords(e?.message ?? e);
  const said = (text) => (text ? ` ${service} said: “${datesInText(text)}”` : "");
  const settingsButton = () =>
    h("button", { type: "button", class: "btn btn-small", "data-testid": "open-settings", on: { click: () => openSettings() } }, "Open settings");
  switch (code) {
    case "E_ABORTED":
      return [h("p", {}, "Cancelled. Nothing more was downloaded.")];
    case "E_INVALID_ARGUMENT":
      return [h("p", {}, invalidText(e))];
    case "E_AUTH": {
      const what =
        status === 403
          ? `${service} accepted the ${credentials} but refused this request (403): they may lack the permission or the plan it needs.`
          : `${service} refused the ${credentials}${status ? ` (${status})` : ""}.`;
      const fix = proxied ? "The proxy holds them: ask whoever runs it to check its secrets." : `Check the ${credentials} in Settings.`;
      return [h("p", {}, `${what}${said(words)}`), h("p", {}, fix), proxied ? null : settingsButton()].filter(Boolean);
    }
    case "E_RATE_LIMITED": {
      const wait = Number.isFinite(e.retryAfterMs) ? ` Try again in ${formatDuration(e.retryAfterMs)}.` : " Wait a little, then try again.";
      return [h("p", {}, `${service} says: too many calls (429).${wait}`)];
    }
    case "E_NETWORK":
      return [h("p", {}, `Could not reach ${service} at ${baseUrl || "the address in Settings"}: ${words || "no answer"}.`), h("p", {}, "Check the address in Settings and your connection.")];
    case "E_TIMEOUT":
      return [h("p", {}, `${service} did not finish in time. Try again, or a smaller range.`)];
    case "E_JOB_FAILED":
      return [h("p", {}, `The export job${e.jobId ? ` ${e.jobId}` : ""} ended without data${e.state ? ` (${e.state})` : ""}. Start it again.`)];
    case "E_LINK_EXPIRED":
      return [h("p", {}, "A download link expired again after it was renewed. Run the export again.")];
    case "E_DECODE":
      return [h("p", {}, `${service}'s answer could not be read: ${datesInText(words)}`)];
    case "E_HTTP":
      return [h("p", {}, `${service} answered with an error${status ? ` (HTTP ${status})` : ""}.${said(words)}`)];
    default:
      return [h("p", {}, datesInText(words) || "Something went wrong.")];
  }
}
