/**
 * Seeded test data: mulberry32 (Tommy Ettinger's 32-bit generator) and helpers that draw fresh random
 * inputs for each test, never zero. The run's base seed comes from LMF_TEST_SEED when set, else from the
 * clock, and every failure message carries it (see check.ts) so a failing run can be replayed.
 */

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n standard normals (Box-Muller on mulberry32(seed)) times `scale`, as float32. */
export function normals(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

const envSeed = typeof process !== 'undefined' ? process.env.LMF_TEST_SEED : undefined;
/** The run's base seed. */
export const BASE_SEED: number = envSeed !== undefined && envSeed !== '' ? Number(envSeed) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  readonly seed: number;
  readonly next: () => number;
  /** A generator for one test: `label` (the test's name) mixed with the run's base seed. */
  constructor(label: string, base = BASE_SEED) {
    this.seed = (hashString(label) ^ base) >>> 0;
    this.next = mulberry32(this.seed);
  }
  /** Uniform in [lo, hi), never exactly 0 (nor within 1e-3 of it, so quotients and logs stay tame). */
  uniform(lo: number, hi: number): number {
    for (;;) {
      const v = lo + (hi - lo) * this.next();
      if (Math.abs(v) > 1e-3) return v;
    }
  }
  /** n values uniform in [lo, hi), none near 0. */
  array(n: number, lo = -3, hi = 3): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
  /** n positive values in [lo, hi) with lo > 0. */
  positive(n: number, lo = 0.05, hi = 4): Float64Array {
    if (!(lo > 0)) throw new Error('positive: lo must be > 0');
    return this.array(n, lo, hi);
  }
  /** An integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor((hi - lo) * this.next());
  }
  ints(n: number, lo: number, hi: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(lo, hi);
    return out;
  }
}
