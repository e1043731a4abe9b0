// The optimizer contract across the binding: named hyperparameter objects validated in double, an explicit
// 8-bit flag, the Hessian EMA's NaN guard, the Trainer's afterStep hook, and profiling through the native
// table's own wrapper.
import { describe, expect, it } from 'vitest';

import { profile } from '../lib/bench/profile.js';
import { ByteTokenizer, tokenizeDocuments } from '../lib/data/index.js';
import { ArgumentTypeError, GPT, tensor, ValueError, type Tensor } from '../lib/index.js';
import { native, type AdamHyper } from '../lib/native.js';
import { Adam, Adam8bit, AdamW, Lion, SGD, SophiaG, type StepContext } from '../lib/optim/index.js';
import { Trainer } from '../lib/train/index.js';
import { normals } from './reference/prng.js';

const FLOAT_MAX = 3.4028234663852886e38;

function param(n: number, seed: number): Tensor<'float32'> {
  const p = tensor(normals(n, seed), [n]).setRequiresGrad();
  p.grad = tensor(normals(n, seed + 100), [n]);
  return p;
}

describe('hyperparameters are checked in double, and messages show the value checked', () => {
  // A warm-up schedule reaching lr 1e30 computes 1.0000000000000002e30 (rounding); the old bound of 1e30
  // refused it as "must be in [0, 1e+30], got 1e+30". The bound is now what float32 can hold.
  const justAbove1e30 = 1e30 * (1 + 2 ** -52);
  it.each([
    ['SGD', (p: Tensor) => new SGD([p], { lr: justAbove1e30 })],
    ['Lion', (p: Tensor) => new Lion([p], { lr: justAbove1e30 })],
    ['SophiaG', (p: Tensor) => new SophiaG([p], { lr: justAbove1e30, weightDecay: 0 })],
    ['AdamW', (p: Tensor) => new AdamW([p], { lr: justAbove1e30, weightDecay: 0, beta1: 0 })],
  ])('%s steps with lr just above 1e30 (the value a warm-up to --lr 1e30 reaches)', (_, make) => {
    const p = param(300, 1);
    expect(justAbove1e30).toBeGreaterThan(1e30);
    expect(make(p).step()).toBe(true);
  });

  it('an lr beyond float32 is refused naming the exact value and the bound', () => {
    const p = param(300, 2);
    const opt = new SGD([p], { lr: 3.5e38 });
    expect(() => opt.step()).toThrow(ValueError);
    expect(() => opt.step()).toThrow(`SGD.step: groups[0].lr must be in [0, ${FLOAT_MAX}] (the largest float32), got 3.5e+38`);
  });

  it('a coefficient that overflows float32 is refused, not turned into Inf weights', () => {
    const p = param(300, 3);
    const before = p.dataSync().slice();
    // 1 - lr·wd = -1e40 was within the old bounds (1e30 each) and became -Inf in float: Inf weights.
    try {
      new Lion([p], { lr: 1e20, weightDecay: 1e20 }).step();
    } catch (e) {
      expect(String(e)).toMatch(/Lion.step: groups\[0\]: 1 - lr\*weightDecay = -1e\+40 is beyond float32/);
    }
    expect([...p.dataSync()]).toEqual([...before]);
    // lr / (1 - beta1^1) = 3e38 / 0.5 = 6e38: beyond float32.
    expect(() => new Adam([p], { lr: 3e38, beta1: 0.5 }).step()).toThrow('Adam.step: groups[0]: lr / (1 - beta1^step) = 6e+38 is beyond float32');
    expect([...p.dataSync()]).toEqual([...before]);
  });
});

describe('the binding reads named hyperparameter objects', () => {
  const adam: AdamHyper = { lr: 1e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupled: true, step: 1 };
  const zeros = (n: number): Tensor => tensor(new Float32Array(n), [n]);

  it('a missing or mistyped field is refused by name', () => {
    const p = param(300, 4);
    const group = (hyper: unknown) => [{ hyper, params: [p.handle], grads: [p.grad!.handle], masters: [null], states: [[zeros(300).handle, zeros(300).handle]] }] as never;
    const { eps: _, ...noEps } = adam;
    expect(() => native.adamStep(group(noEps))).toThrow(ArgumentTypeError);
    expect(() => native.adamStep(group(noEps))).toThrow('Adam.step: groups[0].hyper.eps must be a number, got undefined');
    expect(() => native.adamStep(group({ ...adam, decoupled: 1 }))).toThrow('groups[0].hyper.decoupled must be a boolean, got a number');
    expect(() => native.adamStep(group({ ...adam, step: 1.5 }))).toThrow('groups[0].hyper.step must be an integer, got 1.5');
    expect(() => native.adamStep(group([1e-3, 0, 0.9, 0.999, 1e-8, 1, 1]))).toThrow('groups[0].hyper must be an object, got an array');
    expect(() => native.adam8bitStep(group(adam))).toThrow('groups[0].hyper.eightBit must be a boolean, got undefined');
    expect(native.adamStep(group(adam))).toBe(true);
  });

  it('the 8-bit layout is the explicit flag, not the number of state tensors', () => {
    const n = 5000, blocks = Math.ceil(n / 256);
    const p = param(n, 5);
    const codes = (): Tensor => tensor(new Uint8Array(n), [n], 'uint8');
    const eight = [codes().handle, codes().handle, zeros(blocks).handle, zeros(blocks).handle];
    const fp32 = [zeros(n).handle, zeros(n).handle];
    const group = (states: unknown[], hyper: object) => [{ hyper, params: [p.handle], grads: [p.grad!.handle], masters: [null], states: [states] }] as never;
    // Plain Adam takes float32 moments only: four tensors are not read as 8-bit state.
    expect(() => native.adamStep(group(eight, adam))).toThrow(/has 4 state tensors, expected 2 \(first and second moment, float32\)/);
    expect(() => native.adam8bitStep(group(fp32, { ...adam, eightBit: true }))).toThrow(/has 2 state tensors, expected 4 \(8-bit/);
    expect(() => native.adam8bitStep(group(eight, { ...adam, eightBit: false }))).toThrow(/has 4 state tensors, expected 2/);
    // eightBit false is Adam's float32 step exactly.
    const q = tensor(p.dataSync().slice(), [n]);
    const m2 = [zeros(n).handle, zeros(n).handle];
    expect(native.adam8bitStep(group(fp32, { ...adam, eightBit: false }))).toBe(true);
    expect(native.adamStep([{ hyper: adam, params: [q.handle], grads: [p.grad!.handle], masters: [null], states: [m2] }])).toBe(true);
    expect([...p.dataSync()]).toEqual([...q.dataSync()]);
    expect(native.adam8bitStep(group(eight, { ...adam, eightBit: true, step: 2 }))).toBe(true);
  });

  it('Adam8bit sends its small and large parameters in one call, each with its layout', () => {
    const small = param(300, 6), large = param(5000, 7);
    const opt = new Adam8bit([small, large], { lr: 1e-2 });
    const { profile: prof } = profile(() => opt.step());
    expect(prof.ops.filter((o) => o.op.endsWith('Step')).map((o) => [o.op, o.calls])).toEqual([['adam8bitStep', 1]]);
    const sd = opt.stateDict();
    expect(Object.keys(sd.state[0]![0]!.tensors).sort()).toEqual(['expAvg', 'expAvgSq']);
    expect(Object.keys(sd.state[0]![1]!.tensors).sort()).toEqual(['expAvgAbsmax', 'expAvgCodes', 'expAvgSqAbsmax', 'expAvgSqCodes']);
  });
});

describe('SophiaG.updateHessian skips a non-finite estimate', () => {
  for (const bad of [NaN, Infinity]) {
    it(`an estimate holding ${bad} changes no Hessian state and is counted`, () => {
      const a = param(300, 8), b = param(40, 9);
      const opt = new SophiaG([{ params: [a] }, { params: [b], beta2: 0.5 }], { lr: 1e-3 });
      opt.step();
      const est = (p: Tensor, seed: number): Tensor => tensor(normals(p.size, seed).map((x) => x * x), [...p.shape]);
      const first = opt.updateHessian([est(a, 10), est(b, 11)]);
      const h0 = opt.stateDict().state.map((g) => [...g[0]!.tensors.hessian!.data]);
      const poisoned = normals(40, 12).map((x) => x * x);
      poisoned[17] = bad;
      const second = opt.updateHessian([est(a, 13), tensor(poisoned, [40])]);
      // Nothing changed, in either group (the check covers every estimate before any is folded in).
      expect(opt.stateDict().state.map((g) => [...g[0]!.tensors.hessian!.data])).toEqual(h0);
      expect([first, second]).toEqual([true, false]);
      expect(opt.hessianUpdates).toBe(1);
      expect(opt.skippedHessianUpdates).toBe(1);
      expect(opt.updateHessian([est(a, 14), est(b, 15)])).toBe(true);
      expect(opt.hessianUpdates).toBe(2);
      expect(opt.step()).toBe(true);
      for (const v of [...a.dataSync(), ...b.dataSync()]) expect(Number.isFinite(v)).toBe(true);
    });
  }
});

describe('the Trainer reaches optimizer work between steps through afterStep', () => {
  it('calls afterStep once per step with the step as the seed and logits of the last micro-batch', async () => {
    const docs = Array.from({ length: 30 }, (_, i) => ({ source: `d${i}`, text: `document ${i}: the cat sat on the mat, ${i} times over.` }));
    const data = await tokenizeDocuments(docs, new ByteTokenizer(), { valFraction: 0.1, seed: 1 });
    const model = new GPT({ vocabSize: 257, seqLen: 16, layers: 1, dim: 16, heads: 2, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 3 });
    const seen: [number, number[]][] = [];
    class Watched extends AdamW {
      override afterStep(ctx: StepContext): void {
        const logits = ctx.logits();
        seen.push([ctx.seed, [...logits.shape]]);
        logits.dispose();
      }
    }
    const optimizer = new Watched(model.parameters(), { lr: 1e-3 });
    new Trainer({ model, optimizer, data, batchSize: 3, gradAccum: 2, maxSteps: 4, seed: 5, progress: 'none', evalBatches: 1, schedule: () => 1e-3 }).fit();
    expect(seen).toEqual([0, 1, 2, 3].map((s) => [s, [3, 16, 257]]));
  });
});

describe('profiling observes the native table without replacing it', () => {
  it('a native function taken before the profile started is timed, and the table is the same object throughout', () => {
    const p = param(300, 16);
    const opt = new Lion([p], { lr: 1e-4 });
    const lionStep = native.lionStep, matmul = native.matmul;
    const a = tensor(normals(12, 17), [3, 4]), b = tensor(normals(20, 18), [4, 5]);
    const { profile: prof } = profile(() => {
      expect(native.lionStep).toBe(lionStep);
      matmul(a.handle, b.handle, null, null).dispose();
      opt.step();
    });
    expect(native.matmul).toBe(matmul);
    const calls = (op: string) => prof.ops.find((o) => o.op === op)?.calls ?? 0;
    expect(calls('matmul')).toBe(1);
    expect(prof.ops.find((o) => o.op === 'lionStep')).toMatchObject({ calls: 1, phase: 'optimizer' });
  });
});
