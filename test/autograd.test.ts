import { describe, expect, it } from 'vitest';

import { attach, needsGrad } from '../lib/autograd/record.js';
import {
  cat, copyInto, crossEntropy, DTypeError, embedding, gradcheck, matmul, memory, noGrad, randn, ShapeError, softmax, logSoftmax, tensor, tidy,
  ValueError, where, zeros, type Tensor,
} from '../lib/index.js';

let seed = 100;
// float64 leaves with fresh random values; `positive` keeps them away from 0 for log/sqrt/pow.
function leaf(shape: number[], positive = false): Tensor<'float64'> {
  const t = randn(shape, { dtype: 'float64', seed: seed++ });
  if (!positive) return t.setRequiresGrad();
  const p = t.abs().add(0.5);
  t.dispose();
  return p.setRequiresGrad();
}

function check(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts?: Parameters<typeof gradcheck>[2]): void {
  const r = gradcheck(fn, inputs, opts);
  expect(r.failures).toEqual([]);
  expect(r.ok).toBe(true);
}

describe('gradcheck of every differentiable op', () => {
  it.each([
    ['neg', false], ['exp', false], ['log', true], ['sqrt', true], ['rsqrt', true], ['abs', false], ['tanh', false],
    ['sigmoid', false], ['relu', false], ['sin', false], ['cos', false], ['square', false], ['reciprocal', true], ['erf', false],
  ] as const)('unary %s', (op, positive) => {
    check((x) => (x as unknown as Record<string, () => Tensor>)[op]!(), [leaf([3, 7], positive)]);
  });

  it.each(['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const)('binary %s with broadcasting and scalars', (op) => {
    const pos = op === 'pow' || op === 'div';
    const f = (a: Tensor, b: Tensor | number): Tensor => (a as unknown as Record<string, (o: Tensor | number) => Tensor>)[op]!(b);
    check((a, b) => f(a!, b!), [leaf([2, 3, 5], pos), leaf([3, 1], pos)]);
    check((a) => f(a!, 1.7), [leaf([4, 5], pos)]);
    if (op !== 'maximum' && op !== 'minimum') {
      // scalar on the left: 1.3 - a, 1.3 / a, 1.3 ** a ...
      const fn = (a: Tensor): Tensor => {
        const mod = { add: (x: Tensor) => x.add(1.3), sub: (x: Tensor) => x.neg().add(1.3), mul: (x: Tensor) => x.mul(1.3) };
        return op in mod ? mod[op as keyof typeof mod](a) : f(zeros(a.shape, { dtype: 'float64' }).add(1.3), a);
      };
      check(fn, [leaf([4, 5], true)]);
    }
  });

  it('where routes the gradient by the condition', () => {
    const cond = randn([4, 1], { dtype: 'float64', seed: 7 }).gt(0);
    check((a, b) => where(cond, a!, b!), [leaf([4, 6]), leaf([6])]);
  });

  it.each(['sum', 'mean', 'max', 'min'] as const)('reduction %s over dims, keepdim', (op) => {
    const f = (x: Tensor, d?: number | number[], k?: boolean): Tensor =>
      (x as unknown as Record<string, (d?: number | number[], k?: boolean) => Tensor>)[op]!(d, k);
    check((x) => f(x!), [leaf([3, 4, 5])]);
    check((x) => f(x!, 1), [leaf([3, 4, 5])]);
    check((x) => f(x!, [0, 2], true), [leaf([3, 4, 5])]);
    check((x) => f(x!, -1, true), [leaf([2, 7])]);
  });

  it('max shares the gradient among ties', () => {
    const x = tensor([1, 3, 3, 2], [4], 'float64').setRequiresGrad();
    x.max().backward();
    expect([...x.grad!.dataSync()]).toEqual([0, 0.5, 0.5, 0]);
  });

  it('views and copies', () => {
    check((x) => x!.reshape(6, 5), [leaf([3, 10])]);
    check((x) => x!.transpose(0, 2).mul(x!.transpose(0, 2)), [leaf([2, 3, 4])]);
    check((x) => x!.permute(2, 0, 1).mul(2).sum(0), [leaf([2, 3, 4])]);
    check((x) => x!.slice(1, 1, 6, 2).square(), [leaf([3, 7])]);
    check((x) => x!.slice(0, -2).exp(), [leaf([5, 2])]);
    check((x) => x!.expand(4, 3, 5).tanh(), [leaf([3, 1])]);
    check((x) => x!.unsqueeze(1).squeeze(1).contiguous().clone(), [leaf([3, 4])]);
    check((x) => x!.T.contiguous().sin(), [leaf([3, 4])]);
    // through float32: a step far above float32's resolution (the function is linear, so the step costs nothing)
    check((x) => x!.astype('float32').astype('float64'), [leaf([5])], { eps: 1e-2, atol: 1e-5 });
    check((a, b) => cat([a!, b!, a!], 1), [leaf([2, 3]), leaf([2, 4])]);
  });

  it('matmul: batch broadcasting, 1-d operands, transposed views, bias and residual', () => {
    check((a, b) => matmul(a!, b!), [leaf([3, 4]), leaf([4, 5])]);
    check((a, b) => matmul(a!, b!), [leaf([2, 3, 4]), leaf([4, 5])]);
    check((a, b) => matmul(a!, b!), [leaf([2, 1, 3, 4]), leaf([3, 4, 2])]);
    check((a, b) => matmul(a!, b!), [leaf([4]), leaf([2, 4, 3])]);
    check((a, b) => matmul(a!, b!), [leaf([3, 4]), leaf([4])]);
    check((a, b) => matmul(a!, b!), [leaf([4]), leaf([4])]);
    check((a, b) => matmul(a!.T, b!.T), [leaf([4, 3]), leaf([5, 4])]);
    check((a, b, c, r) => matmul(a!, b!, { bias: c!, residual: r! }), [leaf([2, 3, 4]), leaf([4, 5]), leaf([5]), leaf([2, 3, 5])]);
  });

  it('softmax and logSoftmax over any dim', () => {
    check((x) => softmax(x!, -1), [leaf([3, 7])]);
    check((x) => softmax(x!, 0), [leaf([3, 7])]);
    check((x) => logSoftmax(x!, 1), [leaf([2, 5, 3])]);
  });

  it('embedding (repeated indices add up)', () => {
    const idx = tensor(new Int32Array([2, 0, 2, 5, 2, 1]), [2, 3]);
    check((w) => embedding(w!, idx).tanh(), [leaf([7, 4])]);
  });

  it.each(['mean', 'sum', 'none'] as const)('crossEntropy (%s, with ignored targets)', (reduction) => {
    const t = tensor(new Int32Array([3, -100, 0, 8, 1]), [5]);
    check((x) => crossEntropy(x!, t, { reduction }), [leaf([5, 9])]);
    const t3 = tensor(new Int32Array([1, 2, 0, -1, 4, 4]), [2, 3]);
    check((x) => crossEntropy(x!, t3, { reduction, ignoreIndex: -1 }), [leaf([2, 3, 5])]);
  });
});

describe('the tape', () => {
  it('gradcheck can fail: a wrong rule is caught and named', () => {
    const wrongSquare = (x: Tensor): Tensor => {
      const y = x.detach().square();
      if (!needsGrad(x)) return y;
      return attach('wrongSquare', y, [x], (g) => [g.mul(x.detach())]); // should be 2x
    };
    const r = gradcheck(wrongSquare, [leaf([4])]);
    expect(r.ok).toBe(false);
    expect(r.failures[0]).toMatch(/inputs \[0\]/);
  });

  it('accumulates into .grad across backward calls and takes an explicit output gradient', () => {
    const x = tensor([1, 2, 3], [3], 'float64').setRequiresGrad();
    x.square().sum().backward();
    x.mul(3).backward(tensor([1, 1, 2], [3], 'float64'));
    expect([...x.grad!.dataSync()]).toEqual([2 + 3, 4 + 3, 6 + 6]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('a shared input collects the gradient of every use', () => {
    const x = tensor([2], [1], 'float64').setRequiresGrad();
    const y = x.mul(x).add(x); // x² + x
    y.sum().backward();
    expect(x.grad!.item()).toBe(5);
  });

  it('noGrad, detach and requiresGrad rules', () => {
    const x = randn([3]).setRequiresGrad();
    expect(noGrad(() => x.mul(2)).requiresGrad).toBe(false);
    expect(x.detach().requiresGrad).toBe(false);
    expect(x.detach().sharesStorageWith(x)).toBe(true);
    const y = x.mul(2);
    expect(y.requiresGrad).toBe(true);
    expect(() => (y.requiresGrad = false)).toThrow(/requiresGrad: can only be set on a leaf/);
    expect(() => zeros([2], { dtype: 'int32' }).setRequiresGrad()).toThrow(DTypeError);
    expect(() => y.backward()).toThrow(ShapeError);
    expect(() => randn([2]).sum().backward()).toThrow(/does not require a gradient/);
    expect(() => y.backward(zeros([4]))).toThrow(/grad has shape \[4\] but the output has \[3\]/);
  });

  it('refuses a second backward through a freed graph', () => {
    const x = randn([3]).setRequiresGrad();
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(ValueError);
    expect(() => y.backward()).toThrow(/freed by an earlier backward/);
  });

  it('frees saved tensors as backward uses them, and with the output when never backpropagated', () => {
    const w = randn([64, 64]).setRequiresGrad();
    const base = memory();
    const loss = tidy(() => w.tanh().matmul(w).exp().sum());
    expect(memory().bytes).toBeGreaterThan(base.bytes); // the graph holds its saved tensors
    loss.backward();
    loss.dispose();
    w.zeroGrad();
    expect(memory().tensors).toBe(base.tensors);
    expect(memory().bytes).toBe(base.bytes);
    const unused = tidy(() => w.tanh().matmul(w).exp().sum());
    unused.dispose(); // the graph below it goes with it
    expect(memory().tensors).toBe(base.tensors);
    expect(memory().bytes).toBe(base.bytes);
  });

  it('a training loop keeps memory flat', () => {
    const w = randn([16, 8], { std: 0.1 }).setRequiresGrad();
    const x = randn([32, 16]);
    const t = tensor(new Int32Array(32).map((_, i) => i % 8));
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    for (let step = 0; step < 30; step++) {
      tidy(() => {
        const loss = crossEntropy(matmul(x, w), t);
        loss.backward();
        losses.push(loss.item());
        // SGD in place: w stays the same leaf
        noGrad(() => copyInto(w, w.sub(w.grad!.mul(0.5))));
        w.zeroGrad();
      });
      if (step === 0) tensorsAfterFirst = memory().tensors;
    }
    expect(memory().tensors).toBe(tensorsAfterFirst);
    expect(losses[29]!).toBeLessThan(losses[0]! * 0.8);
    expect(() => copyInto(w, zeros([16, 8]))).toThrow(/in-place copies are not recorded/);
  });
});
