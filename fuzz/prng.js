// A small seeded PRNG (mulberry32) and the helpers the fuzzers draw from. Every input of
// a fuzzer gets a seed of its own (a 32-bit unsigned integer): the same seed always
// generates the same input, so `npm run fuzz -- --seed N` replays exactly one failure.
'use strict';

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of input `i` of a run started with `base` (a 32-bit hash of both). */
function seedFor(base, i) {
  let h = (base ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

class Rng {
  constructor(seed) {
    this.seed = seed >>> 0;
    this.next = mulberry32(this.seed);
  }

  /** An integer in [0, n). */
  int(n) { return Math.floor(this.next() * n); }
  /** An integer in [lo, hi]. */
  range(lo, hi) { return lo + this.int(hi - lo + 1); }
  chance(p) { return this.next() < p; }
  pick(list) { return list[this.int(list.length)]; }
  /** Picks from [[weight, value], ...]. */
  weighted(list) {
    let total = 0;
    for (const [w] of list) total += w;
    let x = this.next() * total;
    for (const [w, v] of list) {
      x -= w;
      if (x < 0) return v;
    }
    return list[list.length - 1][1];
  }
  /** A size spread over orders of magnitude: 0..max, small values most likely. */
  logSize(max) { return Math.floor(Math.exp(this.next() * Math.log(max + 1))) - 1; }
  bytes(n) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

module.exports = { Rng, seedFor, mulberry32 };
