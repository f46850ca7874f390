// Userpilot events already delivered, by `internal_event_id`, across runs (issue 18): a day
// exported again by a later run (an overlapping range, a re-run) writes no event twice.
//
// What is kept is a 64-bit hash of each id, never the id, in one R2 object per day and run:
//   exports/userpilot/_seen/day=<YYYY-MM-DD>/run=<run id>.bin   (little-endian uint32 pairs)
// A run loads a day's objects of every other run the first time it meets an event of that day,
// and writes its own new hashes of each day once its events are in R2. A retried or resumed run
// ignores its own objects (written by an attempt whose object it writes again) and overwrites
// them, so the sets never claim an event that is not in R2.
//
// Memory: two open-addressing tables per day the run touches, 8 bytes a slot at most half full:
// about 16 to 32 bytes per event of those days (the id strings themselves are never kept). Two
// different ids share a 64-bit hash with odds of about n^2 / 2^65 (3 in a million for ten
// million events of one day); such an event would be taken for a repeat.

const SEEN_PREFIX = "exports/userpilot/_seen";

/** Two independent 32-bit hashes of a string (FNV-1a and a multiply-xor with murmur3's finaliser). */
export function hash64(s) {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  b ^= b >>> 16;
  b = Math.imul(b, 0x85ebca6b);
  b ^= b >>> 13;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  // (0, 0) marks an empty slot.
  return [a >>> 0, (b >>> 0) || 1];
}

/** A set of 64-bit hashes (pairs of uint32) in one typed array, doubled when half full. */
export class HashSet64 {
  #slots;
  size = 0;

  constructor(capacity = 1024) {
    this.#slots = new Uint32Array(2 * capacity);
  }

  #find(h, l) {
    const cap = this.#slots.length / 2;
    let i = (Math.imul(h ^ l, 0x9e3779b1) >>> 0) & (cap - 1);
    for (;;) {
      const sh = this.#slots[2 * i];
      const sl = this.#slots[2 * i + 1];
      if ((sh === 0 && sl === 0) || (sh === h && sl === l)) return i;
      i = (i + 1) & (cap - 1);
    }
  }

  has(h, l) {
    const i = this.#find(h, l);
    return this.#slots[2 * i + 1] !== 0 || this.#slots[2 * i] !== 0;
  }

  /** Adds; false when it was there already. */
  add(h, l) {
    if (2 * (this.size + 1) > this.#slots.length / 2) this.#grow();
    const i = this.#find(h, l);
    if (this.#slots[2 * i] !== 0 || this.#slots[2 * i + 1] !== 0) return false;
    this.#slots[2 * i] = h;
    this.#slots[2 * i + 1] = l;
    this.size++;
    return true;
  }

  #grow() {
    const old = this.#slots;
    this.#slots = new Uint32Array(old.length * 2);
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.add(old[i], old[i + 1]);
  }

  /** The hashes as packed pairs, for storage. */
  toBytes() {
    const out = new Uint32Array(2 * this.size);
    let k = 0;
    for (let i = 0; i < this.#slots.length; i += 2) {
      if (this.#slots[i] !== 0 || this.#slots[i + 1] !== 0) {
        out[k++] = this.#slots[i];
        out[k++] = this.#slots[i + 1];
      }
    }
    return new Uint8Array(out.buffer);
  }

  addBytes(bytes) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let o = 0; o + 8 <= bytes.byteLength; o += 8) this.add(v.getUint32(o, true), v.getUint32(o + 4, true));
  }
}

/** The UTC day of an event (`inserted_at`: microseconds, or an ISO time), or "unknown". */
export function eventDay(ev) {
  const t = ev?.inserted_at;
  let ms = NaN;
  if (typeof t === "number" || (typeof t === "string" && /^\d+$/.test(t))) ms = Math.floor(Number(t) / 1000);
  else if (typeof t === "string") ms = Date.parse(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : "unknown";
}

export class SeenEvents {
  #bucket;
  #runId;
  #days = new Map();
  duplicates = 0;
  seenBefore = 0;

  constructor(bucket, runId) {
    this.#bucket = bucket;
    this.#runId = runId;
  }

  async #day(day) {
    let d = this.#days.get(day);
    if (d) return d;
    d = { prior: new HashSet64(), mine: new HashSet64() };
    const prefix = `${SEEN_PREFIX}/day=${day}/`;
    const own = `${prefix}run=${this.#runId}.bin`;
    let cursor;
    do {
      const page = await this.#bucket.list({ prefix, cursor });
      for (const o of page.objects) {
        if (o.key === own) continue;
        const obj = await this.#bucket.get(o.key);
        if (obj) d.prior.addBytes(new Uint8Array(await obj.arrayBuffer()));
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    this.#days.set(day, d);
    return d;
  }

  /** True when the event is to be written: not in an earlier run, not earlier in this one. */
  async keep(ev) {
    const id = ev?.internal_event_id;
    if (typeof id !== "string" || id === "") return true;
    const [h, l] = hash64(id);
    const d = await this.#day(eventDay(ev));
    if (d.prior.has(h, l)) {
      this.seenBefore++;
      return false;
    }
    if (!d.mine.add(h, l)) {
      this.duplicates++;
      return false;
    }
    return true;
  }

  /** Writes this run's new hashes, one object per day; call once its events are in R2. */
  async save() {
    for (const [day, d] of this.#days) {
      const key = `${SEEN_PREFIX}/day=${day}/run=${this.#runId}.bin`;
      if (d.mine.size) await this.#bucket.put(key, d.mine.toBytes());
      else await this.#bucket.delete(key);
    }
    return [...this.#days.keys()].sort();
  }
}
