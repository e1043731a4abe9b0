/**
 * Checkpoints: one folder per checkpoint holding model.safetensors (weights, with the model config in
 * `__metadata__`), optimizer.safetensors (the optimizer's stateDict; 8-bit codes as U8) and trainer.json
 * (step, tokens, schedule, RNG, sampler position, the run's config), plus a `latest` file naming the
 * newest folder.
 *
 * Written so a crash at any moment leaves the previous checkpoint loadable: the files go into a
 * temporary folder, each is fsynced, the folder is renamed into place, and only then is `latest`
 * replaced (itself through a temporary file, fsync and rename). A reader follows `latest`, so it never
 * sees a half-written folder. The temporaries of a writer that was killed are removed by the next save
 * into the same folder (and by a Trainer that starts there): see cleanStaleTemporaries.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { ArgumentTypeError, fromFsError, ValueError } from '../errors.js';
import { Module, type StateDict } from '../nn/module.js';
import { checkInt, checkObject, checkString, describe } from '../ops/util.js';
import { GPT, type GPTConfig } from '../nn/gpt.js';
import { Optimizer, type OptimizerStateDict, type SavedTensor } from '../optim/optimizer.js';
import type { RngState } from '../ops/creation.js';
import type { SamplerState } from '../data/dataset.js';
import type { TokenizerSpec } from '../data/tokenizer.js';
import { fromSafeTensor, readSafetensors, toSafeTensor, writeSafetensorsFile, type SafeTensor } from './safetensors.js';

/** trainer.json: everything besides tensors that a resumed run needs. */
export interface TrainerState {
  format: 'lmforge-checkpoint';
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  /** Training tokens consumed. */
  tokens: number;
  /** Seconds of training so far (for tokens/s across resumes). */
  elapsed: number;
  rng: RngState;
  sampler: SamplerState;
  /** Masks drawn so far by each seeded Dropout module, by module path (absent in older checkpoints). */
  dropoutCalls?: Record<string, number>;
  /** The learning-rate schedule's description (its options), when the trainer was given one. */
  schedule?: Record<string, unknown>;
  tokenizer?: TokenizerSpec;
  /** Free-form: the CLI stores its resolved config here, so `--resume`, `eval` and `sample` can rebuild the run. */
  run?: Record<string, unknown>;
  /** Ranks of the data-parallel run that wrote it (for the reader: it resumes on any number). */
  worldSize?: number;
}

export interface LoadedCheckpoint {
  dir: string;
  modelConfig: GPTConfig;
  weights: StateDict;
  optimizer: OptimizerStateDict | null;
  trainer: TrainerState;
}

const MODEL = 'model.safetensors';
const OPTIM = 'optimizer.safetensors';
const STATE = 'trainer.json';
const LATEST = 'latest';

function fsyncPath(path: string): void {
  // A folder's fsync makes the renames inside it durable; some file systems refuse it, which is harmless.
  try {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here */
  }
}

function writeDurable(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function optimizerTensors(sd: OptimizerStateDict): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, SafeTensor>();
  const layout: { shape: number[]; keys: { name: string; dtype: string; shape: number[] }[] }[][] = [];
  sd.state.forEach((group, gi) => {
    layout.push(
      group.map((p, pi) => ({
        shape: p.shape,
        keys: Object.entries(p.tensors).map(([k, t]) => {
          const data = t.data;
          const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          if (t.dtype !== 'float32' && t.dtype !== 'uint8') throw new ValueError('saveCheckpoint', `optimizer state '${k}' has dtype ${t.dtype}; only float32 and uint8 are saved`);
          tensors.set(`${gi}.${pi}.${k}`, { dtype: t.dtype === 'uint8' ? 'U8' : 'F32', shape: t.shape, bytes: new Uint8Array(bytes) });
          return { name: k, dtype: t.dtype, shape: t.shape };
        }),
      })),
    );
  });
  const metadata = {
    format: 'lmforge-optimizer',
    optimizer: sd.optimizer,
    step: String(sd.step),
    skippedSteps: String(sd.skippedSteps),
    groups: JSON.stringify(sd.groups),
    layout: JSON.stringify(layout),
  };
  return { tensors, metadata };
}

function optimizerFromFile(path: string): OptimizerStateDict {
  const f = readSafetensors(path);
  const m = f.metadata;
  if (m.format !== 'lmforge-optimizer') throw new ValueError('loadCheckpoint', `${path} is not an lmforge optimizer file (metadata format ${JSON.stringify(m.format)})`);
  const layout = JSON.parse(m.layout ?? '[]') as { shape: number[]; keys: { name: string; dtype: string; shape: number[] }[] }[][];
  const state = layout.map((group, gi) =>
    group.map((p, pi) => {
      const tensors: Record<string, SavedTensor> = {};
      for (const k of p.keys) {
        const t = f.tensors.get(`${gi}.${pi}.${k.name}`);
        if (!t) throw new ValueError('loadCheckpoint', `${path} lacks tensor '${gi}.${pi}.${k.name}'`);
        const raw = new Uint8Array(t.bytes).buffer;
        tensors[k.name] = { dtype: k.dtype === 'uint8' ? 'uint8' : 'float32', shape: t.shape, data: k.dtype === 'uint8' ? new Uint8Array(raw) : new Float32Array(raw) };
      }
      return { shape: p.shape, tensors };
    }),
  );
  return {
    optimizer: m.optimizer ?? '',
    step: Number(m.step),
    skippedSteps: Number(m.skippedSteps),
    groups: JSON.parse(m.groups ?? '[]') as Record<string, unknown>[],
    state,
  };
}

export interface SaveCheckpointOptions {
  model: Module & { config?: unknown };
  optimizer?: Optimizer<never> | Optimizer | null;
  /** The optimizer's state when no one Optimizer holds it all (ZeRO: gathered from the ranks); written instead of optimizer's. */
  optimizerState?: OptimizerStateDict;
  state: TrainerState;
  /** Older step folders beyond this many are deleted after `latest` moved on (default 2; 0 keeps all). */
  keep?: number;
}

/** The folder name of step n: zero-padded so that names sort by step. */
export function checkpointName(step: number): string {
  checkInt('checkpointName', 'step', step, 0, Number.MAX_SAFE_INTEGER);
  return `step-${String(step).padStart(8, '0')}`;
}

// What saveCheckpoint writes before the renames: `.tmp-step-N-PID/`, `.old-step-N-PID/`, `.latest.tmp-PID`.
const TEMPORARY = /^\.(?:tmp-step-\d+|old-step-\d+|latest\.tmp)-(\d+)$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files and folders that a killed saveCheckpoint left in the checkpoint folder
 * `root` (only there: nothing above or beside it). Those of a process still alive are kept, since it may
 * be writing them; this process's own are stale whenever it is not inside a save. Returns the names removed.
 */
export function cleanStaleTemporaries(root: string): string[] {
  const op = 'cleanStaleTemporaries';
  checkString(op, 'root', root);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return []; // no folder yet
    throw fromFsError(op, 'read the folder', root, e);
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMPORARY.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    try {
      rmSync(join(root, n), { recursive: true, force: true });
    } catch (e) {
      throw fromFsError(op, 'remove', join(root, n), e);
    }
    removed.push(n);
  }
  return removed;
}

// The parts of the options that saveCheckpoint reads, checked before anything is written.
function checkSaveOptions(op: string, opts: unknown): asserts opts is SaveCheckpointOptions {
  const o = checkObject(op, 'options', opts);
  if (!(o.model instanceof Module)) throw new ArgumentTypeError(op, `model must be a Module, got ${describe(o.model)}`);
  if (o.optimizer !== undefined && o.optimizer !== null && !(o.optimizer instanceof Optimizer))
    throw new ArgumentTypeError(op, `optimizer must be an Optimizer or null, got ${describe(o.optimizer)}`);
  const state = checkObject(op, 'state', o.state);
  checkInt(op, 'state.step', state.step, 0, Number.MAX_SAFE_INTEGER);
  if (o.keep !== undefined) checkInt(op, 'keep', o.keep, 0);
}

/** Writes checkpoint `root/step-NNNNNNNN` atomically and points `root/latest` at it; returns its folder. */
export function saveCheckpoint(root: string, opts: SaveCheckpointOptions): string {
  const op = 'saveCheckpoint';
  checkString(op, 'root', root);
  checkSaveOptions(op, opts);
  try {
    return writeCheckpoint(root, opts);
  } catch (e) {
    throw fromFsError(op, 'write a checkpoint into', root, e);
  }
}

function writeCheckpoint(root: string, opts: SaveCheckpointOptions): string {
  mkdirSync(root, { recursive: true });
  const name = checkpointName(opts.state.step);
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const weights = new Map<string, SafeTensor>();
  for (const [n, t] of opts.model.namedParameters()) weights.set(n, toSafeTensor(t));
  const meta: Record<string, string> = { format: 'lmforge-model', step: String(opts.state.step) };
  if (opts.model.config !== undefined) meta.config = JSON.stringify(opts.model.config);
  if (opts.state.tokenizer) meta.tokenizer = JSON.stringify(opts.state.tokenizer);
  writeSafetensorsFile(join(tmp, MODEL), weights, meta);
  const sd = opts.optimizerState ?? opts.optimizer?.stateDict();
  if (sd) {
    const { tensors, metadata } = optimizerTensors(sd);
    writeSafetensorsFile(join(tmp, OPTIM), tensors, metadata);
  }
  writeDurable(join(tmp, STATE), `${JSON.stringify(opts.state, null, 2)}\n`);
  fsyncPath(tmp);
  const final = join(root, name);
  if (existsSync(final)) {
    // Re-saving a step: move the old folder aside first (rename cannot replace a non-empty folder).
    const old = join(root, `.old-${name}-${process.pid}`);
    renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, final);
  }
  fsyncPath(root);
  const latestTmp = join(root, `.${LATEST}.tmp-${process.pid}`);
  writeDurable(latestTmp, `${name}\n`);
  renameSync(latestTmp, join(root, LATEST));
  fsyncPath(root);
  const keep = opts.keep ?? 2;
  if (keep > 0) {
    const steps = readdirSync(root).filter((n) => /^step-\d+$/.test(n) && n !== name).sort();
    const older = steps.filter((n) => n < name);
    for (const n of older.slice(0, Math.max(0, older.length - (keep - 1)))) rmSync(join(root, n), { recursive: true, force: true });
  }
  cleanStaleTemporaries(root);
  return final;
}

/** The checkpoint folder `path` means: itself when it holds trainer.json, else the one its `latest` file names. */
export function resolveCheckpoint(path: string): string {
  const op = 'loadCheckpoint';
  if (!existsSync(path)) throw new ValueError(op, `no such checkpoint folder: '${path}'`);
  if (existsSync(join(path, STATE))) return path;
  const latest = join(path, LATEST);
  if (existsSync(latest)) {
    const name = readFileSync(latest, 'utf8').trim();
    if (!/^step-\d+$/.test(name)) throw new ValueError(op, `'${latest}' names '${name}', not a checkpoint folder`);
    const dir = join(path, name);
    if (!existsSync(join(dir, STATE))) throw new ValueError(op, `'${latest}' points to '${dir}', which holds no ${STATE}`);
    return dir;
  }
  const sub = join(path, 'checkpoints');
  if (existsSync(sub)) return resolveCheckpoint(sub);
  throw new ValueError(op, `'${path}' holds no checkpoint (no ${STATE} and no '${LATEST}' file)`);
}

/** Reads a checkpoint (a step folder, a folder with `latest`, or a run folder with checkpoints/). */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  const op = 'loadCheckpoint';
  const dir = resolveCheckpoint(path);
  let trainer: TrainerState;
  try {
    trainer = JSON.parse(readFileSync(join(dir, STATE), 'utf8')) as TrainerState;
  } catch {
    throw new ValueError(op, `${join(dir, STATE)} is not valid JSON`);
  }
  if (trainer.format !== 'lmforge-checkpoint' || trainer.version !== 1)
    throw new ValueError(op, `${join(dir, STATE)} is not an lmforge checkpoint (format ${JSON.stringify(trainer.format)}, version ${JSON.stringify(trainer.version)})`);
  const mf = readSafetensors(join(dir, MODEL));
  if (mf.metadata.config === undefined) throw new ValueError(op, `${join(dir, MODEL)} has no model config in its __metadata__`);
  const modelConfig = JSON.parse(mf.metadata.config) as GPTConfig;
  const weights: StateDict = {};
  for (const [n, t] of mf.tensors) weights[n] = fromSafeTensor(t, n);
  const optimizer = existsSync(join(dir, OPTIM)) ? optimizerFromFile(join(dir, OPTIM)) : null;
  return { dir, modelConfig, weights, optimizer, trainer };
}

/** The parameters of `model` that hold NaN or infinite values, with how many of each (empty when all are finite). */
export function nonFiniteWeights(model: Module): { name: string; nan: number; inf: number }[] {
  if (!(model instanceof Module)) throw new ArgumentTypeError('nonFiniteWeights', `model must be a Module, got ${describe(model)}`);
  const bad: { name: string; nan: number; inf: number }[] = [];
  for (const [name, p] of model.namedParameters()) {
    const f = p.dtype === 'float32' ? p : p.astype('float32');
    try {
      let nan = 0, inf = 0;
      for (const x of f.dataSync() as Float32Array) {
        if (Number.isNaN(x)) nan++;
        else if (!Number.isFinite(x)) inf++;
      }
      if (nan + inf > 0) bad.push({ name, nan, inf });
    } finally {
      if (f !== p) f.dispose();
    }
  }
  return bad;
}

/** The GPT stored in a checkpoint, with its weights loaded, in eval mode. */
export function loadModel(path: string): { model: GPT; checkpoint: LoadedCheckpoint } {
  const ck = loadCheckpoint(path);
  const model = new GPT(ck.modelConfig);
  model.loadStateDict(ck.weights);
  for (const t of Object.values(ck.weights)) t.dispose();
  model.eval();
  return { model, checkpoint: ck };
}
