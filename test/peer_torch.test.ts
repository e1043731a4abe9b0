import { describe, expect, it } from 'vitest';

import { detectTorch, probeTorchSetting, runTorchOnce, torchCheck, torchConfigFor } from '../lib/bench/peer_torch.js';
import { benchSweep, sweepMarkdown } from '../lib/bench/sweep.js';
import { AdamW, GPT, noGrad, tensor, tidy, type GPTConfig } from '../lib/index.js';
import { clipGradNorm } from '../lib/optim/clip.js';

const torch = detectTorch();
if (!torch.available) console.log(`peer_torch tests skipped: ${torch.reason}`);

// Each case differs from the others in the choices the peer has to mirror: position (RoPE either pairing,
// ALiBi, learned), activation (gated or not), norm, biases, tied head, grouped-query heads.
const CASES: [string, GPTConfig][] = [
  ['rope half, swiglu, rmsnorm, no bias, tied', { vocabSize: 37, seqLen: 9, layers: 2, dim: 24, heads: 3, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false }],
  ['rope interleaved, geglu, layernorm + bias, untied, GQA', { vocabSize: 41, seqLen: 9, layers: 2, dim: 24, heads: 4, kvHeads: 2, position: 'rope', ropePairing: 'interleaved', activation: 'geglu', norm: 'layernorm', bias: true, tieEmbeddings: false }],
  ['alibi (3 heads), relu', { vocabSize: 29, seqLen: 9, layers: 1, dim: 18, heads: 3, position: 'alibi', activation: 'relu', norm: 'rmsnorm', bias: false }],
  ['learned positions, gelu, layernorm', { vocabSize: 31, seqLen: 9, layers: 2, dim: 16, heads: 2, position: 'learned', activation: 'gelu', norm: 'layernorm' }],
];

describe.skipIf(!torch.available)('PyTorch peer (bench/peers/torch_gpt.py)', () => {
  it.each(CASES)('trains the same model with the same step: %s', (_name, cfg) => {
    const model = new GPT({ ...cfg, initStd: 0.3, seed: 5 });
    const B = 2, T = 9, lr = 3e-2, wd = 0.1, clip = 0.5;
    const V = cfg.vocabSize;
    const xs = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 13 + t * 7 + 3) % V));
    const ys = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 5 + t * 11 + 1) % V));
    const x = tensor(Int32Array.from(xs.flat()), [B, T]);
    const y = tensor(Int32Array.from(ys.flat()), [B, T]);
    const params: Record<string, number[]> = {};
    for (const [n, p] of model.namedParameters()) params[n] = Array.from(p.dataSync() as Float32Array);
    const opt = new AdamW(model.parameters(), { lr, weightDecay: wd });
    const [loss0, norm] = tidy(() => {
      const l = model.forward(x, y).loss!;
      l.backward();
      const n = clipGradNorm(model.parameters(), clip);
      opt.step();
      return [l.item(), n];
    });
    const loss1 = noGrad(() => tidy(() => model.forward(x, y).loss!.item()));
    const peer = torchCheck(torchConfigFor(model, { batch: B, seq: T, optimizer: 'adamw', lr, weightDecay: wd, clip, threads: 1 }), params, xs, ys);
    expect(Math.abs(loss1 - loss0)).toBeGreaterThan(1e-3); // the step moved the model, so loss1 tests it
    expect(norm).toBeGreaterThan(clip); // and clipping was active
    expect(peer.loss0).toBeCloseTo(loss0, 4);
    expect(peer.grad_norm / norm).toBeCloseTo(1, 4);
    expect(peer.loss1).toBeCloseTo(loss1, 4);
    for (const t of [x, y]) t.dispose();
    opt.dispose();
    model.dispose();
  });

  it('times steps and refuses a model whose parameter count differs from lmforge\'s', () => {
    const model = new GPT({ ...CASES[0]![1] });
    const c = torchConfigFor(model, { batch: 2, seq: 9, optimizer: 'adamw', lr: 1e-3, weightDecay: 0.1, clip: 1, threads: 1 });
    const r = runTorchOnce(c, { warmup: 1, steps: 2 });
    expect(r.params).toBe(model.numParameters());
    expect(r.times_ms).toHaveLength(2);
    expect(r.tokens_per_sec).toBeCloseTo((2 * 9 * 1000) / r.step_ms, 6);
    expect(r.threads).toBe(1);
    expect(() => runTorchOnce({ ...c, params: c.params + 1 }, { warmup: 0, steps: 1 })).toThrow(/differs from lmforge/);
    model.dispose();
  });
});

describe('sweep peer column', () => {
  it('adds nothing to the sweep when not requested', () => {
    const rep = benchSweep({ sizes: [{ name: 'tiny', layers: 1, dim: 32, heads: 2 }], seqLens: [16], tokensPerStep: 32, vocab: 64, steps: 1, peer: 'none' });
    expect(rep.peer!.requested).toBe(false);
    expect(rep.rows[0]!.peerTokensPerSec ?? null).toBeNull();
    expect(sweepMarkdown(rep)).not.toContain('PyTorch');
  });

  it.skipIf(!torch.available)('runs PyTorch on each cell with the given setting and reports the ratio', () => {
    // A fixed setting instead of the probe (eight processes): the probe has its own test below.
    process.env.LMFORGE_TORCH_SETTING = 'HASWELL,PASSIVE';
    const rep = benchSweep({ sizes: [{ name: 'tiny', layers: 1, dim: 32, heads: 2 }], seqLens: [16, 32], tokensPerStep: 64, vocab: 64, steps: 1, peer: 'torch' });
    expect(rep.peer!.available).toBe(true);
    delete process.env.LMFORGE_TORCH_SETTING;
    expect(rep.peer!.setting).toEqual({ coretype: 'HASWELL', ompWait: 'PASSIVE' });
    for (const r of rep.rows) {
      expect(r.peerTokensPerSec).toBeGreaterThan(0);
      expect(r.peerRatio).toBeCloseTo(r.tokensPerSec / r.peerTokensPerSec!, 9);
    }
    expect(sweepMarkdown(rep)).toMatch(/\| tiny \| 32 \| \d+ \| \d+ \| [\d.]+× \|/);
  });
});

describe.skipIf(!torch.available)('PyTorch peer setting probe', () => {
  it('times every OPENBLAS_CORETYPE × OMP_WAIT_POLICY candidate and picks the fastest mixed workload', () => {
    const model = new GPT({ ...CASES[0]![1] });
    const c = torchConfigFor(model, { batch: 4, seq: 9, optimizer: 'adamw', lr: 1e-3, weightDecay: 0.1, clip: 1, threads: 1 });
    const s = probeTorchSetting(c);
    expect(s.candidates).toHaveLength(8);
    const ok = s.candidates.filter((x) => x.error === null);
    expect(ok.length).toBeGreaterThan(0); // at least OpenBLAS's own detection runs anywhere
    for (const x of ok) expect(x.gflops).toBeGreaterThan(0);
    const best = ok.reduce((a, b) => (b.mixed_ms! < a.mixed_ms! ? b : a));
    expect([s.coretype, s.ompWait]).toEqual([best.coretype, best.omp_wait]);
    expect(probeTorchSetting(c)).toBe(s); // cached for the process
    model.dispose();
  });
});
