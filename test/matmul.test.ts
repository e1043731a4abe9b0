import { afterAll, describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, bmm, cpuInfo, DisposedError, DTypeError, linear, matmul, setCpuTier, setNumThreads, ShapeError, tensor, zeros,
  type Tensor,
} from '../lib/index.js';
import { refMatmul, refMatmulBound, type Mat } from './reference/matmul.js';
import { describeDevices } from './devices.js';
import { mulberry32 as rng } from './reference/prng.js';


let seed = 1;
function randMat(shape: number[]): Mat {
  const r = rng(seed++);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float64Array.from({ length: n }, () => r() * 2 - 1) };
}

type FD = 'float32' | 'bfloat16' | 'float16';
// Input tensor in dtype; the Mat is replaced by the values the tensor actually holds (rounded).
function toTensor(m: Mat, dtype: FD): [Tensor<FD>, Mat] {
  const t = tensor(Float32Array.from(m.data), m.shape, dtype);
  return [t, { shape: m.shape, data: Float64Array.from(t.dataSync()) }];
}

// The transpose of the last two dims of a Mat, materialised.
function transposeMat(m: Mat): Mat {
  const s = m.shape;
  const R = s[s.length - 2]!, C = s[s.length - 1]!;
  const batch = m.data.length / (R * C);
  const out = new Float64Array(m.data.length);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[b * R * C + j * R + i] = m.data[b * R * C + i * C + j]!;
  return { shape: [...s.slice(0, -2), C, R], data: out };
}

const EPS: Record<FD, number> = { float32: 2 ** -23, bfloat16: 2 ** -8, float16: 2 ** -11 };

function expectClose(got: Tensor, want: Mat, bound: Float64Array, dtype: FD, extra = 0): void {
  expect([...got.shape]).toEqual(want.shape);
  const g = got.dataSync();
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    // fp32 accumulation error grows with sqrt(K) in practice; 8 * eps * sum|a||b| is a safe bound,
    // plus the rounding of the output to the dtype.
    const tol = 8 * 2 ** -23 * (bound[i]! + extra) + EPS[dtype] * Math.abs(want.data[i]!) + 1e-30;
    const err = Math.abs(g[i]! - want.data[i]!);
    worst = Math.max(worst, err / tol);
  }
  expect(worst).toBeLessThanOrEqual(1);
}

const tiers = (['avx512', 'avx2', 'scalar'] as const).filter((t) => {
  const f = cpuInfo();
  return t === 'scalar' || (t === 'avx2' ? f.avx2 && f.fma : f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq);
});

afterAll(() => {
  setCpuTier(null);
  setNumThreads(2);
});

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 3, 5],
  [37, 67, 33],
  [130, 300, 129],
  [5, 1000, 3],
  [64, 17, 200],
];

describe.each(tiers)('matmul on the %s tier', (tier) => {
  it.each(['float32', 'bfloat16', 'float16'] as const)('%s: odd shapes, every transpose, 1 and 2 threads', (dtype) => {
    setCpuTier(tier);
    for (const threads of [1, 2]) {
      setNumThreads(threads);
      for (const [M, K, N] of SHAPES) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            // A transposed view of a [K, M] tensor reads A with unit row stride, and so on.
            const [a0, am] = toTensor(randMat(ta ? [K, M] : [M, K]), dtype);
            const [b0, bm] = toTensor(randMat(tb ? [N, K] : [K, N]), dtype);
            const a = ta ? a0.T : a0, b = tb ? b0.T : b0;
            const A = ta ? transposeMat(am) : am, B = tb ? transposeMat(bm) : bm;
            const c = matmul(a, b);
            expectClose(c, refMatmul(A, B), refMatmulBound(A, B), dtype);
            for (const t of [a0, b0, a, b, c]) t.dispose();
          }
        }
      }
    }
  });
});

describeDevices('matmul semantics', () => {
  it('broadcasts batch dimensions and promotes 1-d operands', () => {
    const cases: [number[], number[]][] = [
      [[3, 9, 11], [11, 4]],
      [[11], [3, 11, 6]],
      [[2, 1, 5, 7], [3, 7, 4]],
      [[4, 6, 13], [4, 13, 5]],
      [[13], [13]],
      [[5, 13], [13]],
      [[2, 3, 5, 13], [1, 3, 13, 2]],
    ];
    for (const [sa, sb] of cases) {
      const [a, am] = toTensor(randMat(sa), 'float32');
      const [b, bm] = toTensor(randMat(sb), 'float32');
      const c = matmul(a, b);
      expectClose(c, refMatmul(am, bm), refMatmulBound(am, bm), 'float32');
    }
  });

  it('reads a broadcast batch through a non-collapsible view', () => {
    // a permuted 4-d operand whose batch dims cannot be walked with one stride
    const [a0, am0] = toTensor(randMat([3, 2, 6, 5]), 'float32');
    const a = a0.permute(1, 0, 2, 3);
    const am: Mat = { shape: [2, 3, 6, 5], data: Float64Array.from(a.contiguous().dataSync()) };
    const [b, bm] = toTensor(randMat([5, 7]), 'float32');
    expectClose(matmul(a, b), refMatmul(am, bm), refMatmulBound(am, bm), 'float32');
  });

  it.each(['float32', 'bfloat16'] as const)('fuses bias and residual (%s)', (dtype) => {
    for (const [M, K, N] of [[33, 70, 19], [3, 5, 129]] as [number, number, number][]) {
      const [a, am] = toTensor(randMat([2, M, K]), dtype);
      const [b, bm] = toTensor(randMat([K, N]), dtype);
      const [bias, biasm] = toTensor(randMat([N]), dtype);
      const [res, resm] = toTensor(randMat([2, M, N]), dtype);
      const c = matmul(a, b, { bias, residual: res });
      expectClose(c, refMatmul(am, bm, biasm.data, resm.data), refMatmulBound(am, bm), dtype, 2);
      const lin = linear(a, b.T.contiguous(), bias);
      expectClose(lin, refMatmul(am, bm, biasm.data), refMatmulBound(am, bm), dtype, 1);
    }
  });

  it("gives a weight read as a transposed view (Linear's W^T) a contiguous gradient, the same values", () => {
    // [2, 9, 13] @ W^T with W [6, 13]: dW = dY^T X, computed so that W.grad needs no copy before the optimizer.
    const [x] = toTensor(randMat([2, 9, 13]), 'float32');
    const [w] = toTensor(randMat([6, 13]), 'float32');
    const [g] = toTensor(randMat([2, 9, 6]), 'float32');
    w.requiresGrad = true;
    matmul(x, w.T).backward(g);
    expect(w.grad!.isContiguous()).toBe(true);
    const xm = x.reshape(18, 13).dataSync(), gm = g.reshape(18, 6).dataSync();
    const want = new Float64Array(6 * 13);
    for (let n = 0; n < 6; n++) for (let k = 0; k < 13; k++) for (let r = 0; r < 18; r++) want[n * 13 + k]! += gm[r * 6 + n]! * xm[r * 13 + k]!;
    const got = w.grad!.dataSync();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
  });

  it('K = 0 gives zeros plus the epilogue', () => {
    const a = zeros([4, 0]), b = zeros([0, 3]);
    expect([...matmul(a, b).dataSync()]).toEqual(new Array(12).fill(0));
    const bias = tensor([1, 2, 3]);
    expect([...matmul(a, b, { bias }).dataSync()]).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    expect(matmul(zeros([0, 5]), zeros([5, 2])).shape).toEqual([0, 2]);
  });

  it('bmm checks its 3-d contract', () => {
    const [a, am] = toTensor(randMat([3, 4, 5]), 'float32');
    const [b, bm] = toTensor(randMat([3, 5, 2]), 'float32');
    expectClose(bmm(a, b), refMatmul(am, bm), refMatmulBound(am, bm), 'float32');
    expect(() => bmm(a, zeros([2, 5, 2]))).toThrow(ShapeError);
  });
});

describe('matmul errors', () => {
  const a = zeros([3, 4]);
  it('names the op and the values', () => {
    expect(() => matmul(a, zeros([5, 2]))).toThrow(/matmul: inner dimensions differ: \[3, 4\] @ \[5, 2\]/);
    expect(() => matmul(a, zeros([5, 2]))).toThrow(ShapeError);
    expect(() => matmul(a, zeros([4, 2], { dtype: 'bfloat16' }))).toThrow(DTypeError);
    expect(() => matmul(zeros([3, 4], { dtype: 'int32' }), zeros([4, 2], { dtype: 'int32' }))).toThrow(/matmul: a must be float32, bfloat16, float16 or float64, got int32/);
    expect(() => matmul(a, zeros([4, 2]), { bias: zeros([3]) })).toThrow(/bias must have shape \[2\], got \[3\]/);
    expect(() => matmul(a, zeros([4, 2]), { residual: zeros([2, 3]) })).toThrow(/residual must have the output's shape \[3, 2\]/);
    expect(() => matmul(zeros([]), zeros([4, 2]))).toThrow(ShapeError);
    expect(() => matmul(a, [[1]] as unknown as Tensor)).toThrow(ArgumentTypeError);
    expect(() => matmul(a, zeros([4, 2]), { bais: zeros([2]) } as never)).toThrow(/unknown option 'bais'/);
    const d = zeros([4, 2]);
    d.dispose();
    expect(() => matmul(a, d)).toThrow(DisposedError);
    expect(() => matmul(a, d)).toThrow(/matmul: b is a disposed tensor/);
  });
});
