// Moving data between devices, device errors and the CUDA allocator's counters. Needs a GPU: without
// one the suite is skipped ("skipped: no CUDA device"), or fails under LMF_REQUIRE_CUDA=1 (devices.ts).
import { expect, it } from 'vitest';

import { DeviceError, emptyCache, matmul, memory, randn, tensor, tidy } from '../lib/index.js';
import { GPT } from '../lib/nn/index.js';
import { describeCuda } from './devices.js';

describeCuda('CUDA devices', () => {
  it('to(cuda) and back is exact for every dtype, and data() reads a GPU tensor', () => {
    for (const dtype of ['float32', 'bfloat16', 'float16', 'float64', 'int32', 'uint8', 'int8'] as const) {
      const t = tensor([1, 2, 3, 4, 5, 6], [2, 3], dtype);
      const g = t.to('cuda');
      expect(g.device).toBe('cuda');
      expect([...g.dataSync()]).toEqual([...t.dataSync()]);
      expect([...g.to('cpu').dataSync()]).toEqual([...t.dataSync()]);
      // a strided view moves as its values
      expect([...g.T.to('cpu').dataSync()]).toEqual([...t.T.contiguous().dataSync()]);
    }
  });

  it('mixing devices in one op is a DeviceError naming both devices', () => {
    const a = randn([3, 4]), b = randn([4, 2], { device: 'cuda' });
    expect(() => matmul(a, b)).toThrow(DeviceError);
    expect(() => a.add(randn([3, 4], { device: 'cuda' }))).toThrow(/different devices: cpu and cuda/);
  });

  it('memory(cuda) counts live bytes and returns to its baseline; emptyCache releases the cached blocks', () => {
    const before = memory('cuda');
    tidy(() => {
      const x = randn([1024, 1024], { device: 'cuda' });
      expect(memory('cuda').bytes - before.bytes).toBeGreaterThanOrEqual(4 << 20);
      x.mul(2).sum().dataSync();
    });
    expect(memory('cuda').bytes).toBe(before.bytes);
    expect(memory('cuda').cachedBytes).toBeGreaterThan(0);
    emptyCache('cuda');
    expect(memory('cuda').cachedBytes).toBe(0);
  });

  it('a GPT moved with to(cuda) gives the CPU logits and loss (fp32 and bf16 mixed precision)', () => {
    for (const precision of ['fp32', 'bf16'] as const) {
      const cfg = { vocabSize: 50, seqLen: 9, layers: 2, dim: 32, heads: 4, position: 'rope', activation: 'swiglu', seed: 5, precision } as const;
      const cpu = new GPT(cfg);
      const gpu = new GPT(cfg).to('cuda');
      const x = tensor([1, 5, 7, 3, 9, 11, 2, 4, 8, 6, 0, 3], [2, 6], 'int32');
      const a = cpu.forward(x, x), b = gpu.forward(x, x);
      expect(b.logits.device).toBe('cuda');
      const la = a.logits.dataSync(), lb = b.logits.dataSync();
      let worst = 0;
      for (let i = 0; i < la.length; i++) worst = Math.max(worst, Math.abs(la[i]! - lb[i]!));
      expect(worst).toBeLessThan(precision === 'fp32' ? 1e-4 : 5e-2);
      expect(Math.abs(a.loss!.item() - b.loss!.item())).toBeLessThan(precision === 'fp32' ? 1e-5 : 2e-2);
    }
  });
});
