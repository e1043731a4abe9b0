import { describe, expect, it } from 'vitest';

import { benchOverhead, overheadMarkdown } from '../lib/bench/overhead.js';
import { versions } from '../lib/bench/report.js';
import { benchSweep, DEFAULT_SWEEP_SIZES, estimateStepBytes, sweepMarkdown, type SweepSize } from '../lib/bench/sweep.js';
import { memory, resetPeakMemory, tidy } from '../lib/memory.js';
import { GPT } from '../lib/nn/gpt.js';
import { tensor } from '../lib/ops/creation.js';
import { AdamW } from '../lib/optim/index.js';

const TINY: SweepSize = { name: 'tiny', layers: 2, dim: 64, heads: 2 };

describe('estimateStepBytes', () => {
  it('bounds the measured peak of a real training step of the sweep\'s 1M size from above, within 1.6x', () => {
    const ONE_M = DEFAULT_SWEEP_SIZES[0]!;
    for (const T of [64, 256]) {
      const tokens = 512, vocab = 8192;
      // Everything the step needs counts: weights, gradients, optimizer state and the step's transients.
      const before = memory().bytes;
      resetPeakMemory();
      const model = new GPT({ vocabSize: vocab, seqLen: T, layers: ONE_M.layers, dim: ONE_M.dim, heads: ONE_M.heads, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 1 });
      const opt = new AdamW(model.parameters(), { lr: 1e-3 });
      const x = tensor(Int32Array.from({ length: tokens }, (_, i) => (i * 7) % vocab), [tokens / T, T]);
      const y = tensor(Int32Array.from({ length: tokens }, (_, i) => (i * 13 + 1) % vocab), [tokens / T, T]);
      for (let s = 0; s < 2; s++) tidy(() => { model.forward(x, y).loss!.backward(); opt.step(); opt.zeroGrad(); });
      const peak = memory().peakBytes - before;
      const est = estimateStepBytes(ONE_M, tokens, vocab, 'swiglu', 'adamw');
      expect(est).toBeGreaterThanOrEqual(peak);
      expect(est).toBeLessThan(1.6 * peak);
      for (const t of [x, y]) t.dispose();
      opt.dispose();
      model.dispose();
    }
  });

  it('grows with tokens per step, layers, width and optimizer state', () => {
    const base = estimateStepBytes(TINY, 1024, 512, 'swiglu', 'adamw');
    expect(estimateStepBytes(TINY, 2048, 512, 'swiglu', 'adamw')).toBeGreaterThan(base);
    expect(estimateStepBytes({ ...TINY, layers: 4 }, 1024, 512, 'swiglu', 'adamw')).toBeGreaterThan(base);
    expect(estimateStepBytes({ ...TINY, dim: 128 }, 1024, 512, 'swiglu', 'adamw')).toBeGreaterThan(base);
    expect(estimateStepBytes(TINY, 1024, 512, 'swiglu', 'sgd')).toBeLessThan(base);
  });
});

describe('benchSweep memory handling', () => {
  it('skips cells whose estimate exceeds the budget, with a message naming the estimate', () => {
    const lines: string[] = [];
    const rep = benchSweep({ sizes: [TINY], seqLens: [16, 32], tokensPerStep: 64, vocab: 128, steps: 1, memoryBudget: 1000, log: (l) => lines.push(l) });
    expect(rep.rows).toHaveLength(0);
    expect(rep.skipped.map((k) => k.T)).toEqual([16, 32]);
    for (const k of rep.skipped) {
      expect(k.estimatedBytes).toBe(estimateStepBytes(TINY, 64, 128, 'swiglu', 'adamw'));
      expect(k.budgetBytes).toBe(1000);
      expect(k.message).toMatch(/skipped tiny at T = \d+: estimated peak .* GiB exceeds the budget/);
    }
    expect(lines.filter((l) => l.startsWith('skipped'))).toHaveLength(2);
    expect(sweepMarkdown(rep)).toContain('- skipped tiny at T = 16');
  });

  it('runs cells that fit, reports the estimate beside the peak, and leaves the block cache empty', () => {
    const rep = benchSweep({ sizes: [TINY], seqLens: [32, 16], tokensPerStep: 64, vocab: 128, steps: 1, memoryBudget: 2 ** 40 });
    expect(rep.skipped).toHaveLength(0);
    expect(rep.rows.map((r) => r.T)).toEqual([16, 32]);
    expect(rep.rows[0]!.relative).toBe(1);
    for (const r of rep.rows) {
      expect(r.estimatedBytes).toBeGreaterThanOrEqual(r.peakBytes);
      expect(r.tokensPerSec).toBeGreaterThan(0);
    }
    expect(memory().cachedBytes).toBe(0);
  });
});

describe('benchOverhead', () => {
  it('times every case, leaks no tensors, and renders a table', () => {
    const live = memory().tensors;
    const rep = benchOverhead({ calls: 200, batches: 3 });
    expect(rep.rows.map((r) => r.case)).toEqual([
      'native no-op (numThreads)', 'add, 1 element, no autograd', 'add, 1 element, no autograd, 1 thread', 'add, 1 element, recording autograd',
      'add, 1 element, no autograd, in its own tidy()', 'empty tidy()',
    ]);
    for (const r of rep.rows) {
      expect(Number.isFinite(r.nsPerCall)).toBe(true);
      expect(r.nsPerCall).toBeGreaterThan(0);
    }
    expect(memory().tensors).toBe(live);
    expect(overheadMarkdown(rep)).toContain('| native no-op (numThreads) |');
  });
});

describe('versions', () => {
  it('names lmforge, node and the compiler that built the addon', () => {
    const v = versions();
    expect(v.lmforge).toMatch(/^\d+\.\d+\.\d+/);
    expect(v.node).toBe(process.versions.node);
    expect(v.compiler).toMatch(/^(gcc|clang|msvc) /);
  });
});
