/**
 * GEMM benchmark: the shapes of a transformer layer's projections (M = 2048 tokens) for the forward
 * pass and both backward products, on 1 and 2 threads, against the measured FMA ceiling and against
 * OpenBLAS sgemm in the same run.
 */
import { matmul } from '../ops/matmul.js';
import { randn } from '../ops/creation.js';
import { matmulKernel, numThreads, setNumThreads } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { fmaPeak, machineInfo, type MachineInfo } from './machine.js';
import { openblasPeer } from './openblas.js';
import { timeIt } from './timing.js';

export interface GemmRow {
  pass: 'forward' | 'grad input' | 'grad weight';
  /** Problem as run: C[M, N] = op(A) @ op(B) with inner size K. */
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  threads: number;
  gflops: number;
  peakFraction: number;
  openblasGflops: number | null;
  ratio: number | null;
}

export interface GemmReport {
  machine: MachineInfo;
  kernel: string;
  peak: Record<number, number>;
  rounds: number;
  openblas: { available: boolean; reason: string; coretype: string; core?: string };
  rows: GemmRow[];
}

export const DEFAULT_GEMM_SHAPES: [number, number][] = [
  [384, 1152],
  [384, 1536],
  [1536, 384],
  [384, 8192],
];

export interface GemmBenchOptions {
  M?: number;
  shapes?: [number, number][];
  threads?: number[];
  minSeconds?: number;
  /**
   * Rounds per case (default 3): ours and the peer alternate, and each keeps its best median, so that a
   * burst of other work on a shared machine costs a round, not the result.
   */
  rounds?: number;
  log?: (line: string) => void;
}

export function benchGemm(opts: GemmBenchOptions = {}): GemmReport {
  const M = opts.M ?? 2048;
  const shapes = opts.shapes ?? DEFAULT_GEMM_SHAPES;
  const threadCounts = opts.threads ?? [1, 2];
  const log = opts.log ?? (() => {});
  const saved = numThreads();
  const peer = openblasPeer();
  const report: GemmReport = {
    machine: machineInfo(),
    kernel: matmulKernel('float32'),
    peak: {},
    rounds: opts.rounds ?? 3,
    openblas: { available: peer.available, reason: peer.reason, coretype: peer.coretype },
    rows: [],
  };
  try {
    for (const threads of threadCounts) {
      setNumThreads(threads);
      report.peak[threads] = fmaPeak(threads);
      log(`FMA peak on ${threads} thread(s): ${report.peak[threads]!.toFixed(1)} GFLOP/s`);
      for (const [K, N] of shapes) {
        // X [M, K], W [K, N], dY [M, N]: forward X @ W, grad input dY @ W^T, grad weight X^T @ dY.
        const X = randn([M, K], { seed: 1 }), W = randn([K, N], { seed: 2 }), dY = randn([M, N], { seed: 3 });
        const cases: [GemmRow['pass'], Tensor, Tensor, number, number, number, boolean, boolean][] = [
          ['forward', X, W, M, N, K, false, false],
          ['grad input', dY, W.T, M, K, N, false, true],
          ['grad weight', X.T, dY, K, N, M, true, false],
        ];
        for (const [pass, a, b, m, n, k, ta, tb] of cases) {
          let gflops = 0;
          let openblasGflops: number | null = null;
          for (let round = 0; round < (opts.rounds ?? 3); round++) {
            const t = timeIt(() => matmul(a, b).dispose(), { minSeconds: opts.minSeconds ?? 0.3 });
            gflops = Math.max(gflops, (2 * m * n * k) / t.median / 1e9);
            if (peer.available) {
              const r = peer.run(m, n, k, ta, tb, threads);
              openblasGflops = Math.max(openblasGflops ?? 0, r.gflops);
              if (r.core) report.openblas.core = r.core;
            }
          }
          const row: GemmRow = {
            pass, M: m, N: n, K: k, transA: ta, transB: tb, threads, gflops,
            peakFraction: gflops / report.peak[threads]!,
            openblasGflops,
            ratio: openblasGflops ? gflops / openblasGflops : null,
          };
          report.rows.push(row);
          log(formatRow(row));
        }
        for (const t of [X, W, dY]) t.dispose();
      }
    }
  } finally {
    setNumThreads(saved);
  }
  return report;
}

function formatRow(r: GemmRow): string {
  const op = `${r.transA ? 'Aᵀ' : 'A'}${r.transB ? 'Bᵀ' : 'B'}`;
  const peer = r.openblasGflops === null ? '—' : r.openblasGflops.toFixed(1);
  const ratio = r.ratio === null ? '—' : r.ratio.toFixed(2);
  return `| ${r.pass} | ${r.M}×${r.K} · ${r.K}×${r.N} (${op}) | ${r.threads} | ${r.gflops.toFixed(1)} | ${(100 * r.peakFraction).toFixed(0)}% | ${peer} | ${ratio} |`;
}

export function gemmMarkdown(rep: GemmReport): string {
  const lines = [
    `GEMM, fp32, ${rep.machine.cpu}, ${rep.machine.cores} cores, kernel ${rep.kernel}, ${rep.machine.date.slice(0, 10)}.`,
    `Best of ${rep.rounds} alternating rounds per case (median of each). FMA peak measured in the same run: ${Object.entries(rep.peak).map(([t, g]) => `${g.toFixed(0)} GFLOP/s on ${t} thread(s)`).join(', ')}.`,
    rep.openblas.available
      ? `Peer: OpenBLAS sgemm with OPENBLAS_CORETYPE=${rep.openblas.coretype}${rep.openblas.core ? ` (runs its ${rep.openblas.core} kernel)` : ''}.`
      : `Peer: OpenBLAS unavailable (${rep.openblas.reason}).`,
    '',
    '| pass | problem | threads | lmforge GFLOP/s | of peak | OpenBLAS GFLOP/s | lmforge / OpenBLAS |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rep.rows.map(formatRow),
  ];
  const ratios = rep.rows.map((r) => r.ratio).filter((r): r is number => r !== null);
  if (ratios.length) lines.push('', `Lowest ratio ${Math.min(...ratios).toFixed(2)}, geometric mean ${Math.exp(ratios.reduce((a, r) => a + Math.log(r), 0) / ratios.length).toFixed(2)}.`);
  return lines.join('\n');
}
