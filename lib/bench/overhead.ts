/**
 * Binding overhead: what one call costs before any arithmetic, so that "fuse rather than multiply tiny ops"
 * has a number. Each case runs a batch of calls in a loop and reports nanoseconds per call (median of
 * several batches after a warm-up):
 * - a no-op native call (`numThreads`: argument-free, returns a number) — the N-API crossing itself;
 * - `add` on two 1-element tensors without autograd (argument checks, the native op, a new Tensor handle,
 *   its FinalizationRegistry entry, and its dispose) — the floor of any lib op; again on one thread;
 * - the same with autograd recording (one input requires grad: a tape node and its backward closure);
 * - the same inside `tidy()` per call, and an empty `tidy()` — the scope machinery (AsyncLocalStorage).
 */
import { noGrad } from '../autograd/grad_mode.js';
import { tidy } from '../memory.js';
import { native } from '../native.js';
import { tensor } from '../ops/creation.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { median } from './timing.js';

export interface OverheadRow {
  case: string;
  /** Median nanoseconds per call. */
  nsPerCall: number;
  calls: number;
}

export interface OverheadReport {
  machine: MachineInfo;
  rows: OverheadRow[];
}

export interface OverheadOptions {
  /** Calls per timed batch (default 20000). */
  calls?: number;
  /** Timed batches per case (default 7). */
  batches?: number;
}

function perCall(fn: () => void, calls: number, batches: number): number {
  for (let i = 0; i < Math.min(calls, 2000); i++) fn(); // warm-up: JIT, allocator, inline caches
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    times.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  return median(times);
}

export function benchOverhead(opts: OverheadOptions = {}): OverheadReport {
  const calls = opts.calls ?? 20000, batches = opts.batches ?? 7;
  const a = tensor([1.5], [1]), b = tensor([2.5], [1]);
  const g = tensor([0.5], [1]).setRequiresGrad();
  let sink = 0;
  const cases: [string, () => void][] = [
    ['native no-op (numThreads)', () => { sink += native.numThreads(); }],
    ['add, 1 element, no autograd', () => noGrad(() => a.add(b).dispose())],
    ['add, 1 element, no autograd, 1 thread', () => noGrad(() => a.add(b).dispose())],
    ['add, 1 element, recording autograd', () => g.add(b).dispose()],
    ['add, 1 element, no autograd, in its own tidy()', () => noGrad(() => tidy(() => { a.add(b); }))],
    ['empty tidy()', () => tidy(() => { sink++; })],
  ];
  const rows: OverheadRow[] = [];
  try {
    for (const [name, fn] of cases) {
      // The 1-thread case shows what the thread pool's dispatch adds to an op too small to split.
      const saved = numThreads();
      if (name.endsWith('1 thread')) setNumThreads(1);
      try {
        rows.push({ case: name, nsPerCall: perCall(fn, calls, batches), calls });
      } finally {
        setNumThreads(saved);
      }
    }
  } finally {
    for (const t of [a, b, g]) t.dispose();
  }
  if (sink < 0) throw new Error('unreachable'); // keeps the no-op calls observable to the JIT
  return { machine: machineInfo(), rows };
}

export function overheadMarkdown(r: OverheadReport): string {
  return [
    `Per-call overhead of the binding, ${r.machine.cpu}, node ${r.machine.node}: median of batches of ${r.rows[0]?.calls ?? 0} calls after a warm-up.`,
    '',
    '| case | ns per call | µs per call |',
    '| --- | ---: | ---: |',
    ...r.rows.map((x) => `| ${x.case} | ${x.nsPerCall.toFixed(0)} | ${(x.nsPerCall / 1000).toFixed(2)} |`),
  ].join('\n');
}
