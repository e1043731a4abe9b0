/**
 * astype between every pair of dtypes against test/reference/numerics.ts: round-to-nearest-even into
 * bfloat16 and float16 (ties, subnormals, overflow to infinity), float to integer (truncation toward
 * zero, saturation, NaN to 0), integer to integer (saturation), on odd, large and non-contiguous tensors.
 */
import { describe, expect, it } from 'vitest';

import { ArgumentTypeError, astype, DisposedError, DTypeError, type DType, type Tensor, tensor } from '../lib/index.js';
import { roundToBf16 } from '../lib/half.js';
import { assertEqual, assertShape, assertThrows } from './reference/check.js';
import { BF16, cast, F16, F32, maxFinite, minSubnormal, type RefDType, roundTo } from './reference/numerics.js';
import { Rng } from './reference/prng.js';
import { refTranspose } from './reference/views.js';
import { nd } from './reference/ndarray.js';

const ALL: DType[] = ['float32', 'bfloat16', 'float16', 'float64', 'int32', 'uint8', 'int8'];
const FLOATS = new Set<DType>(['float32', 'bfloat16', 'float16', 'float64']);

/** Values that probe every conversion: specials, ties, subnormals, the integer ranges' edges. */
function floatProbes(r: Rng): number[] {
  const bfTie = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 3 * (1 + 5 * 2 ** -8), 2 ** 100 * (1 + 2 ** -8)];
  const f16Tie = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2048 + 3, 65520, 65519, 65504, -65520, 2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -25];
  const f16Sub = [2 ** -24, 3 * 2 ** -24, 1e-5, -6.1e-5, 2 ** -14 - 2 ** -25, 2 ** -14 - 2 ** -26, 2 ** -14];
  const f32Sub = [1e-40, -3e-39, 2 ** -149, 2 ** -126];
  const ints = [0.5, -0.5, 0.999, -0.999, 1.5, -1.5, 2.5, 127.9, 128, -128.9, -129, 255.5, 256, -1, 2 ** 31, 2147483520, -(2 ** 31), -3e9, 3e9, 1e20];
  const special = [NaN, Infinity, -Infinity, 0, -0, maxFinite(BF16), -maxFinite(F16), 3.4e38];
  const rnd = Array.from(r.array(40, -300, 300)).concat(Array.from(r.array(20, -1, 1)));
  return [...special, ...bfTie, ...f16Tie, ...f16Sub, ...f32Sub, ...ints, ...rnd];
}

function intProbes(r: Rng, d: 'int32' | 'uint8' | 'int8'): number[] {
  if (d === 'uint8') return [0, 1, 127, 128, 200, 255, ...Array.from(r.ints(30, 0, 256))];
  if (d === 'int8') return [-128, -127, -1, 0, 1, 127, ...Array.from(r.ints(30, -128, 128))];
  return [
    -(2 ** 31), 2 ** 31 - 1, -129, -128, 127, 128, 255, 256, -1, 0, 1, 2049, 65504, 65520, 65535, 16777217, 16842753, 16908289,
    ...Array.from(r.ints(30, -(2 ** 31), 2 ** 31)), ...Array.from(r.ints(30, -300, 300)),
  ];
}

/** A source tensor holding the probes (stored in dtype `src`) and the values it actually holds. */
function source(r: Rng, src: DType): { t: Tensor; vals: number[] } {
  const probes = FLOATS.has(src) ? floatProbes(r) : intProbes(r, src as 'int32' | 'uint8' | 'int8');
  const t = tensor(probes, [probes.length], src);
  return { t, vals: Array.from(t.dataSync() as ArrayLike<number>) };
}

describe('the reference formats', () => {
  it('round to nearest even, with subnormals and overflow', () => {
    expect(roundTo(1 + 2 ** -8, BF16)).toBe(1); // tie to even (down)
    expect(roundTo(1 + 3 * 2 ** -8, BF16)).toBe(1 + 2 ** -6); // tie to even (up)
    expect(roundTo(1 + 2 ** -8 + 2 ** -20, BF16)).toBe(1 + 2 ** -7); // above the tie
    expect(roundTo(65519, F16)).toBe(65504);
    expect(roundTo(65520, F16)).toBe(Infinity); // the tie past the largest half rounds to infinity
    expect(roundTo(2 ** -25, F16)).toBe(0); // half the smallest subnormal: tie to 0
    expect(roundTo(1.5 * 2 ** -25, F16)).toBe(2 ** -24);
    expect(roundTo(3 * 2 ** -25, F16)).toBe(2 ** -23); // 1.5 subnormal steps: tie to even (2)
    expect(roundTo(1e-5, F16)).toBe(168 * 2 ** -24);
    expect(minSubnormal(F16)).toBe(2 ** -24);
    expect(maxFinite(BF16)).toBe(Math.fround(maxFinite(BF16)));
    expect(roundTo(0.1, F32)).toBe(Math.fround(0.1));
    expect(cast(-0.7, 'float32', 'int8')).toBe(0);
    expect(cast(NaN, 'float32', 'int32')).toBe(0);
    expect(cast(300, 'int32', 'uint8')).toBe(255);
  });

  it("lib/half.ts's roundToBf16 agrees with the reference", () => {
    const r = new Rng('half.ts');
    const xs = [...floatProbes(r), ...Array.from(r.array(500, -1e6, 1e6))];
    for (const x of xs) {
      const got = roundToBf16(x), want = cast(x, 'float64', 'bfloat16');
      if (Number.isNaN(want)) expect(got).toBeNaN();
      else expect(got).toBe(want);
    }
  });
});

describe('astype', () => {
  for (const src of ALL) {
    it(`from ${src} to every dtype`, () => {
      const r = new Rng(`astype ${src}`);
      const { t, vals } = source(r, src);
      for (const dst of ALL) {
        const out = astype(t, dst);
        expect(out.dtype).toBe(dst);
        assertShape(out.shape, t.shape);
        assertEqual(out.dataSync() as ArrayLike<number>, vals.map((v) => cast(v, src as RefDType, dst as RefDType)), `${src} -> ${dst}`);
      }
    });
  }

  it('floats to integers truncate toward zero, saturate, and map NaN to 0', () => {
    const x = tensor([NaN, Infinity, -Infinity, 2.9, -2.9, 300.5, -300.5, 127.99, -128.99, 3e9, -3e9]);
    expect(Array.from(astype(x, 'int8').dataSync())).toEqual([0, 127, -128, 2, -2, 127, -128, 127, -128, 127, -128]);
    expect(Array.from(astype(x, 'uint8').dataSync())).toEqual([0, 255, 0, 2, 0, 255, 0, 127, 0, 255, 0]);
    expect(Array.from(astype(x, 'int32').dataSync())).toEqual([0, 2147483647, -2147483648, 2, -2, 300, -300, 127, -128, 2147483647, -2147483648]);
  });

  it('bfloat16 and float16 round to nearest even; float16 keeps subnormals and overflows to inf', () => {
    const bf = tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -16, -(1 + 2 ** -8), 3.5e38, 1e-40], undefined, 'float32');
    expect(Array.from(astype(bf, 'bfloat16').dataSync())).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7, -1, Infinity, roundTo(Math.fround(1e-40), BF16)]);
    const h = tensor([65504, 65519, 65520, -1e6, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 1e-5, 2049, 2051], undefined, 'float32');
    expect(Array.from(astype(h, 'float16').dataSync())).toEqual([65504, 65504, Infinity, -Infinity, 2 ** -24, 0, 2 ** -24, 168 * 2 ** -24, 2048, 2052]);
    const n = astype(tensor([NaN, -NaN]), 'bfloat16').dataSync();
    expect(Number.isNaN(n[0]) && Number.isNaN(n[1])).toBe(true);
  });

  it('converts through float32 into the 16-bit types (as PyTorch does)', () => {
    // 1 + 2^-8 + 2^-30 is just above a bfloat16 tie, but float32 rounds it onto the tie first
    const x = tensor([1 + 2 ** -8 + 2 ** -30], undefined, 'float64');
    expect(astype(x, 'bfloat16').item()).toBe(1);
    expect(astype(tensor([16842753], undefined, 'int32'), 'bfloat16').item()).toBe(16777216);
  });

  it('float32 <-> bfloat16 in bulk (the vectorised contiguous path) on every class of float', () => {
    // Random bit patterns: normals, subnormals, zeros, infinities and NaNs of both signs, plus ties.
    const r = new Rng('astype bf16 bulk');
    const bits = new Uint32Array(100_003);
    for (let i = 0; i < bits.length; i++) bits[i] = (r.ints(1, 0, 2 ** 31)[0]! * 2 + (i & 1)) >>> 0;
    for (let i = 0; i < bits.length; i += 7) bits[i] = ((bits[i]! & 0xffff0000) | 0x8000) >>> 0; // exact ties
    const f = new Float32Array(bits.buffer);
    const got = astype(tensor(f, [f.length]), 'bfloat16').dataSync();
    let bad = 0;
    for (let i = 0; i < f.length; i++) {
      const want = cast(f[i]!, 'float32', 'bfloat16');
      if (Number.isNaN(want) ? !Number.isNaN(got[i]!) : !Object.is(got[i], want)) bad++;
    }
    expect(bad).toBe(0);
    // Every bfloat16 value back to float32: exact.
    const all = new Float32Array(new Uint32Array(65536).map((_, i) => i << 16).buffer);
    const back = astype(tensor(all, [65536]).astype('bfloat16'), 'float32').dataSync();
    bad = 0;
    for (let i = 0; i < 65536; i++) if (Number.isNaN(all[i]!) ? !Number.isNaN(back[i]!) : !Object.is(back[i], all[i])) bad++;
    expect(bad).toBe(0);
  });

  it('large and non-contiguous sources', () => {
    const r = new Rng('astype strided');
    const vals = Array.from(r.array(130 * 131, -70000, 70000));
    const t = tensor(vals, [130, 131]);
    const a = nd([130, 131], t.dataSync());
    const tt = t.T; // copy split across threads, strided source
    const at = refTranspose(a, 0, 1).data;
    for (const dst of ALL) {
      assertEqual(astype(tt, dst).dataSync() as ArrayLike<number>, Array.from(at, (v) => cast(v, 'float32', dst as RefDType)), `float32.T -> ${dst}`);
    }
    const h = astype(t, 'float16');
    const ha = Array.from(h.dataSync());
    assertEqual(astype(h.T.slice(0, 1, undefined, 3), 'bfloat16').dataSync(),
      Array.from(refTranspose(nd([130, 131], ha), 0, 1).data).filter((_, i) => Math.floor(i / 130) % 3 === 1).map((v) => cast(v, 'float16', 'bfloat16')),
      'float16 strided -> bfloat16');
  });

  it('bad input names the op and the value', () => {
    const t = tensor([1, 2]);
    assertThrows(() => astype(t, 'float8' as never), DTypeError, 'astype:', 'float8');
    assertThrows(() => astype(t, 7 as never), DTypeError, 'astype:', '7');
    assertThrows(() => t.astype(undefined as never), DTypeError, 'astype:');
    assertThrows(() => astype('t' as never, 'int32'), ArgumentTypeError, 'astype:', 'string t');
    const d = tensor([1]);
    d.dispose();
    assertThrows(() => astype(d, 'int32'), DisposedError, 'astype:', 'disposed');
    expect(Array.from(astype(t, 'int8').dataSync())).toEqual([1, 2]);
  });
});
