/**
 * softmax, logSoftmax, crossEntropy and embedding against the float64 references
 * (test/reference/softmax.ts), with odd and large shapes, non-contiguous inputs, every float dtype,
 * special values and bad input.
 */
import { describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, crossEntropy, DisposedError, DTypeError, embedding, logSoftmax, setNumThreads, ShapeError, slice, softmax, type Tensor,
  tensor, ValueError,
} from '../lib/index.js';
import { assertClose, assertEqual, assertShape, assertThrows, TOL } from './reference/check.js';
import { nd, type NdArray } from './reference/ndarray.js';
import { Rng } from './reference/prng.js';
import { refCrossEntropy, refEmbedding, refSoftmax } from './reference/softmax.js';
import { refPermute, refSlice, refTranspose } from './reference/views.js';
import { describeDevices } from './devices.js';

type FD = 'float32' | 'bfloat16' | 'float16' | 'float64';
const DTYPES: FD[] = ['float32', 'bfloat16', 'float16', 'float64'];

const toNd = (t: Tensor): NdArray => nd(t.shape, t.dataSync());

function make(r: Rng, shape: number[], dtype: FD, lo = -4, hi = 4): { t: Tensor; a: NdArray } {
  const n = shape.reduce((x, y) => x * y, 1);
  const t = tensor(Array.from(r.array(n, lo, hi)), shape, dtype);
  return { t, a: toNd(t) };
}

function check(t: Tensor, want: NdArray, dtype: FD, what: string): void {
  expect(t.dtype).toBe(dtype);
  assertShape(t.shape, want.shape, what);
  assertClose(t.dataSync(), want.data, TOL[dtype], what);
}

describeDevices('softmax and logSoftmax', () => {
  for (const log of [false, true]) {
    const name = log ? 'logSoftmax' : 'softmax';
    const fn = log ? logSoftmax : softmax;

    it(`${name}: every dim, every float dtype, odd and large shapes`, () => {
      const r = new Rng(name);
      for (const dtype of DTYPES) {
        for (const shape of [[7, 13], [3, 1, 5], [2, 3, 37], [130, 131]]) {
          const { t, a } = make(r, shape, dtype);
          for (let d = -shape.length; d < shape.length; d++) check(fn(t, d), refSoftmax(a, d, log), dtype, `${name} ${dtype} [${shape}] dim ${d}`);
        }
        const { t, a } = make(r, [7, 13], dtype);
        check(fn(t), refSoftmax(a, -1, log), dtype, `${name} ${dtype} default dim`);
        check(log ? t.logSoftmax(0) : t.softmax(0), refSoftmax(a, 0, log), dtype, `${name} ${dtype} method`);
      }
    });

    it(`${name}: non-contiguous inputs`, () => {
      const r = new Rng(`${name} strided`);
      for (const dtype of ['float32', 'bfloat16'] as const) {
        const { t, a } = make(r, [2, 3, 37], dtype);
        const p = t.permute(2, 0, 1);
        const ap = refPermute(a, [2, 0, 1]);
        for (const d of [0, 1, 2]) check(fn(p, d), refSoftmax(ap, d, log), dtype, `${name} ${dtype} permuted dim ${d}`);
        const s = slice(t.T, 1, 1, undefined, 3);
        const as = refSlice(refTranspose(a, -2, -1), 1, 1, undefined, 3);
        for (const d of [0, 1, 2]) check(fn(s, d), refSoftmax(as, d, log), dtype, `${name} ${dtype} sliced dim ${d}`);
      }
    });
  }

  it('inputs at an offset; results that do not depend on the thread count', () => {
    const r = new Rng('softmax offset');
    const { t, a } = make(r, [130, 131], 'float32');
    const s = slice(t, 0, 11, 101);
    for (const d of [0, 1]) check(softmax(s, d), refSoftmax(refSlice(a, 0, 11, 101), d), 'float32', `softmax offset view dim ${d}`);
    const y = tensor(r.ints(130, 0, 131), [130]);
    const run = () => [softmax(t, 0), logSoftmax(t.T, 1), crossEntropy(t, y, { reduction: 'none' })].map((x) => Array.from(x.dataSync()));
    setNumThreads(1);
    const one = run();
    setNumThreads(2);
    expect(run()).toEqual(one);
  });

  it('rows sum to 1 and are stable for large logits', () => {
    const r = new Rng('softmax sum');
    const { t } = make(r, [130, 131], 'float32', -30, 30);
    const y = softmax(t).dataSync();
    for (let i = 0; i < 130; i++) {
      let s = 0;
      for (let j = 0; j < 131; j++) s += y[i * 131 + j]!;
      expect(Math.abs(s - 1)).toBeLessThan(1e-5);
    }
    const big = tensor([[1000, 1001, 1002], [-1000, -1001, -1002]]);
    assertClose(softmax(big).dataSync(), refSoftmax(toNd(big)).data, TOL.float32, 'large logits');
    assertClose(logSoftmax(big).dataSync(), refSoftmax(toNd(big), -1, true).data, TOL.float32, 'large logits, log');
    expect(Array.from(softmax(big).dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('masked (-inf) entries get 0, an all -inf row and a NaN row give NaN', () => {
    const x = tensor([[1, -Infinity, 2, -Infinity], [-Infinity, -Infinity, -Infinity, -Infinity], [1, NaN, 0, 2]]);
    const a = toNd(x);
    const y = softmax(x).dataSync();
    assertClose(y, refSoftmax(a).data, TOL.float32, 'masked softmax');
    expect(y[1]).toBe(0);
    expect(y[0]! + y[2]!).toBeCloseTo(1, 6);
    expect(Array.from(y.slice(4)).every(Number.isNaN)).toBe(true);
    const l = logSoftmax(x).dataSync();
    assertClose(l, refSoftmax(a, -1, true).data, TOL.float32, 'masked logSoftmax');
    expect(l[1]).toBe(-Infinity);
  });

  it('empty tensors pass through; bad input names the op and the value', () => {
    assertShape(softmax(tensor([[], []]), 1).shape, [2, 0]);
    for (const [name, fn] of [['softmax', softmax], ['logSoftmax', logSoftmax]] as const) {
      assertThrows(() => fn(tensor([1, 2], undefined, 'int32') as never), DTypeError, `${name}:`, 'int32');
      assertThrows(() => fn(tensor([[1, 2]]), 2), ShapeError, `${name}:`, 'dimension 2');
      assertThrows(() => fn(tensor([[1, 2]]), -3), ShapeError, `${name}:`, 'dimension -3');
      assertThrows(() => fn(tensor(3)), ShapeError, `${name}:`, 'dimension');
      assertThrows(() => fn(tensor([1, 2]), 0.5), ArgumentTypeError, `${name}:`, '0.5');
      assertThrows(() => fn(tensor([1, 2]), 'a' as never), ArgumentTypeError, `${name}:`, 'string a');
      assertThrows(() => fn('x' as never), ArgumentTypeError, `${name}:`, 'string x');
      const d = tensor([1, 2]);
      d.dispose();
      assertThrows(() => fn(d), DisposedError, `${name}:`, 'disposed');
    }
  });
});

describeDevices('crossEntropy', () => {
  /** Targets in [0, V) with some rows set to the ignore index. */
  function targets(r: Rng, n: number, V: number, ignore: number | null, frac = 0.2): number[] {
    return Array.from({ length: n }, () => (ignore !== null && r.next() < frac ? ignore : r.int(0, V)));
  }

  it('mean, sum and none against the reference, every float dtype, 2-d and 3-d logits', () => {
    const r = new Rng('xent');
    for (const dtype of DTYPES) {
      for (const shape of [[37, 13], [2, 3, 37], [130, 131], [5, 1]]) {
        const V = shape[shape.length - 1]!;
        const lead = shape.slice(0, -1);
        const { t, a } = make(r, shape, dtype, -6, 6);
        const tg = targets(r, a.data.length / V, V, -100);
        const tt = tensor(tg, lead, 'int32');
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          const got = crossEntropy(t, tt, { reduction });
          const want = refCrossEntropy(a, tg, -100, reduction);
          expect(got.dtype).toBe(dtype);
          assertShape(got.shape, reduction === 'none' ? lead : []);
          assertClose(got.dataSync(), want, TOL[dtype], `crossEntropy ${dtype} [${shape}] ${reduction}`);
        }
        // default reduction is the mean
        assertClose(crossEntropy(t, tt).dataSync(), refCrossEntropy(a, tg), TOL[dtype], `crossEntropy ${dtype} default`);
      }
    }
  });

  it('ignoreIndex: any value, rows skipped in the mean; no valid rows gives NaN', () => {
    const r = new Rng('xent ignore');
    const { t, a } = make(r, [41, 17], 'float32');
    for (const ignore of [-100, 5, -1, 0]) {
      const tg = targets(r, 41, 17, ignore, 0.4);
      const tt = tensor(tg, [41], 'int32');
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        assertClose(crossEntropy(t, tt, { ignoreIndex: ignore, reduction }).dataSync(), refCrossEntropy(a, tg, ignore, reduction), TOL.float32,
          `ignoreIndex ${ignore} ${reduction}`);
      }
      const none = crossEntropy(t, tt, { ignoreIndex: ignore, reduction: 'none' }).dataSync();
      tg.forEach((v, i) => {
        if (v === ignore) expect(none[i]).toBe(0);
      });
    }
    const all = tensor(new Array(41).fill(-100), [41], 'int32');
    expect(crossEntropy(t, all).item()).toBeNaN();
    expect(crossEntropy(t, all, { reduction: 'sum' }).item()).toBe(0);
    expect(Array.from(crossEntropy(t, all, { reduction: 'none' }).dataSync())).toEqual(new Array(41).fill(0));
  });

  it('1-d logits with a scalar target; non-contiguous logits and targets', () => {
    const r = new Rng('xent strided');
    const { t, a } = make(r, [13], 'float32');
    const y = r.int(0, 13);
    const got = crossEntropy(t, tensor(y, undefined, 'int32'));
    assertShape(got.shape, []);
    assertClose(got.dataSync(), refCrossEntropy(a, [y]), TOL.float32, '1-d logits');
    const none = crossEntropy(t, tensor(y, undefined, 'int32'), { reduction: 'none' });
    assertShape(none.shape, []);
    assertClose(none.dataSync(), refCrossEntropy(a, [y], -100, 'none'), TOL.float32, '1-d logits, none');
    // logits at an offset (a contiguous slice of rows)
    const C = make(r, [50, 19], 'float32');
    const tgC = targets(r, 30, 19, -100);
    assertClose(crossEntropy(slice(C.t, 0, 20), tensor(tgC, [30], 'int32'), { reduction: 'none' }).dataSync(),
      refCrossEntropy(refSlice(C.a, 0, 20, undefined), tgC, -100, 'none'), TOL.float32, 'offset logits');
    const B = make(r, [29, 40], 'float32');
    const logits = B.t.T; // [40, 29], not contiguous
    const tg = targets(r, 80, 29, -100);
    const tt = slice(tensor(tg, [80], 'int32'), 0, 0, undefined, 2); // every other target
    const wantT = tg.filter((_, i) => i % 2 === 0);
    for (const reduction of ['mean', 'none'] as const) {
      assertClose(crossEntropy(logits, tt, { reduction }).dataSync(), refCrossEntropy(refTranspose(B.a, 0, 1), wantT, -100, reduction), TOL.float32,
        `strided ${reduction}`);
    }
  });

  it('bad input: dtypes, shapes, targets out of range, options, types, disposed', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const y = tensor([0, 2], undefined, 'int32');
    const op = 'crossEntropy:';
    assertThrows(() => crossEntropy(x, tensor([0, 2]) as never), DTypeError, op, 'float32');
    assertThrows(() => crossEntropy(x, tensor([0, 2], undefined, 'uint8') as never), DTypeError, op, 'uint8');
    assertThrows(() => crossEntropy(tensor([[1, 2]], undefined, 'int32') as never, tensor([0], undefined, 'int32')), DTypeError, op, 'int32');
    assertThrows(() => crossEntropy(x, tensor([0, 1, 2], undefined, 'int32')), ShapeError, op, '[2]', '[3]');
    assertThrows(() => crossEntropy(x, tensor([[0, 1]], undefined, 'int32')), ShapeError, op, '[1, 2]');
    assertThrows(() => crossEntropy(tensor(1), tensor(0, undefined, 'int32')), ShapeError, op, 'class');
    assertThrows(() => crossEntropy(tensor([[], []]), y), ShapeError, op, 'no classes');
    assertThrows(() => crossEntropy(x, tensor([0, 3], undefined, 'int32')), ValueError, op, 'target 3', 'row 1', '[0, 3)');
    assertThrows(() => crossEntropy(x, tensor([-1, 0], undefined, 'int32')), ValueError, op, 'target -1', 'row 0');
    assertThrows(() => crossEntropy(x, tensor([-100, 7], undefined, 'int32'), { ignoreIndex: 7 }), ValueError, op, 'target -100');
    assertThrows(() => crossEntropy(x, y, { reduction: 'avg' as never }), ValueError, op, 'avg');
    assertThrows(() => crossEntropy(x, y, { ignore_index: 1 } as never), ValueError, op, "unknown option 'ignore_index'");
    assertThrows(() => crossEntropy(x, y, { ignoreIndex: 1.5 }), ArgumentTypeError, op, '1.5');
    assertThrows(() => crossEntropy(x, y, { ignoreIndex: 2 ** 40 }), ValueError, op, 'ignoreIndex');
    assertThrows(() => crossEntropy(x, y, 'mean' as never), ArgumentTypeError, op, 'options');
    assertThrows(() => crossEntropy('x' as never, y), ArgumentTypeError, op, 'string x');
    assertThrows(() => crossEntropy(x, [0, 2] as never), ArgumentTypeError, op, 'array');
    const d = tensor([[1, 2]]);
    d.dispose();
    assertThrows(() => crossEntropy(d, tensor([0], undefined, 'int32')), DisposedError, op, 'disposed');
    const dy = tensor([0, 1], undefined, 'int32');
    dy.dispose();
    assertThrows(() => crossEntropy(x, dy), DisposedError, op, 'disposed');
    expect(crossEntropy(x, y).size).toBe(1);
  });
});

describeDevices('embedding', () => {
  it('gathers rows for indices of any shape, every dtype, exactly', () => {
    const r = new Rng('embedding');
    for (const dtype of [...DTYPES, 'int32'] as const) {
      const V = 50, D = 37;
      const w = dtype === 'int32' ? tensor(r.ints(V * D, -1000, 1000), [V, D]) : make(r, [V, D], dtype).t;
      const wa = toNd(w);
      for (const ishape of [[7, 13], [3, 1, 5], [], [0], [1000]]) {
        const n = ishape.reduce((x, y) => x * y, 1);
        const idx = Array.from(r.ints(n, 0, V));
        const out = embedding(w, tensor(idx, ishape, 'int32'));
        expect(out.dtype).toBe(dtype);
        const want = refEmbedding(wa, idx, ishape);
        assertShape(out.shape, want.shape);
        assertEqual(out.dataSync(), want.data, `embedding ${dtype} [${ishape}]`);
      }
    }
  });

  it('non-contiguous weight and indices; the first and last rows', () => {
    const r = new Rng('embedding strided');
    const { t, a } = make(r, [37, 60], 'float32');
    const w = t.T; // [60, 37]
    const wa = refTranspose(a, 0, 1);
    const idx = Array.from(r.ints(2 * 3 * 37, 0, 60));
    idx[0] = 0;
    idx[1] = 59;
    const it3 = tensor(idx, [2, 3, 37], 'int32');
    const iv = it3.permute(2, 0, 1); // [37, 2, 3], not contiguous
    const ivals = refPermute(nd([2, 3, 37], idx), [2, 0, 1]);
    const out = embedding(w, iv);
    assertShape(out.shape, [37, 2, 3, 37]);
    assertEqual(out.dataSync(), refEmbedding(wa, ivals.data, [37, 2, 3]).data, 'strided embedding');
  });

  it('bad input: indices out of range, wrong dtypes and shapes, types, disposed', () => {
    const w = tensor([[1, 2], [3, 4], [5, 6]]);
    const op = 'embedding:';
    assertThrows(() => embedding(w, tensor([0, 3], undefined, 'int32')), ValueError, op, 'index 3', 'position 1', '[0, 3)');
    assertThrows(() => embedding(w, tensor([[0, 1], [-1, 2]], undefined, 'int32')), ValueError, op, 'index -1', 'position 2');
    assertThrows(() => embedding(w, tensor([0, 1]) as never), DTypeError, op, 'float32');
    assertThrows(() => embedding(w, tensor([0, 1], undefined, 'uint8') as never), DTypeError, op, 'uint8');
    assertThrows(() => embedding(tensor([1, 2, 3]), tensor([0], undefined, 'int32')), ShapeError, op, '[3]');
    assertThrows(() => embedding(tensor([[[1]]]), tensor([0], undefined, 'int32')), ShapeError, op, '[1, 1, 1]');
    assertThrows(() => embedding('w' as never, tensor([0], undefined, 'int32')), ArgumentTypeError, op, 'string w');
    assertThrows(() => embedding(w, [0, 1] as never), ArgumentTypeError, op, 'array');
    const d = tensor([[1, 2]]);
    d.dispose();
    assertThrows(() => embedding(d, tensor([0], undefined, 'int32')), DisposedError, op, 'disposed');
    const di = tensor([0], undefined, 'int32');
    di.dispose();
    assertThrows(() => embedding(w, di), DisposedError, op, 'disposed');
    expect(Array.from(embedding(w, tensor([2, 0], undefined, 'int32')).dataSync())).toEqual([5, 6, 1, 2]);
  });
});
