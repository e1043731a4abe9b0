// Issue 14, defects 3 and 5 and the optimizer part of 9: a parameter listed twice, gradients written after
// clipGradNorm, and disposed parameters.
import { describe, expect, it } from 'vitest';

import { copyInto, DisposedError, noGrad, tensor, ValueError, type Tensor } from '../lib/index.js';
import { Adam, Adam8bit, AdamW, AdamW8bit, clipGradNorm, Lion, SGD, SophiaG, type Optimizer } from '../lib/optim/index.js';

type Make = (params: Tensor[] | { params: Tensor[] }[]) => Optimizer<any>;
const OPTIMIZERS: [string, Make][] = [
  ['SGD', (p) => new SGD(p as Tensor[], { lr: 0.1 })],
  ['SGD momentum', (p) => new SGD(p as Tensor[], { lr: 0.1, momentum: 0.9 })],
  ['Adam', (p) => new Adam(p as Tensor[], { lr: 0.1 })],
  ['AdamW', (p) => new AdamW(p as Tensor[], { lr: 0.1 })],
  ['Adam8bit', (p) => new Adam8bit(p as Tensor[], { lr: 0.1 })],
  ['AdamW8bit', (p) => new AdamW8bit(p as Tensor[], { lr: 0.1 })],
  ['Lion', (p) => new Lion(p as Tensor[], { lr: 0.1 })],
  ['SophiaG', (p) => new SophiaG(p as Tensor[], { lr: 0.1 })],
];

const param = (v = 1): Tensor<'float32'> => tensor([v, v], [2]).setRequiresGrad();

describe('defect 3: a parameter given twice is refused, never stepped twice', () => {
  it('SGD lr 0.1 on gradient 1 moves 1 to 0.9 (the reported case is refused at construction)', () => {
    const p = param();
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/parameter 1 is the same tensor as group 0 parameter 0/);
    const opt = new SGD([p], { lr: 0.1 });
    p.grad = tensor([1, 1], [2]);
    opt.step();
    for (const v of p.dataSync()) expect(v).toBeCloseTo(0.9, 6);
  });

  for (const [name, make] of OPTIMIZERS) {
    it(`${name}: twice in one group, in two groups, and through addParamGroup`, () => {
      const p = param(), q = param();
      expect(() => make([p, q, p])).toThrow(ValueError);
      expect(() => make([{ params: [p] }, { params: [q, p] }])).toThrow(/already belongs to group 0/);
      const opt = make([p]);
      expect(() => opt.addParamGroup({ params: [p] })).toThrow(ValueError);
      expect(opt.paramGroups.length).toBe(1);
    });

    it(`${name}: two tensors over the same memory are refused by the fused step`, () => {
      // A detached view is a different tensor object over the same storage: the native step must not
      // update that memory twice.
      const p = param();
      const alias = p.detach().setRequiresGrad();
      const opt = make([p, alias]);
      p.grad = tensor([1, 1], [2]);
      alias.grad = tensor([1, 1], [2]);
      expect(() => opt.step()).toThrow(/share memory/);
      expect(Array.from(p.dataSync())).toEqual([1, 1]);
    });
  }

  it('a gradient that aliases its parameter or a state tensor is refused', () => {
    const p = param();
    const opt = new SGD([p], { lr: 0.1 });
    p.grad = p.detach() as typeof p.grad;
    expect(() => opt.step()).toThrow(ValueError);
    expect(Array.from(p.dataSync())).toEqual([1, 1]);
  });
});

describe('defect 5: the step checks the gradients it applies', () => {
  for (const [name, make] of OPTIMIZERS) {
    it(`${name}: NaN written into a gradient after clipGradNorm is caught`, () => {
      const p = param(), q = param();
      const opt = make([p, q]);
      p.grad = tensor([3, 4], [2]);
      q.grad = tensor([1, 1], [2]);
      expect(clipGradNorm([p, q], 1)).toBeCloseTo(Math.sqrt(27), 5);
      noGrad(() => copyInto(q.grad!, tensor([NaN, 1], [2])));
      expect(opt.step()).toBe(false);
      expect(opt.skippedSteps).toBe(1);
      for (const t of [p, q]) expect(Array.from(t.dataSync())).toEqual([1, 1]);
    });

    it(`${name}: a gradient replaced after clipGradNorm is checked`, () => {
      const p = param();
      const opt = make([p]);
      p.grad = tensor([3, 4], [2]);
      clipGradNorm([p], 1);
      p.grad = tensor([Infinity, 0], [2]);
      expect(opt.step()).toBe(false);
      expect(Array.from(p.dataSync())).toEqual([1, 1]);
    });
  }
});

describe('issue 14 item 9: disposed tensors', () => {
  it('setRequiresGrad() and requiresGrad = on a disposed tensor throw DisposedError', () => {
    const x = tensor([1], [1]);
    x.dispose();
    expect(() => x.setRequiresGrad()).toThrow(DisposedError);
    expect(() => {
      x.requiresGrad = true;
    }).toThrow(DisposedError);
  });

  for (const [name, make] of OPTIMIZERS) {
    it(`${name}: a disposed parameter is refused at construction and at step`, () => {
      const gone = param();
      gone.dispose();
      expect(() => make([gone])).toThrow(DisposedError);
      const p = param(), q = param();
      const opt = make([p, q]);
      p.grad = tensor([1, 1], [2]);
      q.grad = tensor([1, 1], [2]);
      q.dispose();
      expect(() => opt.step()).toThrow(DisposedError);
      expect(Array.from(p.dataSync())).toEqual([1, 1]);
    });
  }
});
