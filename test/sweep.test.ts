import { describe, expect, it } from 'vitest';

import { benchSweep, sweepMarkdown } from '../lib/bench/sweep.js';
import { memory, ValueError } from '../lib/index.js';

describe('bench sweep', () => {
  it('reports one row per size and length, relative to the shortest length, and frees its models', () => {
    const before = memory().tensors;
    const rep = benchSweep({ sizes: [{ name: 'tiny', layers: 1, dim: 32, heads: 2 }], seqLens: [64, 16], tokensPerStep: 64, vocab: 64, steps: 1 });
    expect(rep.rows.map((r) => [r.T, r.batch])).toEqual([[16, 4], [64, 1]]); // sorted by length
    const [short, long] = rep.rows;
    expect(short!.relative).toBe(1);
    expect(long!.relative).toBeCloseTo(long!.tokensPerSec / short!.tokensPerSec, 10);
    // the attention FLOP share follows 12·L·d·T / (6·N + 12·L·d·T)
    const r = long!;
    expect(r.attentionFlopShare).toBeCloseTo((12 * 1 * 32 * 64) / (6 * r.params + 12 * 1 * 32 * 64), 10);
    expect(r.gflopsCausal).toBeLessThan(r.gflops);
    expect(r.mfu).toBeGreaterThan(0);
    expect(sweepMarkdown(rep)).toContain('| tiny |');
    expect(memory().tensors).toBe(before);
  });

  it('refuses lengths that do not divide the tokens per step', () => {
    expect(() => benchSweep({ seqLens: [100], tokensPerStep: 4096 })).toThrow(ValueError);
    expect(() => benchSweep({ seqLens: [100], tokensPerStep: 4096 })).toThrow(/must divide the tokens per step \(4096\), got 100/);
  });
});
