/** `lmforge bench <name>`: one table and one runner per benchmark (the modules in lib/bench/). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { attentionMarkdown, benchAttention } from '../bench/attention.js';
import { benchGemm, gemmMarkdown } from '../bench/gemm.js';
import { benchGpu, GPU_SEQ_LENS, GPU_SWEEP_SIZES, gpuMarkdown, QUICK_GPU } from '../bench/gpu.js';
import { benchLayers, layersMarkdown } from '../bench/layers.js';
import { benchSweep, DEFAULT_SEQ_LENS, DEFAULT_SWEEP_SIZES, QUICK_SWEEP, SWEEP_REPEATS, SWEEP_STEPS, sweepCharts, sweepMarkdown, type SweepOptions } from '../bench/sweep.js';
import { benchOverhead, overheadMarkdown } from '../bench/overhead.js';
import { projectMpt, projectionMarkdown } from '../bench/projection.js';
import { benchAll, reportMarkdown } from '../bench/report.js';
import { benchOptim, optimMarkdown } from '../bench/optim.js';
import { benchReference, referenceMarkdown } from '../bench/reference.js';
import { benchSoak, QUICK_SOAK, soakMarkdown } from '../bench/soak.js';
import { benchDistributed, benchDistributedWorker, distributedMarkdown, type WorkerConfig } from '../bench/distributed.js';
import { LmforgeError } from '../errors.js';
import { setNumThreads } from '../runtime.js';
import { distributedEnv } from '../distributed/comm.js';
import { command, type Command, type CommandSpec, type Values } from './args.js';

const log = (l: string): void => console.log(l);

/** Prints a report's Markdown; with --out also writes DIR/<name>.json and DIR/<name>.md. */
export function writeReport(out: string | undefined, name: string, report: unknown, md: string): void {
  console.log(`\n${md}`);
  if (out === undefined) return;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, `${name}.md`), `${md}\n`);
  console.log(`wrote ${join(out, `${name}.json`)} and ${join(out, `${name}.md`)}`);
}

function writeCharts(out: string | undefined, charts: { file: string; svg: string }[]): void {
  if (out === undefined) return;
  mkdirSync(out, { recursive: true });
  for (const c of charts) writeFileSync(join(out, c.file), c.svg);
  console.log(`wrote ${charts.map((c) => join(out, c.file)).join(' and ')}`);
}

// Every benchmark takes these two.
const QUICK = { name: 'quick', type: 'flag', help: 'shorter timing or a smaller run (noisier)' } as const;
const OUT = { name: 'out', type: 'string', arg: 'DIR', help: 'also write DIR/<name>.json and DIR/<name>.md' } as const;

const ATTENTION_SHAPES = [
  { name: 'T', type: 'ints', help: 'sequence lengths', defaultText: '256,512,1024,2048,4096,8192; --quick 256,1024' },
  { name: 'D', type: 'ints', help: 'head dimensions', defaultText: '64,128' },
] as const;
const OPTIM_SIZES = { name: 'sizes', type: 'ints', help: 'parameter counts', defaultText: '1000000,10000000,100000000; --quick 1000000' } as const;
const SWEEP_OPTIMIZERS = ['adamw', 'adamw8bit', 'lion', 'sgd'] as const;
const names = (sizes: readonly { name: string }[]): string[] => sizes.map((z) => z.name);

// The sweep's options, which `bench all` takes too.
const SWEEP_OPTIONS = [
  { name: 'sizes', type: 'list', choices: names(DEFAULT_SWEEP_SIZES), help: 'model sizes', defaultText: `${names(DEFAULT_SWEEP_SIZES).join(',')}; --quick ${names(QUICK_SWEEP.sizes).join(',')}` },
  { name: 'seq-lens', type: 'ints', help: 'sequence lengths', defaultText: `${DEFAULT_SEQ_LENS.join(',')}; --quick ${QUICK_SWEEP.seqLens.join(',')}` },
  { name: 'tokens-per-step', type: 'int', min: 1, help: 'tokens per optimizer step (batch = tokens / sequence length)', defaultText: `4096; --quick ${QUICK_SWEEP.tokensPerStep}` },
  { name: 'position', type: 'string', choices: ['rope', 'alibi'], help: 'positional encoding', defaultText: 'rope' },
  { name: 'activation', type: 'string', choices: ['relu', 'swiglu'], help: 'MLP activation', defaultText: 'swiglu' },
  { name: 'optimizer', type: 'string', choices: SWEEP_OPTIMIZERS, help: 'optimizer', defaultText: 'adamw' },
  { name: 'peer', type: 'string', choices: ['torch', 'none'], help: 'PyTorch on the same model and step per cell, where it is installed', defaultText: 'torch; none for bench all --quick' },
  { name: 'steps', type: 'int', min: 1, help: 'timed steps per repeat, after one warm-up step per cell', defaultText: `${SWEEP_STEPS}; --quick ${QUICK_SWEEP.steps}` },
  { name: 'repeats', type: 'int', min: 1, help: 'repeats per cell: the median repeat is reported, with the spread (max - min) / median', defaultText: `${SWEEP_REPEATS}; --quick ${QUICK_SWEEP.repeats}` },
  QUICK,
  OUT,
] as const;

/** The sweep options given on the command line only; each command fills in its own (quick) defaults. */
function sweepOptions(v: Values<typeof SWEEP_OPTIONS>, all: boolean): SweepOptions {
  const picked = v.sizes;
  const given: SweepOptions = {
    sizes: picked ? DEFAULT_SWEEP_SIZES.filter((z) => picked.includes(z.name)) : undefined,
    seqLens: v['seq-lens'],
    tokensPerStep: v['tokens-per-step'],
    position: v.position,
    activation: v.activation,
    optimizer: v.optimizer,
    steps: v.steps,
    repeats: v.repeats,
    // PyTorch beside each cell where it is installed; not in `bench all --quick` unless asked for (a PyTorch
    // step per cell alone took longer than the two-minute budget of the whole quick report).
    peer: v.peer ?? (v.quick && all ? 'none' : 'torch'),
  };
  for (const k of Object.keys(given) as (keyof SweepOptions)[]) if (given[k] === undefined) delete given[k];
  return given;
}

const BENCH_GEMM = {
  name: 'bench gemm',
  summary: 'GEMM GFLOP/s against the FMA peak and OpenBLAS',
  options: [
    { name: 'threads', type: 'ints', default: [1, 2], help: 'thread counts' },
    { name: 'M', type: 'int', min: 1, default: 2048, help: 'rows of the activations' },
    QUICK,
    OUT,
  ],
} as const satisfies CommandSpec;

const BENCH_ATTENTION = {
  name: 'bench attention',
  summary: 'fused against composed causal attention, T 256..8192, D 64/128',
  options: [...ATTENTION_SHAPES, QUICK, OUT],
} as const satisfies CommandSpec;

const BENCH_LAYERS = {
  name: 'bench layers',
  summary: 'activations, norms, rope, cross-entropy in GB/s against the bandwidth',
  options: [QUICK, OUT],
} as const satisfies CommandSpec;

const BENCH_OPTIM = {
  name: 'bench optim',
  summary: 'optimizer step time, GB/s and state bytes per parameter',
  options: [OPTIM_SIZES, QUICK, OUT],
} as const satisfies CommandSpec;

const BENCH_KERNELS = {
  name: 'bench kernels',
  summary: 'attention, layers and optim together',
  options: [...ATTENTION_SHAPES, OPTIM_SIZES, QUICK, OUT],
} as const satisfies CommandSpec;

const BENCH_OVERHEAD = {
  name: 'bench overhead',
  summary: 'per-call cost of the binding (no-op call, 1-element add, autograd, tidy)',
  options: [QUICK, OUT],
} as const satisfies CommandSpec;

const BENCH_SWEEP = {
  name: 'bench sweep',
  summary: 'training throughput: model size (1M..91M) x sequence length (128..4096)',
  options: SWEEP_OPTIONS,
  notes: 'Also writes projection.json/.md (the MPT projection beside MosaicML\'s figures) and two SVG charts with --out.',
} as const satisfies CommandSpec;

const BENCH_ALL = {
  name: 'bench all',
  summary: 'the sweep, the projection and every micro-benchmark in one report',
  options: SWEEP_OPTIONS,
  notes: `Writes DIR/report.json, DIR/report.md and DIR/sweep_*.svg with --out. --quick: under two minutes, without
the PyTorch peer unless --peer torch.`,
} as const satisfies CommandSpec;

const BENCH_GPU = {
  name: 'bench gpu',
  summary: 'GPT training on CUDA in bf16, 124M..1.1B x seq 512..8192: tokens/s, MFU against 989 TFLOP/s',
  options: [
    { name: 'sizes', type: 'list', choices: names(GPU_SWEEP_SIZES), help: 'model sizes', defaultText: `${names(GPU_SWEEP_SIZES).join(',')}; --quick ${names(QUICK_GPU.sizes).join(',')}` },
    { name: 'seq-lens', type: 'ints', help: 'sequence lengths', defaultText: `${GPU_SEQ_LENS.join(',')}; --quick ${QUICK_GPU.seqLens.join(',')}` },
    { name: 'tokens-per-step', type: 'int', min: 1, help: 'tokens per optimizer step (batch = tokens / sequence length)', defaultText: '16384' },
    { name: 'optimizer', type: 'string', choices: SWEEP_OPTIMIZERS, help: 'optimizer', defaultText: 'adamw' },
    { name: 'device', type: 'string', choices: ['cuda', 'cpu'], default: 'cuda', help: 'where to train (cpu: to try the command without a GPU)' },
    QUICK,
    OUT,
  ],
} as const satisfies CommandSpec;

const BENCH_SOAK = {
  name: 'bench soak',
  summary: 'memory over a long run of training, generate() and create/dispose; fails unless RSS plateaus',
  options: [QUICK, OUT],
} as const satisfies CommandSpec;

const BENCH_REFERENCE = {
  name: 'bench reference',
  summary: 'the reference GPT step, lmforge against PyTorch in one run, and the step by op',
  options: [
    { name: 'peer', type: 'string', choices: ['torch', 'none'], default: 'torch', help: 'the PyTorch peer (torch: where a python3 with torch is found)' },
    { name: 'threads', type: 'int', min: 1, help: 'threads for both sides', defaultText: "lmforge's current count" },
    { name: 'rounds', type: 'int', min: 1, help: 'alternating rounds', defaultText: '3; --quick 1' },
    { name: 'steps', type: 'int', min: 1, help: 'timed steps per side per round', defaultText: '3; --quick 2' },
    QUICK,
    OUT,
  ],
  notes: `The reference configuration: 6 layers, width 384, 6 heads, seq 256, batch 8, vocab 8192, RoPE, SwiGLU,
RMSNorm, AdamW, fp32 (lib/bench/reference.ts). Where each step's time goes is given by native op for lmforge
and by aten op for PyTorch.`,
} as const satisfies CommandSpec;

const BENCH_DISTRIBUTED = {
  name: 'bench distributed',
  summary: 'data parallel: 1 process x 2 threads against 2 ranks x 1 thread (mpirun), and an 8-GPU projection',
  options: [
    { name: 'rounds', type: 'int', min: 1, help: 'alternating rounds', defaultText: '2; --quick 1' },
    { name: 'steps', type: 'int', min: 1, help: 'timed steps per run', defaultText: '5; --quick 3' },
    { name: 'bucket-mb', type: 'number', min: 0, help: 'gradient all-reduce bucket size in MiB', defaultText: "4: these models are small for DDP's 25" },
    { name: 'worker', type: 'string', arg: 'JSON', help: 'internal: run one rank of the benchmark' },
    QUICK,
    OUT,
  ],
  notes: `The reference configuration (6 layers, width 384, seq 256, vocab 8192, batch 8; --quick: 4 layers, width
256, seq 128). Needs mpirun (Open MPI: apt-get install openmpi-bin libopenmpi-dev).`,
} as const satisfies CommandSpec;

/** Every benchmark, in the order `lmforge help` lists them. */
export const BENCHES: Command[] = [
  command(BENCH_ALL, ({ values: v }) => {
    const rep = benchAll({ quick: v.quick, sweep: sweepOptions(v, true), log });
    writeReport(v.out, 'report', rep, reportMarkdown(rep));
    writeCharts(v.out, sweepCharts(rep.sweep, rep.projection ?? undefined));
  }),
  command(BENCH_SWEEP, ({ values: v }) => {
    const rep = benchSweep({ ...(v.quick ? QUICK_SWEEP : {}), ...sweepOptions(v, false), log });
    writeReport(v.out, 'sweep', rep, sweepMarkdown(rep));
    let projection;
    try {
      projection = projectMpt(rep.rows);
      writeReport(v.out, 'projection', projection, projectionMarkdown(projection));
    } catch (e) {
      console.log(`\nNo MPT projection: ${e instanceof Error ? e.message : String(e)}`);
    }
    writeCharts(v.out, sweepCharts(rep, projection));
  }),
  command(BENCH_GEMM, ({ values: v }) => {
    const rep = benchGemm({ threads: v.threads, M: v.M, minSeconds: v.quick ? 0.1 : 0.3, rounds: v.quick ? 1 : 3, log });
    writeReport(v.out, 'gemm', rep, gemmMarkdown(rep));
  }),
  command(BENCH_ATTENTION, ({ values: v }) => benchAttentionRun(v)),
  command(BENCH_LAYERS, ({ values: v }) => benchLayersRun(v)),
  command(BENCH_OPTIM, ({ values: v }) => benchOptimRun(v)),
  command(BENCH_KERNELS, ({ values: v }) => {
    benchAttentionRun(v);
    benchLayersRun(v);
    benchOptimRun(v);
  }),
  command(BENCH_OVERHEAD, ({ values: v }) => {
    const rep = benchOverhead(v.quick ? { calls: 5000, batches: 5 } : {});
    writeReport(v.out, 'overhead', rep, overheadMarkdown(rep));
  }),
  command(BENCH_GPU, ({ values: v }) => {
    const picked = v.sizes;
    const rep = benchGpu({
      ...(v.quick ? QUICK_GPU : {}),
      ...(picked ? { sizes: GPU_SWEEP_SIZES.filter((z) => picked.includes(z.name)) } : {}),
      ...(v['seq-lens'] ? { seqLens: v['seq-lens'] } : {}),
      ...(v['tokens-per-step'] !== undefined ? { tokensPerStep: v['tokens-per-step'] } : {}),
      ...(v.optimizer !== undefined ? { optimizer: v.optimizer } : {}),
      device: v.device,
      log,
    });
    writeReport(v.out, 'gpu', rep, gpuMarkdown(rep));
  }),
  command(BENCH_SOAK, ({ values: v }) => {
    const rep = benchSoak({ ...(v.quick ? QUICK_SOAK : {}), log });
    writeReport(v.out, 'soak', rep, soakMarkdown(rep));
    if (!rep.ok) throw new LmforgeError('lmforge', 'memory did not plateau (see the table above)');
  }),
  command(BENCH_DISTRIBUTED, ({ values: v }) => {
    if (v.worker !== undefined) {
      const r = benchDistributedWorker(JSON.parse(v.worker) as WorkerConfig);
      // Rank 0 (or the one process) reports, as one JSON line the parent reads.
      if ((distributedEnv()?.rank ?? 0) === 0) console.log(JSON.stringify(r));
      return;
    }
    const rep = benchDistributed({ quick: v.quick, ...(v.rounds ? { rounds: v.rounds } : {}), ...(v.steps ? { steps: v.steps } : {}), ...(v['bucket-mb'] ? { bucketBytes: Math.round(v['bucket-mb'] * 2 ** 20) } : {}), log });
    writeReport(v.out, 'distributed', rep, distributedMarkdown(rep));
  }),
  command(BENCH_REFERENCE, async ({ values: v }) => {
    if (v.threads !== undefined) setNumThreads(v.threads);
    const rep = await benchReference({ peer: v.peer, rounds: v.rounds ?? (v.quick ? 1 : 3), stepsPerRound: v.steps ?? (v.quick ? 2 : 3), warmup: v.quick ? 1 : 2, log });
    writeReport(v.out, 'reference', rep, referenceMarkdown(rep));
  }),
];

function benchAttentionRun(v: { T?: number[]; D?: number[]; quick: boolean; out?: string }): void {
  const rep = benchAttention({ T: v.T ?? (v.quick ? [256, 1024] : undefined), D: v.D, minSeconds: v.quick ? 0.2 : undefined, log });
  writeReport(v.out, 'attention', rep, attentionMarkdown(rep));
}

function benchLayersRun(v: { quick: boolean; out?: string }): void {
  const rep = benchLayers({ minSeconds: v.quick ? 0.05 : undefined, dims: v.quick ? [384] : undefined, vocabs: v.quick ? [8192] : undefined });
  writeReport(v.out, 'layers', rep, layersMarkdown(rep));
}

function benchOptimRun(v: { sizes?: number[]; quick: boolean; out?: string }): void {
  const rep = benchOptim({ sizes: v.sizes ?? (v.quick ? [1_000_000] : undefined), seconds: v.quick ? 0.1 : undefined });
  writeReport(v.out, 'optim', rep, optimMarkdown(rep));
}
