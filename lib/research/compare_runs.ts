/**
 * `lmforge compare runs`: run folders (config.json, log.jsonl) read back, their training loss and validation
 * bits-per-byte curves drawn against tokens or steps, and a table of final metrics. Anything that writes the
 * Trainer's log.jsonl is a run folder; config.json (written by `lmforge train`) is optional.
 *
 * log.jsonl holds one JSON object per line: `run` (one per fit: parameters and optimizer state bytes), `step`
 * (one per optimizer step) and `eval` records. A resumed run appends to the same log from its checkpoint's
 * step, so a step logged twice keeps its last record.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

import { ValueError } from '../errors.js';
import { lineChart, type ChartSeries } from '../bench/svg.js';

const OP = 'compare runs';

export interface RunStep {
  step: number;
  loss: number;
  tokens: number;
  seconds: number;
  rssBytes: number;
}

export interface RunEval {
  step: number;
  /** Training tokens consumed when the evaluation ran. */
  tokens: number;
  loss: number;
  bitsPerByte: number;
  final: boolean;
}

export interface RunLog {
  dir: string;
  /** How tables and legends call it: the folder's name, or its path where two names collide. */
  name: string;
  /** config.json as written (null when the folder has none). */
  config: Record<string, unknown> | null;
  steps: RunStep[];
  evals: RunEval[];
  parameters: number | null;
  optimizer: string | null;
  stateBytesPerParam: number | null;
}

export interface RunSummary {
  name: string;
  dir: string;
  parameters: number | null;
  optimizer: string | null;
  stateBytesPerParam: number | null;
  steps: number;
  tokens: number;
  /** The last evaluation (the final one, over the whole validation split, when the run finished). */
  valLoss: number | null;
  valBitsPerByte: number | null;
  /** Training tokens over the summed step times. */
  tokensPerSec: number;
  peakRssBytes: number;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function readJson(file: string, text: string, line?: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValueError(OP, `${file}${line === undefined ? '' : `:${line}`} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** The numbers `keys` of a record, or a ValueError naming the file, the line and the first missing key. */
function numbers<K extends string>(rec: Record<string, unknown>, keys: readonly K[], where: string): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) {
    if (!isNum(rec[k])) throw new ValueError(OP, `${where}: a '${String(rec.type)}' record needs a number '${k}', got ${JSON.stringify(rec[k])}`);
    out[k] = rec[k];
  }
  return out;
}

/** Reads one run folder; errors name the folder, file and line at fault. */
export function readRun(dir: string): RunLog {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ValueError(OP, `${dir} is not a folder`);
  const logFile = join(dir, 'log.jsonl');
  if (!existsSync(logFile)) throw new ValueError(OP, `${dir} has no log.jsonl (not a run folder of lmforge train or the Trainer)`);
  const cfgFile = join(dir, 'config.json');
  let config: Record<string, unknown> | null = null;
  if (existsSync(cfgFile)) {
    const c = readJson(cfgFile, readFileSync(cfgFile, 'utf8'));
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new ValueError(OP, `${cfgFile} must hold a JSON object`);
    config = c as Record<string, unknown>;
  }
  const steps = new Map<number, RunStep>();
  const evals: (Omit<RunEval, 'tokens'> & { line: number })[] = [];
  let run = null as Record<string, unknown> | null;
  readFileSync(logFile, 'utf8').split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    const where = `${logFile}:${i + 1}`;
    const rec = readJson(logFile, text, i + 1);
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new ValueError(OP, `${where}: expected a JSON object, got ${text.slice(0, 40)}`);
    const r = rec as Record<string, unknown>;
    if (r.type === 'step') {
      const n = numbers(r, ['step', 'loss', 'tokens', 'seconds'] as const, where);
      steps.set(n.step, { ...n, rssBytes: isNum(r.rssBytes) ? r.rssBytes : 0 });
    } else if (r.type === 'eval') {
      const n = numbers(r, ['step', 'loss', 'bitsPerByte'] as const, where);
      evals.push({ ...n, final: r.final === true, line: i + 1 });
    } else if (r.type === 'run') run = r;
    // Other record types (from newer versions) are left alone.
  });
  if (steps.size === 0) throw new ValueError(OP, `${logFile} holds no 'step' records (did the run start?)`);
  const sorted = [...steps.values()].sort((a, b) => a.step - b.step);
  const tokensAt = new Map(sorted.map((s) => [s.step, s.tokens]));
  // An evaluation sits at the training tokens of its step; a step evaluated twice (a resume) keeps the later one.
  const byStep = new Map<number, RunEval>();
  for (const e of evals) {
    const tokens = e.step === 0 ? 0 : tokensAt.get(e.step);
    if (tokens === undefined) throw new ValueError(OP, `${logFile}:${e.line}: an evaluation at step ${e.step}, which has no 'step' record`);
    byStep.set(e.step, { step: e.step, tokens, loss: e.loss, bitsPerByte: e.bitsPerByte, final: e.final });
  }
  const stats = (config?.stats ?? run) as Record<string, unknown> | null;
  return {
    dir, name: basename(dir) || dir, config, steps: sorted, evals: [...byStep.values()].sort((a, b) => a.step - b.step),
    parameters: isNum(stats?.parameters) ? stats.parameters : null,
    optimizer: typeof stats?.optimizer === 'string' ? stats.optimizer : null,
    stateBytesPerParam: isNum(stats?.stateBytesPerParam) ? stats.stateBytesPerParam : null,
  };
}

/** Reads the folders; two runs of the same folder name are called by their paths instead. */
export function readRuns(dirs: readonly string[]): RunLog[] {
  if (dirs.length === 0) throw new ValueError(OP, 'give at least one run folder');
  const runs = dirs.map(readRun);
  const count = new Map<string, number>();
  for (const r of runs) count.set(r.name, (count.get(r.name) ?? 0) + 1);
  for (const r of runs) if (count.get(r.name)! > 1) r.name = r.dir;
  return runs;
}

export function summarize(r: RunLog): RunSummary {
  const last = r.steps[r.steps.length - 1]!;
  const e = r.evals.find((x) => x.final) ?? r.evals[r.evals.length - 1];
  const seconds = r.steps.reduce((s, x) => s + x.seconds, 0);
  return {
    name: r.name, dir: r.dir, parameters: r.parameters, optimizer: r.optimizer, stateBytesPerParam: r.stateBytesPerParam,
    steps: last.step, tokens: last.tokens, valLoss: e?.loss ?? null, valBitsPerByte: e?.bitsPerByte ?? null,
    tokensPerSec: seconds > 0 ? last.tokens / seconds : 0, peakRssBytes: Math.max(...r.steps.map((s) => s.rssBytes)),
  };
}

const dash = '–';
const fixed = (v: number | null, d: number): string => (v === null ? dash : v.toFixed(d));

export function runsMarkdown(rows: readonly RunSummary[]): string {
  const lines = [
    '| run | parameters | optimizer | state bytes/param | steps | tokens | final val loss (nats/token) | val bits/byte | tokens/s | peak RSS (MiB) |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.name.replace(/\|/g, '\\|')} | ${r.parameters === null ? dash : r.parameters.toLocaleString('en-US')} | ${r.optimizer ?? dash} | ${fixed(r.stateBytesPerParam, 2)} | ${r.steps} | ` +
        `${r.tokens.toLocaleString('en-US')} | ${fixed(r.valLoss, 4)} | ${fixed(r.valBitsPerByte, 3)} | ${r.tokensPerSec.toFixed(0)} | ${r.peakRssBytes ? (r.peakRssBytes / 2 ** 20).toFixed(0) : dash} |`,
    );
  return lines.join('\n');
}

/** At most `max` points: means of consecutive chunks (a raw per-step loss is too noisy and too long to draw). */
function thin(points: [number, number][], max: number): [number, number][] {
  const k = Math.ceil(points.length / max);
  if (k <= 1) return points;
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += k) {
    const chunk = points.slice(i, i + k);
    out.push([chunk[chunk.length - 1]![0], chunk.reduce((s, p) => s + p[1], 0) / chunk.length]);
  }
  return out;
}

/** The training-loss and validation bits-per-byte charts, x in training tokens or steps. */
export function runsCharts(runs: readonly RunLog[], x: 'tokens' | 'steps' = 'tokens'): { file: string; svg: string }[] {
  const xOf = (p: { step: number; tokens: number }): number => (x === 'tokens' ? p.tokens : p.step);
  const xLabel = x === 'tokens' ? 'training tokens' : 'optimizer steps';
  const train: ChartSeries[] = runs.map((r) => ({ name: r.name, markers: false, points: thin(r.steps.map((s): [number, number] => [xOf(s), s.loss]), 200) }));
  const val: ChartSeries[] = runs.map((r) => ({ name: r.name, points: r.evals.map((e): [number, number] => [xOf(e), e.bitsPerByte]) }));
  return [
    { file: 'runs_train_loss.svg', svg: lineChart({ title: 'Training loss (means of at most 200 equal chunks of steps)', xLabel, yLabel: 'loss (nats/token)', yFromZero: false, series: train }) },
    { file: 'runs_val_bpb.svg', svg: lineChart({ title: 'Validation bits per byte', xLabel, yLabel: 'bits per byte', yFromZero: false, series: val }) },
  ];
}
