import { describe, expect, it } from 'vitest';

import { MPT_A100_TOKENS_PER_GPU, MPT_SIZES, mptParams } from '../lib/bench/mpt_published.js';
import { decomposeEfficiencies, fitEfficiencies, projectionMarkdown, projectMpt, relativeThroughput, type EfficiencyPoint, type MeasuredCell } from '../lib/bench/projection.js';
import { ValueError } from '../lib/errors.js';

// Deterministic multiplicative noise in [-amp, amp] (an LCG, so the test data is fixed).
function noise(seed: number, amp: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 1 + amp * (2 * (s / 2 ** 32) - 1);
  };
}

// Synthetic sweep: sizes with known dense efficiencies (GFLOP/s) and one attention efficiency.
const SIZES = [
  { size: 'a', layers: 2, dim: 128, params: 1.5e6, dense: 80 },
  { size: 'b', layers: 4, dim: 256, params: 5.3e6, dense: 190 },
  { size: 'c', layers: 6, dim: 384, params: 13.8e6, dense: 240 },
];
const E_ATTN = 120;
const LENS = [128, 256, 512, 1024, 2048, 4096];

function cells(eAttn = E_ATTN, jitter?: () => number, withTimings = false): MeasuredCell[] {
  return SIZES.flatMap((s) =>
    LENS.map((T) => {
      const dense = (6 * s.params) / (s.dense * 1e9), attn = (12 * s.layers * s.dim * T) / (eAttn * 1e9);
      const sec = (dense + attn) * (jitter ? jitter() : 1);
      const cell: MeasuredCell = { size: s.size, params: s.params, layers: s.layers, dim: s.dim, T, tokensPerSec: 1 / sec };
      // The attention timed alone: its own seconds (with the same jitter as the step) over the step time.
      if (withTimings) cell.attentionTimeShare = (attn * (jitter ? jitter() : 1)) / sec;
      return cell;
    }),
  );
}

describe('fitEfficiencies', () => {
  it('recovers the efficiencies exactly from noiseless data', () => {
    const pts: EfficiencyPoint[] = cells().map((c) => ({ group: c.size, denseFlops: 6 * c.params, attnFlops: 12 * c.layers * c.dim * c.T, secondsPerToken: 1 / c.tokensPerSec }));
    const f = fitEfficiencies(pts);
    for (const s of SIZES) expect(f.dense[s.size]).toBeCloseTo(s.dense, 6);
    expect(f.attention).toBeCloseTo(E_ATTN, 6);
    expect(f.rmsRelativeError).toBeLessThan(1e-9);
    expect(f.points).toBe(SIZES.length * LENS.length);
  });

  it('recovers them within a few percent from data with ±3% noise', () => {
    const j = noise(7, 0.03);
    const pts = cells(E_ATTN, j).map((c) => ({ group: c.size, denseFlops: 6 * c.params, attnFlops: 12 * c.layers * c.dim * c.T, secondsPerToken: 1 / c.tokensPerSec }));
    const f = fitEfficiencies(pts);
    for (const s of SIZES) expect(Math.abs(f.dense[s.size]! / s.dense - 1)).toBeLessThan(0.06);
    expect(Math.abs(f.attention / E_ATTN - 1)).toBeLessThan(0.1);
    expect(f.rmsRelativeError).toBeGreaterThan(0.005);
    expect(f.rmsRelativeError).toBeLessThan(0.03);
  });

  it('keeps coefficients non-negative: attention that costs nothing fits as infinitely fast', () => {
    const pts: EfficiencyPoint[] = LENS.map((T, i) => ({ group: 'g', denseFlops: 6e6, attnFlops: 1000 * T, secondsPerToken: (6e6 / 100e9) * (i % 2 ? 1.01 : 0.99) * (1 - T * 2e-5) }));
    const f = fitEfficiencies(pts);
    expect(f.attention).toBe(Infinity);
    expect(f.dense.g!).toBeGreaterThan(95);
    expect(f.dense.g!).toBeLessThan(110);
  });

  it('rejects too few or malformed points', () => {
    expect(() => fitEfficiencies([])).toThrow(ValueError);
    expect(() => fitEfficiencies([{ group: 'g', denseFlops: 1, attnFlops: 1, secondsPerToken: 1 }])).toThrow(/at least 2 points/);
    const bad = { group: 'g', denseFlops: 1e6, attnFlops: 10, secondsPerToken: Number.NaN };
    expect(() => fitEfficiencies([bad, { ...bad, secondsPerToken: 1 }])).toThrow(/secondsPerToken/);
  });
});

describe('decomposeEfficiencies', () => {
  it('takes E_attn from the attention timings and E_dense from the rest of the step', () => {
    const f = decomposeEfficiencies(cells(E_ATTN, undefined, true))!;
    expect(f.attention).toBeCloseTo(E_ATTN, 6);
    for (const s of SIZES) expect(f.dense[s.size]).toBeCloseTo(s.dense, 6);
    expect(f.rmsRelativeError).toBeLessThan(1e-9);
  });

  it('stays within a few percent with ±5% noise on the step and attention times', () => {
    const f = decomposeEfficiencies(cells(E_ATTN, noise(3, 0.05), true))!;
    expect(Math.abs(f.attention / E_ATTN - 1)).toBeLessThan(0.1);
    for (const s of SIZES) expect(Math.abs(f.dense[s.size]! / s.dense - 1)).toBeLessThan(0.1);
  });

  it('uses only the long cells for the attention efficiency', () => {
    // Attention twice as slow per FLOP below T = 1024 (short sequences: masked diagonal tiles weigh more).
    const cs = cells(E_ATTN, undefined, true).map((c) => (c.T < 1024 ? { ...c, attentionTimeShare: c.attentionTimeShare! * 1.5 } : c));
    expect(decomposeEfficiencies(cs)!.attention).toBeCloseTo(E_ATTN, 6);
  });

  it('declines cells without timings', () => {
    expect(decomposeEfficiencies(cells())).toBeNull();
    const cs = cells(E_ATTN, undefined, true);
    cs[0]!.attentionTimeShare = 1; // capped: not a usable timing
    expect(decomposeEfficiencies(cs)).toBeNull();
  });
});

describe('relativeThroughput', () => {
  it('is 1 at the base length and falls with the attention share', () => {
    expect(relativeThroughput(100, 10, 10, 2)).toBe(1);
    // fd = 100, fa doubles from 100 to 200: with equal efficiencies 200 / 300.
    expect(relativeThroughput(100, 100, 200, 1)).toBeCloseTo(2 / 3, 12);
    // Attention twice as slow per FLOP (ρ = 2): (100 + 200) / (100 + 400).
    expect(relativeThroughput(100, 100, 200, 2)).toBeCloseTo(0.6, 12);
  });
});

describe('MPT published data', () => {
  it('holds the issue\'s check figures for 2048 -> 8192', () => {
    const r = (s: string): number => MPT_A100_TOKENS_PER_GPU[s]![8192]! / MPT_A100_TOKENS_PER_GPU[s]![2048]!;
    expect(r('125M')).toBeCloseTo(0.63, 2);
    expect(r('13B')).toBeCloseTo(0.79, 2);
    expect(r('30B')).toBeCloseTo(0.63, 2);
    for (const s of MPT_SIZES) expect(Object.keys(MPT_A100_TOKENS_PER_GPU[s.name]!).map(Number)).toEqual([2048, 4096, 8192]);
  });

  it('has architectures whose parameter counts match the published NumParams within 2%', () => {
    // NumParams of the 2048-token rows of the same table.
    const published: Record<string, number> = { '125M': 125311488, '350M': 355985408, '760M': 760470528, '1B': 1315950592, '3B': 2651837440, '7B': 6658859008, '13B': 12853954560, '30B': 29975214080 };
    for (const s of MPT_SIZES) expect(Math.abs(mptParams(s) / published[s.name]! - 1)).toBeLessThan(0.02);
  });
});

describe('projectMpt', () => {
  it('uses the attention timings when the cells have them', () => {
    const p = projectMpt(cells(E_ATTN, undefined, true));
    expect(p.method).toBe('attention timings');
    expect(p.rho).toBeCloseTo(240 / E_ATTN, 6);
  });

  it('projects with the largest swept size\'s efficiency ratio and sets the published figures beside', () => {
    const p = projectMpt(cells());
    expect(p.method).toBe('step-time fit');
    expect(p.referenceSize).toBe('c');
    expect(p.rho).toBeCloseTo(240 / E_ATTN, 6);
    expect(p.rows).toHaveLength(MPT_SIZES.length * 3);
    for (const r of p.rows) {
      const s = MPT_SIZES.find((m) => m.name === r.size)!;
      const fd = 6 * mptParams(s), fa = (T: number): number => 12 * s.layers * s.dim * T;
      expect(r.projected).toBeCloseTo((fd + p.rho * fa(2048)) / (fd + p.rho * fa(r.T)), 12);
      expect(r.flopsOnly).toBeCloseTo((fd + fa(2048)) / (fd + fa(r.T)), 12);
      const pub = MPT_A100_TOKENS_PER_GPU[r.size]!;
      expect(r.published).toBeCloseTo(pub[r.T]! / pub[2048]!, 12);
      expect(r.difference).toBeCloseTo(r.projected - r.published!, 12);
      if (r.T === 2048) expect(r.projected).toBe(1);
    }
    // Small models pay more: the FLOP model's 8192 penalty shrinks with width.
    const at8k = p.rows.filter((r) => r.T === 8192);
    for (let i = 1; i < at8k.length; i++) expect(at8k[i]!.flopsOnly).toBeGreaterThan(at8k[i - 1]!.flopsOnly);
    // Slower attention (ρ = 2 > 1) projects a larger penalty than FLOPs alone.
    for (const r of at8k) expect(r.projected).toBeLessThan(r.flopsOnly);
    expect(p.publishedFit).not.toBeNull();
    expect(p.publishedFit!.rho).toBeGreaterThan(0);
  });

  it('renders a table with every MPT size, the source and the explanation', () => {
    const md = projectionMarkdown(projectMpt(cells()));
    for (const s of MPT_SIZES) expect(md).toContain(`| ${s.name} |`);
    expect(md).toContain('llm-foundry');
    expect(md).toMatch(/small models pay more/i);
  });
});
