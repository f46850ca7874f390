// The Query panel's JSON editor: the request as JSON text beside the form, each following the
// other. Text that does not parse stays in the editor, marked, with the reason under it; the form
// keeps the last valid query, and the panel refuses to run while the editor holds such a problem
// (running would send a different query than the one on screen).

import { h } from "./dom.js";
import { parseJsonText, prettyJson } from "./query-model.js";

const IDLE = "Edit the form or this JSON: each follows the other.";

/**
 * @param {object} o
 * @param {string} o.id the textarea's id (the panel's label points at it)
 * @param {() => object} o.query the query the form holds now
 * @param {(value: unknown) => void} o.apply JSON text that parsed: the panel shows it in the form
 */
export function createJsonEditor({ id, query, apply }) {
  // What is wrong with the editor's text, while it differs from the query the form holds: Run
  // would otherwise send that last valid query, a different one, and spend a call on it.
  let problem = null;

  const textarea = h("textarea", {
    id,
    class: "json",
    rows: "18",
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": `${id}-status`,
    "data-testid": "query-json",
    on: { input: onInput, blur: onBlur },
  });
  const status = h("p", { class: "help json-status", id: `${id}-status`, "data-testid": "query-json-status" }, IDLE);

  function size() {
    textarea.rows = Math.min(40, Math.max(12, textarea.value.split("\n").length + 1));
  }
  function onInput() {
    const parsed = parseJsonText(textarea.value);
    if (parsed.error) {
      return fail(`Not valid JSON: ${parsed.error.text}. The form keeps the last valid query; Run waits until this is fixed.`, parsed.error);
    }
    apply(parsed.value);
  }
  function onBlur() {
    if (textarea.getAttribute("aria-invalid") !== "true") textarea.value = prettyJson(query());
  }
  /** The editor's text cannot be sent: say why (`where.offset`: the character to go to). */
  function fail(msg, where = null) {
    problem = { text: msg, offset: where?.offset ?? null };
    textarea.setAttribute("aria-invalid", "true");
    status.textContent = msg;
    status.classList.add("is-error");
  }

  return {
    textarea,
    status,
    /** `{ text, offset }` while the editor holds text that cannot be sent, else null. */
    get problem() {
      return problem;
    },
    fail,
    clearProblem() {
      problem = null;
    },
    /** The form changed: the editor shows its query, and any problem is gone. */
    show(q) {
      problem = null;
      textarea.value = prettyJson(q);
      size();
      textarea.removeAttribute("aria-invalid");
      status.textContent = IDLE;
      status.classList.remove("is-error");
    },
    /** A line under the editor (an error in red), leaving the text as it is. */
    note(msg, isError) {
      textarea.removeAttribute("aria-invalid");
      status.textContent = msg;
      status.classList.toggle("is-error", isError);
    },
    /** Puts the caret on the problem, if it has a place. */
    focusProblem() {
      textarea.focus();
      const at = problem?.offset;
      if (Number.isInteger(at)) textarea.setSelectionRange(at, Math.min(at + 1, textarea.value.length));
    },
  };
}
