// A box that shows a text and puts it on the clipboard (a share link, a curl command). When the
// browser refuses the clipboard the text is selected, so that Ctrl+C (⌘C) copies it by hand.

import { copyText, h, nextId } from "./dom.js";

/** copyBox({ testid }) -> { element, show(label, text), note(text) }; hidden until shown. */
export function copyBox({ testid = "share" } = {}) {
  const outId = nextId("cb");
  const label = h("label", { for: outId });
  const out = h("textarea", { id: outId, class: "share-out", readonly: true, rows: "3", spellcheck: "false", "data-testid": `${testid}-output` });
  const status = h("p", { class: "help tools-status", role: "status", "data-testid": `${testid}-status` });
  const element = h("div", { class: "field share-box", hidden: true }, label, out, status);

  async function show(labelText, text) {
    label.textContent = labelText;
    out.value = text;
    out.rows = Math.min(16, text.split("\n").length + 1);
    element.hidden = false;
    status.textContent = "Copying…";
    const copied = await copyText(text);
    status.textContent = copied ? "Copied to the clipboard." : "The browser did not let the page copy: the text is selected, copy it with Ctrl+C (⌘C).";
    if (!copied) {
      out.focus();
      out.select();
    }
  }

  /** A message in place of a text (e.g. why there is nothing to copy). */
  function note(text) {
    element.hidden = false;
    status.textContent = text;
  }

  return { element, show, note };
}
