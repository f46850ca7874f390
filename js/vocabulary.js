// The vendors' vocabulary, from one source: the Rust providers, through the wasm's `vocabulary()`
// export. The lists below are the public constants (USERPILOT_LOOKUPS, PERIODS, ...); they are
// filled when the wasm is loaded (`await init()` / `initSync`), since nothing in the wasm can be
// read before that, and are empty until then. The sandbox keeps its own copy on purpose.
// They live in the client module, which `init()` may leave for later (js/runtime.js): each list
// fills itself on first use, loading that module then.
import * as wasm from "../pkg/exportkit.js";
import { clientLoaded, requireReady } from "./runtime.js";

/** An array that fills itself (all five lists at once) the first time anything reads it. */
function lazyList() {
  const fillFirst = (t) => {
    if (!Object.isFrozen(t) && !clientLoaded()) {
      try {
        requireReady();
      } catch {
        // Before `init()`: empty, as it always was.
      }
    }
  };
  return new Proxy([], {
    get: (t, k, r) => (fillFirst(t), Reflect.get(t, k, r)),
    has: (t, k) => (fillFirst(t), Reflect.has(t, k)),
    ownKeys: (t) => (fillFirst(t), Reflect.ownKeys(t)),
    getOwnPropertyDescriptor: (t, k) => (fillFirst(t), Reflect.getOwnPropertyDescriptor(t, k)),
  });
}

export const USERPILOT_EVENT_TYPES = lazyList();
export const USERPILOT_LOOKUPS = lazyList();
export const USERPILOT_PAGINATED_LOOKUPS = lazyList();
export const BACKSTORY_PERIODS = lazyList();
export const BACKSTORY_OBJECTS = lazyList();

let cached = null;

/**
 * Everything at once: `{ backstory: { objects, periods, defaultPeriod, operators, activityTypes,
 * exportTypes, jobId }, userpilot: { eventTypes, lookups, paginatedLookups, jobId } }`; each
 * `jobId` is `{ segment, maxLength }`, `segment` an unanchored RegExp source for one job id as
 * the clients accept it. Throws before the wasm is loaded.
 */
export function vocabulary() {
  if (!cached) requireReady();
  cached ??= deepFreeze(wasm.vocabulary());
  return cached;
}

/** A job id the client for `vendor` ("backstory" or "userpilot") would accept. */
export function isJobId(vendor, id) {
  const rule = vocabulary()[vendor]?.jobId;
  if (!rule) throw new TypeError(`no job-id rule for ${vendor}`);
  return typeof id === "string" && new RegExp(`^${rule.segment}$`).test(id);
}

/** Called by js/runtime.js once the wasm instance exists. */
export function fillVocabulary() {
  const v = vocabulary();
  fill(USERPILOT_EVENT_TYPES, v.userpilot.eventTypes);
  fill(USERPILOT_LOOKUPS, v.userpilot.lookups);
  fill(USERPILOT_PAGINATED_LOOKUPS, v.userpilot.paginatedLookups);
  fill(BACKSTORY_PERIODS, v.backstory.periods);
  fill(BACKSTORY_OBJECTS, v.backstory.objects);
}

function fill(list, items) {
  if (Object.isFrozen(list)) return;
  list.push(...items);
  Object.freeze(list);
}

function deepFreeze(o) {
  if (o && typeof o === "object") for (const v of Object.values(o)) deepFreeze(v);
  return Object.freeze(o);
}
