/**
 * The Trainer: a training loop with a budget in steps or tokens, micro-batches with gradient
 * accumulation, a learning-rate schedule, gradient clipping, periodic evaluation, checkpoints, JSONL
 * logs, a progress line, and callbacks. Each micro-batch runs inside tidy(), so memory stays flat.
 *
 * Losses are in nats per token; bits per byte = loss · tokens / (ln 2 · bytes), where tokens/bytes is
 * the split's ratio (UTF-8 bytes of its text), which makes runs with different tokenizers comparable.
 *
 * A run that diverges stops with a ValueError instead of running on: at once on a NaN or infinite loss,
 * after maxSkippedSteps optimizer steps in a row skipped for non-finite gradients, and at the end of a fit
 * in which more than half of the steps were skipped (a run that did not train is not a success).
 *
 * Data parallel (`distributed`): every rank runs this loop on its share of each global batch, the gradients
 * averaged over the ranks (lib/distributed/data_parallel.ts, or zero.ts for sharded optimizer state).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { ArgumentTypeError, ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { memory, tidy } from '../memory.js';
import { getRngState, setRngState, tensor } from '../ops/creation.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { Dropout } from '../nn/dropout.js';
import { GPT, parameterCount, resolveGPTConfig, type GPTConfig, type Precision } from '../nn/gpt.js';
import { isGated } from '../nn/mlp.js';
import { clipGradNorm, gradNorm } from '../optim/clip.js';
import { Optimizer } from '../optim/optimizer.js';
import { checkFinite, checkInt, checkObject, describe } from '../ops/util.js';
import type { Schedule } from '../optim/schedule.js';
import type { Tensor } from '../tensor.js';
import { checkSplit, documentIds, RandomWindowSampler, SequentialSampler, type TokenDataset, type TokenSplit } from '../data/dataset.js';
import { checkpointName, cleanStaleTemporaries, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { initDistributed, type Communicator } from '../distributed/comm.js';
import { allReduceNumbers, averageTensors, broadcastParameters, DEFAULT_BUCKET_BYTES, GradientBuckets, shardRows } from '../distributed/data_parallel.js';
import { ZeroStage1 } from '../distributed/zero.js';

export interface StepMetrics {
  step: number;
  /** Mean training loss of the step's micro-batches (nats per token). */
  loss: number;
  bitsPerByte: number;
  lr: number;
  /** Total gradient norm before clipping. */
  gradNorm: number;
  /** False when the optimizer skipped the step (a non-finite gradient). */
  applied: boolean;
  /** Training tokens consumed so far. */
  tokens: number;
  /** This step's tokens per second. */
  tokensPerSec: number;
  /** Live tensor bytes and their peak, and the process's resident set size. */
  memoryBytes: number;
  peakBytes: number;
  rssBytes: number;
  seconds: number;
}

export interface EvalMetrics {
  step: number;
  loss: number;
  bitsPerByte: number;
  /** Tokens scored. */
  tokens: number;
  /** Mean loss at each position of the context window (index 0 predicts the second token of a window). */
  perPosition: number[];
}

export interface TrainResult {
  steps: number;
  tokens: number;
  seconds: number;
  lastLoss: number;
  finalEval: EvalMetrics | null;
  /** Steps of this fit that the optimizer skipped (non-finite gradients). */
  skippedSteps: number;
  /** Data-parallel runs: the ranks, and the optimizer state bytes each holds (equal without ZeRO). */
  distributed?: DistributedInfo;
}

export interface DistributedInfo {
  worldSize: number;
  /** ZeRO stage (0: every rank holds the whole optimizer state). */
  zero: 0 | 1;
  /** Optimizer state bytes on each rank. */
  stateBytesPerRank: number[];
  /** Gradient bytes each rank sends into the all-reduce (or reduce-scatter) per step. */
  gradientBytesPerStep: number;
}

export interface TrainerOptions {
  model: GPT;
  optimizer: Optimizer<never> | Optimizer;
  data: TokenDataset;
  /** Rows per micro-batch (default 8). */
  batchSize?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Window length (default the model's seqLen). */
  seqLen?: number;
  /**
   * Attention stays inside each document of a window (document ids from the data's end-of-document tokens);
   * default false: windows of the packed stream attend across document ends.
   */
  docMask?: boolean;
  /** The budget: optimizer steps, or training tokens (rounded up to whole steps). One is required. */
  maxSteps?: number;
  maxTokens?: number;
  /** Learning rate by step; default: the optimizer's lr throughout. */
  schedule?: Schedule;
  /** The schedule's options, recorded in checkpoints (for the reader; the schedule itself is code). */
  scheduleInfo?: Record<string, unknown>;
  /** Clip the total gradient norm to this (default 1; 0 turns clipping off). */
  clip?: number;
  /** Evaluate every this many steps (default 0: only at the end). */
  evalEvery?: number;
  /** Validation batches per periodic evaluation (default 8; capped at the whole validation split). */
  evalBatches?: number;
  /** Validation batches of the final evaluation (default: the whole validation split, so the last figure is the split's). */
  finalEvalBatches?: number;
  /** Seed of the training window sampler (default 0). */
  seed?: number;
  /** JSONL log file (appended). */
  logFile?: string;
  /** 'auto' (default): a carriage-return progress line on a TTY, plain lines otherwise; 'none' prints nothing. */
  progress?: 'auto' | 'tty' | 'plain' | 'none';
  /** Plain-line progress every this many steps (default 10). */
  printEvery?: number;
  /** Where progress goes (default process.stderr); structural, not NodeJS.WritableStream, so that the .d.ts needs no @types/node. */
  stream?: { write(chunk: string): unknown; isTTY?: boolean };
  /**
   * Stop with a ValueError after this many optimizer steps in a row were skipped for NaN or infinite
   * gradients, or at the end of a fit when more than half of its steps were (default 10; 0: never stop).
   */
  maxSkippedSteps?: number;
  /**
   * Checkpoint folder; saved every checkpointEvery steps (default: only at the end). Temporary folders
   * that a killed run left there are removed when fit() starts.
   */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Stored in the checkpoints' trainer.json (the CLI keeps its config here). */
  runInfo?: Record<string, unknown>;
  onStep?: (m: StepMetrics) => void;
  /**
   * Compute precision of the model's forward and backward: 'bf16' is mixed precision (bfloat16 compute,
   * float32 master weights that the optimizer updates); default: the model's own setting.
   */
  precision?: Precision;
  onEval?: (m: EvalMetrics) => void;
  /**
   * Data-parallel training: a Communicator (lib/distributed/comm.ts), or true for initDistributed() (the
   * ranks of an mpirun launch). batchSize stays the global batch: each rank trains on batchSize / worldSize
   * of its rows, and the gradients are averaged over the ranks. Rank 0 alone logs, prints and writes
   * checkpoints; evaluation is split over the ranks. onStep and onEval are called on every rank, and
   * trainStep(), evaluate(), saveCheckpoint() and fit() are collective: every rank calls them, in the same order.
   */
  distributed?: Communicator | boolean;
  /** With distributed: 1 splits the optimizer state across the ranks (ZeRO stage 1); default 0. */
  zero?: 0 | 1;
  /** With distributed (and zero 0): gradient all-reduce bucket size in bytes (default 25 MiB, as PyTorch DDP). */
  bucketBytes?: number;
}

const LN2 = Math.log(2);

function checkModel(op: string, model: unknown): asserts model is GPT {
  if (!(model instanceof GPT)) throw new ArgumentTypeError(op, `model must be a GPT, got ${describe(model)}`);
}

function posInt(op: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ValueError(op, `${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Tokens per UTF-8 byte of a split (end-of-document tokens included: the model predicts them too). */
export function tokensPerByte(split: TokenSplit): number {
  checkSplit('tokensPerByte', 'split', split);
  return split.bytes > 0 ? split.tokens.length / split.bytes : 1;
}

export interface TrainingMemoryEstimate {
  parameters: number;
  /** Float32 weights (plus their bfloat16 copies under 'bf16' precision), gradients and optimizer state. */
  stateBytes: number;
  /** What one micro-batch's forward keeps for the backward, roughly. */
  activationBytes: number;
  totalBytes: number;
}

/**
 * A rough figure of the memory a training run needs, from the model's config alone (nothing is
 * allocated): per parameter 4 bytes of weights (+2 for bf16 compute copies), 4 of gradient and the
 * optimizer's state bytes; per token of a micro-batch of batchSize × seqLen, about 10·dim + 2·(MLP
 * up-projection width) float32 values kept per layer, plus the logits and their gradient (2·vocab).
 * Attention is tiled, so nothing grows with seqLen². Good to a factor of about two: meant to refuse a run
 * that cannot fit, not to plan one that barely does.
 */
export function estimateTrainingMemory(config: GPTConfig, opts: { batchSize: number; seqLen?: number; optimizerBytesPerParam: number }): TrainingMemoryEstimate {
  const op = 'estimateTrainingMemory';
  checkObject(op, 'options', opts);
  checkInt(op, 'batchSize', opts.batchSize, 1);
  if (opts.seqLen !== undefined) checkInt(op, 'seqLen', opts.seqLen, 1);
  checkFinite(op, 'optimizerBytesPerParam', opts.optimizerBytesPerParam, 0);
  const c = resolveGPTConfig(config);
  const parameters = parameterCount(config);
  const up = isGated(c.activation) ? 2 * c.mlpHidden : c.mlpHidden;
  const tokens = opts.batchSize * (opts.seqLen ?? c.seqLen);
  const stateBytes = parameters * (4 + (c.precision === 'bf16' ? 2 : 0) + 4 + opts.optimizerBytesPerParam);
  const activationBytes = 4 * tokens * (c.layers * (10 * c.dim + 2 * up) + 2 * c.vocabSize);
  return { parameters, stateBytes, activationBytes, totalBytes: stateBytes + activationBytes };
}

/** A run's size: what log.jsonl's `run` record and the CLI's config.json (`stats`) hold. */
export interface RunFootprint {
  /** Model parameters (each tied tensor once). */
  parameters: number;
  /** The optimizer's name ('AdamW', ...). */
  optimizer: string;
  /** Bytes of optimizer state this process holds (float32 masters of bfloat16 parameters included). */
  optimizerStateBytes: number;
  stateBytesPerParam: number;
}

/** The parameter count and the optimizer's real state bytes (its state is allocated now if it was not yet). */
export function runFootprint(model: GPT, optimizer: Optimizer<never> | Optimizer, stateBytes?: number): RunFootprint {
  const op = 'runFootprint';
  checkModel(op, model);
  if (!(optimizer instanceof Optimizer)) throw new ArgumentTypeError(op, `optimizer must be an Optimizer, got ${describe(optimizer)}`);
  const optimizerStateBytes = stateBytes === undefined ? optimizer.stateBytes() : checkFinite(op, 'optimizerStateBytes', stateBytes, 0);
  const parameters = model.numParameters();
  return { parameters, optimizer: optimizer.name, optimizerStateBytes, stateBytesPerParam: optimizerStateBytes / parameters };
}

export interface EvaluateOptions {
  batchSize?: number;
  seqLen?: number;
  /** Batches to score (default: the whole split, in non-overlapping windows). */
  batches?: number;
  step?: number;
  /** As TrainerOptions.docMask, with the split's end-of-document id (a split does not know it); default off. */
  docMask?: false | { eot: number };
}

/** The document ids of a batch as a tensor, or undefined without a mask. */
function docIdsOf(eot: number | null, inputs: Int32Array, rows: number, T: number): { docIds?: Tensor<'int32'> } {
  return eot === null ? {} : { docIds: tensor(documentIds(inputs, rows, T, eot), [rows, T]) };
}

/**
 * Scores a split in non-overlapping windows from its start (deterministic): mean loss, bits per byte
 * and the mean loss at each position of the window. Runs in eval mode under noGrad.
 */
export function evaluate(model: GPT, split: TokenSplit, opts: EvaluateOptions = {}): EvalMetrics {
  return evalMetrics(scoreSplit(model, split, opts, 0, 1), split, opts.step);
}

/** Sums of the losses of a split's evaluation batches (those i with i % parts === part). */
interface EvalSums {
  total: number;
  /** Windows scored. */
  windows: number;
  perPos: Float64Array;
}

function evalMetrics(s: EvalSums, split: TokenSplit, step = 0): EvalMetrics {
  const T = s.perPos.length;
  const loss = s.total / (s.windows * T);
  return { step, loss, bitsPerByte: (loss * tokensPerByte(split)) / LN2, tokens: s.windows * T, perPosition: Array.from(s.perPos, (x) => x / s.windows) };
}

function scoreSplit(model: GPT, split: TokenSplit, opts: EvaluateOptions, part: number, parts: number): EvalSums {
  const op = 'evaluate';
  checkModel(op, model);
  checkSplit(op, 'split', split);
  checkObject(op, 'options', opts);
  const T = posInt(op, 'seqLen', opts.seqLen ?? model.config.seqLen);
  const B = posInt(op, 'batchSize', opts.batchSize ?? 8);
  const sampler = new SequentialSampler(split.tokens, T);
  const maxBatches = Math.max(1, Math.floor(sampler.perEpoch / B));
  const batches = Math.min(opts.batches === undefined ? maxBatches : posInt(op, 'batches', opts.batches), maxBatches);
  // With fewer windows than one batch, score them all in one smaller batch.
  const rows = Math.min(B, sampler.perEpoch);
  const dm = opts.docMask;
  if (dm !== undefined && dm !== false && !(typeof dm === 'object' && dm !== null && Number.isInteger(dm.eot) && dm.eot >= 0))
    throw new ValueError(op, `docMask must be false or { eot: <end-of-document id> }, got ${JSON.stringify(dm)}`);
  const eot = dm ? dm.eot : null;
  const perPos = new Float64Array(T);
  let total = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (let i = 0; i < batches; i++) {
        const b = sampler.next(rows);
        if (i % parts !== part) continue;
        tidy(() => {
          const { logits } = model.forward(tensor(b.inputs, [rows, T]), undefined, docIdsOf(eot, b.inputs, rows, T));
          const losses = crossEntropy(logits, tensor(b.targets, [rows, T], 'int32', model.device), { reduction: 'none' }).astype('float64').dataSync() as Float64Array;
          for (let j = 0; j < losses.length; j++) {
            perPos[j % T] += losses[j]!;
            total += losses[j]!;
          }
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { total, windows: batches * rows, perPos };
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

function fmtRate(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

export class Trainer {
  readonly model: GPT;
  readonly optimizer: Optimizer<never> | Optimizer;
  readonly data: TokenDataset;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly seqLen: number;
  readonly totalSteps: number;
  readonly sampler: RandomWindowSampler;
  /** Optimizer steps completed. */
  step = 0;
  /** Training tokens consumed. */
  tokens = 0;
  /** Training seconds, carried across resumes. */
  elapsed = 0;
  readonly #o: TrainerOptions;
  readonly #schedule: Schedule;
  readonly #clip: number;
  /** The end-of-document id when attention is masked to documents, else null. */
  readonly #eot: number | null;
  readonly #stream: { write(chunk: string): unknown; isTTY?: boolean };
  readonly #mode: 'tty' | 'plain' | 'none';
  #lastLine = 0;
  /** Data parallel: the communicator (null in a single-process run), and one of the two ways of reducing gradients. */
  readonly comm: Communicator | null;
  readonly #buckets: GradientBuckets | null = null;
  readonly #zero: ZeroStage1 | null = null;

  constructor(opts: TrainerOptions) {
    const op = 'Trainer';
    checkObject(op, 'options', opts);
    checkModel(op, opts.model);
    if (!(opts.optimizer instanceof Optimizer)) throw new ArgumentTypeError(op, `optimizer must be an Optimizer, got ${describe(opts.optimizer)}`);
    checkObject(op, 'data', opts.data);
    checkSplit(op, 'data.train', opts.data.train);
    checkSplit(op, 'data.val', opts.data.val);
    posInt(op, 'data.vocabSize', opts.data.vocabSize);
    this.#o = opts;
    this.model = opts.model;
    this.optimizer = opts.optimizer;
    this.data = opts.data;
    if (opts.precision !== undefined) {
      if (opts.precision !== 'fp32' && opts.precision !== 'bf16')
        throw new ValueError(op, `precision must be 'fp32' or 'bf16', got ${JSON.stringify(opts.precision)}`);
      this.model.precision = opts.precision;
    }
    this.batchSize = posInt(op, 'batchSize', opts.batchSize ?? 8);
    const d = opts.distributed ?? false;
    if (typeof d !== 'boolean' && (typeof d !== 'object' || d === null || typeof (d as Communicator).allReduce !== 'function'))
      throw new ArgumentTypeError(op, `distributed must be true, false or a Communicator, got ${describe(d)}`);
    this.comm = d === true ? initDistributed() : d === false ? null : d;
    if (opts.zero !== undefined && opts.zero !== 0 && opts.zero !== 1) throw new ValueError(op, `zero must be 0 or 1, got ${JSON.stringify(opts.zero)}`);
    if (opts.zero === 1 && !this.comm) throw new ValueError(op, 'zero: 1 shards the optimizer state across ranks: it needs distributed');
    if (opts.bucketBytes !== undefined) posInt(op, 'bucketBytes', opts.bucketBytes, 4);
    if (this.comm) {
      const n = this.comm.worldSize;
      if (this.batchSize % n !== 0)
        throw new ValueError(op, `batchSize ${this.batchSize} is the global batch and must divide among the ${n} ranks (use a multiple of ${n})`);
      // Each rank's dropout masks are its rows of the masks one process draws for the global batch.
      for (const [, m] of opts.model.namedModules()) if (m instanceof Dropout) m.setShard(this.comm.rank, n);
      if (opts.zero === 1) this.#zero = new ZeroStage1(this.comm, opts.optimizer as Optimizer);
      else this.#buckets = new GradientBuckets(this.comm, opts.model.parameters(), opts.bucketBytes ?? DEFAULT_BUCKET_BYTES);
    }
    this.gradAccum = posInt(op, 'gradAccum', opts.gradAccum ?? 1);
    this.seqLen = posInt(op, 'seqLen', opts.seqLen ?? opts.model.config.seqLen);
    if (this.seqLen > opts.model.config.seqLen) throw new ValueError(op, `seqLen ${this.seqLen} exceeds the model's seqLen ${opts.model.config.seqLen}`);
    if (opts.data.vocabSize > opts.model.config.vocabSize)
      throw new ValueError(op, `the data's vocabulary (${opts.data.vocabSize}) is larger than the model's vocabSize ${opts.model.config.vocabSize}`);
    const perStep = this.batchSize * this.gradAccum * this.seqLen;
    if (opts.maxSteps !== undefined && opts.maxTokens !== undefined) throw new ValueError(op, 'give maxSteps or maxTokens, not both');
    if (opts.maxSteps !== undefined) this.totalSteps = posInt(op, 'maxSteps', opts.maxSteps);
    else if (opts.maxTokens !== undefined) this.totalSteps = Math.ceil(posInt(op, 'maxTokens', opts.maxTokens) / perStep);
    else throw new ValueError(op, 'a budget is required: maxSteps or maxTokens');
    this.#clip = opts.clip ?? 1;
    if (typeof this.#clip !== 'number' || !(this.#clip >= 0)) throw new ValueError(op, `clip must be a number >= 0, got ${JSON.stringify(opts.clip)}`);
    for (const k of ['evalEvery', 'checkpointEvery', 'maxSkippedSteps'] as const) if (opts[k] !== undefined) posInt(op, k, opts[k], 0);
    const initialLr = opts.optimizer.paramGroups[0]?.lr ?? 0;
    this.#schedule = opts.schedule ?? (() => initialLr);
    if (opts.docMask !== undefined && typeof opts.docMask !== 'boolean') throw new ValueError(op, `docMask must be true or false, got ${JSON.stringify(opts.docMask)}`);
    this.#eot = opts.docMask ? opts.data.eot : null;
    this.sampler = new RandomWindowSampler(opts.data.train.tokens, this.seqLen, opts.seed ?? 0);
    if (opts.data.val.tokens.length < this.seqLen + 1)
      throw new ValueError(op, `the validation split has ${opts.data.val.tokens.length} tokens, fewer than seqLen + 1 = ${this.seqLen + 1} (raise valFraction or use more text)`);
    this.#stream = opts.stream ?? process.stderr;
    const p = opts.progress ?? 'auto';
    this.#mode = p === 'none' ? 'none' : p === 'tty' || (p === 'auto' && this.#stream.isTTY) ? 'tty' : 'plain';
    if (opts.logFile && this.isRoot) mkdirSync(dirname(opts.logFile), { recursive: true });
  }

  /** True on the rank that logs, prints and writes checkpoints (rank 0, or a single process). */
  get isRoot(): boolean {
    return (this.comm?.rank ?? 0) === 0;
  }

  #log(record: Record<string, unknown>): void {
    if (this.#o.logFile && this.isRoot) appendFileSync(this.#o.logFile, `${JSON.stringify(record)}\n`);
  }

  #print(line: string, final: boolean): void {
    if (this.#mode === 'none' || !this.isRoot) return;
    if (this.#mode === 'tty') {
      // Pad over the previous line's tail; a final line ends with a newline so the next print starts fresh.
      const pad = Math.max(0, this.#lastLine - line.length);
      this.#stream.write(`\r${line}${' '.repeat(pad)}${final ? '\n' : ''}`);
      this.#lastLine = final ? 0 : line.length;
    } else {
      this.#stream.write(`${line}\n`);
    }
  }

  /** One optimizer step: gradAccum micro-batches, clipping, the update. Throws on a NaN or infinite loss. */
  trainStep(): StepMetrics {
    const t0 = performance.now();
    const lr = this.#schedule(this.step);
    this.optimizer.setLr(lr);
    this.model.train();
    const T = this.seqLen;
    const comm = this.comm;
    // Every rank draws the global batch from the same sampler and keeps its own rows: the union over the
    // ranks is the single-process batch, and the sampler's state does not depend on the number of ranks.
    const B = comm ? this.batchSize / comm.worldSize : this.batchSize;
    const rows = (a: Int32Array): Int32Array => (comm ? shardRows(a, this.batchSize, T, comm.rank, comm.worldSize) : a);
    let lossSum = 0;
    let lastInputs: Int32Array | undefined;
    for (let k = 0; k < this.gradAccum; k++) {
      const batch = this.sampler.next(this.batchSize);
      const inputs = rows(batch.inputs), targets = rows(batch.targets);
      lastInputs = inputs;
      const loss = tidy(() => {
        const out = this.model.forward(tensor(inputs, [B, T]), tensor(targets, [B, T]), docIdsOf(this.#eot, inputs, B, T));
        const l = out.loss!;
        let value = l.item();
        // The global batch's loss, on every rank, before any gradient: all ranks stop together on a NaN.
        if (comm && comm.worldSize > 1) value = allReduceNumbers(comm, [value])[0]! / comm.worldSize;
        if (!Number.isFinite(value)) return value; // checked below, before any gradient is used
        // Scaled so the accumulated gradient is that of the mean over all micro-batches.
        const last = k === this.gradAccum - 1;
        const disarm = last && this.#buckets ? this.#buckets.arm() : null;
        try {
          (this.gradAccum === 1 ? l : l.mul(1 / this.gradAccum)).backward();
        } finally {
          disarm?.();
        }
        return value;
      });
      if (!Number.isFinite(loss)) {
        this.optimizer.zeroGrad();
        throw new ValueError('Trainer', `loss is ${loss} at step ${this.step + 1} (micro-batch ${k + 1} of ${this.gradAccum}, lr ${lr.toExponential(3)}); training stopped. Lower the learning rate or check the data`);
      }
      lossSum += loss;
    }
    let norm: number, applied: boolean;
    if (this.#zero) {
      norm = this.#zero.reduceGradients(this.#clip);
      applied = this.#zero.step(norm);
    } else {
      // Waited for here, before clipping: clipping and the optimizer's NaN check see the averaged gradient,
      // equal on every rank, so every rank takes the same decision.
      this.#buckets?.finish();
      const params = this.optimizer.params;
      norm = this.#clip > 0 ? clipGradNorm(params, this.#clip) : gradNorm(params);
      applied = this.optimizer.step();
    }
    this.optimizer.zeroGrad();
    // Work between steps (SophiaG's Hessian refresh every k steps, a second backward pass on labels sampled
    // from the model's own outputs), on the step's last micro-batch; seeded by the step so that a resumed
    // run draws the same labels.
    if (lastInputs) {
      const inputs = lastInputs;
      const distributed = comm && comm.worldSize > 1 ? { rank: comm.rank, worldSize: comm.worldSize, averageGradients: (grads: Tensor[]) => averageTensors(comm, grads) } : undefined;
      this.optimizer.afterStep({ logits: () => this.model.forward(tensor(inputs, [B, T]), undefined, docIdsOf(this.#eot, inputs, B, T)).logits, seed: this.step, ...(distributed ? { distributed } : {}) });
    }
    this.step += 1;
    const stepTokens = this.batchSize * T * this.gradAccum;
    this.tokens += stepTokens;
    const seconds = (performance.now() - t0) / 1000;
    this.elapsed += seconds;
    const loss = lossSum / this.gradAccum;
    const mem = memory();
    return {
      step: this.step, loss, bitsPerByte: (loss * tokensPerByte(this.data.train)) / LN2, lr, gradNorm: norm, applied, tokens: this.tokens,
      tokensPerSec: stepTokens / seconds, memoryBytes: mem.bytes, peakBytes: mem.peakBytes, rssBytes: process.memoryUsage.rss(), seconds,
    };
  }

  /** Validation loss, bits per byte and per-position loss over `batches` batches from the split's start ('all': the whole split). */
  evaluate(batches: number | 'all' = this.#o.evalBatches ?? 8): EvalMetrics {
    const opts: EvaluateOptions = { batchSize: this.batchSize, seqLen: this.seqLen, step: this.step, ...(this.#eot === null ? {} : { docMask: { eot: this.#eot } }), ...(batches === 'all' ? {} : { batches }) };
    const comm = this.comm;
    if (!comm || comm.worldSize === 1) return evaluate(this.model, this.data.val, opts);
    // Data parallel: each rank scores every worldSize-th batch, and the sums are added up, so every rank
    // gets the figures of a single-process evaluation (to float64 rounding).
    const part = scoreSplit(this.model, this.data.val, opts, comm.rank, comm.worldSize);
    const sums = allReduceNumbers(comm, [part.total, ...part.perPos]);
    return evalMetrics({ total: sums[0]!, windows: part.windows, perPos: sums.subarray(1) }, this.data.val, this.step);
  }

  // Seeded dropout modules draw mask n from (seed, n): their counts are part of the run's state.
  #dropouts(): [string, Dropout][] {
    return this.model.namedModules().filter((e): e is [string, Dropout] => e[1] instanceof Dropout && e[1].seed !== undefined);
  }

  /** The state a resumed run needs besides weights and optimizer state. */
  state(): TrainerState {
    return {
      format: 'lmforge-checkpoint', version: 1, step: this.step, tokens: this.tokens, elapsed: this.elapsed, rng: getRngState(), sampler: this.sampler.state(),
      dropoutCalls: Object.fromEntries(this.#dropouts().map(([name, d]) => [name, d.calls])),
      ...(this.#o.scheduleInfo ? { schedule: this.#o.scheduleInfo } : {}),
      tokenizer: this.data.tokenizer,
      ...(this.#o.runInfo ? { run: this.#o.runInfo } : {}),
      ...(this.comm ? { worldSize: this.comm.worldSize } : {}),
    };
  }

  /** Saves a checkpoint under checkpointDir (or `dir`); returns its folder. */
  saveCheckpoint(dir = this.#o.checkpointDir): string {
    if (!dir) throw new ValueError('Trainer.saveCheckpoint', 'no checkpoint folder: pass one or set checkpointDir');
    // Data parallel: every rank calls this (with ZeRO, gathering the optimizer state is collective); rank 0 writes.
    const optimizerState = this.#zero ? this.#zero.stateDict() : undefined;
    if (!this.isRoot) return join(dir, checkpointName(this.step));
    return saveCheckpoint(dir, { model: this.model, optimizer: this.optimizer, ...(optimizerState ? { optimizerState } : {}), state: this.state() });
  }

  /**
   * Restores weights, optimizer state, step, tokens, RNG and sampler position from a checkpoint, so the
   * run continues as if it had not stopped (same losses on the CPU with the same thread count).
   */
  resume(path: string): void {
    const op = 'Trainer.resume';
    const ck = loadCheckpoint(path);
    // Weights of equal shapes would load into a model of another config (another activation, say).
    const saved = resolveGPTConfig(ck.modelConfig) as unknown as Record<string, unknown>;
    const mine = this.model.config as unknown as Record<string, unknown>;
    // precision is a choice of the run (the Trainer's option), device one of the machine, seed and initStd
    // of the initialisation that the loaded weights replace (data-parallel ranks may differ in them).
    const ignored = new Set(['precision', 'device', 'seed', 'initStd']);
    const differ = Object.keys(mine).filter((k) => !ignored.has(k) && JSON.stringify(saved[k]) !== JSON.stringify(mine[k]));
    if (differ.length > 0)
      throw new ValueError(op, `${ck.dir} holds a model of another config: ${differ.map((k) => `${k} ${JSON.stringify(saved[k])} there, ${JSON.stringify(mine[k])} here`).join('; ')}`);
    try {
      this.model.loadStateDict(ck.weights);
    } finally {
      for (const t of Object.values(ck.weights)) t.dispose();
    }
    if (!ck.optimizer) throw new ValueError(op, `${ck.dir} has no optimizer state, so the run cannot continue exactly`);
    if (this.#zero) this.#zero.loadStateDict(ck.optimizer);
    else this.optimizer.loadStateDict(ck.optimizer);
    const s = ck.trainer;
    this.sampler.setState(s.sampler);
    setRngState(s.rng);
    for (const [name, d] of this.#dropouts()) {
      const n = s.dropoutCalls?.[name];
      // Older checkpoints did not record the count: exact resume was then only promised without dropout.
      if (n === undefined) {
        if (d.active) throw new ValueError(op, `${ck.dir} does not record dropout module '${name}''s mask count, so the run cannot continue exactly`);
      } else d.calls = n;
    }
    this.step = s.step;
    this.tokens = s.tokens;
    this.elapsed = s.elapsed ?? 0;
    if (this.step > this.totalSteps) throw new ValueError(op, `the checkpoint is at step ${this.step}, past this run's budget of ${this.totalSteps} steps`);
  }

  /** Trains until the budget is spent; evaluates and checkpoints on the way and at the end. */
  fit(): TrainResult {
    const o = this.#o;
    const evalEvery = o.evalEvery ?? 0;
    const ckEvery = o.checkpointEvery ?? 0;
    const printEvery = o.printEvery ?? 10;
    const maxSkipped = o.maxSkippedSteps ?? 10;
    const start = performance.now();
    const startTokens = this.tokens;
    const startStep = this.step;
    let skipped = 0, skippedInARow = 0;
    if (o.checkpointDir && this.isRoot) cleanStaleTemporaries(o.checkpointDir);
    // Every rank starts from rank 0's weights (fresh or resumed), whatever its own initialisation was.
    if (this.comm) broadcastParameters(this.comm, this.model.parameters());
    const distributed = this.#distributedInfo();
    // One record per fit, before its steps (a resumed run appends another): what the step records do not say.
    this.#log({ type: 'run', step: this.step, ...runFootprint(this.model, this.optimizer, distributed?.stateBytesPerRank[0]), batchSize: this.batchSize, gradAccum: this.gradAccum, seqLen: this.seqLen, totalSteps: this.totalSteps, ...(distributed ? { distributed } : {}) });
    const stop = (message: string): never => {
      if (this.#mode === 'tty' && this.#lastLine > 0) this.#stream.write('\n');
      this.#lastLine = 0;
      throw new ValueError('Trainer', `${message}; training stopped. Lower the learning rate or check the data`);
    };
    let last: StepMetrics | null = null;
    let lastEval: EvalMetrics | null = null;
    const runEval = (final: boolean): EvalMetrics => {
      const e = this.evaluate(final ? (o.finalEvalBatches ?? 'all') : (o.evalBatches ?? 8));
      lastEval = e;
      this.#log({ type: 'eval', step: e.step, final, loss: e.loss, bitsPerByte: e.bitsPerByte, tokens: e.tokens, perPosition: e.perPosition });
      // Position 1 (no context), then the mean over each quarter of the window: single positions are noisy.
      const P = e.perPosition.length;
      const quarter = (k: number): string => {
        const a = Math.floor((k * P) / 4), b = Math.max(a + 1, Math.floor(((k + 1) * P) / 4));
        return (e.perPosition.slice(a, b).reduce((x, y) => x + y, 0) / (b - a)).toFixed(2);
      };
      this.#print(`eval step ${e.step}${final ? ' (whole validation split)' : ''}: val loss ${e.loss.toFixed(4)}, ${e.bitsPerByte.toFixed(3)} bits/byte; loss by position: first ${e.perPosition[0]!.toFixed(2)}, quarters ${[0, 1, 2, 3].map(quarter).join(' ')}`, true);
      o.onEval?.(e);
      return e;
    };
    while (this.step < this.totalSteps) {
      const m = this.trainStep();
      last = m;
      this.#log({ type: 'step', ...m });
      o.onStep?.(m);
      const avg = (this.tokens - startTokens) / ((performance.now() - start) / 1000);
      const eta = (this.totalSteps - this.step) * ((this.batchSize * this.gradAccum * this.seqLen) / avg);
      const line = `step ${this.step}/${this.totalSteps} | loss ${m.loss.toFixed(4)} | ${m.bitsPerByte.toFixed(3)} bpb | lr ${m.lr.toExponential(2)} | gnorm ${m.gradNorm.toFixed(2)} | ${fmtRate(avg)} tok/s | mem ${(m.memoryBytes / 2 ** 20).toFixed(0)} MiB | eta ${fmtTime(eta)}${m.applied ? '' : ' | step skipped (non-finite gradient)'}`;
      if (this.#mode === 'tty') this.#print(line, false);
      else if (this.step % printEvery === 0 || this.step === 1 || this.step === this.totalSteps) this.#print(line, false);
      skippedInARow = m.applied ? 0 : skippedInARow + 1;
      if (!m.applied) skipped += 1;
      if (maxSkipped > 0 && skippedInARow >= maxSkipped)
        stop(`${skippedInARow} steps in a row were skipped (non-finite gradients), the last at step ${this.step} (lr ${m.lr.toExponential(3)})`);
      const isLast = this.step === this.totalSteps;
      if (evalEvery > 0 && this.step % evalEvery === 0 && !isLast) runEval(false);
      if (o.checkpointDir && ckEvery > 0 && this.step % ckEvery === 0 && !isLast) this.saveCheckpoint();
    }
    const ran = this.step - startStep;
    if (maxSkipped > 0 && skipped > ran / 2) stop(`${skipped} of the ${ran} steps of this run were skipped (non-finite gradients)`);
    if (this.#mode === 'tty' && this.#lastLine > 0) this.#stream.write('\n');
    this.#lastLine = 0;
    const finalEval = runEval(true);
    if (o.checkpointDir) this.saveCheckpoint();
    return { steps: this.step, tokens: this.tokens, seconds: (performance.now() - start) / 1000, lastLoss: last?.loss ?? NaN, finalEval: finalEval ?? lastEval, skippedSteps: skipped, ...(distributed ? { distributed } : {}) };
  }

  /** Data parallel: the ranks' optimizer state bytes (collective; allocates the state now if it was not yet). */
  #distributedInfo(): DistributedInfo | undefined {
    const comm = this.comm;
    if (!comm) return undefined;
    const mine = this.optimizerStateBytes();
    const per = new Array<number>(comm.worldSize).fill(0);
    per[comm.rank] = mine;
    const params = this.model.parameters().reduce((n, p) => n + p.size, 0);
    return { worldSize: comm.worldSize, zero: this.#zero ? 1 : 0, stateBytesPerRank: Array.from(allReduceNumbers(comm, per)), gradientBytesPerStep: 4 * (this.#zero ? this.#zero.segment * comm.worldSize : params) };
  }

  /** Bytes of optimizer state this rank holds (with ZeRO, its share; allocates the state now if it was not yet). */
  optimizerStateBytes(): number {
    return this.#zero ? this.#zero.stateBytes() : this.optimizer.stateBytes();
  }

  /** Bytes all-reduced per step and time spent waiting for the all-reduce after the backward (data parallel without ZeRO). */
  get communicationStats(): GradientBuckets['stats'] | null {
    return this.#buckets?.stats ?? null;
  }
}
