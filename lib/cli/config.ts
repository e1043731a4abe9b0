/**
 * The `lmforge train` configuration: defaults, a JSON file (--config) and flags, merged in that order,
 * every key checked by name and type. The resolved config is stored in each checkpoint, so `--resume`,
 * `eval` and `sample` rebuild the same run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

import { ValueError } from '../errors.js';

export interface RunConfig {
  model: {
    layers: number; dim: number; heads: number; kvHeads: number | null; seqLen: number; position: string; activation: string; norm: string;
    mlpHidden: number | null; dropout: number; bias: boolean; tieEmbeddings: boolean; initStd: number; ropeBase: number; seed: number;
    precision: string;
  };
  optimizer: {
    name: string; lr: number; weightDecay: number; beta1: number; beta2: number; eps: number; momentum: number;
    warmupSteps: number; minLr: number; decay: string; clip: number;
  };
  data: { files: string[]; tokenizer: string; valFraction: number; splitSeed: number; cacheDir: string | null };
  train: {
    steps: number | null; tokens: number | null; batchSize: number; gradAccum: number; evalEvery: number; evalBatches: number; seed: number;
    threads: number | null; checkpointEvery: number; sampleTokens: number; samplePrompt: string; temperature: number; topK: number | null;
  };
}

/** `lmforge train` with no arguments: a small modern GPT on the Brown corpus, about 2–3 minutes on 2 cores. */
export function defaultConfig(): RunConfig {
  return {
    model: {
      layers: 4, dim: 128, heads: 4, kvHeads: null, seqLen: 128, position: 'rope', activation: 'swiglu', norm: 'rmsnorm',
      mlpHidden: null, dropout: 0, bias: false, tieEmbeddings: true, initStd: 0.02, ropeBase: 10000, seed: 0, precision: 'fp32',
    },
    optimizer: { name: 'adamw', lr: 3e-3, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, momentum: 0.9, warmupSteps: 50, minLr: 3e-4, decay: 'cosine', clip: 1 },
    data: { files: [], tokenizer: 'byte', valFraction: 0.05, splitSeed: 0, cacheDir: null },
    train: {
      steps: 900, tokens: null, batchSize: 16, gradAccum: 1, evalEvery: 150, evalBatches: 8, seed: 0, threads: null, checkpointEvery: 300,
      sampleTokens: 96, samplePrompt: 'The ', temperature: 0.8, topK: 40,
    },
  };
}

type Kind = 'int' | 'number' | 'string' | 'bool' | 'strings' | 'int?' | 'string?';

// Every key's type; `?` kinds also take null (meaning "the default that depends on other fields").
const KINDS: { [S in keyof RunConfig]: Record<keyof RunConfig[S], Kind> } = {
  model: {
    layers: 'int', dim: 'int', heads: 'int', kvHeads: 'int?', seqLen: 'int', position: 'string', activation: 'string', norm: 'string',
    mlpHidden: 'int?', dropout: 'number', bias: 'bool', tieEmbeddings: 'bool', initStd: 'number', ropeBase: 'number', seed: 'int',
    precision: 'string',
  },
  optimizer: {
    name: 'string', lr: 'number', weightDecay: 'number', beta1: 'number', beta2: 'number', eps: 'number', momentum: 'number',
    warmupSteps: 'int', minLr: 'number', decay: 'string', clip: 'number',
  },
  data: { files: 'strings', tokenizer: 'string', valFraction: 'number', splitSeed: 'int', cacheDir: 'string?' },
  train: {
    steps: 'int?', tokens: 'int?', batchSize: 'int', gradAccum: 'int', evalEvery: 'int', evalBatches: 'int', seed: 'int', threads: 'int?',
    checkpointEvery: 'int', sampleTokens: 'int', samplePrompt: 'string', temperature: 'number', topK: 'int?',
  },
};

/** Command-line flags: --seq-len sets model.seqLen, and so on. */
export const FLAGS: Record<string, [keyof RunConfig, string]> = {};
for (const [section, keys] of Object.entries(KINDS)) {
  for (const key of Object.keys(keys)) {
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    // A few keys read better with their section in the flag; the rest are unique already.
    const name = { name: 'optimizer', seed: section === 'model' ? 'model-seed' : 'seed', files: 'data', tokens: 'tokens', splitSeed: 'split-seed' }[key] ?? flag;
    FLAGS[name] = [section as keyof RunConfig, key];
  }
}

function check(where: string, kind: Kind, v: unknown): unknown {
  const bad = (want: string): never => {
    throw new ValueError('config', `${where} must be ${want}, got ${JSON.stringify(v)}`);
  };
  if (v === null && kind.endsWith('?')) return null;
  switch (kind) {
    case 'int':
    case 'int?':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : bad('a non-negative integer');
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : bad('a finite number');
    case 'string':
    case 'string?':
      return typeof v === 'string' ? v : bad('a string');
    case 'bool':
      return typeof v === 'boolean' ? v : bad('true or false');
    case 'strings':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : bad('an array of strings');
  }
}

/** Merges a partial config (from a file or a checkpoint) into `base`, rejecting unknown keys and bad types. */
export function mergeConfig(base: RunConfig, partial: unknown, source: string): RunConfig {
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) throw new ValueError('config', `${source} must hold a JSON object`);
  const out = structuredClone(base);
  for (const [section, values] of Object.entries(partial as Record<string, unknown>)) {
    if (!(section in KINDS)) throw new ValueError('config', `unknown key '${section}' in ${source} (expected one of: ${Object.keys(KINDS).join(', ')})`);
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new ValueError('config', `'${section}' in ${source} must be an object`);
    const kinds = KINDS[section as keyof RunConfig] as Record<string, Kind>;
    for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
      if (!(k in kinds)) throw new ValueError('config', `unknown key '${section}.${k}' in ${source} (expected one of: ${Object.keys(kinds).join(', ')})`);
      (out[section as keyof RunConfig] as Record<string, unknown>)[k] = check(`${section}.${k} in ${source}`, kinds[k]!, v);
    }
  }
  return out;
}

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ValueError('config', `cannot read config file '${path}'`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValueError('config', `${path} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Applies a flag's string value to the config, converting it to the key's type. */
export function applyFlag(cfg: RunConfig, flag: string, raw: string): void {
  const [section, key] = FLAGS[flag]!;
  const kind = (KINDS[section] as Record<string, Kind>)[key]!;
  let v: unknown = raw;
  if (kind.startsWith('int') || kind === 'number') {
    v = raw === 'null' && kind.endsWith('?') ? null : Number(raw);
    if (typeof v === 'number' && Number.isNaN(v)) throw new ValueError('config', `--${flag} must be a number, got '${raw}'`);
  } else if (kind === 'bool') {
    if (raw !== 'true' && raw !== 'false') throw new ValueError('config', `--${flag} must be true or false, got '${raw}'`);
    v = raw === 'true';
  } else if (kind === 'strings') {
    v = [...((cfg[section] as unknown as Record<string, string[]>)[key] ?? []), raw];
  }
  (cfg[section] as Record<string, unknown>)[key] = check(`--${flag}`, kind, v);
}

/**
 * The paths of a config: data.files, data.tokenizer unless 'byte', data.cacheDir. A run stores them
 * absolute (resolved against the working directory it started in), so a resume, eval or sample from any
 * folder reads the same files; and it records them relative to its run folder too (RunPaths, kept in the
 * checkpoint), which are used instead when an absolute path no longer exists, e.g. after the run folder
 * and its data moved together to another machine.
 */
export interface RunPaths {
  files: string[];
  tokenizer: string | null;
}

/** Resolves the config's relative paths against the working directory, in place. */
export function absolutePaths(cfg: RunConfig): void {
  cfg.data.files = cfg.data.files.map((f) => resolve(f));
  if (cfg.data.tokenizer !== 'byte') cfg.data.tokenizer = resolve(cfg.data.tokenizer);
  if (cfg.data.cacheDir !== null) cfg.data.cacheDir = resolve(cfg.data.cacheDir);
}

/** The config's data paths relative to `runDir` (the config's paths are absolute). */
export function runPaths(cfg: RunConfig, runDir: string): RunPaths {
  return { files: cfg.data.files.map((f) => relative(runDir, f)), tokenizer: cfg.data.tokenizer === 'byte' ? null : relative(runDir, cfg.data.tokenizer) };
}

/**
 * The paths of a config read back from a checkpoint of the run folder `runDir`: absolute ones as stored,
 * unless missing while the run-relative spelling (`saved`, absent in older checkpoints) exists; relative
 * ones (older checkpoints) against the working directory, as those runs did.
 */
export function restorePaths(cfg: RunConfig, runDir: string | null, saved: unknown): void {
  const s = saved as Partial<RunPaths> | undefined;
  const pick = (stored: string, rel: string | null | undefined): string => {
    const abs = resolve(stored);
    if (existsSync(abs) || runDir === null || typeof rel !== 'string') return abs;
    const moved = resolve(runDir, rel);
    return existsSync(moved) ? moved : abs;
  };
  cfg.data.files = cfg.data.files.map((f, i) => pick(f, Array.isArray(s?.files) ? s.files[i] : undefined));
  if (cfg.data.tokenizer !== 'byte') cfg.data.tokenizer = pick(cfg.data.tokenizer, s?.tokenizer);
  if (cfg.data.cacheDir !== null) cfg.data.cacheDir = resolve(cfg.data.cacheDir);
}
