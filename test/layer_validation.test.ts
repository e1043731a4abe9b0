/**
 * Validation once per side (issue 15): token ids and targets are range-checked by the kernels that read
 * them (no host read per step), the layer defaults and the activation names have one definition, and
 * float16 runs the fused kernels in float32.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  activation, attention, crossEntropy, embedding, gatedActivation, layerNorm, randn, rmsNorm, rope, tensor, Tensor, tidy, ValueError,
} from '../lib/index.js';
import { GPT, LayerNorm, resolveGPTConfig, RMSNorm } from '../lib/nn/index.js';
import { fusedActivation, fusedGatedActivation } from '../lib/ops/activation.js';
import { fusedRmsNorm } from '../lib/ops/norm.js';
import { fusedRope } from '../lib/ops/rope.js';
import { LAYER_DEFAULTS } from '../lib/ops/util.js';
import { assertClose, assertThrows } from './reference/check.js';
import { describeDevices } from './devices.js';

afterEach(() => vi.restoreAllMocks());

const vals = (t: Tensor): Float64Array => Float64Array.from(t.dataSync() as ArrayLike<number>);

describeDevices('indices are checked by the kernels that read them', (device) => {
  it('embedding: a bad index is named with its position (on CUDA at the next synchronisation, its row NaN until then)', () => {
    const w = randn([5, 3], { seed: 1 });
    const idx = tensor(Int32Array.from([0, 4, 2, 7, -1]), [5], 'int32');
    if (device === 'cpu') {
      assertThrows(() => embedding(w, idx), ValueError, 'embedding:', 'index 7 at position 3', '[0, 5)');
      return;
    }
    const out = embedding(w, idx);
    const rows = vals(out);
    expect(rows.slice(9, 15).every(Number.isNaN)).toBe(true);
    expect(rows.slice(0, 9).some(Number.isNaN)).toBe(false);
    // crossEntropy waits for the device (it reads its loss back): the fault is reported there.
    assertThrows(() => crossEntropy(randn([2, 3]), tensor(Int32Array.from([0, 1]), [2], 'int32')), ValueError, 'embedding:', 'index 7 at position 3');
    // reported once: the next step is clean
    expect(Number.isFinite(crossEntropy(randn([2, 3]), tensor(Int32Array.from([0, 1]), [2], 'int32')).item())).toBe(true);
  });

  it('crossEntropy: the first bad target, ignored rows skipped, and the mean over the valid rows', () => {
    const x = randn([4, 3], { seed: 2 });
    assertThrows(() => crossEntropy(x, tensor(Int32Array.from([0, -100, 5, 3]), [4], 'int32')), ValueError, 'target 5 at row 2', '[0, 3)');
    const tg = tensor(Int32Array.from([0, -100, 2, -100]), [4], 'int32');
    const rows = vals(crossEntropy(x, tg, { reduction: 'none' }));
    expect(crossEntropy(x, tg).item()).toBeCloseTo((rows[0]! + rows[2]!) / 2, 6);
  });

  it('GPT.forward reads no token id back to the host on a valid step', () => {
    const m = new GPT({ vocabSize: 32, seqLen: 8, layers: 1, dim: 16, heads: 2, seed: 3 });
    const tokens = tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 32), [2, 8], 'int32');
    const spy = vi.spyOn(Tensor.prototype, 'dataSync');
    tidy(() => m.forward(tokens, tokens).loss!.backward());
    expect(spy.mock.contexts.filter((t) => t === tokens)).toEqual([]);
  });

  it('GPT.forward names a bad token as tokens[b, t], with the vocabulary', () => {
    const m = new GPT({ vocabSize: 32, seqLen: 8, layers: 1, dim: 16, heads: 2, seed: 3 });
    const tokens = tensor(Int32Array.from([1, 2, 3, 4, 5, 6, 99, 8]), [2, 4], 'int32');
    assertThrows(() => m.forward(tokens, tensor(new Int32Array(8), [2, 4], 'int32')), ValueError, 'GPT.forward', 'tokens[1, 2] = 99', '[0, 32)');
  });
});

describe('one definition of each default and of each activation name', () => {
  const x = randn([3, 10], { seed: 4 }), w = randn([10], { seed: 5 });
  it('the kernel-level entry points mean what the public ops mean', () => {
    for (const kind of ['relu', 'gelu', 'swish'] as const) expect(vals(fusedActivation(x, kind))).toEqual(vals(activation(x, kind)));
    for (const kind of ['glu', 'geglu', 'swiglu', 'reglu'] as const) expect(vals(fusedGatedActivation(x, kind))).toEqual(vals(gatedActivation(x, kind)));
    expect(vals(fusedRmsNorm(x, w))).toEqual(vals(rmsNorm(x, w)));
    const q = randn([1, 2, 5, 8], { seed: 6 });
    expect(vals(fusedRope(q))).toEqual(vals(rope(q)));
  });

  it('modules and GPTConfig take theirs from LAYER_DEFAULTS', () => {
    expect(new LayerNorm(4).eps).toBe(LAYER_DEFAULTS.layerNormEps);
    expect(new RMSNorm(4).eps).toBe(LAYER_DEFAULTS.rmsNormEps);
    const c = resolveGPTConfig({ vocabSize: 8, seqLen: 4, layers: 1, dim: 8, heads: 2, norm: 'rmsnorm' });
    expect([c.ropeBase, c.ropePairing, c.normEps]).toEqual([LAYER_DEFAULTS.ropeBase, LAYER_DEFAULTS.ropePairing, LAYER_DEFAULTS.rmsNormEps]);
  });
});

describeDevices('float16 runs the fused kernels in float32 and rounds once', () => {
  // The float16 result is the float32 kernel's on the same (float16) values, rounded once.
  function same(f: (...xs: Tensor[]) => Tensor, xs: Tensor[]): void {
    const h = xs.map((t) => t.astype('float16').setRequiresGrad());
    const s = xs.map((t) => t.astype('float16').astype('float32').setRequiresGrad());
    const yh = f(...h), ys = f(...s);
    expect(yh.dtype).toBe('float16');
    expect(vals(yh)).toEqual(vals(ys.astype('float16')));
    const g = randn(yh.shape, { seed: 9 });
    yh.backward(g.astype('float16'));
    ys.backward(g.astype('float16').astype('float32'));
    for (let i = 0; i < xs.length; i++) {
      expect(h[i]!.grad!.dtype).toBe('float16');
      assertClose(vals(h[i]!.grad!), vals(s[i]!.grad!), { rtol: 2e-3, atol: 2e-3 });
    }
  }
  it('activations, norms, rope and attention', () => {
    const x = randn([2, 5, 8], { seed: 7 }), w = randn([8], { seed: 8 }), b = randn([8], { seed: 10 });
    same((t) => activation(t, 'gelu'), [x]);
    same((t) => gatedActivation(t, 'swiglu'), [x]);
    same((t, ww, bb) => layerNorm(t, ww!, bb), [x, w, b]);
    same((t, ww) => rmsNorm(t, ww!), [x, w]);
    same((t) => rope(t, { offset: 3 }), [x]);
    const q = randn([1, 2, 5, 8], { seed: 11 }), k = randn([1, 1, 5, 8], { seed: 12 }), v = randn([1, 1, 5, 8], { seed: 13 });
    same((a, bb, c) => attention(a, bb!, c!, { position: 'alibi' }), [q, k, v]);
  });
});
