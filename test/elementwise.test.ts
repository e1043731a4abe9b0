/**
 * Elementwise ops against the float64 references (test/reference/elementwise.ts): every unary and binary
 * op, in float32, bfloat16, float16 and float64, on odd shapes, broadcast and non-contiguous operands,
 * scalars on either side, special values, and bad input.
 */
import { describe, expect, it } from 'vitest';

import * as lm from '../lib/index.js';
import { ArgumentTypeError, DisposedError, DTypeError, ShapeError, type Tensor, tensor } from '../lib/index.js';
import { assertClose, assertShape, assertThrows, TOL, type Tol } from './reference/check.js';
import { type BinaryName, refBinary, refBinaryScalar, refUnary, type UnaryName } from './reference/elementwise.js';
import { nd, type NdArray } from './reference/ndarray.js';
import { Rng } from './reference/prng.js';
import { refSlice, refTranspose } from './reference/views.js';
import { describeDevices } from './devices.js';

type FD = 'float32' | 'bfloat16' | 'float16' | 'float64';
const DTYPES: FD[] = ['float32', 'bfloat16', 'float16', 'float64'];
// 16384 elements is the pool's row grain: [130, 131] is split across threads when rows are independent.
const SHAPES = [[7, 13], [3, 1, 5], [2, 3, 37], [130, 131]];

const toNd = (t: Tensor): NdArray => nd(t.shape, t.dataSync());

function make(r: Rng, shape: number[], dtype: FD, lo = -3, hi = 3): { t: Tensor; a: NdArray } {
  const n = shape.reduce((x, y) => x * y, 1);
  const t = tensor(Array.from(r.array(n, lo, hi)), shape, dtype);
  return { t, a: toNd(t) }; // the reference reads the stored (rounded) inputs
}

const UNARY_DOMAIN: Record<UnaryName, [number, number]> = {
  neg: [-3, 3], exp: [-4, 4], log: [0.01, 50], sqrt: [0.01, 50], rsqrt: [0.01, 50], abs: [-3, 3], tanh: [-4, 4],
  sigmoid: [-8, 8], relu: [-3, 3], sin: [-7, 7], cos: [-7, 7], square: [-50, 50], reciprocal: [-3, 3],
};
const UNARY_OPS = Object.keys(UNARY_DOMAIN) as UnaryName[];
const BINARY_OPS: BinaryName[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'];

/** A number operand enters the computation as a float32 (a float64 for float64 tensors). */
const scalarIn = (s: number, dtype: FD): number => (dtype === 'float64' ? s : Math.fround(s));

function check(t: Tensor, want: NdArray, tol: Tol, what: string, dtype: FD): void {
  expect(t.dtype).toBe(dtype);
  assertShape(t.shape, want.shape, what);
  assertClose(t.dataSync(), want.data, tol, what);
}

describeDevices('unary ops', () => {
  for (const op of UNARY_OPS) {
    it(`${op}: every float dtype, odd shapes, contiguous and not`, () => {
      const r = new Rng(`unary ${op}`);
      const [lo, hi] = UNARY_DOMAIN[op];
      const fn = lm[op] as (t: Tensor) => Tensor;
      for (const dtype of DTYPES) {
        for (const shape of SHAPES) {
          const { t, a } = make(r, shape, dtype, lo, hi);
          check(fn(t), refUnary(op, a), TOL[dtype], `${op} ${dtype} [${shape}]`, dtype);
        }
        // non-contiguous: a transposed [131, 130] view (rows split across threads) and a stepped slice
        const { t, a } = make(r, [130, 131], dtype, lo, hi);
        check(fn(t.T), refUnary(op, refTranspose(a, 0, 1)), TOL[dtype], `${op} ${dtype} transposed`, dtype);
        const s = lm.slice(lm.slice(t, 1, 3, -1, 4), 0, -100, 57, 3);
        check(fn(s), refUnary(op, refSlice(refSlice(a, 1, 3, -1, 4), 0, -100, 57, 3)), TOL[dtype], `${op} ${dtype} sliced`, dtype);
      }
      // the method form agrees with the function
      const { t } = make(r, [7, 13], 'float32', lo, hi);
      expect(Array.from((t[op] as () => Tensor).call(t).dataSync())).toEqual(Array.from(fn(t).dataSync()));
    });
  }

  it('special values follow IEEE (and the references)', () => {
    const special = [0, -0, Infinity, -Infinity, NaN, -1, 1, 1e-30, -1e30, 88.8, -104];
    for (const dtype of ['float32', 'float64'] as const) {
      const t = tensor(special, undefined, dtype);
      const a = toNd(t);
      for (const op of UNARY_OPS) {
        const got = (lm[op] as (t: Tensor) => Tensor)(t).dataSync();
        const want = refUnary(op, a).data.map((v) => (dtype === 'float32' ? Math.fround(v) : v));
        assertClose(got, want, TOL[dtype], `${op} ${dtype} special values`);
      }
    }
    // spot checks that do not lean on the reference
    const x = tensor([-1, 0, NaN, -Infinity]);
    expect(Array.from(lm.log(x).dataSync())).toEqual([NaN, -Infinity, NaN, NaN]);
    expect(Array.from(lm.relu(x).dataSync())).toEqual([0, 0, NaN, 0]);
    expect(Array.from(lm.exp(x).dataSync())).toEqual([Math.fround(Math.exp(-1)), 1, NaN, 0]);
    expect(Array.from(lm.reciprocal(tensor([0, -0])).dataSync())).toEqual([Infinity, -Infinity]);
    expect(Array.from(lm.exp(tensor([12], undefined, 'float16')).dataSync())).toEqual([Infinity]); // past 65504
  });
});

describeDevices('binary ops', () => {
  const domain = (op: BinaryName): [[number, number], [number, number]] =>
    op === 'pow' ? [[0.05, 4], [-2.5, 2.5]] : [[-3, 3], [-3, 3]];

  for (const op of BINARY_OPS) {
    it(`${op}: same shapes, broadcasting both operands, non-contiguous, every float dtype`, () => {
      const r = new Rng(`binary ${op}`);
      const [da, db] = domain(op);
      const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
      const pairs: [number[], number[]][] = [
        [[7, 13], [7, 13]], [[3, 1, 5], [4, 1]], [[2, 3, 37], [37]], [[1, 37], [2, 3, 1]], [[130, 1], [1, 131]], [[], [7, 13]],
        [[2, 3, 37], []], [[130, 131], [130, 131]],
      ];
      for (const dtype of DTYPES) {
        for (const [sa, sb] of pairs) {
          const A = make(r, sa, dtype, ...da), B = make(r, sb, dtype, ...db);
          check(fn(A.t, B.t), refBinary(op, A.a, B.a), TOL[dtype], `${op} ${dtype} [${sa}] [${sb}]`, dtype);
        }
        // non-contiguous operands: a transpose with a stepped slice, broadcast against a column
        const A = make(r, [13, 20], dtype, ...da), B = make(r, [10, 1], dtype, ...db);
        const av = lm.slice(A.t.T, 0, 1, undefined, 2);
        const want = refBinary(op, refSlice(refTranspose(A.a, 0, 1), 0, 1, undefined, 2), B.a);
        check(fn(av, B.t), want, TOL[dtype], `${op} ${dtype} strided`, dtype);
        check(fn(B.t, av), refBinary(op, B.a, refSlice(refTranspose(A.a, 0, 1), 0, 1, undefined, 2)), TOL[dtype], `${op} ${dtype} strided, swapped`, dtype);
        // expanded (stride 0) operands
        const C = make(r, [1, 13], dtype, ...da);
        check(fn(C.t.expand(7, 13), A.t.slice(1, 0, 7).T), refBinary(op, C.a, refTranspose(refSlice(A.a, 1, 0, 7), 0, 1)), TOL[dtype], `${op} ${dtype} expanded`, dtype);
      }
    });

    it(`${op}: a number on either side`, () => {
      const r = new Rng(`scalar ${op}`);
      const [da, db] = domain(op);
      const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
      for (const dtype of DTYPES) {
        const A = make(r, [2, 3, 37], dtype, ...da);
        const s = r.uniform(...db);
        check(fn(A.t, s), refBinaryScalar(op, A.a, scalarIn(s, dtype)), TOL[dtype], `${op}(t, ${s}) ${dtype}`, dtype);
        const B = make(r, [7, 13], dtype, ...db);
        const s2 = r.uniform(...da);
        check(fn(s2, B.t), refBinaryScalar(op, B.a, scalarIn(s2, dtype), true), TOL[dtype], `${op}(${s2}, t) ${dtype}`, dtype);
        check(fn(s2, B.t.T), refBinaryScalar(op, refTranspose(B.a, 0, 1), scalarIn(s2, dtype), true), TOL[dtype], `${op}(${s2}, t.T) ${dtype}`, dtype);
        // method form
        check((A.t[op] as (x: number) => Tensor).call(A.t, s), refBinaryScalar(op, A.a, scalarIn(s, dtype)), TOL[dtype], `t.${op}(s) ${dtype}`, dtype);
      }
    });
  }

  it('empty operands broadcast to empty results', () => {
    for (const op of BINARY_OPS) {
      const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
      assertShape(fn(lm.zeros([0, 3]), lm.ones([3])).shape, [0, 3]);
      assertShape(fn(lm.zeros([2, 1, 0]), lm.ones([4, 1])).shape, [2, 4, 0]);
      assertShape(fn(lm.zeros([0]), 2).shape, [0]);
    }
    assertShape(lm.exp(lm.zeros([3, 0])).shape, [3, 0]);
  });

  it('views at an offset (contiguous slices) and results that do not depend on the thread count', () => {
    const r = new Rng('offset views');
    const A = make(r, [130, 131], 'float32'), B = make(r, [131], 'float32');
    const s = lm.slice(A.t, 0, 7, 120); // contiguous, offset 7 rows
    expect(s.isContiguous()).toBe(true);
    const as = refSlice(A.a, 0, 7, 120);
    check(lm.mul(s, B.t), refBinary('mul', as, B.a), TOL.float32, 'mul of an offset view', 'float32');
    check(lm.tanh(s), refUnary('tanh', as), TOL.float32, 'tanh of an offset view', 'float32');
    lm.setNumThreads(1);
    const one = [lm.add(A.t.T, 1).dataSync(), lm.pow(A.t, B.t).dataSync(), lm.sin(A.t.T).dataSync()];
    lm.setNumThreads(2);
    const two = [lm.add(A.t.T, 1).dataSync(), lm.pow(A.t, B.t).dataSync(), lm.sin(A.t.T).dataSync()];
    one.forEach((v, i) => expect(Array.from(two[i]!)).toEqual(Array.from(v)));
  });

  it('scalar order matters: 2 - t, t / 3, 2 ** t, t ** 2', () => {
    const r = new Rng('scalar order');
    const { t, a } = make(r, [3, 1, 5], 'float32', 0.1, 3);
    check(lm.sub(2, t), refBinaryScalar('sub', a, 2, true), TOL.float32, '2 - t', 'float32');
    check(lm.sub(t, 2), refBinaryScalar('sub', a, 2), TOL.float32, 't - 2', 'float32');
    check(lm.div(t, 3), refBinaryScalar('div', a, 3), TOL.float32, 't / 3', 'float32');
    check(lm.div(3, t), refBinaryScalar('div', a, 3, true), TOL.float32, '3 / t', 'float32');
    check(lm.pow(2, t), refBinaryScalar('pow', a, 2, true), TOL.float32, '2 ** t', 'float32');
    check(lm.pow(t, 2), refBinaryScalar('pow', a, 2), TOL.float32, 't ** 2', 'float32');
    expect(lm.sub(2, t).dataSync()[0]).toBeCloseTo(2 - a.data[0]!, 5);
  });

  it('pow: negative bases with integer exponents, and the IEEE special cases', () => {
    const r = new Rng('pow neg');
    const { t, a } = make(r, [7, 13], 'float32', -3, 3);
    for (const e of [2, 3, -1, 0]) check(lm.pow(t, e), refBinaryScalar('pow', a, e), TOL.float32, `t ** ${e}`, 'float32');
    const x = tensor([-2, 0, 0, 1, NaN, -1, 4]);
    const y = tensor([0.5, -1, 0, NaN, 0, Infinity, 0.5]);
    expect(Array.from(lm.pow(x, y).dataSync())).toEqual([NaN, Infinity, 1, 1, 1, 1, 2]);
  });

  it('maximum and minimum propagate NaN from either side', () => {
    const r = new Rng('nan');
    for (const dtype of DTYPES) {
      const va = Array.from(r.array(91)), vb = Array.from(r.array(91));
      for (let i = 0; i < 91; i += 4) va[i] = NaN;
      for (let i = 1; i < 91; i += 5) vb[i] = NaN;
      va[3] = Infinity;
      vb[3] = -Infinity;
      const ta = tensor(va, [7, 13], dtype), tb = tensor(vb, [7, 13], dtype);
      const A = toNd(ta), B = toNd(tb);
      for (const op of ['maximum', 'minimum'] as const) {
        const got = lm[op](ta, tb).dataSync();
        assertClose(got, refBinary(op, A, B).data, TOL[dtype], `${op} ${dtype} with NaN`);
        for (let i = 0; i < 91; i++) if (Number.isNaN(va[i]!) || Number.isNaN(vb[i]!)) expect(got[i]).toBeNaN();
        expect(got[3]).toBe(op === 'maximum' ? Infinity : -Infinity);
        expect(Array.from(lm[op](ta, NaN).dataSync()).every(Number.isNaN)).toBe(true);
        expect(Array.from(lm[op](NaN, tb).dataSync()).every(Number.isNaN)).toBe(true);
      }
    }
  });
});

describe('elementwise: bad input', () => {
  it('integer tensors are DTypeErrors naming the op and the dtype', () => {
    const i = tensor([1, 2, 3], undefined, 'int32');
    for (const op of UNARY_OPS) assertThrows(() => (lm[op] as (t: Tensor) => Tensor)(i), DTypeError, `${op}:`, 'int32');
    for (const op of BINARY_OPS) {
      const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
      assertThrows(() => fn(i, i), DTypeError, `${op}:`, 'int32');
      assertThrows(() => fn(i, 2), DTypeError, `${op}:`, 'int32');
      assertThrows(() => fn(2, tensor([1], undefined, 'uint8')), DTypeError, `${op}:`, 'uint8');
    }
  });

  it('mixed dtypes and unbroadcastable shapes', () => {
    const a = tensor([1, 2, 3]), h = tensor([1, 2, 3], undefined, 'float16'), b = tensor([1, 2, 3], undefined, 'bfloat16');
    for (const op of BINARY_OPS) {
      const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
      assertThrows(() => fn(a, h), DTypeError, `${op}:`, 'float32', 'float16');
      assertThrows(() => fn(b, a), DTypeError, `${op}:`, 'bfloat16', 'float32');
      assertThrows(() => fn(tensor([[1, 2], [3, 4]]), a), ShapeError, `${op}:`, '[2, 2]', '[3]');
      assertThrows(() => fn(lm.zeros([2, 3, 4]), lm.zeros([3, 1, 5])), ShapeError, `${op}:`, '[2, 3, 4]', '[3, 1, 5]');
    }
  });

  it('wrong argument types and disposed tensors', () => {
    const a = tensor([1, 2, 3]);
    for (const op of UNARY_OPS) {
      const fn = lm[op] as (t: unknown) => Tensor;
      assertThrows(() => fn('x'), ArgumentTypeError, `${op}:`, 'string x');
      assertThrows(() => fn([1, 2]), ArgumentTypeError, `${op}:`, 'array');
      assertThrows(() => fn(undefined), ArgumentTypeError, `${op}:`, 'undefined');
    }
    for (const op of BINARY_OPS) {
      const fn = lm[op] as (a: unknown, b: unknown) => Tensor;
      assertThrows(() => fn(a, 'x'), ArgumentTypeError, `${op}:`, 'string x');
      assertThrows(() => fn(2, 3), ArgumentTypeError, `${op}:`, 'number 2', 'number 3');
      assertThrows(() => fn(null, a), ArgumentTypeError, `${op}:`, 'null');
      assertThrows(() => fn(a, [1, 2, 3]), ArgumentTypeError, `${op}:`, 'array');
    }
    const d = tensor([1, 2, 3]);
    d.dispose();
    for (const op of UNARY_OPS) assertThrows(() => (lm[op] as (t: Tensor) => Tensor)(d), DisposedError, `${op}:`, 'disposed');
    for (const op of BINARY_OPS) {
      const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
      assertThrows(() => fn(d, a), DisposedError, `${op}:`, 'disposed');
      assertThrows(() => fn(a, d), DisposedError, `${op}:`, 'disposed');
      assertThrows(() => fn(d, 1), DisposedError, `${op}:`, 'disposed');
      assertThrows(() => fn(1, d), DisposedError, `${op}:`, 'disposed');
    }
    expect(Array.from(lm.add(a, 1).dataSync())).toEqual([2, 3, 4]); // the process lives on
  });
});
