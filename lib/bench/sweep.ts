/**
 * The sequence length × model size sweep: for each model size and sequence length,
 * train with a fixed number of tokens per step and report throughput, achieved FLOP rate and MFU against
 * the FMA peak measured in the same run, the share of FLOPs and of time in attention, peak memory, and the
 * throughput of each length relative to the shortest for the same size (the shape of MosaicML's table).
 *
 * FLOPs per token: 6·N + 12·L·d·T counts the attention products over the full T×T square (the usual
 * model); 6·N + 6·L·d·T counts only the causal half that the fused kernel computes. Both are reported.
 *
 * Memory: every cell starts from an empty block cache (emptyCache after it), and a cell whose estimated
 * peak (estimateStepBytes) exceeds the budget (by default 80% of the memory available when it starts) is
 * skipped with a message instead of run. Without the emptying, the cache filled with the earlier sizes'
 * blocks (a size class that never recurs stays cached up to the limit), so the 91M size found it full:
 * its released blocks went back to malloc, each step faulted fresh pages in (a third of the 45M size's
 * MFU), and heap fragmentation grew the process by about 1 GB a step until it was killed (bench/NOTES.md).
 * MPT projection: projection.ts; charts: sweepCharts() below (svg.ts).
 */
import os from 'node:os';

import { fusedAttention } from '../ops/attention.js';
import { emptyCache, keep, memory, resetPeakMemory, tidy } from '../memory.js';
import { GPT, parameterCount, type PositionKind } from '../nn/gpt.js';
import type { MLPActivation } from '../nn/mlp.js';
import { randn, tensor } from '../ops/creation.js';
import { AdamW, AdamW8bit, Lion, SGD, type Optimizer } from '../optim/index.js';
import { numThreads } from '../runtime.js';
import { ValueError } from '../errors.js';
import { fmaPeak, machineInfo, type MachineInfo } from './machine.js';
import { sweepPeer, sweepPeerMarkdown, type SweepPeerCell, type SweepPeerInfo } from './peer_torch.js';
import type { ProjectionReport } from './projection.js';
import { lineChart, type ChartSeries } from './svg.js';
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
/**
 * Timed steps per repeat and repeats per cell. Each repeat times `steps` consecutive steps (their mean is
 * the repeat's step time); the cell reports the median repeat and the spread (max − min) / median. One
 * step timed alone swings with whatever else the machine does (a GC, a compile on the other core); the
 * median of 5 repeats of 3 steps ignores up to two disturbed repeats, and 15 timed steps keep the largest
 * cells (91M at 4096 tokens, seconds a step) within minutes. bench/NOTES.md has the spreads measured.
 */
export const SWEEP_STEPS = 3;
export const SWEEP_REPEATS = 5;
/** What --quick runs: the two smallest sizes at three lengths, 2048 tokens per step, three repeats of two timed steps. */
export const QUICK_SWEEP = { sizes: DEFAULT_SWEEP_SIZES.slice(0, 2), seqLens: [128, 512, 2048], tokensPerStep: 2048, steps: 2, repeats: 3 } as const;
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
  /** Timed steps per repeat, after one warm-up step per cell (default SWEEP_STEPS). */
  steps?: number;
  /** Repeats of the timed steps per cell (default SWEEP_REPEATS): the median repeat is reported, with the spread. */
  repeats?: number;
  /**
   * Bytes a cell may need at its peak (estimateStepBytes); larger cells are skipped with a message.
   * Default: 80% of the memory available (os.freemem) when the cell starts.
   */
  memoryBudget?: number;
  /** PyTorch on the same model and step after each cell, where present (peer_torch.ts). Default 'none'; the CLI's --peer defaults to torch. */
  peer?: 'torch' | 'none';
  log?: (line: string) => void;
}

export interface SweepRow {
  size: string;
  params: number;
  layers: number;
  dim: number;
  T: number;
  batch: number;
  /** Median over the repeats of each repeat's mean step time. */
  stepSeconds: number;
  /** Each repeat's mean step time, in the order run. */
  repeatSeconds: number[];
  /** (max − min) / median of repeatSeconds: how far the repeats agree (0 with one repeat). */
  spread: number;
  tokensPerSec: number;
  /** By 6·N + 12·L·d·T and by the causal 6·N + 6·L·d·T. */
  gflops: number;
  gflopsCausal: number;
  mfu: number;
  attentionFlopShare: number;
  /** Fused attention forward + backward of all layers at this shape, over the step time. */
  attentionTimeShare: number;
  peakBytes: number;
  /** estimateStepBytes for the cell: the budget check's figure, beside the measured peak. */
  estimatedBytes: number;
  /** tokens/s over the tokens/s of the shortest T of the same size. */
  relative: number;
  /** PyTorch's tokens/s at this cell and ours over it (null: no peer). */
  peerTokensPerSec?: SweepPeerCell['peerTokensPerSec'];
  peerRatio?: SweepPeerCell['peerRatio'];
}

/** A cell not run because its estimated peak exceeded the budget. */
export interface SweepSkip {
  size: string;
  T: number;
  estimatedBytes: number;
  budgetBytes: number;
  message: string;
}

export interface SweepReport {
  machine: MachineInfo;
  threads: number;
  peak: number;
  options: { tokensPerStep: number; vocab: number; position: string; activation: string; optimizer: string; steps: number; repeats: number };
  rows: SweepRow[];
  skipped: SweepSkip[];
  peer?: SweepPeerInfo;
}

const OPTIMIZER_STATE_BYTES: Record<SweepOptimizer, number> = { adamw: 8, adamw8bit: 2.1, lion: 4, sgd: 4 };

/**
 * Upper estimate of a training step's peak tensor bytes: fp32 weights, gradients and optimizer state, plus
 * the activations the tape keeps: about 20·d + 1024 floats per token per layer (the q/k/v projection and
 * rotated q and k, attention output, norms, the MLP's up projection and activation, residuals, with the
 * backward's transients; the constant covers per-row statistics, which weigh on narrow models), the logits
 * and their gradient (2.5·V floats per token), and 16 MiB of small buffers. A refusal needs an upper bound:
 * against measured peaks of the sweep sizes 1M–45M (T 64–4096, where attention adds nothing: it keeps no
 * T×T matrix) this comes out 1.22–1.48× (bench/NOTES.md).
 */
export function estimateStepBytes(size: SweepSize, tokensPerStep: number, vocab: number, activation: 'relu' | 'swiglu', optimizer: SweepOptimizer): number {
  const N = parameterCount({ vocabSize: vocab, seqLen: 8, layers: size.layers, dim: size.dim, heads: size.heads, position: 'rope', activation, norm: 'rmsnorm', bias: false });
  const perToken = size.layers * (20 * size.dim + 1024) + 2.5 * vocab;
  return N * (8 + OPTIMIZER_STATE_BYTES[optimizer]) + 4 * tokensPerStep * perToken + 16 * 2 ** 20;
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
  const steps = opts.steps ?? SWEEP_STEPS;
  const repeats = opts.repeats ?? SWEEP_REPEATS;
  const log = opts.log ?? (() => {});
  for (const [name, n] of [['steps', steps], ['repeats', repeats]] as const)
    if (!Number.isInteger(n) || n < 1) throw new ValueError('bench sweep', `${name} must be a positive integer, got ${String(n)}`);
  for (const T of seqLens)
    if (!Number.isInteger(T) || T < 1 || tokensPerStep % T !== 0)
      throw new ValueError('bench sweep', `each sequence length must divide the tokens per step (${tokensPerStep}), got ${T}`);
  const threads = numThreads();
  const peak = fmaPeak(threads);
  log(`FMA peak on ${threads} thread(s): ${peak.toFixed(0)} GFLOP/s`);
  const peer = sweepPeer(opts.peer ?? 'none', threads, log);
  const report: SweepReport = {
    machine: machineInfo(), threads, peak,
    options: { tokensPerStep, vocab, position, activation, optimizer, steps, repeats }, rows: [], skipped: [], peer: peer.info,
  };
  const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
  for (const size of sizes) {
    let base = 0;
    for (const T of seqLens) {
      const batch = tokensPerStep / T;
      // Each cell starts from an empty block cache: the previous cells' blocks are of other size classes.
      emptyCache();
      const estimatedBytes = estimateStepBytes(size, tokensPerStep, vocab, activation, optimizer);
      const budgetBytes = opts.memoryBudget ?? 0.8 * os.freemem();
      if (estimatedBytes > budgetBytes) {
        const message = `skipped ${size.name} at T = ${T}: estimated peak ${gib(estimatedBytes)} exceeds the budget of ${gib(budgetBytes)} (${opts.memoryBudget === undefined ? '80% of the memory available now' : 'memoryBudget'}); use a smaller --tokens-per-step or a machine with more memory`;
        report.skipped.push({ size: size.name, T, estimatedBytes, budgetBytes, message });
        log(message);
        continue;
      }
      const model = new GPT({ vocabSize: vocab, seqLen: T, layers: size.layers, dim: size.dim, heads: size.heads, position, activation, norm: 'rmsnorm', bias: false, seed: 1 });
      const opt = makeOptimizer(optimizer, model);
      const x = tensor(Int32Array.from({ length: tokensPerStep }, (_, i) => (i * 7919) % vocab), [batch, T]);
      const y = tensor(Int32Array.from({ length: tokensPerStep }, (_, i) => (i * 104729 + 1) % vocab), [batch, T]);
      const step = (): void => {
        tidy(() => {
          model.forward(x, y).loss!.backward();
          opt.step();
          opt.zeroGrad();
        });
      };
      step(); // warm-up: first-touch allocations, optimizer state
      resetPeakMemory();
      const repeatSeconds = Array.from({ length: repeats }, () => {
        const t0 = performance.now();
        for (let i = 0; i < steps; i++) step();
        return (performance.now() - t0) / 1000 / steps;
      });
      const stepSeconds = median(repeatSeconds);
      const spread = (Math.max(...repeatSeconds) - Math.min(...repeatSeconds)) / stepSeconds;
      const peakBytes = memory().peakBytes;
      const N = model.numParameters();
      const L = size.layers, d = size.dim;
      const full = 6 * N + 12 * L * d * T, causal = 6 * N + 6 * L * d * T;
      const tokensPerSec = tokensPerStep / stepSeconds;
      const attn = attentionSeconds(batch, size.heads, T, d / size.heads, position === 'alibi', Math.max(2, steps)) * L;
      if (base === 0) base = tokensPerSec; // the shortest T that ran
      const row: SweepRow = {
        size: size.name, params: N, layers: L, dim: d, T, batch, stepSeconds, repeatSeconds, spread, tokensPerSec,
        gflops: (full * tokensPerSec) / 1e9, gflopsCausal: (causal * tokensPerSec) / 1e9,
        mfu: (full * tokensPerSec) / 1e9 / peak, attentionFlopShare: (12 * L * d * T) / full,
        attentionTimeShare: Math.min(1, attn / stepSeconds), peakBytes, estimatedBytes, relative: tokensPerSec / base,
      };
      report.rows.push(row);
      log(formatRow(row));
      Object.assign(row, peer.cell(model, { batch, seq: T, optimizer, steps }, tokensPerSec));
      for (const t of [x, y]) t.dispose();
      opt.dispose();
      model.dispose();
    }
  }
  emptyCache();
  return report;
}

const HEADER = [
  '| size | params | T | batch | step ms | spread | tokens/s | GFLOP/s (full / causal) | MFU | attention FLOPs | attention time | peak MiB (estimate) | vs shortest T |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];

function formatRow(r: SweepRow): string {
  const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
  return `| ${r.size} | ${(r.params / 1e6).toFixed(1)}M | ${r.T} | ${r.batch} | ${(r.stepSeconds * 1000).toFixed(0)} | ${(100 * r.spread).toFixed(1)}% | ${r.tokensPerSec.toFixed(0)} | ${r.gflops.toFixed(0)} / ${r.gflopsCausal.toFixed(0)} | ${pct(r.mfu)} | ${pct(r.attentionFlopShare)} | ${pct(r.attentionTimeShare)} | ${(r.peakBytes / 2 ** 20).toFixed(0)} (${(r.estimatedBytes / 2 ** 20).toFixed(0)}) | ${r.relative.toFixed(2)} |`;
}

export function sweepHeader(): string {
  return HEADER.join('\n');
}

export function sweepMarkdown(r: SweepReport): string {
  const o = r.options;
  return [
    `Training throughput by model size and sequence length: ${o.tokensPerStep} tokens per step, vocabulary ${o.vocab}, ${o.position}, ${o.activation}, RMSNorm, ${o.optimizer}, fp32, step time = median of ${o.repeats} repeats of ${o.steps} steps after one warm-up step, spread = (max − min) / median of the repeats; ${r.machine.cpu}, ${r.threads} thread(s), FMA peak ${r.peak.toFixed(0)} GFLOP/s measured in the same run, ${r.machine.date.slice(0, 10)}.`,
    'MFU uses 6·N + 12·L·d·T FLOPs per token; the causal count (6·N + 6·L·d·T) is beside it. "attention time" is the fused attention forward + backward of all layers timed alone at the same shape, over the step time.',
    '',
    ...HEADER,
    ...r.rows.map(formatRow),
    ...(r.skipped.length ? ['', ...r.skipped.map((k) => `- ${k.message}`)] : []),
    ...sweepPeerMarkdown(r.rows, r.peer),
  ].join('\n');
}

/**
 * The sweep's charts: tokens/s against sequence length per size (log-log), and throughput relative to the
 * shortest length per size; with a projection, MosaicML's published and the projected MPT points (relative
 * to 2048) are drawn dashed on the second chart for the smallest and largest MPT sizes and 13B.
 */
export function sweepCharts(r: SweepReport, projection?: ProjectionReport): { file: string; svg: string }[] {
  const sizes = [...new Set(r.rows.map((x) => x.size))];
  const bySize = (f: (x: SweepRow) => number): ChartSeries[] =>
    sizes.map((name) => ({ name, points: r.rows.filter((x) => x.size === name).map((x) => [x.T, f(x)] as const) }));
  const relative = bySize((x) => x.relative);
  if (projection) {
    const mpt = [...new Set(projection.rows.map((x) => x.size))];
    for (const name of [mpt[0], '13B', mpt[mpt.length - 1]].filter((n, i, a): n is string => !!n && mpt.includes(n) && a.indexOf(n) === i)) {
      const rows = projection.rows.filter((x) => x.size === name);
      relative.push({ name: `MPT ${name} MosaicML`, dashed: true, points: rows.filter((x) => x.published !== null).map((x) => [x.T, x.published!] as const) });
      relative.push({ name: `MPT ${name} projected`, dashed: true, points: rows.map((x) => [x.T, x.projected] as const) });
    }
  }
  const what = `${r.options.tokensPerStep} tokens per step, ${r.threads} thread(s)`;
  return [
    {
      file: 'sweep_throughput.svg',
      svg: lineChart({ title: `Training throughput by sequence length (${what})`, xLabel: 'sequence length (tokens)', yLabel: 'tokens/s', logX: true, logY: true, series: bySize((x) => x.tokensPerSec) }),
    },
    {
      file: 'sweep_relative.svg',
      svg: lineChart({ title: 'Throughput relative to the shortest sequence length', xLabel: 'sequence length (tokens)', yLabel: 'relative tokens/s', logX: true, series: relative }),
    },
  ];
}
