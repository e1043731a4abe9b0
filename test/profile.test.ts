import { describe, expect, it } from 'vitest';

import { breakdownMarkdown, isProfiling, profile, startProfile, stepBreakdown, stopProfile, type ProfileData } from '../lib/bench/profile.js';
import { AdamW, GPT, tensor, tidy, ValueError } from '../lib/index.js';
import { native } from '../lib/native.js';
import { clipGradNorm } from '../lib/optim/clip.js';
import { Tensor } from '../lib/tensor.js';

const L = 3;

function setup() {
  const model = new GPT({ vocabSize: 61, seqLen: 12, layers: L, dim: 24, heads: 3, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 3 });
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const x = tensor(Int32Array.from({ length: 22 }, (_, i) => (i * 7) % 61), [2, 11]);
  const y = tensor(Int32Array.from({ length: 22 }, (_, i) => (i * 5 + 1) % 61), [2, 11]);
  const step = (): void =>
    tidy(() => {
      model.forward(x, y).loss!.backward();
      clipGradNorm(model.parameters(), 1);
      opt.step();
      opt.zeroGrad();
    });
  const dispose = (): void => {
    for (const t of [x, y]) t.dispose();
    opt.dispose();
    model.dispose();
  };
  return { step, dispose };
}

function calls(p: ProfileData, op: string, phase: string): number {
  return p.ops.find((o) => o.op === op && o.phase === phase)?.calls ?? 0;
}

describe('native op profiler', () => {
  it('is off by default, never replaces the native table, and leaves Tensor.backward untouched when stopped', () => {
    expect(isProfiling()).toBe(false);
    const matmul = native.matmul, adam = native.adamStep, backward = Tensor.prototype.backward;
    startProfile();
    expect(isProfiling()).toBe(true);
    expect(native.matmul).toBe(matmul); // observed through lib/native.ts's wrapper, not swapped
    expect(Tensor.prototype.backward).not.toBe(backward);
    stopProfile();
    expect(isProfiling()).toBe(false);
    expect(native.matmul).toBe(matmul);
    expect(native.adamStep).toBe(adam);
    expect(Tensor.prototype.backward).toBe(backward);
  });

  it('counts the native calls of a GPT training step by op and phase', () => {
    const { step, dispose } = setup();
    step(); // warm-up outside the profile: optimizer state is created here
    const steps = 2;
    const { profile: p } = profile(() => {
      for (let i = 0; i < steps; i++) step();
    });
    // Per step, from the model's structure: L blocks of (2 RMSNorms, rope on q and k, attention, SwiGLU,
    // 4 projections), a final RMSNorm, the tied head's GEMM, embedding and cross-entropy.
    expect(calls(p, 'attentionForward', 'forward')).toBe(L * steps);
    expect(calls(p, 'attentionBackward', 'backward')).toBe(L * steps);
    expect(calls(p, 'attentionForward', 'backward')).toBe(0);
    // q and k rotate in one call (CausalSelfAttention reads them in place from the q/k/v projection)
    expect(calls(p, 'rope', 'forward')).toBe(L * steps);
    expect(calls(p, 'rope', 'backward')).toBe(L * steps);
    expect(calls(p, 'rmsNorm', 'forward')).toBe((2 * L + 1) * steps);
    expect(calls(p, 'rmsNormBackward', 'backward')).toBe((2 * L + 1) * steps);
    expect(calls(p, 'activation', 'forward')).toBe(L * steps);
    expect(calls(p, 'activationBackward', 'backward')).toBe(L * steps);
    expect(calls(p, 'matmul', 'forward')).toBe((4 * L + 1) * steps);
    expect(calls(p, 'matmul', 'backward')).toBeGreaterThanOrEqual((4 * L + 1) * steps);
    expect(calls(p, 'embedding', 'forward')).toBe(steps);
    expect(calls(p, 'embeddingBackward', 'backward')).toBe(steps);
    expect(calls(p, 'crossEntropy', 'forward')).toBe(steps);
    expect(calls(p, 'crossEntropyBackward', 'backward')).toBe(steps);
    expect(calls(p, 'adamStep', 'optimizer')).toBe(steps);
    expect(calls(p, 'clipGradNorm', 'optimizer')).toBe(steps);
    // Native time is part of the wall time, and the per-step breakdown adds up to the step.
    expect(p.nativeSeconds).toBeGreaterThan(0);
    expect(p.nativeSeconds).toBeLessThanOrEqual(p.wallSeconds);
    expect(p.ops.reduce((t, o) => t + o.seconds, 0)).toBeCloseTo(p.nativeSeconds, 12);
    const b = stepBreakdown(p, steps);
    const nativeMs = b.rows.reduce((t, r) => t + r.msPerStep, 0);
    expect(nativeMs + b.outsideMsPerStep).toBeCloseTo(b.stepMs, 6);
    expect(b.phaseMs.forward + b.phaseMs.backward + b.phaseMs.optimizer).toBeCloseTo(nativeMs, 6);
    expect(b.rows.find((r) => r.op === 'attentionForward')!.callsPerStep).toBe(L);
    const md = breakdownMarkdown(b, { minShare: 0 });
    expect(md).toContain('| attentionBackward | backward | 3 |');
    expect(md).toContain('outside native ops');
    // Calls after the profile stopped are not recorded anywhere.
    const before = calls(p, 'matmul', 'forward');
    step();
    expect(calls(p, 'matmul', 'forward')).toBe(before);
    dispose();
  });

  it('stops when the profiled function throws, and refuses nested or unmatched use', () => {
    const backward = Tensor.prototype.backward, full = native.full;
    expect(() => profile(() => native.full([2], 99, 0, 0))).toThrow();
    expect(isProfiling()).toBe(false);
    expect(native.full).toBe(full);
    expect(Tensor.prototype.backward).toBe(backward);
    expect(() => stopProfile()).toThrow(ValueError);
    startProfile();
    expect(() => startProfile()).toThrow(/already running/);
    stopProfile();
    expect(() => stepBreakdown({ wallSeconds: 1, nativeSeconds: 0, ops: [] }, 0)).toThrow(ValueError);
  });
});
