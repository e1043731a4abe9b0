/**
 * The whole benchmark suite in one report (`lmforge bench all`, `npm run bench`): the sequence length ×
 * model size sweep with its MPT projection, then the micro-benchmarks (GEMM beside OpenBLAS, attention fused
 * and composed, layer kernels, optimizer steps, binding overhead), with the machine, CPU features, threads
 * and versions they ran with. `quick` shrinks every part so that the whole run takes under two minutes on a
 * two-core machine; its figures are noisier and cover fewer shapes.
 */
import { createRequire } from 'node:module';

import { native } from '../native.js';
import { cpuInfo, matmulKernel, numThreads } from '../runtime.js';
import { attentionMarkdown, benchAttention, type AttentionReport } from './attention.js';
import { benchGemm, DEFAULT_GEMM_SHAPES, gemmMarkdown, type GemmReport } from './gemm.js';
import { benchLayers, layersMarkdown, type LayerBenchReport } from './layers.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { benchOptim, optimMarkdown, type OptimReport } from './optim.js';
import { benchOverhead, overheadMarkdown, type OverheadReport } from './overhead.js';
import { projectMpt, projectionMarkdown, type ProjectionReport } from './projection.js';
import { benchSweep, QUICK_SWEEP, sweepMarkdown, type SweepOptions, type SweepReport } from './sweep.js';

export interface Versions {
  lmforge: string;
  node: string;
  v8: string;
  napi: string;
  /** The compiler that built the native addon. */
  compiler: string;
}

export interface BenchAllReport {
  machine: MachineInfo;
  cpuFeatures: string[];
  threads: number;
  gemmKernel: string;
  versions: Versions;
  quick: boolean;
  seconds: Record<string, number>;
  sweep: SweepReport;
  /** Null when the sweep measured too few cells to fit (the reason in projectionError). */
  projection: ProjectionReport | null;
  projectionError?: string;
  gemm: GemmReport;
  attention: AttentionReport;
  layers: LayerBenchReport;
  optim: OptimReport;
  overhead: OverheadReport;
}

export interface BenchAllOptions {
  quick?: boolean;
  /** Overrides for the sweep (sizes, lengths, tokens per step, ...). */
  sweep?: SweepOptions;
  log?: (line: string) => void;
}

export function versions(): Versions {
  const require = createRequire(import.meta.url);
  const pkg = require('../../package.json') as { version: string };
  const build = typeof native.buildInfo === 'function' ? native.buildInfo() : null;
  return {
    lmforge: pkg.version,
    node: process.versions.node,
    v8: process.versions.v8,
    napi: process.versions.napi ?? 'unknown',
    compiler: build ? `${build.compiler} (C++ ${build.cplusplus}, N-API ${build.napiVersion})` : 'unknown (addon without buildInfo)',
  };
}

export function benchAll(opts: BenchAllOptions = {}): BenchAllReport {
  const quick = opts.quick ?? false;
  const log = opts.log ?? (() => {});
  const seconds: Record<string, number> = {};
  const timed = <T>(name: string, fn: () => T): T => {
    log(`\n== ${name}`);
    const t0 = performance.now();
    const r = fn();
    seconds[name] = (performance.now() - t0) / 1000;
    log(`(${name}: ${seconds[name]!.toFixed(1)} s)`);
    return r;
  };
  const sweep = timed('sweep', () =>
    benchSweep({
      ...(quick ? QUICK_SWEEP : {}),
      // Only the options actually set override the quick ones.
      ...Object.fromEntries(Object.entries(opts.sweep ?? {}).filter(([, v]) => v !== undefined)),
      log,
    }),
  );
  let projection: ProjectionReport | null = null;
  let projectionError: string | undefined;
  try {
    projection = projectMpt(sweep.rows);
  } catch (e) {
    projectionError = e instanceof Error ? e.message : String(e);
  }
  const threads = numThreads();
  const gemm = timed('gemm', () =>
    benchGemm(quick ? { threads: [threads], shapes: DEFAULT_GEMM_SHAPES.slice(0, 2), minSeconds: 0.05, rounds: 1, log } : { log }),
  );
  const attention = timed('attention', () => benchAttention(quick ? { T: [256, 1024], D: [64], minSeconds: 0.15, log } : { log }));
  const layers = timed('layers', () => benchLayers(quick ? { minSeconds: 0.03, dims: [384], vocabs: [8192] } : {}));
  const optim = timed('optim', () => benchOptim(quick ? { sizes: [1_000_000], seconds: 0.1 } : {}));
  const overhead = timed('overhead', () => benchOverhead(quick ? { calls: 5000, batches: 5 } : {}));
  const f = cpuInfo();
  return {
    machine: machineInfo(),
    cpuFeatures: Object.entries(f).filter(([k, v]) => k !== 'tier' && v === true).map(([k]) => k),
    threads,
    gemmKernel: matmulKernel('float32'),
    versions: versions(),
    quick,
    seconds,
    sweep,
    projection,
    ...(projectionError === undefined ? {} : { projectionError }),
    gemm,
    attention,
    layers,
    optim,
    overhead,
  };
}

export function reportMarkdown(r: BenchAllReport): string {
  const v = r.versions;
  const total = Object.values(r.seconds).reduce((a, b) => a + b, 0);
  return [
    `# lmforge benchmark report${r.quick ? ' (--quick)' : ''}`,
    '',
    `${r.machine.cpu}, ${r.machine.cores} cores, ${r.threads} thread(s), tier ${r.machine.tier}, GEMM kernel ${r.gemmKernel}; CPU features: ${r.cpuFeatures.join(' ') || 'none'}.`,
    `lmforge ${v.lmforge}, node ${v.node} (V8 ${v.v8}, N-API ${v.napi}), addon built with ${v.compiler}; ${r.machine.date}. Took ${total.toFixed(0)} s (${Object.entries(r.seconds).map(([k, s]) => `${k} ${s.toFixed(0)} s`).join(', ')}).`,
    'Figures taken on a shared machine vary between runs; compare rows of one report, not across reports.',
    '',
    '## Sequence length × model size',
    '',
    sweepMarkdown(r.sweep),
    '',
    'Charts: sweep_throughput.svg, sweep_relative.svg.',
    '',
    '## MPT projection',
    '',
    r.projection ? projectionMarkdown(r.projection) : `Not computed: ${r.projectionError}.`,
    '',
    '## GEMM',
    '',
    gemmMarkdown(r.gemm),
    '',
    '## Attention',
    '',
    attentionMarkdown(r.attention),
    '',
    '## Layer kernels',
    '',
    layersMarkdown(r.layers),
    '',
    '## Optimizers',
    '',
    optimMarkdown(r.optim),
    '',
    '## Binding overhead',
    '',
    overheadMarkdown(r.overhead),
    '',
  ].join('\n');
}
