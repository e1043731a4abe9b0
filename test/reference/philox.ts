/**
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11) in
 * exact 32-bit arithmetic, and the uniform and normal transforms lmforge builds on it
 * (native/kernels/math.h and elementwise_cpu.cpp): element i of a draw with (seed, offset) uses the
 * counter offset + i (low 32 bits in c0, high in c1, c2 = c3 = 0) and the key seed (low in k0, high in k1).
 */

const M0 = 0xd2511f53, M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9, W1 = 0xbb67ae85;

/** [hi, lo] of the 64-bit product of two uint32, from 16-bit halves (every partial product is exact in a double). */
export function mulhilo32(a: number, b: number): [number, number] {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
  const lo = Math.imul(a, b) >>> 0;
  return [hi, lo];
}

/** Philox4x32 with `rounds` rounds (10 is the standard) on a 4-word counter and 2-word key. */
export function philox4x32(ctr: readonly number[], key: readonly number[], rounds = 10): [number, number, number, number] {
  let [c0, c1, c2, c3] = ctr.map((v) => v >>> 0) as [number, number, number, number];
  let [k0, k1] = key.map((v) => v >>> 0) as [number, number];
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo32(M0, c0);
    const [hi1, lo1] = mulhilo32(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** Splits a non-negative integer below 2^64 (a safe integer or a bigint) into [low, high] uint32 words. */
export function words64(x: number | bigint): [number, number] {
  const b = BigInt(x);
  return [Number(b & 0xffffffffn), Number((b >> 32n) & 0xffffffffn)];
}

/** The four words for element i of a draw: counter offset + i, key seed. */
export function philoxAt(seed: number | bigint, counter: number | bigint): [number, number, number, number] {
  const [c0, c1] = words64(counter);
  return philox4x32([c0, c1, 0, 0], words64(seed));
}

/** A float32 uniform in [0, 1) from the top 24 bits of a word. */
export const uniform01 = (w: number): number => (w >>> 8) / 16777216;

const TWO_PI_F = Math.fround(6.283185307179586);

/** rand: low + (high - low) * u in float32 arithmetic, u from word 0. */
export function refRand(n: number, seed: number, offset: number, low = 0, high = 1): Float64Array {
  const f = Math.fround;
  const lo = f(low), span = f(f(high) - lo);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(lo + f(span * uniform01(philoxAt(seed, BigInt(offset) + BigInt(i))[0])));
  return out;
}

/**
 * randn: Box-Muller in float32 arithmetic on u1 = 1 - uniform(word 0) in (0, 1] and u2 = uniform(word 1):
 * z = sqrt(-2 log u1) cos(2 pi u2); out = mean + std * z.
 * The float32 log and cos come from rounding the float64 ones, so they can differ from a C library's logf
 * and cosf in the last place.
 */
export function refRandn(n: number, seed: number, offset: number, mean = 0, std = 1): Float64Array {
  const f = Math.fround;
  const m = f(mean), s = f(std);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = philoxAt(seed, BigInt(offset) + BigInt(i));
    const u1 = f(1 - uniform01(w[0]));
    const u2 = uniform01(w[1]);
    const r = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const z = f(r * f(Math.cos(f(TWO_PI_F * u2))));
    out[i] = f(m + f(s * z));
  }
  return out;
}
