/**
 * Memory-bound layer kernels in GB/s against the machine's measured memory bandwidth (STREAM triad):
 * every activation, LayerNorm/RMSNorm with and without the fused residual, RoPE and the fused
 * cross-entropy, forward and backward, next to the same layer composed from elementwise lib ops.
 * Bytes are those the kernel must read and write once per call (inputs read, outputs written; weights
 * and per-row statistics are counted too); time is the median after warm-up. Composed rows count the
 * same bytes, so their GB/s is "effective": how far the composition is from one fused pass.
 */
import { tidy } from '../memory.js';
import { native } from '../native.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { cat } from '../ops/views.js';
import { randn, zeros } from '../ops/creation.js';
import { fusedActivation, fusedGatedActivation } from '../ops/activation.js';
import { fusedLayerNorm, fusedRmsNorm } from '../ops/norm.js';
import { fusedRope } from '../ops/rope.js';
import { numThreads } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { machineInfo, memoryBandwidth, type MachineInfo } from './machine.js';
import { timeIt } from './timing.js';

export interface LayerBenchOptions {
  /** Rows (tokens) per call; default 2048. */
  tokens?: number;
  /** Model widths; default [384, 768, 1536]. */
  dims?: number[];
  /** Vocabulary sizes for cross-entropy; default [8192, 50304]. */
  vocabs?: number[];
  /** float32 (default) or bfloat16. */
  dtype?: 'float32' | 'bfloat16';
  /** Also time the composed versions (default true). */
  composed?: boolean;
  /** Seconds per measurement (default 0.25). */
  minSeconds?: number;
  /** Only ops whose name contains one of these. */
  only?: string[];
}

export interface LayerBenchRow {
  op: string;
  impl: 'fused' | 'composed';
  direction: 'forward' | 'backward' | 'forward+backward';
  shape: number[];
  bytes: number;
  /** Median seconds per call. */
  seconds: number;
  gbs: number;
  /** gbs / the measured triad bandwidth */
  ofBandwidth: number;
  /** Process CPU seconds per call, all threads (see OptimRow.cpuSeconds): steadier than wall time on a shared machine. */
  cpuSeconds: number;
}

export interface LayerBenchReport {
  machine: MachineInfo;
  threads: number;
  dtype: string;
  /** STREAM-triad GB/s measured in this run on `threads` threads. */
  bandwidthGBs: number;
  rows: LayerBenchRow[];
}

// The kinds as lib/ops names them (ActivationKind, GatedKind): gelu is the exact (erf) form.
const gelu = (x: Tensor): Tensor => x.mul(x.mul(Math.SQRT1_2).erf().add(1)).mul(0.5);
const swish = (x: Tensor): Tensor => x.mul(x.sigmoid());
const COMPOSED_ACT: Record<string, (x: Tensor) => Tensor> = { relu: (x) => x.relu(), gelu, swish, glu: (x) => x.sigmoid(), geglu: gelu, swiglu: swish, reglu: (x) => x.relu() };

function composedGated(kind: string, x: Tensor): Tensor {
  const h = x.shape[x.ndim - 1]! / 2;
  return COMPOSED_ACT[kind]!(x.slice(-1, 0, h)).mul(x.slice(-1, h));
}
function composedNorm(x: Tensor, w: Tensor, b: Tensor | null, rms: boolean, eps = 1e-5): Tensor {
  const c = rms ? x : x.sub(x.mean(-1, true));
  const y = c.mul(c.square().mean(-1, true).add(eps).rsqrt()).mul(w);
  return b ? y.add(b) : y;
}
function composedRope(x: Tensor, base = 10000): Tensor {
  const [, , T, D] = x.shape as [number, number, number, number];
  const half = D / 2;
  const ang = new Float32Array(T * half);
  for (let t = 0; t < T; t++) for (let i = 0; i < half; i++) ang[t * half + i] = t * Math.pow(base, (-2 * i) / D);
  const a = new Tensor(native.fromHost(ang, [T, half], 0, 0)) as Tensor;
  const c = a.cos().astype(x.dtype), s = a.sin().astype(x.dtype);
  const x1 = x.slice(-1, 0, half), x2 = x.slice(-1, half);
  return cat([x1.mul(c).sub(x2.mul(s)), x1.mul(s).add(x2.mul(c))], -1);
}

export function benchLayers(opts: LayerBenchOptions = {}): LayerBenchReport {
  const { tokens = 2048, dims = [384, 768, 1536], vocabs = [8192, 50304], dtype = 'float32', composed = true, minSeconds = 0.25, only } = opts;
  const threads = numThreads();
  const bandwidthGBs = memoryBandwidth(threads, 1.0);
  const esz = dtype === 'float32' ? 4 : 2;
  const rows: LayerBenchRow[] = [];
  const want = (op: string): boolean => !only || only.some((o) => op.includes(o));
  let cpuSeconds = 0; // of the last time() call, per call
  const time = (f: () => void): number => {
    let calls = 0;
    const cpu0 = process.cpuUsage();
    const t = timeIt(() => {
      tidy(f);
      calls++;
    }, { minSeconds, warmup: 2, minReps: 5 });
    const cpu = process.cpuUsage(cpu0);
    cpuSeconds = (cpu.user + cpu.system) / 1e6 / calls;
    return t.median;
  };
  const push = (op: string, impl: LayerBenchRow['impl'], direction: LayerBenchRow['direction'], shape: number[], bytes: number, seconds: number): void => {
    const gbs = bytes / seconds / 1e9;
    rows.push({ op, impl, direction, shape, bytes, seconds, gbs, ofBandwidth: gbs / bandwidthGBs, cpuSeconds });
  };
  const rnd = (shape: number[], seed: number): Tensor => randn(shape, { dtype, seed }) as Tensor;
  const withGrad = (f: (...xs: Tensor[]) => Tensor, xs: Tensor[], g: Tensor): (() => void) => () => {
    const leaves = xs.map((x) => x.detach().setRequiresGrad());
    f(...leaves).backward(g);
    for (const l of leaves) l.grad?.dispose();
  };

  for (const C of dims) {
    const N = tokens * C;
    const x = rnd([tokens, C], 1), dy = rnd([tokens, C], 2), x2 = rnd([tokens, 2 * C], 3);
    for (const kind of ['relu', 'gelu', 'swish']) {
      if (!want(kind)) continue;
      push(kind, 'fused', 'forward', [tokens, C], 2 * N * esz, time(() => native.activation(kind, x.handle).dispose()));
      push(kind, 'fused', 'backward', [tokens, C], 3 * N * esz, time(() => native.activationBackward(kind, dy.handle, x.handle).dispose()));
      if (composed) {
        push(kind, 'composed', 'forward', [tokens, C], 2 * N * esz, time(() => void COMPOSED_ACT[kind]!(x)));
        push(kind, 'composed', 'forward+backward', [tokens, C], 5 * N * esz, time(withGrad((t) => COMPOSED_ACT[kind]!(t), [x], dy)));
        push(kind, 'fused', 'forward+backward', [tokens, C], 5 * N * esz, time(withGrad((t) => fusedActivation(t, kind as 'gelu'), [x], dy)));
      }
    }
    for (const kind of ['glu', 'geglu', 'swiglu', 'reglu']) {
      if (!want(kind)) continue;
      push(kind, 'fused', 'forward', [tokens, 2 * C], 3 * N * esz, time(() => native.activation(kind, x2.handle).dispose()));
      push(kind, 'fused', 'backward', [tokens, 2 * C], 5 * N * esz, time(() => native.activationBackward(kind, dy.handle, x2.handle).dispose()));
      if (composed) {
        push(kind, 'composed', 'forward', [tokens, 2 * C], 3 * N * esz, time(() => void composedGated(kind, x2)));
        push(kind, 'composed', 'forward+backward', [tokens, 2 * C], 8 * N * esz, time(withGrad((t) => composedGated(kind, t), [x2], dy)));
        push(kind, 'fused', 'forward+backward', [tokens, 2 * C], 8 * N * esz, time(withGrad((t) => fusedGatedActivation(t, kind as 'glu'), [x2], dy)));
      }
    }
    const w = rnd([C], 4), b = rnd([C], 5), r = rnd([tokens, C], 6);
    for (const rms of [false, true]) {
      const name = rms ? 'rmsNorm' : 'layerNorm';
      if (!want(name)) continue;
      for (const res of [false, true]) {
        const op = name + (res ? '+residual' : '');
        const fwdBytes = (res ? 4 : 2) * N * esz, bwdBytes = (res ? 4 : 3) * N * esz;
        push(op, 'fused', 'forward', [tokens, C], fwdBytes, time(() => {
          const o = rms ? native.rmsNorm(x.handle, w.handle, res ? r.handle : null, 1e-5) : native.layerNorm(x.handle, w.handle, b.handle, res ? r.handle : null, 1e-5);
          for (const h of o) h?.dispose();
        }));
        const fw = rms ? native.rmsNorm(x.handle, w.handle, null, 1e-5) : native.layerNorm(x.handle, w.handle, b.handle, null, 1e-5);
        push(op, 'fused', 'backward', [tokens, C], bwdBytes, time(() => {
          const o = rms
            ? native.rmsNormBackward(dy.handle, res ? r.handle : null, x.handle, w.handle, fw[1]!)
            : native.layerNormBackward(dy.handle, res ? r.handle : null, x.handle, w.handle, fw[1]!, fw[2]!, true);
          for (const h of o) h?.dispose();
        }));
        for (const h of fw) h?.dispose();
        if (composed && !res) {
          push(op, 'composed', 'forward', [tokens, C], fwdBytes, time(() => void composedNorm(x, w, rms ? null : b, rms)));
          push(op, 'composed', 'forward+backward', [tokens, C], fwdBytes + bwdBytes, time(withGrad((t, ww) => composedNorm(t, ww!, rms ? null : b, rms), [x, w], dy)));
          push(op, 'fused', 'forward+backward', [tokens, C], fwdBytes + bwdBytes,
            time(withGrad((t, ww) => (rms ? fusedRmsNorm(t, ww!) : fusedLayerNorm(t, ww!, b)), [x, w], dy)));
        }
      }
    }
    if (want('rope')) {
      const H = C / 64, T = tokens;
      const q = rnd([1, H, T, 64], 7), gq = rnd([1, H, T, 64], 8);
      for (const pairing of ['half', 'interleaved'] as const) {
        const op = `rope ${pairing}`;
        push(op, 'fused', 'forward', [1, H, T, 64], 2 * N * esz, time(() => native.rope(q.handle, 10000, pairing, 0, 0, false).dispose()));
        push(op, 'fused', 'backward', [1, H, T, 64], 2 * N * esz, time(() => native.rope(gq.handle, 10000, pairing, 0, 0, true).dispose()));
        if (composed && pairing === 'half') {
          push(op, 'composed', 'forward', [1, H, T, 64], 2 * N * esz, time(() => void composedRope(q)));
          push(op, 'composed', 'forward+backward', [1, H, T, 64], 4 * N * esz, time(withGrad((t) => composedRope(t), [q], gq)));
          push(op, 'fused', 'forward+backward', [1, H, T, 64], 4 * N * esz, time(withGrad((t) => fusedRope(t), [q], gq)));
        }
      }
    }
  }
  if (want('crossEntropy')) {
    for (const V of vocabs) {
      const n = Math.min(tokens, Math.floor((256 << 20) / (V * esz * 2))); // cap the logits at ~128 MiB
      const logits = rnd([n, V], 9);
      const tg = zeros([n], { dtype: 'int32' });
      const [, lse] = native.crossEntropy(logits.handle, tg.handle, -100, 'mean');
      const rg = new Tensor(native.full([n], 0, 1 / n, 0));
      const bytes = n * V * esz;
      push(`crossEntropy V=${V}`, 'fused', 'forward', [n, V], bytes, time(() => {
        const [l, s] = native.crossEntropy(logits.handle, tg.handle, -100, 'mean');
        l.dispose();
        s.dispose();
      }));
      push(`crossEntropy V=${V}`, 'fused', 'backward', [n, V], 2 * bytes, time(() => native.crossEntropyBackward(logits.handle, tg.handle, lse, rg.handle, -100).dispose()));
      push(`crossEntropy V=${V}`, 'fused', 'forward+backward', [n, V], 3 * bytes, time(() => {
        const l = logits.detach().setRequiresGrad();
        crossEntropy(l, tg).backward();
        l.grad?.dispose();
      }));
      lse.dispose();
      rg.dispose();
    }
  }
  return { machine: machineInfo(), threads, dtype, bandwidthGBs, rows };
}

export function layersMarkdown(report: LayerBenchReport): string {
  const lines = [
    `Layer kernels, ${report.dtype}, ${report.threads} threads on ${report.machine.cpu} (${report.machine.tier}); memory bandwidth (triad) ${report.bandwidthGBs.toFixed(1)} GB/s`,
    '',
    '| op | shape | direction | impl | time (ms) | GB/s | of bandwidth | CPU ms |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of report.rows)
    lines.push(`| ${r.op} | [${r.shape.join(', ')}] | ${r.direction} | ${r.impl} | ${(r.seconds * 1e3).toFixed(3)} | ${r.gbs.toFixed(1)} | ${(100 * r.ofBandwidth).toFixed(0)}% | ${(r.cpuSeconds * 1e3).toFixed(3)} |`);
  lines.push('', 'CPU ms: process CPU time per call, all threads, warm-up included: steadier than wall time when other jobs share the cores.');
  return lines.join('\n') + '\n';
}
