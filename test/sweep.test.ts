import { describe, expect, it } from 'vitest';

import { benchSweep, sweepMarkdown } from '../lib/bench/sweep.js';
import { parse } from '../lib/cli/args.js';
import { BENCHES } from '../lib/cli/bench_cmd.js';
import { memory, ValueError } from '../lib/index.js';

const TINY = { name: 'tiny', layers: 1, dim: 32, heads: 2 };

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

  it('times --repeats repeats of --steps steps per cell: the median repeat, and the spread between repeats', () => {
    const rep = benchSweep({ sizes: [TINY], seqLens: [16], tokensPerStep: 32, vocab: 64, steps: 2, repeats: 3 });
    expect(rep.options).toMatchObject({ steps: 2, repeats: 3 });
    const r = rep.rows[0]!;
    expect(r.repeatSeconds).toHaveLength(3);
    const sorted = [...r.repeatSeconds].sort((a, b) => a - b);
    expect(r.stepSeconds).toBe(sorted[1]);
    expect(r.spread).toBeCloseTo((sorted[2]! - sorted[0]!) / sorted[1]!, 12);
    expect(r.tokensPerSec).toBeCloseTo(32 / r.stepSeconds, 6);
    const md = sweepMarkdown(rep);
    expect(md).toContain('median of 3 repeats of 2 steps');
    expect(md).toContain(`| ${(100 * r.spread).toFixed(1)}% |`);
    // One repeat: nothing to disagree with.
    expect(benchSweep({ sizes: [TINY], seqLens: [16], tokensPerStep: 16, vocab: 64, steps: 1, repeats: 1 }).rows[0]!.spread).toBe(0);
  });

  it('the CLI takes --steps and --repeats; bad counts are clear errors', () => {
    const sweep = BENCHES.find((c) => c.spec.name === 'bench sweep')!;
    expect(parse(sweep.spec, ['--steps', '4', '--repeats', '2']).values).toMatchObject({ steps: 4, repeats: 2 });
    expect(() => parse(sweep.spec, ['--repeats', '0'])).toThrow(/--repeats must be a positive integer, got '0'/);
    expect(() => benchSweep({ sizes: [TINY], seqLens: [16], tokensPerStep: 16, steps: 0 })).toThrow(/bench sweep.*steps must be a positive integer, got 0/);
    expect(() => benchSweep({ sizes: [TINY], seqLens: [16], tokensPerStep: 16, repeats: 1.5 })).toThrow(ValueError);
  });

  it('refuses lengths that do not divide the tokens per step', () => {
    expect(() => benchSweep({ seqLens: [100], tokensPerStep: 4096 })).toThrow(ValueError);
    expect(() => benchSweep({ seqLens: [100], tokensPerStep: 4096 })).toThrow(/must divide the tokens per step \(4096\), got 100/);
  });
});
