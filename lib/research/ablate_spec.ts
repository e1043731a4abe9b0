/**
 * The grid of `lmforge ablate`: a base run config, axes (config keys with the values to try) and a mode, and
 * the cells it expands to. Every value is checked against the config's keys and types before anything trains.
 */
import { basename, resolve } from 'node:path';

import { LmforgeError, ValueError } from '../errors.js';
import { hint } from '../options.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { resolveGPTConfig } from '../nn/gpt.js';
import { defaultConfig, FLAGS, mergeConfig, resolveOptimizer, type RunConfig } from '../cli/config.js';
import { modelConfigOf, totalStepsOf } from '../cli/train_cmd.js';

export type AblationMode = 'full' | 'one-at-a-time';
export const ABLATION_MODES: readonly AblationMode[] = ['full', 'one-at-a-time'];

/** One axis: a config key ('model.position') and the values its cells take, in order (the first is the baseline's). */
export interface Axis {
  key: string;
  values: unknown[];
}

/** What grid.json holds: everything that decides what the cells train. */
export interface AblationSpec {
  /** The full run config every cell starts from (paths absolute). */
  base: RunConfig;
  axes: Axis[];
  mode: AblationMode;
  /** Each cell trains once per seed 0..seeds-1 (model.seed and train.seed both set to it). */
  seeds: number;
}

export interface Cell {
  /** 'position=rope activation=gelu' (the baseline's values too, so each name says the whole cell). */
  name: string;
  /** Folder under cells/: 'position-rope_activation-gelu'. */
  folder: string;
  /** The value of each axis, by key. */
  values: Record<string, unknown>;
  /** One-at-a-time mode: the axis this cell varies, or null for the baseline; null in full mode. */
  varied: string | null;
  /** The cell's run config before seeds (model.seed and train.seed come from the run's seed). */
  config: RunConfig;
}

/** The token budget of a cell when none is given: small enough for a grid of a few cells on a laptop CPU. */
export const DEFAULT_TOKENS = 262_144;

// Keys that would make the cells unequal in what the comparison holds fixed: the data, the budget, the seeds.
const FIXED: Record<string, string> = {
  'data.files': 'every cell trains on the same text',
  'data.valFraction': 'every cell validates on the same documents',
  'data.splitSeed': 'every cell validates on the same documents',
  'data.cacheDir': 'it does not change a run',
  'train.steps': 'every cell gets the same budget (--tokens or --steps, one value)',
  'train.tokens': 'every cell gets the same budget (--tokens or --steps, one value)',
  'model.seed': 'seeds are set by --seeds',
  'train.seed': 'seeds are set by --seeds',
};

/** Every config key as 'section.key'. */
export function configKeys(): string[] {
  return Object.entries(defaultConfig()).flatMap(([s, keys]) => Object.keys(keys as object).map((k) => `${s}.${k}`));
}

/** The flag name of a config key ('model.seqLen' → 'seq-len'), used in cell names. */
export function flagOf(key: string): string {
  const [section, k] = key.split('.');
  return Object.entries(FLAGS).find(([, [s, kk]]) => s === section && kk === k)![0];
}

/** A config key from its 'section.key' or flag spelling; unknown keys get a suggestion. */
export function axisKey(name: string, where: string): string {
  const keys = configKeys();
  if (keys.includes(name)) return name;
  const flag = FLAGS[name];
  if (flag) return `${flag[0]}.${flag[1]}`;
  throw new ValueError('ablate', `unknown config key '${name}' in ${where}${hint(name, [...keys, ...Object.keys(FLAGS)], `expected 'section.key' such as model.position, or a flag name such as position`)}`);
}

/** Refuses an axis over a key the comparison holds fixed. */
export function checkAxisKey(key: string, where: string): void {
  const why = FIXED[key];
  if (why !== undefined) throw new ValueError('ablate', `${where}: ${key} cannot vary across cells (${why})`);
}

/** The config with one key set, checked by type (mergeConfig's checks). */
export function withValue(cfg: RunConfig, key: string, value: unknown, where: string): RunConfig {
  const [section, k] = key.split('.') as [string, string];
  return mergeConfig(cfg, { [section]: { [k]: value } }, where);
}

/** Tokenizer paths absolute, as the base config's (absolutePaths), so a grid reruns from any folder. */
export function absoluteValue(key: string, value: unknown): unknown {
  return key === 'data.tokenizer' && typeof value === 'string' && value !== 'byte' ? resolve(value) : value;
}

function label(key: string, v: unknown): string {
  if (key === 'data.tokenizer' && typeof v === 'string' && v !== 'byte') return basename(v).replace(/\.json$/, '');
  return String(v);
}

/** The cells of a spec: the cartesian product (first axis outermost), or the baseline and each axis varied alone. */
export function gridCells(spec: AblationSpec): Cell[] {
  const first = Object.fromEntries(spec.axes.map((a) => [a.key, a.values[0]]));
  const combos: { values: Record<string, unknown>; varied: string | null }[] = [];
  if (spec.mode === 'full') {
    let all: Record<string, unknown>[] = [{}];
    for (const a of spec.axes) all = all.flatMap((c) => a.values.map((v) => ({ ...c, [a.key]: v })));
    for (const values of all) combos.push({ values, varied: null });
  } else {
    combos.push({ values: first, varied: null });
    for (const a of spec.axes) for (const v of a.values.slice(1)) combos.push({ values: { ...first, [a.key]: v }, varied: a.key });
  }
  const seen = new Map<string, number>();
  return combos.map(({ values, varied }) => {
    let config = spec.base;
    for (const [k, v] of Object.entries(values)) config = withValue(config, k, v, `grid axis ${k}`);
    const parts = Object.entries(values).map(([k, v]) => [flagOf(k), label(k, v)] as const);
    const name = parts.length ? parts.map(([f, v]) => `${f}=${v}`).join(' ') : 'base';
    let folder = parts.length ? parts.map(([f, v]) => `${f}-${v}`.replace(/[^A-Za-z0-9.+-]/g, '_')).join('_') : 'base';
    // Two values with one label (tokenizers named alike in different folders) still get folders of their own.
    const n = seen.get(folder) ?? 0;
    seen.set(folder, n + 1);
    if (n > 0) folder = `${folder}~${n + 1}`;
    return { name, folder, values, varied, config };
  });
}

/** The run config of a cell for one seed. */
export function seededConfig(cell: Cell, seed: number): RunConfig {
  const cfg = structuredClone(cell.config);
  cfg.model.seed = seed;
  cfg.train.seed = seed;
  return cfg;
}

/**
 * Checks every cell before any trains: optimizer settings (resolveOptimizer) and model shape (resolveGPTConfig)
 * with the cell's tokenizer, so that a bad value in the last cell does not surface after an hour of training.
 */
export function checkCells(cells: readonly Cell[]): void {
  const vocab = new Map<string, number>();
  for (const c of cells) {
    try {
      const cfg = c.config;
      const tok = cfg.data.tokenizer;
      if (!vocab.has(tok)) vocab.set(tok, loadTokenizer(tok).vocabSize);
      resolveOptimizer(cfg.optimizer, totalStepsOf(cfg));
      resolveGPTConfig(modelConfigOf(cfg, vocab.get(tok)!));
    } catch (e) {
      if (!(e instanceof LmforgeError)) throw e;
      throw new ValueError('ablate', `cell '${c.name}': ${e.message}`);
    }
  }
}

/** The parts of a grid file: { "base": {...}, "axes": { key: [values] }, "mode": ..., "seeds": N }. */
export interface GridFile {
  base: unknown;
  axes: Axis[];
  mode?: AblationMode;
  seeds?: number;
}

const FILE_KEYS = ['base', 'axes', 'mode', 'seeds'];

/** Reads the JSON of a grid file, checking its shape (the base's keys and types are checked when merged). */
export function parseGridFile(json: unknown, source: string): GridFile {
  const bad = (msg: string): never => {
    throw new ValueError('ablate', `${source}: ${msg}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('must hold a JSON object { "base": {...}, "axes": {...} }');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FILE_KEYS.includes(k)) bad(`unknown key '${k}'${hint(k, FILE_KEYS, `expected ${FILE_KEYS.join(', ')}`)}`);
  const base = o.base ?? {};
  if (typeof base !== 'object' || base === null || Array.isArray(base)) bad(`'base' must be a run config object, got ${JSON.stringify(base)}`);
  const axesIn = o.axes ?? {};
  if (typeof axesIn !== 'object' || axesIn === null || Array.isArray(axesIn)) bad(`'axes' must be an object of key: [values], got ${JSON.stringify(axesIn)}`);
  const axes: Axis[] = [];
  for (const [name, values] of Object.entries(axesIn as Record<string, unknown>)) {
    const key = axisKey(name, `${source} axes`);
    checkAxisKey(key, `${source} axes`);
    if (!Array.isArray(values) || values.length === 0) bad(`axes.${name} must be a non-empty array of values, got ${JSON.stringify(values)}`);
    if (axes.some((a) => a.key === key)) bad(`axes name ${key} twice`);
    axes.push({ key, values: values as unknown[] });
  }
  const mode = o.mode;
  if (mode !== undefined && !ABLATION_MODES.includes(mode as AblationMode)) bad(`'mode' must be ${ABLATION_MODES.join(' or ')}, got ${JSON.stringify(mode)}`);
  const seeds = o.seeds;
  if (seeds !== undefined && !(typeof seeds === 'number' && Number.isInteger(seeds) && seeds >= 1)) bad(`'seeds' must be a positive integer, got ${JSON.stringify(seeds)}`);
  return { base, axes, ...(mode === undefined ? {} : { mode: mode as AblationMode }), ...(seeds === undefined ? {} : { seeds: seeds as number }) };
}

/** Checks a base config's keys with suggestions (mergeConfig then checks the types). */
export function checkBaseKeys(partial: unknown, source: string): void {
  if (typeof partial !== 'object' || partial === null) return; // mergeConfig says what is wrong
  const keys = configKeys();
  for (const [section, values] of Object.entries(partial)) {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) continue;
    for (const k of Object.keys(values)) {
      const key = `${section}.${k}`;
      if (!keys.includes(key)) throw new ValueError('ablate', `unknown config key '${key}' in ${source}${hint(key, keys, 'see lmforge train --help for the keys')}`);
    }
  }
}

/**
 * Checks the axes' values against the base (types; each axis at least two distinct values is not required:
 * one value is a fixed setting) and makes tokenizer paths absolute.
 */
export function normalizeAxes(base: RunConfig, axes: readonly Axis[]): Axis[] {
  return axes.map((a) => {
    const values = a.values.map((v) => absoluteValue(a.key, v));
    values.forEach((v, i) => withValue(base, a.key, v, `grid axis ${a.key}[${i}]`));
    const dup = values.find((v, i) => values.findIndex((w) => JSON.stringify(w) === JSON.stringify(v)) !== i);
    if (dup !== undefined) throw new ValueError('ablate', `grid axis ${a.key} lists ${JSON.stringify(dup)} twice`);
    return { key: a.key, values };
  });
}
