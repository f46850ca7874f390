// exportkit dashboard: loads the WebAssembly build, then the settings and the panels.
// A panel is { id, title, element, onShow? }, made by a factory that receives { lib, settings }.
// Later panels (Activities, Forecasts, Userpilot) are added to PANELS below.

import { h, replace } from "./dom.js";
import { createSettings } from "./settings.js";

const PANELS = [
  { id: "query", title: "Query", load: () => import("./query-panel.js").then((m) => m.createQueryPanel) },
  { id: "activities", title: "Activities", load: () => import("./activities-panel.js").then((m) => m.createActivitiesPanel) },
  { id: "forecasts", title: "Forecasts", load: () => import("./forecast-panel.js").then((m) => m.createForecastPanel) },
  { id: "userpilot", title: "Userpilot", load: () => import("./userpilot-panel.js").then((m) => m.createUserpilotPanel) },
];

const statusEl = document.getElementById("app-status");

/** The footer's promise, true to how this site is set up (straight to the vendors, or via the edge worker). */
function whereCallsGo(proxy) {
  const direct = "straight from your browser to the base URL in Settings";
  const viaEdge = "to this site's edge worker, which adds the credentials and forwards them";
  if (proxy.backstory && proxy.userpilot) {
    return `exportkit runs in this page: calls go ${viaEdge} to Backstory and Userpilot. The page itself holds no credential.`;
  }
  if (proxy.backstory || proxy.userpilot) {
    const [edge, own] = proxy.backstory ? ["Backstory", "Userpilot"] : ["Userpilot", "Backstory"];
    return `exportkit runs in this page: ${edge} calls go ${viaEdge}; ${own} calls go ${direct}. Nothing goes anywhere else.`;
  }
  return `exportkit runs in this page: calls go ${direct} (one for Backstory, one for Userpilot), and nowhere else.`;
}

function fail(title, detail) {
  statusEl.hidden = false;
  statusEl.className = "app-status error-box";
  replace(statusEl, h("p", {}, h("strong", {}, title)), h("p", {}, detail));
}

async function main() {
  let lib;
  try {
    lib = await import("../js/index.js");
    await lib.default();
  } catch (e) {
    fail(
      "The exportkit WebAssembly build could not be loaded.",
      `Build it first (npm start builds it and starts the demo). Details: ${e && e.message ? e.message : e}`,
    );
    return;
  }

  const settings = await createSettings({ lib });
  document.getElementById("settings-slot").replaceWith(settings.element);
  document.getElementById("footer-note").textContent = whereCallsGo(settings.proxy);

  const tabs = document.getElementById("tabs");
  const panelsEl = document.getElementById("panels");
  const made = [];
  // The Runs view only where the worker serves the page: the runs live there.
  const panels = settings.proxy.backstory ? [...PANELS, { id: "runs", title: "Runs", load: () => import("./runs-panel.js").then((m) => m.createRunsPanel) }] : PANELS;
  for (const def of panels) {
    const factory = await def.load();
    const panel = factory({ lib, settings });
    const tab = h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${def.id}`,
        class: "tab",
        "aria-controls": `panel-${def.id}`,
        "aria-selected": "false",
        tabindex: "-1",
        "data-testid": `tab-${def.id}`,
        on: { click: () => show(def.id) },
      },
      def.title,
    );
    const wrap = h("div", { role: "tabpanel", id: `panel-${def.id}`, "aria-labelledby": `tab-${def.id}`, hidden: true }, panel.element);
    tabs.append(tab);
    panelsEl.append(wrap);
    made.push({ def, panel, tab, wrap });
  }

  function show(id, focus = false) {
    for (const m of made) {
      const on = m.def.id === id;
      m.tab.setAttribute("aria-selected", String(on));
      m.tab.tabIndex = on ? 0 : -1;
      m.wrap.hidden = !on;
      if (!on) m.panel.onHide?.();
      if (on) {
        if (focus) m.tab.focus();
        m.panel.onShow?.();
        if (location.hash !== `#${id}` && made.length > 1) history.replaceState(null, "", `#${id}`);
      }
    }
  }

  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  tabs.addEventListener("keydown", (e) => {
    const i = made.findIndex((m) => m.tab === document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === "ArrowRight") j = (i + 1) % made.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + made.length) % made.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = made.length - 1;
    if (j === null) return;
    e.preventDefault();
    show(made[j].def.id, true);
  });

  // "#query" opens a panel; "#query=..." (a shared query) opens it too, and the panel reads the rest.
  const panelInHash = () => location.hash.slice(1).split("=")[0];
  const fromHash = panelInHash();
  show(made.some((m) => m.def.id === fromHash) ? fromHash : made[0].def.id);
  window.addEventListener("hashchange", () => {
    const id = panelInHash();
    if (made.some((m) => m.def.id === id)) show(id);
  });
  statusEl.hidden = true;
  document.body.dataset.ready = "true";
}

main().catch((e) => fail("The dashboard failed to start.", e && e.message ? e.message : String(e)));
