// Drag to reorder the items of a list by a handle: pointer events (mouse, pen and touch alike;
// HTML drag and drop has no touch support), and the arrow keys on the focused handle for the
// keyboard. The list itself is not changed here: `onMove(from, to)` tells the owner, which
// re-renders.

import { h } from "./dom.js";

/**
 * dragHandle({ index, count, name, onMove, testid, key }) -> a button to put in item `index` (an
 * <li> of the list) out of `count`. `name` is what the item is called ("sort 2"); `key` its
 * data-key (for focus after a re-render).
 */
export function dragHandle({ index, count, name, onMove, testid, key }) {
  let drag = null;
  const button = h(
    "button",
    {
      type: "button",
      class: "btn btn-icon drag-handle",
      title: "Drag to reorder (or focus and press ↑ ↓)",
      "aria-roledescription": "drag handle",
      "data-key": key,
      "data-testid": testid,
      on: {
        pointerdown: start,
        pointermove: moveTo,
        pointerup: end,
        pointercancel: () => stop(),
        keydown: (e) => {
          const to = e.key === "ArrowUp" ? index - 1 : e.key === "ArrowDown" ? index + 1 : null;
          if (to === null || e.altKey || e.ctrlKey || e.metaKey) return;
          e.preventDefault();
          if (to >= 0 && to < count) onMove(index, to);
        },
      },
    },
    h("span", { "aria-hidden": "true" }, "⠿"),
    h("span", { class: "visually-hidden" }, `Reorder ${name}: drag, or press the up and down arrow keys`),
  );

  /** Where the pointer would drop the item: the count of other items whose middle is above it. */
  function target(y) {
    let to = 0;
    drag.mids.forEach((mid, i) => {
      if (i !== index && mid < y) to += 1;
    });
    return to;
  }

  function start(e) {
    if (e.button !== 0) return;
    const item = button.closest("li");
    const list = item?.parentElement;
    if (!list) return;
    e.preventDefault();
    button.setPointerCapture?.(e.pointerId);
    const items = [...list.children].filter((el) => el.tagName === "LI");
    drag = { item, items, y0: e.clientY, mids: items.map((el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; }), to: index };
    item.classList.add("is-dragging");
  }

  function moveTo(e) {
    if (!drag) return;
    drag.item.style.transform = `translateY(${e.clientY - drag.y0}px)`;
    drag.to = target(e.clientY);
    drag.items.forEach((el, i) => {
      el.classList.toggle("drop-before", drag.to !== index && i === drag.to && drag.to < index);
      el.classList.toggle("drop-after", drag.to !== index && i === drag.to && drag.to > index);
    });
  }

  function stop() {
    if (!drag) return null;
    const d = drag;
    drag = null;
    d.item.classList.remove("is-dragging");
    d.item.style.transform = "";
    d.items.forEach((el) => el.classList.remove("drop-before", "drop-after"));
    return d;
  }

  function end(e) {
    if (!drag) return;
    const to = target(e.clientY);
    stop();
    if (to !== index) onMove(index, to);
  }

  return button;
}
