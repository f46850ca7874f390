// Seeded, deterministic benchmark data: the same bytes on every run and machine.
import { gzipSync } from "node:zlib";

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"];
const MULTI = ["Müller", "Søren", "東京", "Zürich", "Ōsaka", "São Paulo", "Kraków", "😀 party", "Αθήνα", "Москва"];

function quote(s) {
  return `"${s.replaceAll('"', '""')}"`;
}

/** The CSV shapes issue 7 names. Each cell function gets (rng, row, col). */
export const CSV_SHAPES = {
  unquoted: { cols: 12, cell: (r) => `${WORDS[(r() * WORDS.length) | 0]}_${(r() * 1e6) | 0}` },
  mixed: {
    cols: 12,
    cell: (r, _row, c) => {
      switch (c % 4) {
        case 0: return String((r() * 1e6) | 0);
        case 1: return (r() * 1e4 - 5e3).toFixed(3);
        case 2: return r() < 0.5 ? "true" : "false";
        default: return new Date(1.6e12 + ((r() * 1e11) | 0)).toISOString().slice(0, 10);
      }
    },
  },
  quoted: {
    cols: 8,
    cell: (r) => {
      const w = WORDS[(r() * WORDS.length) | 0];
      const k = r();
      return quote(k < 0.3 ? `${w}, ${w} and co` : k < 0.5 ? `said "${w}"` : k < 0.6 ? `${w}\nsecond line` : w);
    },
  },
  wide: { cols: 200, cell: (r) => String((r() * 1e5) | 0) },
  narrow: { cols: 3, cell: (r, row, c) => (c === 0 ? String(row) : WORDS[(r() * WORDS.length) | 0]) },
  multibyte: {
    cols: 10,
    cell: (r) => (r() < 0.2 ? MULTI[(r() * MULTI.length) | 0] : WORDS[(r() * WORDS.length) | 0]),
  },
};

/** A CSV document of about `bytes` bytes, header included, CRLF line ends. */
export function csv(shape, bytes, seed = 1) {
  const { cols, cell } = CSV_SHAPES[shape];
  const r = mulberry32(seed);
  const enc = new TextEncoder();
  const parts = [];
  let size = 0;
  const header = Array.from({ length: cols }, (_, i) => `col_${i}`).join(",") + "\r\n";
  parts.push(header);
  size += header.length;
  for (let row = 0; size < bytes; row++) {
    const cells = new Array(cols);
    for (let c = 0; c < cols; c++) cells[c] = cell(r, row, c);
    const line = cells.join(",") + "\r\n";
    parts.push(line);
    size += line.length;
  }
  return enc.encode(parts.join(""));
}

// ---- JSON Lines

/** One flat record (no nesting), Userpilot-event-like: strings with escapes and multibyte text, numbers, booleans, nulls. */
function flatRecord(r, i) {
  const w = () => WORDS[(r() * WORDS.length) | 0];
  const k = r();
  return {
    app_token: `NX-${((r() * 1e8) | 0).toString(36)}`,
    event_type: ["track", "page_view", "identify_user", "interaction"][(r() * 4) | 0],
    event_name: `${w()}_${w()}`,
    user_id: `user-${(r() * 1e5) | 0}`,
    company_id: r() < 0.1 ? null : `co-${(r() * 1e4) | 0}`,
    source: r() < 0.5 ? "web-client" : "api",
    inserted_at: 1.7e15 + i * 1000 + ((r() * 1000) | 0),
    internal_event_id: ((r() * 2 ** 32) >>> 0).toString(16).padStart(8, "0") + i.toString(16).padStart(8, "0"),
    value: Math.round((r() * 2e4 - 1e4) * 1000) / 1000,
    count: (r() * 100) | 0,
    active: r() < 0.5,
    city: r() < 0.2 ? MULTI[(r() * MULTI.length) | 0] : w(),
    note: k < 0.5 ? null : k < 0.7 ? `${w()}, "${w()}"` : k < 0.8 ? `${w()}\nline two` : w(),
  };
}

let timeline = null;
/** The sandbox's own raw-activity generator (participants, stats, crm_status ...), with its default sizes. */
async function activityTimeline() {
  if (!timeline) {
    const { ActivityTimeline, QueryData } = await import("../sandbox/data.mjs");
    const { DEFAULT_OPTIONS: o } = await import("../sandbox/server.mjs");
    const queryData = new QueryData({ seed: o.seed, accounts: o.accounts, opportunities: o.opportunities, users: o.users, activityRecords: o.activityRecords });
    timeline = new ActivityTimeline({ seed: o.seed, perYear: 365_000, queryData });
  }
  return timeline;
}

export const JSONL_SHAPES = ["flat", "activities"];

/**
 * JSON Lines of about `bytes` bytes (whole lines, LF ends): `flat` (seeded by `seed`) or
 * `activities` (nested, as the Raw Activity export: the sandbox's records under its default seed).
 */
export async function jsonl(shape, bytes, seed = 1) {
  const parts = [];
  let size = 0;
  if (shape === "activities") {
    const tl = await activityTimeline();
    // From 2023-01-01 on, so timestamps look like real ones.
    for (let i = tl.dayStart(Date.UTC(2023, 0, 1) / 86_400_000); size < bytes; i++) {
      const line = tl.line(i);
      parts.push(line);
      size += Buffer.byteLength(line);
    }
  } else if (shape === "flat") {
    const r = mulberry32(seed);
    for (let i = 0; size < bytes; i++) {
      const line = JSON.stringify(flatRecord(r, i)) + "\n";
      parts.push(line);
      size += Buffer.byteLength(line);
    }
  } else {
    throw new Error(`unknown JSON Lines shape ${shape}`);
  }
  return new TextEncoder().encode(parts.join(""));
}

/** The gzip variant of an input (zlib's default level, as export services use). */
export function gzip(bytes) {
  return new Uint8Array(gzipSync(bytes));
}
