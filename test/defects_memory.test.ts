// Issue 14, defect 6: disposing a parameter must free its gradient.
import { describe, expect, it } from 'vitest';

import { memory, tensor, tidy } from '../lib/index.js';
import { SGD } from '../lib/optim/index.js';

describe('defect 6: dispose() frees the gradient', () => {
  it('1,000 parameters trained and disposed leave no orphan gradient', () => {
    const before = memory();
    for (let i = 0; i < 1000; i++) {
      const p = tensor([1, 2, 3, 4], [4]).setRequiresGrad();
      tidy(() => p.mul(2).sum().backward());
      const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
      opt.step();
      opt.dispose();
      p.dispose();
      expect(p.grad).toBeNull();
    }
    const after = memory();
    expect(after.tensors - before.tensors).toBe(0);
    expect(after.buffers - before.buffers).toBe(0);
    expect(after.bytes - before.bytes).toBe(0);
  });

  it('a gradient taken out before dispose() is the caller\'s to keep', () => {
    const p = tensor([1, 2], [2]).setRequiresGrad();
    tidy(() => p.mul(3).sum().backward());
    const g = p.grad!;
    p.grad = null;
    p.dispose();
    expect(g.isDisposed).toBe(false);
    expect(Array.from(g.dataSync())).toEqual([3, 3]);
    g.dispose();
  });
});
