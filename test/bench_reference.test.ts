import { describe, expect, it } from 'vitest';

import { detectTorch } from '../lib/bench/peer_torch.js';
import { benchReference, referenceMarkdown, type ReferenceOptions } from '../lib/bench/reference.js';
import { memory } from '../lib/index.js';
import { matmulKernel } from '../lib/runtime.js';

// A small model with the reference's choices (RoPE, SwiGLU, RMSNorm, no biases): the reference itself
// takes minutes, and its figures are a benchmark's, not a test's.
const SMALL: ReferenceOptions = {
  model: { vocabSize: 97, seqLen: 16, layers: 2, dim: 32, heads: 2 }, batch: 2, rounds: 2, stepsPerRound: 2, warmup: 1, profileSteps: 1,
};

describe('bench reference', () => {
  it('reports lmforge alone with --peer none, with consistent rates and a by-op breakdown', async () => {
    const before = memory().tensors;
    const r = await benchReference({ ...SMALL, peer: 'none' });
    expect(r.torch).toBeNull();
    expect(r.ratio).toBeNull();
    expect(r.torchAbsent).toMatch(/not requested/);
    const lm = r.lmforge;
    expect(lm.roundsMs).toHaveLength(2);
    expect(lm.tokensPerSec).toBeCloseTo((2 * 16 * 1000) / lm.stepMs, 6);
    expect(r.model.flopsPerToken).toBe(6 * r.model.params + 12 * 2 * 32 * 16);
    expect(lm.gflops).toBeCloseTo((r.model.flopsPerToken * lm.tokensPerSec) / 1e9, 6);
    expect(lm.mfu).toBeCloseTo(lm.gflops / r.peak, 9);
    expect(r.breakdown!.rows.find((x) => x.op === 'attentionBackward')!.callsPerStep).toBe(2);
    expect(r.breakdown!.rows.find((x) => x.op === 'clipGradNorm')!.phase).toBe('optimizer');
    // bf16 mixed precision beside fp32, in the same rounds, with its own breakdown.
    const half = r.lmforgeBf16!;
    expect(half.roundsMs).toHaveLength(2);
    expect(half.gflops).toBeCloseTo((r.model.flopsPerToken * half.tokensPerSec) / 1e9, 6);
    expect(r.bf16Ratio).toBeCloseTo(half.tokensPerSec / lm.tokensPerSec, 9);
    expect(half.kernel).toBe(matmulKernel('bfloat16'));
    expect(r.breakdownBf16!.rows.find((x) => x.op === 'attentionBackward')!.callsPerStep).toBe(2);
    expect(r.breakdownBf16!.rows.some((x) => x.op === 'astype')).toBe(true);  // the bf16 step casts; fp32 does not
    const md = referenceMarkdown(r);
    expect(md).toContain('No PyTorch peer: not requested');
    expect(md).toContain('outside native ops');
    expect(md).toMatch(/lmforge bf16 \/ fp32: [\d.]+×/);
    expect(md).toContain("### Where lmforge's bf16 step goes");
    expect(memory().tensors).toBe(before);
  });

  it('leaves bf16 out when asked', async () => {
    const r = await benchReference({ ...SMALL, peer: 'none', bf16: false, profileSteps: 0 });
    expect(r.lmforgeBf16).toBeNull();
    expect(r.bf16Ratio).toBeNull();
    expect(referenceMarkdown(r)).not.toContain('bf16');
  });

  it('rejects bad counts', async () => {
    await expect(benchReference({ ...SMALL, rounds: 0, peer: 'none' })).rejects.toThrow(/rounds must be an integer >= 1/);
  });

  it.skipIf(!detectTorch().available)('alternates rounds with the PyTorch peer and reports the ratio', async () => {
    const r = await benchReference({ ...SMALL, peer: 'torch', probePeer: false, peerProfileSteps: 1 });
    expect(r.torchAbsent).toBeNull();
    const pt = r.torch!;
    expect(pt.info.params).toBe(r.model.params);
    expect(pt.roundsMs).toHaveLength(2);
    expect(r.ratio).toBeCloseTo(r.lmforge.tokensPerSec / pt.tokensPerSec, 9);
    expect(r.torchProfile!.ops.length).toBeGreaterThan(0);
    expect(referenceMarkdown(r)).toMatch(/lmforge \/ PyTorch: [\d.]+×/);
  });
});
