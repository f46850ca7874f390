// Seeded randomness for the sandbox. Data must be a pure function of (seed, object, index) so that
// ground truth can be regenerated at any time and huge exports can be produced record by record
// without holding them in memory; Math.random is therefore never used for data.

/** mulberry32: small, fast, good enough for test data. Returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers and strings into one 32-bit value (murmur3-style finaliser per part). */
export function hash32(...parts) {
  let h = 0x811c9dc5;
  for (const part of parts) {
    if (typeof part === "number") {
      // Split into two 32-bit halves so indices above 2^32 still hash distinctly.
      const lo = part >>> 0;
      const hi = Math.floor(part / 4294967296) >>> 0;
      h = mixInt(h, lo);
      h = mixInt(h, hi);
    } else {
      const s = String(part);
      for (let i = 0; i < s.length; i++) h = mixInt(h, s.charCodeAt(i));
      h = mixInt(h, 0x9e3779b9);
    }
  }
  return fmix(h);
}

function mixInt(h, k) {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

function fmix(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A generator of convenience draws over one seeded stream. */
export class Rng {
  constructor(seed) {
    this.next = mulberry32(seed);
  }
  float() {
    return this.next();
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo, hi) {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick(list) {
    return list[Math.floor(this.next() * list.length)];
  }
  chance(p) {
    return this.next() < p;
  }
  /** Fixed-length string over an alphabet; used for Salesforce-like ids. */
  chars(n, alphabet = BASE62) {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
  hex(n) {
    return this.chars(n, "0123456789abcdef");
  }
  /** A UUID-shaped string (v4 layout) drawn from this stream. */
  uuid() {
    const h = this.hex(32);
    const v = "89ab"[Math.floor(this.next() * 4)];
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${v}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** An Rng for one record: independent of every other record, so records can be made out of order. */
export function rngFor(seed, tag, index) {
  return new Rng(hash32(seed, tag, index));
}
