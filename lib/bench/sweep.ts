/**
 * The sequence length × model size sweep (issue 8, first part): for each model size and sequence length,
 * train with a fixed number of tokens per step and report throughput, achieved FLOP rate and MFU against
 * the FMA peak measured in the same run, the share of FLOPs and of time in attention, peak memory, and the
 * throughput of each length relative to the shortest for the same size (the shape of MosaicML's table).
 *
 * FLOPs per token: 6·N + 12·L·d·T counts the attention products over the full T×T square (the usual
 * model); 6·N + 6·L·d·T counts only the causal half that the fused kernel computes. Both are reported.
 * Not here yet (issue 8): the PyTorch peer, the MPT projection, SVG charts and a by-op breakdown.
 */
import { fusedAttention } from '../ops/attention_fused.js';
import { keep, memory, resetPeakMemory, tidy } from '../memory.js';
import { GPT, type PositionKind } from '../nn/gpt.js';
import type { MLPActivation } from '../nn/mlp.js';
import { randn, tensor } from '../ops/creation.js';
import { AdamW, AdamW8bit, Lion, SGD, type Optimizer } from '../optim/index.js';
import { numThreads } from '../runtime.js';
import { ValueError } from '../errors.js';
import { fmaPeak, machineInfo, type MachineInfo } from './machine.js';
import { median } from './timing.js';

export interface SweepSize {
  name: string;
  layers: number;
  dim: number;
  heads: number;
}

/** About 1.4M, 5M, 14M, 45M and 91M parameters with the default vocabulary of 8192. */
export const DEFAULT_SWEEP_SIZES: readonly SweepSize[] = [
  { name: '1M', layers: 2, dim: 128, heads: 2 },
  { name: '5M', layers: 4, dim: 256, heads: 4 },
  { name: '14M', layers: 6, dim: 384, heads: 6 },
  { name: '45M', layers: 8, dim: 640, heads: 10 },
  { name: '91M', layers: 12, dim: 768, heads: 12 },
];
export const DEFAULT_SEQ_LENS: readonly number[] = [128, 256, 512, 1024, 2048, 4096];
export type SweepOptimizer = 'adamw' | 'adamw8bit' | 'lion' | 'sgd';

export interface SweepOptions {
  sizes?: readonly SweepSize[];
  seqLens?: readonly number[];
  /** Tokens per optimizer step (default 4096): batch = tokensPerStep / T. */
  tokensPerStep?: number;
  vocab?: number;
  position?: Extract<PositionKind, 'rope' | 'alibi'>;
  activation?: Extract<MLPActivation, 'relu' | 'swiglu'>;
  optimizer?: SweepOptimizer;
  /** Timed steps per cell after one warm-up step (default 3). */
  steps?: number;
  log?: (line: string) => void;
}

export interface SweepRow {
  size: string;
  params: number;
  layers: number;
  dim: number;
  T: number;
  batch: number;
  stepSeconds: number;
  tokensPerSec: number;
  /** By 6·N + 12·L·d·T and by the causal 6·N + 6·L·d·T. */
  gflops: number;
  gflopsCausal: number;
  mfu: number;
  attentionFlopShare: number;
  /** Fused attention forward + backward of all layers at this shape, over the step time. */
  attentionTimeShare: number;
  peakBytes: number;
  /** tokens/s over the tokens/s of the shortest T of the same size. */
  relative: number;
}

export interface SweepReport {
  machine: MachineInfo;
  threads: number;
  peak: number;
  options: { tokensPerStep: number; vocab: number; position: string; activation: string; optimizer: string; steps: number };
  rows: SweepRow[];
}

function makeOptimizer(name: SweepOptimizer, model: GPT): Optimizer<never> {
  const ps = model.parameters();
  switch (name) {
    case 'adamw': return new AdamW(ps, { lr: 1e-4, weightDecay: 0.1 }) as never;
    case 'adamw8bit': return new AdamW8bit(ps, { lr: 1e-4, weightDecay: 0.1 }) as never;
    case 'lion': return new Lion(ps, { lr: 1e-5, weightDecay: 1.0 }) as never;
    case 'sgd': return new SGD(ps, { lr: 1e-3, momentum: 0.9 }) as never;
  }
}

// Seconds of one fused attention forward + backward at the step's shape (one layer).
function attentionSeconds(B: number, H: number, T: number, D: number, alibi: boolean, reps: number): number {
  const q = keep(randn([B, H, T, D], { seed: 1 }).setRequiresGrad());
  const k = keep(randn([B, H, T, D], { seed: 2 }).setRequiresGrad());
  const v = keep(randn([B, H, T, D], { seed: 3 }).setRequiresGrad());
  const g = keep(randn([B, H, T, D], { seed: 4 }));
  const slopes = alibi ? Array.from({ length: H }, (_, h) => 2 ** (-8 * (h + 1) / H)) : null;
  const once = (): number => {
    const t0 = performance.now();
    tidy(() => fusedAttention(q, k, v, { alibiSlopes: slopes }).backward(g));
    for (const t of [q, k, v]) t.zeroGrad();
    return (performance.now() - t0) / 1000;
  };
  once();
  const times = Array.from({ length: reps }, once);
  for (const t of [q, k, v, g]) t.dispose();
  return median(times);
}

export function benchSweep(opts: SweepOptions = {}): SweepReport {
  const sizes = opts.sizes ?? DEFAULT_SWEEP_SIZES;
  const seqLens = [...(opts.seqLens ?? DEFAULT_SEQ_LENS)].sort((a, b) => a - b);
  const tokensPerStep = opts.tokensPerStep ?? 4096;
  const vocab = opts.vocab ?? 8192;
  const position = opts.position ?? 'rope';
  const activation = opts.activation ?? 'swiglu';
  const optimizer = opts.optimizer ?? 'adamw';
  const steps = opts.steps ?? 3;
  const log = opts.log ?? (() => {});
  for (const T of seqLens)
    if (!Number.isInteger(T) || T < 1 || tokensPerStep % T !== 0)
      throw new ValueError('bench sweep', `each sequence length must divide the tokens per step (${tokensPerStep}), got ${T}`);
  const threads = numThreads();
  const peak = fmaPeak(threads);
  log(`FMA peak on ${threads} thread(s): ${peak.toFixed(0)} GFLOP/s`);
  const report: SweepReport = {
    machine: machineInfo(), threads, peak,
    options: { tokensPerStep, vocab, position, activation, optimizer, steps }, rows: [],
  };
  for (const size of sizes) {
    let base = 0;
    for (const T of seqLens) {
      const batch = tokensPerStep / T;
      const model = new GPT({ vocabSize: vocab, seqLen: T, layers: size.layers, dim: size.dim, heads: size.heads, position, activation, norm: 'rmsnorm', bias: false, seed: 1 });
      const opt = makeOptimizer(optimizer, model);
      const x = tensor(Int32Array.from({ length: tokensPerStep }, (_, i) => (i * 7919) % vocab), [batch, T]);
      const y = tensor(Int32Array.from({ length: tokensPerStep }, (_, i) => (i * 104729 + 1) % vocab), [batch, T]);
      const step = (): number => {
        const t0 = performance.now();
        tidy(() => {
          model.forward(x, y).loss!.backward();
          opt.step();
          opt.zeroGrad();
        });
        return (performance.now() - t0) / 1000;
      };
      step(); // warm-up: first-touch allocations, optimizer state
      resetPeakMemory();
      const stepSeconds = median(Array.from({ length: steps }, step));
      const peakBytes = memory().peakBytes;
      const N = model.numParameters();
      const L = size.layers, d = size.dim;
      const full = 6 * N + 12 * L * d * T, causal = 6 * N + 6 * L * d * T;
      const tokensPerSec = tokensPerStep / stepSeconds;
      const attn = attentionSeconds(batch, size.heads, T, d / size.heads, position === 'alibi', Math.max(2, steps)) * L;
      if (T === seqLens[0]) base = tokensPerSec;
      const row: SweepRow = {
        size: size.name, params: N, layers: L, dim: d, T, batch, stepSeconds, tokensPerSec,
        gflops: (full * tokensPerSec) / 1e9, gflopsCausal: (causal * tokensPerSec) / 1e9,
        mfu: (full * tokensPerSec) / 1e9 / peak, attentionFlopShare: (12 * L * d * T) / full,
        attentionTimeShare: Math.min(1, attn / stepSeconds), peakBytes, relative: tokensPerSec / base,
      };
      report.rows.push(row);
      log(formatRow(row));
      for (const t of [x, y]) t.dispose();
      opt.dispose();
      model.dispose();
    }
  }
  return report;
}

const HEADER = [
  '| size | params | T | batch | step ms | tokens/s | GFLOP/s (full / causal) | MFU | attention FLOPs | attention time | peak MiB | vs shortest T |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];

function formatRow(r: SweepRow): string {
  const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
  return `| ${r.size} | ${(r.params / 1e6).toFixed(1)}M | ${r.T} | ${r.batch} | ${(r.stepSeconds * 1000).toFixed(0)} | ${r.tokensPerSec.toFixed(0)} | ${r.gflops.toFixed(0)} / ${r.gflopsCausal.toFixed(0)} | ${pct(r.mfu)} | ${pct(r.attentionFlopShare)} | ${pct(r.attentionTimeShare)} | ${(r.peakBytes / 2 ** 20).toFixed(0)} | ${r.relative.toFixed(2)} |`;
}

export function sweepHeader(): string {
  return HEADER.join('\n');
}

export function sweepMarkdown(r: SweepReport): string {
  const o = r.options;
  return [
    `Training throughput by model size and sequence length: ${o.tokensPerStep} tokens per step, vocabulary ${o.vocab}, ${o.position}, ${o.activation}, RMSNorm, ${o.optimizer}, fp32, median of ${o.steps} steps after one warm-up; ${r.machine.cpu}, ${r.threads} thread(s), FMA peak ${r.peak.toFixed(0)} GFLOP/s measured in the same run, ${r.machine.date.slice(0, 10)}.`,
    'MFU uses 6·N + 12·L·d·T FLOPs per token; the causal count (6·N + 6·L·d·T) is beside it. "attention time" is the fused attention forward + backward of all layers timed alone at the same shape, over the step time.',
    '',
    ...HEADER,
    ...r.rows.map(formatRow),
  ].join('\n');
}
