// What every panel's run has in common, whatever it exports: one run at a time, a Cancel that
// aborts it, the buttons while it runs, progress drawn at most once a frame, the previous result's
// preview released, and a failure shown in the same box shape (a cancel is a note, not an error).
// Each panel keeps what differs: its form, its progress wording, its result and its error words
// (www/run-errors.js).

import { h } from "./dom.js";

/**
 * @param {object} o
 * @param {HTMLButtonElement} o.runButton disabled while a run is on
 * @param {HTMLButtonElement} o.cancelButton enabled (or shown, with `cancelHides`) while a run is on
 * @param {boolean} [o.cancelHides] hide Cancel between runs instead of disabling it
 * @param {HTMLElement} [o.element] gets the class `is-running` while a run is on
 */
export function createRunController({ runButton, cancelButton, cancelHides = false, element = null }) {
  let controller = null;
  let preview = null;

  function setRunning(on) {
    runButton.disabled = on;
    if (cancelHides) cancelButton.hidden = !on;
    else cancelButton.disabled = !on;
    element?.classList.toggle("is-running", on);
  }

  function cancel() {
    controller?.abort();
  }
  cancelButton.addEventListener("click", cancel);

  /**
   * Runs `task(signal)` unless a run is on (then resolves to undefined at once). The previous
   * preview is released first; whatever `task` throws is the caller's to show.
   */
  async function run(task) {
    if (controller) return undefined;
    const ctrl = new AbortController();
    controller = ctrl;
    setRunning(true);
    preview?.destroy();
    preview = null;
    try {
      return await task(ctrl.signal);
    } finally {
      if (controller === ctrl) controller = null;
      setRunning(false);
    }
  }

  return {
    run,
    cancel,
    get busy() {
      return controller !== null;
    },
    /** The preview now on screen: released when the next run starts. */
    keep(p) {
      preview = p;
      return p;
    },
  };
}

/**
 * Progress at most once per animation frame: `schedule(p)` keeps the latest, `draw(p)` runs on
 * the next frame; `flush()` draws a pending one now, `stop()` drops it.
 */
export function frameThrottle(draw) {
  let frame = 0;
  let pending = null;
  const now = () => {
    frame = 0;
    draw(pending);
  };
  return {
    schedule(p) {
      pending = p;
      if (!frame) frame = requestAnimationFrame(now);
    },
    get scheduled() {
      return frame !== 0;
    },
    get latest() {
      return pending;
    },
    flush() {
      if (frame) cancelAnimationFrame(frame);
      if (pending) now();
    },
    stop() {
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
    },
  };
}

/** The box a failed run is shown in: a note for a cancel, an error otherwise, coded for tests. */
export function runErrorBox(e, testid, ...children) {
  const code = e && e.code;
  return h("div", { class: code === "E_ABORTED" ? "note-box" : "error-box", "data-testid": testid, "data-code": code || "" }, ...children);
}
