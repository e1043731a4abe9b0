/**
 * GPU training benchmarks: GPT training throughput on CUDA in bfloat16 (fp32 master weights and
 * optimizer state), in tokens/s and MFU against the dense bf16 peak of an H100/H200 (989 TFLOP/s), over
 * model sizes from GPT-2's 124M to about 1B parameters and sequence lengths 512..8192 at a fixed number of
 * tokens per step. The reference point is GPT-2 124M at seq 1024 (llm.c trains it at roughly 50% MFU on
 * A100s). The attention kernels alone are timed by the C++ program `cuda_attention_test --bench`, which
 * needs no Node on the GPU machine and has no JS overhead in its timing.
 *
 * FLOPs per token: 6·N + 12·L·d·T (PaLM's and llm.c's convention: attention over the full T×T square),
 * so MFU here is comparable with theirs; the causal kernels do about half of the attention part.
 * Every step ends with loss.item(), which waits for the device, so the wall time is the GPU's time.
 */
import { emptyCache, memory, resetPeakMemory, tidy } from '../memory.js';
import { GPT, type PositionKind } from '../nn/gpt.js';
import type { MLPActivation } from '../nn/mlp.js';
import { tensor } from '../ops/creation.js';
import { AdamW, AdamW8bit, Lion, SGD, type Optimizer } from '../optim/index.js';
import { cudaAvailable } from '../runtime.js';
import type { Device } from '../dtype.js';
import { DeviceError, OutOfMemoryError, ValueError } from '../errors.js';
import { machineInfo, type MachineInfo } from './machine.js';
import type { SweepOptimizer, SweepSize } from './sweep.js';
import { median } from './timing.js';

/** Dense bf16 tensor-core peak of an H100/H200 SXM (TFLOP/s), the MFU denominator by default. */
export const H100_BF16_PEAK_TFLOPS = 989;

/** GPT-2 small, medium and large widths, and a 24-layer model of about 1B parameters (vocabulary 50304). */
export const GPU_SWEEP_SIZES: readonly SweepSize[] = [
  { name: '124M', layers: 12, dim: 768, heads: 12 },
  { name: '350M', layers: 24, dim: 1024, heads: 16 },
  { name: '774M', layers: 36, dim: 1280, heads: 20 },
  { name: '1.1B', layers: 24, dim: 1920, heads: 15 },
];
export const GPU_SEQ_LENS: readonly number[] = [512, 1024, 2048, 4096, 8192];
/** --quick: the reference point only (124M at seq 1024), two timed steps. */
export const QUICK_GPU = { sizes: GPU_SWEEP_SIZES.slice(0, 1), seqLens: [1024], steps: 2 } as const;

export interface GpuBenchOptions {
  sizes?: readonly SweepSize[];
  seqLens?: readonly number[];
  /** Tokens per optimizer step (default 16384 = 16 × 1024): batch = tokensPerStep / T. */
  tokensPerStep?: number;
  /** Default 50304 (GPT-2's 50257 padded to a multiple of 128, as llm.c does). */
  vocab?: number;
  /** Default 'learned' and 'gelu' with LayerNorm and biases: GPT-2's architecture. */
  position?: PositionKind;
  activation?: MLPActivation;
  optimizer?: SweepOptimizer;
  /** Timed steps per cell, after one warm-up (default 5). */
  steps?: number;
  /** The MFU denominator in TFLOP/s (default 989). */
  peakTflops?: number;
  /** Default 'cuda'; 'cpu' runs the same code on the CPU (a smoke test of the benchmark itself). */
  device?: Device;
  log?: (line: string) => void;
}

export interface GpuRow {
  size: string;
  params: number;
  layers: number;
  dim: number;
  heads: number;
  T: number;
  batch: number;
  stepSeconds: number;
  tokensPerSec: number;
  /** Achieved TFLOP/s by 6·N + 12·L·d·T per token. */
  tflops: number;
  mfu: number;
  peakBytes: number;
}

export interface GpuSkip {
  size: string;
  T: number;
  message: string;
}

export interface GpuReport {
  machine: MachineInfo;
  device: Device;
  peakTflops: number;
  options: { tokensPerStep: number; vocab: number; position: PositionKind; activation: MLPActivation; optimizer: SweepOptimizer; steps: number };
  rows: GpuRow[];
  skipped: GpuSkip[];
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

export function benchGpu(opts: GpuBenchOptions = {}): GpuReport {
  const op = 'bench gpu';
  const device = opts.device ?? 'cuda';
  if (device === 'cuda') {
    const c = cudaAvailable();
    if (!c.available) throw new DeviceError(op, `no CUDA device: ${c.reason}`);
  }
  const sizes = opts.sizes ?? GPU_SWEEP_SIZES;
  const seqLens = [...(opts.seqLens ?? GPU_SEQ_LENS)].sort((a, b) => a - b);
  const tokensPerStep = opts.tokensPerStep ?? 16384;
  const vocab = opts.vocab ?? 50304;
  const position = opts.position ?? 'learned';
  const activation = opts.activation ?? 'gelu';
  const optimizer = opts.optimizer ?? 'adamw';
  const steps = opts.steps ?? 5;
  const peakTflops = opts.peakTflops ?? H100_BF16_PEAK_TFLOPS;
  const log = opts.log ?? (() => {});
  for (const T of seqLens)
    if (!Number.isInteger(T) || T < 1 || tokensPerStep % T !== 0)
      throw new ValueError(op, `each sequence length must divide the tokens per step (${tokensPerStep}), got ${T}`);
  const report: GpuReport = {
    machine: machineInfo(), device, peakTflops, options: { tokensPerStep, vocab, position, activation, optimizer, steps }, rows: [], skipped: [],
  };
  for (const size of sizes) {
    for (const T of seqLens) {
      const batch = tokensPerStep / T;
      emptyCache(device);
      let model: GPT | undefined;
      let opt: Optimizer<never> | undefined;
      const data: { dispose(): void }[] = [];
      try {
        model = new GPT({
          vocabSize: vocab, seqLen: T, layers: size.layers, dim: size.dim, heads: size.heads, position, activation,
          dtype: 'bfloat16', device, seed: 1,
        });
        const m = model;
        const o = (opt = makeOptimizer(optimizer, m));
        const x = tensor(Int32Array.from({ length: tokensPerStep }, (_, i) => (i * 7919) % vocab), [batch, T], 'int32', device);
        const y = tensor(Int32Array.from({ length: tokensPerStep }, (_, i) => (i * 104729 + 1) % vocab), [batch, T], 'int32', device);
        data.push(x, y);
        const step = (): number => {
          const t0 = performance.now();
          tidy(() => {
            const loss = m.forward(x, y).loss!;
            loss.backward();
            o.step();
            o.zeroGrad();
            loss.item(); // waits for the device
          });
          return (performance.now() - t0) / 1000;
        };
        step(); // warm-up: allocations, optimizer state, cuBLASLt plans
        resetPeakMemory(device);
        const stepSeconds = median(Array.from({ length: steps }, step));
        const N = m.numParameters();
        const flopsPerToken = 6 * N + 12 * size.layers * size.dim * T;
        const tokensPerSec = tokensPerStep / stepSeconds;
        const tflops = (flopsPerToken * tokensPerSec) / 1e12;
        const row: GpuRow = {
          size: size.name, params: N, layers: size.layers, dim: size.dim, heads: size.heads, T, batch, stepSeconds, tokensPerSec, tflops,
          mfu: tflops / peakTflops, peakBytes: memory(device).peakBytes,
        };
        report.rows.push(row);
        log(formatGpuRow(row));
      } catch (e) {
        // A cell that does not fit is reported and the sweep goes on; anything else is a real failure.
        if (!(e instanceof OutOfMemoryError)) throw e;
        const message = `skipped ${size.name} at T = ${T}: ${e.message}`;
        report.skipped.push({ size: size.name, T, message });
        log(message);
      } finally {
        for (const t of data) t.dispose();
        opt?.dispose();
        model?.dispose();
      }
    }
  }
  emptyCache(device);
  return report;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export function formatGpuRow(r: GpuRow): string {
  return `| ${r.size} | ${(r.params / 1e6).toFixed(0)}M | ${r.T} | ${r.batch} | ${(r.stepSeconds * 1000).toFixed(1)} | ${r.tokensPerSec.toFixed(0)} | ${r.tflops.toFixed(1)} | ${pct(r.mfu)} | ${(r.peakBytes / 2 ** 30).toFixed(1)} |`;
}

export function gpuMarkdown(r: GpuReport): string {
  const o = r.options;
  return [
    `GPT training on ${r.device} in bfloat16 (fp32 master weights and ${o.optimizer} state): ${o.tokensPerStep} tokens per step, vocabulary ${o.vocab}, ${o.position} positions, ${o.activation}, median of ${o.steps} steps after one warm-up; ${r.machine.date.slice(0, 10)}.`,
    `MFU uses 6·N + 12·L·d·T FLOPs per token against ${r.peakTflops} TFLOP/s (dense bf16).`,
    '',
    '| size | params | T | batch | step ms | tokens/s | TFLOP/s | MFU | peak GiB |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map(formatGpuRow),
    ...(r.skipped.length ? ['', ...r.skipped.map((s) => `- ${s.message}`)] : []),
    '',
  ].join('\n');
}
