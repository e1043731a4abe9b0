// Attention and the optimizers on CUDA against the CPU twin, through the public API (issue 10). Runs when
// a CUDA device is present; otherwise each suite is skipped with "skipped: no CUDA device", or fails under
// LMF_REQUIRE_CUDA=1 (devices.ts). The C++ tests native/tests/cuda_attention_test.cpp and
// cuda_optim_test.cpp check the same kernels without Node, and more cases.
import { expect, it } from 'vitest';

import { tensor, type Tensor } from '../lib/index.js';
import { fusedAttention } from '../lib/ops/attention.js';
import { AdamW, AdamW8bit, Lion, SGD, SophiaG, type Optimizer } from '../lib/optim/index.js';
import { describeCuda } from './devices.js';
import { normals } from './reference/prng.js';

// max |a - b| / max |b|: scale-free, so a wrong kernel cannot pass by being small.
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0, m = 1e-3;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return e / m;
}
function host(t: Tensor): Float32Array {
  return t.to('cpu').astype('float32').dataSync() as Float32Array;
}

describeCuda('fusedAttention on CUDA against the CPU twin', () => {
  const cases = [
    { B: 2, H: 4, Hkv: 2, Tq: 77, Tk: 77, D: 64, dtype: 'bfloat16', causal: true, alibi: false, docs: false },
    { B: 1, H: 6, Hkv: 3, Tq: 50, Tk: 131, D: 128, dtype: 'bfloat16', causal: true, alibi: true, docs: true },
    { B: 1, H: 2, Hkv: 2, Tq: 65, Tk: 65, D: 64, dtype: 'float16', causal: false, alibi: false, docs: true },
    { B: 1, H: 2, Hkv: 1, Tq: 40, Tk: 40, D: 48, dtype: 'float32', causal: true, alibi: true, docs: false },
    // packed documents with B > 1; causal with several query blocks and Tq < Tk
    { B: 2, H: 2, Hkv: 1, Tq: 130, Tk: 200, D: 64, dtype: 'bfloat16', causal: true, alibi: false, docs: true },
  ] as const;
  for (const c of cases) {
    it(`${c.dtype} B${c.B} H${c.H}/${c.Hkv} Tq${c.Tq} Tk${c.Tk} D${c.D}${c.causal ? ' causal' : ''}${c.alibi ? ' alibi' : ''}${c.docs ? ' docs' : ''}`, () => {
      const mk = (n: number, shape: number[], seed: number): Tensor<'float32'> => tensor(normals(n, seed), shape).astype(c.dtype).astype('float32');
      const qs = [c.B, c.H, c.Tq, c.D], ks = [c.B, c.Hkv, c.Tk, c.D];
      const q = mk(c.B * c.H * c.Tq * c.D, qs, 1), k = mk(c.B * c.Hkv * c.Tk * c.D, ks, 2), v = mk(c.B * c.Hkv * c.Tk * c.D, ks, 3);
      const g = mk(c.B * c.H * c.Tq * c.D, qs, 4);
      const slopes = c.alibi ? Array.from({ length: c.H }, (_, h) => 2 ** (-8 * (h + 1) / c.H)) : null;
      // documents of 23 tokens, their boundaries shifted by 7 in each batch row
      const ids = new Int32Array(c.B * c.Tk).map((_, i) => Math.floor(((i % c.Tk) + 7 * Math.floor(i / c.Tk)) / 23));
      const docsCpu = c.docs ? tensor(ids, [c.B, c.Tk]) : null;
      // The CPU twin in float32 on the rounded inputs.
      const [qc, kc, vc] = [q, k, v].map((t) => t.clone().setRequiresGrad());
      const outC = fusedAttention(qc!, kc!, vc!, { causal: c.causal, alibiSlopes: slopes, docIds: docsCpu });
      outC.backward(g);
      // The CUDA twin in the case's dtype.
      const [qg, kg, vg] = [q, k, v].map((t) => t.astype(c.dtype).to('cuda').setRequiresGrad());
      const outG = fusedAttention(qg!, kg!, vg!, { causal: c.causal, alibiSlopes: slopes, docIds: docsCpu ? docsCpu.to('cuda') : null });
      outG.backward(g.astype(c.dtype).to('cuda'));
      const tol = c.dtype === 'bfloat16' ? [2e-2, 4e-2] : c.dtype === 'float16' ? [4e-3, 8e-3] : [2e-5, 5e-5];
      expect(relErr(host(outG), outC.dataSync())).toBeLessThan(tol[0]!);
      expect(relErr(host(qg!.grad!), qc!.grad!.dataSync())).toBeLessThan(tol[1]!);
      expect(relErr(host(kg!.grad!), kc!.grad!.dataSync())).toBeLessThan(tol[1]!);
      expect(relErr(host(vg!.grad!), vc!.grad!.dataSync())).toBeLessThan(tol[1]!);
    });
  }
});

describeCuda('optimizers on CUDA against the CPU twin', () => {
  const sizes = [4097, 300, 70001];
  const makers: [string, (ps: Tensor[]) => Optimizer<never>][] = [
    ['SGD momentum nesterov', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }) as never],
    ['AdamW', (ps) => new AdamW(ps, { lr: 1e-3, weightDecay: 0.1 }) as never],
    ['Lion', (ps) => new Lion(ps, { lr: 1e-4, weightDecay: 0.3 }) as never],
    ['SophiaG', (ps) => new SophiaG(ps, { lr: 1e-3 }) as never],
    ['AdamW8bit', (ps) => new AdamW8bit(ps, { lr: 1e-3, weightDecay: 0.1 }) as never],
  ];
  for (const [name, make] of makers) {
    it(`${name}: three steps on fp32 parameters match`, () => {
      const init = sizes.map((n, i) => normals(n, 10 + i));
      const cpuPs = init.map((w) => tensor(w, [w.length]).setRequiresGrad());
      const gpuPs = init.map((w) => tensor(w, [w.length]).to('cuda').setRequiresGrad());
      const oc = make(cpuPs), og = make(gpuPs);
      for (let step = 0; step < 3; step++) {
        sizes.forEach((n, i) => {
          const g = normals(n, 100 * step + i);
          cpuPs[i]!.grad = tensor(g, [n]);
          gpuPs[i]!.grad = tensor(g, [n]).to('cuda');
        });
        oc.step();
        og.step();
      }
      // fp32 rounding (fused multiply-adds) and, for 8-bit states, a code moved by one at a midpoint
      // can separate the twins slightly; a wrong rule would be off by the size of an update.
      const tol = name === 'AdamW8bit' ? 1e-4 : 1e-5;
      for (let i = 0; i < sizes.length; i++) {
        const a = host(gpuPs[i]!), b = cpuPs[i]!.dataSync() as Float32Array;
        let worst = 0;
        for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
        expect(worst).toBeLessThan(tol);
      }
      oc.dispose();
      og.dispose();
    });
  }
});
