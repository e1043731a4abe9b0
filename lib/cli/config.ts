/**
 * The `lmforge train` configuration: defaults, a JSON file (--config) and flags, merged in that order,
 * every key checked by name and type. The resolved config is stored in each checkpoint, so `--resume`,
 * `eval` and `sample` rebuild the same run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

import { ValueError } from '../errors.js';
import { NORMS } from '../nn/block.js';
import { POSITION_KINDS } from '../nn/gpt.js';
import { MLP_ACTIVATIONS } from '../nn/mlp.js';
import type { Option } from './args.js';

export interface RunConfig {
  model: {
    layers: number; dim: number; heads: number; kvHeads: number | null; seqLen: number; position: string; activation: string; norm: string;
    mlpHidden: number | null; dropout: number; bias: boolean; tieEmbeddings: boolean; initStd: number; ropeBase: number; seed: number;
    precision: string;
  };
  optimizer: {
    // null: the optimizer's own default (OPTIMIZER_DEFAULTS; warmupSteps: warmupDefault), resolved by resolveOptimizer.
    name: string; lr: number | null; weightDecay: number | null; beta1: number | null; beta2: number | null; eps: number; momentum: number | null;
    warmupSteps: number | null; minLr: number | null; decay: string; clip: number;
  };
  data: { files: string[]; tokenizer: string; valFraction: number; splitSeed: number; cacheDir: string | null };
  train: {
    steps: number | null; tokens: number | null; batchSize: number; gradAccum: number; evalEvery: number; evalBatches: number; seed: number;
    threads: number | null; checkpointEvery: number; docMask: boolean; sampleTokens: number; samplePrompt: string; temperature: number; topK: number | null;
    zero: number; bucketMb: number;
  };
}

/** `lmforge train` with no arguments: a small modern GPT on the Brown corpus, about 2–3 minutes on 2 cores. */
export function defaultConfig(): RunConfig {
  return {
    model: {
      layers: 4, dim: 128, heads: 4, kvHeads: null, seqLen: 128, position: 'rope', activation: 'swiglu', norm: 'rmsnorm',
      mlpHidden: null, dropout: 0, bias: false, tieEmbeddings: true, initStd: 0.02, ropeBase: 10000, seed: 0, precision: 'fp32',
    },
    optimizer: { name: 'adamw', lr: null, weightDecay: null, beta1: null, beta2: null, eps: 1e-8, momentum: null, warmupSteps: null, minLr: null, decay: 'cosine', clip: 1 },
    data: { files: [], tokenizer: 'byte', valFraction: 0.05, splitSeed: 0, cacheDir: null },
    train: {
      steps: 900, tokens: null, batchSize: 16, gradAccum: 1, evalEvery: 150, evalBatches: 8, seed: 0, threads: null, checkpointEvery: 300, docMask: false,
      sampleTokens: 96, samplePrompt: 'The ', temperature: 0.8, topK: 40, zero: 0, bucketMb: 25,
    },
  };
}

type Kind = 'int' | 'number' | 'string' | 'bool' | 'strings' | 'int?' | 'number?' | 'string?';

/** A config key: its type, its help, and (display only: the model and the optimizer check the values) its values. */
interface Key {
  kind: Kind;
  help: string;
  arg?: string;
  /** What --help says the default is when it is null (a default that depends on other fields). */
  defaultText?: string;
}

/** Optimizer names (optimizer.name, --optimizer). */
export const OPTIMIZERS = ['adamw', 'adam', 'adamw8bit', 'lion', 'sophia', 'sgd'];

/** The optimizer keys that default per optimizer. */
export interface OptimizerDefaults {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  momentum: number;
}

/**
 * Each optimizer's defaults for the keys left null, the one table the CLI reads them from. A value given
 * in --config or as a flag always wins. AdamW: this project's tuned default for small GPTs (lr 3e-3) with
 * GPT-3's betas and decay. Adam: the same without decay (Adam's decay is L2 in the gradient, which an adaptive
 * step rescales: 0.1 of it stalls training). Lion (Chen et al. 2023): lr 3× smaller and decay 3× larger than
 * AdamW's, keeping lr·wd, the effective decay, the same; β (0.9, 0.99). SophiaG (Liu et al. 2023): β
 * (0.965, 0.99), decay 0.1, ρ 0.04 and k 10 (SophiaG's own); lr as AdamW's / 3, since its update is a
 * clipped sign step like Lion's. SGD: momentum 0.9 and a rate for gradients clipped to norm 1, no decay.
 * momentum is SGD's only.
 */
export const OPTIMIZER_DEFAULTS: Record<string, OptimizerDefaults> = {
  adamw: { lr: 3e-3, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, momentum: 0 },
  adam: { lr: 3e-3, weightDecay: 0, beta1: 0.9, beta2: 0.95, momentum: 0 },
  adamw8bit: { lr: 3e-3, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, momentum: 0 },
  lion: { lr: 1e-3, weightDecay: 0.3, beta1: 0.9, beta2: 0.99, momentum: 0 },
  sophia: { lr: 1e-3, weightDecay: 0.1, beta1: 0.965, beta2: 0.99, momentum: 0 },
  sgd: { lr: 0.3, weightDecay: 0, beta1: 0.9, beta2: 0.95, momentum: 0.9 },
};

/** Warm-up when optimizer.warmupSteps is null: 50 steps, but at most a tenth of the run (short runs must decay too). */
export const warmupDefault = (totalSteps: number): number => Math.min(50, Math.floor(totalSteps / 10));

/** The optimizer section with every default filled in. */
export type ResolvedOptimizer = { [K in keyof RunConfig['optimizer']]: Exclude<RunConfig['optimizer'][K], null> };

/**
 * Fills the optimizer keys left null with the optimizer's defaults (minLr: lr / 10) for a run of
 * `totalSteps`. A warm-up given explicitly is kept, but refused when it fills the whole run (the rate would
 * never decay).
 */
export function resolveOptimizer(o: RunConfig['optimizer'], totalSteps: number): ResolvedOptimizer {
  const d = OPTIMIZER_DEFAULTS[o.name];
  if (d === undefined) throw new ValueError('config', `unknown optimizer.name '${o.name}' (expected one of: ${OPTIMIZERS.join(', ')})`);
  const lr = o.lr ?? d.lr;
  const warmupSteps = o.warmupSteps ?? warmupDefault(totalSteps);
  if (o.decay !== 'constant' && warmupSteps >= totalSteps)
    throw new ValueError('config', `optimizer.warmupSteps ${warmupSteps} is not below the run's ${totalSteps} steps: the learning rate would never decay (use fewer warm-up steps, or decay 'constant')`);
  return {
    ...o, lr, weightDecay: o.weightDecay ?? d.weightDecay, beta1: o.beta1 ?? d.beta1, beta2: o.beta2 ?? d.beta2, momentum: o.momentum ?? d.momentum,
    warmupSteps, minLr: o.minLr ?? Number((lr / 10).toPrecision(12)), // 3e-4, not 0.00030000000000000003
  };
}

// Every key of the config file, once: its type and its help. The flags are derived from it (FLAGS below), so
// a key and its flag cannot drift apart. `?` kinds also take null.
const KEYS: { [S in keyof RunConfig]: Record<keyof RunConfig[S], Key> } = {
  model: {
    layers: { kind: 'int', help: 'transformer blocks' },
    dim: { kind: 'int', help: 'model width' },
    heads: { kind: 'int', help: 'attention heads (they divide dim)' },
    kvHeads: { kind: 'int?', help: 'key/value heads, fewer for grouped-query attention', defaultText: 'heads' },
    seqLen: { kind: 'int', help: 'context length in tokens' },
    position: { kind: 'string', help: 'positional encoding', arg: POSITION_KINDS.join('|') },
    activation: { kind: 'string', help: 'MLP activation (glu, geglu, swiglu, reglu are gated)', arg: MLP_ACTIVATIONS.join('|') },
    norm: { kind: 'string', help: 'normalisation', arg: NORMS.join('|') },
    mlpHidden: { kind: 'int?', help: 'MLP width', defaultText: '4·dim, or 8·dim/3 rounded up to a multiple of 64 when gated' },
    dropout: { kind: 'number', help: 'dropout on the embeddings and each residual branch' },
    bias: { kind: 'bool', help: 'biases in the projections and norms' },
    tieEmbeddings: { kind: 'bool', help: 'the LM head reuses the token embedding' },
    initStd: { kind: 'number', help: 'init std of weights and embeddings' },
    ropeBase: { kind: 'number', help: 'RoPE base' },
    seed: { kind: 'int', help: 'seed of the initial weights and the dropout masks' },
    precision: { kind: 'string', help: 'compute precision (bf16: bfloat16 compute, float32 master weights)', arg: 'fp32|bf16' },
  },
  optimizer: {
    name: { kind: 'string', help: 'optimizer (sophia keeps its own betas and rho)', arg: OPTIMIZERS.join('|') },
    lr: { kind: 'number?', help: 'peak learning rate', defaultText: 'per optimizer' },
    weightDecay: { kind: 'number?', help: 'weight decay (decoupled; L2 for adam and sgd; norms, biases and embeddings are not decayed)', defaultText: 'per optimizer' },
    beta1: { kind: 'number?', help: 'first-moment decay (Adam, Lion, Sophia)', defaultText: 'per optimizer' },
    beta2: { kind: 'number?', help: 'second-moment decay (Adam), momentum decay (Lion), Hessian EMA (Sophia)', defaultText: 'per optimizer' },
    eps: { kind: 'number', help: "Adam's epsilon" },
    momentum: { kind: 'number?', help: "SGD's momentum", defaultText: '0.9' },
    warmupSteps: { kind: 'int?', help: 'linear warm-up steps (below the run\'s steps)', defaultText: '50, at most a tenth of the steps' },
    minLr: { kind: 'number?', help: 'learning rate at the end of the decay', defaultText: 'lr/10' },
    decay: { kind: 'string', help: 'schedule after the warm-up', arg: 'cosine|linear|constant' },
    clip: { kind: 'number', help: 'clip the total gradient norm to this (0: off)' },
  },
  data: {
    files: { kind: 'strings', help: 'training text, like the positional arguments', arg: 'FILE', defaultText: 'the bundled Brown corpus' },
    tokenizer: { kind: 'string', help: 'tokenizer', arg: 'byte|PATH/tokenizer.json' },
    valFraction: { kind: 'number', help: 'share of the documents held out for validation' },
    splitSeed: { kind: 'int', help: 'seed of the train/validation split' },
    cacheDir: { kind: 'string?', help: 'tokenized data cache', arg: 'DIR', defaultText: '~/.cache/lmforge/tokens' },
  },
  train: {
    steps: { kind: 'int?', help: 'optimizer steps (the budget, or --tokens)' },
    tokens: { kind: 'int?', help: 'the budget in tokens instead of steps', defaultText: 'none' },
    batchSize: { kind: 'int', help: 'sequences per micro-batch' },
    gradAccum: { kind: 'int', help: 'micro-batches per step' },
    evalEvery: { kind: 'int', help: 'validate every N steps (0: at the end only)' },
    evalBatches: { kind: 'int', help: 'batches per validation' },
    seed: { kind: 'int', help: 'seed of the batch sampler' },
    threads: { kind: 'int?', help: 'CPU threads', defaultText: 'one per core' },
    checkpointEvery: { kind: 'int', help: 'checkpoint every N steps (0: at the end only)' },
    docMask: { kind: 'bool', help: 'attention stays inside each document of the packed windows (off: it crosses document ends)' },
    sampleTokens: { kind: 'int', help: 'tokens sampled after training (0: no sample)' },
    samplePrompt: { kind: 'string', help: 'prompt of that sample' },
    temperature: { kind: 'number', help: 'temperature of that sample' },
    topK: { kind: 'int?', help: 'top-k of that sample (null: off)' },
    zero: { kind: 'int', help: 'with several ranks: 1 splits the optimizer state across them (ZeRO stage 1); one process ignores it', arg: '0|1' },
    bucketMb: { kind: 'number', help: 'with several ranks: size of the gradient all-reduce buckets in MiB' },
  },
};

/** Command-line flags: --seq-len sets model.seqLen, and so on. */
export const FLAGS: Record<string, [keyof RunConfig, string]> = {};
for (const [section, keys] of Object.entries(KEYS)) {
  for (const key of Object.keys(keys)) {
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    // A few keys read better with their section in the flag; the rest are unique already.
    const name = { name: 'optimizer', seed: section === 'model' ? 'model-seed' : 'seed', files: 'data', tokens: 'tokens', splitSeed: 'split-seed' }[key] ?? flag;
    FLAGS[name] = [section as keyof RunConfig, key];
  }
}

const kindOf = (section: keyof RunConfig, key: string): Kind => (KEYS[section] as Record<string, Key>)[key]!.kind;

/**
 * The flags as options of `lmforge train`'s table, with the types, defaults and help of their keys. Flag
 * values are checked as the flag's type here (args.ts) and again as the key's (check, below) when applied.
 */
export function configOptions(): Option[] {
  const defaults = defaultConfig();
  return Object.entries(FLAGS).map(([name, [section, key]]) => {
    const k = (KEYS[section] as Record<string, Key>)[key]!;
    const d = (defaults[section] as Record<string, unknown>)[key];
    const type = ({ int: 'int', 'int?': 'int', number: 'number', 'number?': 'number', bool: 'bool', string: 'string', 'string?': 'string', strings: 'string' } as const)[k.kind];
    return {
      name, type, help: `${k.help} [${section}.${key}]`, section: `${section}:`,
      ...(k.kind.startsWith('int') ? { min: 0 } : {}),
      ...(k.kind === 'int?' || k.kind === 'number?' ? { nullable: true } : {}),
      ...(k.kind === 'strings' ? { repeat: true } : {}),
      ...(k.arg === undefined ? {} : { arg: k.arg }),
      ...(k.defaultText !== undefined ? { defaultText: k.defaultText } : typeof d === 'number' || typeof d === 'string' || typeof d === 'boolean' ? { defaultText: typeof d === 'string' && !/^\S+$/.test(d) ? JSON.stringify(d) : String(d) } : {}),
    };
  });
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
    case 'number?':
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
    // A run's config.json also records its size (parameters, optimizer state): derived, not a setting.
    if (section === 'stats') continue;
    if (!(section in KEYS)) throw new ValueError('config', `unknown key '${section}' in ${source} (expected one of: ${Object.keys(KEYS).join(', ')})`);
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new ValueError('config', `'${section}' in ${source} must be an object`);
    const keys = KEYS[section as keyof RunConfig] as Record<string, Key>;
    for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
      if (!(k in keys)) throw new ValueError('config', `unknown key '${section}.${k}' in ${source} (expected one of: ${Object.keys(keys).join(', ')})`);
      (out[section as keyof RunConfig] as Record<string, unknown>)[k] = check(`${section}.${k} in ${source}`, keys[k]!.kind, v);
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

/** Applies a flag's value, already converted by the parser (args.ts), to the config; --data adds to data.files. */
export function applyFlag(cfg: RunConfig, flag: string, value: unknown): void {
  const [section, key] = FLAGS[flag]!;
  const kind = kindOf(section, key);
  const v = kind === 'strings' ? [...((cfg[section] as unknown as Record<string, string[]>)[key] ?? []), ...(value as string[])] : value;
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
