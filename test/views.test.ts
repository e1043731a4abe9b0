/**
 * Views (reshape, transpose, permute, slice, expand, squeeze, unsqueeze) share storage and show the
 * values of the reference index maps (test/reference/views.ts); contiguous/clone copy.
 */
import { describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, clone, contiguous, copyInto, DisposedError, expand, permute, reshape, ShapeError, slice, squeeze, type Tensor,
  tensor, transpose, unsqueeze, ValueError,
} from '../lib/index.js';
import { assertEqual, assertShape, assertThrows } from './reference/check.js';
import { nd, type NdArray, stridesOf } from './reference/ndarray.js';
import { Rng } from './reference/prng.js';
import { refExpand, refPermute, refReshape, refSlice, refTranspose, sliceBounds } from './reference/views.js';

const toNd = (t: Tensor): NdArray => nd(t.shape, t.dataSync());

/** A float32 tensor of distinct random values (so a wrong index map cannot go unseen), and its values. */
function distinct(r: Rng, shape: number[], dtype: 'float32' | 'bfloat16' | 'int32' = 'float32'): { t: Tensor; a: NdArray } {
  const n = shape.reduce((x, y) => x * y, 1);
  const perm = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = r.int(0, i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  // integers up to 256 are exact in bfloat16 too
  const vals = dtype === 'bfloat16' ? perm.map((v) => (v % 256) + 1) : perm.map((v) => (r.next() < 0.5 ? -v : v));
  const t = tensor(vals, shape, dtype);
  return { t, a: nd(shape, t.dataSync()) };
}

describe('reshape', () => {
  it('of a contiguous tensor is a view in row-major order; -1 is inferred', () => {
    const r = new Rng('reshape');
    const { t, a } = distinct(r, [2, 3, 37]);
    for (const shape of [[6, 37], [37, 6], [-1], [2, -1], [3, 2, 37, 1], [1, 222]]) {
      const v = reshape(t, shape);
      const want = refReshape(a, shape);
      assertShape(v.shape, want.shape, `reshape to [${shape}]`);
      expect(v.sharesStorageWith(t)).toBe(true);
      expect(v.isContiguous()).toBe(true);
      assertEqual(v.dataSync(), want.data, `reshape to [${shape}]`);
    }
    // the method forms
    assertShape(t.reshape(37, 6).shape, [37, 6]);
    assertShape(t.view([6, 37]).shape, [6, 37]);
    assertShape(t.flatten().shape, [222]);
  });

  it('of a non-contiguous view copies the values in the view order', () => {
    const r = new Rng('reshape copy');
    const { t, a } = distinct(r, [7, 13]);
    const tt = transpose(t, 0, 1);
    const v = reshape(tt, [13 * 7]);
    expect(v.sharesStorageWith(t)).toBe(false);
    assertEqual(v.dataSync(), refTranspose(a, 0, 1).data, 'reshape of a transpose');
  });
});

describe('transpose and permute', () => {
  it('swap strides without copying; values follow the index map', () => {
    const r = new Rng('transpose');
    const { t, a } = distinct(r, [3, 1, 5]);
    const base = stridesOf([3, 1, 5]);
    for (const [d0, d1] of [[0, 2], [-1, 0], [1, 2], [0, 0], [-2, -1]] as const) {
      const v = transpose(t, d0, d1);
      expect(v.sharesStorageWith(t)).toBe(true);
      const want = refTranspose(a, d0, d1);
      assertShape(v.shape, want.shape);
      assertEqual(v.dataSync(), want.data, `transpose(${d0}, ${d1})`);
      const x = (d0 + 3) % 3, y = (d1 + 3) % 3;
      const st = [...base];
      [st[x], st[y]] = [st[y]!, st[x]!];
      expect(v.strides).toEqual(st);
    }
    const m = distinct(r, [7, 13]);
    assertEqual(m.t.T.dataSync(), refTranspose(m.a, -2, -1).data, '.T');
    assertEqual(m.t.transpose().dataSync(), refTranspose(m.a, -2, -1).data, '.transpose()');
  });

  it('permute: every order of a 4-d tensor', () => {
    const r = new Rng('permute');
    const { t, a } = distinct(r, [2, 3, 4, 5]);
    const orders: number[][] = [];
    const rec = (p: number[]) => {
      if (p.length === 4) orders.push(p);
      else for (let i = 0; i < 4; i++) if (!p.includes(i)) rec([...p, i]);
    };
    rec([]);
    expect(orders.length).toBe(24);
    for (const p of orders) {
      const v = permute(t, p);
      expect(v.sharesStorageWith(t)).toBe(true);
      const want = refPermute(a, p);
      assertShape(v.shape, want.shape);
      assertEqual(v.dataSync(), want.data, `permute(${p})`);
    }
    assertEqual(t.permute(-1, 0, 2, 1).dataSync(), refPermute(a, [3, 0, 2, 1]).data, 'negative dims');
  });
});

describe('slice', () => {
  it('with steps, negative indices and clamping equals Python slicing', () => {
    const r = new Rng('slice');
    const { t, a } = distinct(r, [7, 13, 5]);
    const cases: [number, number, number | undefined, number][] = [
      [0, 1, 6, 2], [1, -5, undefined, 1], [1, 2, -3, 3], [2, -100, 100, 2], [-1, 1, 4, 1], [1, 12, 3, 1], [1, 13, 20, 1],
      [0, 0, undefined, 7], [0, -1, undefined, 1], [1, -13, -12, 1], [0, 6, 7, 100],
    ];
    for (let k = 0; k < 12; k++) {
      const dim = r.int(-3, 3);
      const n = [7, 13, 5][(dim + 3) % 3]!;
      cases.push([dim, r.int(-n - 3, n + 3), r.next() < 0.2 ? undefined : r.int(-n - 3, n + 3), r.int(1, 5)]);
    }
    for (const [dim, start, end, step] of cases) {
      const v = slice(t, dim, start, end, step);
      const want = refSlice(a, dim, start, end, step);
      assertShape(v.shape, want.shape, `slice(${dim}, ${start}, ${end}, ${step})`);
      expect(v.sharesStorageWith(t)).toBe(true);
      assertEqual(v.dataSync(), want.data, `slice(${dim}, ${start}, ${end}, ${step})`);
    }
    // the reference itself: Python's rules
    expect(sliceBounds(10, -3, undefined, 1)).toEqual({ start: 7, count: 3 });
    expect(sliceBounds(10, 2, -2, 3)).toEqual({ start: 2, count: 2 });
    expect(sliceBounds(10, 8, 3, 1)).toEqual({ start: 8, count: 0 });
    expect(sliceBounds(10, -20, 20, 4)).toEqual({ start: 0, count: 3 });
  });

  it('composes with other views, and writes through a slice reach the base', () => {
    const r = new Rng('slice compose');
    const { t, a } = distinct(r, [7, 13]);
    const v = slice(transpose(slice(t, 1, 1, 12, 2), 0, 1), 1, -6, undefined, 2);
    const want = refSlice(refTranspose(refSlice(a, 1, 1, 12, 2), 0, 1), 1, -6, undefined, 2);
    assertShape(v.shape, want.shape);
    assertEqual(v.dataSync(), want.data, 'slice of a transposed slice');
    expect(v.sharesStorageWith(t)).toBe(true);
    expect(v.isContiguous()).toBe(false);
    // write fresh values into the strided view and read them back from the base
    const fresh = r.array(v.size, 1000, 2000);
    copyInto(v, tensor(Array.from(fresh), v.shape as number[]));
    const base = t.dataSync();
    // rebuild the expected base: every position the view maps to now holds the fresh value
    const expected = Float64Array.from(a.data);
    const idx = nd([7, 13], Array.from({ length: 91 }, (_, i) => i));
    const pos = refSlice(refTranspose(refSlice(idx, 1, 1, 12, 2), 0, 1), 1, -6, undefined, 2).data;
    pos.forEach((p, i) => (expected[p] = Math.fround(fresh[i]!)));
    assertEqual(base, expected, 'base after writing through the view');
  });
});

describe('expand, squeeze, unsqueeze', () => {
  it('expand repeats size-1 dims with stride 0, without copying', () => {
    const r = new Rng('expand');
    const { t, a } = distinct(r, [3, 1, 5]);
    const v = expand(t, [2, 3, 4, 5]);
    assertShape(v.shape, [2, 3, 4, 5]);
    expect(v.sharesStorageWith(t)).toBe(true);
    expect(v.strides).toEqual([0, 5, 0, 1]);
    assertEqual(v.dataSync(), refExpand(a, [2, 3, 4, 5]).data, 'expand');
    const c = contiguous(v);
    expect(c.sharesStorageWith(t)).toBe(false);
    expect(c.isContiguous()).toBe(true);
    assertEqual(c.dataSync(), refExpand(a, [2, 3, 4, 5]).data, 'contiguous(expand)');
    const s = distinct(r, [1]);
    assertEqual(s.t.expand(17).dataSync(), new Array(17).fill(s.a.data[0]), 'expand a single element');
  });

  it('squeeze and unsqueeze change only size-1 dims and share storage', () => {
    const r = new Rng('squeeze');
    const { t, a } = distinct(r, [3, 1, 5, 1]);
    const s = squeeze(t);
    assertShape(s.shape, [3, 5]);
    expect(s.sharesStorageWith(t)).toBe(true);
    assertEqual(s.dataSync(), a.data, 'squeeze()');
    assertShape(squeeze(t, 1).shape, [3, 5, 1]);
    assertShape(squeeze(t, -1).shape, [3, 1, 5]);
    assertShape(squeeze(t, 0).shape, [3, 1, 5, 1]); // not size 1: unchanged
    assertShape(unsqueeze(t, 0).shape, [1, 3, 1, 5, 1]);
    assertShape(unsqueeze(t, -1).shape, [3, 1, 5, 1, 1]);
    assertShape(unsqueeze(t, 2).shape, [3, 1, 1, 5, 1]);
    expect(unsqueeze(t, 2).sharesStorageWith(t)).toBe(true);
    assertEqual(t.unsqueeze(4).squeeze().dataSync(), a.data, 'round trip');
  });
});

describe('copies', () => {
  it('contiguous of a contiguous tensor is itself; clone never shares', () => {
    const r = new Rng('copies');
    const { t, a } = distinct(r, [130, 131]); // > 16384 elements: the copy is split across threads
    expect(contiguous(t).sharesStorageWith(t)).toBe(true);
    const c = clone(t);
    expect(c.sharesStorageWith(t)).toBe(false);
    assertEqual(c.dataSync(), a.data, 'clone');
    const tt = t.T;
    const ct = contiguous(tt);
    expect(ct.sharesStorageWith(t)).toBe(false);
    assertEqual(ct.dataSync(), refTranspose(a, 0, 1).data, 'contiguous(T)');
    assertEqual(clone(tt).dataSync(), refTranspose(a, 0, 1).data, 'clone(T)');
  });

  it('views of bfloat16 and int32 tensors move the same elements', () => {
    const r = new Rng('view dtypes');
    for (const dtype of ['bfloat16', 'int32'] as const) {
      const { t, a } = distinct(r, [2, 3, 37], dtype);
      const v = slice(permute(t, [2, 0, 1]), 0, 3, -2, 5);
      expect(v.dtype).toBe(dtype);
      assertEqual(v.dataSync(), refSlice(refPermute(a, [2, 0, 1]), 0, 3, -2, 5).data, `${dtype} view`);
      assertEqual(contiguous(v).dataSync(), v.dataSync(), `${dtype} contiguous`);
    }
  });
});

describe('views: bad input', () => {
  it('wrong shapes and dims are ShapeErrors naming the op and the values', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    assertThrows(() => reshape(t, [4, 2]), ShapeError, 'reshape', '[2, 3]', '[4, 2]');
    assertThrows(() => reshape(t, [-1, -1]), ShapeError, 'reshape', '-1');
    assertThrows(() => reshape(t, [4, -1]), ShapeError, 'reshape', '[4, -1]');
    assertThrows(() => reshape(t, [2, -3]), ShapeError, 'reshape', '-3');
    assertThrows(() => transpose(t, 0, 2), ShapeError, 'transpose', 'dimension 2');
    assertThrows(() => transpose(t, -3, 0), ShapeError, 'transpose', 'dimension -3');
    assertThrows(() => permute(t, [0]), ShapeError, 'permute', '1');
    assertThrows(() => permute(t, [1, 1]), ShapeError, 'permute', 'dimension 1 repeated');
    assertThrows(() => permute(t, [0, 5]), ShapeError, 'permute', 'dimension 5');
    assertThrows(() => slice(t, 2, 0, 1), ShapeError, 'slice', 'dimension 2');
    assertThrows(() => expand(t, [4, 3]), ShapeError, 'expand', '[2, 3]', '[4, 3]');
    assertThrows(() => expand(t, [3]), ShapeError, 'expand', '[3]');
    assertThrows(() => squeeze(t, 2), ShapeError, 'squeeze', 'dimension 2');
    assertThrows(() => unsqueeze(t, 4), ShapeError, 'unsqueeze', 'dimension 4');
    assertThrows(() => unsqueeze(t, -4), ShapeError, 'unsqueeze', 'dimension -4');
  });

  it('bad values and argument types', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    assertThrows(() => slice(t, 1, 0, 3, 0), ValueError, 'slice', 'step', '0');
    assertThrows(() => slice(t, 1, 0, 3, -1), ValueError, 'slice', '-1');
    assertThrows(() => slice(t, 1, 0.5, 3), ArgumentTypeError, 'slice', 'start', '0.5');
    assertThrows(() => reshape(t, [2, 1.5] as never), ArgumentTypeError, 'reshape', '1.5');
    assertThrows(() => reshape(t, 'x' as never), ArgumentTypeError, 'reshape', 'shape');
    assertThrows(() => transpose('x' as never, 0, 1), ArgumentTypeError, 'transpose', 'string x');
    assertThrows(() => permute(null as never, [0]), ArgumentTypeError, 'permute', 'null');
    assertThrows(() => slice({} as never, 0, 0), ArgumentTypeError, 'slice', 'Object');
    assertThrows(() => squeeze(t, 0.5), ArgumentTypeError, 'squeeze', '0.5');
    assertThrows(() => unsqueeze(t, '1' as never), ArgumentTypeError, 'unsqueeze', '1');
    assertThrows(() => clone(3 as never), ArgumentTypeError, 'clone', 'number 3');
  });

  it('disposed tensors are DisposedErrors that name the op', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const v = t.T;
    t.dispose();
    expect(t.isDisposed).toBe(true);
    assertEqual(v.dataSync(), [1, 4, 2, 5, 3, 6], 'a view outlives its base');
    const ops: [string, () => unknown][] = [
      ['reshape', () => reshape(t, [6])], ['transpose', () => transpose(t, 0, 1)], ['permute', () => permute(t, [1, 0])],
      ['slice', () => slice(t, 0, 0, 1)], ['expand', () => expand(t, [2, 2, 3])], ['squeeze', () => squeeze(t)],
      ['unsqueeze', () => unsqueeze(t, 0)], ['contiguous', () => contiguous(t)], ['clone', () => clone(t)],
      ['data', () => t.dataSync()], ['copy', () => copyInto(v, t)],
    ];
    for (const [op, f] of ops) assertThrows(f, DisposedError, `${op}:`, 'dispose');
    v.dispose();
    expect(tensor([1]).size).toBe(1);
  });
});
