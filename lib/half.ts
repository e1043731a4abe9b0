/** Decoding and encoding of 16-bit floats in JS (the native side has its own, in native/kernels/math.h). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** Widens bfloat16 or float16 bit patterns to float32 values. */
export function decodeHalf(bits: Uint16Array, dtype: 'bfloat16' | 'float16'): Float32Array {
  const out = new Float32Array(bits.length);
  if (dtype === 'bfloat16') {
    const view = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) view[i] = bits[i]! << 16;
  } else {
    for (let i = 0; i < bits.length; i++) out[i] = f16ToF32(bits[i]!);
  }
  return out;
}

/** Rounds a number to the nearest bfloat16 (ties to even), as the native conversion does. */
export function roundToBf16(x: number): number {
  f32[0] = x;
  let u = u32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return NaN;
  u = (u + 0x7fff + ((u >>> 16) & 1)) >>> 0;
  u32[0] = (u >>> 16) << 16;
  return f32[0]!;
}
