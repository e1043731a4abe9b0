/**
 * Reductions against the float64 reference (test/reference/reduce.ts): sum, mean, max, min over any set
 * of dimensions with and without keepdim, argmax/argmin, NaN, empty dimensions, and bad input.
 */
import { describe, expect, it } from 'vitest';

import * as lm from '../lib/index.js';
import { ArgumentTypeError, DisposedError, DTypeError, ShapeError, type Tensor, tensor, ValueError } from '../lib/index.js';
import { assertClose, assertEqual, assertShape, assertThrows, TOL } from './reference/check.js';
import { nd, type NdArray } from './reference/ndarray.js';
import { Rng } from './reference/prng.js';
import { refReduce, type ReduceName } from './reference/reduce.js';
import { refPermute, refSlice, refTranspose } from './reference/views.js';
import { describeDevices } from './devices.js';

type FD = 'float32' | 'bfloat16' | 'float16' | 'float64';
const DTYPES: FD[] = ['float32', 'bfloat16', 'float16', 'float64'];
const VALUE_OPS = ['sum', 'mean', 'max', 'min'] as const;

const toNd = (t: Tensor): NdArray => nd(t.shape, t.dataSync());

function make(r: Rng, shape: number[], dtype: FD, lo = -3, hi = 3): { t: Tensor; a: NdArray } {
  const n = shape.reduce((x, y) => x * y, 1);
  const t = tensor(Array.from(r.array(n, lo, hi)), shape, dtype);
  return { t, a: toNd(t) };
}

/** Every non-empty subset of the dims of an n-d tensor, and undefined (all). */
function dimSets(n: number): (number[] | undefined)[] {
  const out: (number[] | undefined)[] = [undefined];
  for (let m = 1; m < 1 << n; m++) out.push([...Array(n).keys()].filter((d) => m & (1 << d)));
  return out;
}

function check(t: Tensor, want: NdArray, dtype: string, what: string): void {
  expect(t.dtype).toBe(dtype);
  assertShape(t.shape, want.shape, what);
  const tol = dtype === 'int32' ? { rtol: 0, atol: 0 } : TOL[dtype as FD];
  assertClose(t.dataSync(), want.data, tol, what);
}

describeDevices('sum, mean, max, min', () => {
  for (const op of VALUE_OPS) {
    it(`${op}: every dim set, keepdim or not, every float dtype`, () => {
      const r = new Rng(`reduce ${op}`);
      const fn = lm[op] as (t: Tensor, dim?: number | number[], keepdim?: boolean) => Tensor;
      for (const dtype of DTYPES) {
        for (const shape of [[7, 13], [3, 1, 5], [2, 3, 37]]) {
          const { t, a } = make(r, shape, dtype);
          for (const dims of dimSets(shape.length)) {
            for (const keepdim of [false, true]) {
              const what = `${op} ${dtype} [${shape}] dims ${dims ? `[${dims}]` : 'all'} keepdim ${keepdim}`;
              check(fn(t, dims, keepdim), refReduce(op, a, dims, keepdim), dtype, what);
            }
          }
          // a single negative dim, as a number
          check(fn(t, -1), refReduce(op, a, [-1]), dtype, `${op} ${dtype} dim -1`);
          check((t[op] as (d?: number, k?: boolean) => Tensor).call(t, 0, true), refReduce(op, a, [0], true), dtype, `t.${op}(0, true)`);
        }
      }
    });

    it(`${op}: large and non-contiguous inputs`, () => {
      const r = new Rng(`reduce big ${op}`);
      const fn = lm[op] as (t: Tensor, dim?: number | number[], keepdim?: boolean) => Tensor;
      for (const dtype of ['float32', 'bfloat16'] as const) {
        const { t, a } = make(r, [130, 131], dtype); // > 16384 elements: rows split across threads
        for (const dims of [undefined, [0], [1], [0, 1]]) check(fn(t, dims), refReduce(op, a, dims), dtype, `${op} ${dtype} [130, 131] ${dims}`);
        const tt = t.T;
        const at = refTranspose(a, 0, 1);
        for (const dims of [undefined, [0], [1]]) check(fn(tt, dims, true), refReduce(op, at, dims, true), dtype, `${op} ${dtype} transposed ${dims}`);
        const s = lm.slice(lm.slice(t, 0, 5, -3, 3), 1, -100, 120, 2);
        const as = refSlice(refSlice(a, 0, 5, -3, 3), 1, -100, 120, 2);
        for (const dims of [undefined, [0], [-1]]) check(fn(s, dims), refReduce(op, as, dims), dtype, `${op} ${dtype} sliced ${dims}`);
        const B = make(r, [2, 3, 4, 37], dtype);
        const p = lm.permute(B.t, [3, 1, 0, 2]);
        const ap = refPermute(B.a, [3, 1, 0, 2]);
        for (const dims of [[0, 2], [1, 3], [0, 1, 3]]) check(fn(p, dims), refReduce(op, ap, dims), dtype, `${op} ${dtype} permuted ${dims}`);
      }
    });
  }

  it('contiguous views at an offset, and results that do not depend on the thread count', () => {
    const r = new Rng('reduce offset');
    const { t, a } = make(r, [130, 131], 'float32');
    const s = lm.slice(t, 0, 9, 121);
    expect(s.isContiguous()).toBe(true);
    const as = refSlice(a, 0, 9, 121);
    for (const op of VALUE_OPS) for (const dims of [undefined, [0], [1]]) check(lm[op](s, dims), refReduce(op, as, dims), 'float32', `${op} offset view ${dims}`);
    check(lm.argmax(s, 1), refReduce('argmax', as, [1]), 'int32', 'argmax offset view');
    const run = () => [lm.sum(t, 0), lm.mean(t.T, [0]), lm.max(t, 1), lm.argmin(t, 0), lm.sum(t)].map((x) => Array.from(x.dataSync()));
    lm.setNumThreads(1);
    const one = run();
    lm.setNumThreads(2);
    expect(run()).toEqual(one);
  });

  it('sums accumulate in float64: many small terms beside a large one', () => {
    const n = 40_001;
    const v = new Float32Array(n).fill(1);
    v[0] = 2 ** 25; // float32 accumulation would lose every +1
    const s = lm.sum(tensor(v)).item();
    expect(s).toBe(2 ** 25 + n - 1);
    expect(lm.mean(tensor(v)).item()).toBe(Math.fround((2 ** 25 + n - 1) / n));
  });

  it('NaN wins in max and min; infinities are ordinary values', () => {
    const r = new Rng('reduce nan');
    for (const dtype of DTYPES) {
      const v = Array.from(r.array(91));
      v[17] = NaN;
      v[40] = NaN;
      v[5] = Infinity;
      v[6] = -Infinity;
      const t = tensor(v, [7, 13], dtype);
      const a = toNd(t);
      for (const op of ['max', 'min', 'argmax', 'argmin', 'sum'] as const) {
        for (const dims of [undefined, [0], [1]]) {
          const fn = lm[op] as (t: Tensor, dim?: number | number[]) => Tensor;
          if ((op === 'argmax' || op === 'argmin') && dims === undefined) continue;
          const got = fn(t, op.startsWith('arg') ? dims![0] : dims);
          check(got, refReduce(op, a, dims), op.startsWith('arg') ? 'int32' : dtype, `${op} ${dtype} with NaN, dims ${dims}`);
        }
      }
      expect(lm.max(t).item()).toBeNaN();
      expect(lm.argmax(t).item()).toBe(17); // the first NaN
      expect(lm.argmin(t).item()).toBe(17);
      expect(lm.max(t, 1).dataSync()[0]).toBe(Infinity); // row 0 holds +inf and no NaN
      expect(lm.min(t, 1).dataSync()[0]).toBe(-Infinity);
    }
  });

  it('empty dimensions: sum is 0, the others are ValueErrors', () => {
    const e = lm.zeros([3, 0, 4]);
    check(lm.sum(e, 1), nd([3, 4]), 'float32', 'sum over an empty dim');
    check(lm.sum(e, 1, true), nd([3, 1, 4]), 'float32', 'sum over an empty dim, keepdim');
    expect(lm.sum(e).item()).toBe(0);
    assertShape(lm.max(e, 0).shape, [0, 4]); // reducing a non-empty dim of an empty tensor
    for (const op of ['mean', 'max', 'min'] as const) assertThrows(() => lm[op](e, 1), ValueError, `${op}:`, 'empty', '[3, 0, 4]');
    assertThrows(() => lm.argmax(e, 1), ValueError, 'argmax:', 'empty');
  });

  it('a scalar reduces to itself; an empty dim list reduces nothing', () => {
    const s = tensor(2.5);
    for (const op of VALUE_OPS) expect(lm[op](s).item()).toBe(2.5);
    const r = new Rng('reduce nothing');
    const { t, a } = make(r, [3, 1, 5], 'float32');
    check(lm.sum(t, []), a, 'float32', 'sum over []');
  });
});

describeDevices('argmax and argmin', () => {
  it('index of the first extreme along a dim, or of the flattened tensor', () => {
    const r = new Rng('arg');
    for (const dtype of DTYPES) {
      for (const shape of [[7, 13], [3, 1, 5], [2, 3, 37], [130, 131]]) {
        const { t, a } = make(r, shape, dtype);
        for (const op of ['argmax', 'argmin'] as const) {
          const flat = lm[op](t);
          check(flat, refReduce(op, nd([a.data.length], a.data), [0]), 'int32', `${op} ${dtype} [${shape}] flattened`);
          for (let d = -shape.length; d < shape.length; d++) {
            for (const keepdim of [false, true]) {
              check(lm[op](t, d, keepdim), refReduce(op, a, [d], keepdim), 'int32', `${op} ${dtype} [${shape}] dim ${d} keepdim ${keepdim}`);
            }
          }
          check(lm[op](t.T, 0), refReduce(op, refTranspose(a, -2, -1), [0]), 'int32', `${op} ${dtype} transposed`);
        }
      }
    }
  });

  it('ties go to the first index (small integers collide often)', () => {
    const r = new Rng('arg ties');
    for (const dtype of ['float32', 'bfloat16', 'float16'] as const) {
      const v = Array.from({ length: 2 * 3 * 37 }, () => r.int(-3, 4));
      const t = tensor(v, [2, 3, 37], dtype);
      const a = toNd(t);
      for (const op of ['argmax', 'argmin'] as const) {
        for (const d of [0, 1, 2]) check(lm[op](t, d), refReduce(op, a, [d]), 'int32', `${op} ${dtype} ties dim ${d}`);
        const flat = lm[op](t).item();
        const extreme = op === 'argmax' ? Math.max(...v) : Math.min(...v);
        expect(flat).toBe(v.indexOf(extreme));
      }
    }
  });
});

describe('reductions: bad input', () => {
  it('integer dtypes, bad dims, bad types, disposed tensors', () => {
    const i = tensor([[1, 2], [3, 4]], undefined, 'int32');
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    const ops = [...VALUE_OPS, 'argmax', 'argmin'] as const;
    for (const op of ops) {
      const fn = lm[op] as (t: unknown, dim?: unknown, keepdim?: unknown) => Tensor;
      assertThrows(() => fn(i, 0), DTypeError, `${op}:`, 'int32');
      assertThrows(() => fn(tensor([1], undefined, 'uint8'), 0), DTypeError, `${op}:`, 'uint8');
      assertThrows(() => fn(t, 2), ShapeError, `${op}:`, 'dimension 2');
      assertThrows(() => fn(t, -3), ShapeError, `${op}:`, 'dimension -3');
      assertThrows(() => fn(t, 0.5), ArgumentTypeError, `${op}:`, '0.5');
      assertThrows(() => fn(t, 'a'), ArgumentTypeError, `${op}:`, 'string a');
      assertThrows(() => fn(t, 0, 'yes'), ArgumentTypeError, `${op}:`, 'keepdim');
      assertThrows(() => fn('x'), ArgumentTypeError, `${op}:`, 'string x');
      assertThrows(() => fn(null, 0), ArgumentTypeError, `${op}:`, 'null');
    }
    for (const op of VALUE_OPS) {
      const fn = lm[op] as (t: unknown, dim?: unknown) => Tensor;
      assertThrows(() => fn(t, [0, 0]), ShapeError, `${op}:`, 'dimension 0 repeated');
      assertThrows(() => fn(t, [1, -1]), ShapeError, `${op}:`, 'repeated');
      assertThrows(() => fn(t, [0, 'b']), ArgumentTypeError, `${op}:`, 'string b');
    }
    const d = tensor([1, 2, 3]);
    d.dispose();
    for (const op of ops) {
      assertThrows(() => (lm[op] as (t: Tensor, dim?: number) => Tensor)(d), DisposedError, `${op}:`, 'disposed');
      assertThrows(() => (lm[op] as (t: Tensor, dim?: number) => Tensor)(d, 0), DisposedError, `${op}:`, 'disposed');
    }
    expect(lm.sum(t).item()).toBe(21);
  });
});
