// Seeded, deterministic benchmark data: the same bytes on every run and machine.

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
