/**
 * Number formats from their definitions (IEEE 754 binary16; bfloat16 = binary32 with 7 fraction bits):
 * round-to-nearest-even with subnormals and overflow to infinity, written with arithmetic on float64
 * (no bit tricks), and the casts between lmforge's dtypes.
 */

export interface Format {
  /** fraction bits */
  mant: number;
  /** smallest normal exponent */
  emin: number;
  /** largest exponent */
  emax: number;
}

export const BF16: Format = { mant: 7, emin: -126, emax: 127 };
export const F16: Format = { mant: 10, emin: -14, emax: 15 };
export const F32: Format = { mant: 23, emin: -126, emax: 127 };

/** floor(log2(|x|)) exactly, for finite non-zero x. */
function exponentOf(x: number): number {
  let e = Math.floor(Math.log2(Math.abs(x)));
  // Math.log2 may be off by one near powers of two
  while (2 ** e > Math.abs(x)) e--;
  while (2 ** (e + 1) <= Math.abs(x)) e++;
  return e;
}

/** Rounds to nearest, ties to even. */
function rne(q: number): number {
  const f = Math.floor(q);
  const frac = q - f;
  if (frac > 0.5) return f + 1;
  if (frac < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** x rounded to the format (x itself exact as a float64): RNE, subnormals, overflow to ±inf. */
export function roundTo(x: number, fmt: Format): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const e = Math.max(exponentOf(x), fmt.emin);
  const quantum = 2 ** (e - fmt.mant); // spacing of the format's numbers around |x|
  const r = rne(Math.abs(x) / quantum) * quantum;
  if (r >= 2 ** (fmt.emax + 1)) return x < 0 ? -Infinity : Infinity;
  return x < 0 ? -r : r;
}

export const maxFinite = (fmt: Format): number => (2 - 2 ** -fmt.mant) * 2 ** fmt.emax;
export const minSubnormal = (fmt: Format): number => 2 ** (fmt.emin - fmt.mant);

export type RefDType = 'float32' | 'bfloat16' | 'float16' | 'int32' | 'uint8' | 'int8' | 'float64';
export const INT_RANGE: Record<'int32' | 'uint8' | 'int8', [number, number]> = {
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  int8: [-128, 127],
};

export const isIntDType = (d: RefDType): d is 'int32' | 'uint8' | 'int8' => d === 'int32' || d === 'uint8' || d === 'int8';

/** A float to an integer type: truncation toward zero, saturation at the type's range, NaN to 0. */
export function floatToInt(x: number, d: 'int32' | 'uint8' | 'int8'): number {
  if (Number.isNaN(x)) return 0;
  const [lo, hi] = INT_RANGE[d];
  if (x <= lo) return lo;
  if (x >= hi) return hi;
  return Math.trunc(x) + 0; // +0 turns -0 into 0
}

/**
 * The value `x` (held in dtype `from`) becomes in dtype `to`. lmforge converts to the 16-bit float
 * types through float32 (as PyTorch does), so a float64 or int32 source is first rounded to float32.
 */
export function cast(x: number, from: RefDType, to: RefDType): number {
  if (from === to) return x;
  if (isIntDType(to)) {
    if (isIntDType(from)) {
      const [lo, hi] = INT_RANGE[to];
      return Math.min(Math.max(x, lo), hi);
    }
    return floatToInt(x, to);
  }
  switch (to) {
    case 'float64': return x;
    case 'float32': return Math.fround(x);
    case 'bfloat16': return roundTo(Math.fround(x), BF16);
    case 'float16': return roundTo(Math.fround(x), F16);
  }
  throw new Error(`cast: unknown dtype ${to}`);
}
