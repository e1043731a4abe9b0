/**
 * `lmforge ablate`: trains every cell of a grid (ablate_spec.ts) for each seed under the same data, token
 * budget and seeds, and reports validation bits per byte, speed, memory and optimizer state per cell, with the
 * mean and sample standard deviation over seeds (ablate_report.ts).
 *
 * Folder layout: grid.json (the spec), cells/<cell>/seed-<s>/ (a normal run folder: config.json, log.jsonl,
 * checkpoints/, plus cell.json, the cell's config as the grid made it, and result.json once finished),
 * results.json, results.md and the charts. A run with result.json is finished and skipped when the grid runs
 * again; one with a checkpoint and no result resumes from it; anything else starts afresh.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { LmforgeError, ValueError } from '../errors.js';
import { emptyCache, memory, resetPeakMemory } from '../memory.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { loadTokenizer, type Tokenizer } from '../data/tokenizer.js';
import type { TokenDataset } from '../data/dataset.js';
import { evaluateTasks, type Task } from '../eval/index.js';
import type { GPT } from '../nn/gpt.js';
import { loadModel } from '../train/checkpoint.js';
import { defaultConfig, mergeConfig, resolveOptimizer, type RunConfig } from '../cli/config.js';
import { buildData, startRun, tasksOf, totalStepsOf } from '../cli/train_cmd.js';
import { checkCells, gridCells, seededConfig, type AblationSpec, type Cell } from './ablate_spec.js';
import { writeReport, type RunResult } from './ablate_report.js';

export interface AblationOptions {
  /** The grid folder. */
  out: string;
  /** Accept a spec that differs from the folder's grid.json: runs whose config is unchanged are kept, the others retrained. */
  force?: boolean;
  /** No per-step progress from the trainer (the cell lines still print). */
  quiet?: boolean;
  /** Where the progress lines go (default process.stderr). */
  stream?: { write(chunk: string): unknown; isTTY?: boolean };
  /** The command line, recorded in results.json. */
  command?: string;
  /** Threads of a cell whose train.threads is null (default: this process's count when the grid starts). */
  defaultThreads?: number;
  /** Downstream tasks scored on each run's final model (eval's names: last-word, cloze, FILE.jsonl); null or absent: none. */
  tasks?: TaskSpec | null;
}

/**
 * Which downstream tasks, how many examples each (built-in ones) and their seed. Not part of grid.json: the
 * tasks are scored on each run's final model, so other tasks can be scored later without training again.
 */
export interface TaskSpec {
  names: string[];
  examples: number;
  seed: number;
}

export interface AblationRun {
  cell: Cell;
  seed: number;
  /** 'trained', 'resumed' (from a checkpoint) or 'skipped' (finished before). */
  status: 'trained' | 'resumed' | 'skipped';
  result: RunResult;
}

/** JSON with object keys sorted, so that two configs compare equal whatever order their keys were written in. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

/**
 * A stored run config as this version reads it, for comparing: keys added since it was written take their
 * defaults, so a grid survives an upgrade that adds a config key; one this version cannot read compares unequal.
 */
export function configKey(c: unknown): string {
  try {
    return stableJson(mergeConfig(defaultConfig(), c, 'stored config'));
  } catch {
    return `unreadable ${stableJson(c)}`;
  }
}

const SPEC_PARTS = ['base', 'axes', 'mode', 'seeds'] as const;
const partKey = (s: AblationSpec, k: (typeof SPEC_PARTS)[number]): string => (k === 'base' ? configKey(s.base) : stableJson(s[k]));

/** Written to a temporary name and renamed: a killed process leaves either the old file or the new one. */
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

/** Which top-level parts of two specs differ, in words. */
function specDiff(a: AblationSpec, b: AblationSpec): string {
  const parts = SPEC_PARTS.filter((k) => partKey(a, k) !== partKey(b, k));
  return parts.join(', ') || 'format';
}

/** The grid folder's grid.json: written when new, compared when present. */
function claimFolder(spec: AblationSpec, o: AblationOptions): void {
  const path = join(o.out, 'grid.json');
  if (existsSync(path)) {
    let old: AblationSpec;
    try {
      old = readJson(path) as AblationSpec;
    } catch {
      throw new ValueError('ablate', `${path} is not valid JSON; remove it or use another --out`);
    }
    if (SPEC_PARTS.every((k) => partKey(old, k) === partKey(spec, k))) return;
    if (!o.force) throw new ValueError('ablate', `${o.out} holds a different grid (${specDiff(old, spec)} changed); use another --out, or --force to switch it to this one (finished runs whose config is unchanged are kept)`);
  }
  mkdirSync(o.out, { recursive: true });
  writeAtomic(path, `${JSON.stringify(spec, null, 2)}\n`);
}

/** Validation curve from a run's log: its eval records by step, the last record of a step winning (a resumed run repeats steps). */
function curveOf(logFile: string, tokensPerStep: number): RunResult['curve'] {
  if (!existsSync(logFile)) return [];
  const byStep = new Map<number, RunResult['curve'][number]>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{"type":"eval"')) continue;
    const r = JSON.parse(line) as { step: number; loss: number; bitsPerByte: number; final: boolean };
    byStep.set(r.step, { step: r.step, tokens: r.step * tokensPerStep, loss: r.loss, bitsPerByte: r.bitsPerByte, final: r.final });
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The tasks of a spec, built once for the grid (every cell has the same data split, so the same held-out documents). */
function buildTasks(base: RunConfig, t: TaskSpec): { tasks: Task[]; note: string | null } {
  try {
    return tasksOf(base, t.names, t.examples, t.seed);
  } catch (e) {
    if (e instanceof LmforgeError) throw new ValueError('ablate', `--tasks: ${e.message.replace(/^eval: /, '')}`);
    throw e;
  }
}

/** Scores a run's model on the grid's tasks: the fields of RunResult it fills (none without tasks). */
type Scorer = (model: GPT, cfg: RunConfig) => Promise<Pick<RunResult, 'tasks' | 'taskSpec'>>;

/**
 * Trains one cell for one seed in its folder, resuming from a checkpoint there when the folder holds one of
 * the same config; returns its result (also written to result.json).
 */
async function trainRun(cell: Cell, seed: number, dir: string, data: (cfg: RunConfig) => Promise<TokenDataset>, score: Scorer, o: AblationOptions): Promise<{ result: RunResult; resumed: boolean }> {
  const cellCfg = seededConfig(cell, seed);
  const cellFile = join(dir, 'cell.json');
  const same = existsSync(cellFile) && configKey(readJson(cellFile)) === configKey(cellCfg);
  const resumed = same && existsSync(join(dir, 'checkpoints', 'latest'));
  // A run without a checkpoint of this config starts from nothing: its old log would double the curve.
  if (!resumed) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeAtomic(cellFile, `${JSON.stringify(cellCfg, null, 2)}\n`);

  const cfg = structuredClone(cellCfg);
  const totalSteps = totalStepsOf(cfg);
  const opt = (cfg.optimizer = resolveOptimizer(cfg.optimizer, totalSteps));
  setNumThreads(cfg.train.threads ?? o.defaultThreads!);
  const ds = await data(cfg);
  // Memory is measured per run: the allocator's cache of the previous run is returned first.
  emptyCache();
  resetPeakMemory();
  let peakRss = process.memoryUsage.rss();
  const t0 = performance.now();
  const { model, trainer } = startRun(cfg, opt, ds, dir, totalSteps, {
    progress: o.quiet ? 'none' : 'auto', stream: o.stream ?? process.stderr, printEvery: Math.max(10, Math.ceil(totalSteps / 5)),
    onStep: (m) => void (peakRss = Math.max(peakRss, m.rssBytes)),
  });
  try {
    let resumedFrom: number | null = null;
    if (resumed) {
      trainer.resume(dir);
      resumedFrom = trainer.step;
    }
    const r = trainer.fit();
    const e = r.finalEval!;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const parameters = model.numParameters();
    const stateBytes = trainer.optimizer.stateBytes();
    const t = cfg.train;
    const result: RunResult = {
      cell: cell.name, seed, config: cellCfg, steps: r.steps, tokens: trainer.tokens, valLoss: e.loss, valBitsPerByte: e.bitsPerByte, evalTokens: e.tokens,
      parameters, optimizerStateBytes: stateBytes, stateBytesPerParam: stateBytes / parameters,
      tokensPerSec: trainer.tokens / trainer.elapsed, trainSeconds: trainer.elapsed, wallSeconds: (performance.now() - t0) / 1000,
      peakRssBytes: peakRss, peakTensorBytes: memory().peakBytes, threads: numThreads(), resumedFromStep: resumedFrom,
      curve: curveOf(join(dir, 'log.jsonl'), t.batchSize * t.gradAccum * cfg.model.seqLen),
      ...(await score(model, cfg)),
    };
    writeAtomic(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    return { result, resumed };
  } finally {
    trainer.optimizer.dispose();
    model.dispose();
  }
}

/**
 * Runs (or continues) a grid in o.out and writes its report; returns every run, finished ones included.
 * Runs go seed by seed (every cell with seed 0, then seed 1, ...) so that a stopped grid has whole seeds.
 */
export async function runAblation(spec: AblationSpec, o: AblationOptions): Promise<AblationRun[]> {
  o = { ...o, defaultThreads: o.defaultThreads ?? numThreads() };
  const cells = gridCells(spec);
  checkCells(cells);
  const taskSpec = o.tasks && o.tasks.names.length ? o.tasks : null;
  const built = taskSpec ? buildTasks(spec.base, taskSpec) : null;
  const reportTasks = taskSpec && built ? { spec: taskSpec, names: built.tasks.map((t) => t.name) } : null;
  claimFolder(spec, o);
  const stream = o.stream ?? process.stderr;
  const say = (s: string): void => void stream.write(`${s}\n`);
  // Tokenized once per tokenizer and kept for the grid (buildData also caches the tokens on disk).
  const datasets = new Map<string, Promise<TokenDataset>>();
  const data = (cfg: RunConfig): Promise<TokenDataset> => {
    const key = cfg.data.tokenizer;
    if (!datasets.has(key)) datasets.set(key, buildData(cfg, true, loadTokenizer(key)).then((d) => d.ds));
    return datasets.get(key)!;
  };
  if (built?.note) say(built.note.replace('this run trained', 'the grid trains'));
  const tokenizers = new Map<string, Tokenizer>();
  const score: Scorer = async (model, cfg) => {
    if (!built || !taskSpec) return {};
    const key = cfg.data.tokenizer;
    if (!tokenizers.has(key)) tokenizers.set(key, loadTokenizer(key));
    return { tasks: await evaluateTasks(model, tokenizers.get(key)!, built.tasks, { batchSize: cfg.train.batchSize }), taskSpec };
  };
  // A finished run scored on other tasks (or none) is scored again from its final checkpoint, without training.
  const rescore = async (r: RunResult, dir: string): Promise<RunResult> => {
    if (!taskSpec || stableJson(r.taskSpec) === stableJson(taskSpec)) return r;
    const { model } = loadModel(dir);
    try {
      const updated = { ...r, ...(await score(model, r.config)) };
      writeAtomic(join(dir, 'result.json'), `${JSON.stringify(updated, null, 2)}\n`);
      return updated;
    } finally {
      model.dispose();
    }
  };
  const plan = Array.from({ length: spec.seeds }, (_, seed) => cells.map((cell) => ({ cell, seed }))).flat();
  const dirOf = (cell: Cell, seed: number): string => join(o.out, 'cells', cell.folder, `seed-${seed}`);
  const finished = (cell: Cell, seed: number): RunResult | null => {
    const path = join(dirOf(cell, seed), 'result.json');
    if (!existsSync(path)) return null;
    const r = readJson(path) as RunResult;
    return configKey(r.config) === configKey(seededConfig(cell, seed)) ? r : null;
  };
  const runs: AblationRun[] = [];
  let toTrain = plan.filter((p) => finished(p.cell, p.seed) === null).length;
  let spent = 0, trained = 0;
  for (const [i, { cell, seed }] of plan.entries()) {
    const head = `cell ${i + 1}/${plan.length} (${cell.name}, seed ${seed})`;
    const before = finished(cell, seed);
    if (before) {
      const done = await rescore(before, dirOf(cell, seed));
      say(`${head}: finished before, skipped (${done.valBitsPerByte.toFixed(4)} bits/byte${done === before ? '' : ', tasks scored'})`);
      runs.push({ cell, seed, status: 'skipped', result: done });
      continue;
    }
    // The ETA assumes the runs left cost what this session's runs cost on average (same token budget).
    const eta = trained > 0 ? ` ... ETA ${fmtTime((spent / trained) * toTrain)}` : ' ... ETA ?';
    say(`${head}${eta}`);
    const t0 = performance.now();
    const { result, resumed } = await trainRun(cell, seed, dirOf(cell, seed), data, score, o);
    spent += (performance.now() - t0) / 1000;
    trained += 1;
    toTrain -= 1;
    const tasks = (result.tasks ?? []).map((t) => `, ${t.name} ${t.accuracy.toFixed(3)}`).join('');
    say(`  ${resumed ? `resumed at step ${result.resumedFromStep}, ` : ''}val ${result.valBitsPerByte.toFixed(4)} bits/byte${tasks}, ${result.tokensPerSec.toFixed(0)} tokens/s, ${result.wallSeconds.toFixed(1)} s`);
    runs.push({ cell, seed, status: resumed ? 'resumed' : 'trained', result });
    // After every run, so that a stopped grid still has its report so far.
    writeReport(o.out, spec, cells, runs.map((r) => r.result), reportTasks, o.command);
  }
  writeReport(o.out, spec, cells, runs.map((r) => r.result), reportTasks, o.command);
  return runs;
}
