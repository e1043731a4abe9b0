// Issue 14, defect 4 (copies and in-place ops whose operands share memory) and the op-level items of 9
// (argmax over no dims, 0-d activations, public op names in fused-kernel errors).
import { describe, expect, it } from 'vitest';

import {
  activation, add, argmax, argmin, arange, clipGradNorm, copyInto, gatedActivation, noGrad, sum, tensor, tidy, ValueError, type Tensor,
} from '../lib/index.js';
import { fusedActivation, fusedGatedActivation } from '../lib/ops/activation.js';

const rows = (t: Tensor): unknown => t.toArray();

describe('defect 4: copyInto with overlapping source and destination', () => {
  it('copyInto(b, b.T) writes the transpose', () => {
    const b = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    copyInto(b, b.T);
    expect(rows(b)).toEqual([[1, 4, 7], [2, 5, 8], [3, 6, 9]]);
  });

  it('shifted slices of one tensor copy as if through a temporary, in both directions', () => {
    const n = 1000; // larger than a thread's grain, so a parallel copy would also race
    const right = arange(0, n);
    copyInto(right.slice(0, 1), right.slice(0, 0, n - 1));
    expect(Array.from(right.dataSync())).toEqual([0, ...Array.from({ length: n - 1 }, (_, i) => i)]);
    const left = arange(0, n);
    copyInto(left.slice(0, 0, n - 1), left.slice(0, 1));
    expect(Array.from(left.dataSync())).toEqual([...Array.from({ length: n - 1 }, (_, i) => i + 1), n - 1]);
  });

  it('a broadcast source over its own destination rows, and a view copied onto itself', () => {
    const m = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    copyInto(m, m.slice(0, 2, 3)); // row 2 broadcast over all rows, row 2 included
    expect(rows(m)).toEqual([[5, 6], [5, 6], [5, 6]]);
    const s = tensor([1, 2, 3], [3]);
    copyInto(s, s);
    expect(Array.from(s.dataSync())).toEqual([1, 2, 3]);
  });

  it('a converting copy between two tensors is unchanged', () => {
    const x = tensor([1.5, -2.5, 3.25], [3]);
    const y = tensor([0, 0, 0], [3], 'int32');
    copyInto(y, x);
    expect(Array.from(y.dataSync())).toEqual([1, -2, 3]);
  });

  it('writing into an expand()ed view (a destination with internal overlap) throws', () => {
    const b = tensor([1, 2], [2, 1]);
    const e = b.expand([2, 3]);
    expect(() => copyInto(e, tensor([1, 2, 3, 4, 5, 6], [2, 3]))).toThrow(ValueError);
    expect(() => copyInto(e, tensor([1, 2, 3, 4, 5, 6], [2, 3]))).toThrow(/copy: .*overlap/);
    expect(rows(b)).toEqual([[1], [2]]);
    // a size-1 broadcast dimension does not overlap: that one is fine
    copyInto(tensor([7], [1]).expand([1]), tensor([9], [1]));
  });

  it('a transposed destination over its own source', () => {
    const b = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    copyInto(b.T, b);
    expect(rows(b)).toEqual([[1, 4, 7], [2, 5, 8], [3, 6, 9]]);
  });
});

describe('defect 4: in-place ops with aliased or duplicate operands', () => {
  it('leaves get gradients of their own: (a + b).sum() then clipGradNorm scales each once', () => {
    const a = tensor([3, 4], [2]).setRequiresGrad();
    const b = tensor([0, 0], [2]).setRequiresGrad();
    tidy(() => add(a, b).sum().backward());
    expect(a.grad!.sharesStorageWith(b.grad!)).toBe(false);
    // two gradients of ones: norm 2, scaled by 1 / 2
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(2, 6);
    for (const t of [a, b]) for (const v of t.grad!.dataSync()) expect(v).toBeCloseTo(0.5, 6);
  });

  it('the user gradient given to backward() is not the leaf gradient', () => {
    const a = tensor([1, 2], [2]).setRequiresGrad();
    const g = tensor([3, 4], [2]);
    tidy(() => a.contiguous().backward(g));
    expect(a.grad!.sharesStorageWith(g)).toBe(false);
    clipGradNorm([a], 1);
    expect(Array.from(g.dataSync())).toEqual([3, 4]);
  });

  it('clipGradNorm counts a parameter given twice once', () => {
    const a = tensor([3, 4], [2]).setRequiresGrad();
    a.grad = tensor([3, 4], [2]);
    expect(clipGradNorm([a, a], 1)).toBeCloseTo(5, 6);
    expect(Array.from(a.grad.dataSync()).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([0.6, 0.8]);
  });

  it('clipGradNorm refuses two gradients over the same memory', () => {
    const a = tensor([1, 1], [2]).setRequiresGrad();
    const b = tensor([1, 1], [2]).setRequiresGrad();
    a.grad = tensor([3, 4], [2]);
    b.grad = a.grad.detach() as typeof b.grad;
    expect(() => clipGradNorm([a, b], 1)).toThrow(/share memory/);
    expect(Array.from(a.grad.dataSync())).toEqual([3, 4]);
  });
});

describe('issue 14 item 9: argmax/argmin over no dimensions, 0-d activations, op names', () => {
  it('argmax and argmin with dim = [] return int32 zeros of the input shape', () => {
    const x = tensor([1, 5, 2, 7], [2, 2]);
    for (const f of [argmax, argmin]) {
      const r = f(x, [] as unknown as number);
      expect(r.dtype).toBe('int32');
      expect(r.dataSync()).toBeInstanceOf(Int32Array);
      expect(r.shape).toEqual([2, 2]);
      expect(Array.from(r.dataSync())).toEqual([0, 0, 0, 0]);
      expect(r.sharesStorageWith(x)).toBe(false);
    }
  });

  it('sum over dim = [] is a view on the tape (the gradient flows through)', () => {
    const x = tensor([1, 2], [2]).setRequiresGrad();
    tidy(() => sum(x, []).mul(3).sum().backward());
    expect(Array.from(x.grad!.dataSync())).toEqual([3, 3]);
  });

  it('activation() accepts a 0-d tensor as relu() does, for every kind', () => {
    for (const [kind, ref] of [['relu', 0], ['gelu', -0.15865525393145707], ['swish', -0.2689414213699951]] as const) {
      const y = activation(tensor([-1], []), kind);
      expect(y.shape).toEqual([]);
      expect(y.item()).toBeCloseTo(ref, 6);
    }
    const x = tensor([0.5], []).setRequiresGrad();
    tidy(() => activation(x, 'swish').backward());
    expect(x.grad!.shape).toEqual([]);
    expect(x.grad!.item()).toBeCloseTo(swishGrad(0.5), 6);
  });

  it('fused-kernel errors name the public op, not the kernel (whose own names are gelu_erf, silu)', () => {
    const bad = noGrad(() => tensor([1, 2, 3], [3]).astype('int32'));
    const msg = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    for (const kind of ['gelu', 'swish'] as const) {
      const m = msg(() => fusedActivation(bad as unknown as Tensor<'float32'>, kind));
      expect(m).toMatch(/^fusedActivation: /);
    }
    expect(msg(() => gatedActivation(tensor([1, 2, 3], [3]), 'swiglu'))).toMatch(/^gatedActivation: /);
    expect(msg(() => fusedGatedActivation(tensor([1, 2, 3], [3]), 'swiglu'))).toMatch(/^fusedGatedActivation: .*swiglu/);
  });
});

function swishGrad(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s + x * s * (1 - s);
}
