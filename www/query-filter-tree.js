// The Query panel's filter tree: nested AND/OR groups of conditions on slugs, as the form shows
// and edits them. The tree itself is the panel's state (www/query-model.js shapes it); this module
// draws it and changes it in place, then tells the panel (`changed`), which redraws and re-validates.

import { h, icon, nextId, replace, select } from "./dom.js";
import { OPERATORS, findNode, newCond, newGroup } from "./query-model.js";

/**
 * @param {object} o
 * @param {HTMLElement} o.box where the tree is drawn
 * @param {() => object} o.root the filter tree's root group (the state may be replaced whole)
 * @param {(change?: { structure?: boolean, focusKey?: string }) => void} o.changed
 * @param {Function} o.slugInput the panel's slug box (suggestions and hints are the panel's)
 * @param {string} o.validationId the element that explains a validation error
 */
export function createFilterTree({ box, root, changed, slugInput, validationId }) {
  function renderGroup(g, path, depth) {
    const joinId = nextId("q");
    const isRoot = depth === 0;
    const items = h("ul", { class: "fgroup-items" });
    g.children.forEach((c, i) => {
      const p = `${path}-${i}`;
      items.append(h("li", {}, c.kind === "group" ? renderGroup(c, p, depth + 1) : renderCond(g, c, p)));
    });
    if (!g.children.length) {
      items.append(h("li", { class: "empty" }, isRoot ? "No filter: every record is exported." : "Empty group: add a condition."));
    }
    const groupLabel = isRoot ? "All filters" : `Filter group ${path.slice(2).split("-").map((x) => Number(x) + 1).join(".")}`;
    return h(
      "div",
      { class: ["fgroup", isRoot ? "fgroup-root" : "", g.join === "$or" ? "is-or" : "is-and"], role: "group", "aria-label": groupLabel, "data-testid": path },
      h(
        "div",
        { class: "fgroup-head" },
        h("label", { for: joinId }, "Match"),
        select(
          {
            id: joinId,
            "data-key": `${g.id}:join`,
            "data-testid": `${path}-join`,
            on: {
              change: (e) => {
                g.join = e.target.value;
                changed({ structure: true, focusKey: `${g.id}:join` });
              },
            },
          },
          [
            ["$and", "all (AND)"],
            ["$or", "any (OR)"],
          ],
          g.join,
        ),
        h("span", {}, "of these"),
        isRoot
          ? null
          : h(
              "button",
              {
                type: "button",
                class: "btn btn-small btn-danger",
                "aria-label": `Remove ${groupLabel.toLowerCase()}`,
                "data-testid": `${path}-remove`,
                on: { click: () => removeNode(g.id) },
              },
              "Remove group",
            ),
      ),
      items,
      h(
        "div",
        { class: "fgroup-actions" },
        h(
          "button",
          { type: "button", class: "btn btn-small", "data-key": `${g.id}:add-condition`, "data-testid": `${path}-add-condition`, on: { click: () => addToGroup(g, newCond()) } },
          "+ Condition",
        ),
        h(
          "button",
          { type: "button", class: "btn btn-small", "data-key": `${g.id}:add-group`, "data-testid": `${path}-add-group`, on: { click: () => addToGroup(g, newGroup(g.join === "$and" ? "$or" : "$and", [newCond()])) } },
          "+ Group",
        ),
      ),
    );
  }

  function renderCond(parent, c, path) {
    const opId = nextId("q");
    const valId = nextId("q");
    const n = path.slice(2).split("-").map((x) => Number(x) + 1).join(".");
    const valueInput = h("input", {
      id: valId,
      type: "text",
      value: c.value,
      autocomplete: "off",
      spellcheck: "false",
      placeholder: c.op === "$in" ? "a, b, c" : "value",
      "aria-describedby": validationId,
      "data-key": `${c.id}:value`,
      "data-testid": `${path}-value`,
      on: {
        input: (e) => {
          c.value = e.target.value;
          changed();
        },
      },
    });
    return h(
      "div",
      { class: "cond", role: "group", "aria-label": `Condition ${n}`, "data-testid": path },
      slugInput(c, `${c.id}:slug`, `Condition ${n} slug`, `${path}-slug`),
      h(
        "div",
        { class: "field field-op" },
        h("label", { for: opId, class: "visually-hidden" }, `Condition ${n} operator`),
        select(
          {
            id: opId,
            "data-key": `${c.id}:op`,
            "data-testid": `${path}-op`,
            "aria-describedby": validationId,
            on: {
              change: (e) => {
                c.op = e.target.value;
                valueInput.placeholder = c.op === "$in" ? "a, b, c" : "value";
                changed();
              },
            },
          },
          OPERATORS,
          c.op,
        ),
      ),
      h("div", { class: "field field-value" }, h("label", { for: valId, class: "visually-hidden" }, `Condition ${n} value`), valueInput),
      h(
        "button",
        { type: "button", class: "btn btn-icon btn-danger", title: "Remove", "data-testid": `${path}-remove`, on: { click: () => removeNode(c.id) } },
        icon("✕", `Remove condition ${n}`),
      ),
    );
  }

  function addToGroup(g, node) {
    g.children.push(node);
    const first = node.kind === "cond" ? node : node.children[0];
    changed({ structure: true, focusKey: `${first.id}:slug` });
  }
  function removeNode(id) {
    const found = findNode(root(), id);
    if (!found || !found.parent) return;
    const list = found.parent.children;
    const i = list.indexOf(found.node);
    list.splice(i, 1);
    const next = list[i] || list[i - 1];
    const focusKey = next ? (next.kind === "group" ? `${next.id}:join` : `${next.id}:slug`) : `${found.parent.id}:add-condition`;
    changed({ structure: true, focusKey });
  }

  return {
    render() {
      replace(box, renderGroup(root(), "f", 0));
    },
  };
}
