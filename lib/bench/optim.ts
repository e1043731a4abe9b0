/**
 * Optimizer benchmark: step time and achieved GB/s (bytes read + written per step) for 1M, 10M and 100M
 * parameters, against the machine's measured memory bandwidth (STREAM triad), and each optimizer's
 * state bytes per parameter. Medians after warm-up; the machine may be shared, so read figures as noisy.
 */
import { numThreads } from '../runtime.js';
import { tensor } from '../ops/creation.js';
import { AdamW, AdamW8bit, Lion, SGD, SophiaG, type Optimizer } from '../optim/index.js';
import type { Tensor } from '../tensor.js';
import { machineInfo, memoryBandwidth, type MachineInfo } from './machine.js';
import { timeIt } from './timing.js';

export type OptimName = 'SGD' | 'AdamW' | 'AdamW8bit' | 'Lion' | 'SophiaG';

export interface BenchOptimOptions {
  /** Parameter counts (default 1M, 10M, 100M). */
  sizes?: number[];
  optimizers?: OptimName[];
  /** Seconds of timing per case (default 0.5). */
  seconds?: number;
}

export interface OptimRow {
  optimizer: OptimName;
  params: number;
  /** median seconds per step() */
  seconds: number;
  /** bytes read + written per step, including the gradient finiteness pass */
  bytes: number;
  gbps: number;
  /** achieved / measured bandwidth */
  ofBandwidth: number;
  stateBytesPerParam: number;
  /**
   * Process CPU seconds per step, all threads together (the pool's workers block rather than spin). On a
   * shared machine this moves far less than wall time, so it compares kernels' work when wall times cannot.
   */
  cpuSeconds: number;
}

export interface OptimReport {
  machine: MachineInfo;
  threads: number;
  bandwidthGBs: number;
  rows: OptimRow[];
}

// Bytes per parameter moved by one step: the update pass (reads and writes), plus one read of the gradient
// for the NaN/Inf check that every step() runs.
const BYTES: Record<OptimName, number> = {
  SGD: 4 + 4 + 4 + 4 + 4, // read w g buf, write w buf
  AdamW: 4 * 4 + 3 * 4, // read w g m v, write w m v
  AdamW8bit: 4 + 4 + 1 + 1 + 4 + 1 + 1, // read w g codes, write w codes (absmax: 16 bytes per 256, ignored)
  Lion: 3 * 4 + 2 * 4,
  SophiaG: 4 * 4 + 2 * 4, // read w g m h, write w m
};
const CHECK_BYTES = 4;

function make(name: OptimName, ps: Tensor[]): Optimizer<any> {
  switch (name) {
    case 'SGD': return new SGD(ps, { lr: 1e-3, momentum: 0.9 });
    case 'AdamW': return new AdamW(ps, { lr: 1e-4 });
    case 'AdamW8bit': return new AdamW8bit(ps, { lr: 1e-4 });
    case 'Lion': return new Lion(ps, { lr: 1e-5 });
    case 'SophiaG': return new SophiaG(ps, { lr: 1e-5 });
  }
}

export function benchOptim(opts: BenchOptimOptions = {}): OptimReport {
  const sizes = opts.sizes ?? [1_000_000, 10_000_000, 100_000_000];
  const names = opts.optimizers ?? (['SGD', 'AdamW', 'AdamW8bit', 'Lion', 'SophiaG'] as OptimName[]);
  const seconds = opts.seconds ?? 0.5;
  const bandwidthGBs = memoryBandwidth();
  const rows: OptimRow[] = [];
  for (const n of sizes) {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
    const p = tensor(data, [n]).setRequiresGrad();
    p.grad = tensor(data.map((x) => x * 1e-3), [n]);
    for (const name of names) {
      const opt = make(name, [p]);
      let steps = 0;
      const cpu0 = process.cpuUsage();
      const t = timeIt(() => {
        opt.step();
        steps++;
      }, { warmup: 2, minReps: 3, minSeconds: seconds, maxReps: 200 });
      const cpu = process.cpuUsage(cpu0);
      const bytes = (BYTES[name] + CHECK_BYTES) * n;
      const gbps = bytes / t.median / 1e9;
      const cpuSeconds = (cpu.user + cpu.system) / 1e6 / steps;
      rows.push({ optimizer: name, params: n, seconds: t.median, bytes, gbps, ofBandwidth: gbps / bandwidthGBs, stateBytesPerParam: opt.stateBytes() / n, cpuSeconds });
      opt.dispose();
    }
    p.grad.dispose();
    p.dispose();
  }
  return { machine: machineInfo(), threads: numThreads(), bandwidthGBs, rows };
}

function fmtParams(n: number): string {
  return n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n);
}

/** A Markdown table of the report. */
export function optimMarkdown(r: OptimReport): string {
  const lines = [
    `Optimizer steps on ${r.machine.cpu} (${r.threads} threads, ${r.machine.tier}); memory bandwidth (triad) ${r.bandwidthGBs.toFixed(1)} GB/s.`,
    '',
    '| optimizer | params | step (ms) | GB/s | of bandwidth | state bytes/param | ns/param | CPU ns/param |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.optimizer} | ${fmtParams(x.params)} | ${(x.seconds * 1e3).toFixed(2)} | ${x.gbps.toFixed(1)} | ${(x.ofBandwidth * 100).toFixed(0)}% | ${x.stateBytesPerParam.toFixed(2)} | ${((x.seconds / x.params) * 1e9).toFixed(2)} | ${((x.cpuSeconds / x.params) * 1e9).toFixed(2)} |`,
    );
  lines.push('', 'Bytes counted per step: the fused update pass (reads + writes) plus one read of the gradients for the NaN/Inf check.');
  lines.push('CPU ns/param: process CPU time per step (all threads, warm-up included) over the parameters; it moves much less than wall time when other jobs share the cores.');
  return lines.join('\n');
}
