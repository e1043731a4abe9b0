/**
 * Soak: does memory plateau over a long run? Three phases, each a synchronous loop (the worst case: nothing
 * that waits for the event loop, such as N-API or FinalizationRegistry callbacks, gets to run), with the
 * process's resident set (RSS) sampled as it goes:
 * - training steps of a small GPT under tidy() (forward, backward, AdamW step);
 * - generate() calls under noGrad (KV cache, sampling);
 * - create/dispose cycles of a 64×64 tensor.
 * RSS is read after a forced collection (so transient JS garbage does not count), and a phase passes when no
 * sample after its warm-up (the first third) exceeds the RSS at the end of warm-up by more than the
 * tolerance (10%). RSS less V8's heap is reported beside it: V8 sizes its heap by allocation rate and grows
 * it in steps of several MiB during the first few hundred steps, which is bounded and not lmforge's; the
 * native part is where a leak of tensor memory, handles or allocator holes shows. Live and cached bytes from
 * memory() are reported too: when RSS grows but they do not, the memory is held below lmforge's allocator.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { noGrad } from '../autograd/grad_mode.js';
import { memory, tidy } from '../memory.js';
import { GPT } from '../nn/gpt.js';
import { randn, tensor } from '../ops/creation.js';
import { AdamW } from '../optim/adamw.js';
import { machineInfo, type MachineInfo } from './machine.js';

export interface SoakOptions {
  /** Training steps (default 3000). */
  steps?: number;
  /** generate() calls (default 1000). */
  generates?: number;
  /** create/dispose cycles (default 100000). */
  cycles?: number;
  /** RSS samples per phase (default 40). */
  samples?: number;
  /** Allowed growth after warm-up, as a fraction (default 0.1). */
  tolerance?: number;
  log?: (line: string) => void;
}

export interface SoakPhase {
  name: string;
  iterations: number;
  /** RSS in bytes at each sample, after a forced collection; the first is taken before the loop. */
  rss: number[];
  /** RSS at the end of warm-up (the first third of the iterations). */
  warmRss: number;
  /** Largest RSS after warm-up. */
  maxRss: number;
  /** maxRss / warmRss - 1. */
  growth: number;
  /** The same for RSS less V8's heap (heapTotal): the native part. */
  nativeRss: number[];
  nativeGrowth: number;
  /** Live tensor bytes and allocator cache at the end (memory()). */
  liveBytes: number;
  cachedBytes: number;
  plateau: boolean;
  seconds: number;
}

export interface SoakReport {
  machine: MachineInfo;
  tolerance: number;
  phases: SoakPhase[];
  /** True when every phase plateaued. */
  ok: boolean;
}

export const QUICK_SOAK: SoakOptions = { steps: 900, generates: 300, cycles: 20000, samples: 18 };

// A collection on demand without asking the user for --expose-gc.
function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function phase(name: string, iterations: number, samples: number, tolerance: number, body: (i: number) => void): SoakPhase {
  const gc = collector();
  const sample = (): [number, number] => {
    gc();
    const m = process.memoryUsage();
    return [m.rss, m.rss - m.heapTotal];
  };
  const every = Math.max(1, Math.floor(iterations / samples));
  const warmEnd = Math.max(1, Math.floor(iterations / 3));
  const rss: number[] = [];
  const nativeRss: number[] = [];
  const record = (): void => {
    const [r, n] = sample();
    rss.push(r);
    nativeRss.push(n);
  };
  record();
  let warm = 0; // index of the warm-up sample
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    body(i);
    const done = i + 1;
    if (done === warmEnd || done % every === 0 || done === iterations) {
      record();
      if (done === warmEnd) warm = rss.length - 1;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const growthOf = (xs: number[]): number => Math.max(...xs.slice(warm)) / xs[warm]! - 1;
  const growth = growthOf(rss);
  const m = memory();
  return {
    name, iterations, rss, warmRss: rss[warm]!, maxRss: Math.max(...rss.slice(warm)), growth, nativeRss,
    nativeGrowth: growthOf(nativeRss), liveBytes: m.bytes, cachedBytes: m.cachedBytes, plateau: growth <= tolerance, seconds,
  };
}

export function benchSoak(opts: SoakOptions = {}): SoakReport {
  const { steps = 3000, generates = 1000, cycles = 100_000, samples = 40, tolerance = 0.1, log = () => {} } = opts;
  const phases: SoakPhase[] = [];
  const report = (p: SoakPhase): void => {
    phases.push(p);
    log(`${p.name}: ${p.iterations} in ${p.seconds.toFixed(1)} s, RSS ${mib(p.warmRss)} after warm-up, max ${mib(p.maxRss)} (${pct(p.growth)}; native part ${pct(p.nativeGrowth)}), live ${mib(p.liveBytes)}, cached ${mib(p.cachedBytes)}: ${p.plateau ? 'plateau' : 'GROWS'}`);
  };

  // The model of the outside report that grew to 7 GB: 2 layers, width 64.
  const model = new GPT({ vocabSize: 256, seqLen: 64, layers: 2, dim: 64, heads: 4, seed: 1 });
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const B = 8;
  const T = 64;
  const x = tensor(Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 251), [B, T]);
  const y = tensor(Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 1) % 251), [B, T]);
  report(
    phase('train steps', steps, samples, tolerance, () => {
      tidy(() => {
        const { loss } = model.forward(x, y);
        loss!.backward();
        opt.step();
        opt.zeroGrad();
      });
    }),
  );
  const prompt = tensor(Int32Array.from({ length: 8 }, (_, i) => i + 1), [1, 8]);
  report(
    phase('generate calls', generates, samples, tolerance, (i) => {
      noGrad(() => model.generate(prompt, { maxTokens: 16, temperature: 0.8, topK: 20, seed: i })).dispose();
    }),
  );
  report(
    phase('create/dispose cycles', cycles, samples, tolerance, () => {
      randn([64, 64]).dispose();
    }),
  );
  for (const t of [x, y, prompt]) t.dispose();
  for (const p of model.parameters()) p.dispose();
  return { machine: machineInfo(), tolerance, phases, ok: phases.every((p) => p.plateau) };
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const pct = (f: number): string => `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;

export function soakMarkdown(r: SoakReport): string {
  const rows = r.phases.map(
    (p) => `| ${p.name} | ${p.iterations.toLocaleString('en-US')} | ${mib(p.rss[0]!)} | ${mib(p.warmRss)} | ${mib(p.maxRss)} | ${pct(p.growth)} | ${pct(p.nativeGrowth)} | ${mib(p.liveBytes)} | ${mib(p.cachedBytes)} | ${p.seconds.toFixed(1)} | ${p.plateau ? 'yes' : '**no**'} |`,
  );
  return [
    `Soak on ${r.machine.cpu} (${r.machine.cores} cores), node ${r.machine.node}, ${r.machine.date.slice(0, 10)}: RSS after a forced collection, plateau = no sample after warm-up (the first third) above the warm-up RSS by more than ${pct(r.tolerance)}.`,
    '',
    '| phase | iterations | RSS at start | after warm-up | max after | growth | growth less V8 heap | live at end | cached at end | seconds | plateau |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}
