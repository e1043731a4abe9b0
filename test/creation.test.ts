/**
 * Creation: seeded random numbers (exactly Philox4x32-10), constants, ranges and tensor() from JS data.
 * References in test/reference/ (philox.ts, numerics.ts); inputs from a seeded PRNG (prng.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  arange, ArgumentTypeError, DeviceError, DTypeError, full, LmforgeError, manualSeed, ones, onesLike, rand, randn, setNumThreads,
  ShapeError, tensor, ValueError, zeros, zerosLike,
} from '../lib/index.js';
import { native } from '../lib/native.js';
import { assertClose, assertEqual, assertShape, assertThrows, TOL } from './reference/check.js';
import { BF16, cast, F16, roundTo } from './reference/numerics.js';
import { philox4x32, philoxAt, refRand, refRandn, uniform01 } from './reference/philox.js';
import { Rng } from './reference/prng.js';

afterAll(() => setNumThreads(2));

// randn goes through the C library's logf and cosf, which need not be correctly rounded: allow a few ulps.
const RANDN_TOL = { rtol: 1e-6, atol: 1e-7 };

describe('global random stream', () => {
  // Must run first in this file: before any manualSeed call the stream is seed 0 at offset 0.
  it('starts at seed 0, offset 0', () => {
    assertEqual(rand([9]).dataSync(), refRand(9, 0, 0), 'first rand');
  });

  it('continues across calls (rand and randn share it) and restarts on manualSeed', () => {
    const seed = new Rng('stream').int(1, 2 ** 31);
    manualSeed(seed);
    const a = rand([5, 7]).dataSync();
    const b = randn([3, 11]).dataSync();
    const c = rand([13], { low: -1, high: 2 }).dataSync();
    assertEqual(a, refRand(35, seed, 0), 'rand at offset 0');
    assertClose(b, refRandn(33, seed, 35), RANDN_TOL, 'randn at offset 35');
    assertEqual(c, refRand(13, seed, 68, -1, 2), 'rand at offset 68');
    manualSeed(seed);
    assertEqual(rand([5, 7]).dataSync(), a, 'after manualSeed again');
    // a different seed gives different numbers
    manualSeed(seed + 1);
    expect(Array.from(rand([35]).dataSync())).not.toEqual(Array.from(a));
  });

  it('a draw that fails consumes no numbers', () => {
    manualSeed(21);
    expect(() => rand([5], { low: 2, high: 1 })).toThrow(ValueError);
    expect(() => randn([5], { std: -1 })).toThrow(ValueError);
    expect(() => rand([1 << 22, 1 << 22])).toThrow(LmforgeError); // far beyond memory
    assertEqual(rand([3]).dataSync(), refRand(3, 21, 0), 'stream after failed draws');
  });

  it('draws with an explicit seed neither use nor advance the stream', () => {
    manualSeed(3);
    const seeded = rand([4], { seed: 9 }).dataSync();
    assertEqual(seeded, refRand(4, 9, 0), 'seeded draw');
    randn([100], { seed: 11 });
    assertEqual(rand([6]).dataSync(), refRand(6, 3, 0), 'stream after seeded draws');
    assertEqual(rand([2]).dataSync(), refRand(2, 3, 6), 'stream continues');
  });
});

describe('Philox reference', () => {
  it('matches the Random123 known-answer vectors', () => {
    expect(philox4x32([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    expect(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });
});

describe('rand', () => {
  it('equals the Philox reference exactly, for seeds above 2^32 too', () => {
    const r = new Rng('rand exact');
    for (const seed of [0, r.int(1, 2 ** 31), 2 ** 40 + r.int(0, 1000), Number.MAX_SAFE_INTEGER]) {
      for (const shape of [[7, 13], [3, 1, 5], [2, 3, 37]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const t = rand(shape, { seed });
        assertShape(t.shape, shape);
        expect(t.dtype).toBe('float32');
        assertEqual(t.dataSync(), refRand(n, seed, 0), `rand seed ${seed} shape [${shape}]`);
      }
    }
  });

  it('uses the high word of the counter (offsets across 2^32)', () => {
    const seed = 5;
    const offset = 2 ** 32 - 6;
    const h = native.randUniform([12], 0, seed, offset, 0, 1, 0);
    try {
      const got = new Float32Array(h.read());
      const want = Array.from({ length: 12 }, (_, i) => uniform01(philoxAt(seed, BigInt(offset) + BigInt(i))[0]));
      assertEqual(got, want, 'rand across the 2^32 counter boundary');
      // the element past the boundary is not the one at counter 0
      expect(got[6]).not.toBe(uniform01(philoxAt(seed, 0)[0]));
    } finally {
      h.dispose();
    }
  });

  it('scales to [low, high) in float32 arithmetic, all values inside', () => {
    const r = new Rng('rand range');
    const low = r.uniform(-5, 0), high = low + r.uniform(0.5, 10);
    const seed = r.int(0, 1e9);
    const got = rand([3001], { seed, low, high }).dataSync();
    assertEqual(got, refRand(3001, seed, 0, low, high), 'rand low/high');
    for (const v of got) {
      expect(v).toBeGreaterThanOrEqual(Math.fround(low));
      expect(v).toBeLessThanOrEqual(Math.fround(high));
    }
  });

  it('stores bfloat16, float16 and float64 as the float32 value rounded (or widened)', () => {
    const seed = new Rng('rand dtypes').int(0, 1e9);
    const want = refRand(1000, seed, 0, -3, 3);
    assertEqual(rand([1000], { seed, low: -3, high: 3, dtype: 'bfloat16' }).dataSync(), want.map((v) => roundTo(v, BF16)), 'bf16');
    assertEqual(rand([1000], { seed, low: -3, high: 3, dtype: 'float16' }).dataSync(), want.map((v) => roundTo(v, F16)), 'f16');
    const f64 = rand([1000], { seed, low: -3, high: 3, dtype: 'float64' });
    expect(f64.dtype).toBe('float64');
    assertEqual(f64.dataSync(), want, 'f64');
  });

  it('does not depend on the thread count (work split across the pool)', () => {
    const n = 100_003;
    const seed = new Rng('rand threads').int(0, 1e9);
    setNumThreads(1);
    const one = rand([n], { seed }).dataSync();
    const oneN = randn([n], { seed }).dataSync();
    setNumThreads(2);
    const two = rand([n], { seed }).dataSync();
    const twoN = randn([n], { seed }).dataSync();
    assertEqual(two, one, 'rand 1 vs 2 threads');
    assertEqual(twoN, oneN, 'randn 1 vs 2 threads');
    assertEqual(two, refRand(n, seed, 0), 'rand vs reference');
  });
});

describe('randn', () => {
  it('equals the Box-Muller reference within a few float32 ulps', () => {
    const r = new Rng('randn ref');
    for (const seed of [r.int(0, 2 ** 31), 2 ** 33 + 1]) {
      const mean = r.uniform(-2, 2), std = r.uniform(0.1, 3);
      assertClose(randn([2, 3, 37], { seed }).dataSync(), refRandn(222, seed, 0), RANDN_TOL, `randn seed ${seed}`);
      // mean + std * z can cancel: the absolute tolerance scales with the terms
      const tol = { rtol: RANDN_TOL.rtol, atol: 1e-6 * (Math.abs(mean) + std) };
      assertClose(randn([7, 13], { seed, mean, std }).dataSync(), refRandn(91, seed, 0, mean, std), tol, 'randn mean/std');
    }
    const seed = r.int(0, 1e9);
    const ref = refRandn(500, seed, 0);
    assertClose(randn([500], { seed, dtype: 'bfloat16' }).dataSync(), ref.map((v) => roundTo(v, BF16)), TOL.bfloat16, 'bf16');
    assertClose(randn([500], { seed, dtype: 'float16' }).dataSync(), ref.map((v) => roundTo(v, F16)), TOL.float16, 'f16');
  });

  it('has the requested mean and standard deviation over 1e5 samples', () => {
    const r = new Rng('randn moments');
    for (const [m, s] of [[0, 1], [r.uniform(-3, 3), r.uniform(0.5, 2)]] as const) {
      const x = randn([100_000], { seed: r.int(0, 1e9), mean: m, std: s }).dataSync();
      let sum = 0, sq = 0;
      for (const v of x) sum += v;
      const mu = sum / x.length;
      for (const v of x) sq += (v - mu) ** 2;
      const sd = Math.sqrt(sq / (x.length - 1));
      expect(Math.abs(mu - m)).toBeLessThan(0.02 * s);
      expect(Math.abs(sd - s)).toBeLessThan(0.02 * s);
    }
    // and rand's: mean 1/2, variance 1/12
    const u = rand([100_000], { seed: r.int(0, 1e9) }).dataSync();
    const mu = u.reduce((a, b) => a + b, 0) / u.length;
    const v = u.reduce((a, b) => a + (b - mu) ** 2, 0) / u.length;
    expect(Math.abs(mu - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(v - 1 / 12)).toBeLessThan(0.005);
  });
});

describe('rand/randn bad input', () => {
  it('names the op and the offending value', () => {
    assertThrows(() => rand([2, -1]), ValueError, 'rand', '[2, -1]');
    assertThrows(() => rand('3' as never), ArgumentTypeError, 'rand', 'shape');
    assertThrows(() => rand([2], { dtype: 'int32' as never }), DTypeError, 'rand', 'int32');
    assertThrows(() => randn([2], { dtype: 'uint8' as never }), DTypeError, 'randn', 'uint8');
    assertThrows(() => rand([2], { dtype: 'float8' as never }), DTypeError, 'rand', 'float8');
    assertThrows(() => rand([2], { low: 2, high: 1, seed: 0 }), ValueError, 'rand', '2 and 1');
    assertThrows(() => rand([2], { low: NaN, seed: 0 }), ValueError, 'rand', /nan/i);
    assertThrows(() => rand([2], { high: 'x' as never, seed: 0 }), ArgumentTypeError, 'rand', 'high');
    assertThrows(() => randn([2], { std: -1, seed: 0 }), ValueError, 'randn', '-1');
    assertThrows(() => randn([2], { mean: Infinity, seed: 0 }), ValueError, 'randn', /inf/i);
    assertThrows(() => rand([2], { seed: -1 }), ValueError, 'rand', '-1');
    assertThrows(() => rand([2], { seed: 1.5 }), ArgumentTypeError, 'rand', '1.5');
    assertThrows(() => randn([2], { seed: 2 ** 53 }), ValueError, 'randn', String(2 ** 53));
    assertThrows(() => rand([2], { sed: 1 } as never), ValueError, 'rand', "unknown option 'sed'");
    assertThrows(() => randn([2], { low: 0 } as never), ValueError, 'randn', "unknown option 'low'");
    assertThrows(() => rand([2], { device: 'tpu' as never }), DeviceError, 'rand', 'tpu');
    assertThrows(() => manualSeed(-3), ValueError, 'manualSeed', '-3');
    assertThrows(() => manualSeed('7' as never), ArgumentTypeError, 'manualSeed', '7');
    expect(rand([2], { seed: 1 }).size).toBe(2); // still alive
  });
});

describe('full, zeros, ones, arange', () => {
  it('fill every dtype, rounding floats as astype does; integer dtypes take only the integers they hold', () => {
    const v = new Rng('full').uniform(-100, 100);
    const shape = [3, 1, 5];
    for (const dtype of ['float32', 'bfloat16', 'float16', 'float64', 'int32', 'uint8', 'int8'] as const) {
      const x = dtype.startsWith('float') || dtype === 'bfloat16' ? v : dtype === 'uint8' ? Math.abs(Math.trunc(v)) : Math.trunc(v);
      const t = full(shape, x, { dtype });
      expect(t.dtype).toBe(dtype);
      assertShape(t.shape, shape);
      assertEqual(t.dataSync(), new Array(15).fill(cast(x, 'float64', dtype)), `full ${dtype}`);
    }
    // as tensor() does: a value an integer dtype cannot hold is refused, not saturated or truncated
    assertThrows(() => full([2], 300, { dtype: 'uint8' }), ValueError, 'full', '300', 'uint8');
    assertThrows(() => full([2], -1e10, { dtype: 'int32' }), ValueError, 'full', '-10000000000', 'int32');
    assertThrows(() => full([2], 1.5, { dtype: 'int8' }), ValueError, 'full', '1.5', 'int8');
    assertEqual(full([2], 1e6, { dtype: 'float16' }).dataSync(), [Infinity, Infinity], 'f16 overflows to inf');
    assertEqual(full([1], NaN).dataSync(), [NaN], 'NaN in float32');
    assertEqual(zeros([4, 3], { dtype: 'int8' }).dataSync(), new Array(12).fill(0), 'zeros');
    assertEqual(ones([2, 2], { dtype: 'bfloat16' }).dataSync(), [1, 1, 1, 1], 'ones');
    const t = rand([2, 5], { dtype: 'float16', seed: 1 });
    const z = zerosLike(t), o = onesLike(t);
    expect([z.dtype, o.dtype]).toEqual(['float16', 'float16']);
    assertShape(z.shape, [2, 5]);
    assertEqual(o.dataSync(), new Array(10).fill(1), 'onesLike');
    expect(zeros([0, 3]).size).toBe(0);
    assertShape(full([], 2).shape, []);
    expect(full([], 2).item()).toBe(2);
  });

  it('arange: start + i*step below stop, int32 for integer arguments', () => {
    const a = arange(7);
    expect(a.dtype).toBe('int32');
    assertEqual(a.dataSync(), [0, 1, 2, 3, 4, 5, 6], 'arange(7)');
    assertEqual(arange(10, 1, -3).dataSync(), [10, 7, 4], 'negative step');
    assertEqual(arange(3, 3).dataSync(), [], 'empty');
    assertEqual(arange(5, 1).dataSync(), [], 'empty, wrong direction');
    const r = new Rng('arange');
    const start = r.uniform(-5, 5), step = r.uniform(0.01, 0.5), stop = start + r.uniform(1, 20);
    const f = arange(start, stop, step);
    expect(f.dtype).toBe('float32');
    const n = Math.ceil((stop - start) / step);
    assertEqual(f.dataSync(), Array.from({ length: n }, (_, i) => Math.fround(start + step * i)), 'float arange');
    const h = arange(start, stop, step, { dtype: 'bfloat16' });
    assertEqual(h.dataSync(), Array.from({ length: n }, (_, i) => cast(start + step * i, 'float64', 'bfloat16')), 'bf16 arange');
    assertEqual(arange(0, 1, 0.25, { dtype: 'float64' }).dataSync(), [0, 0.25, 0.5, 0.75], 'f64');
  });

  it('bad input names the op and the value', () => {
    assertThrows(() => full([2], NaN, { dtype: 'int32' }), ValueError, 'full', 'NaN', 'int32');
    assertThrows(() => full([2], 'a' as never), ArgumentTypeError, 'full', 'value');
    assertThrows(() => full([2, 1.5], 0), ValueError, 'full', '1.5');
    assertThrows(() => zeros([2], { dtype: 'complex64' as never }), DTypeError, 'zeros', 'complex64');
    assertThrows(() => ones([2], { dtyp: 'float32' } as never), ValueError, 'ones', "unknown option 'dtyp'");
    assertThrows(() => arange(0, 5, 0), ValueError, 'arange', 'step');
    assertThrows(() => arange(0, Infinity), ValueError, 'arange', /inf/i);
    assertThrows(() => arange(0, NaN, 1), ValueError, 'arange', /nan/i);
    assertThrows(() => arange('a' as never), ArgumentTypeError, 'arange', 'start');
    assertThrows(() => arange(0, 5, 1, { foo: 1 } as never), ValueError, 'arange', "unknown option 'foo'");
    // integer ranges past the dtype: an error, not wrapped garbage
    assertThrows(() => arange(2.5e9, 2.5e9 + 3), ValueError, 'arange', 'int32');
    assertThrows(() => arange(250, 260, 1, { dtype: 'uint8' }), ValueError, 'arange', '259', 'uint8');
    assertEqual(arange(-128, 128, 85, { dtype: 'int8' }).dataSync(), [-128, -43, 42, 127], 'int8 edge range');
  });
});

describe('tensor()', () => {
  it('takes nested arrays: shape and values, float32 by default', () => {
    const r = new Rng('nested');
    const v = Array.from({ length: 2 }, () => Array.from({ length: 3 }, () => Array.from({ length: 4 }, () => r.uniform(-9, 9))));
    const t = tensor(v);
    expect(t.dtype).toBe('float32');
    assertShape(t.shape, [2, 3, 4]);
    assertEqual(t.dataSync(), v.flat(2).map(Math.fround), 'nested values');
    expect(t.toArray()).toEqual(v.map((a) => a.map((b) => b.map(Math.fround))));
    const s = tensor(r.uniform(-1, 1));
    assertShape(s.shape, []);
    assertShape(tensor([]).shape, [0]);
    assertShape(tensor([[], []]).shape, [2, 0]);
    assertShape(tensor([[[5]]]).shape, [1, 1, 1]);
  });

  it('takes typed arrays and infers the dtype from them', () => {
    const r = new Rng('typed');
    const i32 = r.ints(20_000, -(2 ** 31), 2 ** 31);
    const ti = tensor(i32);
    expect(ti.dtype).toBe('int32');
    assertEqual(ti.dataSync(), i32, 'int32 round trip');
    const u8 = Uint8Array.from(r.ints(17, 0, 256));
    expect(tensor(u8).dtype).toBe('uint8');
    assertEqual(tensor(u8).dataSync(), u8, 'uint8');
    const i8 = Int8Array.from(r.ints(17, -128, 128));
    expect(tensor(i8).dtype).toBe('int8');
    assertEqual(tensor(i8).dataSync(), i8, 'int8');
    const f32 = Float32Array.from(r.array(91));
    const tf = tensor(f32, [7, 13]);
    expect(tf.dtype).toBe('float32');
    assertShape(tf.shape, [7, 13]);
    assertEqual(tf.dataSync(), f32, 'float32 with a shape');
    // a subarray view: its own elements, not its buffer's start
    const sub = i32.subarray(5, 12);
    assertEqual(tensor(sub).dataSync(), sub, 'subarray');
    // plain numbers into integer types are exact when they fit
    assertEqual(tensor([[1, -2], [3, 2147483647]], undefined, 'int32').dataSync(), [1, -2, 3, 2147483647], 'int32 from numbers');
    assertEqual(tensor(Float32Array.of(3, 200), undefined, 'uint8').dataSync(), [3, 200], 'uint8 from floats');
  });

  it('rounds to bfloat16 and float16 and keeps float64 exact', () => {
    const r = new Rng('tensor halves');
    const v = Array.from(r.array(300, -70000, 70000));
    assertEqual(tensor(v, undefined, 'bfloat16').dataSync(), v.map((x) => cast(x, 'float64', 'bfloat16')), 'bf16');
    assertEqual(tensor(v, undefined, 'float16').dataSync(), v.map((x) => cast(x, 'float64', 'float16')), 'f16 (overflow to inf)');
    const w = [0.1, 1 / 3, ...r.array(20)];
    const t = tensor(w, undefined, 'float64');
    expect(t.dtype).toBe('float64');
    assertEqual(t.dataSync(), w, 'float64 keeps every bit');
    assertEqual(tensor(Float64Array.from(w), undefined, 'float64').dataSync(), w, 'float64 from Float64Array');
  });

  it('bad data: ragged, non-numbers, non-integers into integer types, shape mismatch', () => {
    assertThrows(() => tensor([[1, 2], [3]]), ShapeError, 'tensor', 'ragged');
    assertThrows(() => tensor([[1, 2], 3] as never), ShapeError, 'tensor', 'ragged');
    assertThrows(() => tensor([1, [2]] as never), ShapeError, 'tensor', 'ragged');
    assertThrows(() => tensor([[[1], [2, 3]]]), ShapeError, 'tensor', 'ragged');
    assertThrows(() => tensor(['a'] as never), ArgumentTypeError, 'tensor', 'string a');
    assertThrows(() => tensor([true] as never), ArgumentTypeError, 'tensor', 'boolean true');
    assertThrows(() => tensor('abc' as never), ArgumentTypeError, 'tensor', 'string abc');
    assertThrows(() => tensor(new BigInt64Array(2) as never), ArgumentTypeError, 'tensor', 'BigInt64Array');
    assertThrows(() => tensor([1, 2.5], undefined, 'int32'), ValueError, 'tensor', '2.5', 'int32');
    assertThrows(() => tensor(Float32Array.of(1, 1.5), undefined, 'int32'), ValueError, 'tensor', '1.5');
    assertThrows(() => tensor([NaN], undefined, 'int8'), ValueError, 'tensor', 'NaN', 'int8');
    assertThrows(() => tensor([256], undefined, 'uint8'), ValueError, 'tensor', '256', 'uint8');
    assertThrows(() => tensor([-1], undefined, 'uint8'), ValueError, 'tensor', '-1');
    assertThrows(() => tensor([2 ** 31], undefined, 'int32'), ValueError, 'tensor', '2147483648');
    assertThrows(() => tensor(Int32Array.of(-5, 300), undefined, 'int8'), ValueError, 'tensor', '300');
    assertThrows(() => tensor([1, 2, 3], [2, 2]), ShapeError, 'tensor', '3 elements', '[2, 2]');
    assertThrows(() => tensor([1, 2], [2, -1]), ValueError, 'tensor', '[2, -1]');
    assertThrows(() => tensor([1], undefined, 'float8' as never), DTypeError, 'tensor', 'float8');
    assertThrows(() => tensor([1], undefined, undefined, 'tpu' as never), DeviceError, 'tensor', 'tpu');
    const e = assertThrows(() => tensor([[1], [2, 3]]), ShapeError);
    expect(e).toBeInstanceOf(LmforgeError);
    expect((e as LmforgeError).op).toBe('tensor');
    expect(tensor([1, 2]).size).toBe(2);
  });
});
