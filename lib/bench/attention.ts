/**
 * Attention benchmark: fused (flash-style) attention forward + backward against the composed version
 * (matmul, additive mask/bias, softmax, matmul, each with its autograd rule) for sequence lengths
 * 256..8192, head sizes 64 and 128, and positions rope / alibi / none. Reports the median time of one
 * forward + backward, GFLOP/s on the causal FLOP count (forward 2·2·B·H·T²·D/2, backward 2.5× that) and
 * the peak bytes allocated by one forward + backward (memory().peakBytes after resetPeakMemory(), minus
 * what was live before). The composed version stores [B, H, T, T] matrices, so it runs up to T = 4096.
 */
import { randn, tensor } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { rope } from '../ops/rope.js';
import { matmul } from '../ops/matmul.js';
import { softmax } from '../ops/softmax_xent.js';
import { alibiSlopes, fusedAttention } from '../ops/attention.js';
import { keep, memory, resetPeakMemory, tidy } from '../memory.js';
import { numThreads } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { fmaPeak, machineInfo, type MachineInfo } from './machine.js';
import { timeIt } from './timing.js';

export type AttentionBenchPosition = 'rope' | 'alibi' | 'none';

export interface AttentionBenchOptions {
  T?: number[];
  D?: number[];
  positions?: AttentionBenchPosition[];
  /** Batch and heads (default 1 and 4; B·H·T·D sets the memory, B·H·T²·D the work). */
  B?: number;
  H?: number;
  /** Longest T for the composed version (default 4096). */
  composedMaxT?: number;
  /** Minimum seconds of timed runs per row and version (default 1; at least 3 runs after 1 warm-up). */
  minSeconds?: number;
  log?: (line: string) => void;
}

export interface AttentionImplResult {
  /** Median seconds of one forward + backward. */
  seconds: number;
  gflops: number;
  peakBytes: number;
}

export interface AttentionRow {
  T: number;
  D: number;
  position: AttentionBenchPosition;
  B: number;
  H: number;
  fused: AttentionImplResult;
  composed: AttentionImplResult | null;
  /** composed seconds / fused seconds. */
  speedup: number | null;
}

export interface AttentionReport {
  machine: MachineInfo;
  kernel: string;
  threads: number;
  peak: number;
  rows: AttentionRow[];
}

/** The composed reference: q·kᵀ·scale, + bias (causal -inf, ALiBi), softmax, ·v, all recorded ops. */
function composed(q: Tensor, k: Tensor, v: Tensor, bias: Tensor): Tensor {
  const scale = 1 / Math.sqrt(q.shape[3]!);
  const s = matmul(q.mul(scale), k.transpose(-2, -1));
  return matmul(softmax(add(s, bias), -1), v);
}

// [H or 1, T, T] additive bias: -inf above the diagonal, -m_h·(i - j) below it for ALiBi.
function biasTable(H: number, T: number, slopes: number[] | null): Tensor {
  const heads = slopes ? H : 1;
  const data = new Float32Array(heads * T * T);
  for (let h = 0; h < heads; h++) {
    const m = slopes ? slopes[h]! : 0;
    for (let i = 0; i < T; i++) {
      const row = (h * T + i) * T;
      for (let j = 0; j < T; j++) data[row + j] = j > i ? -Infinity : -m * (i - j);
    }
  }
  return tensor(data, [heads, T, T]);
}

function causalFlops(B: number, H: number, T: number, D: number): number {
  const fwd = (2 * 2 * B * H * T * T * D) / 2;
  return fwd * 3.5;
}

export function benchAttention(opts: AttentionBenchOptions = {}): AttentionReport {
  const Ts = opts.T ?? [256, 512, 1024, 2048, 4096, 8192];
  const Ds = opts.D ?? [64, 128];
  const positions = opts.positions ?? ['rope', 'alibi', 'none'];
  const B = opts.B ?? 1, H = opts.H ?? 4;
  const composedMaxT = opts.composedMaxT ?? 4096;
  const minSeconds = opts.minSeconds ?? 1;
  const log = opts.log ?? (() => {});
  const report: AttentionReport = {
    machine: machineInfo(),
    kernel: machineInfo().tier,
    threads: numThreads(),
    peak: fmaPeak(),
    rows: [],
  };
  log(`FMA peak on ${report.threads} thread(s): ${report.peak.toFixed(0)} GFLOP/s`);
  for (const D of Ds) {
    for (const T of Ts) {
      for (const position of positions) {
        const slopes = position === 'alibi' ? alibiSlopes(H) : null;
        const q = keep(randn([B, H, T, D], { seed: 1 }).setRequiresGrad());
        const k = keep(randn([B, H, T, D], { seed: 2 }).setRequiresGrad());
        const v = keep(randn([B, H, T, D], { seed: 3 }).setRequiresGrad());
        const g = keep(randn([B, H, T, D], { seed: 4 }));
        const prep = (x: Tensor): Tensor => (position === 'rope' ? rope(x) : x);
        const measure = (f: () => Tensor): AttentionImplResult => {
          const step = () => {
            tidy(() => f().backward(g));
            for (const x of [q, k, v]) x.zeroGrad();
          };
          step(); // warm-up, and the memory figure
          const before = memory().bytes;
          resetPeakMemory();
          step();
          const peakBytes = memory().peakBytes - before;
          const t = timeIt(step, { warmup: 0, minReps: 3, minSeconds });
          return { seconds: t.median, gflops: causalFlops(B, H, T, D) / t.median / 1e9, peakBytes };
        };
        const fused = measure(() => fusedAttention(prep(q), prep(k), v, { alibiSlopes: slopes }));
        let comp: AttentionImplResult | null = null;
        if (T <= composedMaxT) {
          const bias = keep(biasTable(H, T, slopes));
          comp = measure(() => composed(prep(q), prep(k), v, bias));
          bias.dispose();
        }
        for (const x of [q, k, v, g]) x.dispose();
        const row: AttentionRow = { T, D, position, B, H, fused, composed: comp, speedup: comp ? comp.seconds / fused.seconds : null };
        report.rows.push(row);
        log(formatRow(row));
      }
    }
  }
  return report;
}

const mb = (b: number): string => (b / 2 ** 20).toFixed(1);

function formatRow(r: AttentionRow): string {
  const c = r.composed;
  return `| ${r.T} | ${r.D} | ${r.position} | ${(r.fused.seconds * 1e3).toFixed(1)} | ${r.fused.gflops.toFixed(1)} | ${mb(r.fused.peakBytes)} | ${
    c ? (c.seconds * 1e3).toFixed(1) : '—'} | ${c ? c.gflops.toFixed(1) : '—'} | ${c ? mb(c.peakBytes) : '—'} | ${r.speedup ? r.speedup.toFixed(2) + '×' : '—'} |`;
}

export function attentionMarkdown(rep: AttentionReport): string {
  const r0 = rep.rows[0];
  return [
    `Causal attention forward + backward, fp32, B = ${r0?.B ?? '?'}, H = ${r0?.H ?? '?'}, ${rep.machine.cpu}, ${rep.threads} thread(s), ` +
      `kernel ${rep.kernel}, FMA peak ${rep.peak.toFixed(0)} GFLOP/s, ${rep.machine.date.slice(0, 10)}.`,
    'GFLOP/s on the causal count (forward 2·2·B·H·T²·D/2, backward 2.5× forward); peak MiB allocated by one forward + backward.',
    'Composed = matmul, additive mask/bias, softmax, matmul with autograd (its [B, H, T, T] matrices limit it to T ≤ 4096).',
    '',
    '| T | D | position | fused ms | fused GFLOP/s | fused peak MiB | composed ms | composed GFLOP/s | composed peak MiB | speedup |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rep.rows.map(formatRow),
  ].join('\n');
}
