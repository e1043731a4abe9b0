/**
 * `lmforge bench distributed`: data-parallel training on this machine — one process with 2 threads against
 * 2 ranks (mpirun) with 1 thread each, on the same global batch — and a projection of data-parallel
 * scaling on 8 GPUs from the ring all-reduce's cost.
 *
 * Each configuration runs in its own child process(es), the two alternating (A/B/A/B) so that a machine
 * whose load changes treats both alike. A rank reports: the median step time (tokens/s of the global
 * batch), the gradient bytes it all-reduces per step, the time it waited for all-reduces after its backward
 * (communication not hidden), and, after training, the time the same all-reduces take alone (blocking, on
 * the same buckets): the share of that hidden behind the backward is 1 − waited / alone.
 */
import { spawnSync } from 'node:child_process';

import { ValueError } from '../errors.js';
import { GPT, parameterCount, type GPTConfig } from '../nn/gpt.js';
import { AdamW } from '../optim/adamw.js';
import type { Optimizer } from '../optim/optimizer.js';
import { tensor } from '../ops/creation.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { distributedEnv, initDistributed } from '../distributed/comm.js';
import { allReduceNumbers } from '../distributed/data_parallel.js';
import { Trainer } from '../train/trainer.js';
import type { TokenDataset } from '../data/dataset.js';
import { GPU_SWEEP_SIZES, H100_BF16_PEAK_TFLOPS } from './gpu.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { DEFAULT_SWEEP_SIZES, type SweepSize } from './sweep.js';
import { median } from './timing.js';

/** The reference configuration (lib/bench/reference.ts: 6 layers, width 384, seq 256, vocab 8192, batch 8); --quick a smaller one. */
export const DISTRIBUTED_MODEL: GPTConfig = { vocabSize: 8192, seqLen: 256, layers: 6, dim: 384, heads: 6, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 1 };
export const QUICK_DISTRIBUTED_MODEL: GPTConfig = { ...DISTRIBUTED_MODEL, seqLen: 128, layers: 4, dim: 256, heads: 4 };

export interface WorkerConfig {
  model: GPTConfig;
  /** The global batch (rows). */
  batch: number;
  threads: number;
  warmup: number;
  steps: number;
  bucketBytes: number;
}

export interface WorkerResult {
  ranks: number;
  threads: number;
  /** Median seconds per step, and the global batch's tokens per second at that median. */
  stepSeconds: number;
  tokensPerSec: number;
  /** Data parallel only (null in one process): */
  buckets: number | null;
  bytesPerStep: number | null;
  /** Mean ms per step waiting for all-reduces after the backward, on the rank that waited least (not hidden). */
  waitMsPerStep: number | null;
  /** Median ms of the same all-reduces run alone, blocking, after training. */
  allReduceMs: number | null;
  /** Share of buckets whose all-reduce started during the backward. */
  launchedInBackward: number | null;
}

function syntheticData(vocab: number, n: number): TokenDataset {
  // Tokens from a fixed linear congruential sequence: speed does not depend on what the tokens are.
  const tokens = new Uint16Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) tokens[i] = (x = (x * 1103515245 + 12345) >>> 0) % vocab;
  return { tokenizer: { kind: 'byte' }, vocabSize: vocab, eot: 0, train: { tokens, docLengths: [n], bytes: n }, val: { tokens: tokens.subarray(0, 4096), docLengths: [4096], bytes: 4096 } };
}

/** One rank (or the one process) of the benchmark: trains `warmup + steps` steps and measures. */
export function benchDistributedWorker(c: WorkerConfig): WorkerResult {
  setNumThreads(c.threads);
  const comm = distributedEnv() ? initDistributed() : null;
  try {
    const model = new GPT(c.model);
    const optimizer = new AdamW(model.parameters(), { lr: 1e-4, weightDecay: 0.1 }) as unknown as Optimizer;
    const trainer = new Trainer({
      model, optimizer, data: syntheticData(c.model.vocabSize, 200_000), batchSize: c.batch, maxSteps: c.warmup + c.steps, progress: 'none',
      ...(comm ? { distributed: comm, bucketBytes: c.bucketBytes } : {}),
    });
    const secs: number[] = [], waits: number[] = [];
    for (let i = 0; i < c.warmup + c.steps; i++) {
      const m = trainer.trainStep();
      if (i < c.warmup) continue;
      secs.push(m.seconds);
      waits.push(trainer.communicationStats?.lastWaitMs ?? 0);
    }
    const stepSeconds = median(secs);
    const tokensPerSec = (c.batch * c.model.seqLen) / stepSeconds;
    const s = trainer.communicationStats;
    if (!comm || !s) return { ranks: 1, threads: numThreads(), stepSeconds, tokensPerSec, buckets: null, bytesPerStep: null, waitMsPerStep: null, allReduceMs: null, launchedInBackward: null };
    // A rank that finished its backward first also waits for the other's: per step, the rank that waited
    // least (the last to finish) shows the communication that was not hidden.
    const all = allReduceNumbers(comm, Array.from({ length: comm.worldSize * c.steps }, (_, k) => (Math.floor(k / c.steps) === comm.rank ? waits[k % c.steps]! : 0)));
    const exposed = waits.map((_, i) => Math.min(...Array.from({ length: comm.worldSize }, (_, r) => all[r * c.steps + i]!)));
    // The same all-reduces alone: buffers of the buckets' sizes, one after another, blocking.
    const sizes = bucketSizes(model, c.bucketBytes);
    const bufs = sizes.map((n) => tensor(new Float32Array(n), [n]));
    const alone: number[] = [];
    try {
      for (let i = 0; i < 1 + c.steps; i++) {
        comm.barrier();
        const t0 = performance.now();
        for (const b of bufs) comm.allReduce(b, 'avg');
        if (i > 0) alone.push(performance.now() - t0);
      }
    } finally {
      for (const b of bufs) b.dispose();
    }
    return {
      ranks: comm.worldSize, threads: numThreads(), stepSeconds, tokensPerSec, buckets: s.buckets, bytesPerStep: s.bytesPerStep,
      waitMsPerStep: exposed.reduce((a, b) => a + b, 0) / c.steps, allReduceMs: median(alone), launchedInBackward: s.launchedInBackward / (s.steps * s.buckets),
    };
  } finally {
    comm?.finalize();
  }
}

// The element counts of GradientBuckets' buckets for this model (the same rule: reverse order, greedy).
function bucketSizes(model: GPT, bucketBytes: number): number[] {
  const out: number[] = [];
  let cur = 0;
  for (const p of [...model.parameters()].reverse()) {
    if (cur > 0 && 4 * (cur + p.size) > bucketBytes) {
      out.push(cur);
      cur = 0;
    }
    cur += p.size;
  }
  if (cur > 0) out.push(cur);
  return out;
}

// ---- the projection ----

export interface ProjectionRow {
  size: string;
  parameters: number;
  gradientBytes: number;
  /** Compute seconds per step per GPU at the assumed MFU. */
  computeMs: number;
  /** Ring all-reduce seconds per step over each link. */
  nvlinkMs: number;
  networkMs: number;
  /** Scaling efficiency t_compute / t_step, without overlap and with the all-reduce hidden behind the backward (2/3 of compute). */
  nvlink: { serial: number; overlapped: number };
  network: { serial: number; overlapped: number };
}

export interface ScalingAssumptions {
  gpus: number;
  /** Tokens per GPU per step. */
  tokensPerGpu: number;
  mfu: number;
  peakTflops: number;
  /** Bytes per second, one direction. */
  nvlinkBytesPerSec: number;
  networkBytesPerSec: number;
  gradientBytesPerParam: number;
}

export const SCALING_ASSUMPTIONS: ScalingAssumptions = {
  gpus: 8, tokensPerGpu: 16384, mfu: 0.4, peakTflops: H100_BF16_PEAK_TFLOPS, nvlinkBytesPerSec: 450e9, networkBytesPerSec: 12.5e9, gradientBytesPerParam: 4,
};

/**
 * Ring all-reduce: each rank sends and receives 2·(N−1)/N of the gradient bytes over its link; a step
 * costs 6·params FLOPs per token plus attention's 12·layers·dim·seq, at the assumed MFU of the H100's peak.
 */
export function projectScaling(sizes: readonly SweepSize[], vocab: number, seqLen: number, a: ScalingAssumptions = SCALING_ASSUMPTIONS): ProjectionRow[] {
  return sizes.map((z) => {
    const N = parameterCount({ vocabSize: vocab, seqLen, layers: z.layers, dim: z.dim, heads: z.heads, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false });
    const flops = a.tokensPerGpu * (6 * N + 12 * z.layers * z.dim * seqLen);
    const compute = flops / (a.mfu * a.peakTflops * 1e12);
    const bytes = a.gradientBytesPerParam * N;
    const ring = (2 * (a.gpus - 1)) / a.gpus;
    const eff = (comm: number) => ({ serial: compute / (compute + comm), overlapped: compute / (compute + Math.max(0, comm - (2 / 3) * compute)) });
    const nv = (ring * bytes) / a.nvlinkBytesPerSec, net = (ring * bytes) / a.networkBytesPerSec;
    return { size: z.name, parameters: N, gradientBytes: bytes, computeMs: 1000 * compute, nvlinkMs: 1000 * nv, networkMs: 1000 * net, nvlink: eff(nv), network: eff(net) };
  });
}

// ---- the orchestration ----

/**
 * The benchmark's bucket size: 4 MiB, not DDP's 25 MiB, because these models are small (the reference's
 * gradient is 53 MiB): with 25 MiB buckets there would be two, and little to overlap.
 */
export const BENCH_BUCKET_BYTES = 4 * 2 ** 20;

export interface DistributedBenchOptions {
  quick?: boolean;
  rounds?: number;
  steps?: number;
  bucketBytes?: number;
  log?: (line: string) => void;
}

export interface DistributedReport {
  machine: MachineInfo;
  model: GPTConfig;
  parameters: number;
  batch: number;
  bucketBytes: number;
  /** Per round: one process × 2 threads, then 2 ranks × 1 thread. */
  rounds: { single: WorkerResult; ranks: WorkerResult }[];
  /** Medians over the rounds. */
  single: { tokensPerSec: number };
  ranks: { tokensPerSec: number; waitMsPerStep: number; allReduceMs: number; overlapShare: number; bytesPerStep: number; buckets: number; stepMs: number; launchedInBackward: number };
  /** 2 ranks' tokens/s over one process's, per round. */
  ratios: number[];
  projection: { assumptions: ScalingAssumptions; seqLen: number; cpuSweep: ProjectionRow[]; gpuSweep: ProjectionRow[] };
}

/** Runs a worker: `ranks` 0 is one plain process; otherwise mpirun on loopback. */
function runWorker(ranks: number, c: WorkerConfig, entry: string[]): WorkerResult {
  const args = [...entry, 'bench', 'distributed', '--worker', JSON.stringify(c)];
  const env = { ...process.env, ...(process.getuid?.() === 0 ? { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' } : {}) };
  const r = ranks === 0
    ? spawnSync(process.execPath, args, { encoding: 'utf8', env })
    : spawnSync('mpirun', ['-np', String(ranks), '--oversubscribe', '--bind-to', 'none', process.execPath, ...args], { encoding: 'utf8', env });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new ValueError('bench distributed', 'needs mpirun (Open MPI), which is not installed or not on PATH: on Debian or Ubuntu, apt-get install openmpi-bin libopenmpi-dev');
  const line = r.stdout?.split('\n').find((l) => l.startsWith('{"ranks"'));
  if (r.status !== 0 || !line) throw new ValueError('bench distributed', `a worker (${ranks || 1} rank(s)) failed with status ${r.status}: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line) as WorkerResult;
}

export function benchDistributed(opts: DistributedBenchOptions = {}): DistributedReport {
  const log = opts.log ?? (() => {});
  const model = opts.quick ? QUICK_DISTRIBUTED_MODEL : DISTRIBUTED_MODEL;
  const batch = 8;
  const steps = opts.steps ?? (opts.quick ? 3 : 5);
  const rounds = opts.rounds ?? (opts.quick ? 1 : 2);
  const bucketBytes = opts.bucketBytes ?? BENCH_BUCKET_BYTES;
  // This same command line's node and entry (flags such as tsx's --import included).
  const entry = [...process.execArgv, process.argv[1]!];
  const cfg = (threads: number): WorkerConfig => ({ model, batch, threads, warmup: 2, steps, bucketBytes });
  const out: DistributedReport['rounds'] = [];
  for (let i = 0; i < rounds; i++) {
    const single = runWorker(0, cfg(2), entry);
    log(`round ${i + 1}: 1 process x 2 threads: ${single.tokensPerSec.toFixed(0)} tokens/s`);
    const ranks = runWorker(2, cfg(1), entry);
    log(`round ${i + 1}: 2 ranks x 1 thread:    ${ranks.tokensPerSec.toFixed(0)} tokens/s, waited ${ranks.waitMsPerStep!.toFixed(1)} ms/step for all-reduces that take ${ranks.allReduceMs!.toFixed(1)} ms alone`);
    out.push({ single, ranks });
  }
  const med = (f: (r: WorkerResult) => number, k: 'single' | 'ranks') => median(out.map((r) => f(r[k])));
  const wait = med((r) => r.waitMsPerStep!, 'ranks'), alone = med((r) => r.allReduceMs!, 'ranks');
  const gpu = GPU_SWEEP_SIZES, seqLen = 1024;
  return {
    machine: machineInfo(), model, parameters: parameterCount(model), batch, bucketBytes, rounds: out,
    single: { tokensPerSec: med((r) => r.tokensPerSec, 'single') },
    ranks: {
      tokensPerSec: med((r) => r.tokensPerSec, 'ranks'), waitMsPerStep: wait, allReduceMs: alone, overlapShare: alone > 0 ? Math.max(0, 1 - wait / alone) : 0,
      bytesPerStep: out[0]!.ranks.bytesPerStep!, buckets: out[0]!.ranks.buckets!, stepMs: 1000 * med((r) => r.stepSeconds, 'ranks'),
      launchedInBackward: med((r) => r.launchedInBackward!, 'ranks'),
    },
    ratios: out.map((r) => r.ranks.tokensPerSec / r.single.tokensPerSec),
    // Each sweep's own vocabulary (its size names count parameters with it).
    projection: { assumptions: SCALING_ASSUMPTIONS, seqLen, cpuSweep: projectScaling(DEFAULT_SWEEP_SIZES, 8192, seqLen), gpuSweep: projectScaling(gpu, 50304, seqLen) },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function distributedMarkdown(r: DistributedReport): string {
  const m = r.model;
  const a = r.projection.assumptions;
  const row = (p: ProjectionRow) =>
    `| ${p.size} | ${(p.parameters / 1e6).toFixed(0)}M | ${mb(p.gradientBytes)} | ${p.computeMs.toFixed(1)} | ${p.nvlinkMs.toFixed(2)} | ${pct(p.nvlink.serial)} / ${pct(p.nvlink.overlapped)} | ${p.networkMs.toFixed(1)} | ${pct(p.network.serial)} / ${pct(p.network.overlapped)} |`;
  const head = '| size | params | gradient | compute ms | NVLink ms | NVLink efficiency (serial / overlapped) | 100 Gb/s ms | 100 Gb/s efficiency (serial / overlapped) |\n| --- | --- | --- | --- | --- | --- | --- | --- |';
  return `# Data-parallel training

Measured on ${r.machine.cpu} (${r.machine.cores} cores), a machine shared with other jobs while this ran: the
figures are noisy and only the ratios within a round mean much. Model: ${m.layers} layers, width ${m.dim},
${m.heads} heads, seq ${m.seqLen}, vocab ${m.vocabSize} (${(r.parameters / 1e6).toFixed(1)}M parameters), AdamW, global
batch ${r.batch} × ${m.seqLen} tokens; Open MPI on loopback (shared memory), ${r.ranks.buckets} bucket(s) of at most
${mb(r.bucketBytes)}.

| round | 1 process × 2 threads (tokens/s) | 2 ranks × 1 thread (tokens/s) | ratio |
| --- | --- | --- | --- |
${r.rounds.map((x, i) => `| ${i + 1} | ${x.single.tokensPerSec.toFixed(0)} | ${x.ranks.tokensPerSec.toFixed(0)} | ${r.ratios[i]!.toFixed(2)} |`).join('\n')}

A ratio above 1 is plausible even on two cores: the parts of a step that run on one thread (the JavaScript
between kernels, small ops) run side by side in two processes.

2 ranks: ${mb(r.ranks.bytesPerStep)} all-reduced per step per rank; a step takes ${r.ranks.stepMs.toFixed(0)} ms, of which
${r.ranks.waitMsPerStep.toFixed(1)} ms is spent waiting for all-reduces after the backward (per step, on the rank that
finished its backward last: the other also waits for it). The same all-reduces take ${r.ranks.allReduceMs.toFixed(1)} ms
alone (no backward running), so about ${pct(r.ranks.overlapShare)} of the communication is hidden behind the backward, and the
exposed part costs ${pct(r.ranks.waitMsPerStep / r.ranks.stepMs)} of a step. ${pct(r.ranks.launchedInBackward)} of the buckets were started by the backward's
gradient hook (the last, holding the tied embedding, only at its very end). On this CPU machine the shared-memory
copies of Open MPI need the same two cores that the backward keeps busy, so overlap gains little here; on GPUs
the links' DMA engines move the bytes while the cores compute.

## Projection: 8 GPUs

Ring all-reduce: each GPU sends and receives 2·(N−1)/N × the gradient bytes (fp32, ${a.gradientBytesPerParam} bytes per
parameter) over its link; N = ${a.gpus}. Links: NVLink 4 on H100 SXM at ${a.nvlinkBytesPerSec / 1e9} GB/s per direction
(a link peak: NCCL reaches less), and 100 Gb/s between nodes = ${a.networkBytesPerSec / 1e9} GB/s (one GPU per node).
Compute: ${a.tokensPerGpu} tokens per GPU per step, sequence ${r.projection.seqLen},
6·params + 12·layers·width·seq FLOPs per token at an assumed ${pct(a.mfu)} MFU of ${a.peakTflops} TFLOP/s (bf16). Efficiency
= compute / (compute + exposed communication): serial exposes all of it; overlapped hides it behind the backward
(2/3 of the compute), as the buckets do. These are projections, not measurements; no GPU was used.
At a fixed number of tokens per GPU, compute and gradient bytes both grow with the parameters, so the
efficiency hardly depends on the size; over 100 Gb/s, more tokens per GPU per all-reduce (gradient
accumulation) or bf16 gradients (half the bytes) are what raise it.

The CPU sweep's sizes (vocabulary 8192):

${head}
${r.projection.cpuSweep.map(row).join('\n')}

The GPU sweep's sizes (vocabulary 50304):

${head}
${r.projection.gpuSweep.map(row).join('\n')}

Published figures for comparison: PyTorch DDP's paper (Li et al., "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training", VLDB 2020, arXiv:2006.15704) reports near-linear scaling to 256 GPUs when
bucketing and overlap are configured well, without a figure for these model sizes and links; no llm.c
scaling figure is cited.
`;
}
