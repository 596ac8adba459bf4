/**
 * The token filter: a compact set of listing tokens in memory, which lets a check answer "no
 * listing carries this token" without asking the database. It holds a 64-bit fingerprint of each token (its first 8 bytes) in
 * an open-addressing hash table of two Uint32Arrays, 8 bytes a slot: 10 million tokens fit in
 * 134 MB, where a JS Set of 10 million hex strings takes about 1 GB and V8 caps a Set near 16.7M
 * entries.
 *
 * It is a filter, not the truth: `mayContain` may say yes for a token no listing carries (two
 * tokens sharing 8 bytes, or a listing since retracted or expired), never no for one that is
 * stored. Tokens are HMAC outputs, so a false yes is a 1 in 2^64 event per stored token; every yes
 * is confirmed against the database (store/token-index.ts), so it costs one lookup, never a wrong answer.
 *
 * Slots are chosen from the fingerprint mixed with a random per-process seed: a peer controls the
 * tokens it lists, and must not be able to make them all land in one probe chain.
 */
import { randomBytes } from 'node:crypto';

const EMPTY = 0;
const MAX_LOAD = 0.7;
const MIN_CAPACITY = 1024;

function capacityFor(count: number): number {
  let capacity = MIN_CAPACITY;
  while (capacity * MAX_LOAD < count) capacity *= 2;
  return capacity;
}

/** murmur3's 32-bit finaliser over both halves: spreads every input bit over the slot index. */
function mix(hi: number, lo: number, seed: number): number {
  let h = (hi ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= lo;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** The whole state of a filter, as store/token-snapshot.ts writes it to disk and reads it back. */
export interface TokenFilterState {
  seed: number;
  count: number;
  hasZero: boolean;
  hi: Uint32Array;
  lo: Uint32Array;
}

export class TokenFilter {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private mask: number;
  private count = 0;
  /** The all-zero fingerprint marks an empty slot, so a token that has it is kept aside. */
  private hasZero = false;
  private readonly seed: number;

  constructor(expected = 0, state?: TokenFilterState) {
    if (state) {
      const capacity = state.hi.length;
      if (capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0 || state.lo.length !== capacity || state.count > capacity * MAX_LOAD) {
        throw new RangeError('not a token filter state');
      }
      this.hi = state.hi;
      this.lo = state.lo;
      this.mask = capacity - 1;
      this.count = state.count;
      this.hasZero = state.hasZero;
      this.seed = state.seed >>> 0;
      return;
    }
    const capacity = capacityFor(expected);
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.seed = randomBytes(4).readUInt32BE(0);
  }

  /** The arrays themselves, not copies: write them out before adding more. */
  state(): TokenFilterState {
    return { seed: this.seed, count: this.count, hasZero: this.hasZero, hi: this.hi, lo: this.lo };
  }

  get size(): number {
    return this.count + (this.hasZero ? 1 : 0);
  }

  /** Bytes held by the table itself. */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength;
  }

  /** Adds a token (at least 8 bytes; only the first 8 count). Adding one twice is harmless. */
  add(token: Uint8Array): void {
    this.addFingerprint(readU32(token, 0), readU32(token, 4));
  }

  mayContain(token: Uint8Array): boolean {
    const hi = readU32(token, 0);
    const lo = readU32(token, 4);
    if (hi === EMPTY && lo === EMPTY) return this.hasZero;
    let slot = mix(hi, lo, this.seed) & this.mask;
    for (;;) {
      const h = this.hi[slot]!;
      const l = this.lo[slot]!;
      if (h === hi && l === lo) return true;
      if (h === EMPTY && l === EMPTY) return false;
      slot = (slot + 1) & this.mask;
    }
  }

  private addFingerprint(hi: number, lo: number): void {
    if (hi === EMPTY && lo === EMPTY) {
      this.hasZero = true;
      return;
    }
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.grow();
    if (this.insert(this.hi, this.lo, this.mask, hi, lo)) this.count += 1;
  }

  private insert(his: Uint32Array, los: Uint32Array, mask: number, hi: number, lo: number): boolean {
    let slot = mix(hi, lo, this.seed) & mask;
    for (;;) {
      const h = his[slot]!;
      const l = los[slot]!;
      if (h === hi && l === lo) return false;
      if (h === EMPTY && l === EMPTY) {
        his[slot] = hi;
        los[slot] = lo;
        return true;
      }
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const his = new Uint32Array(capacity);
    const los = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let i = 0; i <= this.mask; i++) {
      const h = this.hi[i]!;
      const l = this.lo[i]!;
      if (h !== EMPTY || l !== EMPTY) this.insert(his, los, mask, h, l);
    }
    this.hi = his;
    this.lo = los;
    this.mask = mask;
  }
}
