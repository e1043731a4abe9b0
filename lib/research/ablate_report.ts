/**
 * The report of `lmforge ablate`: per-run results gathered per cell as mean ± sample standard deviation over
 * seeds, written as results.json, a Markdown table (results.md) and two charts: validation bits per byte
 * against training tokens per cell, and the final bits per byte of each cell with error bars.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { barChart, lineChart } from '../bench/svg.js';
import type { RunConfig } from '../cli/config.js';
import type { TaskResult } from '../eval/index.js';
import type { TaskSpec } from './ablate.js';
import { flagOf, type AblationSpec, type Cell } from './ablate_spec.js';

/** One finished run (a cell with one seed): result.json. */
export interface RunResult {
  cell: string;
  seed: number;
  /** The run config the grid made for this cell and seed (before the optimizer defaults are filled in). */
  config: RunConfig;
  steps: number;
  tokens: number;
  /** Final evaluation over the whole validation split. */
  valLoss: number;
  valBitsPerByte: number;
  evalTokens: number;
  parameters: number;
  optimizerStateBytes: number;
  stateBytesPerParam: number;
  /** Training tokens per second of training time (evaluations and checkpoints not counted). */
  tokensPerSec: number;
  /** Training time, carried across a resume. */
  trainSeconds: number;
  /** Time of the run in this process, evaluations and checkpoints included (a resumed run: since the resume). */
  wallSeconds: number;
  /** Highest resident set size sampled at the run's steps (the process is shared by the runs of a grid). */
  peakRssBytes: number;
  /** Most bytes of live tensors at once during the run. */
  peakTensorBytes: number;
  threads: number;
  /** The step of the checkpoint this run resumed from, or null. */
  resumedFromStep: number | null;
  /** Validation evaluations by step (periodic ones on the first evalBatches batches, the final one on the whole split). */
  curve: { step: number; tokens: number; loss: number; bitsPerByte: number; final: boolean }[];
  /** Downstream task scores of the final model, and the task spec they were scored with (absent: none scored). */
  tasks?: TaskResult[];
  taskSpec?: TaskSpec;
}

export interface Stat {
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); null with fewer than two values. */
  std: number | null;
  n: number;
}

/** Mean and sample standard deviation. */
export function meanStd(xs: readonly number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, std, n };
}

export const METRICS = ['valBitsPerByte', 'valLoss', 'parameters', 'tokensPerSec', 'peakRssBytes', 'peakTensorBytes', 'stateBytesPerParam', 'wallSeconds', 'trainSeconds'] as const;
export type Metric = (typeof METRICS)[number];

export interface CellSummary {
  name: string;
  folder: string;
  values: Record<string, unknown>;
  varied: string | null;
  /** The seeds finished so far. */
  seeds: number[];
  /** Over the finished seeds; absent while none has finished. */
  stats: Partial<Record<Metric, Stat>>;
  /** Validation bits per byte by step, mean ± std over the seeds that evaluated at that step. */
  curve: { step: number; tokens: number; bitsPerByte: Stat }[];
  /** Accuracy per task over the seeds scored on it, with the task's chance level and one run's standard error (mean over seeds). */
  tasks: { name: string; examples: number; accuracy: Stat; chance: number; stderr: number }[];
}

export function summarize(cells: readonly Cell[], runs: readonly RunResult[], taskNames: readonly string[] = []): CellSummary[] {
  return cells.map((c) => {
    const mine = runs.filter((r) => r.cell === c.name).sort((a, b) => a.seed - b.seed);
    const stats: Partial<Record<Metric, Stat>> = {};
    if (mine.length) for (const m of METRICS) stats[m] = meanStd(mine.map((r) => r[m]));
    const steps = new Map<number, { tokens: number; bpb: number[] }>();
    for (const r of mine)
      for (const p of r.curve) {
        const s = steps.get(p.step) ?? { tokens: p.tokens, bpb: [] };
        s.bpb.push(p.bitsPerByte);
        steps.set(p.step, s);
      }
    const curve = [...steps.entries()].sort((a, b) => a[0] - b[0]).map(([step, s]) => ({ step, tokens: s.tokens, bitsPerByte: meanStd(s.bpb) }));
    const tasks = taskNames.flatMap((name) => {
      const scored = mine.flatMap((r) => r.tasks?.filter((t) => t.name === name) ?? []);
      if (!scored.length) return [];
      const mean = (f: (t: TaskResult) => number): number => meanStd(scored.map(f)).mean;
      return [{ name, examples: scored[0]!.examples, accuracy: meanStd(scored.map((t) => t.accuracy)), chance: mean((t) => t.chance), stderr: mean((t) => t.stderr) }];
    });
    return { name: c.name, folder: c.folder, values: c.values, varied: c.varied, seeds: mine.map((r) => r.seed), stats, curve, tasks };
  });
}

function pm(s: Stat | undefined, digits: number, scale = 1): string {
  if (s === undefined) return '—';
  const m = (s.mean / scale).toFixed(digits);
  return s.std === null ? m : `${m} ± ${(s.std / scale).toFixed(digits)}`;
}

const valueText = (v: unknown): string => (typeof v === 'string' ? v.replace(/^.*[\\/]/, '') : String(v));

/** The Markdown table of a grid: one row per cell, mean ± sample standard deviation over its seeds. */
export function resultsMarkdown(spec: AblationSpec, summaries: readonly CellSummary[], taskNames: readonly string[] = []): string {
  const b = spec.base, t = b.train;
  const budget = t.tokens !== null ? `${t.tokens.toLocaleString('en-US')} training tokens` : `${t.steps} steps`;
  const axes = spec.axes.map((a) => a.key);
  const oat = spec.mode === 'one-at-a-time';
  // A task's header gives its chance level and one run's standard error (from the first cell scored on it).
  const taskHead = taskNames.map((n) => {
    const t = summaries.flatMap((s) => s.tasks).find((x) => x.name === n);
    return t ? `${n} accuracy (n ${t.examples}, chance ${t.chance.toFixed(3)}, s.e. ${t.stderr.toFixed(3)})` : `${n} accuracy`;
  });
  const head = [...(oat ? ['varied'] : []), ...axes.map(flagOf), 'seeds', 'val bits/byte', 'val loss (nats/token)', ...taskHead, 'parameters', 'tokens/s', 'peak RSS (MiB)', 'tensor peak (MiB)', 'optimizer state (bytes/param)', 'wall (s)'];
  const lines = [
    `${summaries.length} cell${summaries.length === 1 ? '' : 's'} (${spec.mode}${oat ? `, baseline: the first value of each axis` : ''}) × ${spec.seeds} seed${spec.seeds === 1 ? '' : 's'}; each run ${budget} (batch ${t.batchSize}×${t.gradAccum}), validation bits per byte on the whole held-out split. Values are mean ± sample standard deviation over seeds (model init and batch order).`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i < (oat ? 1 : 0) + axes.length ? '---' : '---:')).join(' | ')} |`,
  ];
  const mib = 2 ** 20;
  for (const s of summaries) {
    const st = s.stats;
    const row = [
      ...(oat ? [s.varied === null ? 'baseline' : flagOf(s.varied)] : []),
      ...axes.map((k) => valueText(s.values[k])),
      String(s.seeds.length),
      pm(st.valBitsPerByte, 4), pm(st.valLoss, 4),
      ...taskNames.map((n) => pm(s.tasks.find((t) => t.name === n)?.accuracy, 3)),
      st.parameters ? `${(st.parameters.mean / 1e6).toFixed(3)}M` : '—',
      pm(st.tokensPerSec, 0), pm(st.peakRssBytes, 0, mib), pm(st.peakTensorBytes, 0, mib), pm(st.stateBytesPerParam, 2), pm(st.wallSeconds, 1),
    ];
    lines.push(`| ${row.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** A cell's values alone, 'rope · gelu' (chart labels: the legend and the slots are narrow); the chart says which axes. */
function shortName(spec: AblationSpec, s: CellSummary, skip?: string): string {
  return spec.axes.filter((a) => a.key !== skip).map((a) => valueText(s.values[a.key])).join(' · ') || s.name;
}

const axesTitle = (spec: AblationSpec): string => spec.axes.map((a) => flagOf(a.key)).join(' · ');

/** Validation bits per byte against training tokens, one line per cell (mean over seeds, ± std as error bars). */
export function curvesChart(spec: AblationSpec, summaries: readonly CellSummary[]): string {
  return lineChart({
    // The title stays short (it is centred over the plot); the last point of each line is the whole-split evaluation.
    title: `Validation bits per byte while training${axesTitle(spec) ? `: ${axesTitle(spec)}` : ''}`, xLabel: 'training tokens', yLabel: 'validation bits per byte', yFromZero: false,
    series: summaries.filter((s) => s.curve.length).map((s) => ({
      name: shortName(spec, s), points: s.curve.map((p) => [p.tokens, p.bitsPerByte.mean] as const), yError: s.curve.map((p) => p.bitsPerByte.std ?? 0),
    })),
  });
}

/**
 * Final bits per byte per cell with ± one standard deviation. Full grids of two axes or more are coloured by
 * the first axis's value and labelled by the others; one-at-a-time grids are coloured by the axis varied.
 */
export function finalChart(spec: AblationSpec, summaries: readonly CellSummary[]): string {
  const first = spec.axes[0]?.key;
  const grouped = spec.mode === 'full' && spec.axes.length > 1 && first !== undefined;
  const bar = (s: CellSummary): { label: string; group?: string } => {
    if (spec.mode === 'one-at-a-time') return { label: shortName(spec, s), group: s.varied === null ? 'baseline' : flagOf(s.varied) };
    return grouped ? { label: shortName(spec, s, first), group: `${flagOf(first)}=${valueText(s.values[first])}` } : { label: shortName(spec, s) };
  };
  return barChart({
    title: `Final validation bits per byte, mean ± std over ${spec.seeds} seed${spec.seeds === 1 ? '' : 's'} (axis not from 0)`, yLabel: 'validation bits per byte', yFromZero: false,
    ...(grouped ? { xLabel: `${spec.axes.slice(1).map((a) => flagOf(a.key)).join(' · ')} (colour: ${flagOf(first)})` } : spec.mode === 'one-at-a-time' ? { xLabel: `${axesTitle(spec)} (colour: the axis varied)` } : axesTitle(spec) ? { xLabel: axesTitle(spec) } : {}),
    bars: summaries.filter((s) => s.stats.valBitsPerByte).map((s) => {
      const st = s.stats.valBitsPerByte!;
      return { ...bar(s), value: st.mean, ...(st.std === null ? {} : { error: st.std }) };
    }),
  });
}

/** Chart file names in the grid folder. */
export const CHARTS = { curves: 'val_bits_per_byte.svg', final: 'final_bits_per_byte.svg' } as const;

/** The tasks a report shows: as asked for, and the names their results carry (a JSONL file's task is named after the file). */
export interface ReportTasks {
  spec: TaskSpec;
  names: string[];
}

/** Writes results.json, results.md and the charts for the runs finished so far. */
export function writeReport(out: string, spec: AblationSpec, cells: readonly Cell[], runs: readonly RunResult[], tasks: ReportTasks | null, command?: string): CellSummary[] {
  const summaries = summarize(cells, runs, tasks?.names);
  const report = { ...(command === undefined ? {} : { command }), spec, tasks: tasks?.spec ?? null, cells: summaries.map((s) => ({ ...s, runs: runs.filter((r) => r.cell === s.name).sort((a, b) => a.seed - b.seed) })) };
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'results.md'), resultsMarkdown(spec, summaries, tasks?.names));
  writeFileSync(join(out, CHARTS.curves), curvesChart(spec, summaries));
  writeFileSync(join(out, CHARTS.final), finalChart(spec, summaries));
  return summaries;
}
