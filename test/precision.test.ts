// Mixed precision (precision: 'bf16'): bfloat16 compute with float32 master weights. Runs on the CPU
// (its bf16 kernels exist) and, when a GPU is present, on CUDA too.
import { expect, it } from 'vitest';

import { AdamW, tensor, ValueError, type Tensor } from '../lib/index.js';
import { GPT, resolveGPTConfig, type GPTConfig } from '../lib/nn/index.js';
import { describeDevices } from './devices.js';
import { Rng } from './reference/prng.js';

const config = (over: Partial<GPTConfig> = {}): GPTConfig => ({
  vocabSize: 61, seqLen: 12, layers: 2, dim: 32, heads: 4, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', seed: 3, ...over,
});

function batch(seed: number, B: number, T: number, V: number): [Tensor<'int32'>, Tensor<'int32'>] {
  const r = new Rng(`precision batch ${seed}`);
  return [tensor(r.ints(B * T, 0, V), [B, T]), tensor(r.ints(B * T, 0, V), [B, T])];
}

describeDevices('mixed precision (bf16 compute, fp32 master weights)', () => {
  it('gives the fp32 loss within bfloat16 rounding, float32 logits, and float32 gradients on the float32 parameters', () => {
    const [x, y] = batch(1, 3, 11, 61);
    const ref = new GPT(config());
    const mixed = new GPT(config({ precision: 'bf16' }));
    const l32 = ref.forward(x, y).loss!;
    const out = mixed.forward(x, y);
    expect(out.logits.dtype).toBe('float32');
    expect(out.loss!.dtype).toBe('float32');
    const a = l32.item(), b = out.loss!.item();
    // same weights (same seed): the losses differ by bf16 rounding of activations only
    expect(Math.abs(a - b)).toBeLessThan(0.02 * a);
    expect(Math.abs(a - b)).toBeGreaterThan(0); // it did compute in bfloat16
    out.loss!.backward();
    l32.backward();
    for (const [[name, p], [, q]] of mixed.namedParameters().map((e, i) => [e, ref.namedParameters()[i]!] as const)) {
      expect(p.dtype, name).toBe('float32');
      expect(p.grad?.dtype, name).toBe('float32');
      // gradients agree with fp32's in direction
      const g = p.grad!.dataSync(), h = q.grad!.dataSync();
      let dot = 0, ng = 0, nh = 0;
      for (let i = 0; i < g.length; i++) (dot += g[i]! * h[i]!), (ng += g[i]! ** 2), (nh += h[i]! ** 2);
      expect(dot / Math.sqrt(ng * nh + 1e-30), name).toBeGreaterThan(0.97);
    }
  });

  it('trains: AdamW steps on the float32 master weights lower the loss as fp32 does, and the weights stay float32', () => {
    const run = (precision: 'fp32' | 'bf16'): number[] => {
      const m = new GPT(config({ precision }));
      const opt = new AdamW(m.parameters(), { lr: 3e-3 });
      const [x, y] = batch(7, 4, 12, 61);
      const losses: number[] = [];
      for (let s = 0; s < 8; s++) {
        opt.zeroGrad();
        const { loss } = m.forward(x, y);
        losses.push(loss!.item());
        loss!.backward();
        opt.step();
        loss!.dispose();
      }
      for (const p of m.parameters()) expect(p.dtype).toBe('float32');
      return losses;
    };
    const f = run('fp32'), h = run('bf16');
    expect(h[h.length - 1]!).toBeLessThan(h[0]! - 0.1);
    for (let i = 0; i < f.length; i++) expect(Math.abs(f[i]! - h[i]!)).toBeLessThan(0.05 * f[i]!);
  });

  it('generates with a bfloat16 KV cache', () => {
    const m = new GPT(config({ precision: 'bf16' }));
    const out = m.generate(tensor([1, 2, 3], [3], 'int32'), { maxTokens: 5, temperature: 0 });
    expect(out.shape).toEqual([8]);
  });
});

it('precision: bf16 needs float32 parameters, and unknown precisions are ValueErrors', () => {
  expect(resolveGPTConfig(config()).precision).toBe('fp32');
  expect(() => resolveGPTConfig(config({ precision: 'bf16', dtype: 'float64' }))).toThrow(ValueError);
  expect(() => resolveGPTConfig(config({ precision: 'fp8' as never }))).toThrow(ValueError);
  const m = new GPT(config({ dtype: 'float64' }));
  expect(() => (m.precision = 'bf16')).toThrow(/float32 master weights/);
});

it('setDefaultDevice: creation functions and modules follow it; an unknown device is a DeviceError', async () => {
  const { DeviceError, getDefaultDevice, setDefaultDevice, zeros } = await import('../lib/index.js');
  expect(getDefaultDevice()).toBe('cpu');
  expect(() => setDefaultDevice('tpu' as never)).toThrow(DeviceError);
  setDefaultDevice('cpu');
  expect(zeros([2]).device).toBe('cpu');
  expect(resolveGPTConfig(config()).device).toBe('cpu');
});
